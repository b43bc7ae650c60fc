/**
 * np.mean and np.nanmean of float64 arrays with NumPy 1.24's exact summation order, so that mean
 * scores and average surface distances equal nnU-Net v1's to the last bit: pairwise summation
 * (blocks of 128 with eight accumulators, numpy/core/src/umath/loops_utils.h) inside each
 * 8192-element buffer the reduction hands over, buffers added in order. The float32 twin lives in
 * compat/float32-stats.ts.
 */

/** NumPy's pairwise float64 sum of a[lo, hi). */
export function pairwiseSumF64(a: ArrayLike<number>, lo = 0, hi = a.length): number {
  const n = hi - lo;
  if (n < 8) {
    let r = -0;
    for (let i = lo; i < hi; i++) r += a[i] as number;
    return r;
  }
  if (n <= 128) {
    let r0 = a[lo] as number;
    let r1 = a[lo + 1] as number;
    let r2 = a[lo + 2] as number;
    let r3 = a[lo + 3] as number;
    let r4 = a[lo + 4] as number;
    let r5 = a[lo + 5] as number;
    let r6 = a[lo + 6] as number;
    let r7 = a[lo + 7] as number;
    let i = lo + 8;
    for (; i < lo + n - (n % 8); i += 8) {
      r0 += a[i] as number;
      r1 += a[i + 1] as number;
      r2 += a[i + 2] as number;
      r3 += a[i + 3] as number;
      r4 += a[i + 4] as number;
      r5 += a[i + 5] as number;
      r6 += a[i + 6] as number;
      r7 += a[i + 7] as number;
    }
    let res = r0 + r1 + (r2 + r3) + (r4 + r5 + (r6 + r7));
    for (; i < hi; i++) res += a[i] as number;
    return res;
  }
  let n2 = Math.floor(n / 2);
  n2 -= n2 % 8;
  return pairwiseSumF64(a, lo, lo + n2) + pairwiseSumF64(a, lo + n2, hi);
}

/** The largest block NumPy's reduction passes to the pairwise loop at once. */
const NUMPY_BUFFER_SIZE = 8192;

/** np.sum of a contiguous float64 array. */
export function numpySum(a: ArrayLike<number>): number {
  let r = 0;
  for (let s = 0; s < a.length; s += NUMPY_BUFFER_SIZE) {
    r += pairwiseSumF64(a, s, Math.min(a.length, s + NUMPY_BUFFER_SIZE));
  }
  return r;
}

/** np.mean of a float64 array (NaN for an empty one, as NumPy gives with a warning). */
export function numpyMean(a: ArrayLike<number>): number {
  return numpySum(a) / a.length;
}

/** np.nanmean: NaN entries are replaced by 0 for the sum and not counted; NaN when all are NaN. */
export function numpyNanmean(a: ArrayLike<number>): number {
  const filled = new Float64Array(a.length);
  let count = 0;
  for (let i = 0; i < a.length; i++) {
    const v = a[i] as number;
    if (!Number.isNaN(v)) {
      filled[i] = v;
      count++;
    }
  }
  return numpySum(filled) / count;
}
