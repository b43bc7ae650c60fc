/** The normalisation-mask and intensity-collection rules of v1's planner and analyser. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { foregroundSamples, useNonzeroMaskForNorm, wantsIntensityProperties } from '../../src/fingerprint/analyze.js';

test('the nonzero mask is used for normalisation only for non-CT data that cropping shrank below 3/4', () => {
  const shrunk = { a: 0.5, b: 0.6, c: 0.9 }; // median 0.6
  const kept = { a: 0.7, b: 0.8, c: 1.0, d: 1.0 }; // median 0.9
  assert.deepEqual(useNonzeroMaskForNorm(['T1', 'FLAIR'], shrunk), { '0': true, '1': true });
  assert.deepEqual(useNonzeroMaskForNorm(['T1'], kept), { '0': false });
  // v1 tests `"CT" in name`, so any name containing CT counts as CT.
  assert.deepEqual(useNonzeroMaskForNorm(['CT', 'nonCTlike', 'MRI'], shrunk), { '0': false, '1': false, '2': true });
  // The median of an even count is the mean of the middle two: (0.7 + 0.8) / 2 = 0.75 is not below 3/4.
  assert.deepEqual(useNonzeroMaskForNorm(['MRI'], { a: 0.7, b: 0.8, c: 0.1, d: 0.9 }), { '0': false });
});

test('intensity statistics are collected only when a modality is exactly "CT" or "ct"', () => {
  assert.equal(wantsIntensityProperties(['CT']), true);
  assert.equal(wantsIntensityProperties(['MRI', 'ct']), true);
  assert.equal(wantsIntensityProperties(['CTA']), false);
});

test('foreground samples are every 10th voxel with label > 0, in C order', () => {
  // channels: image, seg over 25 voxels; seg > 0 at voxels 0..24 step 1 except -1/0 values.
  const n = 25;
  const data = new Float32Array(2 * n);
  for (let i = 0; i < n; i++) {
    data[i] = i;
    data[n + i] = i % 2 === 0 ? 1 : i % 3 === 0 ? -1 : 0;
  }
  // Foreground voxels: 0, 2, 4, ..., 24 (13 of them); every 10th of those: the 1st and 11th.
  assert.deepEqual(Array.from(foregroundSamples(data, [2, 1, 5, 5], 0)), [0, 20]);
});
