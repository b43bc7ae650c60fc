/** Background batch production: worker threads, shared-memory slots, determinism, shutdown. */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { memoryStats, tidy } from '@nnunet/torch';
import { writeNpy } from '../../src/io/npy.js';
import { BatchProducer, type BatchProducerOptions, type ProducedBatch } from '../../src/training/batch-producer.js';
import {
  batchRandomState,
  DataLoader,
  type DataLoaderOptions,
  deriveSeed,
  loadDataset,
} from '../../src/training/data-loader.js';
import { tempDir } from '../helpers.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
/** Collects garbage and lets deferred finalizers run, so live tensor counts are exact. */
async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
  }
}

/** Three small two-modality cases with pseudo-random images and a foreground blob. */
function writeFolder(dir: string): void {
  let state = 12345;
  const rand = (): number => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return state / 2 ** 32;
  };
  const shapes = [
    [6, 7, 8],
    [4, 9, 5],
    [8, 6, 7],
  ];
  shapes.forEach(([Z, Y, X], k) => {
    const n = Z! * Y! * X!;
    const all = new Float32Array(3 * n);
    for (let i = 0; i < 2 * n; i++) all[i] = rand() * 2 - 1;
    const locations: number[][] = [];
    let i = 0;
    for (let z = 0; z < Z!; z++)
      for (let y = 0; y < Y!; y++)
        for (let x = 0; x < X!; x++, i++) {
          const fg = z === 1 + k && y >= 2 && y < 4 && x >= 1 && x < 3;
          all[2 * n + i] = fg ? 1 : 0;
          if (fg) locations.push([z, y, x]);
        }
    writeNpy(join(dir, `case_${k}.npy`), all, [3, Z!, Y!, X!]);
    writeFileSync(join(dir, `case_${k}.json`), JSON.stringify({ class_locations: { '1': locations } }));
  });
}

const dir = tempDir('nnunet-producer-');
after(() => rmSync(dir, { recursive: true, force: true }));
writeFolder(dir);
const dataset = loadDataset(dir);
const LOADER: DataLoaderOptions = { dim: 3, patchSize: [5, 6, 7], finalPatchSize: [4, 5, 6], batchSize: 3 };
const SEED = 42;

/** Runs `body` with a producer and always closes it. */
async function withProducer<R>(
  options: Partial<BatchProducerOptions>,
  body: (p: BatchProducer) => Promise<R>,
): Promise<R> {
  const p = new BatchProducer({ dataset, loader: LOADER, seed: SEED, ...options });
  try {
    return await body(p);
  } finally {
    await p.close();
  }
}

function expectLoaderBatch(b: ProducedBatch, index: number, seed = SEED): void {
  const ref = new DataLoader(dataset, LOADER).generateBatch(batchRandomState(seed, index));
  assert.equal(b.index, index);
  assert.deepEqual([...b.keys], ref.keys);
  assert.deepEqual(b.array('data').shape, ref.dataShape);
  assert.deepEqual(b.array('seg').shape, ref.segShape);
  assert.deepEqual(b.array('data').data, ref.data, `batch ${index} data`);
  assert.deepEqual(b.array('seg').data, ref.seg, `batch ${index} seg`);
}

test('batches arrive in index order and equal the loader batch of (seed, index), for 1 and 3 workers', async () => {
  for (const workers of [1, 3]) {
    await withProducer({ workers }, async (p) => {
      for (let i = 0; i < 10; i++) {
        const b = await p.next();
        expectLoaderBatch(b, i);
        b.release();
      }
    });
  }
});

test('startIndex continues a run; an in-memory dataset gives the same batches', async () => {
  await withProducer({ startIndex: 7, dataset: loadDataset(dir, { inMemory: true }) }, async (p) => {
    for (let i = 7; i < 11; i++) {
      const b = await p.next();
      expectLoaderBatch(b, i);
      b.release();
    }
  });
});

test('slots are reused: no more buffers than workers x buffersPerWorker', async () => {
  await withProducer({ workers: 2, buffersPerWorker: 2 }, async (p) => {
    const data = new Set<ArrayBufferLike>();
    const seg = new Set<ArrayBufferLike>();
    for (let i = 0; i < 20; i++) {
      const b = await p.next();
      data.add(b.array('data').data.buffer);
      seg.add(b.array('seg').data.buffer);
      assert.ok(b.array('data').data.buffer instanceof SharedArrayBuffer);
      b.release();
    }
    assert.ok(data.size >= 2 && data.size <= 4, `${data.size} data buffers`);
    assert.ok(seg.size >= 2 && seg.size <= 4, `${seg.size} seg buffers`);
  });
});

test('tensors share the slot memory and die with release(): no leaked tensors', async () => {
  await settle();
  const before = memoryStats().liveTensors;
  await withProducer({ workers: 2 }, async (p) => {
    for (let i = 0; i < 8; i++) {
      const b = await p.next();
      const data = b.tensor('data');
      const seg = b.tensor('seg');
      assert.deepEqual(data.shape, [3, 2, 5, 6, 7]);
      assert.deepEqual(seg.shape, [3, 1, 5, 6, 7]);
      const view = b.array('data').data;
      const expected = view.reduce((s, v) => s + v, 0);
      tidy(() => assert.ok(Math.abs(data.sum().item() - expected) < 1e-3));
      // Zero-copy: a write into the slot shows in the tensor.
      view[0] = 1234;
      tidy(() => assert.equal(data.flatten().select(0, 0).item(), 1234));
      b.release();
      assert.throws(() => data.sum(), /dispos/i);
      assert.throws(
        () => b.tensor('data'),
        (e: Error & { code?: string }) => e.code === 'ERR_ARGUMENT',
      );
      b.release();
    }
  });
  await settle();
  assert.equal(memoryStats().liveTensors, before);
});

test('close() terminates the workers; later and pending next() calls reject', async () => {
  const p = new BatchProducer({ dataset, loader: LOADER, seed: SEED, workers: 2 });
  assert.equal(p.runningWorkers, 2);
  (await p.next()).release();
  const pending = [p.next(), p.next(), p.next()].map((x) =>
    x.then(
      (b) => {
        b.release();
        return 'batch';
      },
      (e: Error & { code?: string }) => e.code,
    ),
  );
  await p.close();
  await p.close();
  assert.equal(p.runningWorkers, 0);
  for (const r of await Promise.all(pending)) assert.ok(r === 'batch' || r === 'ERR_ARGUMENT');
  await assert.rejects(
    p.next(),
    (e: Error & { code?: string }) => e.code === 'ERR_ARGUMENT' && /closed/.test(e.message),
  );
});

test('holding every slot of a worker without release() is an error, not a hang', async () => {
  await withProducer({ workers: 1, buffersPerWorker: 2 }, async (p) => {
    const a = await p.next();
    const b = await p.next();
    await assert.rejects(
      p.next(),
      (e: Error & { code?: string }) => e.code === 'ERR_ARGUMENT' && /release/.test(e.message),
    );
    a.release();
    const c = await p.next();
    expectLoaderBatch(c, 2);
    b.release();
    c.release();
  });
});

test('a transform module runs on each batch in the worker, seeded per batch; its errors reach next()', async () => {
  const module = join(dir, 'transform.mjs');
  writeFileSync(
    module,
    `export function createBatchTransform(options) {
       return async (batch, context) => {
         if (context.index === options.failAt) throw new RangeError('transform failed at ' + context.index);
         const crop = batch.dataShape.slice(0, 2).concat([4, 5, 6]);
         const n = crop.reduce((a, b) => a * b, 1);
         return {
           data: { data: batch.data.slice(0, n).map((v) => v * options.scale), shape: crop },
           seg: { data: batch.seg, shape: batch.segShape },
           context: { data: Float32Array.of(context.index, context.seed % 65536), shape: [2] },
         };
       };
     }`,
  );
  await withProducer({ workers: 2, transform: { module, options: { scale: 2, failAt: 5 } } }, async (p) => {
    for (let i = 0; i < 5; i++) {
      const b = await p.next();
      const ref = new DataLoader(dataset, LOADER).generateBatch(batchRandomState(SEED, i));
      assert.deepEqual(Object.keys(b.arrays), ['data', 'seg', 'context']);
      assert.deepEqual(b.array('data').shape, [3, 2, 4, 5, 6]);
      assert.deepEqual(
        b.array('data').data,
        ref.data.slice(0, 3 * 2 * 120).map((v) => v * 2),
      );
      assert.deepEqual(b.array('seg').data, ref.seg);
      assert.deepEqual([...b.array('context').data], [i, deriveSeed(SEED, i, 1) % 65536]);
      b.release();
    }
    await assert.rejects(p.next(), (e: Error) => e.name === 'RangeError' && /transform failed at 5/.test(e.message));
    await assert.rejects(p.next(), /transform failed at 5/);
  });
});

test('bad options are refused before any worker starts', () => {
  assert.throws(() => new BatchProducer({ dataset, loader: LOADER, seed: SEED, workers: 0 }), /workers/);
  assert.throws(() => new BatchProducer({ dataset, loader: LOADER, seed: -3 }), /seed/);
});
