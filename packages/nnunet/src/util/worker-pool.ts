/**
 * Runs per-case jobs in worker threads, at most `workers` at a time, so peak memory grows with
 * the number of workers and not with the dataset. Each worker module handles messages
 * `{ job }` by posting back `{ ok: true, result }` or `{ ok: false, error: { name, code, message, stack } }`.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { NnunetError } from '../errors.js';

export interface PoolOptions {
  workers?: number;
  onProgress?: (done: number, total: number) => void;
}

interface Reply {
  ok: boolean;
  result?: unknown;
  error?: { name: string; code?: string; message: string; stack?: string };
}

function revive(e: NonNullable<Reply['error']>): Error {
  if (e.name === 'NnunetError' && e.code !== undefined)
    return new NnunetError(e.code as NnunetError['code'], e.message);
  const err = new Error(e.message);
  err.name = e.name;
  if (e.stack !== undefined) err.stack = e.stack;
  return err;
}

export function defaultWorkers(): number {
  return Math.max(1, availableParallelism());
}

/** How long an idle worker may take to leave by itself before it is terminated. */
const EXIT_GRACE_MS = 10_000;

/**
 * Ends an idle worker by letting it leave (it closes its port and its event loop runs dry) rather
 * than terminating it: terminate() tears the isolate down under V8's background compiler threads,
 * and Node 20 has aborted here ("Assertion failed: (data.first) != nullptr" in
 * NodePlatform::ForIsolate) when one of them still ran for it. terminate() stays the fallback.
 */
async function stopWorker(worker: Worker): Promise<void> {
  const exited = new Promise<boolean>((resolve) => {
    worker.once('exit', () => resolve(true));
    setTimeout(() => resolve(false), EXIT_GRACE_MS).unref();
  });
  try {
    worker.postMessage({ close: true });
  } catch {
    // already gone
  }
  if (!(await exited)) await worker.terminate();
}

/** Runs `jobs` through `workerUrl`, returning results in job order; the first failure rejects. */
export async function runPool<J, R>(workerUrl: URL, jobs: readonly J[], options: PoolOptions = {}): Promise<R[]> {
  const n = Math.max(1, Math.min(options.workers ?? defaultWorkers(), jobs.length));
  const results: R[] = new Array(jobs.length);
  let next = 0;
  let done = 0;
  let failure: Error | undefined;
  const runWorker = async (): Promise<void> => {
    const worker = new Worker(workerUrl);
    try {
      while (failure === undefined && next < jobs.length) {
        const index = next++;
        const reply = await new Promise<Reply>((resolve, reject) => {
          worker.once('message', resolve);
          worker.once('error', reject);
          worker.postMessage({ job: jobs[index] });
        });
        worker.removeAllListeners('error');
        if (!reply.ok) throw revive(reply.error as NonNullable<Reply['error']>);
        results[index] = reply.result as R;
        options.onProgress?.(++done, jobs.length);
      }
    } catch (e) {
      failure ??= e as Error;
    } finally {
      await stopWorker(worker);
    }
  };
  await Promise.all(Array.from({ length: n }, runWorker));
  if (failure !== undefined) throw failure;
  return results;
}

/** The worker side: answers each `{ job }` message with `handler(job)`. */
export function serveJobs<J, R>(
  port: import('node:worker_threads').MessagePort,
  handler: (job: J) => Promise<R>,
): void {
  port.on('message', async (msg: { job: J; close?: boolean }) => {
    // The pool is done with this worker: closing the port lets its event loop end and the thread exit.
    if (msg.close === true) {
      port.close();
      return;
    }
    try {
      port.postMessage({ ok: true, result: await handler(msg.job) });
    } catch (e) {
      const err = e as Error & { code?: string };
      port.postMessage({
        ok: false,
        error: { name: err.name, code: err.code, message: err.message, stack: err.stack },
      });
    }
  });
}
