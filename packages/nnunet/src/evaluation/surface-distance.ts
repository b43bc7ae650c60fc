/**
 * Surface distances between two binary masks, as nnU-Net v1 gets them from medpy.metric.binary
 * (hd, hd95, asd, assd). Restated here: the border of a mask is every foreground voxel with a
 * face neighbour (6-neighbourhood in 3-D) that is background or outside the array (a binary
 * erosion with the connectivity-1 cross and a zero border, subtracted from the mask); each border
 * voxel of one mask gets the Euclidean distance in mm to the nearest border voxel of the other
 * (an exact distance transform with anisotropic voxel spacing).
 *
 * Masks are C-order arrays over `shape` (any dimension; (z, y, x) for volumes) where nonzero is
 * foreground; `spacing` is in the same axis order as `shape`, in mm.
 */

import { percentileOfSorted } from '../compat/numpy.js';
import { numpyMean } from '../compat/numpy-sum.js';
import { NnunetError } from '../errors.js';
import { product } from '../util/shape.js';

/** Distances in both directions: from the test border to the reference border and back. */
export interface SurfaceDistancePair {
  /** One value per border voxel of the test mask, in C order (medpy's __surface_distances(test, reference)). */
  testToReference: Float64Array;
  /** One value per border voxel of the reference mask, in C order. */
  referenceToTest: Float64Array;
}

function checkShape(what: string, mask: ArrayLike<number>, shape: readonly number[], spacing: readonly number[]): void {
  const n = product(shape);
  if (mask.length !== n) {
    throw new NnunetError(
      'ERR_ARGUMENT',
      `${what} holds ${mask.length} voxels but shape [${shape.join(', ')}] needs ${n}.`,
    );
  }
  if (spacing.length !== shape.length) {
    throw new NnunetError(
      'ERR_ARGUMENT',
      `spacing [${spacing.join(', ')}] must have one value per axis of shape [${shape.join(', ')}].`,
    );
  }
}

function stridesOf(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length).fill(1);
  for (let k = shape.length - 2; k >= 0; k--) strides[k] = (strides[k + 1] as number) * (shape[k + 1] as number);
  return strides;
}

/**
 * The border of `mask` (C order over `shape`): foreground voxels with at least one face neighbour
 * that is background or lies outside the array. Returned as 0/1.
 */
export function borderOf(mask: ArrayLike<number>, shape: readonly number[]): Uint8Array {
  const nd = shape.length;
  const strides = stridesOf(shape);
  const n = mask.length;
  const out = new Uint8Array(n);
  const coord = new Array<number>(nd).fill(0);
  for (let i = 0; i < n; i++) {
    if (mask[i] !== 0) {
      let edge = false;
      for (let k = 0; k < nd && !edge; k++) {
        const c = coord[k] as number;
        const s = strides[k] as number;
        if (c === 0 || mask[i - s] === 0 || c === (shape[k] as number) - 1 || mask[i + s] === 0) edge = true;
      }
      if (edge) out[i] = 1;
    }
    for (let k = nd - 1; k >= 0; k--) {
      const c = (coord[k] as number) + 1;
      if (c < (shape[k] as number)) {
        coord[k] = c;
        break;
      }
      coord[k] = 0;
    }
  }
  return out;
}

/**
 * Squared Euclidean distance (mm²) from every voxel to the nearest nonzero voxel of `features`,
 * Infinity where there is none. Exact: one lower-envelope-of-parabolas pass per axis
 * (Felzenszwalb & Huttenlocher), axes in order, so a value is summed as
 * ((d0·s0)² + (d1·s1)²) + (d2·s2)², the order in which scipy's distance_transform_edt adds the
 * offsets to the feature it finds.
 */
export function squaredDistanceTransform(
  features: ArrayLike<number>,
  shape: readonly number[],
  spacing: readonly number[],
): Float64Array {
  const n = features.length;
  const d = new Float64Array(n);
  for (let i = 0; i < n; i++) d[i] = features[i] !== 0 ? 0 : Number.POSITIVE_INFINITY;
  const strides = stridesOf(shape);
  const longest = Math.max(1, ...shape);
  const line = new Float64Array(longest);
  const out = new Float64Array(longest);
  const v = new Int32Array(longest);
  const z = new Float64Array(longest + 1);
  for (let k = 0; k < shape.length; k++) {
    const len = shape[k] as number;
    const stride = strides[k] as number;
    const s = spacing[k] as number;
    const outer = n / (len * stride);
    for (let o = 0; o < outer; o++) {
      for (let inner = 0; inner < stride; inner++) {
        const start = o * len * stride + inner;
        for (let q = 0; q < len; q++) line[q] = d[start + q * stride] as number;
        lowerEnvelope(line, len, s, out, v, z);
        for (let q = 0; q < len; q++) d[start + q * stride] = out[q] as number;
      }
    }
  }
  return d;
}

/** out[q] = min over p of f[p] + ((q - p)·s)², for one line of `len` values (Infinity = no site). */
function lowerEnvelope(f: Float64Array, len: number, s: number, out: Float64Array, v: Int32Array, z: Float64Array) {
  const s2 = s * s;
  let k = -1;
  for (let q = 0; q < len; q++) {
    const fq = f[q] as number;
    if (fq === Number.POSITIVE_INFINITY) continue;
    while (k >= 0) {
      const p = v[k] as number;
      const fp = f[p] as number;
      const cross = (fq - fp + s2 * (q * q - p * p)) / (2 * s2 * (q - p));
      if (cross <= (z[k] as number)) {
        k--;
        continue;
      }
      k++;
      v[k] = q;
      z[k] = cross;
      z[k + 1] = Number.POSITIVE_INFINITY;
      break;
    }
    if (k < 0) {
      k = 0;
      v[0] = q;
      z[0] = Number.NEGATIVE_INFINITY;
      z[1] = Number.POSITIVE_INFINITY;
    }
  }
  if (k < 0) {
    out.fill(Number.POSITIVE_INFINITY, 0, len);
    return;
  }
  let j = 0;
  for (let q = 0; q < len; q++) {
    while ((z[j + 1] as number) < q) j++;
    const p = v[j] as number;
    const off = (q - p) * s;
    out[q] = (f[p] as number) + off * off;
  }
}

/**
 * medpy's surface distances in both directions. Both masks must hold foreground (medpy raises
 * otherwise; v1's metric functions return NaN before getting here). The work is done on the
 * bounding box of both masks, which gives the same distances: every border voxel of either mask
 * lies inside it, and voxels outside it are background.
 */
export function surfaceDistances(
  test: ArrayLike<number>,
  reference: ArrayLike<number>,
  shape: readonly number[],
  spacing: readonly number[],
): SurfaceDistancePair {
  checkShape('the test mask', test, shape, spacing);
  checkShape('the reference mask', reference, shape, spacing);
  const nd = shape.length;
  const lo = shape.map((s) => s);
  const hi = shape.map(() => -1);
  const coord = new Array<number>(nd).fill(0);
  let anyTest = false;
  let anyRef = false;
  for (let i = 0; i < test.length; i++) {
    const t = test[i] !== 0;
    const r = reference[i] !== 0;
    if (t || r) {
      anyTest ||= t;
      anyRef ||= r;
      for (let k = 0; k < nd; k++) {
        const c = coord[k] as number;
        if (c < (lo[k] as number)) lo[k] = c;
        if (c > (hi[k] as number)) hi[k] = c;
      }
    }
    for (let k = nd - 1; k >= 0; k--) {
      const c = (coord[k] as number) + 1;
      if (c < (shape[k] as number)) {
        coord[k] = c;
        break;
      }
      coord[k] = 0;
    }
  }
  if (!anyTest || !anyRef) {
    throw new NnunetError(
      'ERR_ARGUMENT',
      `surface distances need foreground in both masks (the ${anyTest ? 'reference' : 'test'} mask is empty).`,
    );
  }
  const box = lo.map((l, k) => (hi[k] as number) - l + 1);
  const cropTest = crop(test, shape, lo, box);
  const cropRef = crop(reference, shape, lo, box);
  const borderTest = borderOf(cropTest, box);
  const borderRef = borderOf(cropRef, box);
  return {
    testToReference: distancesAt(borderTest, squaredDistanceTransform(borderRef, box, spacing)),
    referenceToTest: distancesAt(borderRef, squaredDistanceTransform(borderTest, box, spacing)),
  };
}

function crop(mask: ArrayLike<number>, shape: readonly number[], lo: readonly number[], box: readonly number[]) {
  const nd = shape.length;
  const strides = stridesOf(shape);
  const n = product(box);
  const out = new Uint8Array(n);
  const coord = new Array<number>(nd).fill(0);
  for (let j = 0; j < n; j++) {
    let i = 0;
    for (let k = 0; k < nd; k++) i += ((coord[k] as number) + (lo[k] as number)) * (strides[k] as number);
    out[j] = mask[i] !== 0 ? 1 : 0;
    for (let k = nd - 1; k >= 0; k--) {
      const c = (coord[k] as number) + 1;
      if (c < (box[k] as number)) {
        coord[k] = c;
        break;
      }
      coord[k] = 0;
    }
  }
  return out;
}

function distancesAt(border: Uint8Array, squared: Float64Array): Float64Array {
  let count = 0;
  for (let i = 0; i < border.length; i++) count += border[i] as number;
  const out = new Float64Array(count);
  let j = 0;
  for (let i = 0; i < border.length; i++) if (border[i] !== 0) out[j++] = Math.sqrt(squared[i] as number);
  return out;
}

/** medpy's hd: the largest distance in either direction (mm). */
export function hausdorffOf(pair: SurfaceDistancePair): number {
  let m = Number.NEGATIVE_INFINITY;
  for (const a of [pair.testToReference, pair.referenceToTest]) for (const x of a) if (x > m) m = x;
  return m;
}

/** medpy's hd95: np.percentile of both directions' distances together, at 95 (linear). */
export function hausdorff95Of(pair: SurfaceDistancePair): number {
  const all = new Float64Array(pair.testToReference.length + pair.referenceToTest.length);
  all.set(pair.testToReference, 0);
  all.set(pair.referenceToTest, pair.testToReference.length);
  all.sort();
  return percentileOfSorted(all, 95);
}

/** medpy's asd(test, reference): the mean distance from the test border to the reference border (mm). */
export function averageSurfaceDistanceOf(pair: SurfaceDistancePair): number {
  return numpyMean(pair.testToReference);
}

/** medpy's assd: the mean of the two directed average surface distances (mm). */
export function averageSymmetricSurfaceDistanceOf(pair: SurfaceDistancePair): number {
  return numpyMean(Float64Array.of(numpyMean(pair.testToReference), numpyMean(pair.referenceToTest)));
}
