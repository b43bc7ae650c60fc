/**
 * Benchmark (prints figures; not a test): nnUNet_predict on MSD Task04_Hippocampus cases with a
 * fixed (seeded, untrained) 3d_fullres network on the CPU, seconds per case with and without
 * test-time mirroring and peak RSS, next to the same network and the same sliding window run
 * through Debian's python3-torch (bench/predict_torch.py: a re-statement of v1's Generic_UNet and
 * sliding window, loading our weights) on the same preprocessed arrays.
 *
 *   npm run bench:predict -w nnunet    (after the build)
 *   BENCH_CASES=N                                  cases to predict, the last N of the task (default 4)
 *   BENCH_THREADS=N                                intra-op threads on both sides (default os.availableParallelism())
 *   BENCH_HIPPOCAMPUS=/path/to/Task04_Hippocampus  default: the bundled 32-case subset in data/
 *   BENCH_PYTHON=/path/to/python3                  default: /usr/bin/python3 (Debian's)
 *   BENCH_KEEP=1                                   keep the temporary folder
 *
 * Set-up (untimed, in a child process so that it does not count in this process's peak RSS):
 * convert the task, crop, fingerprint and plan it (plans only, no preprocessing), create an
 * initialised model (fold 0, seed 12345) and write each predicted case's preprocessed input to
 * .npy for the Python side. Then, per case and mode (mirroring over all 8 flips, or none), three
 * timed runs, interleaved so that machine noise hits both sides alike:
 *   ours whole   read + crop + preprocess + sliding window + export to .nii.gz (nnUNet_predict's per-case work)
 *   ours window  predictSlidingWindow3D(GenericUNet.forwardLogits) on the preprocessed array
 *   torch window v1's sliding window with the PyTorch network on the same array (no_grad, as v1)
 * The ratio compares the two sliding windows (the network part), which do the same work.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { getNumThreads, setNumThreads } from '@nnunet/torch';
import { loadAndCropCase } from '../src/fingerprint/crop-task.js';
import { writeSegmentation } from '../src/inference/export.js';
import { createInitialisedModel } from '../src/inference/model-folder.js';
import { findInputCases, loadModel, predictCroppedCase } from '../src/inference/predict.js';
import { predictSlidingWindow3D } from '../src/inference/sliding-window.js';
import { convertDecathlonTask } from '../src/io/convert-decathlon.js';
import { readNpy, writeNpy } from '../src/io/npy.js';
import { trainerFolderPath } from '../src/model/layout.js';
import type { Plans } from '../src/model/plans.js';
import { readPlans } from '../src/model/plans.js';
import { planAndPreprocess } from '../src/pipeline/plan-and-preprocess.js';
import { plansFileName } from '../src/planning/plan-from-fingerprint.js';

import { preprocessArrays, settingsFromPlans } from '../src/preprocessing/preprocess.js';
import { product } from '../src/util/shape.js';
import { inScratchFolder, requireMsdTask, requirePositiveInt } from './common.js';

const SEED = 12345;
const STEP = 0.5;
const CONFIGURATION = '3d_fullres';
const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));
const thisScript = fileURLToPath(import.meta.url);
const torchScript = fileURLToPath(new URL('../../bench/predict_torch.py', import.meta.url));
const input = resolve(process.env.BENCH_HIPPOCAMPUS ?? join(repoRoot, 'data', 'Task04_Hippocampus'));
const numCases = Number(process.env.BENCH_CASES ?? 4);
const threads = Number(process.env.BENCH_THREADS ?? availableParallelism());
const python = process.env.BENCH_PYTHON ?? '/usr/bin/python3';

interface Prepared {
  task: string;
  trainerFolder: string;
  plansFile: string;
  weights: string;
  stage: string;
  patch: number[];
  numClasses: number;
  cases: { id: string; files: string[]; input: string; shape: number[] }[];
}

const fmt = (x: number, digits = 2) => x.toFixed(digits);
const seconds = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e9;

// ------------------------------------------------------------------ set-up (child process, untimed)

async function prepare(work: string): Promise<void> {
  const env = {
    ...process.env,
    nnUNet_raw_data_base: join(work, 'nnUNet_raw_data_base'),
    nnUNet_preprocessed: join(work, 'nnUNet_preprocessed'),
    RESULTS_FOLDER: join(work, 'nnUNet_trained_models'),
  };
  for (const k of ['nnUNet_raw_data_base', 'nnUNet_preprocessed', 'RESULTS_FOLDER'] as const)
    mkdirSync(env[k], { recursive: true });
  const t0 = process.hrtime.bigint();
  const converted = await convertDecathlonTask(input, { env });
  const [outcome] = await planAndPreprocess([converted.taskName], {
    env,
    planner2d: null,
    noPreprocessing: true,
    workersFullres: threads,
  });
  if (outcome === undefined) throw new Error('planAndPreprocess returned no task');
  const plans: Plans = readPlans(join(outcome.preprocessedFolder, plansFileName('ExperimentPlanner3D_v21')));
  const trainerFolder = trainerFolderPath(env.RESULTS_FOLDER, CONFIGURATION, converted.taskName);
  createInitialisedModel(plans, trainerFolder, CONFIGURATION, ['0'], { seed: SEED });
  const meta = JSON.parse(readFileSync(join(trainerFolder, 'fold_0', 'model_final_checkpoint.json'), 'utf8')) as {
    stage: string;
  };
  const stagePlan = plans.plans_per_stage[meta.stage];
  if (stagePlan === undefined) throw new Error(`the plans have no stage ${meta.stage}`);
  const modalities = Object.keys(plans.modalities).length;
  // "Validation" cases: the last N of the task's images.
  const all = findInputCases(join(converted.outputFolder, 'imagesTr'), modalities);
  const chosen = all.slice(Math.max(0, all.length - numCases));
  const arrays = join(work, 'arrays');
  mkdirSync(arrays, { recursive: true });
  const cases: Prepared['cases'] = [];
  for (const c of chosen) {
    // The same preprocessing predictCroppedCase applies, written out for the Python side.
    const { cropped, properties } = await loadAndCropCase({ id: c.id, images: c.files, seg: null });
    const pre = preprocessArrays(
      cropped.data,
      cropped.shape,
      properties,
      settingsFromPlans(plans, stagePlan.current_spacing),
    );
    const C = (pre.shape[0] as number) - 1;
    const shape = [C, ...pre.shape.slice(1)];
    const path = join(arrays, `${c.id}_input.npy`);
    writeNpy(path, pre.data.subarray(0, product(shape)), shape);
    cases.push({ id: c.id, files: c.files, input: path, shape });
  }
  const prepared: Prepared = {
    task: converted.taskName,
    trainerFolder,
    plansFile: join(trainerFolder, 'plans.json'),
    weights: join(trainerFolder, 'fold_0', 'model_final_checkpoint.safetensors'),
    stage: meta.stage,
    patch: [...stagePlan.patch_size],
    numClasses: plans.num_classes + 1,
    cases,
  };
  writeFileSync(join(work, 'prepared.json'), JSON.stringify(prepared, null, 1));
  console.log(
    `  set-up (untimed, child process): convert + crop + fingerprint + plan + model + ${cases.length} input arrays in ${fmt(seconds(t0), 1)} s`,
  );
}

// ------------------------------------------------------------------ the Python side

interface TorchReply {
  seconds: number;
  max_abs_diff: number | null;
  shape: number[];
}

interface TorchSide {
  ask(cmd: object): Promise<Record<string, unknown>>;
  ready: Record<string, unknown>;
}

async function startTorch(p: Prepared): Promise<TorchSide | string> {
  if (!existsSync(python)) return `${python} does not exist`;
  const probe = spawnSync(python, ['-c', 'import torch, numpy, scipy'], { stdio: ['ignore', 'ignore', 'pipe'] });
  if (probe.status !== 0) return `${python} cannot import torch, numpy and scipy`;
  const child = spawn(
    python,
    [torchScript, '--plans', p.plansFile, '--stage', p.stage, '--weights', p.weights, '--threads', String(threads)],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async (): Promise<Record<string, unknown>> => {
    const r = await lines.next();
    if (r.done) throw new Error(`${torchScript} exited early (status ${child.exitCode}); see its messages above`);
    return JSON.parse(r.value as string) as Record<string, unknown>;
  };
  const ready = await next();
  return {
    ready,
    ask: (cmd) => {
      child.stdin.write(`${JSON.stringify(cmd)}\n`);
      return next();
    },
  };
}

// ------------------------------------------------------------------ the benchmark

interface Row {
  id: string;
  shape: number[];
  tiles: number;
  /** [mirror, no mirror] */
  whole: [number, number];
  window: [number, number];
  torch: [number, number] | null;
  diff: [number | null, number | null];
}

async function main(): Promise<void> {
  requirePositiveInt('BENCH_CASES', numCases, 4);
  requirePositiveInt('BENCH_THREADS', threads);
  requireMsdTask(input);
  await inScratchFolder('nnunet-bench-predict-', run);
}

async function run(work: string): Promise<void> {
  console.log(`nnU-Net prediction benchmark: ${input}, ${CONFIGURATION} fold 0 (initialised, seed ${SEED}), CPU`);
  console.log(
    `  ${threads} thread(s) on both sides, ${availableParallelism()} logical CPUs (${cpus()[0]?.model ?? 'unknown CPU'}), Node ${process.version}`,
  );
  const prep = spawnSync(process.execPath, [thisScript, '--prepare', work], { stdio: 'inherit' });
  if (prep.status !== 0) throw new Error(`the set-up failed (status ${prep.status ?? prep.signal})`);
  const p = JSON.parse(readFileSync(join(work, 'prepared.json'), 'utf8')) as Prepared;
  console.log(
    `  patch ${p.patch.join('x')}, ${p.numClasses} classes, step ${STEP}, cases ${p.cases.map((c) => c.id).join(', ')}`,
  );

  setNumThreads(threads);
  const model = loadModel(p.trainerFolder, { folds: ['0'] });
  const net = model.nets[0];
  const meta = model.metas[0];
  if (net === undefined || meta === undefined) throw new Error('no network loaded');
  const network = (x: Parameters<typeof net.forwardLogits>[0]) => net.forwardLogits(x);
  const outFolder = join(work, 'predictions');
  mkdirSync(outFolder, { recursive: true });

  const torch = await startTorch(p);
  if (typeof torch === 'string') {
    console.log(
      `  PyTorch reference skipped: ${torch}. Install Debian's python3-torch (apt-get install python3-torch) to compare; only our figures follow.`,
    );
  } else {
    console.log(
      `  PyTorch side ready: ${torch.ready.threads} thread(s), ${torch.ready.parameters} parameters loaded from our checkpoint`,
    );
  }

  const ourWhole = async (c: Prepared['cases'][number], mirror: boolean): Promise<number> => {
    const t0 = process.hrtime.bigint();
    const { cropped, properties } = await loadAndCropCase({ id: c.id, images: c.files, seg: null });
    const r = predictCroppedCase(cropped.data, cropped.shape, properties, model, { mirror, stepSize: STEP });
    await writeSegmentation(r.segmentation, r.shape, properties, join(outFolder, `${c.id}.nii.gz`));
    return seconds(t0);
  };
  const ourWindow = (c: Prepared['cases'][number], mirror: boolean) => {
    const { data, shape } = readNpy(c.input);
    let tiles = 0;
    const t0 = process.hrtime.bigint();
    const r = predictSlidingWindow3D(network, data as Float32Array, shape, {
      patchSize: p.patch,
      numClasses: p.numClasses,
      stepSize: STEP,
      mirrorAxes: mirror ? meta.mirror_axes : [],
      useGaussian: true,
      onProgress: (_d, total) => {
        tiles = total;
      },
    });
    const s = seconds(t0);
    return { seconds: s, tiles, softmax: r.softmax, shape: r.shape };
  };
  const torchWindow = async (c: Prepared['cases'][number], mirror: boolean, compare: string | null) => {
    if (typeof torch === 'string') return null;
    return (await torch.ask({
      op: 'predict',
      input: c.input,
      mirror_axes: mirror ? meta.mirror_axes : [],
      step: STEP,
      compare,
    })) as unknown as TorchReply;
  };

  // Warm-up (untimed): first calls allocate and pick kernels on both sides.
  const first = p.cases[0];
  if (first === undefined) throw new Error('no cases');
  await ourWhole(first, false);
  ourWindow(first, false);
  await torchWindow(first, false, null);

  console.log('');
  const rows: Row[] = [];
  for (const c of p.cases) {
    const row: Row = {
      id: c.id,
      shape: c.shape.slice(1),
      tiles: 0,
      whole: [0, 0],
      window: [0, 0],
      torch: null,
      diff: [null, null],
    };
    for (const [m, mirror] of [true, false].entries()) {
      row.whole[m] = await ourWhole(c, mirror);
      const w = ourWindow(c, mirror);
      row.window[m] = w.seconds;
      row.tiles = w.tiles;
      const ours = join(work, 'arrays', `${c.id}_softmax_ours.npy`);
      writeNpy(ours, w.softmax, w.shape);
      const t = await torchWindow(c, mirror, ours);
      if (t !== null) {
        row.torch ??= [0, 0];
        row.torch[m] = t.seconds;
        row.diff[m] = t.max_abs_diff;
      }
    }
    rows.push(row);
    console.log(
      `  ${c.id}: ours whole ${fmt(row.whole[0])} / ${fmt(row.whole[1])} s, window ${fmt(row.window[0])} / ${fmt(row.window[1])} s` +
        (row.torch ? `; torch window ${fmt(row.torch[0])} / ${fmt(row.torch[1])} s` : ''),
    );
  }
  const ourPeak = process.resourceUsage().maxRSS / 1024;
  let torchPeak: number | null = null;
  let versions = '';
  if (typeof torch !== 'string') {
    const q = await torch.ask({ op: 'quit' });
    torchPeak = q.maxrss_mib as number;
    versions = Object.entries(q.versions as Record<string, string>)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
  }
  for (const n of model.nets) n.dispose();

  // The table.
  const pair = (v: [number, number] | null, digits = 2) => (v ? `${fmt(v[0], digits)} / ${fmt(v[1], digits)}` : '-');
  const ratio = (r: Row): [number, number] | null =>
    r.torch ? [r.window[0] / r.torch[0], r.window[1] / r.torch[1]] : null;
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const meanPair = (get: (r: Row) => [number, number] | null): [number, number] | null => {
    const vs = rows.map(get);
    if (vs.some((v) => v === null)) return null;
    const ok = vs as [number, number][];
    return [mean(ok.map((v) => v[0])), mean(ok.map((v) => v[1]))];
  };
  const maxDiff = (d: number[]) => {
    if (d.length === 0) return '-';
    const m = Math.max(...d);
    return m === 0 ? '0' : m.toExponential(1);
  };
  const diffText = (r: Row) => maxDiff(r.diff.filter((v): v is number => v !== null));
  const table: string[][] = [
    [
      'case',
      'input zyx',
      'tiles',
      'ours whole s',
      'ours window s',
      'torch window s',
      'ratio window ours/torch',
      'max|dp|',
    ],
    ...rows.map((r) => [
      r.id,
      r.shape.join('x'),
      String(r.tiles),
      pair(r.whole),
      pair(r.window),
      pair(r.torch),
      pair(ratio(r)),
      diffText(r),
    ]),
  ];
  const meanRatio = meanPair(ratio);
  const allDiffs = rows.flatMap((r) => r.diff).filter((v): v is number => v !== null);
  table.push([
    'mean',
    '',
    '',
    pair(meanPair((r) => r.whole)),
    pair(meanPair((r) => r.window)),
    pair(meanPair((r) => r.torch)),
    pair(meanRatio),
    maxDiff(allDiffs),
  ]);
  const widths = (table[0] as string[]).map((_, c) => Math.max(...table.map((r) => (r[c] as string).length)));
  const line = (r: string[]) =>
    r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ');
  console.log(
    `\nSeconds per case, mirror (8 flips) / no mirror, ${getNumThreads()} thread(s); ratio < 1 means ours is faster:`,
  );
  console.log(line(table[0] as string[]));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of table.slice(1, -1)) console.log(line(r));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  console.log(line(table[table.length - 1] as string[]));
  console.log(
    '  ours whole: read + crop + preprocess + sliding window + export (.nii.gz); windows: the sliding window alone on the preprocessed array.',
  );
  console.log(
    '  max|dp|: largest |difference| between our and the PyTorch softmax over both modes (same weights, same input; 0 = bit-identical).',
  );
  console.log(
    `\npeak RSS: ours ${fmt(ourPeak, 0)} MiB (process.resourceUsage().maxRSS, prediction process; set-up ran in a child)` +
      (torchPeak !== null ? `; torch ${fmt(torchPeak, 0)} MiB (getrusage RUSAGE_SELF ru_maxrss)` : ''),
  );
  if (versions) console.log(`PyTorch side: ${versions}`);
  if (meanRatio === null) {
    console.log('target (our sliding window no slower than PyTorch): not measured, the PyTorch reference did not run.');
  } else {
    const worst = Math.max(...meanRatio);
    const verdict = worst <= 1.0 ? 'met' : worst <= 1.05 ? 'met within noise (<= 1.05)' : 'NOT met';
    console.log(
      `target (mean ratio ours/torch <= 1.0, 5 % noise allowed): ${verdict} (mirror ${fmt(meanRatio[0])}, no mirror ${fmt(meanRatio[1])})`,
    );
  }
}

if (process.argv[2] === '--prepare') await prepare(process.argv[3] as string);
else await main();
