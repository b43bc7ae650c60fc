/**
 * Summary statistics computed the way NumPy computes them on float32 arrays, so fingerprints match
 * nnU-Net v1 to the last bit: sums use NumPy's pairwise summation in float32, mean and standard
 * deviation stay in float32, percentiles interpolate linearly in float64. (Checked against NumPy
 * 1.24: np.sum of 30000 float32 values differs from a single pairwise sum but equals this one.)
 */
import { percentileOfSorted } from './numpy.js';

const f32 = Math.fround;

/** NumPy's pairwise float32 sum of a[lo, hi) (numpy/core/src/umath/loops_utils.h, block size 128). */
export function pairwiseSumF32(a: Float32Array, lo = 0, hi = a.length): number {
  const n = hi - lo;
  if (n < 8) {
    // NumPy starts these short sums from -0.0, which only matters for an all -0.0 input.
    let r = -0;
    for (let i = lo; i < hi; i++) r = f32(r + (a[i] as number));
    return r;
  }
  if (n <= 128) {
    const r = [a[lo], a[lo + 1], a[lo + 2], a[lo + 3], a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]] as number[];
    let i = lo + 8;
    for (; i < lo + n - (n % 8); i += 8) {
      for (let k = 0; k < 8; k++) r[k] = f32((r[k] as number) + (a[i + k] as number));
    }
    let res = f32(
      f32(f32((r[0] as number) + (r[1] as number)) + f32((r[2] as number) + (r[3] as number))) +
        f32(f32((r[4] as number) + (r[5] as number)) + f32((r[6] as number) + (r[7] as number))),
    );
    for (; i < hi; i++) res = f32(res + (a[i] as number));
    return res;
  }
  let n2 = Math.floor(n / 2);
  n2 -= n2 % 8;
  return f32(pairwiseSumF32(a, lo, lo + n2) + pairwiseSumF32(a, lo + n2, hi));
}

/** NumPy's reductions hand the pairwise loop at most one buffer (8192 elements) at a time. */
const NUMPY_BUFFER_SIZE = 8192;

/** np.sum of a contiguous float32 array: pairwise within each 8192-element buffer, buffers in order. */
export function sumF32(a: Float32Array): number {
  let r = 0;
  for (let s = 0; s < a.length; s += NUMPY_BUFFER_SIZE)
    r = f32(r + pairwiseSumF32(a, s, Math.min(a.length, s + NUMPY_BUFFER_SIZE)));
  return r;
}

/** np.mean of a float32 array (float32 result). */
export function meanF32(a: Float32Array): number {
  return f32(sumF32(a) / a.length);
}

/** np.std of a float32 array (population, float32 arithmetic throughout). */
export function stdF32(a: Float32Array): number {
  const m = meanF32(a);
  const sq = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) {
    const d = f32((a[i] as number) - m);
    sq[i] = f32(d * d);
  }
  return f32(Math.sqrt(f32(sumF32(sq) / a.length)));
}

/** np.percentile(a, q) of an ascending-sorted float32 array (NumPy 1.24's arithmetic, see util/numpy). */
export function percentileSorted(sorted: Float32Array, q: number): number {
  return percentileOfSorted(sorted, q, f32);
}

/** np.median of a float32 array: the middle value, or the float32 mean of the two middle ones. */
export function medianSorted(sorted: Float32Array): number {
  const n = sorted.length;
  const h = Math.floor(n / 2);
  if (n % 2 === 1) return sorted[h] as number;
  return f32(f32((sorted[h - 1] as number) + (sorted[h] as number)) / 2);
}
