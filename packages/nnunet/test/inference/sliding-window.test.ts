/**
 * Sliding-window prediction against nnU-Net v1: window starts, the Gaussian importance map
 * (scipy's float32 output) and pad_nd_image from scripts/make_inference_fixtures.py; whole
 * predictions of dyadic golden networks against v1's algorithm run in PyTorch; and properties
 * that hold for any tiling (identity and constant networks, flip-equivariant mirroring, 2-D slices).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { F, inferenceMode, memoryStats, type Tensor, tensor, tidy } from '@nnunet/torch';
import {
  averageSoftmax,
  computeSteps,
  cropPadding,
  gaussianImportanceMap,
  mirrorCombinations,
  type NetworkFn,
  padAmounts,
  padToPatch,
  predictSlidingWindow2D,
  predictSlidingWindow3D,
  type SlidingWindowOptions,
} from '../../src/inference/sliding-window.js';
import { readNpy } from '../../src/io/npy.js';
import { product } from '../../src/util/shape.js';
import { expectClose, FIXTURES } from '../helpers.js';

const DIR = join(FIXTURES, 'inference');
interface Index {
  steps: { patch: number[]; image: number[]; step: number; starts: number[][] }[];
  pads: { shape: number[]; minShape: number[]; paddedShape: number[]; slicer: [number, number][]; sha256: string }[];
  gaussians: { patch: number[]; sigmaScale: number; factor: number; values?: number[]; sha256: string }[];
  golden: {
    name: string;
    shape: number[];
    patch: number[];
    classes: number;
    hidden: number;
    step: number;
    mirrorAxes: number[];
    gaussian: boolean;
    slicewise: boolean;
    outShape: number[];
  }[];
  softmaxProbe: { sha256: string };
}
const INDEX = JSON.parse(readFileSync(join(DIR, 'index.json'), 'utf8')) as Index;
const sha256 = (a: Float32Array): string =>
  createHash('sha256')
    .update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength))
    .digest('hex');

/** A small seeded generator (xorshift32) for the property tests' inputs. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  };
}

/** Random probability maps [K, ...spatial] (every value > 0.01, channels summing to ~1). */
function probabilityMap(k: number, spatial: readonly number[], seed: number): Float32Array {
  const next = rng(seed);
  const n = product(spatial);
  const out = new Float32Array(k * n);
  for (let i = 0; i < n; i++) {
    let sum = 0;
    for (let c = 0; c < k; c++) sum += out[c * n + i] = 0.05 + next();
    for (let c = 0; c < k; c++) out[c * n + i] = (out[c * n + i] as number) / sum;
  }
  return out;
}

/** Logits = log of the input: softmax returns the input's (normalised) channels unchanged. */
const logNetwork: NetworkFn = (x) => x.clamp(1e-30).log();

// ---------------------------------------------------------------- window starts, map, padding

test('computeSteps equals v1 for every fixture triple (incl. np.round half-to-even starts)', () => {
  assert.ok(INDEX.steps.length >= 50);
  for (const c of INDEX.steps) {
    assert.deepEqual(computeSteps(c.patch, c.image, c.step), c.starts, `${c.patch} in ${c.image} step ${c.step}`);
  }
  // 11 voxels, patch 6, step 0.5: starts 0, 2.5 -> 2 (not 3), 5.
  assert.deepEqual(computeSteps([6], [11], 0.5), [[0, 2, 5]]);
  assert.throws(() => computeSteps([8, 8], [7, 9], 0.5), { code: 'ERR_ARGUMENT' });
  assert.throws(() => computeSteps([8], [9], 0), { code: 'ERR_ARGUMENT' });
  assert.throws(() => computeSteps([8], [9], 1.5), { code: 'ERR_ARGUMENT' });
});

test("gaussianImportanceMap equals scipy's float32 map bit for bit (v1's _get_gaussian)", () => {
  let exact = 0;
  for (const g of INDEX.gaussians) {
    const map = gaussianImportanceMap(g.patch, g.sigmaScale, g.factor);
    assert.equal(map.length, product(g.patch), `${g.patch}: size`);
    if (g.values !== undefined) {
      assert.deepEqual(Array.from(map), g.values, `${g.patch} sigma ${g.sigmaScale} x${g.factor}: values`);
    }
    assert.equal(sha256(map), g.sha256, `${g.patch} sigma ${g.sigmaScale} x${g.factor}: float32 bytes`);
    exact++;
  }
  assert.ok(exact >= 20);
  // The narrow kernel of [64] with sigma 2 leaves exact zeros, which v1 replaces by the minimum.
  const narrow = gaussianImportanceMap([64], 1 / 32);
  assert.equal(narrow[0], narrow[5]);
  assert.ok((narrow[0] as number) > 0);
  assert.equal(narrow[32], 1);
  assert.equal(gaussianImportanceMap([9, 8], 0.25, 10)[4 * 8 + 4], 10);
});

test('padToPatch and padAmounts are pad_nd_image(constant 0, return_slicer); cropPadding undoes them', () => {
  for (const c of INDEX.pads) {
    const x = Float32Array.from({ length: product(c.shape) }, (_, i) => i + 1);
    const padded = padToPatch(x, c.shape, c.minShape);
    assert.deepEqual(padded.shape, c.paddedShape, `${c.shape} -> ${c.minShape}: shape`);
    assert.deepEqual(padded.slicer, c.slicer, `${c.shape} -> ${c.minShape}: slicer`);
    assert.deepEqual(padAmounts(c.shape, c.minShape).slicer, c.slicer);
    assert.equal(sha256(padded.data), c.sha256, `${c.shape} -> ${c.minShape}: padded values`);
    const back = cropPadding(padded.data, padded.shape, padded.slicer);
    assert.deepEqual(back.shape, c.shape);
    assert.deepEqual(Array.from(back.data), Array.from(x));
    // The spatial part of an input's slicer crops a [K, ...] softmax of the padded case.
    const k = 3;
    const soft = new Float32Array(k * product(padded.shape.slice(1)));
    const cropped = cropPadding(soft, [k, ...padded.shape.slice(1)], padded.slicer.slice(1));
    assert.deepEqual(cropped.shape, [k, ...c.shape.slice(1)]);
  }
  assert.throws(() => padToPatch(new Float32Array(5), [2, 3], [4]), { code: 'ERR_ARGUMENT' });
});

test("mirrorCombinations lists v1's flips in v1's order", () => {
  assert.deepEqual(mirrorCombinations(3, [0, 1, 2]), [[], [2], [1], [2, 1], [0], [2, 0], [1, 0], [2, 1, 0]]);
  assert.deepEqual(mirrorCombinations(3, [0, 2]), [[], [2], [0], [2, 0]]);
  assert.deepEqual(mirrorCombinations(3, [1]), [[], [1]]);
  assert.deepEqual(mirrorCombinations(3, []), [[]]);
  assert.deepEqual(mirrorCombinations(2, [0, 1]), [[], [1], [0], [1, 0]]);
  assert.deepEqual(mirrorCombinations(2, [0]), [[], [0]]);
});

// ---------------------------------------------------------------- golden predictions

/** The fixture script's dyadic input x[c, i, j, (k)]. */
function goldenInput(shape: readonly number[]): Float32Array {
  const out = new Float32Array(product(shape));
  const [, n1, n2, n3 = 1] = shape as [number, number, number, number?];
  let idx = 0;
  for (let c = 0; c < (shape[0] as number); c++)
    for (let i = 0; i < n1; i++)
      for (let j = 0; j < n2; j++)
        for (let k = 0; k < n3; k++) out[idx++] = ((7 * c + 5 * i + 3 * j + 11 * k + ((i * j) % 5)) % 17) / 16 - 0.5;
  return out;
}

/** The fixture script's network: conv 3^d (pad 1) -> ReLU -> conv 1^d, dyadic weights. */
function goldenNetwork(nd: 2 | 3, cin: number, hidden: number, k: number): { net: NetworkFn; dispose: () => void } {
  const kernel = nd === 3 ? [3, 3, 3] : [3, 3];
  const w1 = new Float32Array(hidden * cin * product(kernel));
  let idx = 0;
  for (let o = 0; o < hidden; o++)
    for (let i = 0; i < cin; i++)
      for (let a = 0; a < 3; a++)
        for (let b = 0; b < 3; b++)
          for (let c = 0; c < (nd === 3 ? 3 : 1); c++)
            w1[idx++] = (((13 * o + 7 * i + 5 * a + 3 * b + 2 * c + a * b) % 9) - 4) / 32;
  const w2 = new Float32Array(k * hidden);
  for (let q = 0; q < k; q++) for (let o = 0; o < hidden; o++) w2[q * hidden + o] = (((5 * q + 3 * o) % 7) - 3) / 4;
  const t = {
    w1: tensor(w1, { shape: [hidden, cin, ...kernel] }),
    b1: tensor(Array.from({ length: hidden }, (_, o) => ((o % 3) - 1) / 4)),
    w2: tensor(w2, { shape: [k, hidden, ...kernel.map(() => 1)] }),
    b2: tensor(Array.from({ length: k }, (_, q) => (q - 1) / 8)),
  };
  const conv = nd === 3 ? F.conv3d : F.conv2d;
  return {
    net: (x) => conv(F.relu(conv(x, t.w1, t.b1, { padding: 1 })), t.w2, t.b2),
    dispose: () => {
      for (const v of Object.values(t)) v.dispose();
    },
  };
}

/** Whether LibTorch's softmax here gives the generator's bytes on the fixture's probe logits. */
function softmaxMatchesGenerator(): boolean {
  const logits = Float32Array.from({ length: 2304 }, (_, i) => (((i * 37) % 101) - 50) / 8);
  const probs = tidy(() => F.softmax(tensor(logits, { shape: [1, 3, 8, 12, 8] }), 1).toTypedArray() as Float32Array);
  return sha256(probs) === INDEX.softmaxProbe.sha256;
}

test("golden predictions equal v1's tiled algorithm (PyTorch, same dyadic networks)", (t) => {
  // The golden networks' convolutions are exact, so with the generator's softmax kernel every
  // value must be identical (an extra rounding, a flip or a weighting out of v1's order shows up
  // in the last bit). Another CPU may pick another exp kernel: then only a tolerance holds.
  const exact = softmaxMatchesGenerator();
  t.diagnostic(exact ? 'softmax kernel as the generator: bit-exact check' : 'softmax kernel differs: 1e-6 check');
  for (const g of INDEX.golden) {
    const nd = g.patch.length as 2 | 3;
    const { net, dispose } = goldenNetwork(nd, g.shape[0] as number, g.hidden, g.classes);
    const options: SlidingWindowOptions = {
      patchSize: g.patch,
      numClasses: g.classes,
      stepSize: g.step,
      mirrorAxes: g.mirrorAxes,
      useGaussian: g.gaussian,
    };
    const x = goldenInput(g.shape);
    const run = nd === 3 ? predictSlidingWindow3D : predictSlidingWindow2D;
    const got = run(net, x, g.shape, options);
    dispose();
    const want = readNpy(join(DIR, `${g.name}.npy`));
    assert.deepEqual(got.shape, want.shape, `${g.name}: shape`);
    const { maxAbs, identical } = expectClose(got.softmax, want.data, { atol: exact ? 0 : 1e-6, what: g.name });
    t.diagnostic(`${g.name}: ${identical}/${want.data.length} identical, max |diff| ${maxAbs}`);
  }
});

test('several windows and mirrors per forward pass, and bf16 on the CPU, against the golden predictions', (t) => {
  for (const g of INDEX.golden) {
    const nd = g.patch.length as 2 | 3;
    const { net, dispose } = goldenNetwork(nd, g.shape[0] as number, g.hidden, g.classes);
    const batches: number[] = [];
    const dtypes = new Set<string>();
    const recording: NetworkFn = (x) => {
      batches.push(x.shape[0] as number);
      const y = net(x);
      dtypes.add(y.dtype);
      return y;
    };
    const options: SlidingWindowOptions = {
      patchSize: g.patch,
      numClasses: g.classes,
      stepSize: g.step,
      mirrorAxes: g.mirrorAxes,
      useGaussian: g.gaussian,
    };
    const x = goldenInput(g.shape);
    const run = nd === 3 ? predictSlidingWindow3D : predictSlidingWindow2D;
    const want = readNpy(join(DIR, `${g.name}.npy`));
    const flips = mirrorCombinations(nd, g.mirrorAxes).length;
    for (const perForward of [3, 64]) {
      batches.length = 0;
      const got = run(recording, x, g.shape, { ...options, windowsPerForward: perForward });
      const inputs = batches.reduce((a, b) => a + b, 0);
      assert.equal(inputs % flips, 0, `${g.name}: every window predicted with all ${flips} mirrors`);
      assert.ok(
        batches.every((b) => b <= perForward) && batches.length < inputs,
        `${g.name}: batches of at most ${perForward}, more than one input per pass: ${batches}`,
      );
      // The dyadic networks' convolutions are exact in any batch: the same values as one at a time.
      expectClose(got.softmax, want.data, { atol: 1e-6, what: `${g.name}, ${perForward} per forward` });
    }
    dtypes.clear();
    const bf = run(recording, x, g.shape, { ...options, cpuPrecision: 'bfloat16', windowsPerForward: 2 });
    assert.deepEqual([...dtypes], ['bfloat16'], `${g.name}: the network ran under bf16 autocast`);
    const { maxAbs } = expectClose(bf.softmax, want.data, { atol: 4e-2, what: `${g.name}, bf16` });
    t.diagnostic(`${g.name}: bf16 max |diff| ${maxAbs}`);
    dispose();
  }
});

// ---------------------------------------------------------------- properties

test('an identity network returns its input through any tiling, step, mirroring and padding', () => {
  const cases: { spatial: number[]; patch: number[]; step: number; mirror: number[]; gaussian: boolean }[] = [
    { spatial: [13, 17, 11], patch: [8, 12, 8], step: 0.5, mirror: [0, 1, 2], gaussian: true },
    { spatial: [5, 9, 7], patch: [8, 8, 8], step: 0.5, mirror: [0, 1, 2], gaussian: true }, // smaller than the patch
    { spatial: [20, 6, 9], patch: [7, 8, 4], step: 0.33, mirror: [1], gaussian: true }, // mixed
    { spatial: [10, 10, 10], patch: [4, 4, 4], step: 1, mirror: [], gaussian: false },
    { spatial: [9, 14, 12], patch: [5, 6, 7], step: 0.25, mirror: [0, 2], gaussian: true },
    { spatial: [6, 6, 6], patch: [6, 6, 6], step: 0.5, mirror: [2, 0], gaussian: true }, // single window
  ];
  cases.forEach((c, i) => {
    const k = 3;
    const p = probabilityMap(k, c.spatial, 100 + i);
    const got = predictSlidingWindow3D(logNetwork, p, [k, ...c.spatial], {
      patchSize: c.patch,
      numClasses: k,
      stepSize: c.step,
      mirrorAxes: c.mirror,
      useGaussian: c.gaussian,
    });
    assert.deepEqual(got.shape, [k, ...c.spatial]);
    expectClose(got.softmax, p, { rtol: 1e-6, atol: 1e-7, what: `case ${i}` });
  });
  // 2-D images and slice stacks too.
  const p2 = probabilityMap(2, [23, 9], 7);
  const got2 = predictSlidingWindow2D(logNetwork, p2, [2, 23, 9], {
    patchSize: [10, 12],
    numClasses: 2,
    stepSize: 0.4,
  });
  expectClose(got2.softmax, p2, { rtol: 1e-6, atol: 1e-7, what: '2-D image' });
  const p3 = probabilityMap(4, [3, 15, 16], 8);
  const got3 = predictSlidingWindow2D(logNetwork, p3, [4, 3, 15, 16], { patchSize: [8, 8], numClasses: 4 });
  expectClose(got3.softmax, p3, { rtol: 1e-6, atol: 1e-7, what: '2-D slices' });
});

test('a network with a constant output gives that softmax everywhere', () => {
  const logits = [0.3, -1.2, 2.0];
  const e = logits.map(Math.exp);
  const want = e.map((v) => v / e.reduce((a, b) => a + b, 0));
  const constant: NetworkFn = (x) => {
    const shape = [1, 3, ...x.shape.slice(2)];
    return tensor(logits, { shape: [1, 3, ...x.shape.slice(2).map(() => 1)] })
      .expand(shape)
      .contiguous();
  };
  const spatial = [11, 19, 13];
  const got = predictSlidingWindow3D(constant, new Float32Array(product(spatial)), [1, ...spatial], {
    patchSize: [6, 8, 6],
    numClasses: 3,
  });
  const n = product(spatial);
  for (let c = 0; c < 3; c++) {
    expectClose(got.softmax.subarray(c * n, (c + 1) * n), new Array<number>(n).fill(want[c] as number), {
      atol: 1e-6,
      what: `class ${c}`,
    });
  }
});

/** A conv whose kernels are symmetric under every flip: net(flip(x)) = flip(net(x)). */
function symmetricNetwork(nd: 2 | 3, cin: number, k: number): { net: NetworkFn; dispose: () => void } {
  const size = nd === 3 ? 27 : 9;
  const w = new Float32Array(k * cin * size);
  for (let o = 0; o < k; o++)
    for (let i = 0; i < cin; i++)
      for (let e = 0; e < size; e++) {
        const d = [e % 3, Math.floor(e / 3) % 3, Math.floor(e / 9)].slice(0, nd).map((v) => Math.abs(v - 1));
        w[(o * cin + i) * size + e] = Math.cos(o + 2 * i + d.reduce((a, b, j) => a + b * (j + 1.3), 0));
      }
  const weight = tensor(w, { shape: [k, cin, ...(nd === 3 ? [3, 3, 3] : [3, 3])] });
  const conv = nd === 3 ? F.conv3d : F.conv2d;
  return { net: (x) => conv(x, weight, null, { padding: 1 }), dispose: () => weight.dispose() };
}

test('mirroring a flip-equivariant network changes nothing (3-D and 2-D)', () => {
  const next = rng(3);
  const spatial = [12, 15, 10];
  const x = Float32Array.from({ length: 2 * product(spatial) }, () => next() * 2 - 1);
  const sym3 = symmetricNetwork(3, 2, 3);
  const base: SlidingWindowOptions = { patchSize: [8, 8, 8], numClasses: 3, stepSize: 0.5 };
  const plain = predictSlidingWindow3D(sym3.net, x, [2, ...spatial], { ...base, mirrorAxes: [] });
  for (const mirror of [[0, 1, 2], [1, 2], [0]]) {
    const mirrored = predictSlidingWindow3D(sym3.net, x, [2, ...spatial], { ...base, mirrorAxes: mirror });
    expectClose(mirrored.softmax, plain.softmax, { atol: 2e-6, what: `3-D mirror ${mirror}` });
  }
  sym3.dispose();
  const sym2 = symmetricNetwork(2, 2, 3);
  const plane = [2, 3, 15, 10];
  const x2 = x.subarray(0, product(plane));
  const plain2 = predictSlidingWindow2D(sym2.net, x2, plane, { patchSize: [8, 8], numClasses: 3, mirrorAxes: [] });
  const mirrored2 = predictSlidingWindow2D(sym2.net, x2, plane, { patchSize: [8, 8], numClasses: 3 });
  expectClose(mirrored2.softmax, plain2.softmax, { atol: 2e-6, what: '2-D mirror' });
  sym2.dispose();
});

test('mirroring averages exactly the flipped predictions of a single window (asymmetric network)', () => {
  const { net, dispose } = goldenNetwork(3, 1, 4, 3);
  const spatial = [6, 8, 6];
  const x = goldenInput([1, ...spatial]);
  for (const mirror of [[0, 1, 2], [0, 2], [1]]) {
    const got = predictSlidingWindow3D(net, x, [1, ...spatial], {
      patchSize: spatial,
      numClasses: 3,
      mirrorAxes: mirror,
    });
    const want = inferenceMode(() =>
      tidy(() => {
        const input = tensor(x, { shape: [1, 1, ...spatial] });
        const flips = mirrorCombinations(3, mirror);
        let acc: Tensor | null = null;
        for (const f of flips) {
          const dims = f.map((a) => a + 2);
          const flipped = dims.length ? input.flip(dims) : input;
          const probs = F.softmax(net(flipped), 1);
          const back = dims.length ? probs.flip(dims) : probs;
          acc = acc === null ? back : acc.add(back);
        }
        return (acc as Tensor).div(flips.length).toTypedArray() as Float32Array;
      }),
    );
    expectClose(got.softmax, want, { atol: 1e-6, what: `mirror ${mirror}` });
  }
  dispose();
});

test('2-D slice-wise prediction equals predicting every slice on its own', () => {
  const { net, dispose } = goldenNetwork(2, 2, 4, 3);
  const shape = [2, 4, 13, 11];
  const x = goldenInput(shape);
  const options: SlidingWindowOptions = { patchSize: [8, 8], numClasses: 3, stepSize: 0.5 };
  const stack = predictSlidingWindow2D(net, x, shape, options);
  assert.deepEqual(stack.shape, [3, 4, 13, 11]);
  const plane = 13 * 11;
  for (let s = 0; s < 4; s++) {
    const slice = new Float32Array(2 * plane);
    for (let c = 0; c < 2; c++) slice.set(x.subarray((c * 4 + s) * plane, (c * 4 + s + 1) * plane), c * plane);
    const one = predictSlidingWindow2D(net, slice, [2, 13, 11], options);
    for (let k = 0; k < 3; k++) {
      assert.deepEqual(
        stack.softmax.subarray((k * 4 + s) * plane, (k * 4 + s + 1) * plane),
        one.softmax.subarray(k * plane, (k + 1) * plane),
        `slice ${s} class ${k}`,
      );
    }
  }
  // With the patch as large as a slice and no mirroring it is softmax(net(slice)), bit for bit.
  const whole = predictSlidingWindow2D(net, x, shape, { patchSize: [13, 11], numClasses: 3, mirrorAxes: [] });
  const direct = inferenceMode(() =>
    tidy(() => {
      const t = tensor(x, { shape }).permute([1, 0, 2, 3]).contiguous(); // slices as a batch
      return F.softmax(net(t), 1).permute([1, 0, 2, 3]).contiguous().toTypedArray() as Float32Array;
    }),
  );
  assert.deepEqual(whole.softmax, direct);
  dispose();
});

test('averageSoftmax is the float32 mean in list order; progress counts every window; no tensor leaks', () => {
  const a = Float32Array.from([0.1, 0.7, 0.2, 1]);
  const b = Float32Array.from([0.3, 0.3, 0.4, 0]);
  const c = Float32Array.from([0.2, 0.5, 0.3, 0.5]);
  const mean = averageSoftmax([a, b, c]);
  for (let i = 0; i < 4; i++) {
    assert.equal(
      mean[i],
      Math.fround(Math.fround(Math.fround((a[i] as number) + (b[i] as number)) + (c[i] as number)) / 3),
    );
  }
  assert.deepEqual(averageSoftmax([a]), a);
  assert.throws(() => averageSoftmax([]), { code: 'ERR_ARGUMENT' });
  assert.throws(() => averageSoftmax([a, new Float32Array(3)]), { code: 'ERR_ARGUMENT' });

  const spatial = [9, 13, 10];
  const p = probabilityMap(2, spatial, 11);
  const calls: [number, number][] = [];
  const before = memoryStats().liveTensors;
  predictSlidingWindow3D(logNetwork, p, [2, ...spatial], {
    patchSize: [6, 8, 6],
    numClasses: 2,
    onProgress: (done, total) => calls.push([done, total]),
  });
  // starts [0, 3] x [0, 2, 5] x [0, 2, 4]: 18 windows (each predicted 8 times, mirrored).
  assert.deepEqual(
    calls,
    Array.from({ length: 18 }, (_, i) => [i + 1, 18]),
  );
  const slices: [number, number][] = [];
  predictSlidingWindow2D(logNetwork, p, [2, ...spatial], {
    patchSize: [8, 8],
    numClasses: 2,
    onProgress: (done, total) => slices.push([done, total]),
  });
  // 9 slices of [13, 10], starts [0, 2, 5] x [0, 2]: 6 windows each.
  assert.equal(slices.length, 9 * 6);
  assert.deepEqual(slices.at(-1), [54, 54]);
  assert.equal(memoryStats().liveTensors, before, 'every tensor made during prediction is freed');
});

test('bad arguments and deep-supervision outputs are refused with ERR_ARGUMENT', () => {
  const p = probabilityMap(2, [6, 6, 6], 1);
  const shape = [2, 6, 6, 6];
  const o: SlidingWindowOptions = { patchSize: [4, 4, 4], numClasses: 2 };
  const bad = (fn: () => unknown, what: string) => assert.throws(fn, { code: 'ERR_ARGUMENT' }, what);
  bad(() => predictSlidingWindow3D(logNetwork, p.subarray(1), shape, o), 'data length');
  bad(() => predictSlidingWindow3D(logNetwork, p, [2, 6, 36], o), '3-D shape');
  bad(() => predictSlidingWindow3D(logNetwork, p, shape, { ...o, patchSize: [4, 4] }), 'patch axes');
  bad(() => predictSlidingWindow3D(logNetwork, p, shape, { ...o, mirrorAxes: [3] }), 'mirror axis 3');
  bad(() => predictSlidingWindow3D(logNetwork, p, shape, { ...o, mirrorAxes: [1, 1] }), 'repeated axis');
  bad(() => predictSlidingWindow3D(logNetwork, p, shape, { ...o, stepSize: 0 }), 'step 0');
  bad(() => predictSlidingWindow3D(logNetwork, p, shape, { ...o, numClasses: 3 }), 'class count');
  const deep = ((x: Tensor) => [x.log(), x.log()]) as unknown as NetworkFn;
  assert.throws(() => predictSlidingWindow3D(deep, p, shape, o), /full-resolution logits/);
  bad(() => predictSlidingWindow2D(logNetwork, p, [2, 216], { patchSize: [4, 4], numClasses: 2 }), '2-D shape');
  bad(() => gaussianImportanceMap([0, 4]), 'empty axis');
});
