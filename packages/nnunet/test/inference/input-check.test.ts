/** The per-case input checks before prediction, and creating the output folder. */
import assert from 'node:assert/strict';
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { checkCaseImages, nonFiniteVoxels } from '../../src/inference/input-check.js';
import { createOutputFolder } from '../../src/inference/output-folder.js';
import type { Volume } from '../../src/io/image.js';
import { tempDir } from '../helpers.js';

function volume(data: Volume['data'], shape = [2, 3, 4]): Volume {
  const dtype = data instanceof Float32Array ? 'float32' : data instanceof Float64Array ? 'float64' : 'int16';
  return {
    data,
    shape,
    dtype,
    geometry: { spacing: [1, 1, 1], origin: [0, 0, 0], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] },
  };
}

test('an all-NaN image is refused with a sentence naming it; with nanValue it is predicted as that value, on a copy', () => {
  const allNaN = volume(new Float32Array(24).fill(Number.NaN));
  assert.throws(
    () => checkCaseImages([allNaN], ['/data/x_0000.nii.gz']),
    (e: Error & { code?: string }) =>
      e.code === 'ERR_DATASET' &&
      /^\/data\/x_0000\.nii\.gz holds 24 NaN or infinite voxel\(s\) \(the first at z, y, x = 0, 0, 0\), which would make the segmentation meaningless; fix the image, or predict with them replaced by a value X \(nnUNet_predict --nan_value X\)\.$/.test(
        e.message,
      ),
  );
  const mixed = new Float64Array(24).fill(5);
  mixed[23] = Number.NEGATIVE_INFINITY;
  mixed[13] = Number.NaN;
  assert.deepEqual(nonFiniteVoxels(mixed), { count: 2, first: 13 });
  assert.throws(() => checkCaseImages([volume(mixed)], ['m.nii.gz']), /m\.nii\.gz holds 2 .* z, y, x = 1, 0, 1\)/);
  const fixed = checkCaseImages([volume(mixed)], ['m.nii.gz'], { nanValue: -1 })[0]?.data as Float64Array;
  assert.deepEqual(Array.from(fixed.slice(12, 14)), [5, -1]);
  assert.equal(fixed[23], -1);
  assert.ok(Number.isNaN(mixed[13]), 'the input is not modified');
  const ints = volume(new Int16Array(24));
  assert.equal(checkCaseImages([ints], ['i.nii.gz'])[0], ints, 'integer images pass unchanged');
  assert.throws(
    () => checkCaseImages([ints, volume(new Int16Array(6), [1, 2, 3])], ['a_0000.nii.gz', 'a_0001.nii.gz']),
    /a_0001\.nii\.gz has shape \[1,2,3\] but a_0000\.nii\.gz has \[2,3,4\]/,
  );
});

test('createOutputFolder makes missing parents and refuses a file in the path or an unwritable place in one sentence', () => {
  const dir = tempDir();
  createOutputFolder(join(dir, 'a', 'b', 'c'));
  assert.ok(statSync(join(dir, 'a', 'b', 'c')).isDirectory());
  createOutputFolder(join(dir, 'a', 'b', 'c'));
  writeFileSync(join(dir, 'f'), '');
  assert.throws(
    () => createOutputFolder(join(dir, 'f', 'x')),
    new RegExp(`^NnunetError: Cannot create the output folder ${dir}/f/x: ${dir}/f is a file, not a folder;`),
  );
  assert.throws(() => createOutputFolder(join(dir, 'f')), /f is a file, not a folder/);
  // /proc/self exists but refuses new entries with ENOENT, where a recursive mkdir loops forever.
  assert.throws(() => createOutputFolder('/proc/self/x/y'), /\/proc\/self\/x cannot be created there \(ENOENT\)/);
  mkdirSync(join(dir, 'ro'), { mode: 0o500 });
  if (process.getuid?.() !== 0) {
    assert.throws(() => createOutputFolder(join(dir, 'ro', 'x')), /ro\/x cannot be created there \(EACCES\)/);
  }
});
