/**
 * The cascade augmentations of v1's nnUNetTrainerV2CascadeFullRes: one-hot move of the previous
 * stage's labels, skimage's ball footprints and binary operators (fixtures from skimage), 26-
 * connected component labelling, and the random component removal with its size limit.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { oneHot } from '../../src/inference/cascade-input.js';
import {
  applyRandomBinaryOperator_,
  BINARY_OPERATORS,
  type BinaryOperator,
  ballFootprint,
  binaryDilation,
  binaryErosion,
  binaryOperation,
  CASCADE_AUGMENTATION_V1,
  cascadeBatchTransform,
  labelComponents,
  moveSegAsOneHotToData,
  removeRandomConnectedComponent_,
} from '../../src/training/augmentation/cascade.js';
import { product } from '../../src/util/shape.js';
import { FIXTURES } from '../helpers.js';

interface Fixture {
  shape: number[];
  input: string;
  cases: { op: BinaryOperator; radius: number; set: string }[];
  balls: { radius: number; size: number; set: string }[];
  label: { shape: number[]; input: string; labels: number[]; count: number };
}
const fixture = JSON.parse(readFileSync(join(FIXTURES, 'training', 'cascade', 'morphology.json'), 'utf8')) as Fixture;

/** np.packbits output (base64) back to a 0/1 array of n values. */
function unpack(b64: string, n: number): Uint8Array {
  const bytes = Buffer.from(b64, 'base64');
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = ((bytes[i >> 3] as number) >> (7 - (i & 7))) & 1;
  return out;
}

/** A scripted random source: returns the given values in order. */
function scripted(values: number[]): { random(): number; used(): number } {
  let i = 0;
  return {
    random() {
      if (i >= values.length) throw new Error('the scripted random values ran out');
      return values[i++] as number;
    },
    used: () => i,
  };
}

test('moveSegAsOneHotToData appends one channel per foreground label and keeps seg channel 0', () => {
  // B = 2, C = 1, spatial 1 x 1 x 3
  const data = Float32Array.from([0.5, -1, 2, 7, 8, 9]);
  const seg = Float32Array.from([
    // sample 0: target, previous stage
    0, 1, 2, 2, 0, 1,
    // sample 1
    1, 1, 0, 1, 2, 2,
  ]);
  const r = moveSegAsOneHotToData(data, [2, 1, 1, 1, 3], seg, [2, 2, 1, 1, 3], [1, 2]);
  assert.deepEqual(r.dataShape, [2, 3, 1, 1, 3]);
  assert.deepEqual(r.segShape, [2, 1, 1, 1, 3]);
  assert.deepEqual([...r.data], [0.5, -1, 2, 0, 0, 1, 1, 0, 0, 7, 8, 9, 1, 0, 0, 0, 1, 1]);
  assert.deepEqual([...r.seg], [0, 1, 2, 1, 1, 0]);
  assert.deepEqual([...oneHot([0, 2, 1, 3], [1, 2, 3])], [0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 1]);
  assert.throws(() => moveSegAsOneHotToData(data, [2, 1, 1, 1, 3], seg.subarray(0, 6), [2, 1, 1, 1, 3], [1]));
});

test('ballFootprint equals skimage.morphology.ball for real radii (odd and even sizes)', () => {
  // radius 1 by hand: the 6-neighbourhood cross and its centre
  const one = ballFootprint(1);
  assert.equal(one.size, 3);
  assert.deepEqual([...one.mask], [0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 1, 1, 1, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]);
  for (const b of fixture.balls) {
    const mine = ballFootprint(b.radius);
    assert.equal(mine.size, b.size, `radius ${b.radius}`);
    assert.deepEqual([...mine.mask], [...unpack(b.set, b.size ** 3)], `radius ${b.radius}`);
  }
});

test('binary dilation and erosion with a radius-1 ball on a hand-computed case', () => {
  // 1 x 3 x 4 volume, one slice: a voxel at (0, 1, 1)
  const src = Uint8Array.from([0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
  const ball = ballFootprint(1);
  // in-plane cross (z neighbours fall outside the volume)
  assert.deepEqual([...binaryDilation(src, [1, 3, 4], ball)], [0, 1, 0, 0, 1, 1, 1, 0, 0, 1, 0, 0]);
  // erosion with border value 1: a full volume stays full, a voxel with an unset in-plane
  // neighbour disappears
  const full = new Uint8Array(12).fill(1);
  assert.deepEqual([...binaryErosion(full, [1, 3, 4], ball)], [...full]);
  const holed = full.slice();
  holed[6] = 0; // (0, 1, 2)
  // cleared: (0,1,2) itself and its cross neighbours (0,0,2), (0,2,2), (0,1,1), (0,1,3)
  assert.deepEqual([...binaryErosion(holed, [1, 3, 4], ball)], [1, 1, 0, 1, 1, 0, 0, 0, 1, 1, 0, 1]);
});

test('binary dilation, erosion, closing and opening equal skimage with ball footprints', () => {
  const n = product(fixture.shape);
  const input = unpack(fixture.input, n);
  assert.ok(input.reduce((a, b) => a + b, 0) > 50, 'the fixture mask is not trivial');
  for (const c of fixture.cases) {
    const got = binaryOperation(c.op, input, fixture.shape, ballFootprint(c.radius));
    const want = unpack(c.set, n);
    const diff = got.reduce((acc, v, i) => acc + (v !== want[i] ? 1 : 0), 0);
    assert.equal(diff, 0, `${c.op} radius ${c.radius}: ${diff} voxels differ`);
  }
});

test('labelComponents numbers 26-connected components like skimage.measure.label', () => {
  const { shape, input, labels, count } = fixture.label;
  const n = product(shape);
  const r = labelComponents(unpack(input, n), shape);
  assert.equal(r.count, count);
  assert.deepEqual([...r.labels], labels);
  assert.equal(
    r.sizes.reduce((a, b) => a + b, 0),
    unpack(input, n).reduce((a, b) => a + b, 0),
  );
});

/** data [1, 2, 1, 4, 4]: channel 0 label 1, channel 1 label 2, as one-hot. */
function twoLabelPatch(): Float32Array {
  const d = new Float32Array(2 * 16);
  // label 1: a 2-voxel component at (0,0,0),(0,0,1) and a 1-voxel one at (0,3,3)
  for (const i of [0, 1, 15]) d[i] = 1;
  // label 2: a 6-voxel component at rows 1-2, x 0-2
  for (const i of [4, 5, 6, 8, 9, 10]) d[16 + i] = 1;
  return d;
}

test('removeRandomConnectedComponent_ removes only components below the size limit', () => {
  const shape = [1, 2, 1, 4, 4];
  // limit 0.2 of 16 voxels = 3.2: label 1's two components qualify, label 2's 6-voxel one does not
  const data = twoLabelPatch();
  // sample drawn (0 < 0.5); channel 0: per-label draw, choose index floor(0.7 * 2) = 1 -> the
  // second component (raster order: (0,3,3)), fill draw 0.9 >= 0.5: no fill; channel 1:
  // per-label draw, no candidate
  const rng = scripted([0, 0, 0.7, 0.9, 0]);
  removeRandomConnectedComponent_(data, shape, [0, 1], rng, {
    probability: 0.5,
    probabilityPerLabel: 1,
    maxFraction: 0.2,
    fillProbability: 0.5,
  });
  assert.equal(rng.used(), 5);
  const want = twoLabelPatch();
  want[15] = 0;
  assert.deepEqual([...data], [...want]);

  // with a refill: the removed voxels go to the other channel
  const refill = twoLabelPatch();
  removeRandomConnectedComponent_(refill, shape, [0, 1], scripted([0, 0, 0.1, 0.2, 0.0, 0]), {
    probability: 0.5,
    probabilityPerLabel: 1,
    maxFraction: 0.2,
    fillProbability: 0.5,
  });
  const want2 = twoLabelPatch();
  want2[0] = 0;
  want2[1] = 0;
  want2[16] = 1;
  want2[17] = 1;
  assert.deepEqual([...refill], [...want2]);

  // v1's effective setting (limit 0): nothing is ever removed, whatever the draws
  const untouched = twoLabelPatch();
  removeRandomConnectedComponent_(untouched, shape, [0, 1], scripted([0, 0, 0]), {
    probability: 1,
    probabilityPerLabel: 1,
    maxFraction: CASCADE_AUGMENTATION_V1.removeComponentMaxFraction,
    fillProbability: CASCADE_AUGMENTATION_V1.removeComponentFillWithOtherClassProbability,
  });
  assert.deepEqual([...untouched], [...twoLabelPatch()]);
});

test('applyRandomBinaryOperator_ dilates one channel and clears what it gained in the others', () => {
  const shape = [1, 2, 1, 4, 4];
  const data = twoLabelPatch();
  // sample drawn; shuffle of [0, 1]: j = floor(0.9 * 2) = 1 (order stays [0, 1]); channel 0:
  // per-label draw, operator floor(0 * 4) = dilation, radius 1 + 0 * (1.2 - 1) = 1; channel 1:
  // per-label draw 0.99 >= 0.5: skipped
  applyRandomBinaryOperator_(data, shape, [0, 1], scripted([0, 0.9, 0, 0, 0, 0.99]), {
    probability: 1,
    probabilityPerLabel: 0.5,
    radius: [1, 1.2],
  });
  const src0 = Uint8Array.from(twoLabelPatch().subarray(0, 16));
  const dil = binaryDilation(src0, [1, 4, 4], ballFootprint(1));
  assert.deepEqual([...data.subarray(0, 16)], [...dil]);
  // label 2 lost the voxels label 1 gained: (0,1,0) and (0,1,1)
  const want1 = twoLabelPatch().subarray(16);
  want1[4] = 0;
  want1[5] = 0;
  assert.deepEqual([...data.subarray(16)], [...want1]);
  // the one-hot property holds: no voxel in both channels
  for (let i = 0; i < 16; i++) assert.ok((data[i] as number) + (data[16 + i] as number) <= 1);
  assert.deepEqual([...BINARY_OPERATORS], ['dilation', 'erosion', 'closing', 'opening']);
});

test('cascadeBatchTransform moves the labels and keeps one-hot channels binary and exclusive', () => {
  const B = 2;
  const spatial = [6, 7, 8];
  const n = 6 * 7 * 8;
  const data = new Float32Array(B * n).map((_, i) => Math.sin(i));
  const seg = new Float32Array(B * 2 * n);
  for (let b = 0; b < B; b++)
    for (let i = 0; i < n; i++) {
      seg[b * 2 * n + i] = i % 3;
      seg[b * 2 * n + n + i] = (i >> 4) % 3;
    }
  let state = 12345;
  const rng = {
    random: () => {
      state = (state * 1103515245 + 12345) % 2 ** 31;
      return state / 2 ** 31;
    },
  };
  const r = cascadeBatchTransform(
    { data, dataShape: [B, 1, ...spatial], seg, segShape: [B, 2, ...spatial] },
    [1, 2],
    { ...CASCADE_AUGMENTATION_V1, binaryOperatorProbability: 1, removeComponentMaxFraction: 0.5 },
    rng,
  );
  assert.deepEqual(r.dataShape, [B, 3, ...spatial]);
  for (let b = 0; b < B; b++) {
    assert.deepEqual([...r.data.subarray(b * 3 * n, b * 3 * n + n)], [...data.subarray(b * n, (b + 1) * n)]);
    for (let i = 0; i < n; i++) {
      const a = r.data[b * 3 * n + n + i] as number;
      const c = r.data[b * 3 * n + 2 * n + i] as number;
      assert.ok((a === 0 || a === 1) && (c === 0 || c === 1) && a + c <= 1);
    }
  }
  // validation batches: the move only
  const v = cascadeBatchTransform(
    { data, dataShape: [B, 1, ...spatial], seg, segShape: [B, 2, ...spatial] },
    [1, 2],
    null,
    null,
  );
  assert.deepEqual([...v.data.subarray(2 * n, 3 * n)], [...oneHot(seg.subarray(n, 2 * n), [2])]);
});
