/** nnU-Net v1's environment variables and task lookup. */
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { NnunetError, requireEnvFolder, resolvePaths, resolveTaskName } from '../src/index.js';
import { tempDir } from './helpers.js';

test('folders derive from the three variables exactly as in v1', () => {
  const p = resolvePaths({ nnUNet_raw_data_base: '/d/raw', nnUNet_preprocessed: '/d/pre', RESULTS_FOLDER: '/d/res' });
  assert.deepEqual(p, {
    rawDataBase: '/d/raw',
    rawData: '/d/raw/nnUNet_raw_data',
    croppedData: '/d/raw/nnUNet_cropped_data',
    preprocessed: '/d/pre',
    results: '/d/res',
    trainedModels: '/d/res/nnUNet',
  });
  assert.deepEqual(resolvePaths({}), {});
});

test('a missing or wrong variable is one sentence naming it and how to set it', () => {
  assert.throws(
    () => requireEnvFolder('nnUNet_preprocessed', {}),
    (e: unknown) =>
      e instanceof NnunetError &&
      e.code === 'ERR_ENV' &&
      /nnUNet_preprocessed is not set/.test(e.message) &&
      /export nnUNet_preprocessed=/.test(e.message),
  );
  const dir = tempDir();
  const file = join(dir, 'file');
  writeFileSync(file, '');
  assert.throws(
    () => requireEnvFolder('RESULTS_FOLDER', { RESULTS_FOLDER: file }),
    /RESULTS_FOLDER=.* is a file, not a folder/,
  );
  assert.equal(requireEnvFolder('RESULTS_FOLDER', { RESULTS_FOLDER: dir }), dir);
});

test('a task is found by 4, "004" or its full name in any of the v1 folders', () => {
  const base = tempDir();
  const env = {
    nnUNet_raw_data_base: join(base, 'raw'),
    nnUNet_preprocessed: join(base, 'pre'),
    RESULTS_FOLDER: join(base, 'res'),
  };
  mkdirSync(join(base, 'raw', 'nnUNet_raw_data', 'Task004_Hippocampus'), { recursive: true });
  mkdirSync(join(base, 'pre', 'Task004_Hippocampus'), { recursive: true });
  mkdirSync(join(base, 'res', 'nnUNet', '3d_fullres', 'Task055_SegTHOR'), { recursive: true });
  for (const id of [4, '4', '004', 'Task004_Hippocampus'])
    assert.equal(resolveTaskName(id, env), 'Task004_Hippocampus');
  assert.equal(resolveTaskName(55, env), 'Task055_SegTHOR', 'found among trained models');
  // A task folder linked in from elsewhere (shared storage) counts; a dangling link does not.
  mkdirSync(join(base, 'elsewhere', 'Task012_Linked'), { recursive: true });
  symlinkSync(join(base, 'elsewhere', 'Task012_Linked'), join(base, 'raw', 'nnUNet_raw_data', 'Task012_Linked'));
  symlinkSync(join(base, 'nowhere'), join(base, 'raw', 'nnUNet_raw_data', 'Task013_Dangling'));
  assert.equal(resolveTaskName(12, env), 'Task012_Linked');
  assert.throws(() => resolveTaskName(13, env), { code: 'ERR_NOT_FOUND' });
  assert.throws(() => resolveTaskName(7, env), { code: 'ERR_NOT_FOUND', message: /No task with id 7 \(Task007_\*\)/ });
  mkdirSync(join(base, 'pre', 'Task004_Other'), { recursive: true });
  assert.throws(() => resolveTaskName('4', env), /Task004_Hippocampus, Task004_Other/);
  assert.throws(() => resolveTaskName('Hippocampus', env), { code: 'ERR_ARGUMENT' });
});
