/**
 * Plan parity with nnU-Net v1.7.0: planning from the golden dataset_properties.json must give
 * v1's nnUNetPlansv2.1_plans_{3D,2D}.json (test/fixtures/golden), every key and every number.
 * The golden paths carry placeholders; they are replaced by the folders given to the planner.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { DatasetProperties } from '../../src/model/properties.js';
import { planFromFingerprint, plansFileName, planTask } from '../../src/planning/plan-from-fingerprint.js';
import { FIXTURES, tempDir } from '../helpers.js';

const GOLDEN = join(FIXTURES, 'golden');
const TASKS = ['Task004_Hippocampus', 'Task902_SynthCT'] as const;
const PLANNERS = [
  ['ExperimentPlanner3D_v21', 'nnUNetPlansv2.1_plans_3D.json'],
  ['ExperimentPlanner2D_v21', 'nnUNetPlansv2.1_plans_2D.json'],
] as const;

const readJson = (path: string): unknown => JSON.parse(readFileSync(path, 'utf8'));
const fingerprintOf = (task: string) => readJson(join(GOLDEN, task, 'dataset_properties.json')) as DatasetProperties;

/**
 * v1's plans with its placeholders replaced by our folders. v1 lists its cropped cases as .npz
 * files; ours are .npy files, and list_of_npz_files names the files that exist.
 */
function expectedPlans(task: string, fileName: string, rawBase: string, preprocessedRoot: string): unknown {
  const text = readFileSync(join(GOLDEN, task, fileName), 'utf8')
    .replaceAll('<nnUNet_cropped_data>', join(rawBase, 'nnUNet_cropped_data'))
    .replaceAll('<nnUNet_preprocessed>', preprocessedRoot)
    .replace(/\.npz"/g, '.npy"');
  return JSON.parse(text);
}

for (const task of TASKS) {
  for (const [planner, fileName] of PLANNERS) {
    test(`${task}: ${planner} plans equal v1's ${fileName} (every key, key order included)`, () => {
      const rawBase = '/data/raw_base';
      const preprocessedRoot = '/data/preprocessed';
      const plans = planFromFingerprint(planner, fingerprintOf(task), {
        croppedFolder: join(rawBase, 'nnUNet_cropped_data', task),
        preprocessedFolder: join(preprocessedRoot, task),
      });
      const expected = expectedPlans(task, fileName, rawBase, preprocessedRoot) as Record<string, unknown>;
      const ours = JSON.parse(JSON.stringify(plans)) as Record<string, unknown>;
      assert.deepEqual(Object.keys(ours), Object.keys(expected));
      for (const key of Object.keys(expected)) assert.deepEqual(ours[key], expected[key], key);
      const stage = (ours.plans_per_stage as Record<string, object>)['0'] as object;
      const goldStage = (expected.plans_per_stage as Record<string, object>)['0'] as object;
      assert.deepEqual(Object.keys(stage), Object.keys(goldStage), 'stage key order');
    });
  }
}

test('planTask reads the cropped folder, lists its cases and writes both plans files atomically', () => {
  const task = 'Task902_SynthCT';
  const rawBase = tempDir();
  const preprocessedRoot = tempDir();
  const cropped = join(rawBase, 'nnUNet_cropped_data', task);
  mkdirSync(cropped, { recursive: true });
  const fingerprint = fingerprintOf(task);
  writeFileSync(join(cropped, 'dataset_properties.json'), JSON.stringify(fingerprint));
  // Only the file names matter to the planner: it never opens the cases.
  for (const id of Object.keys(fingerprint.size_reductions)) writeFileSync(join(cropped, `${id}.npy`), '');
  for (const [planner, fileName] of PLANNERS) {
    const { plans, path } = planTask(planner, cropped, join(preprocessedRoot, task));
    assert.equal(path, join(preprocessedRoot, task, fileName));
    assert.equal(plansFileName(planner), fileName);
    assert.deepEqual(readJson(path), JSON.parse(JSON.stringify(plans)));
    assert.deepEqual(readJson(path), expectedPlans(task, fileName, rawBase, preprocessedRoot));
  }
});

test('planTask without a fingerprint names the missing file', () => {
  const empty = tempDir();
  assert.throws(
    () => planTask('ExperimentPlanner3D_v21', empty, join(empty, 'out')),
    (e: Error & { code?: string }) => e.code === 'ERR_NOT_FOUND' && e.message.includes('dataset_properties.json'),
  );
});

test('a fingerprint that disagrees with the cropped cases is refused', () => {
  assert.throws(
    () =>
      planFromFingerprint('ExperimentPlanner3D_v21', fingerprintOf('Task902_SynthCT'), {
        croppedFolder: '/c',
        preprocessedFolder: '/p',
        caseIds: ['synct_000'],
      }),
    (e: Error & { code?: string }) => e.code === 'ERR_DATASET' && e.message.includes('12 cases but 1'),
  );
});
