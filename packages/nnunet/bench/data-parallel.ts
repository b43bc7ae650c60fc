/**
 * Benchmark (prints figures; not a test): data-parallel training on one machine. The training
 * step of a plans stage (dummy batch, as bench:train --plans) on 1 process x T threads against
 * N processes x T/N threads (Gloo over a TCPStore on localhost, the plans' batch split by
 * nnU-Net v2's rule), alternating round by round; samples per second of each, and the gradient
 * all-reduce's share of the data-parallel step.
 *
 *   node packages/nnunet/dist/bench/data-parallel.js --plans FILE [--stage 0] [--iters 3]
 *        [--processes 2] [--threads 2] [--rounds 2] [--precision fp32|bf16]
 *   -> one JSON line per round
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Generator, ProcessGroup, rand, SGD, setNumThreads, tidy } from '@nnunet/torch';
import { readPlans } from '../src/model/plans.js';
import { deepSupervisionLossWeights, deepSupervisionScales } from '../src/network/deep-supervision.js';
import { unetConfigFromPlans } from '../src/network/from-plans.js';
import { GenericUNet } from '../src/network/generic-unet.js';
import { initWeightsHe } from '../src/network/init.js';
import { freeLocalPort } from '../src/pipeline/data-parallel-launch.js';
import { OVERSAMPLE_FOREGROUND_PERCENT } from '../src/training/data-loader.js';
import { globalCountsOver, rankShares } from '../src/training/data-parallel.js';
import { downsampleSegForDeepSupervision } from '../src/training/loss.js';
import { INITIAL_LR, MOMENTUM, WEIGHT_DECAY } from '../src/training/trainer-spec.js';
import { makeStep } from './common.js';

const SELF = fileURLToPath(import.meta.url);
const WARMUP = 1;

interface WorkerResult {
  s_per_it: number;
  allreduce_s_per_it: number;
  batch: number;
}

/** One rank: build the network, join the group, time `iters` steps (and the all-reduce within them). */
async function worker(): Promise<void> {
  const env = process.env;
  const rank = Number(env.DPB_RANK);
  const size = Number(env.DPB_SIZE);
  const iters = Number(env.DPB_ITERS);
  const bf16 = env.DPB_PRECISION === 'bf16';
  setNumThreads(Number(env.DPB_THREADS));
  const plans = readPlans(env.DPB_PLANS as string);
  const stage = env.DPB_STAGE as string;
  const stagePlan = plans.plans_per_stage[stage];
  if (stagePlan === undefined) throw new Error(`no stage ${stage}`);
  const group =
    size > 1
      ? new ProcessGroup({ rank, worldSize: size, store: { tcp: { host: '127.0.0.1', port: Number(env.DPB_PORT) } } })
      : null;
  const batch = (rankShares(stagePlan.batch_size, size, OVERSAMPLE_FOREGROUND_PERCENT)[rank] as { batchSize: number })
    .batchSize;
  const net = new GenericUNet(unetConfigFromPlans(plans, stage, { deepSupervision: true }));
  initWeightsHe(net, { generator: new Generator(1) });
  net.train();
  const optimizer = new SGD(net.parameters(), {
    lr: INITIAL_LR,
    momentum: MOMENTUM,
    nesterov: true,
    weightDecay: WEIGHT_DECAY,
  });
  const scales = deepSupervisionScales(stagePlan.pool_op_kernel_sizes);
  const lossOptions = { batchDice: true, ...(group !== null ? { globalCounts: globalCountsOver(group) } : {}) };
  const gen = new Generator(2 + rank);
  const data = rand([batch, plans.num_modalities, ...stagePlan.patch_size], { generator: gen });
  const targets = tidy(() =>
    downsampleSegForDeepSupervision(
      rand([batch, 1, ...stagePlan.patch_size], { generator: gen })
        .mul(plans.num_classes)
        .round(),
      scales,
    ),
  );
  // The gradient all-reduce runs (and is timed) between backward and clipping, as in training.
  let reduceMs = 0;
  const step = makeStep(
    net,
    optimizer,
    deepSupervisionLossWeights(scales.length),
    lossOptions,
    group === null
      ? null
      : {
          averageGradients: (p) => {
            const t0 = performance.now();
            group.averageGradients(p);
            reduceMs += performance.now() - t0;
          },
        },
  );
  let total = 0;
  for (let i = 0; i < WARMUP + iters; i++) {
    if (i === WARMUP) reduceMs = 0;
    const t0 = performance.now();
    step(data, targets, bf16 ? 'bfloat16' : 'float32');
    if (i >= WARMUP) total += performance.now() - t0;
  }
  group?.destroy();
  if (rank === 0) {
    const r: WorkerResult = { s_per_it: total / iters / 1000, allreduce_s_per_it: reduceMs / iters / 1000, batch };
    process.stdout.write(JSON.stringify(r));
  }
}

function runRanks(size: number, threads: number, o: Record<string, string>): Promise<WorkerResult> {
  return freeLocalPort().then(
    (port) =>
      new Promise((resolve, reject) => {
        let out = '';
        let pending = size;
        for (let rank = 0; rank < size; rank++) {
          const child = spawn(process.execPath, [SELF], {
            stdio: ['ignore', 'pipe', 'inherit'],
            env: {
              ...process.env,
              ...o,
              DPB_WORKER: '1',
              DPB_RANK: String(rank),
              DPB_SIZE: String(size),
              DPB_THREADS: String(threads),
              DPB_PORT: String(port),
            },
          });
          child.stdout.on('data', (d) => (out += d));
          child.on('close', (code) => {
            if (code !== 0) reject(new Error(`rank ${rank} exited with ${code}`));
            else if (--pending === 0) resolve(JSON.parse(out) as WorkerResult);
          });
        }
      }),
  );
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      plans: { type: 'string' },
      stage: { type: 'string', default: '0' },
      iters: { type: 'string', default: '3' },
      processes: { type: 'string', default: '2' },
      threads: { type: 'string', default: '2' },
      rounds: { type: 'string', default: '2' },
      precision: { type: 'string', default: 'fp32' },
    },
  });
  if (values.plans === undefined) {
    console.error('--plans FILE is required (a plans JSON, e.g. nnUNetPlansv2.1_plans_3D.json)');
    process.exit(2);
  }
  const n = Number(values.processes);
  const threads = Number(values.threads);
  const o = {
    DPB_PLANS: values.plans,
    DPB_STAGE: values.stage,
    DPB_ITERS: values.iters,
    DPB_PRECISION: values.precision,
  };
  const globalBatch = readPlans(values.plans).plans_per_stage[values.stage]?.batch_size ?? 0;
  for (let round = 1; round <= Number(values.rounds); round++) {
    const one = await runRanks(1, threads, o);
    const many = await runRanks(n, Math.max(1, Math.floor(threads / n)), o);
    console.log(
      JSON.stringify({
        bench: 'data_parallel',
        round,
        global_batch: globalBatch,
        precision: values.precision,
        one_process: { threads, s_per_it: one.s_per_it, samples_per_s: globalBatch / one.s_per_it },
        [`${n}_processes`]: {
          threads_each: Math.max(1, Math.floor(threads / n)),
          s_per_it: many.s_per_it,
          samples_per_s: globalBatch / many.s_per_it,
          allreduce_s_per_it: many.allreduce_s_per_it,
          allreduce_share: many.allreduce_s_per_it / many.s_per_it,
        },
        date: new Date().toISOString().slice(0, 10),
      }),
    );
  }
}

if (process.env.DPB_WORKER === '1') await worker();
else await main();
