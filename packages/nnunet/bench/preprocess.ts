/**
 * Benchmark (prints figures; not a test): nnUNet_plan_and_preprocess on MSD Task04_Hippocampus end
 * to end, phase by phase, with cases per second and peak RSS, next to an independent Python
 * re-statement of nnU-Net v1's preprocessing step (bench/preprocess_v1.py) run on the same
 * machine with the same number of worker processes.
 *
 *   npm run bench -w nnunet            (after the build)
 *   BENCH_HIPPOCAMPUS=/path/to/Task04_Hippocampus  default: the bundled 32-case subset in data/
 *   BENCH_WORKERS=N                                default: os.availableParallelism()
 *   BENCH_PYTHON=/path/to/python3                  default: /usr/bin/python3 (Debian's)
 *   BENCH_KEEP=1                                   keep the temporary folder
 *
 * Our cropping and preprocessing run in worker_threads inside this one process, so this process's
 * maxRSS is the peak RSS of all of our work. The Python side forks a multiprocessing Pool and
 * reports RUSAGE_SELF + RUSAGE_CHILDREN maxrss plus a sampled peak of its whole process tree.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { analyzeDataset } from '../src/fingerprint/analyze.js';
import { cropTask } from '../src/fingerprint/crop-task.js';
import { convertDecathlonTask } from '../src/io/convert-decathlon.js';
import type { Plans } from '../src/model/plans.js';
import { preprocessWithPlans } from '../src/pipeline/plan-and-preprocess.js';
import { planTask } from '../src/planning/plan-from-fingerprint.js';
import { requireMsdTask, requirePositiveInt } from './common.js';

const PLANNERS = ['ExperimentPlanner3D_v21', 'ExperimentPlanner2D_v21'];
const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));
const input = resolve(process.env.BENCH_HIPPOCAMPUS ?? join(repoRoot, 'data', 'Task04_Hippocampus'));
const workers = Number(process.env.BENCH_WORKERS ?? availableParallelism());
const python = process.env.BENCH_PYTHON ?? '/usr/bin/python3';
const v1Script = fileURLToPath(new URL('../../bench/preprocess_v1.py', import.meta.url));

requirePositiveInt('BENCH_WORKERS', workers);
requireMsdTask(input);

const mib = (kib: number) => kib / 1024;
const maxRssMiB = () => mib(process.resourceUsage().maxRSS);
const fmt = (x: number, digits = 2) => x.toFixed(digits);

interface Phase {
  name: string;
  seconds: number;
  /** Units of work the rate is computed from (cases, or case-stages for preprocessing). */
  cases: number;
  peakSoFarMiB: number;
}

const phases: Phase[] = [];
async function timed<T>(
  name: string,
  count: number | ((result: T) => number),
  fn: () => Promise<T> | T,
  unit = 'cases',
): Promise<T> {
  process.stdout.write(`  ${name.padEnd(14)}`);
  const t0 = process.hrtime.bigint();
  const out = await fn();
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cases = typeof count === 'number' ? count : count(out);
  const p = { name, seconds, cases, peakSoFarMiB: maxRssMiB() };
  phases.push(p);
  console.log(
    `${fmt(seconds, 3).padStart(8)} s  ${fmt(cases / seconds, 1).padStart(8)} ${unit}/s  maxRSS so far ${fmt(p.peakSoFarMiB, 0)} MiB`,
  );
  return out;
}

const work = mkdtempSync(join(tmpdir(), 'nnunet-bench-'));
const rawBase = join(work, 'nnUNet_raw_data_base');
const preprocessedRoot = join(work, 'nnUNet_preprocessed');
mkdirSync(rawBase, { recursive: true });
mkdirSync(preprocessedRoot, { recursive: true });
process.env.nnUNet_raw_data_base = rawBase;
process.env.nnUNet_preprocessed = preprocessedRoot;
const env = process.env;

const cpu = cpus()[0]?.model ?? 'unknown CPU';
console.log(`nnU-Net preprocessing benchmark: ${input}`);
console.log(`  ${workers} worker(s), ${availableParallelism()} logical CPUs (${cpu}), Node ${process.version}`);
console.log(`  temporary folder ${work}\n`);
console.log('ours (TypeScript, worker_threads):');

let n = 0;
let ourPreprocessRssMiB = 0;
const planFiles: string[] = [];
let croppedFolder = '';
let preprocessedFolder = '';
let stageJobs = 0;
try {
  // The conversion's rate is per image file; the phases below count training cases.
  const converted = await timed(
    'convert',
    (r) => r.images,
    () => convertDecathlonTask(input, { env }),
    'images',
  );
  const task = converted.taskName;
  n = readdirSync(join(converted.outputFolder, 'labelsTr')).filter((f) => /\.nii(\.gz)?$/.test(f)).length;
  croppedFolder = await timed('crop', n, () => cropTask(task, { env, workers }));
  await timed('fingerprint', n, () => analyzeDataset(croppedFolder));
  preprocessedFolder = join(preprocessedRoot, task);
  mkdirSync(preprocessedFolder, { recursive: true });
  copyFileSync(join(croppedFolder, 'dataset_properties.json'), join(preprocessedFolder, 'dataset_properties.json'));
  copyFileSync(join(croppedFolder, 'dataset.json'), join(preprocessedFolder, 'dataset.json'));
  const plans = await timed('planning', n, () =>
    PLANNERS.map((p) => {
      const r = planTask(p, croppedFolder, preprocessedFolder);
      planFiles.push(r.path);
      return r.plans;
    }),
  );
  stageJobs = n * plans.reduce((a, p: Plans) => a + Object.keys(p.plans_per_stage).length, 0);
  // maxRSS is a high-water mark of the whole run; also sample the RSS during this phase alone.
  ourPreprocessRssMiB = process.memoryUsage.rss() / 2 ** 20;
  const sampler = setInterval(() => {
    ourPreprocessRssMiB = Math.max(ourPreprocessRssMiB, process.memoryUsage.rss() / 2 ** 20);
  }, 20);
  await timed('preprocessing', n, async () => {
    for (const p of plans)
      await preprocessWithPlans(p, croppedFolder, preprocessedFolder, {
        workersFullres: workers,
        workersLowres: workers,
      });
  });
  clearInterval(sampler);
} catch (e) {
  if (env.BENCH_KEEP !== '1') rmSync(work, { recursive: true, force: true });
  throw e;
}
const ourPeak = maxRssMiB();
const ourPre = phases.find((p) => p.name === 'preprocessing') as Phase;
console.log(
  `  ${n} training cases; preprocessing ran ${stageJobs} case-stage jobs (${fmt(stageJobs / ourPre.seconds, 1)}/s) for ${planFiles.length} plans files`,
);
console.log(
  `  peak RSS (process.resourceUsage().maxRSS, whole run, worker threads included): ${fmt(ourPeak, 0)} MiB; sampled during preprocessing: ${fmt(ourPreprocessRssMiB, 0)} MiB\n`,
);

interface V1Result {
  seconds: number;
  cases: number;
  stage_jobs: number;
  workers: number;
  per_plan_seconds: Record<string, number>;
  rusage_self_maxrss_mib: number;
  rusage_children_maxrss_mib: number;
  peak_rss_mib: number;
  sampled_tree_peak_rss_mib: number;
  check: { stages: number; cases_checked: number; max_abs_diff: number; class_locations_equal: number };
  versions: Record<string, string>;
}

function runPython(args: string[]): { ok: boolean; why?: string } {
  const r = spawnSync(python, [v1Script, ...args], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.error) return { ok: false, why: r.error.message };
  return r.status === 0 ? { ok: true } : { ok: false, why: `exit status ${r.status ?? r.signal}` };
}

let v1: V1Result | null = null;
const probe = existsSync(python)
  ? spawnSync(python, ['-c', 'import numpy, scipy, skimage'], { stdio: ['ignore', 'ignore', 'pipe'] })
  : null;
if (probe === null || probe.status !== 0) {
  console.log(
    `v1 re-statement skipped: ${python} with NumPy, SciPy and scikit-image is needed (apt-get install python3 python3-numpy python3-scipy python3-skimage).\n`,
  );
} else {
  console.log(`v1 re-statement (Python, multiprocessing.Pool(${workers})):`);
  const v1Cropped = join(work, 'v1_cropped');
  const v1Out = join(work, 'v1_preprocessed');
  const resultFile = join(work, 'v1_result.json');
  const conv = runPython(['convert', '--cropped', croppedFolder, '--out', v1Cropped, '--workers', String(workers)]);
  const run = conv.ok
    ? runPython([
        'run',
        '--cropped',
        v1Cropped,
        '--gt',
        join(croppedFolder, 'gt_segmentations'),
        '--out',
        v1Out,
        '--workers',
        String(workers),
        '--compare-with',
        preprocessedFolder,
        '--result',
        resultFile,
        '--plans',
        ...planFiles,
      ])
    : conv;
  if (run.ok) v1 = JSON.parse(readFileSync(resultFile, 'utf8')) as V1Result;
  else console.log(`  the v1 re-statement failed (${run.why}); only our figures are printed.`);
  console.log('');
}

// The comparison table.
const rows: string[][] = [['phase', 'ours s', 'ours cases/s', 'v1-restatement s', 'v1 cases/s', 'ratio v1/ours']];
for (const p of phases) {
  const isPre = p.name === 'preprocessing' && v1 !== null;
  rows.push([
    p.name,
    fmt(p.seconds, 3),
    p.name === 'convert' ? `${fmt(p.cases / p.seconds, 1)} img/s` : fmt(p.cases / p.seconds, 1),
    isPre ? fmt((v1 as V1Result).seconds, 3) : '-',
    isPre ? fmt((v1 as V1Result).cases / (v1 as V1Result).seconds, 1) : '-',
    isPre ? fmt((v1 as V1Result).seconds / p.seconds) : '-',
  ]);
}
const total = phases.filter((p) => p.name !== 'convert').reduce((a, p) => a + p.seconds, 0);
rows.push(['crop..preprocess', fmt(total, 3), fmt(n / total, 1), '-', '-', '-']);
const widths = (rows[0] as string[]).map((_, c) => Math.max(...rows.map((r) => (r[c] as string).length)));
const line = (r: string[]) =>
  r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ');
console.log(`Comparison (${n} cases, ${workers} workers; ratio > 1 means ours is faster):`);
console.log(line(rows[0] as string[]));
console.log(widths.map((w) => '-'.repeat(w)).join('  '));
for (const r of rows.slice(1)) console.log(line(r));
console.log('');
console.log('peak RSS                          ours MiB   v1-restatement MiB');
const peakLine = (label: string, ours: string, theirs: string) =>
  console.log(`${label.padEnd(32)}${ours.padStart(10)}${theirs.padStart(21)}`);
peakLine('maxRSS (rusage)', fmt(ourPeak, 0), v1 ? fmt(v1.peak_rss_mib, 0) : '-');
peakLine('sampled during preprocessing', fmt(ourPreprocessRssMiB, 0), v1 ? fmt(v1.sampled_tree_peak_rss_mib, 0) : '-');
console.log(
  '  ours: process.resourceUsage().maxRSS of this process over the whole run (all phases, worker threads included);',
);
console.log('        sampled: this process while preprocessing.');
if (v1) {
  console.log(
    `  v1:   RUSAGE_SELF ${fmt(v1.rusage_self_maxrss_mib, 0)} + RUSAGE_CHILDREN ${fmt(v1.rusage_children_maxrss_mib, 0)} MiB (the largest single child),`,
  );
  console.log('        preprocessing only; sampled: sum over the Python process and its pool workers.');
  const c = v1.check;
  console.log(
    `  check: v1-restatement output vs ours on ${c.cases_checked} case-stages: max |diff| ${c.max_abs_diff}, class locations equal in ${c.class_locations_equal}/${c.cases_checked}`,
  );
  console.log(
    `  v1 re-statement ran on ${Object.entries(v1.versions)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
  );
}

if (env.BENCH_KEEP === '1') console.log(`\nkept ${work}`);
else rmSync(work, { recursive: true, force: true });
