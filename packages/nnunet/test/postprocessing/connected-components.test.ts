/** Connected components (scipy.ndimage.label) and v1's largest-component postprocessing. */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parsePythonLiteral } from '../../src/compat/python-literal.js';
import { readImage, writeImage } from '../../src/io/image.js';
import { readNpy } from '../../src/io/npy.js';
import {
  applyPostprocessing,
  classKey,
  keepLargestComponent,
  labelComponents,
  loadRemoveSave,
  readPostprocessingJson,
  volumePerVoxel,
} from '../../src/postprocessing/connected-components.js';
import { FIXTURES, tempDir } from '../helpers.js';

const DIR = join(FIXTURES, 'evaluation');
const index = JSON.parse(readFileSync(join(DIR, 'index.json'), 'utf8'));

test('labelComponents numbers face-connected components like scipy.ndimage.label (fixtures)', () => {
  for (const l of index.label as Array<{ name: string; shape: number[]; count: number }>) {
    const mask = readNpy(join(DIR, `${l.name}.in.npy`)).data;
    const expected = readNpy(join(DIR, `${l.name}.out.npy`)).data;
    const r = labelComponents(mask, l.shape);
    assert.equal(r.count, l.count, l.name);
    assert.deepEqual(Array.from(r.labels), Array.from(expected), l.name);
    const sizes = new Array<number>(r.count + 1).fill(0);
    for (const v of expected) sizes[v] = (sizes[v] as number) + 1;
    assert.deepEqual(r.sizes.slice(1), sizes.slice(1), `${l.name} sizes`);
  }
});

test('diagonal neighbours are separate components; a U shape merges into one', () => {
  // 2-D, 4 x 4:  1 0 1 0 / 0 1 0 0 / 1 0 0 1 / 1 1 1 1
  const r = labelComponents(Uint8Array.from([1, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 1, 1, 1, 1, 1]), [4, 4]);
  assert.equal(r.count, 4);
  assert.deepEqual(Array.from(r.labels), [1, 0, 2, 0, 0, 3, 0, 0, 4, 0, 0, 4, 4, 4, 4, 4]);
});

test('keepLargestComponent keeps the largest run per class and reports v1 sizes', () => {
  const seg = Uint8Array.from([1, 1, 0, 1, 0, 1, 1, 1, 0, 2, 0, 2, 2]);
  const r = keepLargestComponent(seg, [1, 1, 13], [1, 2]);
  assert.deepEqual(Array.from(r.seg), [0, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 2, 2]);
  assert.deepEqual(
    r.reports.map((p) => [p.key, p.largestRemoved, p.keptSize]),
    [
      ['1', 2, 3],
      ['2', 1, 2],
    ],
  );
  assert.deepEqual(Array.from(seg.slice(0, 4)), [1, 1, 0, 1], 'the input is not modified');
});

test('components tied for the largest volume are all kept', () => {
  const r = keepLargestComponent(Int16Array.from([3, 3, 0, 3, 3, 0, 3]), [7], [3]);
  assert.deepEqual(Array.from(r.seg), [3, 3, 0, 3, 3, 0, 0]);
  assert.ok(r.seg instanceof Int16Array);
});

test('minSize spares components that are not smaller than the threshold (mm³ from the spacing)', () => {
  // sizes 4, 2 and 1 voxels; one voxel is 0.5 x 2 x 1.5 = 1.5 mm³
  const seg = Uint8Array.from([1, 1, 1, 1, 0, 1, 1, 0, 1]);
  const spacing = [0.5, 2, 1.5];
  const r = keepLargestComponent(seg, [1, 1, 9], [1], { spacing, minSize: { '1': 3 } });
  assert.deepEqual(Array.from(r.seg), [1, 1, 1, 1, 0, 1, 1, 0, 0]);
  assert.deepEqual([r.reports[0]?.largestRemoved, r.reports[0]?.keptSize], [1.5, 6]);
  const all = keepLargestComponent(seg, [1, 1, 9], [1], { spacing, minSize: { '1': 3.0001 } });
  assert.deepEqual(Array.from(all.seg), [1, 1, 1, 1, 0, 0, 0, 0, 0]);
});

test('a group is one region; later entries work on the result of earlier ones', () => {
  // 1 2 2 0 1 0 2 2 2: as group (1, 2): components {0..2} (3 voxels), {4} (1), {6..8} (3) -> the tie keeps both
  const seg = Uint8Array.from([1, 2, 2, 0, 1, 0, 2, 2, 2]);
  const g = keepLargestComponent(seg, [1, 1, 9], [[1, 2]]);
  assert.deepEqual(Array.from(g.seg), [1, 2, 2, 0, 0, 0, 2, 2, 2]);
  assert.equal(g.reports[0]?.key, '(1, 2)');
  const then = keepLargestComponent(seg, [1, 1, 9], [[1, 2], 2]);
  assert.deepEqual(Array.from(then.seg), [1, 0, 0, 0, 0, 0, 2, 2, 2]);
});

test('null classes mean every foreground class present; background and missing thresholds are errors', () => {
  const seg = Uint8Array.from([2, 0, 2, 2, 0, 5]);
  const r = keepLargestComponent(seg, [6], null);
  assert.deepEqual(
    r.reports.map((p) => p.key),
    ['2', '5'],
  );
  assert.deepEqual(Array.from(r.seg), [0, 0, 2, 2, 0, 5]);
  assert.throws(() => keepLargestComponent(seg, [6], [0]), { code: 'ERR_ARGUMENT', message: /background/ });
  assert.throws(() => keepLargestComponent(seg, [6], [[1, 0]]), { code: 'ERR_ARGUMENT', message: /background/ });
  assert.throws(() => keepLargestComponent(seg, [6], [2, 5], { minSize: { '2': 1 } }), {
    code: 'ERR_ARGUMENT',
    message: /no entry for 5/,
  });
  assert.throws(() => keepLargestComponent(seg, [7], [2]), { code: 'ERR_ARGUMENT' });
});

test('keepLargestComponent equals a scipy re-statement of v1 on a random segmentation (fixture)', () => {
  const fx = index.keep_largest as {
    shape: number[];
    spacing_xyz: number[];
    volume_per_voxel: number;
    runs: Array<{
      name: string;
      for_which_classes: Array<number | number[]>;
      min_sizes: Record<string, number> | null;
      largest_removed: Array<number | null>;
      kept_size: Array<number | null>;
    }>;
  };
  const spacing = [...fx.spacing_xyz].reverse();
  assert.equal(volumePerVoxel(spacing), fx.volume_per_voxel);
  const seg = readNpy(join(DIR, 'keep_largest.in.npy')).data as Uint8Array;
  for (const run of fx.runs) {
    const r = keepLargestComponent(seg, fx.shape, run.for_which_classes, { spacing, minSize: run.min_sizes });
    const expected = readNpy(join(DIR, `keep_largest.${run.name}.npy`)).data;
    assert.deepEqual(Array.from(r.seg), Array.from(expected), run.name);
    assert.deepEqual(
      r.reports.map((p) => p.largestRemoved),
      run.largest_removed,
      `${run.name} removed`,
    );
    assert.deepEqual(
      r.reports.map((p) => p.keptSize),
      run.kept_size,
      `${run.name} kept`,
    );
  }
});

test('readPostprocessingJson reads v1 files: groups as lists, min sizes as Python dict text, NaN scores', () => {
  const dir = tempDir();
  const path = join(dir, 'postprocessing.json');
  // As v1's save_json writes it (NaN included, which strict JSON does not allow).
  writeFileSync(
    path,
    `{
    "dc_per_class_pp_all": {"1": 0.9, "2": NaN},
    "dc_per_class_raw": {"1": 0.88, "2": NaN},
    "for_which_classes": [[1, 2], 2],
    "min_valid_object_sizes": "{(1, 2): 1234.5, 2: 40.0}",
    "num_samples": 3,
    "validation_final": "validation_final",
    "validation_raw": "validation_raw"
}`,
  );
  const pp = readPostprocessingJson(path);
  assert.deepEqual(pp, { for_which_classes: [[1, 2], 2], min_valid_object_sizes: { '(1, 2)': 1234.5, '2': 40 } });
  writeFileSync(path, JSON.stringify({ for_which_classes: [1], min_valid_object_sizes: 'None' }));
  assert.deepEqual(readPostprocessingJson(path), { for_which_classes: [1], min_valid_object_sizes: null });
  writeFileSync(path, JSON.stringify({ for_which_classes: [] }));
  assert.deepEqual(readPostprocessingJson(path), { for_which_classes: [], min_valid_object_sizes: null });
  writeFileSync(path, JSON.stringify({ for_which_classes: [3], min_valid_object_sizes: '{3: np.float64(12.5)}' }));
  assert.deepEqual(readPostprocessingJson(path).min_valid_object_sizes, { '3': 12.5 });
});

test('readPostprocessingJson names the problem and the file', () => {
  const dir = tempDir();
  const path = join(dir, 'postprocessing.json');
  const cases: Array<[unknown, RegExp]> = [
    [{ min_valid_object_sizes: 'None' }, /has no "for_which_classes"/],
    [{ for_which_classes: 1 }, /must be a list/],
    [{ for_which_classes: [[1, 'a']] }, /neither a class number nor a list/],
    [{ for_which_classes: [0, 1] }, /background class 0/],
    [{ for_which_classes: [1], min_valid_object_sizes: '{1: ' }, /cannot be read/],
    [{ for_which_classes: [1, 2], min_valid_object_sizes: '{1: 3.0}' }, /no entry for 2/],
    [{ for_which_classes: [1], min_valid_object_sizes: "{1: 'big'}" }, /not a number/],
  ];
  for (const [content, message] of cases) {
    writeFileSync(path, JSON.stringify(content));
    assert.throws(
      () => readPostprocessingJson(path),
      (e: Error & { code?: string }) => {
        assert.equal(e.code, 'ERR_DATASET');
        assert.match(e.message, message);
        assert.ok(e.message.includes(path), e.message);
        return true;
      },
    );
  }
  assert.throws(() => readPostprocessingJson(join(dir, 'nope.json')), {
    code: 'ERR_DATASET',
    message: /does not exist/,
  });
});

test('Python literals: tuples, one-element tuples, nested containers, None', () => {
  const m = parsePythonLiteral("{(1,): 2, (3, 4): -1.5e-3, 'a': [None, True]}") as Map<unknown, unknown>;
  assert.deepEqual([...m.keys()], [[1], [3, 4], 'a']);
  assert.deepEqual([...m.values()], [2, -0.0015, [null, true]]);
  assert.equal(classKey([1]), '(1,)');
  assert.equal(classKey([3, 4]), '(3, 4)');
  assert.throws(() => parsePythonLiteral('{1: 2} x'), SyntaxError);
  assert.throws(() => parsePythonLiteral('os.system(1)'), SyntaxError);
});

test('applyPostprocessing and loadRemoveSave apply a postprocessing.json to a NIfTI file, geometry kept', async () => {
  const dir = tempDir();
  const shape = [2, 3, 4];
  // class 1: a 3-voxel run and a lone voxel; class 2: one voxel
  const data = Uint8Array.from([1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0]);
  const geometry = { spacing: [0.8, 0.9, 3], origin: [10, -4, 2], direction: [0, 1, 0, 1, 0, 0, 0, 0, -1] };
  await writeImage({ data, shape, dtype: 'uint8', geometry }, join(dir, 'in.nii.gz'));
  const pp = { for_which_classes: [1], min_valid_object_sizes: { '1': 2.2 } };
  // one voxel is 0.8 * 0.9 * 3 = 2.16 mm³ < 2.2: the lone voxel goes
  const mem = applyPostprocessing(data, shape, [3, 0.9, 0.8], pp);
  assert.equal(mem.seg[11], 0);
  const reports = await loadRemoveSave(join(dir, 'in.nii.gz'), join(dir, 'out.nii.gz'), pp);
  // NIfTI stores the spacing as float32, hence the tolerance.
  assert.ok(Math.abs((reports[0]?.largestRemoved as number) - 2.16) < 1e-6);
  const out = await readImage(join(dir, 'out.nii.gz'));
  assert.equal(out.dtype, 'uint8');
  assert.deepEqual(Array.from(out.data as Uint8Array), Array.from(mem.seg));
  assert.deepEqual(out.shape, shape);
  for (const k of ['spacing', 'origin', 'direction'] as const) {
    out.geometry[k].forEach((v, i) => {
      assert.ok(Math.abs(v - (geometry[k][i] as number)) < 1e-6, `${k}`);
    });
  }
});
