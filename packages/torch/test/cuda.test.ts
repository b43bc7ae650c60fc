/**
 * The ops nnU-Net trains and predicts with, on CUDA against the same ops on the CPU: values and
 * gradients (float32; cuDNN may use TF32 for convolutions, hence the tolerance of a few 1e-3 of
 * the largest value), float16 autocast, the gradient scaler, host/device copies, and the NCCL
 * process group where this LibTorch has one. Skipped without a CUDA device (scripts/gpu-check.sh
 * runs them on a GPU machine).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  autocast,
  cuda,
  F,
  Generator,
  GradScaler,
  hasBackend,
  ProcessGroup,
  randn,
  type Tensor,
  tensor,
  tidy,
} from '../src/index.js';

const skip = !cuda.isAvailable() && 'no CUDA device';

/** Max |a - b| <= tol * max |b| (the CPU's result is the reference). */
function closeToCpu(gpu: Tensor, cpu: Tensor, tol: number, what: string): void {
  const a = gpu.to('cpu').float();
  const b = cpu.float();
  assert.deepEqual(a.shape, b.shape, `${what}: shape`);
  const scale = Math.max(b.abs().max().item() as number, 1e-12);
  const err = a.sub(b).abs().max().item() as number;
  assert.ok(err <= tol * scale, `${what}: largest difference ${err} for values up to ${scale} (tolerance ${tol})`);
}

/** Runs `f` on CPU copies and on CUDA copies of `inputs` (all requiring grad) and compares outputs and gradients. */
function sameOnBothDevices(what: string, inputs: Tensor[], f: (xs: Tensor[]) => Tensor, tol = 5e-3): void {
  tidy(() => {
    const run = (device: 'cpu' | 'cuda') => {
      const xs = inputs.map((t) => t.to(device).detach().requiresGrad_(true));
      const y = f(xs);
      // A fixed, non-uniform upstream gradient (so every output element matters).
      const w = tidy(() => y.detach().to('cpu').float().mul(0).add(1).cumsum(-1).to(device).to(y.dtype));
      y.mul(w).sum().backward();
      return { y, grads: xs.map((x) => x.grad as Tensor) };
    };
    const c = run('cpu');
    const g = run('cuda');
    assert.equal(g.y.device, 'cuda:0', `${what} ran on the GPU`);
    closeToCpu(g.y, c.y, tol, `${what} output`);
    for (const [i, gr] of g.grads.entries()) closeToCpu(gr, c.grads[i] as Tensor, tol, `${what} gradient ${i}`);
  });
}

test('CUDA: the U-Net ops give the CPU values and gradients', { skip }, () => {
  const g = new Generator(7);
  const x = randn([2, 4, 10, 12, 8], { generator: g });
  const w = randn([6, 4, 3, 3, 3], { generator: g }).mul(0.2);
  const b = randn([6], { generator: g });
  const wt = randn([4, 3, 2, 2, 2], { generator: g }).mul(0.2);
  const gamma = randn([4], { generator: g });
  const beta = randn([4], { generator: g });
  const labels = tensor(
    Array.from({ length: 2 * 10 * 12 * 8 }, (_, i) => (i * 7) % 3),
    { dtype: 'int64' },
  ).reshape([2, 10, 12, 8]);
  sameOnBothDevices('conv3d', [x, w, b], ([x, w, b]) => F.conv3d(x!, w!, b!, { padding: 1 }));
  sameOnBothDevices('strided conv3d', [x, w], ([x, w]) => F.conv3d(x!, w!, null, { stride: 2, padding: 1 }));
  sameOnBothDevices('transposed conv3d', [x, wt], ([x, wt]) => F.convTranspose3d(x!, wt!, null, { stride: 2 }));
  sameOnBothDevices('instance norm + leaky ReLU', [x, gamma, beta], ([x, gm, bt]) =>
    F.instanceNormLeakyRelu(x!, { weight: gm!, bias: bt!, eps: 1e-5, negativeSlope: 0.01 }),
  );
  sameOnBothDevices('softmax', [x], ([x]) => F.softmax(x!, 1));
  sameOnBothDevices('trilinear interpolation', [x], ([x]) =>
    F.interpolate(x!, { size: [20, 24, 16], mode: 'trilinear', alignCorners: false }),
  );
  sameOnBothDevices('cross-entropy', [x.narrow(1, 0, 3)], ([logits]) =>
    F.crossEntropy(logits!, labels.to(logits!.device)),
  );
});

test('CUDA: float16 autocast runs convolutions in float16 close to float32', { skip }, () => {
  tidy(() => {
    const g = new Generator(8);
    const x = randn([2, 4, 12, 12, 12], { generator: g }).to('cuda');
    const w = randn([8, 4, 3, 3, 3], { generator: g }).mul(0.2).to('cuda');
    const y32 = F.conv3d(x, w, null, { padding: 1 });
    const y16 = autocast('cuda', () => F.conv3d(x, w, null, { padding: 1 }));
    assert.equal(y16.dtype, 'float16');
    assert.equal(y32.dtype, 'float32');
    closeToCpu(y16, y32.to('cpu'), 2e-3, 'fp16 conv');
    // Outside the scope, float32 again.
    assert.equal(F.conv3d(x, w, null, { padding: 1 }).dtype, 'float32');
  });
});

test('CUDA: the gradient scaler unscales exactly and skips an overflowing step', { skip }, () => {
  tidy(() => {
    const g = new Generator(9);
    const p = randn([64], { generator: g }).to('cuda').requiresGrad_(true);
    const scaler = new GradScaler();
    const loss = autocast('cuda', () => p.mul(p).sum());
    scaler.scaleLoss(loss).backward();
    scaler.unscale([p]);
    closeToCpu(p.grad as Tensor, p.detach().mul(2).to('cpu'), 1e-6, 'unscaled gradient');
    let stepped = scaler.step([p], () => {});
    scaler.update();
    assert.equal(stepped, true);
    assert.equal(scaler.scale, 65536);
    // An infinite gradient: no step, the scale halves.
    p.grad = tensor([Number.POSITIVE_INFINITY, ...new Array(63).fill(0)]).to('cuda');
    stepped = scaler.step([p], () => assert.fail('stepped on an infinite gradient'));
    scaler.update();
    assert.equal(stepped, false);
    assert.equal(scaler.scale, 32768);
  });
});

test('CUDA: host and device copies are exact', { skip }, () => {
  tidy(() => {
    const x = randn([3, 5, 7], { generator: new Generator(10) });
    const back = x.to('cuda').to('cpu');
    assert.deepEqual(back.toTypedArray(), x.toTypedArray());
    assert.equal(cuda.deviceCount() >= 1, true);
    cuda.synchronize();
  });
});

test('CUDA: an NCCL process group of one rank reduces and broadcasts', {
  skip: skip || (!hasBackend('nccl') && 'this LibTorch has no NCCL'),
}, () => {
  const dir = mkdtempSync(join(tmpdir(), 'nccl-'));
  const group = new ProcessGroup({ backend: 'nccl', rank: 0, worldSize: 1, store: { file: join(dir, 'store') } });
  try {
    tidy(() => {
      const t = tensor([1, 2, 3]).to('cuda');
      group.allReduce(t).wait();
      group.broadcast(t, 0).wait();
      assert.deepEqual(Array.from(t.to('cpu').toTypedArray() as Float32Array), [1, 2, 3]);
    });
  } finally {
    group.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('cuda.setDevice picks the device that cuda means, and refuses one that does not exist', () => {
  if (cuda.isAvailable()) {
    cuda.setDevice(cuda.deviceCount() - 1);
    assert.equal(tensor([1]).to('cuda').device, `cuda:${cuda.deviceCount() - 1}`);
    cuda.setDevice(0);
    assert.throws(() => cuda.setDevice(cuda.deviceCount()), /does not exist/);
  } else {
    assert.throws(() => cuda.setDevice(0), /CUDA is not available/);
  }
});

test('cuda.setCudnnBenchmark switches cuDNN autotuning on and off (a flag of LibTorch on every build)', () => {
  const before = cuda.cudnnBenchmark();
  try {
    cuda.setCudnnBenchmark(true);
    assert.equal(cuda.cudnnBenchmark(), true);
    cuda.setCudnnBenchmark(false);
    assert.equal(cuda.cudnnBenchmark(), false);
  } finally {
    cuda.setCudnnBenchmark(before);
  }
});
