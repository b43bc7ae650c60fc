import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { NnunetError } from '../../src/errors.js';
import type { Plans } from '../../src/model/plans.js';
import { deepSupervisionLossWeights, deepSupervisionScales } from '../../src/network/deep-supervision.js';
import { FIXTURES } from '../helpers.js';

const GOLDEN = join(FIXTURES, 'golden');
const plansOf = (task: string, dims: string): Plans =>
  JSON.parse(readFileSync(join(GOLDEN, task, `nnUNetPlansv2.1_plans_${dims}.json`), 'utf8')) as Plans;
const stage0 = (p: Plans) => p.plans_per_stage['0']!;

test('loss weights: 1/2^i, the lowest output masked, normalised (hippocampus: 3 outputs)', () => {
  const pool = stage0(plansOf('Task004_Hippocampus', '3D')).pool_op_kernel_sizes;
  // [1, 1/2, 1/4] -> [1, 1/2, 0] / 1.5
  assert.deepEqual(deepSupervisionLossWeights(pool.length), [2 / 3, 1 / 3, 0]);
});

test('loss weights for 4 outputs (synthetic CT) and the one-output edge case', () => {
  // [1, 1/2, 1/4, 0] / 1.75
  assert.deepEqual(deepSupervisionLossWeights(4), [4 / 7, 2 / 7, 1 / 7, 0]);
  assert.deepEqual(deepSupervisionLossWeights(2), [1, 0]);
  assert.deepEqual(deepSupervisionLossWeights(1), [1]);
  assert.throws(() => deepSupervisionLossWeights(0), NnunetError);
});

test('target scales of the hippocampus plans (3-D and 2-D)', () => {
  assert.deepEqual(deepSupervisionScales(stage0(plansOf('Task004_Hippocampus', '3D')).pool_op_kernel_sizes), [
    [1, 1, 1],
    [0.5, 0.5, 0.5],
    [0.25, 0.25, 0.25],
  ]);
  assert.deepEqual(deepSupervisionScales(stage0(plansOf('Task004_Hippocampus', '2D')).pool_op_kernel_sizes), [
    [1, 1],
    [0.5, 0.5],
    [0.25, 0.25],
  ]);
});

test('target scales of anisotropic pool kernels (synthetic CT 3-D) follow the running product', () => {
  // pool [[1,2,2],[2,2,2],[2,2,2],[1,2,2]]: products [1,2,2], [2,4,4], [4,8,8]; the last step has no output
  assert.deepEqual(deepSupervisionScales(stage0(plansOf('Task902_SynthCT', '3D')).pool_op_kernel_sizes), [
    [1, 1, 1],
    [1, 0.5, 0.5],
    [0.5, 0.25, 0.25],
    [0.25, 0.125, 0.125],
  ]);
  assert.throws(() => deepSupervisionScales([]), NnunetError);
  assert.throws(() => deepSupervisionScales([[2, 2], [2]]), NnunetError);
});

test('patch size times each scale is the shape of v1 deep-supervision output', () => {
  for (const task of ['Task004_Hippocampus', 'Task902_SynthCT']) {
    for (const dims of ['3D', '2D']) {
      const stage = stage0(plansOf(task, dims));
      const golden = JSON.parse(readFileSync(join(GOLDEN, task, `network_${dims}_stage0.json`), 'utf8')) as {
        deep_supervision_output_shapes: number[][];
      };
      const scaled = deepSupervisionScales(stage.pool_op_kernel_sizes).map((s) =>
        s.map((f, a) => (stage.patch_size[a] as number) * f),
      );
      assert.deepEqual(
        scaled,
        golden.deep_supervision_output_shapes.map((shape) => shape.slice(2)),
        `${task} ${dims}`,
      );
      assert.equal(deepSupervisionLossWeights(stage.pool_op_kernel_sizes.length).length, scaled.length);
    }
  }
});
