/**
 * B-spline resampling along one axis, the building block of nnU-Net v1's resampling.
 *
 * v1 resizes with scikit-image's `resize(..., mode='edge', anti_aliasing=False)`, which calls
 * SciPy's `ndimage.zoom(..., mode='nearest', grid_mode=True)`, and steps along the low-resolution
 * axis with `ndimage.map_coordinates(..., mode='nearest')`. Both are tensor-product B-spline
 * interpolations, so a zoom onto a product grid is one 1-D pass per axis. This module does one
 * such pass with SciPy's arithmetic (SciPy 1.10, `ni_splines.c` / `ni_interpolation.c`):
 *
 * - Coordinates (grid mode): output index k samples the input at ((k + 0.5) * n / m) - 0.5, so the
 *   outer edges of the first and last voxels line up, not their centres.
 * - Prefilter (orders 2 to 5): for mode 'nearest' SciPy first pads the array with 12 copies of the
 *   edge value on every side (`_prepad_for_spline_filter`) and then runs the recursive B-spline
 *   filter (Unser, Aldroubi & Eden 1991) over the padded line with the half-sample symmetric
 *   ('reflect') start values. We do exactly that, so the coefficients near the borders match.
 * - Interpolation: order + 1 taps with SciPy's weight polynomials; taps beyond the (padded) line
 *   repeat its end value. Orders 0 and 1 use no prefilter and no padding.
 *
 * Lines are processed in blocks of neighbouring columns so that every inner loop is contiguous and
 * the scratch memory stays small (a few hundred KiB) whatever the axis.
 */

/** Edge padding SciPy adds before prefiltering in mode 'nearest' (`npad` in `_prepad_for_spline_filter`). */
export const SPLINE_EDGE_PAD = 12;

/** Highest spline order SciPy (and so skimage's resize) supports. */
export const MAX_SPLINE_ORDER = 5;

/**
 * Poles of the B-spline interpolation prefilter for orders 2 to 5, the same double constants as
 * SciPy's `get_filter_poles` (order 2: sqrt(8) - 3, order 3: sqrt(3) - 2, orders 4 and 5: the
 * roots of the corresponding Euler-Frobenius polynomials).
 */
const FILTER_POLES: readonly (readonly number[])[] = [
  [],
  [],
  [-0.1715728752538099],
  [-0.2679491924311227],
  [-0.36134122590022016, -0.013725429297339121],
  [-0.4305753470999738, -0.04309628820326465],
];

/** The prefilter poles for a spline order (none for orders 0 and 1). */
export function splinePoles(order: number): readonly number[] {
  return FILTER_POLES[order] ?? [];
}

/**
 * Writes the order + 1 interpolation weights for sample position `x` (in input index units) into
 * `out[at .. at + order]`; the first weight belongs to input index `splineStart(x, order)`. The
 * polynomials and their evaluation order are SciPy's, so weights agree to the last bit (the last
 * weight is 1 minus the others, as there).
 */
export function splineWeights(x: number, order: number, out: Float64Array, at: number): void {
  // Offset of x from the middle knot: [0, 1) for odd orders, (-0.5, 0.5] for even ones.
  const t = x - Math.floor(order & 1 ? x : x + 0.5);
  let y: number;
  let z: number;
  let s: number;
  switch (order) {
    case 0:
      out[at] = 1;
      return;
    case 1:
      out[at] = 1 - t;
      break;
    case 2:
      out[at + 1] = 0.75 - t * t;
      y = 0.5 - t;
      out[at] = 0.5 * y * y;
      break;
    case 3:
      y = t;
      z = 1 - t;
      out[at + 1] = (y * y * (y - 2) * 3 + 4) / 6;
      out[at + 2] = (z * z * (z - 2) * 3 + 4) / 6;
      out[at] = (z * z * z) / 6;
      break;
    case 4:
      s = t * t;
      out[at + 2] = s * (s * 0.25 - 0.625) + 115 / 192;
      y = 1 + t;
      out[at + 1] = y * (y * ((y * (5 - y)) / 6 - 1.25) + 5 / 24) + 55 / 96;
      z = 1 - t;
      out[at + 3] = z * (z * ((z * (5 - z)) / 6 - 1.25) + 5 / 24) + 55 / 96;
      y = 0.5 - t;
      s = y * y;
      out[at] = (s * s) / 24;
      break;
    case 5:
      y = t;
      z = 1 - t;
      s = y * y;
      out[at + 2] = s * (s * (0.25 - y / 12) - 0.5) + 0.55;
      s = z * z;
      out[at + 3] = s * (s * (0.25 - z / 12) - 0.5) + 0.55;
      y += 1;
      out[at + 1] = y * (y * (y * (y * (y / 24 - 0.375) + 1.25) - 1.75) + 0.625) + 0.425;
      z += 1;
      out[at + 4] = z * (z * (z * (z * (z / 24 - 0.375) + 1.25) - 1.75) + 0.625) + 0.425;
      y = 1 - t;
      s = y * y;
      out[at] = (y * s * s) / 120;
      break;
    default:
      throw new RangeError(`spline order ${order} is not in 0..${MAX_SPLINE_ORDER}`);
  }
  let last = 1;
  for (let i = 0; i < order; i++) last -= out[at + i]!;
  out[at + order] = last;
}

/** First input index of the order + 1 taps that interpolate position `x` (may lie outside the line). */
export function splineStart(x: number, order: number): number {
  return (order & 1 ? Math.floor(x) : Math.floor(x + 0.5)) - (order >> 1);
}

/** Where output index k of m samples a line of n values: ((k + 0.5) * n / m) - 0.5, SciPy's grid mode. */
export function gridCoordinate(k: number, n: number, m: number): number {
  // Same operation order as SciPy's zoom_shift (zoom = n / m computed once) and as v1's
  // map_coordinates grid (scale * (k + 0.5) - 0.5), so the coordinates agree to the bit.
  return (k + 0.5) * (n / m) - 0.5;
}

/**
 * Precomputed taps of one 1-D resampling n -> m: for output k, `index[k * taps + t]` is the row of
 * the (padded) line and `weight[k * taps + t]` its weight.
 */
export interface AxisTaps {
  taps: number;
  /** Edge padding of the line the indices refer to (12 for orders >= 2, else 0). */
  pad: number;
  index: Int32Array;
  weight: Float64Array;
}

/** Taps for resampling n values to m with spline `order` and SciPy's 'nearest' boundary. */
export function axisTaps(n: number, m: number, order: number): AxisTaps {
  const taps = order + 1;
  const pad = order > 1 ? SPLINE_EDGE_PAD : 0;
  const last = n + 2 * pad - 1;
  const index = new Int32Array(m * taps);
  const weight = new Float64Array(m * taps);
  for (let k = 0; k < m; k++) {
    const x = gridCoordinate(k, n, m) + pad;
    const start = splineStart(x, order);
    splineWeights(x, order, weight, k * taps);
    for (let t = 0; t < taps; t++) {
      const i = start + t;
      index[k * taps + t] = i < 0 ? 0 : Math.min(i, last);
    }
  }
  return { taps, pad, index, weight };
}

/**
 * In-place B-spline prefilter of `width` interleaved lines of `len` values each (value i of line j
 * at `c[i * width + j]`), with the half-sample symmetric start values SciPy uses for modes
 * 'nearest' and 'reflect'. The gain, the causal/anticausal recursions and their start values are
 * evaluated in SciPy's order.
 */
export function prefilterLines(c: Float64Array, len: number, width: number, order: number, save: Float64Array): void {
  if (len < 2) return;
  const poles = splinePoles(order);
  let gain = 1;
  for (const z of poles) gain *= (1 - z) * (1 - 1 / z);
  const total = len * width;
  for (let i = 0; i < total; i++) c[i] = c[i]! * gain;
  const lastRow = (len - 1) * width;
  for (const z of poles) {
    // Causal start value: c[0] + z / (1 - z^2n) * sum_i z^i (c[i] + z^n c[n-1-i]) over i >= 0.
    const zn = z ** len;
    for (let j = 0; j < width; j++) {
      save[j] = c[j]!;
      c[j] = c[j]! + zn * c[lastRow + j]!;
    }
    let zi = z;
    for (let i = 1; i < len; i++) {
      const row = i * width;
      const mirror = (len - 1 - i) * width;
      for (let j = 0; j < width; j++) c[j] = c[j]! + zi * (c[row + j]! + zn * c[mirror + j]!);
      zi *= z;
    }
    const scale = z / (1 - zn * zn);
    for (let j = 0; j < width; j++) c[j] = c[j]! * scale + save[j]!;
    for (let i = 1; i < len; i++) {
      const row = i * width;
      const prev = row - width;
      for (let j = 0; j < width; j++) c[row + j] = c[row + j]! + z * c[prev + j]!;
    }
    // Anticausal start value, then the backward recursion.
    const end = z / (z - 1);
    for (let j = 0; j < width; j++) c[lastRow + j] = c[lastRow + j]! * end;
    for (let i = len - 2; i >= 0; i--) {
      const row = i * width;
      const next = row + width;
      for (let j = 0; j < width; j++) c[row + j] = z * (c[next + j]! - c[row + j]!);
    }
  }
}

/** Float32 or float64 voxels, the two element types the passes read and write. */
export type FloatArray = Float32Array | Float64Array;

/** Scratch values kept per block (columns x padded length); about 256 KiB of doubles. */
const BLOCK_VALUES = 32768;

/**
 * One resampling pass along the middle axis of a C-order array viewed as [outer, n, inner]:
 * writes [outer, m, inner] to `dst`, each line along the axis resampled with spline `order`
 * (0..5), SciPy's grid-mode coordinates and 'nearest' boundary (see the module comment).
 * `src` and `dst` must not overlap. Values are computed in float64 and stored in `dst`'s type.
 */
export function resampleAxis(
  src: FloatArray,
  outer: number,
  n: number,
  inner: number,
  dst: FloatArray,
  m: number,
  order: number,
): void {
  const { taps, pad, index, weight } = axisTaps(n, m, order);
  const len = n + 2 * pad;
  const columns = outer * inner;
  const width = Math.max(1, Math.min(columns, Math.floor(BLOCK_VALUES / Math.max(len, m))));
  const lines = new Float64Array(len * width);
  const result = new Float64Array(m * width);
  const save = new Float64Array(width);
  const srcBase = new Float64Array(width);
  const dstBase = new Float64Array(width);
  for (let col0 = 0; col0 < columns; col0 += width) {
    const w = Math.min(width, columns - col0);
    const a0 = Math.floor(col0 / inner);
    const b0 = col0 - a0 * inner;
    // Columns of one outer index are contiguous in memory: copy whole rows.
    const contiguous = b0 + w <= inner;
    if (contiguous) {
      const sb = a0 * n * inner + b0;
      for (let i = 0; i < n; i++) {
        const from = sb + i * inner;
        lines.set(src.subarray(from, from + w), (i + pad) * w);
      }
    } else {
      for (let j = 0; j < w; j++) {
        const col = col0 + j;
        const a = Math.floor(col / inner);
        const b = col - a * inner;
        srcBase[j] = a * n * inner + b;
        dstBase[j] = a * m * inner + b;
      }
      for (let j = 0; j < w; j++) {
        const sb = srcBase[j]!;
        for (let i = 0; i < n; i++) lines[(i + pad) * w + j] = src[sb + i * inner]!;
      }
    }
    if (pad > 0) {
      const first = pad * w;
      const lastRow = (pad + n - 1) * w;
      for (let i = 0; i < pad; i++) {
        lines.copyWithin(i * w, first, first + w);
        lines.copyWithin((pad + n + i) * w, lastRow, lastRow + w);
      }
    }
    if (order > 1) prefilterLines(lines, len, w, order, save);
    interpolateBlock(lines, w, m, taps, index, weight, result);
    if (contiguous) {
      const db = a0 * m * inner + b0;
      for (let k = 0; k < m; k++) {
        const at = k * w;
        dst.set(result.subarray(at, at + w), db + k * inner);
      }
    } else {
      for (let j = 0; j < w; j++) {
        const db = dstBase[j]!;
        for (let k = 0; k < m; k++) dst[db + k * inner] = result[k * w + j]!;
      }
    }
  }
}

/** result[k, j] = sum over taps t of weight[k, t] * lines[index[k, t], j], for w interleaved columns. */
function interpolateBlock(
  lines: Float64Array,
  w: number,
  m: number,
  taps: number,
  index: Int32Array,
  weight: Float64Array,
  result: Float64Array,
): void {
  if (taps === 4) {
    for (let k = 0; k < m; k++) {
      const q = k * 4;
      const r0 = index[q]! * w;
      const r1 = index[q + 1]! * w;
      const r2 = index[q + 2]! * w;
      const r3 = index[q + 3]! * w;
      const w0 = weight[q]!;
      const w1 = weight[q + 1]!;
      const w2 = weight[q + 2]!;
      const w3 = weight[q + 3]!;
      const out = k * w;
      for (let j = 0; j < w; j++) {
        result[out + j] = w0 * lines[r0 + j]! + w1 * lines[r1 + j]! + w2 * lines[r2 + j]! + w3 * lines[r3 + j]!;
      }
    }
    return;
  }
  if (taps === 1) {
    for (let k = 0; k < m; k++) {
      const r = index[k]! * w;
      result.set(lines.subarray(r, r + w), k * w);
    }
    return;
  }
  for (let k = 0; k < m; k++) {
    const q = k * taps;
    const out = k * w;
    const r0 = index[q]! * w;
    const w0 = weight[q]!;
    for (let j = 0; j < w; j++) result[out + j] = w0 * lines[r0 + j]!;
    for (let t = 1; t < taps; t++) {
      const r = index[q + t]! * w;
      const wt = weight[q + t]!;
      for (let j = 0; j < w; j++) result[out + j] = result[out + j]! + wt * lines[r + j]!;
    }
  }
}
