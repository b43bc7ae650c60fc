/**
 * SimulateLowResolutionTransform of batchgenerators 0.25 as nnU-Net v1's moreDA uses it
 * (per_channel=True, order_downsample=0, order_upsample=3): a chosen channel is resized to
 * round(size * zoom) with nearest neighbours and back to its size, axes in `ignoreAxes` untouched.
 */
import { F, type Tensor, tensor, tidy } from '@nnunet/torch';
import { roundHalfEven } from '../../compat/numpy.js';
import { NnunetError } from '../../errors.js';
import type { AugmentationParams } from './params.js';
import type { AugmentationRandom } from './random.js';

/**
 * Nearest-neighbour resize of x [1, 1, ...spatial] to `size` with voxel centres aligned
 * (source coordinate (j + 0.5) * in / out - 0.5, rounded), like scikit-image's order-0 resize.
 * (F.interpolate's 'nearest' takes floor(j * in / out), which shifts the image by up to half an
 * input voxel.)
 */
export function resizeNearestCentred(x: Tensor, size: readonly number[]): Tensor {
  const n = size.length;
  const theta = new Float64Array(n * (n + 1));
  for (let i = 0; i < n; i++) theta[i * (n + 1) + i] = 1;
  const grid = F.affineGrid(tensor(theta, { shape: [1, n, n + 1], dtype: x.dtype, device: x.device }), [1, 1, ...size]);
  return F.gridSample(x, grid, { mode: 'nearest', paddingMode: 'border', alignCorners: false });
}

/**
 * Modifies x [B, C, ...spatial] in place and returns it. `interpolation` selects the upsampling:
 * 'linear' (bi/trilinear) or 'cubic' (bicubic, for 2-D data or 3-D data with axis 0 ignored,
 * which is upsampled slice by slice).
 */
export function simulateLowResolution_(
  x: Tensor,
  rng: AugmentationRandom,
  p: AugmentationParams['lowResolution'],
  ignoreAxes: readonly number[],
  interpolation: 'linear' | 'cubic',
): Tensor {
  const [batch, channels, ...shape] = x.shape as number[];
  for (let b = 0; b < (batch as number); b++) {
    if (!rng.chance(p.probability)) continue;
    for (let c = 0; c < (channels as number); c++) {
      if (!rng.chance(p.probabilityPerChannel)) continue;
      const zoom = rng.uniformIn(p.zoomRange);
      const target = shape.map((s, i) => (ignoreAxes.includes(i) ? s : Math.max(1, roundHalfEven(s * zoom))));
      tidy(() => {
        const v = x.select(0, b).select(0, c);
        const low = resizeNearestCentred(v.reshape([1, 1, ...shape]), target);
        v.copy_(upsample(low, shape, interpolation, ignoreAxes).reshape(shape));
      });
    }
  }
  return x;
}

function upsample(
  low: Tensor,
  size: readonly number[],
  interpolation: 'linear' | 'cubic',
  ignore: readonly number[],
): Tensor {
  const n = size.length;
  if (interpolation === 'linear') {
    return F.interpolate(low, { size, mode: n === 3 ? 'trilinear' : 'bilinear', alignCorners: false });
  }
  if (n === 2) return F.interpolate(low, { size, mode: 'bicubic', alignCorners: false });
  if (n === 3 && ignore.includes(0)) {
    // axis 0 keeps its size, so the slices become channels of one 2-D image
    const slices = low.reshape(low.shape.slice(1));
    return F.interpolate(slices, { size: size.slice(1), mode: 'bicubic', alignCorners: false }).unsqueeze(0);
  }
  throw new NnunetError('ERR_ARGUMENT', 'cubic upsampling needs 2-D data, or 3-D data with axis 0 ignored.');
}
