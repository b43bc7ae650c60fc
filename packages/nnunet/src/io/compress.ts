/**
 * Converting a folder of .nii files to .nii.gz without risk: each file is gzipped byte for byte,
 * the result is decompressed and compared with the original, and only then written through the
 * package's one atomic writer (checked length, fsync, rename); the original is removed only when
 * asked, and only after that. An existing .nii.gz that is not a complete gzip stream (left by an
 * interrupted older run) is redone; one that decompresses to other bytes is a conflict to resolve.
 */
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { NnunetError } from '../errors.js';
import { removeStaleTemporaries, writeFileAtomic } from '../util/atomic.js';

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
  removeStaleTemporaries(folder);
  files.forEach((f, i) => {
    const src = join(folder, f);
    const dst = `${src}.gz`;
    const original = readFileSync(src);
    // Only an identical existing .nii.gz lets us treat the file as done; a damaged one is redone.
    const existing = existsSync(dst) ? gunzipOrNull(readFileSync(dst)) : null;
    if (existing !== null && !existing.equals(original)) {
      throw new NnunetError(
        'ERR_DATASET',
        `${dst} already exists and differs from ${src}: remove one of them, then run the conversion again.`,
      );
    }
    if (existing !== null) {
      out.skipped.push(f);
    } else {
      const gz = gzipSync(original, { level: 6 });
      if (!gunzipSync(gz).equals(original)) {
        throw new NnunetError(
          'ERR_IMAGE_WRITE',
          `Could not compress ${src}: the compressed data did not decompress to the original; the original is untouched.`,
        );
      }
      writeFileAtomic(dst, gz);
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

/** The decompressed bytes of a complete gzip stream, or null for a truncated or corrupt one. */
function gunzipOrNull(bytes: Buffer): Buffer | null {
  try {
    return gunzipSync(bytes);
  } catch {
    return null;
  }
}
