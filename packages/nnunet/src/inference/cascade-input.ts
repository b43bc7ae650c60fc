/**
 * The input of the cascade's full-resolution network (3d_cascade_fullres): the modalities followed
 * by one channel per foreground label of the 3d_lowres segmentation. Training builds its patches and
 * prediction its cases with these functions, so both feed the network the same channels.
 */
import { NnunetError } from '../errors.js';
import type { Plans } from '../model/plans.js';
import { product } from '../util/shape.js';

/** The foreground labels whose one-hot channels the cascade network takes (v1: 1 .. num_classes). */
export function cascadeLabels(plans: Pick<Plans, 'num_classes'>): number[] {
  return Array.from({ length: plans.num_classes }, (_, i) => i + 1);
}

/** v1's to_one_hot: one channel per entry of `labels` ([L, ...] with L = labels.length). */
export function oneHot(seg: ArrayLike<number>, labels: readonly number[]): Float32Array {
  const n = seg.length;
  const out = new Float32Array(labels.length * n);
  labels.forEach((label, k) => {
    for (let i = 0; i < n; i++) if (seg[i] === label) out[k * n + i] = 1;
  });
  return out;
}

/**
 * Appends the one-hot channels of a previous-stage label map (`prev`, the case's spatial shape) to
 * data [C, ...spatial]: returns [C + labels.length, ...spatial].
 */
export function appendOneHot(
  data: Float32Array,
  shape: readonly number[],
  prev: ArrayLike<number>,
  labels: readonly number[],
): { data: Float32Array; shape: number[] } {
  const [C, ...spatial] = shape as [number, ...number[]];
  const n = product(spatial);
  if (prev.length !== n)
    throw new NnunetError(
      'ERR_DATASET',
      `The previous stage's segmentation has ${prev.length} voxels, the case ${n} ([${spatial.join(', ')}]).`,
    );
  const out = new Float32Array((C + labels.length) * n);
  out.set(data.subarray(0, C * n));
  out.set(oneHot(prev, labels), C * n);
  return { data: out, shape: [C + labels.length, ...spatial] };
}
