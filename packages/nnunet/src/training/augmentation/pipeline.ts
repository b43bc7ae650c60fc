/**
 * nnU-Net v1's training augmentation (get_moreDA_augmentation, as nnUNetTrainerV2 uses it) as one
 * function over a batch of tensors, on whatever device the batch is:
 *
 *   [dummy 2-D: slices to channels] spatial transform [back to 3-D] -> Gaussian noise -> Gaussian
 *   blur -> multiplicative brightness -> (additive brightness) -> contrast -> low-resolution
 *   simulation -> inverted gamma -> gamma -> mirroring -> mask -> segmentation -1 to 0
 *
 * Deep-supervision downsampling of the target (DownsampleSegForDSTransform2) is not part of it.
 */
import { type Generator, noGrad, type Tensor, tidy } from '@nnunet/torch';
import { NnunetError } from '../../errors.js';
import {
  brightnessAdditive_,
  brightnessMultiplicative_,
  contrast_,
  gamma_,
  gaussianBlur_,
  gaussianNoise_,
} from './intensity.js';
import { maskOutside_, replaceLabel_ } from './labels.js';
import { simulateLowResolution_ } from './low-resolution.js';
import { mirror_ } from './mirror.js';
import type { AugmentationParams } from './params.js';
import { AugmentationRandom } from './random.js';
import { applySpatialTransform, centerCrop, drawSpatialSample } from './spatial.js';

/** The label v1's preprocessing and spatial transform put outside the image; 0 for training (RemoveLabelTransform(-1, 0)). */
export const OUTSIDE_LABEL = -1;

/**
 * Augments data [B, C, ...basicPatch] and seg [B, Cs, ...basicPatch] (Cs is 1 in nnU-Net) into
 * new tensors data [B, C, ...patchSize] and seg [B, Cs, ...patchSize] (seg in the input's dtype,
 * with -1 replaced by 0). The inputs are not modified.
 */
export type Augmentation = (data: Tensor, seg: Tensor) => { data: Tensor; seg: Tensor };

/**
 * The augmentation for `params`. Every random draw comes from `generator`, so a seeded generator
 * gives the same batches again. The function runs without autograd and frees its intermediates.
 */
export function createAugmentation(params: AugmentationParams, options: { generator: Generator }): Augmentation {
  checkParams(params);
  params = structuredClone(params); // later changes to the caller's object do not reach this augmentation
  const rng = new AugmentationRandom(options.generator);
  const n = params.patchSize.length;
  const ignoreAxes = params.dummy2D ? [0] : [];

  const spatial = (data: Tensor, seg: Tensor): { data: Tensor; seg: Tensor } => {
    const spatialOptions = { borderValueSeg: params.borderValueSeg, dataInterpolation: params.dataInterpolation };
    const [batch, channels, ...size] = data.shape as number[];
    const draw = (patch: readonly number[]) =>
      Array.from({ length: batch as number }, () => drawSpatialSample(rng, params, patch, data.dtype, data.device));
    if (!params.dummy2D)
      return applySpatialTransform(data, seg, params.patchSize, draw(params.patchSize), spatialOptions);
    // Convert3DTo2DTransform: the slices of axis 0 become channels, so every slice of a sample is
    // rotated and scaled alike in the plane of axes 1 and 2
    const [depth, height, width] = size as [number, number, number];
    const plane = params.patchSize.slice(1);
    const flat = applySpatialTransform(
      data.reshape([batch as number, (channels as number) * depth, height, width]),
      seg.reshape([batch as number, (seg.shape[1] as number) * depth, height, width]),
      plane,
      draw(plane),
      spatialOptions,
    );
    const d = flat.data.reshape([batch as number, channels as number, depth, ...plane]);
    const s = flat.seg.reshape([batch as number, seg.shape[1] as number, depth, ...plane]);
    if (depth === params.patchSize[0]) return { data: d, seg: s };
    return { data: centerCrop(d, params.patchSize, 0), seg: centerCrop(s, params.patchSize, params.borderValueSeg) };
  };

  return (data: Tensor, seg: Tensor) => {
    checkBatch(data, seg, n);
    return noGrad(() =>
      tidy(() => {
        const { data: d, seg: s } = spatial(data, seg);
        gaussianNoise_(d, rng, params.noise);
        gaussianBlur_(d, rng, params.blur);
        brightnessMultiplicative_(d, rng, params.brightness);
        if (params.additiveBrightness.enabled) brightnessAdditive_(d, rng, params.additiveBrightness);
        contrast_(d, rng, params.contrast);
        simulateLowResolution_(d, rng, params.lowResolution, ignoreAxes, params.dataInterpolation);
        gamma_(d, rng, { ...params.gamma, probability: params.invertedGammaProbability, invert: true });
        if (params.gamma.enabled) gamma_(d, rng, { ...params.gamma, invert: false });
        if (params.mirror.enabled) mirror_(d, s, rng, params.mirror.axes);
        if (params.maskWasUsedForNormalization !== null) maskOutside_(d, s, params.maskWasUsedForNormalization);
        replaceLabel_(s, OUTSIDE_LABEL, 0);
        return { data: d, seg: s.dtype === seg.dtype ? s : s.to(seg.dtype) };
      }),
    );
  };
}

function fail(message: string): never {
  throw new NnunetError('ERR_ARGUMENT', message);
}

function checkRange(name: string, r: readonly number[]): void {
  if (r.length !== 2 || !r.every(Number.isFinite))
    fail(`${name} must be a [low, high] pair of numbers, got [${r.join(', ')}].`);
}

function checkProbability(name: string, p: number): void {
  if (!(p >= 0 && p <= 1)) fail(`${name} must be a probability in [0, 1], got ${p}.`);
}

function checkParams(p: AugmentationParams): void {
  const n = p.patchSize.length;
  if ((n !== 2 && n !== 3) || !p.patchSize.every((s) => Number.isInteger(s) && s > 0)) {
    fail(`patchSize must hold 2 or 3 positive integers, got [${p.patchSize.join(', ')}].`);
  }
  if (p.dummy2D && n !== 3) fail('dummy2D augmentation needs a 3-D patchSize.');
  if (p.dataInterpolation === 'cubic' && n === 3 && !p.dummy2D) {
    fail("dataInterpolation 'cubic' exists for 2-D and dummy-2-D augmentation only; use 'linear' for 3-D.");
  }
  if (p.dataInterpolation !== 'linear' && p.dataInterpolation !== 'cubic') {
    fail(`dataInterpolation must be 'linear' or 'cubic', got ${String(p.dataInterpolation)}.`);
  }
  for (const a of p.mirror.axes) {
    if (!Number.isInteger(a) || a < 0 || a >= n) fail(`mirror axis ${a} is not a spatial axis of a ${n}-D patch.`);
  }
  const ranges: [string, readonly number[]][] = [
    ['elastic.alpha', p.elastic.alpha],
    ['elastic.sigma', p.elastic.sigma],
    ['rotation.axis0', p.rotation.axis0],
    ['rotation.axis1', p.rotation.axis1],
    ['rotation.axis2', p.rotation.axis2],
    ['scaling.range', p.scaling.range],
    ['noise.stdRange', p.noise.stdRange],
    ['blur.sigmaRange', p.blur.sigmaRange],
    ['brightness.multiplierRange', p.brightness.multiplierRange],
    ['contrast.factorRange', p.contrast.factorRange],
    ['lowResolution.zoomRange', p.lowResolution.zoomRange],
    ['gamma.range', p.gamma.range],
  ];
  for (const [name, r] of ranges) checkRange(name, r);
  if (p.elastic.enabled && !(Math.min(...p.elastic.sigma) > 0)) fail('elastic.sigma must be positive.');
  if (!(Math.min(...p.blur.sigmaRange) > 0)) fail('blur.sigmaRange must be positive.');
  if (!(Math.min(...p.lowResolution.zoomRange) > 0)) fail('lowResolution.zoomRange must be positive.');
  const probabilities: [string, number][] = [
    ['elastic.probability', p.elastic.probability],
    ['rotation.probability', p.rotation.probability],
    ['rotation.probabilityPerAxis', p.rotation.probabilityPerAxis],
    ['scaling.probability', p.scaling.probability],
    ['scaling.probabilityIndependent', p.scaling.probabilityIndependent],
    ['noise.probability', p.noise.probability],
    ['blur.probability', p.blur.probability],
    ['blur.probabilityPerChannel', p.blur.probabilityPerChannel],
    ['brightness.probability', p.brightness.probability],
    ['additiveBrightness.probabilityPerSample', p.additiveBrightness.probabilityPerSample],
    ['additiveBrightness.probabilityPerChannel', p.additiveBrightness.probabilityPerChannel],
    ['contrast.probability', p.contrast.probability],
    ['lowResolution.probability', p.lowResolution.probability],
    ['lowResolution.probabilityPerChannel', p.lowResolution.probabilityPerChannel],
    ['invertedGammaProbability', p.invertedGammaProbability],
    ['gamma.probability', p.gamma.probability],
  ];
  for (const [name, v] of probabilities) checkProbability(name, v);
}

function checkBatch(data: Tensor, seg: Tensor, n: number): void {
  if (data.ndim !== n + 2) fail(`data must be [B, C, ...${n} spatial axes], got [${data.shape.join(', ')}].`);
  if (data.dtype !== 'float32' && data.dtype !== 'float64') fail(`data must be float32 or float64, got ${data.dtype}.`);
  const same =
    seg.ndim === data.ndim &&
    seg.shape[0] === data.shape[0] &&
    seg.shape.slice(2).every((s, i) => s === data.shape[i + 2]);
  if (!same) {
    fail(
      `seg [${seg.shape.join(', ')}] must be [B, Cs, ...] with data's batch and spatial size [${data.shape.join(', ')}].`,
    );
  }
  if (seg.device !== data.device) fail(`seg is on ${seg.device} but data is on ${data.device}.`);
}
