/** Cropping primitives on hand-made arrays. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { boundingBox, cropCase, fillHoles, nonzeroMask } from '../../src/fingerprint/crop.js';
import type { Volume } from '../../src/index.js';

const geometry = { spacing: [1, 1, 1], origin: [0, 0, 0], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] };
const vol = (data: number[], shape: number[]): Volume => ({
  data: Float32Array.from(data),
  shape,
  dtype: 'float32',
  geometry,
});

test('fillHoles fills a cavity enclosed by face neighbours but not one that touches the border', () => {
  // 5x5x5 hollow cube (shell 1..3) with its centre empty: the centre is a hole.
  const shape = [5, 5, 5];
  const m = new Uint8Array(125);
  for (let z = 1; z <= 3; z++) for (let y = 1; y <= 3; y++) for (let x = 1; x <= 3; x++) m[(z * 5 + y) * 5 + x] = 1;
  m[(2 * 5 + 2) * 5 + 2] = 0;
  const filled = fillHoles(Uint8Array.from(m), shape);
  assert.equal(filled[(2 * 5 + 2) * 5 + 2], 1);
  assert.equal(
    filled.reduce((a, b) => a + b, 0),
    27,
  );
  // Open the shell at one face: the cavity now reaches the outside and stays empty.
  m[(2 * 5 + 2) * 5 + 1] = 0;
  const open = fillHoles(Uint8Array.from(m), shape);
  assert.equal(open[(2 * 5 + 2) * 5 + 2], 0);
});

test('boundingBox is half-open per axis and covers the whole array for an empty mask', () => {
  const m = new Uint8Array(4 * 5 * 6);
  m[(1 * 5 + 2) * 6 + 3] = 1;
  m[(2 * 5 + 4) * 6 + 0] = 1;
  assert.deepEqual(boundingBox(m, [4, 5, 6]), [
    [1, 3],
    [2, 5],
    [0, 4],
  ]);
  assert.deepEqual(boundingBox(new Uint8Array(8), [2, 2, 2]), [
    [0, 2],
    [0, 2],
    [0, 2],
  ]);
});

test('cropCase cuts every channel to the union mask and marks background outside it -1', () => {
  // 1 x 3 x 4 arrays; modality A is nonzero at x=1, modality B at x=2 (y = 1).
  const a = vol([0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0], [1, 3, 4]);
  const b = vol([0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0], [1, 3, 4]);
  const seg = vol([0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0], [1, 3, 4]);
  assert.deepEqual(nonzeroMask([a.data as Float32Array, b.data as Float32Array], 12).join(''), '000001100000');
  const c = cropCase([a, b], seg);
  assert.deepEqual(c.bbox, [
    [0, 1],
    [1, 2],
    [1, 3],
  ]);
  assert.deepEqual(c.shape, [3, 1, 1, 2]);
  assert.deepEqual(Array.from(c.data), [5, 0, 0, 7, 1, 0]);
  assert.deepEqual(c.classes, [0, 1]);
  // Without a label: 0 inside the mask, -1 outside. Nonzero voxels at (z, y, x) = (0, 0, 1) and
  // (1, 1, 1) give the box x in [1, 2) and the mask diagonal within it.
  const noSeg = cropCase([vol([0, 2, 0, 0, 0, 0, 0, 0], [2, 2, 2]), vol([0, 0, 0, 0, 0, 0, 0, 3], [2, 2, 2])], null);
  assert.deepEqual(noSeg.shape, [3, 2, 2, 1]);
  assert.deepEqual(Array.from(noSeg.data), [2, 0, 0, 0, 0, 0, 0, 3, 0, -1, -1, 0]);
  assert.deepEqual(noSeg.classes, [-1, 0]);
});
