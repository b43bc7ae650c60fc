/**
 * Every writer of io/ on a real full disk (a small tmpfs): one sentence naming the file and the
 * space needed, the earlier file intact, no temporary left; and outputs that do not load are told
 * from complete ones.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { readImage, type Volume, writeImage } from '../../src/io/image.js';
import { npyFileProblem, readNpy, writeNpy } from '../../src/io/npy.js';
import { readNpzRaw, writeNpz } from '../../src/io/npz.js';
import { assertDiskFull, fillDisk, namesBeside, withSmallDisk } from '../full-disk.js';
import { PACKAGE_ROOT, randomBytes, tempDir } from '../helpers.js';

/** `n` float32 values from incompressible bytes (NaN patterns avoided: only the low 3 bytes vary). */
function floats(n: number, seed: number): Float32Array {
  const bytes = randomBytes(4 * n, seed);
  for (let i = 3; i < bytes.length; i += 4) bytes[i] = 0x3f;
  return new Float32Array(bytes.buffer, bytes.byteOffset, n);
}

test('writeNpy on a full disk: one sentence, the earlier CASE.npy still loads, no temporary', async (t) => {
  await withSmallDisk(t, (dir) => {
    const path = join(dir, 'CASE.npy');
    writeNpy(path, floats(2 * 512, 1), [2, 8, 8, 8]);
    fillDisk(dir, 8);
    assert.throws(
      () => writeNpy(path, floats(2 * 8192, 2), [2, 16, 16, 32]),
      (e: unknown) => {
        assert.match(assertDiskFull(e, path), /the file needs 64\.1 KiB, 8\.0 KiB are free/);
        return true;
      },
    );
    assert.equal(npyFileProblem(path), null);
    assert.deepEqual(readNpy(path).shape, [2, 8, 8, 8]);
    assert.deepEqual(namesBeside(dir), ['CASE.npy']);
  });
});

test('writeNpz on a full disk: one sentence, the earlier .npz still loads, no temporary', async (t) => {
  await withSmallDisk(t, (dir) => {
    const path = join(dir, 'case.npz');
    const small = randomBytes(4 * 256, 3);
    writeNpz(path, [{ name: 'softmax', descr: '<f4', shape: [256], bytes: small }]);
    fillDisk(dir, 4);
    const big = randomBytes(4 * 32768, 4); // incompressible: the archive is as large as the data
    assert.throws(
      () => writeNpz(path, [{ name: 'softmax', descr: '<f4', shape: [32768], bytes: big }]),
      (e: unknown) => {
        assert.match(assertDiskFull(e, path), /the file needs 128\.\d KiB, 4\.0 KiB are free/);
        return true;
      },
    );
    assert.ok(readNpzRaw(path).get('softmax')?.subarray(128).equals(small));
    assert.deepEqual(namesBeside(dir), ['case.npz']);
  });
});

const geometry = { spacing: [1, 1, 1], origin: [0, 0, 0], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] };

test('writeImage on a full disk: one sentence, the earlier image still reads, no temporary', async (t) => {
  await withSmallDisk(t, async (dir) => {
    const path = join(dir, 'case.nii');
    const small: Volume = { data: floats(512, 5), shape: [8, 8, 8], dtype: 'float32', geometry };
    await writeImage(small, path);
    fillDisk(dir, 8);
    const big: Volume = { data: floats(16384, 6), shape: [16, 32, 32], dtype: 'float32', geometry };
    await assert.rejects(writeImage(big, path), (e: unknown) => {
      assert.match(assertDiskFull(e, path), /the file needs 64\.\d KiB, 8\.0 KiB are free/);
      return true;
    });
    assert.deepEqual(Array.from((await readImage(path)).data as Float32Array), Array.from(small.data as Float32Array));
    assert.deepEqual(namesBeside(dir), ['case.nii']);
  });
});

test('nnUNet_compress_nifti_folder on a full disk: exit 1, one line, no stack, nothing half-written', async (t) => {
  await withSmallDisk(t, async (dir) => {
    const nii = join(dir, 'a.nii');
    await writeImage({ data: floats(8192, 7), shape: [8, 32, 32], dtype: 'float32', geometry }, nii);
    const original = readFileSync(nii);
    fillDisk(dir, 4);
    const cli = join(PACKAGE_ROOT, 'dist', 'src', 'cli', 'compress-nifti-folder.js');
    const r = spawnSync(process.execPath, [cli, '-i', dir, '--remove_originals'], { encoding: 'utf8' });
    assert.equal(r.status, 1, r.stderr);
    const lines = r.stderr.split(/\r?\n|\r/).filter((l) => l.trim() !== '' && !l.includes('compressing'));
    assert.equal(lines.length, 1, r.stderr);
    assert.match(
      lines[0] as string,
      /^nnUNet_compress_nifti_folder: Cannot write .*a\.nii\.gz: the disk is full \(the file needs \d+\.\d KiB, 4\.0 KiB are free on that file system\); free some space and run the command again\.$/,
    );
    assert.doesNotMatch(r.stderr, /internal error|\n\s+at /);
    assert.ok(readFileSync(nii).equals(original), 'the original is kept');
    assert.deepEqual(namesBeside(dir), ['a.nii']);
  });
});

test('npyFileProblem tells complete files from truncated, padded and damaged ones', () => {
  const dir = tempDir();
  const path = join(dir, 'CASE.npy');
  writeNpy(path, floats(24, 8), [2, 3, 4]);
  assert.equal(npyFileProblem(path), null);
  const whole = readFileSync(path);
  truncateSync(path, whole.length - 4);
  assert.match(npyFileProblem(path) ?? '', /has 220 bytes where its header needs 224/);
  writeFileSync(path, Buffer.concat([whole, Buffer.alloc(4)]));
  assert.match(npyFileProblem(path) ?? '', /has 228 bytes/);
  writeFileSync(path, whole.subarray(0, 20));
  assert.match(npyFileProblem(path) ?? '', /not a readable \.npy file/);
  assert.equal(npyFileProblem(join(dir, 'missing.npy')), 'it does not exist');
});

test('a .nii.gz that an interrupted run left damaged is redone, not skipped or refused', async () => {
  const { compressNiftiFolder } = await import('../../src/io/compress.js');
  const dir = tempDir();
  const original = randomBytes(4096, 9);
  writeFileSync(join(dir, 'a.nii'), original);
  const gz = gzipSync(original);
  writeFileSync(join(dir, 'a.nii.gz'), gz.subarray(0, gz.length >> 1));
  const r = compressNiftiFolder(dir);
  assert.deepEqual(r.compressed, ['a.nii']);
  assert.deepEqual(r.skipped, []);
  assert.ok(readFileSync(join(dir, 'a.nii.gz')).equals(gzipSync(original, { level: 6 })));
});

test('header + data formats (.mhd, .nhdr) write their data file beside the header and read back', async () => {
  const dir = tempDir();
  const v: Volume = {
    data: Int16Array.from({ length: 60 }, (_, i) => i - 30),
    shape: [3, 4, 5],
    dtype: 'int16',
    geometry,
  };
  for (const [name, data] of [
    ['a.mhd', 'a.raw'],
    ['b.nhdr', 'b.raw'],
  ] as const) {
    await writeImage(v, join(dir, name));
    assert.equal(readFileSync(join(dir, data)).length, 120, data);
    assert.deepEqual(
      Array.from((await readImage(join(dir, name))).data as Int16Array),
      Array.from(v.data as Int16Array),
      name,
    );
  }
});
