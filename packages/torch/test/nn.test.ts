/**
 * nn ops, forward and backward, against values computed by PyTorch 1.13 (fixtures/ops.*, made by
 * scripts/make_fixtures.py). Inputs are float64 so the comparison is tight; the backward pass
 * uses loss = sum(y * r) with the fixture's fixed random r.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { autocast, clipGradNorm_, cpuBf16ConvolutionProblem, F, type Tensor, tidy, zeros } from '../src/index.js';
import { expectClose, fixture, fixtureJson } from './helpers.js';

interface Case {
  name: string;
  op: string;
  inputs: string[];
  outputs: string[];
  kwargs: Record<string, unknown>;
}
const { cases } = fixtureJson<{ cases: Case[] }>('ops.json');

// Fixture kwargs are JSON whose shape each op knows; typing them per op would only restate ops.json.
// biome-ignore lint/suspicious/noExplicitAny: see above
type Kwargs = any;
type Ops = Record<string, (inp: Record<string, Tensor>, kw: Kwargs) => Tensor>;
const OPS: Ops = {
  conv2d: (i, kw) => F.conv2d(i.x!, i.w!, i.b, kw),
  conv3d: (i, kw) => F.conv3d(i.x!, i.w!, i.b, kw),
  convTranspose2d: (i, kw) => F.convTranspose2d(i.x!, i.w!, i.b, kw),
  convTranspose3d: (i, kw) => F.convTranspose3d(i.x!, i.w!, i.b, kw),
  instanceNorm: (i, kw) => F.instanceNorm(i.x!, { weight: i.w!, bias: i.b!, eps: kw.eps }),
  batchNorm: (i, kw) =>
    F.batchNorm(i.x!, {
      weight: i.w!,
      bias: i.b!,
      runningMean: i.rm!,
      runningVar: i.rv!,
      training: kw.training,
      momentum: kw.momentum,
      eps: kw.eps,
    }),
  leakyRelu: (i, kw) => F.leakyRelu(i.x!, kw.slope),
  maxPool3d: (i, kw) => F.maxPool3d(i.x!, kw.kernel, { stride: kw.stride, padding: kw.padding }),
  avgPool3d: (i, kw) => F.avgPool3d(i.x!, kw.kernel, { stride: kw.stride, padding: kw.padding }),
  maxPool2d: (i, kw) => F.maxPool2d(i.x!, kw.kernel, { stride: kw.stride, padding: kw.padding }),
  avgPool2d: (i, kw) => F.avgPool2d(i.x!, kw.kernel, { stride: kw.stride, padding: kw.padding }),
  interpolate: (i, kw) => F.interpolate(i.x!, kw),
  gridSample: (i, kw) => F.gridSample(i.x!, i.grid!, kw),
  affineGrid: (i, kw) => F.affineGrid(i.theta!, kw.size, kw.alignCorners),
  softmax: (i, kw) => F.softmax(i.x!, kw.dim),
  logSoftmax: (i, kw) => F.logSoftmax(i.x!, kw.dim),
  crossEntropy: (i, kw) => F.crossEntropy(i.x!, i.t!, { weight: i.w ?? null, ...kw }),
  nllLoss: (i, kw) => F.nllLoss(i.x!, i.t!, kw),
  oneHot: (i, kw) => F.oneHot(i.t!, kw.numClasses),
};

// Inputs whose gradient the fixture holds, by output name.
const GRAD_OF: Record<string, string> = { gx: 'x', gw: 'w', gb: 'b', ggrid: 'grid' };

for (const c of cases.filter((k) => k.op in OPS)) {
  test(`${c.op}: ${c.name} matches PyTorch forward and backward`, () => {
    tidy(() => {
      const inp: Record<string, Tensor> = {};
      for (const name of c.inputs) {
        // Fresh leaves: the fixture tensors are shared between tests.
        const t = fixture(`${c.name}.${name}`).clone();
        if (c.outputs.some((o) => GRAD_OF[o] === name)) t.requiresGrad = true;
        inp[name] = t;
      }
      const y = OPS[c.op]!(inp, c.kwargs);
      const tol = { rtol: 1e-9, atol: 1e-10 };
      if (c.op === 'oneHot') {
        assert.deepEqual(y.toArray(), fixture(`${c.name}.y`).toArray());
        return;
      }
      expectClose(y, fixture(`${c.name}.y`), { ...tol, what: `${c.name} output` });
      const grads = c.outputs.filter((o) => GRAD_OF[o] !== undefined);
      if (grads.length > 0) {
        const loss = inp.r === undefined ? y : y.mul(inp.r).sum();
        loss.backward();
        for (const g of grads) {
          const leaf = inp[GRAD_OF[g]!]!;
          expectClose(leaf.grad!, fixture(`${c.name}.${g}`), { ...tol, what: `${c.name} ${g}` });
        }
      }
      if (c.outputs.includes('rm_after')) {
        expectClose(inp.rm!, fixture(`${c.name}.rm_after`), { ...tol, what: 'running mean' });
        expectClose(inp.rv!, fixture(`${c.name}.rv_after`), { ...tol, what: 'running var' });
      }
    });
  });
}

test('every fixture case is exercised by some test', () => {
  const handled = new Set([...Object.keys(OPS), 'optimizer', 'clipGradNorm', 'autocastConv3d']);
  assert.deepEqual(
    cases.filter((c) => !handled.has(c.op)).map((c) => c.name),
    [],
  );
});

test('clipGradNorm_ scales gradients like torch.nn.utils.clip_grad_norm_', () => {
  const c = cases.find((k) => k.op === 'clipGradNorm')!;
  tidy(() => {
    const a = zeros([5], { requiresGrad: true });
    const b = zeros([2, 3], { requiresGrad: true });
    a.grad = fixture('clip_grad_norm.g1');
    b.grad = fixture('clip_grad_norm.g2');
    const total = clipGradNorm_([a, b], c.kwargs.maxNorm as number);
    expectClose(total, fixture('clip_grad_norm.total'), { rtol: 1e-6, what: 'total norm' });
    expectClose(a.grad!, fixture('clip_grad_norm.g1_after'), { rtol: 1e-6, what: 'g1' });
    expectClose(b.grad!, fixture('clip_grad_norm.g2_after'), { rtol: 1e-6, what: 'g2' });
  });
});

test('CPU autocast runs conv3d in bfloat16 like torch.autocast, or the bf16 check reports this LibTorch', (t) => {
  const c = cases.find((k) => k.op === 'autocastConv3d')!;
  const problem = cpuBf16ConvolutionProblem();
  tidy(() => {
    const x = fixture('autocast_conv3d.x');
    const w = fixture('autocast_conv3d.w');
    const y = autocast('cpu', () => F.conv3d(x, w, null, { padding: 1 }));
    assert.equal(y.dtype, c.kwargs.dtype);
    // Outside the scope the same op is float32 again.
    assert.equal(F.conv3d(x, w, null, { padding: 1 }).dtype, 'float32');
    const expected = () =>
      expectClose(y.float(), fixture('autocast_conv3d.y').float(), { rtol: 1e-2, atol: 1e-2, what: 'bf16 conv' });
    if (problem === null) {
      // Same low-precision computation as PyTorch: equal up to bfloat16 rounding of the result.
      expected();
    } else {
      // A LibTorch whose bf16 convolution is broken here (Debian 13's 2.6 on AVX512-BF16): the
      // check must have seen what this fixture sees.
      t.diagnostic(problem);
      assert.throws(expected, /bf16 conv/, `the bf16 check reported "${problem}" but the fixture matches`);
    }
  });
});
