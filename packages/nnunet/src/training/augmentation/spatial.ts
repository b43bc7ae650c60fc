/**
 * The spatial transform of batchgenerators' SpatialTransform as nnU-Net v1 uses it
 * (patch_center_dist_from_border=None, random_crop=False, constant borders): per sample an optional
 * elastic displacement, a rotation and an isotropic scaling about the centre of the input patch,
 * sampled into the (smaller) final patch. Samples without any of them are centre-cropped, exactly.
 *
 * All of a batch's transformed samples are sampled with one affine grid (one matrix per sample)
 * and one grid_sample call for the data (linear, or bicubic in 2-D) and one for the segmentation
 * (nearest), so the transform runs as LibTorch ops on the data's device.
 */
import { F, type Tensor, tensor, tidy } from '@nnunet/torch';
import { NnunetError } from '../../errors.js';
import { gaussianFilter } from './gaussian.js';
import { type AugmentationParams, rotationMatrix2d, rotationMatrix3d, transpose } from './params.js';
import type { AugmentationRandom } from './random.js';

/** One sample's spatial transform. */
export interface SpatialSample {
  /**
   * The n x n matrix A (array axis order) that maps an offset from the output patch's centre to an
   * offset from the input's centre: input = centre_in + A · (output - centre_out + displacement).
   * null: no transform, the sample is centre-cropped.
   */
  matrix: number[][] | null;
  /** Elastic displacement [n, ...patchSize] in output voxels (array axis order), or null. */
  displacement: Tensor | null;
}

export interface SpatialOptions {
  /** Segmentation value outside the input (v1 border_cval_seg, -1). */
  borderValueSeg: number;
  /** Data interpolation: 'linear' (bi/trilinear) or 'cubic' (bicubic, 2-D only). */
  dataInterpolation: 'linear' | 'cubic';
}

/**
 * Draws one sample's transform in v1's order (elastic, rotation, scaling), each with its
 * probability; `n` is the number of spatial axes the transform acts on (2 or 3).
 * The displacement field (if any) is created on `device` with `dtype` and belongs to the caller.
 */
export function drawSpatialSample(
  rng: AugmentationRandom,
  params: Pick<AugmentationParams, 'elastic' | 'rotation' | 'scaling'>,
  patchSize: readonly number[],
  dtype: Tensor['dtype'],
  device: Tensor['device'],
): SpatialSample {
  const n = patchSize.length;
  let modified = false;
  let displacement: Tensor | null = null;
  const { elastic, rotation, scaling } = params;
  if (elastic.enabled && rng.chance(elastic.probability)) {
    const alpha = rng.uniformIn(elastic.alpha);
    const sigma = rng.uniformIn(elastic.sigma);
    // batchgenerators' elastic_deform_coordinates: uniform noise in [-1, 1) per axis, smoothed with
    // a Gaussian (zeros outside), times alpha
    const noise = rng
      .rand([1, n, ...patchSize], dtype, device)
      .mul(2)
      .sub(1);
    displacement = gaussianFilter(noise, sigma, 'constant').mul(alpha).squeeze(0);
    noise.dispose();
    modified = true;
  }
  // v1 rotates coordinate row vectors (c · R), i.e. c' = Rᵀ c, then scales them
  let linear = identity(n);
  if (rotation.enabled && rng.chance(rotation.probability)) {
    const angle = (r: readonly [number, number]): number =>
      rng.random() <= rotation.probabilityPerAxis ? rng.uniformIn(r) : 0;
    const a0 = angle(rotation.axis0);
    const r = n === 3 ? rotationMatrix3d(a0, angle(rotation.axis1), angle(rotation.axis2)) : rotationMatrix2d(a0);
    linear = transpose(r);
    modified = true;
  }
  if (scaling.enabled && rng.chance(scaling.probability)) {
    const factors =
      scaling.independentPerAxis && rng.chance(scaling.probabilityIndependent)
        ? Array.from({ length: n }, () => rng.aroundOne(scaling.range))
        : new Array<number>(n).fill(rng.aroundOne(scaling.range));
    linear = linear.map((row, i) => row.map((v) => v * (factors[i] as number)));
    modified = true;
  }
  return { matrix: modified ? linear : null, displacement };
}

export function identity(n: number): number[][] {
  return Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? 1 : 0)));
}

/** The matrix of a scaling by `factor` (v1 coordinate scale: below 1 enlarges the content). */
export function scaleMatrix(n: number, factor: number): number[][] {
  return identity(n).map((row) => row.map((v) => v * factor));
}

/** v1's rotation (angles about array axes 0, 1, 2; 2-D: one angle) as the matrix of a SpatialSample. */
export function rotationSampleMatrix(angles: readonly number[]): number[][] {
  if (angles.length === 3)
    return transpose(rotationMatrix3d(angles[0] as number, angles[1] as number, angles[2] as number));
  if (angles.length === 1) return transpose(rotationMatrix2d(angles[0] as number));
  throw new NnunetError('ERR_ARGUMENT', `rotation needs 1 (2-D) or 3 (3-D) angles, got ${angles.length}.`);
}

/**
 * Applies per-sample transforms: data [B, C, ...in] (floating point) and seg [B, Cs, ...in] to
 * [B, C, ...patchSize] and [B, Cs, ...patchSize] (seg in data's dtype). The data reads 0 outside the
 * input, the segmentation `borderValueSeg`. Returns new tensors; the inputs are not modified.
 */
export function applySpatialTransform(
  data: Tensor,
  seg: Tensor,
  patchSize: readonly number[],
  samples: readonly SpatialSample[],
  options: SpatialOptions,
): { data: Tensor; seg: Tensor } {
  const n = patchSize.length;
  const inSize = data.shape.slice(2);
  if (inSize.length !== n) {
    throw new NnunetError('ERR_ARGUMENT', `data [${data.shape.join(', ')}] does not have ${n} spatial axes.`);
  }
  if (samples.length !== data.shape[0]) {
    throw new NnunetError('ERR_ARGUMENT', `${samples.length} spatial samples for a batch of ${data.shape[0]}.`);
  }
  if (options.dataInterpolation === 'cubic' && n !== 2) {
    throw new NnunetError('ERR_ARGUMENT', 'cubic data interpolation is available for 2-D transforms only.');
  }
  return tidy(() => {
    const segF = seg.dtype === data.dtype ? seg : seg.to(data.dtype);
    const outData = centerCrop(data, patchSize, 0);
    const outSeg = centerCrop(segF, patchSize, options.borderValueSeg);
    const moved = samples.flatMap((s, i) => (s.matrix === null ? [] : [i]));
    if (moved.length === 0) return { data: outData, seg: outSeg };

    // grid_sample reads normalised coordinates (x, y, z) = reversed array axes, with align_corners
    // false: voxel j of size W sits at (2j + 1) / W - 1. Offsets from the centres map as
    // x_in = diag(1/in) · A · diag(out) · x_out, and a displacement d (output voxels) adds
    // diag(2/in) · A · d.
    const m = moved.length;
    const theta = new Float64Array(m * n * (n + 1));
    moved.forEach((b, k) => {
      const a = (samples[b] as SpatialSample).matrix as number[][];
      for (let p = 0; p < n; p++) {
        for (let q = 0; q < n; q++) {
          const i = n - 1 - p;
          const j = n - 1 - q;
          theta[k * n * (n + 1) + p * (n + 1) + q] =
            (((a[i] as number[])[j] as number) * (patchSize[j] as number)) / (inSize[i] as number);
        }
      }
    });
    const device = data.device;
    const thetaT = tensor(theta, { shape: [m, n, n + 1], dtype: data.dtype, device });
    const grid = F.affineGrid(thetaT, [m, 1, ...patchSize]);
    moved.forEach((b, k) => {
      const sample = samples[b] as SpatialSample;
      if (sample.displacement === null) return;
      const a = sample.matrix as number[][];
      const kT = new Float64Array(n * n); // Kᵀ in (x, y, z) order, for the row-vector product below
      for (let p = 0; p < n; p++) {
        for (let q = 0; q < n; q++) {
          const i = n - 1 - p;
          const j = n - 1 - q;
          kT[q * n + p] = (2 * ((a[i] as number[])[j] as number)) / (inSize[i] as number);
        }
      }
      const dXyz = sample.displacement.flip([0]).permute([...Array.from({ length: n }, (_, i) => i + 1), 0]);
      grid.select(0, k).add_(dXyz.matmul(tensor(kT, { shape: [n, n], dtype: data.dtype, device })));
    });
    const index = tensor(moved, { dtype: 'int64', device });
    const sampled = F.gridSample(data.indexSelect(0, index), grid, {
      mode: options.dataInterpolation === 'cubic' ? 'bicubic' : 'bilinear',
      paddingMode: 'zeros',
      alignCorners: false,
    });
    outData.indexPut_([index], sampled);
    // nearest sampling of (seg - border) with zeros outside, plus border: the border value outside
    const segMoved = segF.indexSelect(0, index).sub(options.borderValueSeg);
    const segSampled = F.gridSample(segMoved, grid, { mode: 'nearest', paddingMode: 'zeros', alignCorners: false });
    outSeg.indexPut_([index], segSampled.add(options.borderValueSeg));
    return { data: outData, seg: outSeg };
  });
}

/**
 * v1's centre crop (batchgenerators center_crop): lower bound (in - patch) // 2 per axis; where the
 * input is smaller than the patch it is padded with `padValue`. Returns a new tensor.
 */
export function centerCrop(x: Tensor, patchSize: readonly number[], padValue: number): Tensor {
  const n = patchSize.length;
  const inSize = x.shape.slice(x.ndim - n);
  const pads: number[] = [];
  let needsPad = false;
  for (let d = n - 1; d >= 0; d--) {
    const lb = Math.floor(((inSize[d] as number) - (patchSize[d] as number)) / 2);
    const before = Math.max(0, -lb);
    const after = Math.max(0, (patchSize[d] as number) - (inSize[d] as number) - before);
    pads.push(before, after);
    if (before > 0 || after > 0) needsPad = true;
  }
  let y = needsPad ? F.pad(x, pads, 'constant', padValue) : x;
  for (let d = 0; d < n; d++) {
    const size = y.size(x.ndim - n + d);
    const p = patchSize[d] as number;
    if (size !== p) y = y.narrow(x.ndim - n + d, Math.floor((size - p) / 2), p);
  }
  return needsPad ? y : y.clone();
}
