/**
 * The two resizers nnU-Net v1 resamples with, over C-order float arrays:
 *
 * - `resizeVolume`: scikit-image 0.19's `resize(image, newShape, order, mode='edge',
 *   anti_aliasing=False, clip=True)`, i.e. SciPy's `zoom(grid_mode=True, mode='nearest')`
 *   followed by clipping to the input's value range.
 * - `resizeSegmentation`: batchgenerators' `resize_segmentation`: order 0 is a nearest-neighbour
 *   resize of the label map; higher orders resize the one-hot mask of every label (ascending) and
 *   give a voxel the label when its interpolated mask is >= 0.5, later labels overwriting earlier
 *   ones and 0 where no label reaches 0.5.
 *
 * Shapes are any rank (nnU-Net passes (z, y, x) volumes or (y, x) slices) in C order; sizes are voxel
 * counts. Both run one separable pass per axis whose size changes (see spline.ts); axes whose size
 * stays are copied, which differs from SciPy's own evaluation only by float64 rounding (orders 0 and
 * 1 reproduce those axes exactly in SciPy too).
 */
import { NnunetError } from '../errors.js';
import { product } from '../util/shape.js';
import { axisTaps, type FloatArray, MAX_SPLINE_ORDER, resampleAxis } from './spline.js';

function checkShapes(
  what: string,
  length: number,
  shape: readonly number[],
  newShape: readonly number[],
  order: number,
): void {
  const bad = (why: string) => new NnunetError('ERR_ARGUMENT', `${what}: ${why}.`);
  if (shape.length !== newShape.length)
    throw bad(`shape [${shape.join(', ')}] and new shape [${newShape.join(', ')}] differ in rank`);
  for (const s of [...shape, ...newShape])
    if (!Number.isInteger(s) || s < 1)
      throw bad(`sizes must be positive integers, got [${shape.join(', ')}] -> [${newShape.join(', ')}]`);
  if (product(shape) !== length) throw bad(`shape [${shape.join(', ')}] needs ${product(shape)} values, got ${length}`);
  if (!Number.isInteger(order) || order < 0 || order > MAX_SPLINE_ORDER)
    throw bad(`spline order must be an integer in 0..${MAX_SPLINE_ORDER}, got ${order}`);
}

/**
 * Resamples `src` (C order, `shape`) onto `newShape` with one spline pass per changed axis, without
 * clipping, writing `dst` (product(newShape) values, float32 or float64). Axes are visited from the
 * one shrinking most to the one growing most, so that intermediates stay as small as possible.
 */
export function zoomSeparable(
  src: FloatArray,
  shape: readonly number[],
  newShape: readonly number[],
  order: number,
  dst: FloatArray,
): void {
  const axes = shape
    .map((_, d) => d)
    .filter((d) => shape[d] !== newShape[d])
    .sort((a, b) => newShape[a]! / shape[a]! - newShape[b]! / shape[b]!);
  if (axes.length === 0) {
    dst.set(src);
    return;
  }
  const current = [...shape];
  let from: FloatArray = src;
  for (let p = 0; p < axes.length; p++) {
    const d = axes[p]!;
    const n = current[d]!;
    const m = newShape[d]!;
    const outer = product(current.slice(0, d));
    const inner = product(current.slice(d + 1));
    const to = p === axes.length - 1 ? dst : new Float64Array(outer * m * inner);
    resampleAxis(from, outer, n, inner, to, m, order);
    current[d] = m;
    from = to;
  }
}

/** Minimum and maximum ignoring NaN (NaN, NaN when every value is NaN), as skimage's clip bounds. */
function valueRange(a: FloatArray, start: number, end: number): [number, number] {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  let any = false;
  for (let i = start; i < end; i++) {
    const v = a[i]!;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
    if (!Number.isNaN(v)) any = true;
  }
  return any ? [lo, hi] : [Number.NaN, Number.NaN];
}

/** Clamps a[start..end) to [lo, hi]; NaN stays NaN, like np.clip. */
function clampRange(a: FloatArray, start: number, end: number, lo: number, hi: number): void {
  for (let i = start; i < end; i++) {
    const v = a[i]!;
    if (v < lo) a[i] = lo;
    else if (v > hi) a[i] = hi;
  }
}

/**
 * skimage.transform.resize(src, newShape, order, mode='edge', anti_aliasing=False, clip=True) for a
 * float image of any rank: spline interpolation of `order` (0..5) in SciPy's grid mode, then
 * clipping to the input's [min, max]. The result is written to `dst` (product(newShape) values; a
 * Float32Array receives the float64 result rounded, as v1's `.astype(float32)` does).
 *
 * `clipAxis` reproduces v1's separate-z path, which resizes every slice along that axis on its own
 * and so clips each slice to that slice's own range; the axis must keep its size then. With
 * `clipAxis` null the whole array's range is used.
 */
export function resizeVolume(
  src: FloatArray,
  shape: readonly number[],
  newShape: readonly number[],
  order: number,
  dst: FloatArray,
  clipAxis: number | null = null,
): void {
  checkShapes('resizeVolume', src.length, shape, newShape, order);
  if (dst.length !== product(newShape))
    throw new NnunetError('ERR_ARGUMENT', `resizeVolume: the output needs ${product(newShape)} values.`);
  if (clipAxis !== null && shape[clipAxis] !== newShape[clipAxis])
    throw new NnunetError('ERR_ARGUMENT', `resizeVolume: the per-slice clip axis ${clipAxis} must keep its size.`);
  zoomSeparable(src, shape, newShape, order, dst);
  if (clipAxis === null) {
    const [lo, hi] = valueRange(src, 0, src.length);
    clampRange(dst, 0, dst.length, lo, hi);
    return;
  }
  // View both arrays as [outer, slices, inner] and clip slice s with the range of input slice s.
  const slices = shape[clipAxis]!;
  const outer = product(shape.slice(0, clipAxis));
  const inner = product(shape.slice(clipAxis + 1));
  const newInner = product(newShape.slice(clipAxis + 1));
  const bounds = new Float64Array(2 * slices).fill(Number.NaN);
  for (let s = 0; s < slices; s++) {
    let lo = Number.POSITIVE_INFINITY;
    let hi = Number.NEGATIVE_INFINITY;
    for (let a = 0; a < outer; a++) {
      const base = (a * slices + s) * inner;
      const [l, h] = valueRange(src, base, base + inner);
      if (l < lo) lo = l;
      if (h > hi) hi = h;
    }
    if (lo <= hi) {
      bounds[2 * s] = lo;
      bounds[2 * s + 1] = hi;
    }
  }
  for (let a = 0; a < outer; a++) {
    for (let s = 0; s < slices; s++) {
      const base = (a * slices + s) * newInner;
      clampRange(dst, base, base + newInner, bounds[2 * s]!, bounds[2 * s + 1]!);
    }
  }
}

/** The distinct values of `a`, ascending (NaN left out: it never equals itself, so v1's mask of it is empty). */
export function uniqueLabels(a: FloatArray): number[] {
  const seen = new Set<number>();
  for (let i = 0; i < a.length; i++) {
    const v = a[i]!;
    if (!Number.isNaN(v)) seen.add(v);
  }
  return [...seen].sort((x, y) => x - y);
}

/**
 * batchgenerators' resize_segmentation(src, newShape, order) on a label map of rank <= 3: order 0
 * resizes the labels nearest-neighbour; order 1 and higher resize each label's one-hot mask (labels
 * ascending) and assign the label where the mask interpolates to >= 0.5, 0 where none does.
 * Writes `dst` (product(newShape) values).
 *
 * Order 1, the order v1's preprocessing uses, is evaluated voxel by voxel with SciPy's own sum over
 * the 2^rank corners, so results are identical to v1's, ties at exactly 0.5 included.
 */
export function resizeSegmentation(
  src: FloatArray,
  shape: readonly number[],
  newShape: readonly number[],
  order: number,
  dst: FloatArray,
): void {
  checkShapes('resizeSegmentation', src.length, shape, newShape, order);
  if (dst.length !== product(newShape))
    throw new NnunetError('ERR_ARGUMENT', `resizeSegmentation: the output needs ${product(newShape)} values.`);
  if (order === 0) {
    zoomSeparable(src, shape, newShape, 0, dst);
    return;
  }
  if (order === 1 && shape.length <= 3) {
    const pad = 3 - shape.length;
    const s3 = [...new Array<number>(pad).fill(1), ...shape];
    const n3 = [...new Array<number>(pad).fill(1), ...newShape];
    linearLabelResize(src, s3, n3, dst);
    return;
  }
  dst.fill(0);
  const mask = new Float64Array(src.length);
  const t = new Float64Array(dst.length);
  for (const label of uniqueLabels(src)) {
    for (let i = 0; i < src.length; i++) mask[i] = src[i] === label ? 1 : 0;
    zoomSeparable(mask, shape, newShape, order, t);
    for (let i = 0; i < t.length; i++) if (t[i]! >= 0.5) dst[i] = label;
  }
}

/** Linear taps of one axis: the two input indices and weights per output index. */
interface LinearAxis {
  lo: Int32Array;
  hi: Int32Array;
  wlo: Float64Array;
  whi: Float64Array;
}

function linearAxis(n: number, m: number): LinearAxis {
  const { index, weight } = axisTaps(n, m, 1);
  const lo = new Int32Array(m);
  const hi = new Int32Array(m);
  const wlo = new Float64Array(m);
  const whi = new Float64Array(m);
  for (let k = 0; k < m; k++) {
    lo[k] = index[2 * k]!;
    wlo[k] = weight[2 * k]!;
    whi[k] = weight[2 * k + 1]!;
    // A tap of weight exactly 0 adds exactly 0 to SciPy's sum; pointing it at the other tap lets
    // unchanged axes and grid-aligned samples take the single-label shortcut below.
    hi[k] = whi[k] === 0 ? lo[k]! : index[2 * k + 1]!;
  }
  return { lo, hi, wlo, whi };
}

/**
 * Order-1 resize_segmentation of a (z, y, x) label map. For every output voxel the eight corner
 * labels are read; when they agree the voxel takes that label (its mask interpolates to ~1, every
 * other mask to 0). Otherwise each corner label's mask value is summed exactly as SciPy's
 * NI_ZoomShift does (corners in C order, weight product ((1 * wz) * wy) * wx) and the highest label
 * reaching 0.5 wins, which is what assigning the labels in ascending order leaves.
 */
function linearLabelResize(src: FloatArray, shape: readonly number[], newShape: readonly number[], dst: FloatArray) {
  const [Z, Y, X] = shape as [number, number, number];
  const [mz, my, mx] = newShape as [number, number, number];
  const az = linearAxis(Z, mz);
  const ay = linearAxis(Y, my);
  const ax = linearAxis(X, mx);
  const labels = new Float64Array(8);
  const weights = new Float64Array(8);
  const candidates: number[] = [];
  let o = 0;
  for (let k = 0; k < mz; k++) {
    const z0 = az.lo[k]! * Y * X;
    const z1 = az.hi[k]! * Y * X;
    const wz0 = az.wlo[k]!;
    const wz1 = az.whi[k]!;
    for (let j = 0; j < my; j++) {
      const y0 = ay.lo[j]! * X;
      const y1 = ay.hi[j]! * X;
      const wy0 = ay.wlo[j]!;
      const wy1 = ay.whi[j]!;
      for (let i = 0; i < mx; i++, o++) {
        const x0 = ax.lo[i]!;
        const x1 = ax.hi[i]!;
        const l0 = src[z0 + y0 + x0]!;
        const l1 = src[z0 + y0 + x1]!;
        const l2 = src[z0 + y1 + x0]!;
        const l3 = src[z0 + y1 + x1]!;
        const l4 = src[z1 + y0 + x0]!;
        const l5 = src[z1 + y0 + x1]!;
        const l6 = src[z1 + y1 + x0]!;
        const l7 = src[z1 + y1 + x1]!;
        if (l0 === l1 && l0 === l2 && l0 === l3 && l0 === l4 && l0 === l5 && l0 === l6 && l0 === l7) {
          dst[o] = l0;
          continue;
        }
        const wx0 = ax.wlo[i]!;
        const wx1 = ax.whi[i]!;
        labels[0] = l0;
        labels[1] = l1;
        labels[2] = l2;
        labels[3] = l3;
        labels[4] = l4;
        labels[5] = l5;
        labels[6] = l6;
        labels[7] = l7;
        weights[0] = wz0 * wy0 * wx0;
        weights[1] = wz0 * wy0 * wx1;
        weights[2] = wz0 * wy1 * wx0;
        weights[3] = wz0 * wy1 * wx1;
        weights[4] = wz1 * wy0 * wx0;
        weights[5] = wz1 * wy0 * wx1;
        weights[6] = wz1 * wy1 * wx0;
        weights[7] = wz1 * wy1 * wx1;
        candidates.length = 0;
        for (let c = 0; c < 8; c++) {
          const l = labels[c]!;
          if (!Number.isNaN(l) && !candidates.includes(l)) candidates.push(l);
        }
        candidates.sort((a, b) => a - b);
        let result = 0;
        for (const l of candidates) {
          let t = 0;
          for (let c = 0; c < 8; c++) if (labels[c] === l) t += weights[c]!;
          if (t >= 0.5) result = l;
        }
        dst[o] = result;
      }
    }
  }
}

/**
 * Resamples the label map `src` along one axis only, as v1's separate-z step does for segmentations
 * with an order above 0 along z: each label's mask (labels ascending) is interpolated with
 * map_coordinates(order, mode='nearest') and the voxel takes the label where np.round of the value
 * exceeds 0.5, i.e. where the value is > 0.5; 0 elsewhere. `src` is [outer, n, inner], `dst`
 * [outer, m, inner].
 */
export function resampleLabelsAlongAxis(
  src: FloatArray,
  outer: number,
  n: number,
  inner: number,
  dst: FloatArray,
  m: number,
  order: number,
): void {
  dst.fill(0);
  const mask = new Float64Array(src.length);
  const t = new Float64Array(dst.length);
  for (const label of uniqueLabels(src)) {
    for (let i = 0; i < src.length; i++) mask[i] = src[i] === label ? 1 : 0;
    resampleAxis(mask, outer, n, inner, t, m, order);
    for (let i = 0; i < t.length; i++) if (t[i]! > 0.5) dst[i] = label;
  }
}
