/** The planner registry: v1 class names, clear errors, and variants as small subclasses. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { DatasetProperties } from '../../src/model/properties.js';
import { planFromFingerprint } from '../../src/planning/plan-from-fingerprint.js';
import { Planner3DV21 } from '../../src/planning/planner-3d.js';
import { getPlanner, knownPlanners, registerPlanner } from '../../src/planning/registry.js';
import { FIXTURES } from '../helpers.js';

test('the v2.1 planners are found by their v1 class names', () => {
  assert.deepEqual(knownPlanners().slice().sort(), knownPlanners());
  assert.ok(knownPlanners().includes('ExperimentPlanner3D_v21'));
  assert.ok(knownPlanners().includes('ExperimentPlanner2D_v21'));
  const p3 = getPlanner('ExperimentPlanner3D_v21');
  assert.equal(p3.name, 'ExperimentPlanner3D_v21');
  assert.equal(p3.plansFileName, 'nnUNetPlansv2.1_plans_3D.json');
  assert.equal(getPlanner('ExperimentPlanner2D_v21').dataIdentifier, 'nnUNetData_plans_v2.1_2D');
});

test('an unknown planner name is an ERR_ARGUMENT naming it and the known planners', () => {
  assert.throws(
    () => getPlanner('ExperimentPlanner3D_v99'),
    (e: Error & { code?: string }) =>
      e.code === 'ERR_ARGUMENT' &&
      e.message.includes('"ExperimentPlanner3D_v99"') &&
      e.message.includes('ExperimentPlanner3D_v21') &&
      e.message.includes('ExperimentPlanner2D_v21'),
  );
  assert.throws(
    () =>
      planFromFingerprint('nnUNetPlannerX', {} as DatasetProperties, { croppedFolder: '/c', preprocessedFolder: '/p' }),
    (e: Error & { code?: string }) => e.code === 'ERR_ARGUMENT',
  );
});

test('a variant is a small subclass registered under its own name', () => {
  class BigBatchPlanner extends Planner3DV21 {
    override readonly name = 'ExperimentPlanner3D_v21_bigBatch';
    override readonly plansFileName = 'nnUNetPlans_bigBatch_plans_3D.json';
    override readonly maxBatchDatasetFraction = 0.1;
  }
  registerPlanner('ExperimentPlanner3D_v21_bigBatch', () => new BigBatchPlanner());
  const fp = JSON.parse(
    readFileSync(join(FIXTURES, 'golden', 'Task004_Hippocampus', 'dataset_properties.json'), 'utf8'),
  ) as DatasetProperties;
  const options = { croppedFolder: '/c', preprocessedFolder: '/p' };
  const base = planFromFingerprint('ExperimentPlanner3D_v21', fp, options).plans_per_stage['0'];
  const variant = planFromFingerprint('ExperimentPlanner3D_v21_bigBatch', fp, options).plans_per_stage['0'];
  // round(0.05 * 200 * 36*50*35 / (40*56*40)) = 7; with 10 %: round(14.06) = 14.
  assert.equal(base?.batch_size, 7);
  assert.equal(variant?.batch_size, 14);
  assert.deepEqual(variant?.patch_size, base?.patch_size);
});
