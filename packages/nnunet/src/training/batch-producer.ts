/**
 * Background batch production (v1's MultiThreadedAugmenter): worker threads run the data loader
 * (and an optional batch transform, the hook for augmentation) while the main thread trains, and
 * hand each batch over in shared memory. Each worker owns a small ring of SharedArrayBuffer slots
 * and writes a batch into a free one; the main thread wraps the slot in tensors without copying
 * and gives it back with release(), after which the worker reuses it.
 *
 * Batch i is drawn from a generator seeded with (seed, i) alone and made by worker i mod N, and
 * batches are delivered in index order, so the sequence depends on the seed only, not on N.
 */
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { fromShared, type Tensor } from '@nnunet/torch';
import { NnunetError } from '../errors.js';
import { product } from '../util/shape.js';
import type { CaseRecord, DataLoaderOptions, LoaderBatch } from './data-loader.js';

/** Worker threads by default. */
export const DEFAULT_BATCH_WORKERS = 2;
/** Slots per worker by default (v1's num_cached_per_thread for nnUNetTrainerV2). */
export const DEFAULT_BUFFERS_PER_WORKER = 2;

/** A float32 C-order array and its shape. */
export interface BatchArray {
  data: Float32Array;
  shape: number[];
}

/** What a batch transform returns: named arrays ('data', 'seg', deep-supervision targets, ...). */
export type BatchArrays = Record<string, { data: Float32Array; shape: readonly number[] }>;

/** Passed to the transform with each batch. */
export interface BatchTransformContext {
  /** The batch's index in the run. */
  index: number;
  /** A 32-bit seed for this batch's random augmentation, fixed by the run seed and `index`. */
  seed: number;
}

/** Runs in the worker on each loader batch ([B, C, ...patch] data, [B, 1, ...patch] seg). */
export type BatchTransform = (batch: LoaderBatch, context: BatchTransformContext) => BatchArrays | Promise<BatchArrays>;

/**
 * A module that the workers import; it must export `createBatchTransform(options)`, returning the
 * BatchTransform (or a promise of it). `options` must be structured-cloneable.
 */
export interface BatchTransformModule {
  module: string | URL;
  options?: unknown;
}

export interface BatchProducerOptions {
  /** The cases (loadDataset); in-memory arrays and class locations in shared memory are shared, not copied. */
  dataset: readonly CaseRecord[];
  loader: DataLoaderOptions;
  /** Integer in [0, 2^32). */
  seed: number;
  /** Worker threads (default DEFAULT_BATCH_WORKERS). */
  workers?: number;
  /** Batches each worker may have ready or in use at once (default DEFAULT_BUFFERS_PER_WORKER). */
  buffersPerWorker?: number;
  /** Index of the first batch (e.g. to continue a run where a checkpoint left it). Default 0. */
  startIndex?: number;
  transform?: BatchTransformModule;
}

/** workerData of batch-producer-worker.ts. */
export interface WorkerInit {
  dataset: readonly CaseRecord[];
  loader: DataLoaderOptions;
  seed: number;
  workerIndex: number;
  workers: number;
  buffers: number;
  startIndex: number;
  transform: { module: string; options: unknown } | null;
}

/** Worker -> main. A slot array's buffer is sent when the slot (re)allocates it, later only its shape. */
export type WorkerMessage =
  | {
      type: 'batch';
      index: number;
      slot: number;
      keys: string[];
      arrays: { name: string; shape: number[]; buffer?: SharedArrayBuffer }[];
    }
  | { type: 'error'; index: number; error: { name: string; code?: string; message: string; stack?: string } };

/** Main -> worker. */
export type MainMessage = { type: 'release'; slot: number } | { type: 'close' };

function revive(e: { name: string; code?: string; message: string; stack?: string }): Error {
  const err =
    e.name === 'NnunetError' && e.code !== undefined
      ? new NnunetError(e.code as NnunetError['code'], e.message)
      : new Error(e.message);
  err.name = e.name;
  if (e.stack !== undefined) err.stack = e.stack;
  return err;
}

function moduleHref(m: string | URL): string {
  if (m instanceof URL) return m.href;
  if (/^[a-z][a-z0-9+.-]*:/i.test(m) && !isAbsolute(m)) return m;
  return pathToFileURL(resolve(m)).href;
}

function positiveInt(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 1)
    throw new NnunetError('ERR_ARGUMENT', `${name} must be a positive integer, got ${v}.`);
  return v;
}

/**
 * One batch in a worker's shared slot. Its arrays (and tensors made with tensor()) are views of
 * the slot: release() hands the slot back, after which the worker overwrites it. Copy anything
 * that must outlive release() (`.to('cuda')`, `.clone()`).
 */
export class ProducedBatch {
  readonly index: number;
  /** Case identifier of each batch item. */
  readonly keys: readonly string[];
  /** 'data' ([B, C, ...patch]) and 'seg' ([B, 1, ...patch]), or what the transform returned. */
  readonly arrays: Readonly<Record<string, BatchArray>>;
  readonly #onRelease: () => void;
  readonly #tensors: Tensor[] = [];
  #released = false;

  constructor(index: number, keys: string[], arrays: Record<string, BatchArray>, onRelease: () => void) {
    this.index = index;
    this.keys = keys;
    this.arrays = arrays;
    this.#onRelease = onRelease;
  }

  get released(): boolean {
    return this.#released;
  }

  /** The named array; throws if the batch has none of that name. */
  array(name: string): BatchArray {
    const a = this.arrays[name];
    if (a === undefined)
      throw new NnunetError(
        'ERR_ARGUMENT',
        `The batch has no array '${name}' (it has ${Object.keys(this.arrays).join(', ')}).`,
      );
    return a;
  }

  /**
   * A float32 tensor over the named array without copying. The batch owns it: release() disposes
   * it (so a tensor is never read after its slot was reused); views made from it are not tracked.
   */
  tensor(name = 'data'): Tensor {
    if (this.#released)
      throw new NnunetError('ERR_ARGUMENT', `Batch ${this.index} was released; its slot belongs to the worker again.`);
    const a = this.array(name);
    const t = fromShared(a.data, a.shape, 'float32');
    this.#tensors.push(t);
    return t;
  }

  /** Disposes this batch's tensors and returns the slot to its worker. Idempotent. */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    for (const t of this.#tensors) t.dispose();
    this.#tensors.length = 0;
    this.#onRelease();
  }
}

interface Waiter {
  resolve: (b: ProducedBatch) => void;
  reject: (e: Error) => void;
}

/** Produces batches in worker threads; see the module comment. Always `await close()` when done. */
export class BatchProducer {
  readonly workers: number;
  readonly buffersPerWorker: number;
  readonly #threads: Worker[];
  readonly #startIndex: number;
  /** Per worker and slot: the SharedArrayBuffer of each array name. */
  readonly #buffers: Map<string, SharedArrayBuffer>[][];
  readonly #arrived = new Map<number, ProducedBatch>();
  readonly #waiters = new Map<number, Waiter>();
  /** Per worker: batches handed to the caller and not yet released. */
  readonly #inUse: number[];
  /** Per worker: the index of the next batch it will send; -1 once it reported an error. */
  readonly #expected: number[];
  #next: number;
  #running: number;
  /** The first failure, and the first batch index it prevents. */
  #failure: { error: Error; index: number } | undefined;
  #closing: Promise<void> | undefined;

  constructor(options: BatchProducerOptions) {
    this.workers = positiveInt('workers', options.workers ?? DEFAULT_BATCH_WORKERS);
    this.buffersPerWorker = positiveInt('buffersPerWorker', options.buffersPerWorker ?? DEFAULT_BUFFERS_PER_WORKER);
    const start = options.startIndex ?? 0;
    if (!Number.isSafeInteger(start) || start < 0)
      throw new NnunetError('ERR_ARGUMENT', `startIndex must be a non-negative integer, got ${start}.`);
    if (!Number.isInteger(options.seed) || options.seed < 0 || options.seed > 0xffffffff)
      throw new NnunetError('ERR_ARGUMENT', `seed must be an integer in [0, 2^32), got ${options.seed}.`);
    this.#startIndex = start;
    this.#next = start;
    this.#inUse = new Array(this.workers).fill(0);
    this.#expected = Array.from({ length: this.workers }, (_, w) => start + w);
    this.#buffers = Array.from({ length: this.workers }, () =>
      Array.from({ length: this.buffersPerWorker }, () => new Map<string, SharedArrayBuffer>()),
    );
    const transform =
      options.transform === undefined
        ? null
        : { module: moduleHref(options.transform.module), options: options.transform.options ?? null };
    const url = new URL('./batch-producer-worker.js', import.meta.url);
    this.#running = this.workers;
    this.#threads = Array.from({ length: this.workers }, (_, w) => {
      const init: WorkerInit = {
        dataset: options.dataset,
        loader: options.loader,
        seed: options.seed,
        workerIndex: w,
        workers: this.workers,
        buffers: this.buffersPerWorker,
        startIndex: start,
        transform,
      };
      const worker = new Worker(url, { workerData: init });
      worker.on('message', (m: WorkerMessage) => this.#onMessage(w, m));
      worker.on('error', (e) => this.#workerDied(w, e));
      worker.on('exit', (code) => {
        this.#running--;
        this.#workerDied(w, new Error(`Batch worker ${w} exited unexpectedly (code ${code}).`));
      });
      // Idle workers do not keep the process alive; they are referenced while a batch is awaited.
      worker.unref();
      return worker;
    });
  }

  /** Worker threads that have not exited yet. */
  get runningWorkers(): number {
    return this.#running;
  }

  /** The next batch, in index order. Release each batch when done with it. */
  next(): Promise<ProducedBatch> {
    if (this.#closing !== undefined)
      return Promise.reject(new NnunetError('ERR_ARGUMENT', 'The batch producer is closed.'));
    if (this.#failure !== undefined && this.#next >= this.#failure.index) return Promise.reject(this.#failure.error);
    const index = this.#next++;
    const ready = this.#arrived.get(index);
    if (ready !== undefined) {
      this.#arrived.delete(index);
      this.#inUse[this.#workerOf(index)]!++;
      return Promise.resolve(ready);
    }
    const w = this.#workerOf(index);
    if ((this.#inUse[w] as number) >= this.buffersPerWorker) {
      this.#next--;
      return Promise.reject(
        new NnunetError(
          'ERR_ARGUMENT',
          `Batch ${index} can never arrive: its worker's ${this.buffersPerWorker} buffers hold batches that were not released. Call release() on batches when done with them.`,
        ),
      );
    }
    return new Promise<ProducedBatch>((resolve, reject) => {
      this.#waiters.set(index, { resolve, reject });
      this.#updateRefs();
    });
  }

  /** Stops and terminates the workers; pending next() calls reject. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      const closed = new NnunetError('ERR_ARGUMENT', 'The batch producer was closed.');
      for (const w of this.#waiters.values()) w.reject(closed);
      this.#waiters.clear();
      this.#arrived.clear();
      for (const t of this.#threads) {
        t.postMessage({ type: 'close' } satisfies MainMessage);
      }
      await Promise.all(this.#threads.map((t) => t.terminate()));
    })();
    return this.#closing;
  }

  #workerOf(index: number): number {
    return (index - this.#startIndex) % this.workers;
  }

  #updateRefs(): void {
    const waiting = new Set([...this.#waiters.keys()].map((i) => this.#workerOf(i)));
    this.#threads.forEach((t, w) => {
      if (waiting.has(w)) t.ref();
      else t.unref();
    });
  }

  #workerDied(w: number, error: Error): void {
    const index = this.#expected[w] as number;
    if (index < 0) return; // it already reported the error that ended it
    this.#expected[w] = -1;
    this.#fail(error, index);
  }

  /** Batches from `index` on will not come; earlier ones from other workers still do. */
  #fail(error: Error, index: number): void {
    if (this.#closing !== undefined) return;
    if (this.#failure !== undefined && this.#failure.index <= index) return;
    this.#failure = { error, index };
    for (const [i, w] of this.#waiters) {
      if (i < index) continue;
      w.reject(error);
      this.#waiters.delete(i);
    }
    this.#updateRefs();
  }

  #onMessage(w: number, m: WorkerMessage): void {
    if (this.#closing !== undefined) return;
    if (m.type === 'error') {
      this.#expected[w] = -1;
      this.#fail(revive(m.error), m.index);
      return;
    }
    this.#expected[w] = m.index + this.workers;
    const buffers = this.#buffers[w]?.[m.slot] as Map<string, SharedArrayBuffer>;
    const arrays: Record<string, BatchArray> = {};
    for (const a of m.arrays) {
      if (a.buffer !== undefined) buffers.set(a.name, a.buffer);
      const buffer = buffers.get(a.name) as SharedArrayBuffer;
      const n = product(a.shape);
      arrays[a.name] = { data: new Float32Array(buffer, 0, n), shape: a.shape };
    }
    const batch = new ProducedBatch(m.index, m.keys, arrays, () => {
      this.#inUse[w]!--;
      if (this.#closing === undefined)
        this.#threads[w]?.postMessage({ type: 'release', slot: m.slot } satisfies MainMessage);
    });
    const waiter = this.#waiters.get(m.index);
    if (waiter === undefined) {
      this.#arrived.set(m.index, batch);
      return;
    }
    this.#waiters.delete(m.index);
    this.#inUse[w]!++;
    this.#updateRefs();
    waiter.resolve(batch);
  }
}
