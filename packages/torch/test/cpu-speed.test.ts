/**
 * The ops added for CPU speed: the fused instance norm + leaky ReLU, transposed convolutions under
 * CPU autocast, memory formats and the op profiler. Each is checked against the plain LibTorch ops
 * it replaces (bit for bit where the arithmetic is the same, to bfloat16 rounding where not).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  autocast,
  Conv,
  cpuBf16ConvolutionProblem,
  F,
  Generator,
  profile,
  randn,
  type Tensor,
  tidy,
} from '../src/index.js';
import { expectClose } from './helpers.js';

const same = (a: Tensor, b: Tensor, what: string) => {
  assert.deepEqual(a.shape, b.shape, `${what}: shape`);
  assert.equal(a.sub(b).abs().max().item(), 0, `${what}: not bit-identical`);
};

for (const spatial of [
  [5, 6, 7],
  [9, 8],
]) {
  test(`instanceNormLeakyRelu equals instanceNorm then leakyRelu_ bit for bit, forward and backward (${spatial.length}-D)`, () => {
    tidy(() => {
      const gen = new Generator(7);
      const x0 = randn([3, 4, ...spatial], { generator: gen })
        .mul(3)
        .add(1);
      const w0 = randn([4], { generator: gen });
      const b0 = randn([4], { generator: gen });
      const r = randn([3, 4, ...spatial], { generator: gen });
      const run = (fused: boolean) => {
        const x = x0.clone().requiresGrad_();
        const w = w0.clone().requiresGrad_();
        const b = b0.clone().requiresGrad_();
        // A conv-like producer so that the norm's input is not a leaf (as in the network).
        const h = x.mul(1.5);
        const y = fused
          ? F.instanceNormLeakyRelu(h, { weight: w, bias: b, eps: 1e-5, negativeSlope: 0.01 })
          : F.leakyRelu_(F.instanceNorm(h, { weight: w, bias: b, eps: 1e-5 }), 0.01);
        y.mul(r).sum().backward();
        return { y, gx: x.grad as Tensor, gw: w.grad as Tensor, gb: b.grad as Tensor };
      };
      const a = run(true);
      const b = run(false);
      same(a.y, b.y, 'output');
      same(a.gx, b.gx, 'input gradient');
      same(a.gw, b.gw, 'weight gradient');
      same(a.gb, b.gb, 'bias gradient');
      // And it is a norm: per sample and channel, the pre-activation has mean ~bias and the negative part is scaled.
      assert.ok(a.y.min().item() < 0 && a.y.min().item() > -1, 'leaky part present and scaled by 0.01');
    });
  });
}

test('under CPU autocast a transposed convolution whose kernel equals its stride runs in bfloat16 and matches float64', {
  skip: cpuBf16ConvolutionProblem() ?? false,
}, () => {
  tidy(() => {
    const gen = new Generator(3);
    for (const [dims, kernel] of [
      [3, [2, 2, 2]],
      [3, [1, 2, 2]],
      [2, [2, 2]],
    ] as const) {
      const spatial = dims === 3 ? [4, 5, 6] : [7, 5];
      const x = randn([2, 6, ...spatial], { generator: gen }).requiresGrad_();
      const w = randn([6, 3, ...kernel], { generator: gen })
        .mul(0.3)
        .requiresGrad_();
      const bias = randn([3], { generator: gen }).requiresGrad_();
      const r = randn([2, 3, ...spatial.map((s, i) => s * (kernel[i] as number))], { generator: gen });
      const conv = dims === 3 ? F.convTranspose3d : F.convTranspose2d;
      const y = autocast('cpu', () => conv(x, w, bias, { stride: kernel }));
      assert.equal(y.dtype, 'bfloat16', `${kernel}: autocast dtype`);
      y.float().mul(r).sum().backward();
      const gx = x.grad as Tensor;
      const gw = w.grad as Tensor;
      // The reference: LibTorch's own transposed convolution in float64.
      const x64 = x.detach().to('float64').requiresGrad_();
      const w64 = w.detach().to('float64').requiresGrad_();
      const y64 = conv(x64, w64, bias.detach().to('float64'), { stride: kernel });
      y64.mul(r.to('float64')).sum().backward();
      expectClose(y.float(), y64.float(), { rtol: 2e-2, atol: 3e-2, what: `${kernel} output` });
      expectClose(gx, (x64.grad as Tensor).float(), { rtol: 2e-2, atol: 5e-2, what: `${kernel} input gradient` });
      expectClose(gw, (w64.grad as Tensor).float(), { rtol: 2e-2, atol: 2e-1, what: `${kernel} weight gradient` });
    }
    // Kernel larger than the stride: LibTorch's rule (float32 on 1.13's CPU kernel) is kept.
    const x = randn([1, 2, 4, 4], { generator: gen });
    const w = randn([2, 2, 3, 3], { generator: gen });
    const y = autocast('cpu', () => F.convTranspose2d(x, w, null, { stride: 2 }));
    expectClose(y.float(), F.convTranspose2d(x, w, null, { stride: 2 }), { rtol: 2e-2, atol: 3e-2, what: 'k3 s2' });
    // Outside autocast the float32 op is LibTorch's, unchanged.
    assert.equal(
      F.convTranspose3d(randn([1, 2, 2, 2, 2]), randn([2, 2, 2, 2, 2]), null, { stride: 2 }).dtype,
      'float32',
    );
  });
});

test('contiguous(format) stores channels last with the same values; Module.toMemoryFormat re-lays conv weights only', () => {
  tidy(() => {
    const x = randn([2, 3, 4, 5, 6]);
    const cl = x.contiguous('channels_last_3d');
    assert.deepEqual(cl.shape, x.shape);
    assert.deepEqual(cl.strides, [360, 1, 90, 18, 3]);
    assert.ok(cl.isContiguous('channels_last_3d') && !cl.isContiguous());
    same(cl, x, 'values');
    assert.deepEqual(cl.contiguous().strides, [360, 120, 30, 6, 1]);
    assert.throws(() => x.contiguous('channels_first' as never), /memory format must be/);
    const conv = new Conv(3, 3, 4, 3, { padding: 1 });
    const before = conv.forward(x);
    conv.toMemoryFormat('channels_last_3d');
    assert.ok(conv.weight.isContiguous('channels_last_3d'));
    assert.deepEqual(conv.bias?.strides, [1]);
    expectClose(conv.forward(cl), before, { rtol: 1e-5, atol: 1e-5, what: 'conv in channels-last' });
  });
});

test('profile(path, fn) writes a Chrome trace of the LibTorch ops run inside fn', () => {
  const dir = mkdtempSync(join(tmpdir(), 'torch-profile-'));
  try {
    const path = join(dir, 'trace.json');
    const out = profile(path, () =>
      tidy(() =>
        F.conv3d(randn([1, 2, 6, 6, 6]), randn([3, 2, 3, 3, 3]))
          .sum()
          .item(),
      ),
    );
    assert.equal(typeof out, 'number');
    assert.ok(existsSync(path));
    const events = JSON.parse(readFileSync(path, 'utf8')) as { name: string; ph: string; dur?: number }[];
    const names = new Set(events.map((e) => e.name));
    assert.ok(names.has('aten::conv3d'), `conv3d recorded (got ${[...names].slice(0, 10).join(', ')})`);
    assert.ok(names.has('aten::sum'));
    // A failing fn still ends the recording, so the next one can start.
    assert.throws(() => profile(join(dir, 'b.json'), () => F.conv3d(randn([1, 2, 3]), randn([1]))));
    profile(join(dir, 'c.json'), () => randn([2]).sum());
    assert.ok(existsSync(join(dir, 'c.json')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
