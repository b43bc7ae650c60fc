/**
 * bfloat16 training steps on the CPU: the step really runs in bf16 (its loss and updated weights
 * differ from float32's) yet stays close to the float32 step (loss within 2 %, weight updates in
 * the same direction), weights and optimizer state stay float32. The float16 step's loss scaling
 * (CUDA's path), run where autocast leaves the ops in float32 (CPU tensors): power-of-two scaling
 * is exact, so it gives the float32 step; an overflow skips the step and halves the scale.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Generator, GradScaler, rand, SGD, tidy } from '@nnunet/torch';
import { CHECKPOINT_FORMAT } from '../../src/model/layout.js';
import { deepSupervisionLossWeights, deepSupervisionScales } from '../../src/network/deep-supervision.js';
import { GenericUNet } from '../../src/network/generic-unet.js';
import { initWeightsHe } from '../../src/network/init.js';
import { ProducedBatch } from '../../src/training/batch-producer.js';
import type { FoldModel } from '../../src/training/fold-context.js';
import type { TrainingPrecision } from '../../src/training/options.js';
import { trainStep } from '../../src/training/steps.js';

const POOLS = [
  [2, 2, 2],
  [2, 2, 2],
];

function model(precision: TrainingPrecision): FoldModel {
  const net = new GenericUNet({
    spatialDims: 3,
    inputChannels: 1,
    numClasses: 3,
    baseNumFeatures: 8,
    maxNumFeatures: 32,
    convPerStage: 2,
    poolOpKernelSizes: POOLS,
    convKernelSizes: [
      [3, 3, 3],
      [3, 3, 3],
      [3, 3, 3],
    ],
    deepSupervision: true,
  });
  initWeightsHe(net, { generator: new Generator(3) });
  const optimizer = new SGD(net.parameters(), { lr: 0.01, momentum: 0.99, nesterov: true, weightDecay: 3e-5 });
  const dsScales = deepSupervisionScales(POOLS);
  return {
    net,
    optimizer,
    dsScales,
    dsWeights: deepSupervisionLossWeights(dsScales.length),
    lossOptions: { batchDice: false },
    meta: {
      format: CHECKPOINT_FORMAT,
      trainer: 't',
      configuration: '3d_fullres',
      stage: '0',
      fold: '0',
      epoch: 0,
      mirror_axes: [],
    },
    precision,
    gradScaler: new GradScaler(),
    group: null,
    dispose() {
      net.dispose();
      optimizer.dispose();
    },
  };
}

function fixedBatch(intensity = 1): { make: () => ProducedBatch; dispose: () => void } {
  const shape = [2, 1, 16, 16, 16];
  const [data, seg] = tidy(() => {
    const g = new Generator(11);
    return [rand(shape, { generator: g }).mul(intensity), rand(shape, { generator: g }).mul(3).floor()];
  });
  const make = () =>
    new ProducedBatch(
      0,
      ['a', 'b'],
      {
        data: { data: data.toTypedArray() as Float32Array, shape },
        seg: { data: seg.toTypedArray() as Float32Array, shape },
      },
      () => {},
    );
  return {
    make,
    dispose: () => {
      data.dispose();
      seg.dispose();
    },
  };
}

function weightsOf(m: FoldModel): Map<string, Float32Array> {
  return new Map([...m.net.stateDict()].map(([k, t]) => [k, t.toTypedArray() as Float32Array]));
}

test('the float16 step scales the loss exactly and skips a step whose gradients overflow', () => {
  const batches = fixedBatch();
  // Intensities of 1e4 make the first convolution's gradient large enough to overflow at 2^127.
  const bright = fixedBatch(1e4);
  const m32 = model('float32');
  const m16 = model('float16');
  const overflow = model('float16');
  try {
    const before = weightsOf(overflow);
    const run = (m: FoldModel, from = batches) => {
      const b = from.make();
      const loss = trainStep(m, b, 'cpu');
      b.release();
      return loss;
    };
    const loss32 = run(m32);
    assert.equal(run(m16), loss32, 'the returned loss is the unscaled one');
    const w32 = weightsOf(m32);
    for (const [name, w] of weightsOf(m16)) assert.deepEqual(w, w32.get(name), `${name} after the scaled step`);
    assert.equal(m16.gradScaler.scale, 65536, 'no overflow: the scale stays until 2000 good steps');
    // A scale that overflows the gradients: the step is skipped (weights and momentum untouched) and halved.
    overflow.gradScaler = new GradScaler({ initScale: 2 ** 127 });
    run(overflow, bright);
    assert.equal(overflow.gradScaler.scale, 2 ** 126);
    for (const [name, w] of weightsOf(overflow)) assert.deepEqual(w, before.get(name), `${name} after a skipped step`);
  } finally {
    m32.dispose();
    m16.dispose();
    overflow.dispose();
    batches.dispose();
    bright.dispose();
  }
});

test('a bf16 step runs in bf16 and stays close to the float32 step', () => {
  const batches = fixedBatch();
  const m32 = model('float32');
  const m16 = model('bfloat16');
  try {
    const run = (m: FoldModel) => {
      const b = batches.make();
      const loss = trainStep(m, b, 'cpu');
      b.release();
      return loss;
    };
    const loss32 = run(m32);
    const loss16 = run(m16);
    assert.notEqual(loss16, loss32, 'the bf16 step gave the float32 loss bit for bit: autocast did not act');
    assert.ok(Math.abs(loss16 - loss32) / loss32 < 0.02, `loss ${loss16} vs ${loss32}`);
    const w32 = weightsOf(m32);
    let differ = 0;
    for (const [name, t16] of m16.net.stateDict()) {
      assert.equal(t16.dtype, 'float32', `${name} stays float32`);
      const a = w32.get(name);
      assert.ok(a !== undefined);
      const b = t16.toTypedArray() as Float32Array;
      for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) differ++;
    }
    assert.ok(differ > 0, 'the updated weights are identical: the bf16 step did not run in bf16');
  } finally {
    m32.dispose();
    m16.dispose();
    batches.dispose();
  }
});
