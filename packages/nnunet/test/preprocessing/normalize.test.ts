/** Normalisation schemes on hand-computed values, and class-location rules. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sampleClassLocations } from '../../src/preprocessing/class-locations.js';
import { normalizeChannel } from '../../src/preprocessing/normalize.js';

test('nonCT without mask: z-score over the whole image with std + 1e-8', () => {
  const c = Float32Array.from([1, 2, 3, 4]);
  normalizeChannel(c, null, 'nonCT', false);
  // mean 2.5, population std sqrt(1.25)
  const s = Math.sqrt(1.25);
  assert.deepEqual(
    Array.from(c),
    [-1.5, -0.5, 0.5, 1.5].map((v) => Math.fround(v / Math.fround(s + 1e-8))),
  );
});

test('nonCT with mask: statistics inside seg >= 0 only, zeros outside', () => {
  const c = Float32Array.from([100, 2, 4, 6]);
  const seg = Float32Array.from([-1, 0, 1, 0]);
  normalizeChannel(c, seg, 'nonCT', true);
  const s = Math.fround(Math.sqrt(8 / 3));
  assert.deepEqual(Array.from(c), [0, ...[-2, 0, 2].map((v) => Math.fround(v / Math.fround(s + 1e-8)))]);
});

test('CT: clip to the percentiles, then subtract the dataset mean and divide by its sd', () => {
  const c = Float32Array.from([-1000, 0, 50, 3000]);
  const seg = Float32Array.from([-1, 0, 1, 1]);
  normalizeChannel(c, seg, 'CT', false, { mean: 40, sd: 20, percentile_00_5: -100, percentile_99_5: 200 });
  assert.deepEqual(Array.from(c), [-7, -2, 0.5, 8]);
  const masked = Float32Array.from([-1000, 0, 50, 3000]);
  normalizeChannel(masked, seg, 'CT', true, { mean: 40, sd: 20, percentile_00_5: -100, percentile_99_5: 200 });
  assert.deepEqual(Array.from(masked), [0, -2, 0.5, 8]);
  assert.throws(() => normalizeChannel(Float32Array.from([1]), null, 'CT', false), /intensity properties/);
  const untouched = Float32Array.from([5, 6]);
  normalizeChannel(untouched, null, 'noNorm', false);
  assert.deepEqual(Array.from(untouched), [5, 6]);
});

test('class locations: all voxels of a small class (at most 10000), at least 1% of a large one, none for an absent class', () => {
  const shape = [2, 3, 4];
  const seg = new Float32Array(24);
  seg[5] = 1; // (0, 1, 1)
  seg[23] = 1; // (1, 2, 3)
  const locs = sampleClassLocations(seg, shape, [1, 2]);
  assert.deepEqual(
    [...(locs['1'] as number[][])].sort((a, b) => a[0]! - b[0]!),
    [
      [0, 1, 1],
      [1, 2, 3],
    ],
  );
  assert.deepEqual(locs['2'], []);
  const big = new Float32Array(2_000_000).fill(1);
  const many = sampleClassLocations(big, [20, 100, 1000], [1]);
  assert.equal((many['1'] as number[][]).length, 20000, '1% of 2,000,000 exceeds the 10000 cap');
});
