/**
 * Foreground class locations for oversampling during training (v1's preprocessing): per class, up
 * to 10000 voxel indices (at least 1% of the class's voxels), drawn with one RandomState(1234)
 * shared by the classes in ascending order, so the sample equals v1's.
 */
import { LegacyRandomState } from '../compat/random-state.js';

/** v1's `num_samples`: at most this many locations per class (unless 1% of the class is more). */
export const MAX_LOCATIONS_PER_CLASS = 10000;
/** v1's `min_percent_coverage`: at least this fraction of a class's voxels is kept. */
export const MIN_LOCATION_COVERAGE = 0.01;
/** v1's sampling seed. */
export const LOCATION_SEED = 1234;

/**
 * `seg`: the (z, y, x) segmentation in C order; returns, for each class, its sampled [z, y, x]
 * indices in v1's order (an empty list when the class is absent).
 */
export function sampleClassLocations(
  seg: ArrayLike<number>,
  shape: readonly number[],
  classes: readonly number[],
): Record<string, number[][]> {
  const [, Y, X] = shape as [number, number, number];
  const rng = new LegacyRandomState(LOCATION_SEED);
  const out: Record<string, number[][]> = {};
  for (const c of classes) {
    const where: number[] = [];
    for (let i = 0; i < seg.length; i++) if (seg[i] === c) where.push(i);
    if (where.length === 0) {
      out[String(c)] = [];
      continue;
    }
    let k = Math.min(MAX_LOCATIONS_PER_CLASS, where.length);
    k = Math.max(k, Math.ceil(where.length * MIN_LOCATION_COVERAGE));
    const picked = rng.choiceWithoutReplacement(where.length, k);
    out[String(c)] = Array.from(picked, (p) => {
      const i = where[p] as number;
      const x = i % X;
      const y = Math.floor(i / X) % Y;
      const z = Math.floor(i / (X * Y));
      return [z, y, x];
    });
  }
  return out;
}
