/** What the benchmark scripts share: checking their environment variables and a scratch folder. */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GradScaler, type SGD, type Tensor } from '@nnunet/torch';
import type { GenericUNet } from '../src/network/generic-unet.js';
import type { DcAndCeOptions } from '../src/training/loss.js';
import type { TrainingPrecision } from '../src/training/options.js';
import { optimizationStep, type StepModel } from '../src/training/steps.js';

/** Exits with one sentence unless `value` (read from $name) is a positive integer. */
export function requirePositiveInt(name: string, value: number, example = 2): void {
  if (!Number.isInteger(value) || value < 1) {
    console.error(`${name}=${process.env[name]} is not a positive integer: set it to e.g. ${example}.`);
    process.exit(2);
  }
}

/** Exits with one sentence unless `folder` looks like an MSD task (imagesTr/, dataset.json). */
export function requireMsdTask(folder: string): void {
  if (!existsSync(join(folder, 'imagesTr')) || !existsSync(join(folder, 'dataset.json'))) {
    console.error(`${folder} is not an MSD task folder (imagesTr/, labelsTr/, dataset.json): set BENCH_HIPPOCAMPUS.`);
    process.exit(2);
  }
}

/** Runs `fn` in a fresh temporary folder, removed afterwards unless BENCH_KEEP=1. */
export async function inScratchFolder(prefix: string, fn: (work: string) => Promise<void>): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), prefix));
  try {
    await fn(work);
  } finally {
    if (process.env.BENCH_KEEP === '1') console.log(`\nkept ${work}`);
    else rmSync(work, { recursive: true, force: true });
  }
}

/**
 * training/steps.ts's optimisation step as a function of (data, targets, precision): forward
 * (under autocast for bfloat16 on the CPU and float16 on CUDA, with loss scaling there), deep-
 * supervision Dice + CE, backward, clip at 12, SGD step. `group` averages the gradients after
 * backward (data-parallel). Returns the loss.
 */
export function makeStep(
  net: GenericUNet,
  optimizer: SGD,
  dsWeights: readonly number[],
  lossOptions: DcAndCeOptions,
  group: StepModel['group'] = null,
): (data: Tensor, targets: readonly Tensor[], precision?: TrainingPrecision) => number {
  const gradScaler = new GradScaler();
  return (data, targets, precision = 'float32') =>
    optimizationStep(
      { net, optimizer, dsWeights: [...dsWeights], lossOptions, precision, gradScaler, group },
      data,
      targets,
    );
}
