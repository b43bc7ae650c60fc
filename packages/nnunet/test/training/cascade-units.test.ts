/**
 * Pieces of the cascade and of the remaining nnUNetTrainerV2 recipe: the loader's previous-stage
 * channel (cropped and padded with the patch), the next-stage files (v1's npz layout, resampling
 * and argmax), one-hot input channels, -pretrained_weights by v1's rules, and the epoch-100
 * momentum rescue.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Generator, noGrad, ones, SGD, safetensors, type Tensor, zeros } from '@nnunet/torch';
import { appendOneHot } from '../../src/inference/cascade-input.js';
import { readV1Plans } from '../../src/inference/v1-model.js';
import { writeNpy } from '../../src/io/npy.js';
import { readNpzRaw } from '../../src/io/npz.js';
import { readTorchCheckpoint, stateDictTensors } from '../../src/io/torch-checkpoint.js';
import { unetConfigFromPlans } from '../../src/network/from-plans.js';
import { GenericUNet } from '../../src/network/generic-unet.js';
import { requirePrevStageSegmentations, softmaxToLabelsOnGrid } from '../../src/training/cascade.js';
import { DataLoader, loadDataset, type RandomSource } from '../../src/training/data-loader.js';
import { loadPretrainedWeights } from '../../src/training/pretrained.js';
import { readSegFromPrevStage, segFromPrevStagePath, writeSegFromPrevStage } from '../../src/training/prev-stage.js';
import {
  MOMENTUM,
  MOMENTUM_RESCUE_EPOCH,
  needsMomentumRescue,
  RESCUE_MOMENTUM,
  rescueMomentum,
} from '../../src/training/trainer-spec.js';
import { product } from '../../src/util/shape.js';
import { FIXTURES, tempDir } from '../helpers.js';

/** Draws from a list (the loader's interval(max) calls), checking each bound. */
function scriptedIntervals(values: number[]): RandomSource {
  let i = 0;
  return {
    interval(max: number) {
      const v = values[i++];
      if (v === undefined) throw new Error('ran out of scripted draws');
      assert.ok(v >= 0 && v <= max, `draw ${v} within [0, ${max}]`);
      return v;
    },
  };
}

test('the loader cuts the previous-stage labels with the same box as the data and pads them with 0', () => {
  const root = tempDir();
  const stage = join(root, 'stage1');
  const prev = join(root, 'pred_next_stage');
  mkdirSync(stage);
  mkdirSync(prev);
  const [Z, Y, X] = [6, 7, 8];
  const n = Z * Y * X;
  // channel 0 = voxel index + 1 (so 0 means padding), channel 1 (target) = index mod 3
  const all = new Float32Array(2 * n);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    all[i] = i + 1;
    all[n + i] = i % 3;
    labels[i] = (i % 250) + 1;
  }
  writeNpy(join(stage, 'a.npy'), all, [2, Z, Y, X]);
  writeFileSync(join(stage, 'a.json'), JSON.stringify({ class_locations: { '1': [[1, 1, 1]] } }));
  writeSegFromPrevStage(segFromPrevStagePath(prev, 'a'), labels, [Z, Y, X]);
  const dataset = loadDataset(stage, { prevStageFolder: prev });
  // patch 4 x 5 x 6 cut from a larger basic patch so the box reaches past the border
  const loader = new DataLoader(dataset, { dim: 3, patchSize: [8, 9, 10], finalPatchSize: [4, 5, 6], batchSize: 1 });
  assert.deepEqual(loader.segShape, [1, 2, 8, 9, 10]);
  assert.ok(loader.hasPrevStage);
  // case 0, then each axis' start at its lower bound (random item)
  const batch = loader.generateBatch(scriptedIntervals([0, 0, 0, 0]));
  const P = 8 * 9 * 10;
  let inside = 0;
  for (let i = 0; i < P; i++) {
    const d = batch.data[i] as number;
    const target = batch.seg[i] as number;
    const previous = batch.seg[P + i] as number;
    if (d === 0) {
      assert.equal(target, -1, 'the target is padded with -1');
      assert.equal(previous, 0, 'the previous stage is padded with 0');
    } else {
      inside++;
      assert.equal(previous, ((d - 1) % 250) + 1, 'same voxel as the data');
      assert.equal(target, (d - 1) % 3);
    }
  }
  assert.ok(inside > 0 && inside < P, 'the patch covers part of the case and part of the padding');

  // a map of another shape is refused with the files named
  writeSegFromPrevStage(segFromPrevStagePath(prev, 'a'), labels.subarray(0, 6 * 7 * 7), [6, 7, 7]);
  assert.throws(() => loadDataset(stage, { prevStageFolder: prev }), /has shape \(6,7,7\) but .*a\.npy is \(6,7,8\)/);
});

test("next-stage files: v1's npz layout, order-1 resampling then argmax, and a clear error when missing", () => {
  const dir = tempDir();
  const f = segFromPrevStagePath(dir, 'c');
  writeSegFromPrevStage(f, Uint8Array.from([0, 1, 2, 1]), [1, 2, 2]);
  const member = readNpzRaw(f).get('data');
  assert.ok(member);
  assert.match(
    member.subarray(10, 80).toString('latin1'),
    /'descr': '\|u1', 'fortran_order': False, 'shape': \(1, 2, 2\)/,
  );
  assert.deepEqual(readSegFromPrevStage(f), { data: Uint8Array.from([0, 1, 2, 1]), shape: [1, 2, 2] });

  // two classes on a 1 x 1 x 2 grid resampled to 1 x 1 x 4 (linear, edge mode, skimage's
  // half-voxel alignment): class 1 probability 0.2 -> 0.9 becomes 0.2, 0.375, 0.725, 0.9
  const softmax = Float32Array.from([0.8, 0.1, 0.2, 0.9]);
  assert.deepEqual([...softmaxToLabelsOnGrid(softmax, [2, 1, 1, 2], [1, 1, 4])], [0, 0, 1, 1]);
  // ties keep the first class, as numpy's argmax
  assert.deepEqual([...softmaxToLabelsOnGrid(Float32Array.from([0.5, 0.5]), [2, 1, 1, 1], [1, 1, 1])], [0]);

  const one = appendOneHot(Float32Array.from([7, 8, 9]), [1, 1, 1, 3], [2, 0, 1], [1, 2]);
  assert.deepEqual(one.shape, [3, 1, 1, 3]);
  assert.deepEqual([...one.data], [7, 8, 9, 0, 0, 1, 1, 0, 0]);

  assert.throws(
    () =>
      requirePrevStageSegmentations(dir, ['c', 'd', 'e'], {
        task: 'Task009_X',
        previousTrainer: 'nnUNetTrainerV2',
        splits: [
          { train: [], val: ['c'] },
          { train: [], val: ['d', 'e'] },
        ],
      }),
    /lacks the 3d_lowres segmentations of 2 of 3 cases \(e\.g\. d_segFromPrevStage\.npz, e_segFromPrevStage\.npz\): .*Train 3d_lowres fold\(s\) 1 first \(nnUNet_train 3d_lowres nnUNetTrainerV2 Task009_X FOLD\)/,
  );
});

function tinyPlans(numClasses: number, modalities = 1) {
  return {
    num_modalities: modalities,
    num_classes: numClasses,
    base_num_features: 4,
    conv_per_stage: 2,
    plans_per_stage: {
      '0': {
        patch_size: [8, 8, 8],
        num_pool_per_axis: [2, 2, 2],
        pool_op_kernel_sizes: [
          [2, 2, 2],
          [2, 2, 2],
        ],
        conv_kernel_sizes: [
          [3, 3, 3],
          [3, 3, 3],
          [3, 3, 3],
        ],
      },
    },
  };
}

test('-pretrained_weights: v1 rules (conv blocks must fit, heads of another shape are skipped and named)', () => {
  const dir = tempDir();
  const source = new GenericUNet(unetConfigFromPlans(tinyPlans(3), '0'), { generator: new Generator(1) });
  const file = join(dir, 'model_final_checkpoint.safetensors');
  // saved as a DataParallel model would name them: "module." is dropped
  safetensors.save(file, new Map([...source.stateDict()].map(([k, t]) => [`module.${k}`, t])));

  // 2 classes instead of 3 (3 outputs instead of 4): every conv block is loaded, the 1x1 heads
  // keep their initialisation
  const target = new GenericUNet(unetConfigFromPlans(tinyPlans(2), '0'), { generator: new Generator(2) });
  const before = new Map([...target.stateDict()].map(([k, t]) => [k, t.clone()]));
  const r = loadPretrainedWeights(target, join(dir, 'model_final_checkpoint'));
  const heads = [...target.stateDict().keys()].filter((k) => k.startsWith('seg_outputs'));
  assert.ok(heads.length > 0);
  assert.deepEqual(r.skipped.map((s) => s.name).sort(), heads.sort());
  assert.match(
    r.skipped[0]?.reason ?? '',
    /^shape \[4, (\d+), 1, 1, 1\] in the file, \[3, \1, 1, 1, 1\] in the network$/,
  );
  const src = source.stateDict();
  for (const [k, t] of target.stateDict()) {
    if (k.startsWith('seg_outputs')) assert.ok(t.equal(before.get(k) as never), `${k} kept`);
    else assert.ok(t.equal(src.get(k) as never), `${k} loaded`);
  }
  assert.equal(r.loaded.length + r.skipped.length, target.stateDict().size);

  // 2 input channels: the first conv block does not fit, nothing is loaded
  const other = new GenericUNet(unetConfigFromPlans(tinyPlans(3, 2), '0'), { generator: new Generator(3) });
  const otherBefore = [...other.stateDict().values()].map((t) => t.clone());
  assert.throws(
    () => loadPretrainedWeights(other, file),
    /does not fit this network's architecture \(conv_blocks_context\.0\.blocks\.0\.conv\.weight is \[4, 1, 3, 3, 3\], the network needs \[4, 2, 3, 3, 3\]\)/,
  );
  for (const [i, t] of [...other.stateDict().values()].entries()) assert.ok(t.equal(otherBefore[i] as never));
  assert.throws(
    () => loadPretrainedWeights(other, join(dir, 'nope.safetensors')),
    /nope\.safetensors: no such checkpoint/,
  );
  for (const t of [...before.values(), ...otherBefore]) t.dispose();
  for (const m of [source, target, other]) m.dispose();
});

test("-pretrained_weights with nnU-Net v1's model_final_checkpoint.model: the same rules, read without Python", () => {
  const v1 = join(FIXTURES, 'v1_models', 'nnUNet');
  const trainerFolder = (cfg: string, trainer = 'nnUNetTrainerV2') =>
    join(v1, cfg, 'Task906_Tiny', `${trainer}__nnUNetPlansv2.1`);
  const model = join(trainerFolder('3d_fullres'), 'fold_0', 'model_final_checkpoint.model');
  const plans = readV1Plans(join(trainerFolder('3d_fullres'), 'plans.pkl'));
  const weights = stateDictTensors(readTorchCheckpoint(model).stateDict);
  try {
    // A network built from the checkpoint's own plans (training mode) takes every parameter.
    const net = new GenericUNet(unetConfigFromPlans(plans, '0'), { generator: new Generator(4) });
    const r = loadPretrainedWeights(net, model);
    assert.deepEqual(r.skipped, []);
    assert.equal(r.loaded.length, net.stateDict().size);
    assert.equal(r.loaded.length, weights.size);
    for (const [k, t] of net.stateDict()) assert.ok(t.equal(weights.get(k) as never), `${k} loaded`);

    // One more class: the heads keep their initialisation, everything else is v1's.
    const wider = { ...plans, num_classes: plans.num_classes + 1 };
    const other = new GenericUNet(unetConfigFromPlans(wider, '0'), { generator: new Generator(5) });
    const heads = new Map(
      [...other.stateDict()].filter(([k]) => k.startsWith('seg_outputs')).map(([k, t]) => [k, t.clone()]),
    );
    // The checkpoint named without extension is found as v1's .model.
    const r2 = loadPretrainedWeights(other, model.slice(0, -'.model'.length));
    assert.deepEqual(r2.skipped.map((s) => s.name).sort(), [...heads.keys()].sort());
    assert.match(
      r2.skipped[0]?.reason ?? '',
      /^shape \[3, 32, 1, 1, 1\] in the file, \[4, 32, 1, 1, 1\] in the network$/,
    );
    for (const [k, t] of other.stateDict()) {
      const want = k.startsWith('seg_outputs') ? heads.get(k) : weights.get(k);
      assert.ok(t.equal(want as never), k);
    }
    for (const t of heads.values()) t.dispose();

    // A DataParallel run's 2d checkpoint ('module.' names, legacy container) into a 3-D network:
    // the conv blocks do not fit, nothing is loaded.
    const dp = join(trainerFolder('2d', 'nnUNetTrainerV2_DP'), 'fold_0', 'model_final_checkpoint.model');
    const before = [...other.stateDict().values()].map((t) => t.clone());
    assert.throws(
      () => loadPretrainedWeights(other, dp),
      /does not fit this network's architecture \(conv_blocks_localization\.0\.0\.blocks\.0\.conv\.weight is \[32, 64, 3, 3\], the network needs \[32, 64, 3, 3, 3\]/,
    );
    for (const [i, t] of [...other.stateDict().values()].entries()) assert.ok(t.equal(before[i] as never));
    for (const t of before) t.dispose();
    // ...and into a 2-D network built from its plans, every parameter ('module.' dropped).
    const plans2d = readV1Plans(join(trainerFolder('2d'), 'plans.pkl'));
    const net2d = new GenericUNet(unetConfigFromPlans(plans2d, '0'), { generator: new Generator(6) });
    const r3 = loadPretrainedWeights(net2d, dp);
    assert.deepEqual(r3.skipped, []);
    assert.ok(r3.loaded.every((k) => !k.startsWith('module.')));
    assert.equal(r3.loaded.length, net2d.stateDict().size);

    // A damaged .model is refused with the file named.
    const dir = tempDir();
    const bad = join(dir, 'model_final_checkpoint.model');
    writeFileSync(bad, 'not a checkpoint');
    assert.throws(
      () => loadPretrainedWeights(net2d, bad),
      /model_final_checkpoint\.model is not a readable PyTorch checkpoint/,
    );
    for (const m of [net, other, net2d]) m.dispose();
  } finally {
    for (const t of weights.values()) t.dispose();
  }
});

test("v1's epoch-100 rule: a pseudo-Dice of exactly 0 at epoch 100 lowers the momentum and reinitialises", () => {
  assert.equal(MOMENTUM_RESCUE_EPOCH, 100);
  assert.ok(needsMomentumRescue(100, 0));
  assert.ok(!needsMomentumRescue(100, 1e-6));
  assert.ok(!needsMomentumRescue(99, 0));
  assert.ok(!needsMomentumRescue(101, 0));
  assert.ok(!needsMomentumRescue(100, Number.NaN));
  const net = new GenericUNet(unetConfigFromPlans(tinyPlans(2), '0'), { generator: new Generator(5) });
  // Weights as training leaves them: norms and biases away from their initial 1 and 0.
  noGrad(() => {
    for (const [k, t] of net.stateDict()) if (!isConvWeight(k)) t.fill_(k.endsWith('instnorm.weight') ? 2 : 0.5);
  });
  const lr = 0.01;
  const weightDecay = 3e-5;
  const opt = new SGD(net.parameters(), { lr, momentum: MOMENTUM, nesterov: true, weightDecay });
  const before = new Map([...net.stateDict()].map(([k, t]) => [k, t.clone()]));
  rescueMomentum(net, opt, 77);
  assert.equal(opt.options.momentum, RESCUE_MOMENTUM);
  assert.equal(RESCUE_MOMENTUM, 0.95);
  assert.deepEqual([opt.options.lr, opt.options.weightDecay, opt.options.nesterov], [lr, weightDecay, true]);
  assert.equal(opt.stateDict().meta.options.momentum, 0.95, 'checkpoints keep the lowered momentum');

  // The weights are v1's InitWeights_He(1e-2) drawn from a generator seeded 77, derived here
  // without initWeightsHe: every conv / transposed conv / head weight in state-dict order from
  // N(0, gain / sqrt(fan_in)), fan_in = dim 1 x kernel volume, gain = sqrt(2 / (1 + 0.01^2));
  // conv biases 0; instance norms back to weight 1, bias 0.
  const g = new Generator(77);
  let convs = 0;
  for (const [k, t] of net.stateDict()) {
    const old = before.get(k);
    assert.ok(old && !t.equal(old), `${k} changed`);
    if (isConvWeight(k)) {
      convs++;
      const fanIn = product(t.shape.slice(1));
      const want = zeros(t.shape).normal_(0, Math.sqrt(2 / (1 + 0.01 ** 2)) / Math.sqrt(fanIn), g);
      assert.ok(t.allclose(want, 1e-5, 0), `${k} is the He draw`);
      want.dispose();
    } else {
      assert.ok(
        t.toArray().every((v) => v === (k.endsWith('instnorm.weight') ? 1 : 0)),
        k,
      );
    }
  }
  assert.ok(convs > 10);

  // One step with every gradient 1: Nesterov's first update is lr (1 + momentum) (g + wd p), so
  // every parameter moves by the factor of momentum 0.95 (1.95), not 0.99's (1.99).
  const params = net.parameters();
  const start = params.map((p) => p.clone());
  const grads = params.map((p) => ones(p.shape));
  params.forEach((p, i) => {
    p.grad = grads[i] as Tensor;
  });
  opt.step();
  params.forEach((p, i) => {
    const p0 = (start[i] as Tensor).toArray();
    const p1 = p.toArray();
    p1.forEach((v, j) => {
      const d = 1 + weightDecay * (p0[j] as number);
      assert.ok(Math.abs((p0[j] as number) - v - lr * 1.95 * d) < 1e-6, `parameter ${i} element ${j}`);
    });
  });
  for (const t of [...before.values(), ...start, ...grads]) t.dispose();
  net.dispose();
  opt.dispose();
});

/** Weights that InitWeights_He draws: convolutions, transposed convolutions and heads (not biases, not norms). */
function isConvWeight(key: string): boolean {
  return key.endsWith('conv.weight') || /^(tu|seg_outputs)\.\d+\.weight$/.test(key);
}
