/** Module helper, layers' default initialisation, and the gradient scaler. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  BatchNorm,
  Conv,
  GradScaler,
  InstanceNorm,
  LeakyReLU,
  Linear,
  Module,
  manualSeed,
  noGrad,
  randn,
  Sequential,
  type Tensor,
  TorchError,
  tensor,
  tidy,
} from '../src/index.js';

class Block extends Module {
  readonly conv = this.registerModule('conv', new Conv(3, 2, 4, 3, { padding: 1 }));
  readonly norm = this.registerModule('norm', new BatchNorm(4));
  forward(x: Tensor): Tensor {
    return this.norm.forward(this.conv.forward(x));
  }
}

test('named parameters, buffers and state-dict keys follow PyTorch dotted naming', () => {
  const net = new Sequential(new Conv(2, 1, 3, 3), new LeakyReLU(), new Linear(5, 2));
  assert.deepEqual(
    Array.from(net.namedParameters(), ([n]) => n),
    ['0.weight', '0.bias', '2.weight', '2.bias'],
  );
  const b = new Block();
  assert.deepEqual(
    [...b.stateDict().keys()],
    ['conv.weight', 'conv.bias', 'norm.weight', 'norm.bias', 'norm.running_mean', 'norm.running_var'],
  );
  assert.equal(b.numParameters(), 4 * 2 * 27 + 4 + 4 + 4);
  assert.ok(b.parameters().every((p) => p.requiresGrad));
  net.dispose();
  b.dispose();
});

test('loadStateDict copies values and reports every missing, unexpected or mis-shaped key', () => {
  const a = new Block();
  const b = new Block();
  b.loadStateDict(a.stateDict());
  assert.ok(a.conv.weight.equal(b.conv.weight));
  const wrong = new Map(a.stateDict());
  wrong.delete('norm.bias');
  wrong.set('extra', tensor([1]));
  wrong.set('conv.bias', tensor([1, 2]));
  assert.throws(
    () => b.loadStateDict(wrong),
    (e: unknown) =>
      e instanceof TorchError &&
      e.code === 'ERR_TORCH_ARGUMENT' &&
      /missing key "norm.bias"/.test(e.message) &&
      /unexpected key "extra"/.test(e.message) &&
      /"conv.bias" has shape \[2\] but the module expects \[4\]/.test(e.message),
  );
  a.dispose();
  b.dispose();
});

test('train/eval switch batch norm between batch and running statistics', () => {
  const bn = new BatchNorm(2);
  const x = randn([8, 2, 3]).mul(3).add(5);
  tidy(() => {
    bn.train();
    const y = bn.forward(x);
    // Training normalises with the batch statistics: per-channel mean ~0.
    assert.ok(Math.abs(y.mean([0, 2]).abs().max().item()) < 1e-5);
    // and updates the running mean by momentum 0.1 towards the batch mean.
    const batchMean = x.mean([0, 2]);
    assert.ok(bn.runningMean.allclose(batchMean.mul(0.1), 1e-5, 1e-6));
    bn.eval();
    const z = bn.forward(x);
    assert.ok(!z.allclose(y, 1e-3, 1e-3), 'eval uses running statistics');
  });
  x.dispose();
  bn.dispose();
});

test('to(dtype) converts parameters in place, keeping the Tensor objects and requiresGrad', () => {
  const net = new Block();
  const w = net.conv.weight;
  net.to('float64');
  assert.equal(w, net.conv.weight);
  assert.equal(w.dtype, 'float64');
  assert.equal(w.requiresGrad, true);
  assert.equal(net.norm.runningVar.dtype, 'float64');
  tidy(() => assert.equal(net.forward(randn([1, 2, 3, 3, 3], { dtype: 'float64' })).dtype, 'float64'));
  net.dispose();
});

test("Conv and InstanceNorm get PyTorch's default initialisation", () => {
  manualSeed(3);
  const conv = new Conv(3, 8, 16, 3);
  // kaiming_uniform(a = sqrt(5)) gives U(-1/sqrt(fan_in), 1/sqrt(fan_in)); fan_in = 8 * 27.
  const bound = 1 / Math.sqrt(8 * 27);
  tidy(() => {
    const w = conv.weight;
    assert.ok(w.abs().max().item() <= bound);
    // The variance of U(-b, b) is b^2 / 3.
    assert.ok(Math.abs(w.var().item() / ((bound * bound) / 3) - 1) < 0.05);
  });
  const norm = new InstanceNorm(4);
  assert.deepEqual(norm.weight!.toArray(), [1, 1, 1, 1]);
  assert.deepEqual(norm.bias!.toArray(), [0, 0, 0, 0]);
  conv.dispose();
  norm.dispose();
});

test('GradScaler skips steps with non-finite gradients, backs off, and grows after good steps', () => {
  const p = tensor([1, 2], { requiresGrad: true });
  const scaler = new GradScaler({ initScale: 1024, growthInterval: 2 });
  const run = (lossOf: (p: Tensor) => Tensor): boolean =>
    tidy(() => {
      p.grad = null;
      scaler.scaleLoss(lossOf(p)).backward();
      const stepped = scaler.step([p], () => noGrad(() => p.sub_(p.grad!.mul(0.1))));
      scaler.update();
      return stepped;
    });
  // Finite: the gradient seen by the step is unscaled (d/dp sum(p^2) = 2p).
  assert.equal(
    run((q) => q.pow(2).sum()),
    true,
  );
  assert.deepEqual(
    p.toArray().map((v) => Math.round(v * 1e6) / 1e6),
    [0.8, 1.6],
  );
  assert.equal(scaler.scale, 1024);
  assert.equal(
    run((q) => q.pow(2).sum()),
    true,
  );
  assert.equal(scaler.scale, 2048, 'grows after growthInterval good steps');
  // Overflow: log(0) gives -inf, its gradient inf: the step is skipped and the scale halves.
  const before = p.toArray();
  assert.equal(
    run((q) => q.sub(q.detach()).log().sum()),
    false,
  );
  assert.deepEqual(p.toArray(), before);
  assert.equal(scaler.scale, 1024);
  p.dispose();
});
