/** The addon in worker_threads, and batches handed between threads through SharedArrayBuffers. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Worker } from 'node:worker_threads';
import { F, fromShared, Generator, memoryStats, randn, tidy } from '../src/index.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
/** Collects garbage and lets the deferred finalizers run, so live counts are exact. */
async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
  }
}

const INDEX_URL = new URL('../src/index.js', import.meta.url).href;

/** Runs `body` (an async function body with `T` = the package and `data` = workerData) in a worker. */
function inWorker<R>(body: string, data: unknown = null): Promise<R> {
  const src = `
    import { parentPort, workerData as data } from 'node:worker_threads';
    const T = await import(${JSON.stringify(INDEX_URL)});
    const result = await (async () => { ${body} })();
    parentPort.postMessage(result);`;
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL(`data:text/javascript,${encodeURIComponent(src)}`), { workerData: data });
    w.once('message', (m) => resolve(m as R));
    w.once('error', reject);
    w.once('exit', (code) => {
      if (code !== 0) reject(new Error(`worker exited with ${code}`));
    });
  });
}

test('workers load the addon and run the same ops as the main thread', async () => {
  const body = `
    const g = new T.Generator(data.seed);
    const x = T.randn([1, 2, 6, 6, 6], { generator: g });
    const w = T.randn([3, 2, 3, 3, 3], { generator: g });
    return T.F.conv3d(x, w, null, { padding: 1 }).sum().item();`;
  const [a, b] = await Promise.all([inWorker<number>(body, { seed: 5 }), inWorker<number>(body, { seed: 5 })]);
  const here = tidy(() => {
    const g = new Generator(5);
    const x = randn([1, 2, 6, 6, 6], { generator: g });
    const w = randn([3, 2, 3, 3, 3], { generator: g });
    return F.conv3d(x, w, null, { padding: 1 }).sum().item();
  });
  assert.equal(a, here);
  assert.equal(b, here);
});

test('errors inside a worker are JS errors there, not crashes', async () => {
  const r = await inWorker<{ code: string; message: string }>(`
    try { T.zeros([2, 3]).matmul(T.zeros([4, 5])); return null; }
    catch (e) { return { code: e.code, message: e.message }; }`);
  assert.equal(r.code, 'ERR_TORCH_NATIVE');
  assert.match(r.message, /^matmul: .*2x3.*4x5/);
});

test('a worker hands a batch over a SharedArrayBuffer; the main thread wraps it without copying', async () => {
  const shape = [2, 1, 8, 8, 8];
  const n = shape.reduce((a, b) => a * b, 1);
  const sab = new SharedArrayBuffer(n * 4);
  const sum = await inWorker<number>(
    `const t = T.arange(0, ${n}, 1, { dtype: 'float32' }).reshape(${JSON.stringify(shape)}).mul(0.5);
     t.copyInto(new Float32Array(data));
     return t.sum().item();`,
    sab,
  );
  const view = new Float32Array(sab);
  tidy(() => {
    const batch = fromShared(view, shape, 'float32');
    assert.equal(batch.sum().item(), sum);
    // Zero-copy: a write into the shared memory shows up in the tensor, and the reverse.
    view[0] = 1000;
    assert.equal(batch.flatten().select(0, 0).item(), 1000);
    batch.flatten().select(0, 1).fill_(-7);
    assert.equal(view[1], -7);
  });
});

test('tensors over shared memory stay valid after the JS view is dropped', async () => {
  await settle();
  const before = memoryStats().liveTensors;
  const t = (() => {
    const sab = new SharedArrayBuffer(16);
    new Float32Array(sab).set([1, 2, 3, 4]);
    return fromShared(new Float32Array(sab), [4], 'float32');
  })();
  await settle();
  assert.deepEqual(t.toArray(), [1, 2, 3, 4]);
  const doubled = t.mul(2);
  t.dispose();
  assert.deepEqual(doubled.toArray(), [2, 4, 6, 8]);
  doubled.dispose();
  assert.equal(memoryStats().liveTensors, before);
});

test("a worker's tensors are released when it exits", async () => {
  await settle();
  const before = memoryStats().liveTensors;
  // The counters are per process: the worker sees its own 50 tensors added to ours.
  const grownInWorker = await inWorker<number>(`
    const start = T.memoryStats().liveTensors;
    globalThis.keepAlive = Array.from({ length: 50 }, () => T.zeros([64]));
    return T.memoryStats().liveTensors - start;`);
  assert.equal(grownInWorker, 50);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(memoryStats().liveTensors, before, 'handles outlived the worker');
});
