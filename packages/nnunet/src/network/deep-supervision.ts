/**
 * Deep-supervision bookkeeping of nnUNetTrainerV2: how much each decoder output counts in the
 * loss, and at which scale the target is downsampled for each output. Outputs are ordered as
 * GenericUNet returns them: full resolution first.
 */
import { NnunetError } from '../errors.js';

/**
 * Loss weight per deep-supervision output (nnUNetTrainerV2.initialize): 1 / 2^i for output i,
 * the lowest-resolution output masked to 0, then normalised to sum 1. numOutputs is the number of
 * pool steps (= decoder levels). Example, 3 outputs: [2/3, 1/3, 0].
 */
export function deepSupervisionLossWeights(numOutputs: number): number[] {
  if (!Number.isInteger(numOutputs) || numOutputs < 1) {
    throw new NnunetError('ERR_ARGUMENT', `deepSupervisionLossWeights: numOutputs must be >= 1, got ${numOutputs}`);
  }
  // The first output is always kept, even when it is also the last one.
  const raw = Array.from({ length: numOutputs }, (_, i) => (i > 0 && i === numOutputs - 1 ? 0 : 1 / 2 ** i));
  const sum = raw.reduce((a, b) => a + b, 0);
  return raw.map((w) => w / sum);
}

/**
 * Per output, the factor per spatial axis by which the target is downsampled
 * (nnUNetTrainerV2.setup_DA_params' deep_supervision_scales): 1 for the full-resolution output,
 * then 1 / the running product of the pool kernels, one entry per pool step except the last.
 * poolOpKernelSizes: the stage's pool_op_kernel_sizes, (z, y, x) or (y, x).
 * v1 writes the first entry as [1, 1, 1] also for 2-D networks; here it has one value per axis.
 */
export function deepSupervisionScales(poolOpKernelSizes: readonly (readonly number[])[]): number[][] {
  const first = poolOpKernelSizes[0];
  if (first === undefined) {
    throw new NnunetError('ERR_ARGUMENT', 'deepSupervisionScales: poolOpKernelSizes needs at least one pool step');
  }
  for (const kernel of poolOpKernelSizes) {
    if (kernel.length !== first.length || !kernel.every((k) => Number.isInteger(k) && k >= 1)) {
      throw new NnunetError(
        'ERR_ARGUMENT',
        `deepSupervisionScales: every pool kernel needs ${first.length} positive integers, got [${kernel.join(', ')}]`,
      );
    }
  }
  const running = first.map(() => 1);
  const scales: number[][] = [running.map(() => 1)];
  for (const kernel of poolOpKernelSizes.slice(0, -1)) {
    kernel.forEach((k, a) => {
      running[a] = (running[a] as number) * k;
    });
    scales.push(running.map((p) => 1 / p));
  }
  return scales;
}
