/** unetConfigFromPlans against nnUNetTrainer.process_plans + nnUNetTrainerV2.initialize_network. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { NnunetError } from '../../src/errors.js';
import type { Plans } from '../../src/model/plans.js';
import { unetConfigFromPlans } from '../../src/network/from-plans.js';
import { GenericUNet, type GenericUNetConfig } from '../../src/network/generic-unet.js';
import { FIXTURES } from '../helpers.js';

const plansOf = (task: string, dims: string): Plans =>
  JSON.parse(readFileSync(join(FIXTURES, 'golden', task, `nnUNetPlansv2.1_plans_${dims}.json`), 'utf8')) as Plans;

test('hippocampus 3-D plans: 1 modality, 2 + background classes, base 32, cap 320, 3 isotropic pools', () => {
  const expected: GenericUNetConfig = {
    spatialDims: 3,
    inputChannels: 1,
    numClasses: 3,
    baseNumFeatures: 32,
    maxNumFeatures: 320,
    convPerStage: 2,
    poolOpKernelSizes: [
      [2, 2, 2],
      [2, 2, 2],
      [2, 2, 2],
    ],
    convKernelSizes: [
      [3, 3, 3],
      [3, 3, 3],
      [3, 3, 3],
      [3, 3, 3],
    ],
    deepSupervision: true,
  };
  assert.deepEqual(unetConfigFromPlans(plansOf('Task004_Hippocampus', '3D'), '0'), expected);
  // a single-stage plans file needs no stage key (v1: stage None), and numeric keys work
  assert.deepEqual(unetConfigFromPlans(plansOf('Task004_Hippocampus', '3D')), expected);
  assert.deepEqual(unetConfigFromPlans(plansOf('Task004_Hippocampus', '3D'), 0), expected);
});

test('2-D plans (no conv_per_stage key): 2 convs per stage, cap 480; options override', () => {
  const c = unetConfigFromPlans(plansOf('Task902_SynthCT', '2D'), '0', { deepSupervision: false, maxNumFeatures: 256 });
  assert.equal(c.spatialDims, 2);
  assert.equal(c.convPerStage, 2);
  assert.equal(c.maxNumFeatures, 256);
  assert.equal(c.deepSupervision, false);
  assert.equal(unetConfigFromPlans(plansOf('Task902_SynthCT', '2D'), '0').maxNumFeatures, 480);
  assert.deepEqual(c.poolOpKernelSizes, [
    [2, 2],
    [2, 2],
    [2, 2],
    [2, 2],
  ]);
});

test('stage features: base * 2^s capped, anisotropic kernels kept per axis', () => {
  const net = new GenericUNet(unetConfigFromPlans(plansOf('Task902_SynthCT', '3D'), '0'));
  assert.deepEqual(net.stageFeatures, [32, 64, 128, 256, 320]);
  assert.deepEqual(net.inputShapeMustBeDivisibleBy, [4, 16, 16]);
  assert.equal(net.numPool, 4);
  net.dispose();
});

test('plans written before v1 stored kernels get v1 fallback from num_pool_per_axis', () => {
  const plans = plansOf('Task902_SynthCT', '3D');
  const stage = { ...plans.plans_per_stage['0']! } as Partial<Plans['plans_per_stage'][string]>;
  delete stage.pool_op_kernel_sizes;
  delete stage.conv_kernel_sizes;
  const old = { ...plans, plans_per_stage: { 0: stage } } as unknown as Plans;
  // num_pool_per_axis [2, 4, 4]: z joins for the last two pools only
  const c = unetConfigFromPlans(old, '0');
  assert.deepEqual(c.poolOpKernelSizes, [
    [1, 2, 2],
    [1, 2, 2],
    [2, 2, 2],
    [2, 2, 2],
  ]);
  assert.deepEqual(
    c.convKernelSizes,
    Array.from({ length: 5 }, () => [3, 3, 3]),
  );
});

test('unknown stage, ambiguous stage and bad input are NnunetError ERR_ARGUMENT', () => {
  const plans = plansOf('Task004_Hippocampus', '3D');
  const isArgError = (e: unknown) => e instanceof NnunetError && e.code === 'ERR_ARGUMENT';
  assert.throws(() => unetConfigFromPlans(plans, '1'), isArgError);
  const twoStages = { ...plans, plans_per_stage: { 0: plans.plans_per_stage['0']!, 1: plans.plans_per_stage['0']! } };
  assert.throws(() => unetConfigFromPlans(twoStages), isArgError);
  assert.doesNotThrow(() => unetConfigFromPlans(twoStages, '1'));
  const config = unetConfigFromPlans(plans, '0');
  assert.throws(() => new GenericUNet({ ...config, convKernelSizes: config.convKernelSizes.slice(1) }), isArgError);
  assert.throws(
    () =>
      new GenericUNet({
        ...config,
        poolOpKernelSizes: [
          [2, 2],
          [2, 2],
          [2, 2],
        ],
      }),
    isArgError,
  );
  assert.throws(() => new GenericUNet({ ...config, convPerStage: 1 }), isArgError);
});
