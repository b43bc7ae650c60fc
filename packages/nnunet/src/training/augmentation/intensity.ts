/**
 * Intensity transforms of nnU-Net v1's moreDA pipeline (batchgenerators 0.25 semantics), on
 * data [B, C, ...spatial]. Each modifies `x` in place and returns it; pass a tensor you own (the
 * pipeline passes the output of the spatial transform). Per-sample and per-channel decisions and
 * factors are drawn from `rng` in v1's order; temporaries are freed before returning.
 */
import { type Tensor, tidy } from '@nnunet/torch';
import { gaussianFilter } from './gaussian.js';
import type { AdditiveBrightnessParams, AugmentationParams, Range } from './params.js';
import type { AugmentationRandom } from './random.js';

/** Keeps gamma's base away from 0/0 on constant channels (batchgenerators' epsilon). */
export const GAMMA_EPSILON = 1e-7;
/** Keeps the retain-stats rescaling finite on constant channels. */
export const RETAIN_STATS_EPSILON = 1e-8;

/** Runs fn for every voxel block x[b, c] ([...spatial] views) that `pick` selects. */
function forChannels(x: Tensor, pickSample: () => boolean, perChannel: (v: Tensor) => void): void {
  const [batch, channels] = x.shape as [number, number];
  for (let b = 0; b < batch; b++) {
    if (!pickSample()) continue;
    tidy(() => {
      const sample = x.select(0, b);
      for (let c = 0; c < channels; c++) perChannel(sample.select(0, c));
    });
  }
}

/**
 * GaussianNoiseTransform(noise_variance=stdRange, p_per_sample): one standard deviation per sample
 * (v1 calls it the variance but passes it to np.random.normal as the std), noise in every channel.
 */
export function gaussianNoise_(x: Tensor, rng: AugmentationRandom, p: AugmentationParams['noise']): Tensor {
  const [batch] = x.shape as [number];
  for (let b = 0; b < batch; b++) {
    if (!rng.chance(p.probability)) continue;
    const std = rng.uniformIn(p.stdRange);
    tidy(() => {
      const sample = x.select(0, b);
      sample.add_(rng.randn(sample.shape, x.dtype, x.device).mul(std));
    });
  }
  return x;
}

/**
 * GaussianBlurTransform(sigma range, different_sigma_per_channel=True, p_per_channel, p_per_sample):
 * each chosen channel is blurred over all spatial axes with its own sigma (scipy's kernel and
 * reflect border).
 */
export function gaussianBlur_(x: Tensor, rng: AugmentationRandom, p: AugmentationParams['blur']): Tensor {
  forChannels(
    x,
    () => rng.chance(p.probability),
    (v) => {
      if (!(rng.random() <= p.probabilityPerChannel)) return;
      const sigma = rng.uniformIn(p.sigmaRange);
      v.copy_(gaussianFilter(v.reshape([1, 1, ...v.shape]), sigma, 'reflect').reshape(v.shape));
    },
  );
  return x;
}

/** BrightnessMultiplicativeTransform(multiplier_range, per_channel=True): each channel times U(range). */
export function brightnessMultiplicative_(
  x: Tensor,
  rng: AugmentationRandom,
  p: AugmentationParams['brightness'],
): Tensor {
  forChannels(
    x,
    () => rng.chance(p.probability),
    (v) => {
      v.mul_(rng.uniformIn(p.multiplierRange));
    },
  );
  return x;
}

/** BrightnessTransform(mu, sigma, per_channel=True): each chosen channel plus N(mu, sigma). */
export function brightnessAdditive_(x: Tensor, rng: AugmentationRandom, p: AdditiveBrightnessParams): Tensor {
  forChannels(
    x,
    () => rng.chance(p.probabilityPerSample),
    (v) => {
      if (rng.random() <= p.probabilityPerChannel) v.add_(rng.normal(p.mu, p.sigma));
    },
  );
  return x;
}

/**
 * ContrastAugmentationTransform(contrast_range, preserve_range, per_channel=True): each channel's
 * deviation from its mean times a factor (half of the draws below 1), clipped to the channel's
 * former [min, max] when preserveRange.
 */
export function contrast_(x: Tensor, rng: AugmentationRandom, p: AugmentationParams['contrast']): Tensor {
  forChannels(
    x,
    () => rng.chance(p.probability),
    (v) => {
      const factor = rng.aroundOne(p.factorRange);
      const mean = v.mean();
      const changed = v.sub(mean).mul(factor).add(mean);
      v.copy_(p.preserveRange ? changed.clamp(v.min(), v.max()) : changed);
    },
  );
  return x;
}

/**
 * GammaTransform(gamma_range, invert_image, per_channel=True, retain_stats): per channel,
 * x -> ((x - min) / (range + eps))^gamma * (range + eps) + min, on -x when `invert`; with
 * retainStats the channel gets its former mean and (population) standard deviation back.
 */
export function gamma_(
  x: Tensor,
  rng: AugmentationRandom,
  p: { range: Range; retainStats: boolean; probability: number; invert: boolean },
): Tensor {
  forChannels(
    x,
    () => rng.chance(p.probability),
    (v) => {
      const w = p.invert ? v.neg() : v;
      const mean = p.retainStats ? w.mean() : null;
      const std = p.retainStats ? w.std(undefined, { correction: 0 }) : null;
      const gamma = rng.aroundOne(p.range);
      const min = w.min();
      const range = w.max().sub(min).add(GAMMA_EPSILON);
      let y = w.sub(min).div(range).pow(gamma).mul(range).add(min);
      if (mean !== null && std !== null) {
        y = y
          .sub(y.mean())
          .div(y.std(undefined, { correction: 0 }).add(RETAIN_STATS_EPSILON))
          .mul(std)
          .add(mean);
      }
      v.copy_(p.invert ? y.neg() : y);
    },
  );
  return x;
}
