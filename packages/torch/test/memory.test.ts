/** Tensor lifetime: tidy scopes, dispose, live counters, GC backstop, and a long training loop. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import {
  Conv,
  clipGradNorm_,
  F,
  Generator,
  InstanceNorm,
  keep,
  memoryStats,
  randint,
  randn,
  SGD,
  setNumThreads,
  type Tensor,
  tidy,
  zeros,
} from '../src/index.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const live = () => memoryStats().liveTensors;

test('tidy disposes intermediates, keeps what is returned, and hands it to the parent scope', () => {
  const before = live();
  let inner: Tensor | undefined;
  const out = tidy(() => {
    const a = zeros([10]);
    const kept = tidy(() => {
      inner = a.add(1);
      a.mul(2); // dropped
      return { value: inner, list: [inner] };
    });
    assert.equal(kept.value.isDisposed, false);
    return kept.value.add(1);
  });
  assert.equal(inner!.isDisposed, true, 'returned to the middle scope, disposed by the outer one');
  assert.equal(live(), before + 1);
  assert.deepEqual(out.toArray().slice(0, 2), [2, 2]);
  out.dispose();
  assert.equal(live(), before);
});

test('keep exempts a tensor, a throw disposes the scope, async functions are refused', () => {
  const before = live();
  let kept: Tensor | undefined;
  const k = tidy(() => {
    kept = keep(zeros([3]));
    return 0;
  });
  assert.equal(k, 0);
  assert.equal(kept!.isDisposed, false);
  assert.equal(live(), before + 1, 'kept tensor survives');
  assert.throws(() =>
    tidy(() => {
      zeros([3]);
      throw new Error('inside');
    }),
  );
  assert.equal(live(), before + 1, 'tensors of a failed scope are freed');
  assert.throws(() => tidy(() => Promise.resolve(1) as unknown as number), /synchronous/);
  kept!.dispose();
  assert.equal(live(), before);
});

test('dispose is idempotent and counters track storages once per view', () => {
  const base = memoryStats();
  const t = zeros([1000]);
  assert.equal(memoryStats().liveBytes - base.liveBytes, 4000);
  const v = t.view([10, 100]);
  const s = t.narrow(0, 0, 10);
  assert.equal(memoryStats().liveTensors - base.liveTensors, 3);
  assert.equal(memoryStats().liveBytes - base.liveBytes, 4000, 'views share the storage');
  t.dispose();
  t.dispose();
  assert.equal(memoryStats().liveBytes - base.liveBytes, 4000, 'still referenced by the views');
  v.dispose();
  s.dispose();
  assert.deepEqual(memoryStats(), base);
  assert.throws(() => t.add(1), { code: 'ERR_TORCH_DISPOSED' });
});

test('forgotten tensors are freed by the GC finalizer backstop', async () => {
  const before = live();
  (() => {
    for (let i = 0; i < 200; i++) zeros([256]);
  })();
  assert.equal(live(), before + 200);
  for (let i = 0; i < 5 && live() > before; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
  }
  assert.equal(live(), before);
});

/**
 * A disposed handle frees its tensor at once; the few hundred bytes of N-API bookkeeping behind
 * each handle are reclaimed when the event loop turns (Node runs addon finalizers in a later
 * task). A training loop yields regularly (data loaders, progress output), as this one does.
 */
test('3000 training steps of a small conv net keep live tensors and RSS flat', async () => {
  setNumThreads(1);
  const gen = new Generator(0);
  const conv1 = new Conv(2, 1, 8, 3, { padding: 1, generator: gen });
  const norm = new InstanceNorm(8);
  const conv2 = new Conv(2, 8, 3, 1, { generator: gen });
  const params = [...conv1.parameters(), ...norm.parameters(), ...conv2.parameters()];
  const opt = new SGD(params, { lr: 0.01, momentum: 0.99, nesterov: true, weightDecay: 3e-5 });
  const step = () =>
    tidy(() => {
      const x = randn([2, 1, 16, 16], { generator: gen });
      const y = randint(0, 3, [2, 16, 16], { generator: gen });
      const logits = conv2.forward(F.leakyRelu(norm.forward(conv1.forward(x)), 0.01));
      const loss = F.crossEntropy(logits, y);
      opt.zeroGrad();
      loss.backward();
      clipGradNorm_(params, 12);
      opt.step();
      return loss.item();
    });
  const settle = async () => {
    gc();
    await new Promise((r) => setImmediate(r));
  };
  for (let i = 0; i < 300; i++) step();
  await settle();
  const liveWarm = live();
  const rssWarm = process.memoryUsage().rss;
  let last = 0;
  const samples: number[] = [];
  for (let i = 1; i <= 2700; i++) {
    last = step();
    if (i % 100 === 0) await new Promise((r) => setImmediate(r));
    if (i % 900 === 0) {
      await settle();
      samples.push(live());
    }
  }
  await settle();
  const grownMb = (process.memoryUsage().rss - rssWarm) / 2 ** 20;
  assert.ok(Number.isFinite(last));
  assert.deepEqual(samples, [liveWarm, liveWarm, liveWarm], 'no tensor handle leaks across steps');
  assert.ok(grownMb < 16, `RSS grew by ${grownMb.toFixed(1)} MiB over 2700 steps`);
  opt.dispose();
  for (const p of params) p.dispose();
});
