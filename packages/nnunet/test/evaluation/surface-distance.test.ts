/** Surface distances (medpy's hd, hd95, asd, assd): analytic cases, brute force, and scipy fixtures. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { numpyMean, numpyNanmean } from '../../src/compat/numpy-sum.js';
import {
  averageSurfaceDistanceOf,
  averageSymmetricSurfaceDistanceOf,
  borderOf,
  hausdorff95Of,
  hausdorffOf,
  surfaceDistances,
} from '../../src/evaluation/surface-distance.js';
import { readNpy } from '../../src/io/npy.js';
import { product } from '../../src/util/shape.js';
import { FIXTURES } from '../helpers.js';

const DIR = join(FIXTURES, 'evaluation');
const index = JSON.parse(readFileSync(join(DIR, 'index.json'), 'utf8'));

function box(shape: readonly number[], lo: readonly number[], hi: readonly number[]): Uint8Array {
  const [Z, Y, X] = shape as [number, number, number];
  const m = new Uint8Array(Z * Y * X);
  for (let z = lo[0] as number; z <= (hi[0] as number); z++)
    for (let y = lo[1] as number; y <= (hi[1] as number); y++)
      for (let x = lo[2] as number; x <= (hi[2] as number); x++) m[(z * Y + y) * X + x] = 1;
  return m;
}

test('two slabs offset by k voxels along z: every distance is a multiple of the z spacing', () => {
  // Slabs two voxels thick are all border; the nearest partner of a voxel is in its own (y, x)
  // column, so half the distances are (k - 1)·sz and half k·sz, in both directions.
  const shape = [12, 5, 4];
  const spacing = [2.5, 0.7, 0.9];
  for (const k of [2, 3, 5]) {
    const a = box(shape, [1, 0, 0], [2, 4, 3]);
    const b = box(shape, [1 + k, 0, 0], [2 + k, 4, 3]);
    const p = surfaceDistances(a, b, shape, spacing);
    assert.equal(p.testToReference.length, 40);
    assert.equal(p.referenceToTest.length, 40);
    assert.equal(hausdorffOf(p), k * 2.5);
    assert.equal(hausdorff95Of(p), k * 2.5);
    assert.equal(averageSurfaceDistanceOf(p), (k - 0.5) * 2.5);
    assert.equal(averageSymmetricSurfaceDistanceOf(p), (k - 0.5) * 2.5);
  }
});

test('two cubes offset diagonally: distances between single-voxel objects are the anisotropic norm', () => {
  const shape = [6, 7, 8];
  const spacing = [3, 0.5, 1.25];
  const a = box(shape, [1, 1, 1], [1, 1, 1]);
  const b = box(shape, [4, 5, 3], [4, 5, 3]);
  const d = Math.sqrt((3 * 3) ** 2 + (4 * 0.5) ** 2 + (2 * 1.25) ** 2);
  const p = surfaceDistances(a, b, shape, spacing);
  assert.equal(hausdorffOf(p), d);
  assert.equal(hausdorff95Of(p), d);
  assert.equal(averageSurfaceDistanceOf(p), d);
});

test('a cube inside a larger cube: the border excludes the interior, and the array edge counts as border', () => {
  const shape = [9, 9, 9];
  const outer = box(shape, [0, 0, 0], [8, 8, 8]);
  const border = borderOf(outer, shape);
  // A full array still has a border: its faces touch the outside, which counts as background.
  assert.equal(
    border.reduce((s, v) => s + v, 0),
    9 ** 3 - 7 ** 3,
  );
  const big = box(shape, [1, 1, 1], [7, 7, 7]);
  const small = box(shape, [3, 3, 3], [5, 5, 5]);
  const p = surfaceDistances(small, big, shape, [1, 1, 1]);
  // Every border voxel of the 3x3x3 cube lies 2 voxels from the nearest face of the 7x7x7 cube;
  // the farthest big-cube border voxels are its corners, sqrt(2² + 2² + 2²) from the small corners.
  assert.ok(p.testToReference.every((v) => v === 2));
  assert.equal(p.testToReference.length, 26);
  assert.equal(hausdorffOf(p), Math.sqrt(12));
});

test('distances equal a brute-force nearest-border search on random masks', () => {
  const shape = [7, 9, 8];
  const spacing = [1.9, 0.6, 1.1];
  let seed = 12345;
  const rand = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  const n = 7 * 9 * 8;
  const a = Uint8Array.from({ length: n }, () => (rand() < 0.3 ? 1 : 0));
  const b = Uint8Array.from({ length: n }, () => (rand() < 0.2 ? 1 : 0));
  const p = surfaceDistances(a, b, shape, spacing);
  const coords = (i: number) => [Math.floor(i / 72), Math.floor(i / 8) % 9, i % 8];
  const ba = borderOf(a, shape);
  const bb = borderOf(b, shape);
  const brute: number[] = [];
  for (let i = 0; i < n; i++) {
    if (!ba[i]) continue;
    const ci = coords(i);
    let best = Number.POSITIVE_INFINITY;
    for (let j = 0; j < n; j++) {
      if (!bb[j]) continue;
      const cj = coords(j);
      const d2 = ci.reduce((s, c, k) => s + ((c - (cj[k] as number)) * (spacing[k] as number)) ** 2, 0);
      best = Math.min(best, d2);
    }
    brute.push(Math.sqrt(best));
  }
  assert.equal(p.testToReference.length, brute.length);
  p.testToReference.forEach((v, i) => {
    assert.ok(Math.abs(v - (brute[i] as number)) <= 1e-12, `voxel ${i}: ${v} vs ${brute[i]}`);
  });
});

test('surface metrics equal scipy/medpy on the fixtures, bit for bit', () => {
  for (const s of index.surface as Array<Record<string, unknown> & { name: string; shape: number[] }>) {
    const n = product(s.shape);
    let a: Uint8Array;
    let b: Uint8Array;
    if (s.name === 'ellipsoids') {
      const make = (e: { centre: number[]; weights: number[]; scale: number }) => {
        const [Z, Y, X] = s.shape as [number, number, number];
        const m = new Uint8Array(n);
        let i = 0;
        for (let z = 0; z < Z; z++)
          for (let y = 0; y < Y; y++)
            for (let x = 0; x < X; x++, i++) {
              const [cz, cy, cx] = e.centre as [number, number, number];
              const [wz, wy, wx] = e.weights as [number, number, number];
              m[i] = (z - cz) ** 2 * wz + (y - cy) ** 2 * wy + (x - cx) ** 2 * wx <= e.scale ? 1 : 0;
            }
        return m;
      };
      a = make(s.test as never);
      b = make(s.ref as never);
      assert.equal(
        a.reduce((t, v) => t + v, 0),
        s.voxels_test,
      );
    } else {
      const { data } = readNpy(join(DIR, `${s.name}.npy`));
      a = (data as Uint8Array).subarray(0, n);
      b = (data as Uint8Array).subarray(n);
    }
    const p = surfaceDistances(a, b, s.shape, s.spacing as number[]);
    assert.equal(p.testToReference.length, s.n_test_border, s.name);
    assert.equal(p.referenceToTest.length, s.n_ref_border, s.name);
    assert.equal(hausdorffOf(p), s.hd, `${s.name} hd`);
    assert.equal(hausdorff95Of(p), s.hd95, `${s.name} hd95`);
    assert.equal(averageSurfaceDistanceOf(p), s.asd, `${s.name} asd`);
    assert.equal(numpyMean(p.referenceToTest), s.asd_reverse, `${s.name} asd reverse`);
    assert.equal(averageSymmetricSurfaceDistanceOf(p), s.assd, `${s.name} assd`);
  }
});

test("np.mean and np.nanmean are reproduced exactly (pairwise sums in NumPy's 8192-element buffers)", () => {
  let naiveDiffers = false;
  for (const m of index.means as Array<{ n: number; mean: number; nanmean: number }>) {
    const a = new Float64Array(m.n);
    const b = new Float64Array(m.n);
    for (let i = 0; i < m.n; i++) {
      a[i] = (((i * 7919 + 13) % 1000) + 0.5) * 2 ** (((i * 31) % 41) - 20);
      b[i] = i % 7 === 3 ? Number.NaN : (a[i] as number);
    }
    assert.equal(numpyMean(a), m.mean, `mean of ${m.n}`);
    assert.equal(numpyNanmean(b), m.nanmean, `nanmean of ${m.n}`);
    naiveDiffers ||= a.reduce((s, v) => s + v, 0) / m.n !== m.mean;
  }
  assert.ok(naiveDiffers, 'the fixture must tell the summation orders apart');
  assert.ok(Number.isNaN(numpyNanmean([Number.NaN, Number.NaN])));
});
