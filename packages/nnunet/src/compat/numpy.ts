/**
 * The few NumPy operations the planners rely on, reproduced with NumPy 1.24's exact float64
 * arithmetic so that plans computed here equal nnU-Net v1's to the last bit. Checked against
 * Debian's NumPy 1.24.2 (see scripts/make_planning_fixture.py).
 */

/**
 * np.round on one value: round half to even (NumPy's rint), e.g. 0.5 -> 0, 1.5 -> 2, 2.5 -> 2.
 * `x - floor(x)` is exact for doubles, so the comparison with 0.5 is too.
 */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const frac = x - f;
  if (frac < 0.5) return f;
  if (frac > 0.5) return f + 1;
  return f % 2 === 0 ? f : f + 1;
}

/**
 * np.percentile(values, q) with the default "linear" method: sort, virtual index (n - 1) * q/100,
 * and NumPy's two-sided interpolation (a + d*t below t = 0.5, b - d*(1 - t) from 0.5 on).
 * Integer inputs behave the same, since doubles hold them exactly.
 */
export function percentile(values: readonly number[], q: number): number {
  if (values.length === 0) throw new RangeError('percentile of an empty list');
  return percentileOfSorted(
    [...values].sort((a, b) => a - b),
    q,
  );
}

/**
 * The linear-method percentile of ascending `sorted` values. `roundDiff` rounds the difference of
 * the two neighbours to the array's precision: NumPy subtracts them in the array's dtype (float32
 * for float32 data), then interpolates in float64.
 */
export function percentileOfSorted(
  sorted: ArrayLike<number>,
  q: number,
  roundDiff: (x: number) => number = (x) => x,
): number {
  const n = sorted.length;
  const virtualIndex = (n - 1) * (q / 100);
  if (virtualIndex >= n - 1) return sorted[n - 1] as number;
  if (virtualIndex < 0) return sorted[0] as number;
  const lo = Math.floor(virtualIndex);
  const t = virtualIndex - lo;
  const a = sorted[lo] as number;
  const b = sorted[lo + 1] as number;
  const diff = roundDiff(b - a);
  return t >= 0.5 ? b - diff * (1 - t) : a + diff * t;
}

/** np.percentile(np.vstack(rows), q, axis=0): the percentile of every column. */
export function percentileColumns(rows: readonly (readonly number[])[], q: number): number[] {
  const width = rows[0]?.length ?? 0;
  return Array.from({ length: width }, (_, j) => percentile(column(rows, j), q));
}

/**
 * np.median(np.vstack(rows), axis=0): per column the middle value, or (a + b) / 2 of the two
 * middle values for an even count (NumPy's mean of two elements sums them in order).
 */
export function medianColumns(rows: readonly (readonly number[])[]): number[] {
  const width = rows[0]?.length ?? 0;
  return Array.from({ length: width }, (_, j) => {
    const sorted = column(rows, j).sort((a, b) => a - b);
    const n = sorted.length;
    if (n === 0) throw new RangeError('median of an empty list');
    const h = Math.floor(n / 2);
    return n % 2 === 1 ? (sorted[h] as number) : ((sorted[h - 1] as number) + (sorted[h] as number)) / 2;
  });
}

function column(rows: readonly (readonly number[])[], j: number): number[] {
  return rows.map((r, i) => {
    const v = r[j];
    if (v === undefined) throw new RangeError(`row ${i} has ${r.length} values, expected more than ${j}`);
    return v;
  });
}

/** np.argmax: the first index of the largest value. */
export function argmaxFirst(values: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if ((values[i] as number) > (values[best] as number)) best = i;
  return best;
}

/**
 * np.argsort(values)[-1] for the short (<= 3) arrays the planners sort: NumPy sorts arrays this
 * small by insertion sort, which is stable, so among tied maxima the last index wins.
 */
export function argsortLast(values: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if ((values[i] as number) >= (values[best] as number)) best = i;
  return best;
}

/** np.sum / np.mean of a short (< 8 elements) float64 array: a left-to-right sum. */
export function sumInOrder(values: readonly number[]): number {
  let s = 0;
  for (const v of values) s += v;
  return s;
}
