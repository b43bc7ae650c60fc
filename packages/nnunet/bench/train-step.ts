/**
 * Benchmark (prints figures; not a test): our training step alone on a dummy batch for any plans
 * file, so that it can be paired with nnU-Net v1's own step (bench/train-vs-v1.sh) or profiled.
 *
 *   npm run --silent bench:train -w nnunet -- --plans FILE --stage S --iters N --json
 *     -> {"dummy_s_per_it": ..., ...}
 *
 * Options: --batch B (default: the plans' batch size) --threads T (default 2) --warmup N (2)
 *   --device cpu|cuda (default cpu; the data and network live there)
 *   --precision fp32|bf16|fp16 (default fp32; bf16 is the CPU's autocast, fp16 CUDA's with loss
 *   scaling) --format contiguous|channels_last (default contiguous)
 *   --profile FILE: after the timed iterations, one more step recorded by LibTorch's profiler into
 *   FILE (a Chrome trace), and the ops with the most self time printed to stderr.
 *
 * The step is training/steps.ts's: forward (under autocast for bf16 and fp16), deep-supervision
 * Dice + CE in float32, backward, gradient clipping at 12, SGD with Nesterov momentum. The batch is
 * v1's dummy batch (nnUNetTrainerV2_dummyLoad): data U[0, 1), labels round(U * (classes - 1)).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { cuda, Generator, type MemoryFormat, profile, rand, SGD, setNumThreads, tidy } from '@nnunet/torch';
import { readPlans } from '../src/model/plans.js';
import { deepSupervisionLossWeights, deepSupervisionScales } from '../src/network/deep-supervision.js';
import { unetConfigFromPlans } from '../src/network/from-plans.js';
import { GenericUNet } from '../src/network/generic-unet.js';
import { initWeightsHe } from '../src/network/init.js';
import { downsampleSegForDeepSupervision } from '../src/training/loss.js';
import { INITIAL_LR, MOMENTUM, WEIGHT_DECAY } from '../src/training/trainer-spec.js';
import { makeStep } from './common.js';

const SEED = 12345;
const PRECISIONS = { fp32: 'float32', bf16: 'bfloat16', fp16: 'float16' } as const;

function fail(sentence: string): never {
  console.error(sentence);
  process.exit(2);
}

function positiveInt(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) fail(`--${name} ${raw} is not a positive integer.`);
  return n;
}

export async function trainStepBench(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      plans: { type: 'string' },
      stage: { type: 'string', default: '0' },
      iters: { type: 'string' },
      warmup: { type: 'string' },
      batch: { type: 'string' },
      threads: { type: 'string' },
      precision: { type: 'string', default: 'fp32' },
      device: { type: 'string', default: 'cpu' },
      format: { type: 'string', default: 'contiguous' },
      profile: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  if (values.plans === undefined)
    fail('--plans FILE is required (a plans JSON file, e.g. nnUNetPlansv2.1_plans_3D.json).');
  const precision = PRECISIONS[values.precision as keyof typeof PRECISIONS];
  if (precision === undefined) fail(`--precision ${values.precision} is not fp32, bf16 or fp16.`);
  const device = values.device;
  if (device !== 'cpu' && device !== 'cuda') fail(`--device ${device} is not cpu or cuda.`);
  if (device === 'cuda' && !cuda.isAvailable()) fail('--device cuda: this LibTorch sees no CUDA device.');
  if ((precision === 'float16') !== (device === 'cuda') && precision !== 'float32')
    fail(`--precision ${values.precision} does not run on ${device} (bf16 is the CPU's, fp16 CUDA's).`);
  if (values.format !== 'contiguous' && values.format !== 'channels_last')
    fail(`--format ${values.format} is not contiguous or channels_last.`);
  const plans = readPlans(values.plans);
  const stagePlan = plans.plans_per_stage[values.stage];
  if (stagePlan === undefined)
    fail(`${values.plans} has no stage ${values.stage} (stages: ${Object.keys(plans.plans_per_stage).join(', ')}).`);
  const iters = positiveInt('iters', values.iters, 5);
  const warmup = values.warmup === '0' ? 0 : positiveInt('warmup', values.warmup, 2);
  const batch = positiveInt('batch', values.batch, stagePlan.batch_size);
  const threads = positiveInt('threads', values.threads, 2);
  const patch = [...stagePlan.patch_size];
  const format: MemoryFormat =
    values.format === 'channels_last' ? (patch.length === 3 ? 'channels_last_3d' : 'channels_last') : 'contiguous';

  setNumThreads(threads);
  const net = new GenericUNet(unetConfigFromPlans(plans, values.stage, { deepSupervision: true }));
  initWeightsHe(net, { generator: new Generator(SEED) });
  if (device === 'cuda') {
    net.to('cuda');
    cuda.setCudnnBenchmark(true); // as nnUNet_train (and v1) train
  }
  if (format !== 'contiguous') net.toMemoryFormat(format);
  net.train();
  const params = net.parameters();
  const optimizer = new SGD(params, { lr: INITIAL_LR, momentum: MOMENTUM, nesterov: true, weightDecay: WEIGHT_DECAY });
  const dsScales = deepSupervisionScales(stagePlan.pool_op_kernel_sizes);
  const dsWeights = deepSupervisionLossWeights(dsScales.length);
  // v1's trainer uses batch Dice for 3d_fullres of a one-stage task and 2d; a benchmark keeps it on.
  const lossOptions = { batchDice: true };

  const gen = new Generator(SEED);
  const data = tidy(() => {
    const d = rand([batch, plans.num_modalities, ...patch], { generator: gen }).to(device);
    return format === 'contiguous' ? d : d.contiguous(format);
  });
  const targets = tidy(() => {
    const seg = rand([batch, 1, ...patch], { generator: gen })
      .mul(plans.num_classes)
      .round()
      .to(device);
    return downsampleSegForDeepSupervision(seg, dsScales);
  });

  const trainStep = makeStep(net, optimizer, dsWeights, lossOptions);
  // The loss is read back every step (as nnUNet_train does), which waits for CUDA's queue.
  const step = () => trainStep(data, targets, precision);

  const times: number[] = [];
  for (let i = 0; i < warmup + iters; i++) {
    const t0 = performance.now();
    step();
    if (i >= warmup) times.push((performance.now() - t0) / 1000);
    if (!values.json)
      process.stderr.write(`  step ${i + 1}/${warmup + iters}: ${((performance.now() - t0) / 1000).toFixed(2)} s\n`);
  }
  if (values.profile !== undefined) {
    profile(values.profile, step);
    printTopOps(values.profile, 20);
  }
  const mean = times.reduce((a, b) => a + b, 0) / times.length;
  const result = {
    dummy_s_per_it: Number(mean.toFixed(4)),
    min_s: Number(Math.min(...times).toFixed(4)),
    max_s: Number(Math.max(...times).toFixed(4)),
    iters,
    batch,
    patch,
    threads,
    precision: values.precision,
    device,
    format: values.format,
  };
  if (values.json) console.log(JSON.stringify(result));
  else console.log(`our step: ${mean.toFixed(3)} s per iteration (${JSON.stringify(result)})`);
}

interface TraceEvent {
  name: string;
  ph: string;
  ts: number;
  dur?: number;
  tid: number | string;
}

/**
 * Self time per op name from a LibTorch Chrome trace: an op's duration minus that of the ops
 * directly nested in it on the same thread. Printed to stderr, most expensive first.
 */
export function printTopOps(tracePath: string, top: number): void {
  const events = (JSON.parse(readFileSync(tracePath, 'utf8')) as TraceEvent[]).filter(
    (e) => e.ph === 'X' && typeof e.dur === 'number',
  );
  const byThread = new Map<string, TraceEvent[]>();
  for (const e of events) {
    const list = byThread.get(String(e.tid)) ?? [];
    list.push(e);
    byThread.set(String(e.tid), list);
  }
  const self = new Map<string, { us: number; calls: number }>();
  let total = 0;
  for (const list of byThread.values()) {
    list.sort((a, b) => a.ts - b.ts || (b.dur ?? 0) - (a.dur ?? 0));
    const open: { e: TraceEvent; children: number }[] = [];
    const close = () => {
      const o = open.pop();
      if (o === undefined) return;
      const s = (o.e.dur ?? 0) - o.children;
      const entry = self.get(o.e.name) ?? { us: 0, calls: 0 };
      entry.us += s;
      entry.calls += 1;
      self.set(o.e.name, entry);
      total += s;
    };
    for (const e of list) {
      while (open.length > 0) {
        const top = open[open.length - 1];
        if (top !== undefined && e.ts >= top.e.ts + (top.e.dur ?? 0)) close();
        else break;
      }
      const parent = open[open.length - 1];
      if (parent !== undefined) parent.children += e.dur ?? 0;
      open.push({ e, children: 0 });
    }
    while (open.length > 0) close();
  }
  const rows = [...self.entries()].sort((a, b) => b[1].us - a[1].us).slice(0, top);
  process.stderr.write(`top ops by self time (${tracePath}; total ${(total / 1e6).toFixed(3)} s):\n`);
  for (const [name, { us, calls }] of rows)
    process.stderr.write(
      `  ${(us / 1e6).toFixed(3).padStart(7)} s  ${((100 * us) / total).toFixed(1).padStart(5)} %  ${String(calls).padStart(5)} calls  ${name}\n`,
    );
}
