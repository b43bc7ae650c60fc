/**
 * Converting a folder of .nii files to .nii.gz without risk: each file is gzipped byte for byte
 * to a temporary name, the result is decompressed and compared with the original, and only then
 * renamed into place; the original is removed only when asked, and only after that check.
 */
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { NnunetError } from '../errors.js';

export interface CompressResult {
  compressed: string[];
  skipped: string[];
  removed: string[];
}

export function compressNiftiFolder(
  folder: string,
  options: { removeOriginals?: boolean; onProgress?: (done: number, total: number) => void } = {},
): CompressResult {
  if (!existsSync(folder))
    throw new NnunetError('ERR_NOT_FOUND', `${folder} does not exist: give a folder that holds .nii files.`);
  const files = readdirSync(folder)
    .filter((f) => f.endsWith('.nii') && !f.startsWith('.'))
    .sort();
  const out: CompressResult = { compressed: [], skipped: [], removed: [] };
  files.forEach((f, i) => {
    const src = join(folder, f);
    const dst = `${src}.gz`;
    const original = readFileSync(src);
    if (existsSync(dst)) {
      // Only an identical existing .nii.gz lets us treat the file as done.
      let same = false;
      try {
        same = gunzipSync(readFileSync(dst)).equals(original);
      } catch {
        same = false;
      }
      if (!same) {
        throw new NnunetError(
          'ERR_DATASET',
          `${dst} already exists and differs from ${src}: remove one of them, then run the conversion again.`,
        );
      }
      out.skipped.push(f);
    } else {
      const tmp = join(folder, `.${f}.gz.tmp-${process.pid}`);
      try {
        writeFileSync(tmp, gzipSync(original, { level: 6 }));
        if (!gunzipSync(readFileSync(tmp)).equals(original)) throw new Error('verification after compression failed');
        renameSync(tmp, dst);
      } catch (e) {
        rmSync(tmp, { force: true });
        throw new NnunetError(
          'ERR_IMAGE_WRITE',
          `Could not compress ${src} (${(e as Error).message}); the original is untouched.`,
        );
      }
      out.compressed.push(f);
    }
    if (options.removeOriginals) {
      rmSync(src);
      out.removed.push(f);
    }
    options.onProgress?.(i + 1, files.length);
  });
  return out;
}
