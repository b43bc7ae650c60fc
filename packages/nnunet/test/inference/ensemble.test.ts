/** Ensembling softmax folders (v1's nnUNet_ensemble): float16 averaging, argmax, uncropping, postprocessing. */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { averageSoftmax, ensembleFolders, readSoftmaxNpz } from '../../src/inference/ensemble.js';
import type { ExportProperties } from '../../src/inference/export.js';
import { writeSoftmaxNpz } from '../../src/inference/export.js';
import { readImage } from '../../src/io/image.js';
import { readNpy } from '../../src/io/npy.js';
import { FIXTURES, tempDir } from '../helpers.js';
import { blobBox, ORGAN_BOXES, paint, SPACING } from '../postprocessing/synthetic.js';

// float16 values near 0.45 (spacing 2^-12 in [0.25, 0.5)).
const V = 1843 / 4096; // 0.449951171875
const W = 1844 / 4096; // 0.4501953125

test('averageSoftmax equals np.mean of float16 arrays (float32 sum, float16 result, ties to even)', () => {
  // float16(0.1) = 0.0999755859375, float16(0.2) = 0.199951171875: the mean 0.14996337890625 lies
  // exactly between the float16 neighbours 0.1497802734375 and 0.14990234375; ties go to the even one.
  const a = Float32Array.from([0.0999755859375, 0.300048828125, 0.7001953125, 0.333251953125]);
  const b = Float32Array.from([0.199951171875, 0.300048828125, 0.0999755859375, 0.333251953125]);
  assert.deepEqual(Array.from(averageSoftmax([a, b])), [0.14990234375, 0.300048828125, 0.400146484375, 0.333251953125]);
  // Three members: (0.0999755859375 + 0.199951171875 + 0.300048828125) / 3 = 0.19999186... -> 0.199951171875.
  const c = Float32Array.from([0.300048828125, 0.60009765625, 0.60009765625, 0.199951171875]);
  assert.deepEqual(
    Array.from(averageSoftmax([a, b, c])),
    [0.199951171875, 0.400146484375, 0.466796875, 0.288818359375],
  );
  // The inputs are left alone.
  assert.equal(a[0], 0.0999755859375);
  // (V + W) / 2 = 1843.5 / 4096 rounds to the even 1844 / 4096 = W.
  assert.deepEqual(Array.from(averageSoftmax([Float32Array.of(V), Float32Array.of(W)])), [W]);
});

function props(full: number[], cropped: number[], bbox: [number, number][] | null): ExportProperties {
  return {
    original_size_of_raw_data: full,
    size_after_cropping: cropped,
    original_spacing: [SPACING[2], SPACING[1], SPACING[0]],
    spacing_after_resampling: [SPACING[2], SPACING[1], SPACING[0]],
    crop_bbox: bbox,
    itk_spacing: [...SPACING],
    itk_origin: [5, -3, 10],
    itk_direction: [1, 0, 0, 0, 1, 0, 0, 0, 1],
  };
}

/** Writes CASE.npz (probabilities per voxel, [K, ...shape]) and CASE.json into `folder`. */
function writeCase(folder: string, id: string, perVoxel: number[][], shape: number[], p: ExportProperties) {
  mkdirSync(folder, { recursive: true });
  const K = (perVoxel[0] as number[]).length;
  const n = perVoxel.length;
  const data = new Float32Array(K * n);
  for (let i = 0; i < n; i++) for (let k = 0; k < K; k++) data[k * n + i] = (perVoxel[i] as number[])[k] as number;
  writeSoftmaxNpz(join(folder, `${id}.npz`), data, [K, ...shape]);
  writeFileSync(join(folder, `${id}.json`), JSON.stringify(p));
}

test('two folders: averaged in float16, argmax with the first class on ties, pasted into the uncropped volume', async () => {
  const dir = tempDir('nnunet-ensemble-');
  const full = [3, 4, 4];
  const cropped = [2, 2, 3];
  const p = props(full, cropped, [
    [1, 3],
    [1, 3],
    [0, 3],
  ]);
  const A: number[][] = [];
  const B: number[][] = [];
  for (let i = 0; i < 12; i++) {
    A.push([1, 0, 0]);
    B.push([1, 0, 0]);
  }
  // Voxel 0: the means 0.45007... (class 0) and 0.4501953125 (class 1) are one float16 value, so
  // class 0 wins, where a float64 average would pick class 1.
  A[0] = [V, W, 0.1];
  B[0] = [W, W, 0.1];
  // Voxel 1: exact tie of classes 1 and 2 -> 1.
  A[1] = [0.1, 0.2, 0.7];
  B[1] = [0.1, 0.7, 0.2];
  // Voxel 5: A says 0, B says 1 more confidently -> 1.
  A[5] = [0.6, 0.4, 0];
  B[5] = [0, 0.9, 0.1];
  // Voxel 11: both say 2.
  A[11] = [0, 0.2, 0.8];
  B[11] = [0.1, 0, 0.9];
  writeCase(join(dir, 'A'), 'case1', A, cropped, p);
  writeCase(join(dir, 'B'), 'case1', B, cropped, p);
  const r = await ensembleFolders([join(dir, 'A'), join(dir, 'B')], join(dir, 'out'), { workers: 1, storeNpz: true });
  assert.deepEqual(r.cases, ['case1']);
  const seg = await readImage(join(dir, 'out', 'case1.nii.gz'));
  assert.deepEqual(seg.shape, full);
  assert.deepEqual(seg.geometry.origin, [5, -3, 10]);
  assert.deepEqual(seg.geometry.spacing, [...SPACING]);
  const expectedCropped = [0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 2];
  const expected = new Array<number>(48).fill(0);
  for (let z = 0; z < 2; z++)
    for (let y = 0; y < 2; y++)
      for (let x = 0; x < 3; x++)
        expected[((z + 1) * 4 + (y + 1)) * 4 + x] = expectedCropped[(z * 2 + y) * 3 + x] as number;
  assert.deepEqual(Array.from(seg.data as Uint8Array), expected);
  // --npz: the float16 average on the uncropped grid (as v1's merge and our -z store it), zeros
  // around the crop box, and the properties of the first folder.
  const saved = readSoftmaxNpz(join(dir, 'out', 'case1.npz'));
  assert.deepEqual(saved.shape, [3, ...full]);
  // Cropped voxel (z, y, x) sits at (z + 1, y + 1, x) of the 3 x 4 x 4 volume; 48 voxels per class.
  const at = (k: number, z: number, y: number, x: number) => saved.values[k * 48 + ((z + 1) * 4 + y + 1) * 4 + x];
  assert.equal(at(0, 0, 0, 0), W); // class 0 of voxel 0
  assert.equal(at(1, 0, 0, 0), W); // class 1 of voxel 0
  // Class 1 of voxel 1: (0.199951171875 + 0.7001953125) / 2 = 1843.5 / 4096 -> 1844 / 4096 (NumPy gives the same).
  assert.equal(at(1, 0, 0, 1), W);
  let inside = 0;
  for (let k = 0; k < 3; k++)
    for (let z = 0; z < 3; z++)
      for (let y = 0; y < 4; y++)
        for (let x = 0; x < 4; x++) {
          const v = saved.values[k * 48 + (z * 4 + y) * 4 + x] as number;
          const inBox = z >= 1 && y >= 1 && y < 3 && x < 3;
          if (inBox) inside += v;
          else assert.equal(v, 0, `class ${k} at (${z}, ${y}, ${x}) outside the crop box`);
        }
  // Inside the box each voxel's classes sum to ~1 (12 voxels).
  assert.ok(Math.abs(inside - 12) < 0.01, `${inside}`);
  assert.ok(existsSync(join(dir, 'out', 'case1.json')));
  // The stored ensemble is itself an ensemble input: merged with itself it gives the same segmentation.
  await ensembleFolders([join(dir, 'out'), join(dir, 'out')], join(dir, 'again'), { workers: 1 });
  const again = await readImage(join(dir, 'again', 'case1.nii.gz'));
  assert.deepEqual(Array.from(again.data as Uint8Array), expected);
});

test('with -pp the ensemble is postprocessed (raw copy in not_postprocessed, the json copied)', async () => {
  const dir = tempDir('nnunet-ensemble-pp-');
  const shape = [4, 8, 8];
  const seg = paint([...ORGAN_BOXES, blobBox(1)]);
  const oneHot = Array.from(seg, (l) => [0, 1, 2].map((k) => (k === l ? 0.9 : 0.05)));
  const p = props(shape, shape, null);
  writeCase(join(dir, 'A'), 'a', oneHot, shape, p);
  writeCase(join(dir, 'B'), 'a', oneHot, shape, p);
  const ppFile = join(dir, 'postprocessing.json');
  writeFileSync(ppFile, JSON.stringify({ for_which_classes: [[1, 2]], min_valid_object_sizes: 'None' }));
  await ensembleFolders([join(dir, 'A'), join(dir, 'B')], join(dir, 'out'), { workers: 1, postprocessingFile: ppFile });
  const raw = await readImage(join(dir, 'out', 'not_postprocessed', 'a.nii.gz'));
  assert.deepEqual(Array.from(raw.data as Uint8Array), Array.from(seg));
  const clean = await readImage(join(dir, 'out', 'a.nii.gz'));
  assert.deepEqual(Array.from(clean.data as Uint8Array), Array.from(paint(ORGAN_BOXES)));
  assert.ok(existsSync(join(dir, 'out', 'postprocessing.json')));
});

test('a case missing from one folder, missing properties or v1 .pkl properties: one clear error', async () => {
  const dir = tempDir('nnunet-ensemble-bad-');
  const p = props([1, 1, 2], [1, 1, 2], null);
  const one = [
    [1, 0],
    [0, 1],
  ];
  writeCase(join(dir, 'A'), 'x', one, [1, 1, 2], p);
  writeCase(join(dir, 'A'), 'y', one, [1, 1, 2], p);
  writeCase(join(dir, 'B'), 'x', one, [1, 1, 2], p);
  await assert.rejects(
    ensembleFolders([join(dir, 'A'), join(dir, 'B')], join(dir, 'o')),
    (e: Error & { code?: string }) => {
      assert.equal(e.code, 'ERR_NOT_FOUND');
      assert.match(e.message, /B has no softmax \(\.npz\) for y/);
      return true;
    },
  );
  writeCase(join(dir, 'B'), 'y', one, [1, 1, 2], p);
  renameSync(join(dir, 'B', 'y.json'), join(dir, 'B', 'y.pkl'));
  await assert.rejects(
    ensembleFolders([join(dir, 'B'), join(dir, 'A')], join(dir, 'o'), { workers: 1 }),
    (e: Error & { code?: string }) => {
      // The file is JSON under a .pkl name: the v1 reader names it.
      assert.match(e.message, /y\.pkl/);
      return true;
    },
  );
  await assert.rejects(ensembleFolders([join(dir, 'A'), join(dir, 'nope')], join(dir, 'o')), /nope does not exist/);
});

test("v1's own nnUNet_predict -z outputs (CASE.npz uncropped + CASE.pkl) ensemble to NumPy's float16 mean + argmax", async () => {
  const v1 = join(FIXTURES, 'v1_models');
  const dir = join(FIXTURES, 'ensemble');
  const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as {
    cases: string[];
    ensembles: Record<string, string[]>;
  };
  for (const [name, members] of Object.entries(index.ensembles)) {
    const out = tempDir('nnunet-ensemble-v1-');
    const r = await ensembleFolders(
      members.map((m) => join(v1, m)),
      out,
      { workers: 1, storeNpz: name === '2d_3d' },
    );
    assert.deepEqual(r.cases, index.cases);
    for (const id of index.cases) {
      const seg = await readImage(join(out, `${id}.nii.gz`));
      const expected = readNpy(join(dir, `${id}.${name}.npy`));
      assert.deepEqual(seg.shape, expected.shape, `${name} ${id}`);
      assert.deepEqual(Array.from(seg.data as Uint8Array), Array.from(expected.data), `${name} ${id}`);
      // The geometry of v1's own single-model prediction of the case.
      const single = await readImage(join(v1, 'pred_2d_notta', `${id}.nii.gz`));
      assert.deepEqual(seg.geometry, single.geometry, `${name} ${id} geometry`);
    }
  }
});

test("--npz stores np.mean of v1's softmax bit for bit, on the uncropped grid (v1 fixture tiny_101, a cropped case)", async () => {
  const v1 = join(FIXTURES, 'v1_models');
  const out = tempDir('nnunet-ensemble-v1npz-');
  await ensembleFolders([join(v1, 'pred_2d_notta'), join(v1, 'pred_3d_fullres_notta')], out, {
    workers: 1,
    storeNpz: true,
  });
  const mine = readSoftmaxNpz(join(out, 'tiny_101.npz'));
  const expected = readNpy(join(FIXTURES, 'ensemble', 'tiny_101.2d_3d.softmax.npy'));
  // original_size_of_raw_data [18, 23, 19]; crop_bbox [[0, 18], [0, 22], [2, 19]].
  assert.deepEqual(mine.shape, [3, 18, 23, 19]);
  assert.deepEqual(mine.shape, expected.shape);
  assert.deepEqual(Array.from(mine.values), Array.from(expected.data));
  // Outside the crop box (y = 22 or x < 2) every class is 0, as in v1's own single-model .npz.
  let outside = 0;
  for (let k = 0; k < 3; k++)
    for (let z = 0; z < 18; z++)
      for (let y = 0; y < 23; y++)
        for (let x = 0; x < 19; x++) {
          if (y < 22 && x >= 2) continue;
          outside++;
          assert.equal(mine.values[((k * 18 + z) * 23 + y) * 19 + x], 0);
        }
  assert.equal(outside, 3 * 18 * (23 * 19 - 22 * 17));
});
