/**
 * c10d through the binding: real processes (this file re-run as workers) join a Gloo process group
 * over a TCPStore on localhost or a FileStore, and their collectives give the values computed here
 * by hand; a worker that dies makes the survivor fail with a sentence naming its rank within the
 * group's timeout instead of hanging.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { cuda, hasBackend, ProcessGroup, type ProcessGroupOptions, tensor, zeros } from '../src/index.js';

const SELF = fileURLToPath(import.meta.url);

// ---------------------------------------------------------------- worker side
async function worker(): Promise<void> {
  const rank = Number(process.env.DIST_RANK);
  const size = Number(process.env.DIST_SIZE);
  const store: ProcessGroupOptions['store'] =
    process.env.DIST_FILE !== undefined
      ? { file: process.env.DIST_FILE }
      : { tcp: { host: '127.0.0.1', port: Number(process.env.DIST_PORT) } };
  const group = new ProcessGroup({
    rank,
    worldSize: size,
    store,
    timeoutMs: Number(process.env.DIST_TIMEOUT ?? 20000),
  });
  const out: Record<string, unknown> = { rank: group.rank, size: group.size };
  if (process.env.DIST_SCENARIO === 'die') {
    if (rank === 1) process.exit(0);
    const t0 = Date.now();
    try {
      group.allReduce(tensor([1, 2, 3])).wait();
      out.error = null;
    } catch (e) {
      out.error = (e as Error).message;
      out.code = (e as { code?: string }).code;
    }
    out.seconds = (Date.now() - t0) / 1000;
    console.log(JSON.stringify(out));
    process.exit(0);
  }
  // all-reduce: rank r holds [r + 1, 10 (r + 1), -r]
  const a = tensor([rank + 1, 10 * (rank + 1), -rank]);
  group.allReduce(a).wait();
  out.sum = Array.from(a.toTypedArray() as Float32Array);
  const m = tensor([rank + 1, -(rank + 1)]);
  group.allReduce(m, 'max').wait();
  out.max = Array.from(m.toTypedArray() as Float32Array);
  const avg = tensor([2 * rank, 4]);
  await group.allReduce(avg, 'avg').waitAsync();
  out.avg = Array.from(avg.toTypedArray() as Float32Array);
  // broadcast from the last rank
  const b = tensor([rank, rank, rank]);
  group.broadcast(b, size - 1).wait();
  out.broadcast = Array.from(b.toTypedArray() as Float32Array);
  // all-gather: each rank contributes [rank, rank * rank]
  const outs = Array.from({ length: size }, () => zeros([2]));
  group.allGather(outs, tensor([rank, rank * rank])).wait();
  out.gathered = outs.map((t) => Array.from(t.toTypedArray() as Float32Array));
  group.barrier().wait();
  // gradients: d/dw = r + 1 on every element; the bias has none on rank 0 and r + 1 elsewhere
  const w = tensor([1, 2, 3, 4]).requiresGrad_();
  const bias = tensor([0.5]).requiresGrad_();
  const loss =
    rank === 0
      ? w.sum()
      : w
          .sum()
          .mul(rank + 1)
          .add(bias.mul(rank + 1).sum());
  loss.backward();
  group.averageGradients([w, bias], 8); // 8 bytes: one bucket per parameter
  out.wGrad = Array.from(w.grad?.toTypedArray() as Float32Array);
  out.biasGrad = Array.from(bias.grad?.toTypedArray() as Float32Array);
  group.setValue(`hello${rank}`, `from ${rank}`);
  out.value = group.getValue(`hello${(rank + 1) % size}`);
  group.barrier().wait();
  group.destroy();
  console.log(JSON.stringify(out));
}

// ---------------------------------------------------------------- test side
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const address = s.address();
      s.close(() =>
        typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runWorkers(size: number, env: Record<string, string>): Promise<Result[]> {
  return Promise.all(
    Array.from(
      { length: size },
      (_, rank) =>
        new Promise<Result>((resolve) => {
          const child = spawn(process.execPath, [SELF], {
            env: { ...process.env, DIST_WORKER: '1', DIST_RANK: String(rank), DIST_SIZE: String(size), ...env },
          });
          let stdout = '';
          let stderr = '';
          child.stdout.on('data', (d) => (stdout += d));
          child.stderr.on('data', (d) => (stderr += d));
          const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
          child.on('close', (code) => {
            clearTimeout(timer);
            resolve({ code, stdout, stderr });
          });
        }),
    ),
  );
}

function parse(r: Result): Record<string, unknown> {
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '{}') as Record<string, unknown>;
}

function checkCollectives(results: Record<string, unknown>[], size: number): void {
  const ranks = Array.from({ length: size }, (_, r) => r);
  const sum = (f: (r: number) => number) => ranks.reduce((a, r) => a + f(r), 0);
  for (const [rank, o] of results.entries()) {
    assert.equal(o.rank, rank);
    assert.equal(o.size, size);
    assert.deepEqual(o.sum, [sum((r) => r + 1), sum((r) => 10 * (r + 1)), sum((r) => -r)]);
    assert.deepEqual(o.max, [size, -1]);
    assert.deepEqual(o.avg, [Math.fround(sum((r) => 2 * r) / size), 4]);
    assert.deepEqual(o.broadcast, [size - 1, size - 1, size - 1]);
    assert.deepEqual(
      o.gathered,
      ranks.map((r) => [r, r * r]),
    );
    // d/dw of (r + 1) * sum(w) is r + 1 on every element; the mean over ranks is (size + 1) / 2.
    assert.deepEqual(
      o.wGrad,
      [1, 1, 1, 1].map(() => (size + 1) / 2),
    );
    // Rank 0 has no bias gradient (zeros); rank r > 0 has r + 1.
    assert.deepEqual(o.biasGrad, [Math.fround(sum((r) => (r === 0 ? 0 : r + 1)) / size)]);
    assert.equal(o.value, `from ${(rank + 1) % size}`);
  }
}

if (process.env.DIST_WORKER === '1') {
  await worker();
} else {
  test('two processes over a TCPStore on localhost: all-reduce, broadcast, all-gather, barrier, gradient averaging', async () => {
    const results = await runWorkers(2, { DIST_PORT: String(await freePort()) });
    checkCollectives(results.map(parse), 2);
  });

  test('three processes over a FileStore', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dist-file-'));
    try {
      const results = await runWorkers(3, { DIST_FILE: join(dir, 'store') });
      checkCollectives(results.map(parse), 3);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a worker that dies: the survivor fails within the timeout with a sentence naming its rank', async () => {
    const results = await runWorkers(2, {
      DIST_PORT: String(await freePort()),
      DIST_SCENARIO: 'die',
      DIST_TIMEOUT: '4000',
    });
    const survivor = parse(results[0] as Result);
    assert.equal((results[1] as Result).code, 0);
    assert.match(String(survivor.error), /^rank 0: .*all-reduce failed/);
    assert.equal(survivor.code, 'ERR_TORCH_NATIVE');
    assert.ok((survivor.seconds as number) < 30, `failed after ${survivor.seconds} s`);
  });

  test('bad arguments are refused in TypeScript', () => {
    assert.throws(
      () => new ProcessGroup({ rank: 2, worldSize: 2, store: { file: '/tmp/x' } }),
      /rank must be an integer in 0\.\.1/,
    );
    assert.throws(
      () => new ProcessGroup({ rank: 0, worldSize: 0, store: { file: '/tmp/x' } }),
      /worldSize must be a positive integer/,
    );
    // NCCL: refused by a CPU build; a CUDA build without a GPU says that instead (LibTorch's words).
    if (!hasBackend('nccl') || !cuda.isAvailable())
      assert.throws(
        () => new ProcessGroup({ backend: 'nccl', rank: 0, worldSize: 1, store: { file: '/tmp/x' } }),
        hasBackend('nccl') ? /rank 0 of 1 could not join .*no GPUs found/ : /no NCCL backend/,
      );
  });
}
