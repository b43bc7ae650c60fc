/**
 * Separable Gaussian filtering of [N, C, ...spatial] tensors with scipy.ndimage.gaussian_filter's
 * kernel (batchgenerators blurs images and smooths elastic fields with it).
 */
import { F, type Tensor, tensor } from '@nnunet/torch';
import { NnunetError } from '../../errors.js';

/** scipy's default truncation: the kernel reaches this many standard deviations. */
export const GAUSSIAN_TRUNCATE = 4;

/**
 * scipy.ndimage's 1-D Gaussian weights: radius int(truncate * sigma + 0.5), exp(-x² / (2σ²))
 * normalised to sum 1, in float64.
 */
export function gaussianKernel1d(sigma: number, truncate = GAUSSIAN_TRUNCATE): Float64Array {
  if (!(sigma > 0)) throw new NnunetError('ERR_ARGUMENT', `Gaussian sigma must be positive, got ${sigma}.`);
  const radius = Math.trunc(truncate * sigma + 0.5);
  const w = new Float64Array(2 * radius + 1);
  let sum = 0;
  for (let i = -radius; i <= radius; i++) {
    const v = Math.exp((-0.5 * i * i) / (sigma * sigma));
    w[i + radius] = v;
    sum += v;
  }
  for (let i = 0; i < w.length; i++) w[i] = (w[i] as number) / sum;
  return w;
}

/**
 * How values beyond the border are read: 'reflect' is scipy's reflect (the edge voxel repeats:
 * d c b a | a b c d | d c b a), 'constant' reads zeros.
 */
export type GaussianBorder = 'reflect' | 'constant';

/**
 * Filters every spatial axis of `x` [N, C, ...spatial] (2 or 3 spatial axes) with a Gaussian of
 * standard deviation `sigma` voxels (one for all axes or one per axis; 0 leaves an axis alone),
 * each channel on its own. Returns a new tensor of x's shape, dtype and device.
 */
export function gaussianFilter(x: Tensor, sigma: number | readonly number[], border: GaussianBorder): Tensor {
  const n = x.ndim - 2;
  if (n !== 2 && n !== 3) {
    throw new NnunetError(
      'ERR_ARGUMENT',
      `gaussianFilter needs [N, C, ...2 or 3 spatial axes], got [${x.shape.join(', ')}].`,
    );
  }
  const sigmas = typeof sigma === 'number' ? new Array<number>(n).fill(sigma) : [...sigma];
  if (sigmas.length !== n)
    throw new NnunetError('ERR_ARGUMENT', `gaussianFilter needs ${n} sigmas, got ${sigmas.length}.`);
  const [batch, channels, ...spatial] = x.shape as number[];
  // channels become batch entries so one single-channel kernel serves all of them
  let y = x.reshape([(batch as number) * (channels as number), 1, ...spatial]);
  for (let axis = 0; axis < n; axis++) {
    const s = sigmas[axis] as number;
    if (s === 0) continue;
    const w = gaussianKernel1d(s);
    const radius = (w.length - 1) / 2;
    const kernelShape = [1, 1, ...new Array<number>(n).fill(1)];
    kernelShape[axis + 2] = w.length;
    const kernel = tensor(w, { shape: kernelShape, dtype: x.dtype, device: x.device });
    const padding = new Array<number>(n).fill(0);
    let input = y;
    if (border === 'reflect') input = reflectPad(y, axis + 2, radius);
    else padding[axis] = radius;
    y = n === 3 ? F.conv3d(input, kernel, null, { padding }) : F.conv2d(input, kernel, null, { padding });
  }
  return y.reshape(x.shape);
}

/** Pads `dim` by `radius` on both sides with scipy's reflect rule (any radius, also beyond the size). */
function reflectPad(x: Tensor, dim: number, radius: number): Tensor {
  if (radius === 0) return x;
  const size = x.size(dim);
  const period = 2 * size;
  const idx = new Float64Array(size + 2 * radius);
  for (let i = 0; i < idx.length; i++) {
    const m = (((i - radius) % period) + period) % period;
    idx[i] = m < size ? m : period - 1 - m;
  }
  const index = tensor(idx, { dtype: 'int64', device: x.device });
  return x.indexSelect(dim, index);
}
