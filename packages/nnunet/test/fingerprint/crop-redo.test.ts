/** A rerun of the crop step redoes cases whose outputs do not load, and skips complete ones. */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { cropTask } from '../../src/fingerprint/crop-task.js';
import { npyFileProblem } from '../../src/io/npy.js';
import { HIPPOCAMPUS, tempDir } from '../helpers.js';

test('a truncated CASE.npy or a damaged CASE.json is redone on the next run; complete cases are skipped', async () => {
  const base = tempDir();
  const task = join(base, 'nnUNet_raw_data', 'Task004_Hippocampus');
  mkdirSync(join(task, 'imagesTr'), { recursive: true });
  mkdirSync(join(task, 'labelsTr'), { recursive: true });
  const ids = ['hippocampus_001', 'hippocampus_003'];
  for (const id of ids) {
    copyFileSync(join(HIPPOCAMPUS, 'imagesTr', `${id}.nii.gz`), join(task, 'imagesTr', `${id}_0000.nii.gz`));
    copyFileSync(join(HIPPOCAMPUS, 'labelsTr', `${id}.nii.gz`), join(task, 'labelsTr', `${id}.nii.gz`));
  }
  const ds = JSON.parse(readFileSync(join(HIPPOCAMPUS, 'dataset.json'), 'utf8'));
  ds.training = ids.map((id) => ({ image: `./imagesTr/${id}.nii.gz`, label: `./labelsTr/${id}.nii.gz` }));
  ds.numTraining = ids.length;
  writeFileSync(join(task, 'dataset.json'), JSON.stringify(ds));
  const env = { nnUNet_raw_data_base: base };

  const out = await cropTask('Task004_Hippocampus', { env, workers: 1 });
  const [a, b] = ids.map((id) => join(out, `${id}.npy`)) as [string, string];
  const whole = readFileSync(a);
  const bBefore = statSync(b).mtimeMs;
  // What a writer without length checks left on a full disk: a CASE.npy cut short.
  truncateSync(a, whole.length - 1000);
  assert.notEqual(npyFileProblem(a), null);
  let done = 0;
  await cropTask('Task004_Hippocampus', { env, workers: 1, onProgress: (d) => (done = d) });
  assert.equal(done, 1, 'only the damaged case is cropped again');
  assert.ok(readFileSync(a).equals(whole), 'the truncated case is redone');
  assert.equal(statSync(b).mtimeMs, bBefore, 'the complete case is skipped');

  writeFileSync(join(out, `${ids[1]}.json`), '{"crop_bbox": [[0, ');
  await cropTask('Task004_Hippocampus', { env, workers: 1 });
  assert.ok(statSync(b).mtimeMs > bBefore, 'a case with a damaged .json is redone');
  JSON.parse(readFileSync(join(out, `${ids[1]}.json`), 'utf8'));
});
