/**
 * The NumPy semantics the planners depend on, the topology rule and the memory estimate, against
 * NumPy 1.24.2 values and hand computations.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  argmaxFirst,
  argsortLast,
  medianColumns,
  percentile,
  percentileColumns,
  roundHalfEven,
} from '../../src/compat/numpy.js';
import { padShape, poolAndConvProps } from '../../src/planning/topology.js';
import { approxVramConsumption } from '../../src/planning/vram.js';

test('roundHalfEven rounds halves to the even neighbour like np.round', () => {
  const cases: [number, number][] = [
    [0.5, 0],
    [1.5, 2],
    [2.5, 2],
    [3.5, 4],
    [-1.5, -2],
    [2.4999999999999996, 2],
    [1e15 + 0.5, 1e15],
    [35.5, 36],
    [36.5, 36],
    [7.03125, 7],
  ];
  for (const [x, want] of cases) assert.equal(roundHalfEven(x), want, String(x));
});

test('percentile reproduces np.percentile (linear) to the last bit', () => {
  // Values printed by NumPy 1.24.2; naive a + (b - a) * t differs in the last bit for some.
  assert.equal(percentile([3, 4, 4.5, 5, 5, 5, 5, 5, 6, 8], 10), 3.9);
  assert.equal(
    percentile([0.800000011920929, 0.8999999761581421, 0.8999999761581421, 0.800000011920929], 50),
    0.8499999940395355,
  );
  assert.equal(percentile([0.1, 0.2, 0.7], 10), 0.12000000000000001);
  assert.equal(percentile([0.7, 0.1, 0.2], 90), 0.6);
  assert.equal(percentile([0.3, 0.1, 0.2], 37.5), 0.17500000000000002);
  assert.equal(percentile([7], 10), 7);
  assert.equal(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], 10), 2);
  assert.deepEqual(
    percentileColumns(
      [
        [1, 10],
        [3, 30],
        [2, 20],
      ],
      50,
    ),
    [2, 20],
  );
  assert.throws(() => percentile([], 50), RangeError);
});

test('medianColumns averages the two middle values of an even count', () => {
  assert.deepEqual(
    medianColumns([
      [0.1, 3],
      [0.2, 1],
      [0.7, 2],
      [0.3, 5],
    ]),
    [0.25, 2.5],
  );
});

test('argmaxFirst takes the first maximum, argsortLast the last (np.argsort is stable on short arrays)', () => {
  assert.equal(argmaxFirst([2, 5, 5]), 1);
  assert.equal(argsortLast([2, 5, 5]), 2);
  assert.equal(argsortLast([1, 1, 1]), 2);
  assert.equal(argsortLast([2, 2, 1]), 1);
  assert.equal(argsortLast([3, 1, 2]), 0);
});

test('padShape rounds up to the divisor and keeps exact multiples', () => {
  assert.deepEqual(padShape([36, 50, 35], [8, 8, 8]), [40, 56, 40]);
  assert.deepEqual(padShape([28, 97, 99], [4, 16, 16]), [28, 112, 112]);
  assert.throws(() => padShape([1, 2], [1]), RangeError);
});

test('thick slices: z is left unpooled with 1-wide kernels until in-plane spacing catches up', () => {
  // Worked by hand: in-plane spacing 0.75 -> 1.5 -> 3.0 while z stays 3.9; from then on 3.9/3.0 < 2
  // and all axes pool together until z is 7 voxels (< 2 * 4) and in-plane reaches 4.
  const t = poolAndConvProps([3.9, 0.75, 0.75], [28, 256, 256], 4, 999);
  assert.deepEqual(t.numPoolPerAxis, [2, 6, 6]);
  assert.deepEqual(t.poolKernels, [
    [1, 2, 2],
    [1, 2, 2],
    [2, 2, 2],
    [2, 2, 2],
    [1, 2, 2],
    [1, 2, 2],
  ]);
  assert.deepEqual(t.convKernels, [[1, 3, 3], [1, 3, 3], ...Array(5).fill([3, 3, 3])]);
  assert.deepEqual(t.mustBeDivisibleBy, [4, 64, 64]);
  assert.deepEqual(t.patchSize, [28, 256, 256]);
});

test('isotropic spacing pools every axis until the bottleneck edge would drop below 4', () => {
  const t = poolAndConvProps([1, 1, 1], [36, 50, 35], 4, 999);
  assert.deepEqual(t.numPoolPerAxis, [3, 3, 3]);
  assert.deepEqual(t.patchSize, [40, 56, 40]);
  assert.equal(t.convKernels.length, 4);
  // A pooling cap stops pooling early.
  assert.deepEqual(poolAndConvProps([1, 1], [256, 256], 4, 2).numPoolPerAxis, [2, 2]);
});

test('the memory estimate matches hand computations, map sizes truncated per level', () => {
  // Hippocampus 3D: 5*89600*32 + 89600 + 3*89600, then 5*11200*64 + 5*1400*128 + 2*175*256.
  const pools = [
    [2, 2, 2],
    [2, 2, 2],
    [2, 2, 2],
  ];
  assert.equal(approxVramConsumption([40, 56, 40], pools, 32, 320, 1, 3, 2), 19264000);
  // [6, 10] -> [3, 5] -> [1, 2] (not [2, 3]): 5*60*4 + 60 + 120 + 5*15*6 + 2*2*6 (features capped at 6).
  assert.equal(
    approxVramConsumption(
      [6, 10],
      [
        [2, 2],
        [2, 2],
      ],
      4,
      6,
      1,
      2,
      2,
    ),
    1854,
  );
});
