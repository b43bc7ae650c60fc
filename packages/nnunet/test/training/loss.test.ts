/**
 * The training loss, its deep-supervision targets and the online evaluation against PyTorch 1.13
 * running an independent re-statement of nnU-Net v1's code (scripts/make_training_fixtures.py):
 * loss values and the gradients of every network output, 2-D and 3-D, batch and per-sample Dice,
 * with and without deep supervision.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { memoryStats, type Tensor, tensor, tidy } from '@nnunet/torch';
import { readNpy } from '../../src/io/npy.js';
import { deepSupervisionLossWeights, deepSupervisionScales } from '../../src/network/deep-supervision.js';
import {
  batchDiceFor,
  dcAndCeLoss,
  deepSupervisionLoss,
  downsampleSegForDeepSupervision,
  evalCriterionMovingAverage,
  multipleOutputLoss,
  OnlineEvaluation,
  oneHotLike,
  onlineEvaluationCounts,
  robustCrossEntropyLoss,
  softDiceLoss,
} from '../../src/training/loss.js';
import { expectClose, FIXTURES } from '../helpers.js';

const DIR = join(FIXTURES, 'training');

interface LossCase {
  name: string;
  batchDice: boolean;
  numClasses: number;
  poolKernels: number[][] | null;
  scales: number[][];
  weights: number[];
  loss: number;
  ce0: number;
  dice0: number;
  outputs: { logits: string; target: string; grad: string | null }[];
  counts: [number[], number[], number[]];
}
const index = JSON.parse(readFileSync(join(DIR, 'index.json'), 'utf8')) as {
  lossCases: LossCase[];
  onlineEvaluation: { cases: string[]; globalDcPerClass: number[]; mean: number };
  resizeCases: { name: string; scales: number[][]; seg: string; outputs: string[] }[];
};

function load(file: string, requiresGrad = false): Tensor {
  const { data, shape } = readNpy(join(DIR, file));
  return tensor(data as Float32Array, { shape, requiresGrad });
}

for (const c of index.lossCases) {
  test(`loss ${c.name}: value and gradients equal PyTorch's`, () => {
    tidy(() => {
      const outputs = c.outputs.map((o) => load(o.logits, true));
      const targets = c.outputs.map((o) => load(o.target));
      const n = c.outputs.length;
      if (c.poolKernels !== null) {
        expectClose(deepSupervisionLossWeights(n), c.weights, { rtol: 1e-15, atol: 0, what: 'weights' });
        assert.deepEqual(deepSupervisionScales(c.poolKernels), c.scales);
      }
      // The targets of the lower resolutions are our own downsampling of the full-resolution one.
      const ours = downsampleSegForDeepSupervision(targets[0] as Tensor, c.scales);
      ours.forEach((t, i) => {
        assert.ok(t.equal(targets[i] as Tensor), `downsampled target ${i}`);
      });

      const loss = deepSupervisionLoss(outputs, ours, c.weights, { batchDice: c.batchDice });
      expectClose([loss.item()], [c.loss], { rtol: 1e-5, atol: 0, what: 'loss' });
      loss.backward();
      outputs.forEach((x, i) => {
        const file = c.outputs[i]?.grad ?? null;
        const g = x.grad;
        if (file === null) {
          assert.equal(g, null, `output ${i} has weight 0 and must not receive a gradient`);
          return;
        }
        assert.ok(g !== null, `gradient of output ${i}`);
        const expected = load(file).toArray();
        const scale = Math.max(...expected.map(Math.abs));
        expectClose(g.toArray(), expected, { rtol: 1e-5, atol: 1e-6 * scale, what: `${c.name} grad ${i}` });
      });

      const x0 = outputs[0] as Tensor;
      const t0 = targets[0] as Tensor;
      expectClose([robustCrossEntropyLoss(x0, t0).item()], [c.ce0], { rtol: 1e-5, atol: 0, what: 'cross-entropy' });
      expectClose([softDiceLoss(x0, t0, { batchDice: c.batchDice }).item()], [c.dice0], {
        rtol: 1e-5,
        atol: 0,
        what: 'soft Dice',
      });

      // The same loss from an integer label map, a label map without channel axis, a one-hot target.
      const single = dcAndCeLoss(x0, t0, { batchDice: c.batchDice }).item();
      for (const t of [t0.to('int64'), t0.select(1, 0), oneHotLike(x0, t0)]) {
        const other =
          t.shape.length === x0.ndim && t.shape[1] === c.numClasses
            ? softDiceLoss(x0, t, { batchDice: c.batchDice }).item() + c.ce0
            : dcAndCeLoss(x0, t, { batchDice: c.batchDice }).item();
        expectClose([other], [single], { rtol: 1e-6, atol: 0, what: `target as ${t.dtype} ${t.shape}` });
      }

      const counts = onlineEvaluationCounts(x0, t0);
      assert.deepEqual([counts.tp, counts.fp, counts.fn], c.counts);
    });
  });
}

test('online evaluation: global Dice per class and its mean over batches, as v1', () => {
  tidy(() => {
    const ev = new OnlineEvaluation();
    for (const name of index.onlineEvaluation.cases) {
      const c = index.lossCases.find((x) => x.name === name) as LossCase;
      const out = c.outputs[0] as LossCase['outputs'][number];
      ev.add(load(out.logits), load(out.target));
    }
    assert.equal(ev.numBatches, 3);
    const r = ev.finish();
    expectClose(r.globalDcPerClass, index.onlineEvaluation.globalDcPerClass, {
      rtol: 1e-15,
      atol: 0,
      what: 'global Dice',
    });
    expectClose([r.meanForegroundDice], [index.onlineEvaluation.mean], { rtol: 1e-15, atol: 0, what: 'mean' });
    assert.equal(ev.numBatches, 0);
    assert.ok(Number.isNaN(ev.finish().meanForegroundDice));
  });
});

test('online evaluation leaves out classes that are neither predicted nor present', () => {
  tidy(() => {
    // Logits favour class 1 everywhere; the target holds classes 0 and 1 only; class 2 is absent.
    const logits = tensor([0, 0, 0, 0, 5, 5, 5, 5, 1, 1, 1, 1], { shape: [1, 3, 2, 2] });
    const target = tensor([0, 1, 1, 0], { shape: [1, 1, 2, 2] });
    const ev = new OnlineEvaluation();
    assert.deepEqual(ev.add(logits, target), { tp: [2, 0], fp: [2, 0], fn: [0, 0] });
    const r = ev.finish();
    assert.deepEqual(r.globalDcPerClass, [4 / 6]);
    assert.equal(r.meanForegroundDice, 4 / 6);
  });
});

test('the pseudo-Dice moving average starts at the first value, then alpha 0.9', () => {
  assert.equal(evalCriterionMovingAverage(null, 0.5), 0.5);
  assert.equal(evalCriterionMovingAverage(0.5, 0.7), 0.9 * 0.5 + (1 - 0.9) * 0.7);
});

for (const r of index.resizeCases) {
  test(`deep-supervision targets ${r.name}: nearest-neighbour resize as scikit-image`, () => {
    tidy(() => {
      const seg = load(r.seg);
      const outs = downsampleSegForDeepSupervision(seg, r.scales);
      assert.equal(outs.length, r.outputs.length);
      outs.forEach((o, i) => {
        const expected = load(r.outputs[i] as string);
        assert.deepEqual(o.shape, expected.shape, `output ${i} shape`);
        assert.ok(o.equal(expected), `output ${i} values`);
      });
      // int64 label maps keep their dtype.
      const asInt = downsampleSegForDeepSupervision(seg.to('int64'), r.scales);
      assert.ok(asInt.every((o, i) => o.dtype === 'int64' && o.to('float32').equal(outs[i] as Tensor)));
    });
  });
}

test('batch Dice per configuration, as get_default_configuration', () => {
  assert.equal(batchDiceFor('2d', 1), true);
  assert.equal(batchDiceFor('3d_fullres', 1), false);
  assert.equal(batchDiceFor('3d_fullres', 2), true);
  assert.equal(batchDiceFor('3d_lowres', 2), false);
  assert.equal(batchDiceFor('3d_cascade_fullres', 2), true);
});

test('outputs with weight 0 are not evaluated', () => {
  tidy(() => {
    const calls: number[] = [];
    const a = tensor([1, 2], { shape: [2] });
    const l = multipleOutputLoss([a, a, a], [a, a, a], [0.5, 0.5, 0], (x) => {
      calls.push(calls.length);
      return x.sum();
    });
    assert.equal(l.item(), 3);
    assert.deepEqual(calls, [0, 1]);
    assert.throws(() => multipleOutputLoss([a, a], [a], [1, 1], (x) => x), { code: 'ERR_ARGUMENT' });
  });
});

test('a target that does not fit the output is a clear error', () => {
  tidy(() => {
    const x = tensor(new Float32Array(2 * 3 * 4 * 4), { shape: [2, 3, 4, 4] });
    const t = tensor(new Float32Array(2 * 2 * 2), { shape: [2, 1, 2, 2] });
    assert.throws(() => dcAndCeLoss(x, t, { batchDice: true }), {
      code: 'ERR_ARGUMENT',
      message: /softDiceLoss|oneHotLike.*\[2, 1, 2, 2\] does not fit the output \[2, 3, 4, 4\]/,
    });
    assert.throws(() => downsampleSegForDeepSupervision(t, [[0.5]]), {
      code: 'ERR_ARGUMENT',
      message: /needs 2 values/,
    });
  });
});

test('the loss and its backward pass leave no tensor behind', () => {
  const c = index.lossCases.find((x) => x.poolKernels !== null) as LossCase;
  const outputs = c.outputs.map((o) => load(o.logits, true));
  const target = load(c.outputs[0]?.target as string);
  const before = memoryStats().liveTensors;
  for (let i = 0; i < 3; i++) {
    tidy(() => {
      const targets = downsampleSegForDeepSupervision(target, c.scales);
      const l = deepSupervisionLoss(outputs, targets, c.weights, { batchDice: c.batchDice });
      l.backward();
      onlineEvaluationCounts(outputs[0] as Tensor, target);
    });
    for (const x of outputs) x.grad = null;
  }
  assert.equal(memoryStats().liveTensors, before);
  for (const x of [...outputs, target]) x.dispose();
});
