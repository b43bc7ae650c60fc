/**
 * MirrorTransform of batchgenerators 0.25: per sample, each allowed spatial axis is flipped with
 * probability 0.5, data and segmentation together.
 */
import { type Tensor, tidy } from '@nnunet/torch';
import type { AugmentationRandom } from './random.js';

/** Probability of flipping along each allowed axis (batchgenerators' augment_mirroring). */
export const MIRROR_PROBABILITY = 0.5;

/**
 * Modifies data [B, C, ...spatial] and seg [B, Cs, ...spatial] in place. `axes` are spatial axes
 * (0 = first spatial axis); one draw per allowed axis, in increasing order, as in v1.
 */
export function mirror_(data: Tensor, seg: Tensor, rng: AugmentationRandom, axes: readonly number[]): void {
  const [batch, , ...spatial] = data.shape as number[];
  for (let b = 0; b < (batch as number); b++) {
    const flips: number[] = [];
    for (let a = 0; a < spatial.length; a++) {
      if (axes.includes(a) && rng.chance(MIRROR_PROBABILITY)) flips.push(a + 1);
    }
    if (flips.length === 0) continue;
    tidy(() => {
      for (const t of [data, seg]) {
        const sample = t.select(0, b);
        sample.copy_(sample.flip(flips));
      }
    });
  }
}
