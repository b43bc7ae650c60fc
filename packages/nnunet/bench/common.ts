/** What the benchmark scripts share: checking their environment variables and a scratch folder. */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { autocast, clipGradNorm_, type SGD, type Tensor, tidy } from '@nnunet/torch';
import type { GenericUNet } from '../src/network/generic-unet.js';
import { type DcAndCeOptions, deepSupervisionLoss } from '../src/training/loss.js';
import { GRAD_CLIP_NORM } from '../src/training/trainer-spec.js';

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
 * training/steps.ts's step as a function of (data, targets): forward (under CPU bf16 autocast when
 * asked, outputs cast back to float32), deep-supervision Dice + CE, backward, clip at 12, SGD step.
 * Returns the loss.
 */
export function makeStep(
  net: GenericUNet,
  optimizer: SGD,
  dsWeights: readonly number[],
  lossOptions: DcAndCeOptions,
  /** Runs between backward and clipping (data-parallel: the gradient all-reduce). */
  afterBackward?: () => void,
): (data: Tensor, targets: readonly Tensor[], bf16?: boolean) => number {
  const params = net.parameters();
  return (data, targets, bf16 = false) =>
    tidy(() => {
      const outputs = bf16
        ? (autocast('cpu', () => net.forward(data)) as Tensor[]).map((o) => o.to('float32'))
        : (net.forward(data) as Tensor[]);
      const loss = deepSupervisionLoss(outputs, targets, dsWeights, lossOptions);
      optimizer.zeroGrad();
      loss.backward();
      afterBackward?.();
      clipGradNorm_(params, GRAD_CLIP_NORM);
      optimizer.step();
      return loss.item();
    });
}
