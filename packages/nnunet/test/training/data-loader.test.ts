/** The patch sampler (v1's DataLoader3D / DataLoader2D) on a small synthetic preprocessed folder. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { LegacyRandomState } from '../../src/compat/random-state.js';
import { writeNpy } from '../../src/io/npy.js';
import {
  batchRandomState,
  type CaseRecord,
  DataLoader,
  type DataLoaderOptions,
  deriveSeed,
  type LoaderBatch,
  loadDataset,
} from '../../src/training/data-loader.js';
import { tempDir } from '../helpers.js';

/** Modalities of the synthetic cases. */
const C = 2;

interface SyntheticCase {
  key: string;
  shape: [number, number, number];
  /** (z, y, x) labels, -1 outside the "nonzero mask". */
  seg: Float32Array;
}

/**
 * Image value of case k, channel c at (z, y, x): unique, never 0 (0 is the padding), exact in
 * float32, and decodable back to (k, c, z, y, x) for shapes up to (25, 20, 20).
 */
const value = (k: number, c: number, z: number, y: number, x: number): number =>
  k * 100000 + c * 10000 + z * 400 + y * 20 + x + 1;
function decode(v: number): { k: number; c: number; z: number; y: number; x: number } {
  const r = v - 1;
  return {
    k: Math.floor(r / 100000),
    c: Math.floor((r % 100000) / 10000),
    z: Math.floor((r % 10000) / 400),
    y: Math.floor((r % 400) / 20),
    x: r % 20,
  };
}

const inBox = (v: number, lo: number, hi: number): boolean => v >= lo && v < hi;

/** The cases: two classes; one class and a case thinner than the patch; no foreground; one voxel in a corner. */
const CASES: { key: string; shape: [number, number, number]; label: (z: number, y: number, x: number) => number }[] = [
  {
    key: 'case_a',
    shape: [10, 12, 14],
    label: (z, y, x) =>
      inBox(z, 2, 5) && inBox(y, 3, 6) && inBox(x, 4, 8)
        ? 1
        : inBox(z, 6, 9) && inBox(y, 8, 11) && inBox(x, 9, 13)
          ? 2
          : z === 0 && y === 0
            ? -1
            : 0,
  },
  {
    key: 'case_b',
    shape: [5, 20, 8],
    label: (_z, y, x) => (inBox(y, 15, 18) && inBox(x, 1, 3) ? 1 : x === 7 ? -1 : 0),
  },
  { key: 'case_c', shape: [8, 8, 8], label: (_z, _y, x) => (x === 0 ? -1 : 0) },
  { key: 'case_d', shape: [12, 16, 10], label: (z, y, x) => (z === 11 && y === 15 && x === 9 ? 2 : 0) },
];

/** Writes CASE.npy ((C + 1, z, y, x) float32) and CASE.json (class_locations in raster order). */
function writeSyntheticFolder(dir: string): SyntheticCase[] {
  return CASES.map(({ key, shape, label }, k) => {
    const [Z, Y, X] = shape;
    const n = Z * Y * X;
    const all = new Float32Array((C + 1) * n);
    const seg = all.subarray(C * n);
    const locations: Record<string, number[][]> = { '1': [], '2': [] };
    let i = 0;
    for (let z = 0; z < Z; z++)
      for (let y = 0; y < Y; y++)
        for (let x = 0; x < X; x++, i++) {
          for (let c = 0; c < C; c++) all[c * n + i] = value(k, c, z, y, x);
          const l = label(z, y, x);
          seg[i] = l;
          if (l > 0) locations[String(l)]?.push([z, y, x]);
        }
    writeNpy(join(dir, `${key}.npy`), all, [C + 1, Z, Y, X]);
    writeFileSync(join(dir, `${key}.json`), JSON.stringify({ class_locations: locations }));
    return { key, shape, seg: seg.slice() };
  });
}

const dir = tempDir('nnunet-loader-');
after(() => rmSync(dir, { recursive: true, force: true }));
const cases = writeSyntheticFolder(dir);
const dataset = loadDataset(dir);
const datasetInMemory = loadDataset(dir, { inMemory: true });

const TRAIN_3D: DataLoaderOptions = { dim: 3, patchSize: [9, 10, 11], finalPatchSize: [6, 9, 8], batchSize: 6 };
const VAL_3D: DataLoaderOptions = { dim: 3, patchSize: [6, 9, 8], finalPatchSize: [6, 9, 8], batchSize: 6 };
const TRAIN_2D: DataLoaderOptions = { dim: 2, patchSize: [13, 11], finalPatchSize: [10, 9], batchSize: 6 };

const hash = (a: Float32Array): string =>
  createHash('sha256')
    .update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength))
    .digest('hex')
    .slice(0, 16);

/**
 * nnU-Net v1's own DataLoader3D / DataLoader2D (tag nnunetv1 with batchgenerators, NumPy 1.24) on
 * the same four cases written as .npy, with np.random.seed(seed) and 4 generate_train_batch()
 * calls: the last letter of each batch key, then sha256 (first 16 hex digits) of the float32 data
 * and seg arrays. Loaders built like nnUNetTrainer builds them (pad_mode "constant", 0.33).
 */
const V1_BATCHES: Record<string, string[]> = {
  '3d_train/1234': [
    'd d c b a a d70c343dafdb922c 69c83999e2cc3ec0',
    'b c c c d d 8f8a430c3e7c39da 51070edd0dcc3e97',
    'a b d d d c 84ab3fbcf49df7f3 00f3dc2af8c70a2c',
    'b b d b d b ddc3676960dda837 8b6d79ee21489ff7',
  ],
  '3d_train/7': [
    'd a b c d d 6a887af7f842e76b 96b70d8d72366a5a',
    'c a a d d a 3c0803451db6007d 32c92b6399377ffe',
    'c a b c c a b77aa9f06fd3c681 b8a469a8db7c370a',
    'a a a d d c cd47d4137556fe5e f48f5f5e21833be9',
  ],
  '3d_val/1234': [
    'd d c b a a 0f8a8bcf89c72464 4aa9ba48550bce30',
    'b d c c d c d16e9924e84e9902 428011ee65e9e9fc',
    'c d a b d d 9e503898f551a3ed ae4042054bf21b48',
    'd b a a a b 323f727670b0690d ab7bbb3880e41128',
  ],
  '3d_val/7': [
    'd a b c d d feaaafeee8db202f 4d871755cd391f2b',
    'c a a d d a 4779d1565423beb8 bcaf8e93e9edd3d7',
    'c a b c c a fd1415626de4a3b1 33c428216079f461',
    'a a a d d c 386506d61f6dbbd8 8cc6c08d8cc22778',
  ],
  '2d_train/1234': [
    'd d c b a a f00b818f480b892c 6e61f8a784182adf',
    'b d c c d c 0af05239c2d89a3e 794639a407ea88c5',
    'c d a b d d e6ae92fdf99ae747 6cf5c615d77b3a50',
    'b b b d b d f071e9e6d14e7895 ef3742a4a6e97563',
  ],
  '2d_train/7': [
    'd a b c d d ecc6a643b1ea3913 f0f741eca4b8db03',
    'a a d d a a 7ec03cef3fee4b48 5768652830d9d741',
    'c b d d d a 32550b6f8281ca77 285129e71ed16c80',
    'a b a d b d 1bfa2f616e8a3b03 b078febcf43435ac',
  ],
};

test('with NumPy-seeded draws the batches equal nnU-Net v1 DataLoader3D/2D batches, bit for bit', () => {
  const configs: Record<string, DataLoaderOptions> = { '3d_train': TRAIN_3D, '3d_val': VAL_3D, '2d_train': TRAIN_2D };
  for (const [name, options] of Object.entries(configs)) {
    for (const source of [dataset, datasetInMemory]) {
      const loader = new DataLoader(source, options);
      for (const seed of [1234, 7]) {
        const rng = new LegacyRandomState(seed);
        const got = Array.from({ length: 4 }, () => {
          const b = loader.generateBatch(rng);
          return `${b.keys.map((k) => k.slice(-1)).join(' ')} ${hash(b.data)} ${hash(b.seg)}`;
        });
        assert.deepEqual(got, V1_BATCHES[`${name}/${seed}`], `${name}, seed ${seed}`);
      }
    }
  }
});

test('batch shapes: data [B, C, ...patch], seg [B, 1, ...patch]', () => {
  const b3 = new DataLoader(dataset, TRAIN_3D).generateBatch(batchRandomState(1, 0));
  assert.deepEqual(b3.dataShape, [6, 2, 9, 10, 11]);
  assert.deepEqual(b3.segShape, [6, 1, 9, 10, 11]);
  assert.equal(b3.data.length, 6 * 2 * 990);
  assert.equal(b3.seg.length, 6 * 990);
  assert.equal(b3.keys.length, 6);
  const b2 = new DataLoader(dataset, TRAIN_2D).generateBatch(batchRandomState(1, 0));
  assert.deepEqual(b2.dataShape, [6, 2, 13, 11]);
  assert.deepEqual(b2.segShape, [6, 1, 13, 11]);
  assert.equal(b2.data.length, 6 * 2 * 143);
});

test('items below round(B * 0.67) are random, the rest forced (Python rounding, as v1)', () => {
  const forced = (B: number): number[] => {
    const loader = new DataLoader(dataset, { ...TRAIN_3D, batchSize: B });
    return Array.from({ length: B }, (_, j) => j).filter((j) => loader.forcesForeground(j));
  };
  assert.deepEqual(forced(1), []); // round(0.67) = 1: a batch of one is never forced
  assert.deepEqual(forced(2), [1]); // round(1.34) = 1
  assert.deepEqual(forced(3), [2]); // round(2.01) = 2
  assert.deepEqual(forced(6), [4, 5]); // round(4.02) = 4
  assert.deepEqual(forced(7), [5, 6]); // round(4.69) = 5
  const none = new DataLoader(dataset, { ...TRAIN_3D, oversampleForegroundPercent: 0 });
  assert.equal(none.forcesForeground(5), false);
});

/** v1's crop bounds for one axis: the lowest and highest random patch start. */
function bounds(size: number, patch: number, final: number): [number, number] {
  let pad = patch - final;
  if (pad + size < patch) pad = patch - size;
  return [-Math.ceil(pad / 2), size + Math.floor(pad / 2) + (pad % 2) - patch];
}

interface Item {
  key: string;
  caseIndex: number;
  forced: boolean;
  /** Patch start in the case, (z, y, x); for 2-D the z is the slice. */
  start: number[];
  hasForeground: boolean;
}

/**
 * Checks every voxel of every item against the case cropped at the start recovered from the
 * patch's first image voxel (0 / -1 outside the case), and returns what each item was.
 */
function inspect(b: LoaderBatch, loader: DataLoader, dim: 2 | 3, patch: readonly number[]): Item[] {
  const [pz, py, px] = (dim === 3 ? patch : [1, ...patch]) as [number, number, number];
  const P = pz * py * px;
  return b.keys.map((key, j) => {
    const caseIndex = cases.findIndex((c) => c.key === key);
    const sc = cases[caseIndex] as SyntheticCase;
    const [Z, Y, X] = sc.shape;
    const first = b.data.subarray(j * C * P, j * C * P + P).findIndex((v) => v !== 0);
    assert.ok(first >= 0, `item ${j} has no image voxel`);
    const d = decode(b.data[j * C * P + first] as number);
    assert.equal(d.k, caseIndex, `item ${j} holds voxels of case ${d.k}, not of ${key}`);
    const fz = Math.floor(first / (py * px));
    const fy = Math.floor(first / px) % py;
    const fx = first % px;
    const start = [d.z - fz, d.y - fy, d.x - fx];
    let hasForeground = false;
    for (let z = 0; z < pz; z++)
      for (let y = 0; y < py; y++)
        for (let x = 0; x < px; x++) {
          const [sz, sy, sx] = [start[0]! + z, start[1]! + y, start[2]! + x];
          const inside = inBox(sz, 0, Z) && inBox(sy, 0, Y) && inBox(sx, 0, X);
          const p = (z * py + y) * px + x;
          for (let c = 0; c < C; c++)
            assert.equal(b.data[(j * C + c) * P + p], inside ? value(caseIndex, c, sz, sy, sx) : 0);
          const label = inside ? (sc.seg[(sz * Y + sy) * X + sx] as number) : -1;
          assert.equal(b.seg[j * P + p], label);
          if (label > 0) hasForeground = true;
        }
    return { key, caseIndex, forced: loader.forcesForeground(j), start, hasForeground };
  });
}

function chiSquare(counts: number[]): number {
  const total = counts.reduce((a, b) => a + b, 0);
  const e = total / counts.length;
  return counts.reduce((s, o) => s + (o - e) ** 2 / e, 0);
}

test('3-D: crops are exact, padding is 0 / -1, forced items always show foreground, random ones are uniform', () => {
  const patch = TRAIN_3D.patchSize;
  const final = TRAIN_3D.finalPatchSize;
  const loader = new DataLoader(dataset, TRAIN_3D);
  const items: Item[] = [];
  for (let i = 0; i < 500; i++) items.push(...inspect(loader.generateBatch(batchRandomState(99, i)), loader, 3, patch));

  // Every forced item of a case with foreground contains some; the case without any falls back to a random crop.
  const forced = items.filter((it) => it.forced);
  assert.equal(forced.length, 1000);
  for (const it of forced) {
    if (it.key !== 'case_c') assert.ok(it.hasForeground, `forced item of ${it.key} at ${it.start} has no foreground`);
    const sc = cases[it.caseIndex] as SyntheticCase;
    it.start.forEach((s, d) => {
      const [lb, ub] = bounds(sc.shape[d]!, patch[d]!, final[d]!);
      assert.ok(s >= lb, 'forced patch starts below the lower bound');
      if (it.key === 'case_c') assert.ok(s <= ub);
    });
  }
  // case_d's only voxel sits in the far corner: forced patches are centred on it and reach past the case.
  const corner = forced.filter((it) => it.key === 'case_d');
  assert.ok(corner.length > 100);
  for (const it of corner) assert.deepEqual(it.start, [11 - 4, 15 - 5, 9 - 5]);

  // Random items: cases uniform, starts uniform within v1's bounds, foreground no more often than chance.
  const random = items.filter((it) => !it.forced);
  const perCase = cases.map((_, k) => random.filter((it) => it.caseIndex === k).length);
  assert.ok(chiSquare(perCase) < 20, `cases not uniform: ${perCase}`);
  for (const [k, sc] of cases.entries()) {
    const mine = random.filter((it) => it.caseIndex === k);
    for (let d = 0; d < 3; d++) {
      const [lb, ub] = bounds(sc.shape[d]!, patch[d]!, final[d]!);
      const counts = new Array(ub - lb + 1).fill(0);
      for (const it of mine) {
        const s = it.start[d] as number;
        assert.ok(s >= lb && s <= ub, `${sc.key} axis ${d}: start ${s} outside [${lb}, ${ub}]`);
        counts[s - lb]++;
      }
      assert.ok(chiSquare(counts) < 4 * counts.length + 20, `${sc.key} axis ${d}: starts not uniform: ${counts}`);
    }
  }
  // The exact chance that a uniformly placed patch shows foreground, averaged over the cases.
  let expected = 0;
  for (const sc of cases) {
    const [Z, Y, X] = sc.shape;
    const r = sc.shape.map((s, d) => bounds(s, patch[d]!, final[d]!));
    let hits = 0;
    let all = 0;
    for (let a = r[0]![0]; a <= r[0]![1]; a++)
      for (let b = r[1]![0]; b <= r[1]![1]; b++)
        for (let c = r[2]![0]; c <= r[2]![1]; c++) {
          all++;
          let fg = false;
          for (let z = Math.max(0, a); z < Math.min(Z, a + patch[0]!) && !fg; z++)
            for (let y = Math.max(0, b); y < Math.min(Y, b + patch[1]!) && !fg; y++)
              for (let x = Math.max(0, c); x < Math.min(X, c + patch[2]!) && !fg; x++)
                if ((sc.seg[(z * Y + y) * X + x] as number) > 0) fg = true;
          if (fg) hits++;
        }
    expected += hits / all / cases.length;
  }
  const observed = random.filter((it) => it.hasForeground).length / random.length;
  const sd = Math.sqrt((expected * (1 - expected)) / random.length);
  assert.ok(Math.abs(observed - expected) < 4 * sd, `random items show foreground ${observed}, chance is ${expected}`);
});

test('padding: a case thinner than the patch is padded with 0 (data) and -1 (seg)', () => {
  const loader = new DataLoader(dataset, VAL_3D);
  const P = 6 * 9 * 8;
  let seen = 0;
  for (let i = 0; i < 40; i++) {
    const b = loader.generateBatch(batchRandomState(5, i));
    for (const [j, it] of inspect(b, loader, 3, VAL_3D.patchSize).entries()) {
      if (it.key !== 'case_b') continue;
      seen++;
      // case_b has 5 slices, the patch 6: a random patch has one padded slice, below or above the
      // case; a forced one is centred on its voxel and may reach further past the top.
      if (!it.forced) assert.ok(it.start[0] === -1 || it.start[0] === 0, `start ${it.start[0]}`);
      const outside = [0, 1, 2, 3, 4, 5].filter((z) => !inBox((it.start[0] as number) + z, 0, 5));
      assert.ok(outside.length >= 1);
      for (const z of outside)
        for (let p = z * 72; p < (z + 1) * 72; p++) {
          assert.equal(b.data[j * C * P + p], 0);
          assert.equal(b.data[(j * C + 1) * P + p], 0);
          assert.equal(b.seg[j * P + p], -1);
        }
    }
  }
  assert.ok(seen > 20);
});

test('2-D: each patch is one slice of its own case; forced items show foreground; random slices are uniform', () => {
  const patch = TRAIN_2D.patchSize;
  const loader = new DataLoader(dataset, TRAIN_2D);
  const items: Item[] = [];
  for (let i = 0; i < 300; i++) items.push(...inspect(loader.generateBatch(batchRandomState(3, i)), loader, 2, patch));
  for (const it of items) {
    const sc = cases[it.caseIndex] as SyntheticCase;
    assert.ok(inBox(it.start[0] as number, 0, sc.shape[0]), 'slice outside the case');
    if (it.forced && it.key !== 'case_c') assert.ok(it.hasForeground, `forced 2-D item of ${it.key} has no foreground`);
  }
  // Forced items of case_a pick class 1 (slices 2-4) or class 2 (slices 6-8) with equal chance.
  const forcedA = items.filter((it) => it.forced && it.key === 'case_a');
  const class1 = forcedA.filter((it) => (it.start[0] as number) < 5).length;
  assert.ok(forcedA.every((it) => inBox(it.start[0] as number, 2, 5) || inBox(it.start[0] as number, 6, 9)));
  assert.ok(Math.abs(class1 / forcedA.length - 0.5) < 0.15, `class 1 drawn ${class1} of ${forcedA.length}`);
  // case_d's foreground lies in slice 11 only.
  for (const it of items.filter((x) => x.forced && x.key === 'case_d')) assert.equal(it.start[0], 11);
  const slicesA = new Array(10).fill(0);
  for (const it of items.filter((x) => !x.forced && x.key === 'case_a')) slicesA[it.start[0] as number]++;
  assert.ok(chiSquare(slicesA) < 40, `random slices of case_a not uniform: ${slicesA}`);
});

test('same seed, same batches; another seed, other batches; file reads equal in-memory cases', () => {
  const a = new DataLoader(dataset, TRAIN_3D);
  const b = new DataLoader(datasetInMemory, TRAIN_3D);
  for (let i = 0; i < 5; i++) {
    const x = a.generateBatch(batchRandomState(11, i));
    const y = b.generateBatch(batchRandomState(11, i));
    assert.deepEqual(x.keys, y.keys);
    assert.deepEqual(x.data, y.data);
    assert.deepEqual(x.seg, y.seg);
    const z = a.generateBatch(batchRandomState(12, i));
    assert.notEqual(hash(x.data), hash(z.data));
  }
  assert.notEqual(deriveSeed(11, 0), deriveSeed(11, 1));
  assert.notEqual(deriveSeed(11, 0), deriveSeed(12, 0));
  assert.notEqual(deriveSeed(11, 0, 0), deriveSeed(11, 0, 1));
});

test('generateBatch writes into given arrays and checks their sizes', () => {
  const loader = new DataLoader(dataset, TRAIN_3D);
  const out = { data: new Float32Array(6 * 2 * 990), seg: new Float32Array(6 * 990) };
  const b = loader.generateBatch(batchRandomState(1, 0), out);
  assert.equal(b.data, out.data);
  assert.deepEqual(b.data, loader.generateBatch(batchRandomState(1, 0)).data);
  assert.throws(
    () => loader.generateBatch(batchRandomState(1, 0), { data: new Float32Array(5), seg: out.seg }),
    (e: Error & { code?: string }) => e.code === 'ERR_ARGUMENT',
  );
});

test('loadDataset: keys in the given order, shared in-memory arrays, clear errors', () => {
  const two = loadDataset(dir, { keys: ['case_d', 'case_a'] });
  assert.deepEqual(
    two.map((c: CaseRecord) => [c.key, c.shape]),
    [
      ['case_d', [3, 12, 16, 10]],
      ['case_a', [3, 10, 12, 14]],
    ],
  );
  assert.equal(two[0]?.classLocations['2']?.length, 3);
  assert.ok(datasetInMemory[0]?.array?.buffer instanceof SharedArrayBuffer);
  assert.throws(
    () => loadDataset(dir, { keys: ['case_x'] }),
    (e: Error & { code?: string }) => e.code === 'ERR_NOT_FOUND' && /case_x/.test(e.message),
  );
  writeFileSync(join(dir, 'case_c.json'), '{}');
  try {
    assert.throws(
      () => loadDataset(dir),
      (e: Error & { code?: string }) => e.code === 'ERR_DATASET' && /class_locations/.test(e.message),
    );
  } finally {
    writeFileSync(join(dir, 'case_c.json'), JSON.stringify({ class_locations: { '1': [], '2': [] } }));
  }
  assert.throws(
    () => new DataLoader(dataset, { ...TRAIN_3D, patchSize: [9, 10] }),
    (e: Error & { code?: string }) => e.code === 'ERR_ARGUMENT' && /patchSize/.test(e.message),
  );
  assert.throws(() => deriveSeed(-1, 0), /seed/);
});
