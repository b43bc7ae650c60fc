/**
 * Benchmark (prints figures; not a test): the training iteration of nnUNetTrainerV2 on the CPU,
 * in nnU-Net v1's own framing (its nnUNetTrainerV2_dummyLoad benchmark):
 *
 *   (a) an iteration with real data (background BatchProducer workers running the loader and the
 *       train-transform augmentation, as nnUNet_train does) against an iteration on dummy data (a
 *       fixed random batch reused: no loading, no augmentation). Target: real / dummy <= 1.10, i.e.
 *       the workers hide the augmentation behind the step.
 *   (b) the dummy iteration (forward + Dice/CE deep-supervision loss + backward + gradient clipping
 *       + SGD step) against the same step in Debian's python3-torch (bench/train_torch.py: an
 *       independent re-statement of v1's Generic_UNet, DC_and_CE_loss and MultipleOutputLoss2,
 *       built from the same plans). Target: ours / torch <= 1.0 (5 % noise allowed).
 *
 * The task is MSD Task04_Hippocampus, 3d_fullres (patch [40, 56, 40] for the full task), with the
 * batch size forced to 7, v1's planned batch size for the full 200-case task (the bundled
 * 32-case subset would plan a different one), so that the step is v1's step.
 *
 *   npm run bench:train -w nnunet    (after the build)
 *   BENCH_ITERS=N                                  timed iterations per loop, after 2 warm-up ones (default 10)
 *   BENCH_WORKERS=N                                batch-producer worker threads for the real loop (default 1)
 *   BENCH_THREADS=N                                intra-op threads of the step, both sides (default 2)
 *   BENCH_BATCH=N                                  batch size, both sides (default 7)
 *   BENCH_HIPPOCAMPUS=/path/to/Task04_Hippocampus  default: the bundled 32-case subset in data/
 *   BENCH_PYTHON=/path/to/python3                  default: /usr/bin/python3 (Debian's)
 *   BENCH_KEEP=1                                   keep the temporary folder
 *
 * Set-up (untimed): convert, plan and preprocess the task (3-D planner only) in a temporary folder.
 * Then: our dummy loop, the PyTorch dummy loop (a separate process, run while ours is idle), our
 * real loop, and, for context, the batch producer alone (no step) to show what one augmented batch
 * costs. Every loop runs its warm-up iterations first and reports the mean of the timed ones.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Generator, getNumThreads, rand, SGD, setNumThreads, tidy } from '@nnunet/torch';
import { convertDecathlonTask } from '../src/io/convert-decathlon.js';
import { defaultMirrorAxes, stageForConfiguration } from '../src/model/layout.js';
import type { Plans } from '../src/model/plans.js';
import { readPlans } from '../src/model/plans.js';
import { deepSupervisionLossWeights, deepSupervisionScales } from '../src/network/deep-supervision.js';
import { unetConfigFromPlans } from '../src/network/from-plans.js';
import { GenericUNet } from '../src/network/generic-unet.js';
import { initWeightsHe } from '../src/network/init.js';
import { planAndPreprocess } from '../src/pipeline/plan-and-preprocess.js';
import { plansFileName } from '../src/planning/plan-from-fingerprint.js';
import { type AugmentationParams, trainerV2AugmentationParams } from '../src/training/augmentation/index.js';
import { BatchProducer } from '../src/training/batch-producer.js';
import { loadDataset } from '../src/training/data-loader.js';
import { batchDiceFor, downsampleSegForDeepSupervision } from '../src/training/loss.js';
import { INITIAL_LR, MOMENTUM, WEIGHT_DECAY } from '../src/training/trainer-spec.js';
import { inScratchFolder, makeStep, requireMsdTask, requirePositiveInt } from './common.js';
import { trainStepBench } from './train-step.js';

const SEED = 12345;
const WARMUP = 2;
const EPOCH_ITERS = 250;
const CONFIGURATION = '3d_fullres';
const PLANNER = 'ExperimentPlanner3D_v21';
const TARGET_REAL_OVER_DUMMY = 1.1;
const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));
const torchScript = fileURLToPath(new URL('../../bench/train_torch.py', import.meta.url));
const transformModule = new URL('../src/training/train-transform.js', import.meta.url);
const input = resolve(process.env.BENCH_HIPPOCAMPUS ?? join(repoRoot, 'data', 'Task04_Hippocampus'));
const iters = Number(process.env.BENCH_ITERS ?? 10);
const workers = Number(process.env.BENCH_WORKERS ?? 1);
const threads = Number(process.env.BENCH_THREADS ?? 2);
const batchSize = Number(process.env.BENCH_BATCH ?? 7);
const python = process.env.BENCH_PYTHON ?? '/usr/bin/python3';

const tty = process.stdout.isTTY === true;
const fmt = (x: number, digits = 0) => x.toFixed(digits);
const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

interface LoopResult {
  /** Mean milliseconds per timed iteration. */
  ms: number;
  min: number;
  max: number;
  /** Mean milliseconds per timed iteration spent waiting for the next batch (real loop only). */
  waitMs: number;
  meanLoss: number;
}

interface TorchResult {
  ms_per_iter: number;
  min_ms: number;
  max_ms: number;
  mean_loss: number;
  threads: number;
  parameters: number;
  versions: Record<string, string>;
}

/** Runs `iteration` WARMUP + iters times; `iteration` returns the loss and the ms it waited for data. */
async function timeLoop(
  label: string,
  iteration: () => Promise<{ loss: number; waitMs: number }> | { loss: number; waitMs: number },
): Promise<LoopResult> {
  const times: number[] = [];
  const waits: number[] = [];
  const losses: number[] = [];
  for (let i = 0; i < WARMUP + iters; i++) {
    const t0 = performance.now();
    const { loss, waitMs } = await iteration();
    const ms = performance.now() - t0;
    if (tty)
      process.stdout.write(
        `\r  ${label}: ${i < WARMUP ? `warm-up ${i + 1}/${WARMUP}` : `${i + 1 - WARMUP}/${iters}`}, last ${fmt(ms)} ms      `,
      );
    if (i < WARMUP) continue;
    times.push(ms);
    waits.push(waitMs);
    losses.push(loss);
  }
  const r = { ms: mean(times), min: Math.min(...times), max: Math.max(...times), waitMs: mean(waits) };
  process.stdout.write(
    `${tty ? '\r' : ''}  ${label}: ${fmt(r.ms)} ms per iteration (min ${fmt(r.min)}, max ${fmt(r.max)})${r.waitMs > 0 ? `, waiting for batches ${fmt(r.waitMs)} ms` : ''}\n`,
  );
  return { ...r, meanLoss: mean(losses) };
}

function runTorch(plansFile: string, stage: string, batchDice: boolean): TorchResult | string {
  if (!existsSync(python)) return `${python} does not exist`;
  const probe = spawnSync(python, ['-c', 'import torch, numpy'], { stdio: ['ignore', 'ignore', 'pipe'] });
  if (probe.status !== 0) return `${python} cannot import torch and numpy`;
  const args = [
    torchScript,
    '--plans',
    plansFile,
    '--stage',
    stage,
    '--batch',
    String(batchSize),
    '--threads',
    String(threads),
    '--iters',
    String(iters),
    '--warmup',
    String(WARMUP),
    '--batch-dice',
    batchDice ? '1' : '0',
    '--seed',
    String(SEED),
  ];
  const r = spawnSync(python, args, { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
  if (r.status !== 0) return `${torchScript} failed (status ${r.status ?? r.signal}; see its messages above)`;
  const last = r.stdout.trim().split('\n').at(-1) ?? '';
  return JSON.parse(last) as TorchResult;
}

async function main(): Promise<void> {
  requirePositiveInt('BENCH_ITERS', iters);
  requirePositiveInt('BENCH_WORKERS', workers);
  requirePositiveInt('BENCH_THREADS', threads);
  requirePositiveInt('BENCH_BATCH', batchSize);
  requireMsdTask(input);
  await inScratchFolder('nnunet-bench-train-', run);
}

async function run(work: string): Promise<void> {
  console.log(`nnU-Net training-iteration benchmark: ${input}, ${CONFIGURATION}, nnUNetTrainerV2's step, CPU`);
  console.log(
    `  ${threads} intra-op thread(s) on both sides, ${workers} batch worker(s), ${availableParallelism()} logical CPUs (${cpus()[0]?.model ?? 'unknown CPU'}), Node ${process.version}`,
  );

  // ---------------------------------------------------------------- set-up (untimed)
  const env = {
    ...process.env,
    nnUNet_raw_data_base: join(work, 'nnUNet_raw_data_base'),
    nnUNet_preprocessed: join(work, 'nnUNet_preprocessed'),
    RESULTS_FOLDER: join(work, 'nnUNet_trained_models'),
  };
  for (const k of ['nnUNet_raw_data_base', 'nnUNet_preprocessed', 'RESULTS_FOLDER'] as const)
    mkdirSync(env[k], { recursive: true });
  const t0 = performance.now();
  const converted = await convertDecathlonTask(input, { env });
  const [outcome] = await planAndPreprocess([converted.taskName], {
    env,
    planner2d: null,
    workersFullres: availableParallelism(),
    workersLowres: availableParallelism(),
  });
  if (outcome === undefined) throw new Error('planAndPreprocess returned no task');
  const plansFile = join(outcome.preprocessedFolder, plansFileName(PLANNER));
  const plans: Plans = readPlans(plansFile);
  const stage = stageForConfiguration(plans, CONFIGURATION);
  const stagePlan = plans.plans_per_stage[stage];
  if (stagePlan === undefined) throw new Error(`the plans have no stage ${stage}`);
  const dataFolder = join(outcome.preprocessedFolder, `${plans.data_identifier}_stage${stage}`);
  const dataset = loadDataset(dataFolder);
  console.log(
    `  set-up (untimed): convert + crop + fingerprint + plan + preprocess ${dataset.length} cases in ${fmt((performance.now() - t0) / 1000, 1)} s`,
  );
  const patch = [...stagePlan.patch_size];
  console.log(
    `  stage ${stage}: patch ${patch.join('x')}, planned batch ${stagePlan.batch_size}, used batch ${batchSize}, ${plans.num_classes + 1} classes, pools ${JSON.stringify(stagePlan.pool_op_kernel_sizes)}`,
  );

  // ---------------------------------------------------------------- the network, as trainer.ts builds it
  setNumThreads(threads);
  const config = unetConfigFromPlans(plans, stage, { deepSupervision: true });
  const net = new GenericUNet(config);
  initWeightsHe(net, { generator: new Generator(SEED) });
  const params = net.parameters();
  const optimizer = new SGD(params, { lr: INITIAL_LR, momentum: MOMENTUM, nesterov: true, weightDecay: WEIGHT_DECAY });
  const dsScales = deepSupervisionScales(stagePlan.pool_op_kernel_sizes);
  const dsWeights = deepSupervisionLossWeights(dsScales.length);
  const batchDice = batchDiceFor(CONFIGURATION, plans.num_stages);
  const lossOptions = { batchDice };
  net.train();
  const numParams = params.reduce((a, p) => a + p.numel, 0);
  console.log(
    `  network: ${numParams} parameters, ${dsScales.length} deep-supervision outputs (weights ${dsWeights.map((w) => fmt(w, 3)).join(', ')}), ${batchDice ? 'batch' : 'sample'} Dice + CE`,
  );

  /** trainer.ts's step on one batch (training/steps.ts), in float32 or under CPU bf16 autocast; returns the loss. */
  const step = makeStep(net, optimizer, dsWeights, lossOptions);

  console.log('');
  // ---------------------------------------------------------------- (1) dummy loop
  // v1's nnUNetTrainerV2_dummyLoad: one random batch (uniform data, labels round(U * (C - 1)))
  // and its deep-supervision targets, made once and reused for every iteration.
  const gen = new Generator(SEED);
  const modalities = plans.num_modalities;
  const dummyData = rand([batchSize, modalities, ...patch], { generator: gen });
  const dummyTargets = tidy(() => {
    const seg = rand([batchSize, 1, ...patch], { generator: gen })
      .mul(plans.num_classes)
      .round();
    return downsampleSegForDeepSupervision(seg, dsScales);
  });
  const dummy = await timeLoop('ours dummy', () => ({ loss: step(dummyData, dummyTargets), waitMs: 0 }));
  // The same step in float32 and under bf16 autocast, alternating (--precision bf16 of nnUNet_train).
  const precision = { float32: [] as number[], bfloat16: [] as number[] };
  for (let i = 0; i < WARMUP + iters; i++) {
    for (const p of ['float32', 'bfloat16'] as const) {
      const t0 = performance.now();
      step(dummyData, dummyTargets, p);
      if (i >= WARMUP) precision[p].push(performance.now() - t0);
    }
  }
  const meanMs = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
  console.log(
    `  ours dummy, alternating: float32 ${fmt(meanMs(precision.float32))} ms, bf16 autocast ${fmt(meanMs(precision.bfloat16))} ms per iteration (${fmt(meanMs(precision.bfloat16) / meanMs(precision.float32), 3)}x)`,
  );
  console.log(
    JSON.stringify({
      bench: 'train_step_precision',
      float32_s: meanMs(precision.float32) / 1000,
      bfloat16_s: meanMs(precision.bfloat16) / 1000,
      ratio: meanMs(precision.bfloat16) / meanMs(precision.float32),
      threads,
      batch: batchSize,
      patch,
      date: new Date().toISOString().slice(0, 10),
    }),
  );
  dummyData.dispose();
  for (const t of dummyTargets) t.dispose();

  // ---------------------------------------------------------------- (b) the PyTorch dummy loop
  const torch = runTorch(plansFile, stage, batchDice);
  if (typeof torch === 'string') {
    console.log(
      `  PyTorch reference skipped: ${torch}. Install Debian's python3-torch (apt-get install python3-torch) to compare; only our figures follow.`,
    );
  } else {
    console.log(
      `  torch dummy: ${fmt(torch.ms_per_iter)} ms per iteration (min ${fmt(torch.min_ms)}, max ${fmt(torch.max_ms)}), ${torch.threads} thread(s), ${torch.parameters} parameters`,
    );
  }

  // ---------------------------------------------------------------- (2) real loop
  // trainer.ts's training producer: v1's loader (basic generator patch, foreground oversampling)
  // and nnUNetTrainerV2's augmentation in the workers; deep-supervision targets on the main thread.
  const basic = trainerV2AugmentationParams({
    patchSize: stagePlan.patch_size,
    doDummy2DAug: stagePlan.do_dummy_2D_data_aug,
    useMaskForNorm: Object.keys(plans.modalities).map((k) => plans.use_mask_for_norm[k] === true),
  });
  const augParams: AugmentationParams = {
    ...basic.params,
    mirror: { enabled: true, axes: defaultMirrorAxes(plans, stage) },
  };
  const loader = { dim: 3 as const, patchSize: basic.basicGeneratorPatchSize, finalPatchSize: patch, batchSize };
  const makeProducer = (seed: number) =>
    new BatchProducer({
      dataset,
      loader,
      seed,
      workers,
      transform: { module: transformModule, options: { params: augParams } },
    });
  const producer = makeProducer(SEED);
  let real: LoopResult;
  try {
    real = await timeLoop('ours real', async () => {
      const w0 = performance.now();
      const batch = await producer.next();
      const waitMs = performance.now() - w0;
      try {
        const loss = tidy(() => {
          const targets = downsampleSegForDeepSupervision(batch.tensor('seg'), dsScales);
          return step(batch.tensor('data'), targets);
        });
        return { loss, waitMs };
      } finally {
        batch.release();
      }
    });
  } finally {
    await producer.close();
  }

  // ---------------------------------------------------------------- context: the producer alone
  // A fresh producer, its first batch (start-up) untimed, then batches taken as fast as they come
  // with the main thread idle: what one augmented batch costs with these workers and threads.
  const alone = makeProducer((SEED + 1) >>> 0);
  const aloneCount = Math.min(iters, 5);
  let aloneMs: number;
  try {
    (await alone.next()).release();
    const a0 = performance.now();
    for (let i = 0; i < aloneCount; i++) (await alone.next()).release();
    aloneMs = (performance.now() - a0) / aloneCount;
  } finally {
    await alone.close();
  }
  console.log(`  producer alone (no step): ${fmt(aloneMs)} ms per augmented batch over ${aloneCount} batches`);
  net.dispose();

  // ---------------------------------------------------------------- the table
  const realOverDummy = real.ms / dummy.ms;
  const oursOverTorch = typeof torch === 'string' ? null : dummy.ms / torch.ms_per_iter;
  const epoch = (ms: number) => fmt((ms * EPOCH_ITERS) / 1000, 0);
  const table: string[][] = [
    ['loop', 'ms/iteration', `s/epoch (${EPOCH_ITERS} it)`, 'ratio', 'target'],
    ['ours dummy', fmt(dummy.ms), epoch(dummy.ms), '', ''],
    [
      'ours real',
      fmt(real.ms),
      epoch(real.ms),
      `real/dummy ${fmt(realOverDummy, 2)}`,
      `<= ${fmt(TARGET_REAL_OVER_DUMMY, 2)}`,
    ],
    typeof torch === 'string'
      ? ['torch dummy', '-', '-', 'ours/torch -', '<= 1.00']
      : [
          'torch dummy',
          fmt(torch.ms_per_iter),
          epoch(torch.ms_per_iter),
          `ours/torch ${fmt(oursOverTorch as number, 2)}`,
          '<= 1.00',
        ],
  ];
  const widths = (table[0] as string[]).map((_, c) => Math.max(...table.map((r) => (r[c] as string).length)));
  const line = (r: string[]) =>
    r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ');
  console.log(
    `\nTraining iteration, ${CONFIGURATION} patch ${patch.join('x')}, batch ${batchSize}, ${getNumThreads()} intra-op thread(s), mean of ${iters} after ${WARMUP} warm-up:`,
  );
  console.log(line(table[0] as string[]));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of table.slice(1)) console.log(line(r));
  console.log(
    `  dummy: one fixed random batch reused (v1's nnUNetTrainerV2_dummyLoad); real: BatchProducer with ${workers} worker(s) running the loader and nnUNetTrainerV2's augmentation, deep-supervision targets on the main thread.`,
  );
  console.log(
    `  real loop waited ${fmt(real.waitMs)} ms per iteration for batches; one augmented batch alone takes ${fmt(aloneMs)} ms.`,
  );
  console.log(
    `  mean loss: ours dummy ${fmt(dummy.meanLoss, 3)}, ours real ${fmt(real.meanLoss, 3)}${typeof torch === 'string' ? '' : `, torch dummy ${fmt(torch.mean_loss, 3)} (different random numbers; a sanity check only)`}`,
  );
  if (typeof torch !== 'string') {
    console.log(
      `  PyTorch side: ${Object.entries(torch.versions)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}`,
    );
  }
  const verdictA = realOverDummy <= TARGET_REAL_OVER_DUMMY ? 'met' : 'NOT met';
  const verdictB =
    oursOverTorch === null
      ? 'not measured (no PyTorch reference)'
      : oursOverTorch <= 1.0
        ? 'met'
        : oursOverTorch <= 1.05
          ? 'met within noise (<= 1.05)'
          : 'NOT met';
  console.log(
    `\ntargets: (a) real/dummy <= ${fmt(TARGET_REAL_OVER_DUMMY, 2)}: ${verdictA} (${fmt(realOverDummy, 2)}); (b) ours/torch dummy step <= 1.00: ${verdictB}${oursOverTorch === null ? '' : ` (${fmt(oursOverTorch, 2)})`}`,
  );
}

// With arguments (--plans FILE ...): our step alone, see bench/train-step.ts.
if (process.argv.length > 2) await trainStepBench(process.argv.slice(2));
else await main();
