/**
 * Intensity normalisation of one modality, with v1's float32 arithmetic (GenericPreprocessor):
 *  - "CT": clip to the dataset's foreground [0.5, 99.5] percentiles, then (x - mean) / sd with the
 *    dataset's foreground mean and sd (from the fingerprint); voxels outside the nonzero mask are
 *    set to 0 when use_mask_for_norm;
 *  - "nonCT": per-image z-score, (x - mean) / (std + 1e-8), over the whole image or, with
 *    use_mask_for_norm, over the nonzero mask only (0 outside);
 *  - "noNorm": unchanged.
 * Operates in place on one channel (a view of the case array).
 */

import { meanF32, stdF32 } from '../compat/float32-stats.js';
import { NnunetError } from '../errors.js';

const f32 = Math.fround;

export type NormalizationScheme = 'CT' | 'nonCT' | 'noNorm';

export interface CtIntensities {
  mean: number;
  sd: number;
  percentile_00_5: number;
  percentile_99_5: number;
}

/**
 * `channel`: the modality's voxels; `seg`: the segmentation of the same case (for the mask:
 * voxels with seg >= 0 are inside the nonzero region).
 */
export function normalizeChannel(
  channel: Float32Array,
  seg: Float32Array | null,
  scheme: NormalizationScheme | string,
  useMask: boolean,
  ct?: CtIntensities | null,
): void {
  if (scheme === 'noNorm') return;
  if (scheme === 'CT') {
    if (!ct)
      throw new NnunetError(
        'ERR_DATASET',
        'CT normalisation needs the intensity properties of the fingerprint (dataset_properties.json): rerun the fingerprint step.',
      );
    const lo = f32(ct.percentile_00_5);
    const hi = f32(ct.percentile_99_5);
    const mean = f32(ct.mean);
    const sd = f32(ct.sd);
    for (let i = 0; i < channel.length; i++) {
      const v = Math.min(Math.max(channel[i] as number, lo), hi);
      channel[i] = f32(f32(v - mean) / sd);
    }
    if (useMask && seg) for (let i = 0; i < channel.length; i++) if ((seg[i] as number) < 0) channel[i] = 0;
    return;
  }
  if (scheme !== 'nonCT') {
    throw new NnunetError(
      'ERR_DATASET',
      `Unknown normalisation scheme "${scheme}" in the plans: use CT, nonCT or noNorm.`,
    );
  }
  if (useMask && seg) {
    const inside: number[] = [];
    for (let i = 0; i < channel.length; i++) if ((seg[i] as number) >= 0) inside.push(i);
    const values = Float32Array.from(inside, (i) => channel[i] as number);
    const mean = meanF32(values);
    // NumPy promotes std + 1e-8 to float64, then casts it back to float32 for the array division.
    const denom = f32(stdF32(values) + 1e-8);
    for (let i = 0; i < channel.length; i++) channel[i] = 0;
    inside.forEach((idx, k) => {
      channel[idx] = f32(f32((values[k] as number) - mean) / denom);
    });
    return;
  }
  const mean = meanF32(channel);
  const denom = f32(stdF32(channel) + 1e-8);
  for (let i = 0; i < channel.length; i++) channel[i] = f32(f32((channel[i] as number) - mean) / denom);
}
