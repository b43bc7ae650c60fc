/**
 * Resampling of cropped cases to the target spacing, as nnU-Net v1's `resample_patient` and
 * `resample_data_or_seg` (nnunet/preprocessing/preprocessing.py) do it.
 *
 * Arrays are C order, [C, Z, Y, X] (channels, then z, y, x); spacings are millimetres per voxel in
 * the same (z, y, x) order. Data are resampled with a cubic spline by default, segmentations per
 * label (see resize.ts). When the voxels are strongly anisotropic (largest spacing more than
 * SEPARATE_Z_ANISOTROPY_THRESHOLD times the smallest, in the original or the target spacing) and a
 * single axis has the largest spacing, v1 resamples "separately in z": every slice across that
 * low-resolution axis is resized in-plane, then the stack is resampled along the axis with order 0
 * (nearest slice), so no spline rings across thick slices.
 */

import { roundHalfEven } from '../compat/numpy.js';
import { NnunetError } from '../errors.js';
import { product } from '../util/shape.js';
import { resampleLabelsAlongAxis, resizeSegmentation, resizeVolume } from './resize.js';
import { MAX_SPLINE_ORDER, resampleAxis } from './spline.js';

/**
 * v1's RESAMPLING_SEPARATE_Z_ANISO_THRESHOLD (nnunet/configuration.py): resample the low-resolution
 * axis separately when max(spacing) / min(spacing) exceeds it.
 */
export const SEPARATE_Z_ANISOTROPY_THRESHOLD = 3;

/**
 * The resampling orders v1's GenericPreprocessor (and PreprocessorFor2D) passes to
 * resample_patient: cubic data, linear per-label segmentation, the separate-z decision left to the
 * spacings, nearest neighbour along the low-resolution axis.
 */
export const PREPROCESSOR_RESAMPLING = {
  orderData: 3,
  orderSeg: 1,
  forceSeparateZ: null,
  orderZData: 0,
  orderZSeg: 0,
  separateZAnisotropyThreshold: SEPARATE_Z_ANISOTROPY_THRESHOLD,
} as const satisfies ResamplePatientOptions;

/**
 * v1's get_do_separate_z: whether max(spacing) / min(spacing) > `threshold`. `spacing` is in mm,
 * any axis order.
 */
export function doSeparateZ(spacing: readonly number[], threshold: number = SEPARATE_Z_ANISOTROPY_THRESHOLD): boolean {
  return Math.max(...spacing) / Math.min(...spacing) > threshold;
}

/**
 * v1's get_lowres_axis: the axes whose spacing is the largest (indices into `spacing`, e.g. [0] for
 * z in (z, y, x) order). More than one axis means there is no single low-resolution axis, and v1
 * then does not resample separately.
 */
export function lowResAxis(spacing: readonly number[]): number[] {
  const max = Math.max(...spacing);
  const axes: number[] = [];
  spacing.forEach((s, d) => {
    if (max / s === 1) axes.push(d);
  });
  return axes;
}

/**
 * The shape v1 resamples to: round(originalSpacing / targetSpacing * shape) per axis, rounding half
 * to even. All arrays (z, y, x); spacings in mm, sizes in voxels.
 */
export function resampledShape(
  shape: readonly number[],
  originalSpacing: readonly number[],
  targetSpacing: readonly number[],
): number[] {
  return shape.map((s, d) => roundHalfEven((originalSpacing[d]! / targetSpacing[d]!) * s));
}

/**
 * v1's separate-z decision in resample_patient. `force` true: separate along the original spacing's
 * low-resolution axis; false: never; null: separate when the original spacing is anisotropic
 * (doSeparateZ), using its low-resolution axis, else when the target spacing is, using the
 * target's. Either way v1 gives up when there is not exactly one low-resolution axis. Returns the
 * axis (0 = z, 1 = y, 2 = x) or null for one joint resampling of all axes.
 */
export function separateZAxis(
  originalSpacing: readonly number[],
  targetSpacing: readonly number[],
  force: boolean | null,
  threshold: number = SEPARATE_Z_ANISOTROPY_THRESHOLD,
): number | null {
  let axes: number[] | null = null;
  if (force !== null) {
    if (force) axes = lowResAxis(originalSpacing);
  } else if (doSeparateZ(originalSpacing, threshold)) {
    axes = lowResAxis(originalSpacing);
  } else if (doSeparateZ(targetSpacing, threshold)) {
    axes = lowResAxis(targetSpacing);
  }
  return axes !== null && axes.length === 1 ? axes[0]! : null;
}

export interface ResampleOptions {
  /** Segmentation (per-label resize) rather than intensity data. */
  isSeg: boolean;
  /** Spline order (0..5) in-plane, or for all axes when separateZAxis is null. */
  order: number;
  /** Order along the low-resolution axis when separateZAxis is set; 0 is nearest slice. */
  orderZ: number;
  /** The low-resolution axis (0, 1 or 2 of z, y, x) to resample separately, or null. */
  separateZAxis: number | null;
}

/**
 * v1's resample_data_or_seg. `data` is [C, Z, Y, X] (`shape`) in C order; returns [C, ...newShape]
 * as float32. Data channels go through skimage's resize (order `order`, edge mode, no
 * anti-aliasing, clipped to the input range), segmentation channels through
 * batchgenerators' resize_segmentation. With `separateZAxis` set, every slice across that axis is
 * resized in-plane (data clipped per slice, as v1 resizes slice by slice), the result is rounded to
 * float32 like v1's per-slice cast, and then the low-resolution axis is resampled with
 * map_coordinates' arithmetic at order `orderZ` (0: nearest slice; for segmentations with
 * orderZ > 0, per label with threshold > 0.5).
 *
 * When `shape` already equals newShape, `data` itself is returned (not a copy), as in v1.
 */
export function resampleDataOrSeg(
  data: Float32Array,
  shape: readonly number[],
  newShape: readonly number[],
  o: ResampleOptions,
): Float32Array {
  const bad = (why: string) => new NnunetError('ERR_ARGUMENT', `resampleDataOrSeg: ${why}.`);
  if (shape.length !== 4) throw bad(`data must be [C, Z, Y, X], got shape [${shape.join(', ')}]`);
  if (newShape.length !== 3) throw bad(`the new shape must be [Z, Y, X], got [${newShape.join(', ')}]`);
  if (product(shape) !== data.length) throw bad(`shape [${shape.join(', ')}] needs ${product(shape)} values`);
  for (const s of [...shape, ...newShape])
    if (!Number.isInteger(s) || s < 1) throw bad(`sizes must be positive integers, got [${newShape.join(', ')}]`);
  for (const [name, v] of [
    ['order', o.order],
    ['orderZ', o.orderZ],
  ] as const) {
    if (!Number.isInteger(v) || v < 0 || v > MAX_SPLINE_ORDER)
      throw bad(`${name} must be an integer in 0..${MAX_SPLINE_ORDER}, got ${v}`);
  }
  const axis = o.separateZAxis;
  if (axis !== null && ![0, 1, 2].includes(axis)) throw bad(`separateZAxis must be 0, 1, 2 or null, got ${axis}`);

  const [channels, ...old] = shape as [number, number, number, number];
  if (old.every((s, d) => s === newShape[d])) return data;
  const inSize = product(old);
  const outSize = product(newShape);
  const out = new Float32Array(channels * outSize);
  const resizeChannel = (src: Float32Array, to: readonly number[], dst: Float32Array, clipAxis: number | null) => {
    if (o.isSeg) resizeSegmentation(src, old, to, o.order, dst);
    else resizeVolume(src, old, to, o.order, dst, clipAxis);
  };

  for (let c = 0; c < channels; c++) {
    const src = data.subarray(c * inSize, (c + 1) * inSize);
    const dst = out.subarray(c * outSize, (c + 1) * outSize);
    if (axis === null) {
      resizeChannel(src, newShape, dst, null);
      continue;
    }
    // In-plane: the low-resolution axis keeps its size, every slice across it is resized.
    const inPlane = old.map((s, d) => (d === axis ? s : newShape[d]!));
    const n = old[axis]!;
    const m = newShape[axis]!;
    if (n === m) {
      resizeChannel(src, inPlane, dst, axis);
      continue;
    }
    const stack = new Float32Array(product(inPlane));
    resizeChannel(src, inPlane, stack, axis);
    const outer = product(inPlane.slice(0, axis));
    const inner = product(inPlane.slice(axis + 1));
    if (o.isSeg && o.orderZ > 0) resampleLabelsAlongAxis(stack, outer, n, inner, dst, m, o.orderZ);
    else resampleAxis(stack, outer, n, inner, dst, m, o.orderZ);
  }
  return out;
}

export interface ResamplePatientOptions {
  /** Spline order for data (v1 default 3). */
  orderData?: number;
  /** Order of the per-label segmentation resize (v1's resample_patient default 0; its preprocessors pass 1). */
  orderSeg?: number;
  /** true/false: always/never resample the low-resolution axis separately; null: decide from the spacings. Default false, as v1's resample_patient. */
  forceSeparateZ?: boolean | null;
  /** Data order along the low-resolution axis when resampling it separately (default 0). */
  orderZData?: number;
  /** Segmentation order along the low-resolution axis when resampling it separately (default 0). */
  orderZSeg?: number;
  /** Anisotropy ratio above which the low-resolution axis is resampled separately (default 3). */
  separateZAnisotropyThreshold?: number;
}

export interface ResampledCase {
  /** [C, ...shape] float32, or null when no data were given. */
  data: Float32Array | null;
  /** [Cseg, ...shape] float32, or null when no segmentation was given. */
  seg: Float32Array | null;
  /** The new (z, y, x) size in voxels. */
  shape: number[];
  /** The low-resolution axis resampled separately (0 = z), or null for a joint resampling. */
  separateZAxis: number | null;
}

/**
 * v1's resample_patient: resamples a case from `originalSpacing` to `targetSpacing` (mm, z, y, x).
 * `data` is [C, Z, Y, X] with `dataShape`; `seg` has the same (Z, Y, X) and any number of channels
 * (v1 stores one), or is null, as may be `data` (then `dataShape` gives the segmentation's shape).
 * The new shape is round(originalSpacing / targetSpacing * shape) per axis; the separate-z decision
 * is `separateZAxis`. Defaults are resample_patient's own (orders 3 and 0, forceSeparateZ false);
 * PREPROCESSOR_RESAMPLING holds what v1's preprocessors pass. Arrays whose shape does not change
 * are returned as they are, not copied.
 */
export function resamplePatient(
  data: Float32Array | null,
  dataShape: readonly number[],
  seg: Float32Array | null,
  originalSpacing: readonly number[],
  targetSpacing: readonly number[],
  opts: ResamplePatientOptions = {},
): ResampledCase {
  const bad = (why: string) => new NnunetError('ERR_ARGUMENT', `resamplePatient: ${why}.`);
  if (data === null && seg === null) throw bad('give data, a segmentation or both');
  if (dataShape.length !== 4) throw bad(`the shape must be [C, Z, Y, X], got [${dataShape.join(', ')}]`);
  for (const [name, s] of [
    ['originalSpacing', originalSpacing],
    ['targetSpacing', targetSpacing],
  ] as const) {
    if (s.length !== 3 || !s.every((v) => Number.isFinite(v) && v > 0))
      throw bad(`${name} must be three positive spacings (z, y, x) in mm, got [${s.join(', ')}]`);
  }
  const spatial = dataShape.slice(1);
  const voxels = product(spatial);
  const shape = resampledShape(spatial, originalSpacing, targetSpacing);
  if (shape.some((s) => s < 1))
    throw bad(
      `resampling [${spatial.join(', ')}] from spacing [${originalSpacing.join(', ')}] to [${targetSpacing.join(', ')}] leaves an empty axis`,
    );
  const threshold = opts.separateZAnisotropyThreshold ?? SEPARATE_Z_ANISOTROPY_THRESHOLD;
  // An explicit null means "decide from the spacings"; only a missing option takes v1's default false.
  const force = opts.forceSeparateZ === undefined ? false : opts.forceSeparateZ;
  const axis = separateZAxis(originalSpacing, targetSpacing, force, threshold);
  const out = (a: Float32Array | null, isSeg: boolean): Float32Array | null => {
    if (a === null) return null;
    const channels = a.length / voxels;
    if (!Number.isInteger(channels) || channels < 1)
      throw bad(
        `${isSeg ? 'seg' : 'data'} has ${a.length} values, not a multiple of ${voxels} (${spatial.join(' x ')})`,
      );
    return resampleDataOrSeg(a, [channels, ...spatial], shape, {
      isSeg,
      order: isSeg ? (opts.orderSeg ?? 0) : (opts.orderData ?? 3),
      orderZ: isSeg ? (opts.orderZSeg ?? 0) : (opts.orderZData ?? 0),
      separateZAxis: axis,
    });
  };
  return { data: out(data, false), seg: out(seg, true), shape, separateZAxis: axis };
}
