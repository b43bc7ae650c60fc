/**
 * A batch worker of BatchProducer: makes batches startIndex + workerIndex + k * workers, k = 0, 1,
 * ..., each into a free slot of its ring of shared buffers, and waits while every slot is with
 * the main thread.
 */
import { type MessagePort, parentPort, workerData } from 'node:worker_threads';
import { product } from '../util/shape.js';
import type { BatchArrays, BatchTransform, MainMessage, WorkerInit, WorkerMessage } from './batch-producer.js';
import { batchRandomState, DataLoader, deriveSeed } from './data-loader.js';

interface SlotArray {
  buffer: SharedArrayBuffer;
  data: Float32Array;
}

interface Slot {
  id: number;
  free: boolean;
  arrays: Map<string, SlotArray>;
}

/** The slot's array `name` with room for `n` floats, reallocated (and so re-sent) when the size changes. */
function slotArray(slot: Slot, name: string, n: number): { array: SlotArray; fresh: boolean } {
  const have = slot.arrays.get(name);
  if (have !== undefined && have.data.length === n) return { array: have, fresh: false };
  const buffer = new SharedArrayBuffer(n * 4);
  const array = { buffer, data: new Float32Array(buffer) };
  slot.arrays.set(name, array);
  return { array, fresh: true };
}

async function loadTransform(init: WorkerInit): Promise<BatchTransform | null> {
  if (init.transform === null) return null;
  const mod = (await import(init.transform.module)) as { createBatchTransform?: (o: unknown) => unknown };
  if (typeof mod.createBatchTransform !== 'function')
    throw new Error(`${init.transform.module} does not export createBatchTransform(options).`);
  return (await mod.createBatchTransform(init.transform.options)) as BatchTransform;
}

async function run(port: MessagePort, init: WorkerInit): Promise<void> {
  const slots: Slot[] = Array.from({ length: init.buffers }, (_, id) => ({ id, free: true, arrays: new Map() }));
  let closed = false;
  let wake: (() => void) | undefined;
  port.on('message', (m: MainMessage) => {
    if (m.type === 'release') (slots[m.slot] as Slot).free = true;
    else closed = true;
    wake?.();
    wake = undefined;
  });
  let index = init.startIndex + init.workerIndex;
  try {
    const loader = new DataLoader(init.dataset, init.loader);
    const transform = await loadTransform(init);
    const dataLength = product(loader.dataShape);
    const segLength = product(loader.segShape);
    const scratch =
      transform === null ? null : { data: new Float32Array(dataLength), seg: new Float32Array(segLength) };
    while (!closed) {
      const slot = slots.find((s) => s.free);
      if (slot === undefined) {
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        continue;
      }
      const rng = batchRandomState(init.seed, index);
      const sent: Extract<WorkerMessage, { type: 'batch' }>['arrays'] = [];
      const put = (name: string, shape: readonly number[], source: Float32Array | null): Float32Array => {
        const n = product(shape);
        if (source !== null && source.length !== n)
          throw new Error(`The batch transform returned '${name}' with ${source.length} values for shape [${shape}].`);
        const { array, fresh } = slotArray(slot, name, n);
        if (source !== null) array.data.set(source);
        sent.push(fresh ? { name, shape: [...shape], buffer: array.buffer } : { name, shape: [...shape] });
        return array.data;
      };
      let keys: string[];
      if (transform === null || scratch === null) {
        const data = put('data', loader.dataShape, null);
        const seg = put('seg', loader.segShape, null);
        keys = loader.generateBatch(rng, { data, seg }).keys;
      } else {
        const batch = loader.generateBatch(rng, scratch);
        keys = batch.keys;
        const out: BatchArrays = await transform(batch, { index, seed: deriveSeed(init.seed, index, 1) });
        for (const [name, a] of Object.entries(out)) put(name, a.shape, a.data);
        for (const name of [...slot.arrays.keys()]) if (!(name in out)) slot.arrays.delete(name);
      }
      slot.free = false;
      port.postMessage({ type: 'batch', index, slot: slot.id, keys, arrays: sent } satisfies WorkerMessage);
      index += init.workers;
      // Let release and close messages in between batches.
      await new Promise((resolve) => setImmediate(resolve));
    }
  } catch (e) {
    const err = e as Error & { code?: string };
    const error: Extract<WorkerMessage, { type: 'error' }>['error'] = { name: err.name, message: err.message };
    if (err.code !== undefined) error.code = err.code;
    if (err.stack !== undefined) error.stack = err.stack;
    port.postMessage({ type: 'error', index, error } satisfies WorkerMessage);
  }
  port.close();
}

if (parentPort !== null) void run(parentPort, workerData as WorkerInit);
