/**
 * `npm run bench`: this binding against PyTorch (Debian's python3-torch, the same LibTorch) on
 * nnU-Net-sized conv blocks (conv3d 3x3x3 -> instance norm -> leaky ReLU, forward + backward)
 * and on the per-op call overhead of a trivial op on 1-element tensors.
 *
 * Both sides run the same workloads with the same thread count, warmup and repetitions. The
 * Python side (bench/bench_torch.py --serve, run by /usr/bin/python3) stays up for the whole run
 * and the repetitions alternate between the two processes (python, node, node, python, ...), so
 * load spikes and CPU-frequency changes hit both alike; the process not measuring sits idle.
 *
 * Environment: BENCH_THREADS (default os.availableParallelism()), BENCH_WARMUP (3),
 * BENCH_REPS (10), BENCH_OPS (calls per repetition of the per-op loops, 50000),
 * BENCH_PYTHON (default /usr/bin/python3).
 */

import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import {
  Conv,
  getNumThreads,
  InstanceNorm,
  LeakyReLU,
  manualSeed,
  memoryStats,
  ones,
  randn,
  setNumThreads,
  tidy,
  version,
} from '../src/index.js';

// ---------------------------------------------------------------- settings

function envInt(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < min) {
    console.error(`${name} must be an integer >= ${min}, got "${raw}"`);
    process.exit(2);
  }
  return v;
}

const THREADS = envInt('BENCH_THREADS', Math.max(1, availableParallelism()), 1);
const WARMUP = envInt('BENCH_WARMUP', 3, 0);
const REPS = envInt('BENCH_REPS', 10, 1);
const OPS = envInt('BENCH_OPS', 50_000, 1);
const PYTHON = process.env.BENCH_PYTHON || '/usr/bin/python3';
const MAX_RATIO = 1.05;
const MAX_OP_US = 5;

// bench/bench.ts runs compiled as dist/bench/bench.js; find bench/bench_torch.py from either.
const here = dirname(fileURLToPath(import.meta.url));
const PY_SCRIPT =
  [join(here, 'bench_torch.py'), join(here, '..', '..', 'bench', 'bench_torch.py')].find((p) => existsSync(p)) ??
  join(here, '..', '..', 'bench', 'bench_torch.py');

type Unit = 'ms' | 'us';

/** One workload on the Node side: `rep` is one timed repetition; `scale` turns its ms into `unit`. */
interface NodeWorkload {
  rep: () => void;
  unit: Unit;
  scale: number;
  dispose: () => void;
}

interface Workload {
  label: string;
  /** The same work in bench_torch.py. */
  python: 'conv_a' | 'conv_b' | 'add_overhead';
  /** 'ratio': node/python must be <= MAX_RATIO; 'op': node must be < MAX_OP_US; 'info': no target. */
  target: 'ratio' | 'op' | 'info';
  make: () => NodeWorkload;
}

// ---------------------------------------------------------------- Node workloads

/** conv3d(C -> C, 3x3x3, padding 1, bias) -> instance norm (affine) -> leaky ReLU(0.01); sum; backward. */
function convBlock(batch: number, c: number, edge: number): NodeWorkload {
  manualSeed(0);
  const conv = new Conv(3, c, c, 3, { padding: 1 }); // bias, like nn.Conv3d's default
  const norm = new InstanceNorm(c); // affine, no running stats, like nn.InstanceNorm3d(affine=True)
  const act = new LeakyReLU(0.01); // not in place
  const params = [...conv.parameters(), ...norm.parameters()]; // all require grad
  const x = randn([batch, c, edge, edge, edge]); // float32, requiresGrad false
  return {
    rep: () => {
      for (const p of params) p.grad = null;
      tidy(() => {
        act
          .forward(norm.forward(conv.forward(x)))
          .sum()
          .backward();
      });
    },
    unit: 'ms',
    scale: 1,
    dispose: () => {
      x.dispose();
      conv.dispose();
      norm.dispose();
    },
  };
}

/** x.add(y) on 1-element tensors, each result disposed at once (Python frees it by refcount). */
function addDispose(): NodeWorkload {
  const x = ones([1]);
  const y = ones([1]);
  return {
    rep: () => {
      for (let i = 0; i < OPS; i++) x.add(y).dispose();
    },
    unit: 'us',
    scale: 1000 / OPS,
    dispose: () => {
      x.dispose();
      y.dispose();
    },
  };
}

/** The same op with the results left to tidy scopes of 100 ops each (the usual way to write code). */
function addTidy(): NodeWorkload {
  const x = ones([1]);
  const y = ones([1]);
  const block = 100;
  const blocks = Math.max(1, Math.round(OPS / block));
  return {
    rep: () => {
      for (let b = 0; b < blocks; b++) {
        tidy(() => {
          for (let i = 0; i < block; i++) x.add(y);
        });
      }
    },
    unit: 'us',
    scale: 1000 / (blocks * block),
    dispose: () => {
      x.dispose();
      y.dispose();
    },
  };
}

const WORKLOADS: Workload[] = [
  {
    label: 'conv block 2x32x64^3 (32->32) fwd+bwd',
    python: 'conv_a',
    target: 'ratio',
    make: () => convBlock(2, 32, 64),
  },
  {
    label: 'conv block 2x320x8^3 (320->320) fwd+bwd',
    python: 'conv_b',
    target: 'ratio',
    make: () => convBlock(2, 320, 8),
  },
  { label: 'x.add(y) 1-element, result disposed', python: 'add_overhead', target: 'op', make: addDispose },
  { label: 'x.add(y) 1-element, in tidy(100 ops)', python: 'add_overhead', target: 'info', make: addTidy },
];

// ---------------------------------------------------------------- Python side

interface PyInfo {
  torch_version: string;
  python_version: string;
  threads: number;
}

/** bench_torch.py --serve: one JSON request per line in, one JSON answer per line out. */
class PythonSide {
  #pending: { resolve: (v: Record<string, unknown>) => void; reject: (e: Error) => void }[] = [];
  #dead: Error | null = null;

  private constructor(
    readonly proc: ChildProcessWithoutNullStreams,
    readonly info: PyInfo,
  ) {}

  /** Starts the server; resolves to a reason string when Python or its torch is missing or fails. */
  static start(): Promise<PythonSide | { missing: boolean; why: string }> {
    if (!existsSync(PY_SCRIPT)) return Promise.resolve({ missing: false, why: `${PY_SCRIPT} not found` });
    const args = [PY_SCRIPT, '--serve', '--threads', String(THREADS), '--ops', String(OPS)];
    const proc = spawn(PYTHON, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    return new Promise((resolve) => {
      let side: PythonSide | null = null;
      const stderr: string[] = [];
      const fail = (missing: boolean, why: string): void => {
        if (side === null) resolve({ missing, why });
      };
      proc.on('error', (e: NodeJS.ErrnoException) => {
        if (side !== null) side.#die(e);
        else fail(e.code === 'ENOENT', e.code === 'ENOENT' ? `${PYTHON} not found` : e.message);
      });
      proc.on('exit', (code, signal) => {
        const tail = stderr.slice(-5).join('\n');
        const why = `${PYTHON} exited (${signal ?? `code ${code}`})${tail ? `: ${tail}` : ''}`;
        if (side !== null) side.#die(new Error(why));
        else fail(code === 3, code === 3 ? `${PYTHON} cannot import torch` : why);
      });
      createInterface({ input: proc.stderr }).on('line', (l) => {
        stderr.push(l);
        if (stderr.length > 50) stderr.shift();
      });
      createInterface({ input: proc.stdout }).on('line', (l) => {
        let msg: Record<string, unknown>;
        try {
          msg = JSON.parse(l) as Record<string, unknown>;
        } catch {
          return; // stray output
        }
        if (side === null) {
          if (msg.ready === true) {
            side = new PythonSide(proc, msg as unknown as PyInfo);
            resolve(side);
          }
          return;
        }
        const p = side.#pending.shift();
        if (p === undefined) return;
        if (typeof msg.error === 'string') p.reject(new Error(msg.error));
        else p.resolve(msg);
      });
    });
  }

  #die(e: Error): void {
    this.#dead ??= e;
    for (const p of this.#pending.splice(0)) p.reject(e);
  }

  /** Runs `count` repetitions of `workload` in Python; their times in the workload's unit. */
  run(workload: string, count: number): Promise<number[]> {
    if (this.#dead) return Promise.reject(this.#dead);
    return new Promise<Record<string, unknown>>((resolve, reject) => {
      this.#pending.push({ resolve, reject });
      this.proc.stdin.write(`${JSON.stringify({ workload, count })}\n`);
    }).then((msg) => msg.times as number[]);
  }

  close(): void {
    this.proc.stdin.end();
  }
}

// ---------------------------------------------------------------- measurement

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

function timeNode(w: NodeWorkload): number {
  const t0 = performance.now();
  w.rep();
  return (performance.now() - t0) * w.scale;
}

interface Result {
  workload: Workload;
  unit: Unit;
  node: number[];
  python: number[] | null;
  leak: string | null;
}

/**
 * Warmup then timed repetitions, alternating between the processes in the order
 * P N N P P N ... so neither side always runs right after the other.
 */
async function measure(w: Workload, py: PythonSide | null): Promise<Result> {
  const before = memoryStats();
  const nw = w.make();
  const node: number[] = [];
  let python: number[] | null = py === null ? null : [];
  const pyRep = async (count: number, keep: boolean): Promise<void> => {
    if (python === null || py === null) return;
    try {
      const t = await py.run(w.python, count);
      if (keep) python.push(...t);
    } catch (e) {
      console.log(`  ${w.label}: python side failed: ${(e as Error).message}`);
      python = null;
    }
  };
  try {
    await pyRep(WARMUP, false);
    for (let i = 0; i < WARMUP; i++) nw.rep();
    for (let i = 0; i < REPS; i++) {
      if (i % 2 === 0) {
        await pyRep(1, true);
        node.push(timeNode(nw));
      } else {
        node.push(timeNode(nw));
        await pyRep(1, true);
      }
    }
  } finally {
    nw.dispose();
  }
  const after = memoryStats();
  const dt = after.liveTensors - before.liveTensors;
  const db = after.liveBytes - before.liveBytes;
  const leak = dt !== 0 || db !== 0 ? `${w.label}: ${dt} tensor handle(s), ${db} byte(s) still live` : null;
  return { workload: w, unit: nw.unit, node, python, leak };
}

// ---------------------------------------------------------------- run

const fmt = (v: number, unit: Unit): string => (unit === 'ms' ? v.toFixed(1) : v.toFixed(2));
const spread = (xs: readonly number[], unit: Unit): string =>
  `${fmt(Math.min(...xs), unit)}..${fmt(Math.max(...xs), unit)}`;

setNumThreads(THREADS);
console.log(
  `@nnunet/torch bench: LibTorch ${version}, ${getNumThreads()} thread(s) (BENCH_THREADS), ` +
    `${WARMUP} warmup + ${REPS} timed reps (BENCH_WARMUP, BENCH_REPS), per-op loops of ${OPS} calls (BENCH_OPS)`,
);
console.log(`CPU: ${cpus()[0]?.model ?? 'unknown'} (${availableParallelism()} available), Node ${process.version}`);

const started = await PythonSide.start();
let py: PythonSide | null = null;
let pyMissing: string | null = null;
if (started instanceof PythonSide) {
  py = started;
  console.log(
    `Python side: ${PYTHON} ${PY_SCRIPT} (Python ${py.info.python_version}, PyTorch ${py.info.torch_version}, ` +
      `${py.info.threads} thread(s))`,
  );
  if (py.info.threads !== THREADS) console.log(`  warning: Python runs ${py.info.threads} threads, not ${THREADS}`);
} else if (started.missing) {
  pyMissing = started.why;
  console.log(`Python side: unavailable (${started.why})`);
} else {
  console.log(`Python comparison skipped: ${started.why}`);
}
console.log('');

const results: Result[] = [];
for (const w of WORKLOADS) {
  const r = await measure(w, py);
  results.push(r);
  const pyPart = r.python === null ? '' : `python ${fmt(median(r.python), r.unit)} (${spread(r.python, r.unit)}), `;
  console.log(`  ${w.label}: ${pyPart}node ${fmt(median(r.node), r.unit)} (${spread(r.node, r.unit)}) ${r.unit}`);
}
py?.close();

// ---------------------------------------------------------------- report

const header = ['workload', 'unit', 'node', 'python', 'node/python', 'paired', 'target', 'ok'];
const failures: string[] = [];
let unchecked = false;
const table: string[][] = results.map((r) => {
  const node = median(r.node);
  const python = r.python === null ? null : median(r.python);
  const ratio = python === null ? null : node / python;
  // Median of the per-repetition ratios: less sensitive to a slow stretch than the ratio of medians.
  const paired = r.python === null ? null : median(r.node.map((n, i) => n / (r.python?.[i] ?? Number.NaN)));
  let target = '-';
  let ok = '-';
  if (r.workload.target === 'ratio') {
    target = `ratio <= ${MAX_RATIO}`;
    if (ratio === null) {
      ok = 'n/a';
      unchecked = true;
    } else if (ratio <= MAX_RATIO) {
      ok = 'yes';
    } else {
      ok = 'NO';
      failures.push(`${r.workload.label}: node/python ${ratio.toFixed(3)} > ${MAX_RATIO}`);
    }
  } else if (r.workload.target === 'op') {
    target = `node < ${MAX_OP_US} µs`;
    ok = node < MAX_OP_US ? 'yes' : 'NO';
    if (ok === 'NO') failures.push(`${r.workload.label}: ${fmt(node, r.unit)} µs/op >= ${MAX_OP_US} µs`);
  }
  return [
    r.workload.label,
    r.unit === 'us' ? 'µs/op' : 'ms/iter',
    fmt(node, r.unit),
    python === null ? 'n/a' : fmt(python, r.unit),
    ratio === null ? 'n/a' : ratio.toFixed(3),
    paired === null ? 'n/a' : paired.toFixed(3),
    target,
    ok,
  ];
});
const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => (row[i] as string).length)));
const line = (cells: string[]): string =>
  cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join('  ');
console.log('');
console.log(line(header));
console.log(widths.map((w) => '-'.repeat(w)).join('  '));
for (const row of table) console.log(line(row));
console.log('');
console.log(
  `node, python: medians of ${REPS} timed reps after ${WARMUP} warmup, alternating between the processes; ` +
    'paired: median of the per-rep node/python ratios',
);
if (pyMissing !== null) {
  console.log(`Python comparison skipped: ${pyMissing}; run \`apt-get install python3-torch\` to compare.`);
}
const leaks = results.flatMap((r) => (r.leak === null ? [] : [r.leak]));
console.log(
  leaks.length === 0
    ? 'memory: flat (no tensor handles or bytes left live after any Node workload)'
    : `memory: NOT flat: ${leaks.join('; ')}`,
);
if (failures.length > 0) {
  console.log(`TARGET NOT MET: ${failures.join('; ')}`);
} else if (unchecked) {
  console.log(
    `TARGET NOT CHECKED: per-op overhead is under ${MAX_OP_US} µs, but the node/python ratios need Python's torch`,
  );
} else {
  console.log(
    `TARGET MET: every conv workload within ${MAX_RATIO}x of PyTorch and per-op overhead under ${MAX_OP_US} µs`,
  );
}
