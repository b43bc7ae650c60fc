/** evaluateFolder / summary.json against a hand-written expectation, errors, and the CLI. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parsePythonJson, pythonDumpIndented, pythonDumps, pythonFloatRepr } from '../../src/compat/python-json.js';
import {
  evaluateCase,
  evaluateFolder,
  evaluateVolumes,
  labelKey,
  readSummaryJson,
} from '../../src/evaluation/evaluator.js';
import { type ImageGeometry, type Volume, writeImage } from '../../src/io/image.js';
import { PACKAGE_ROOT, tempDir } from '../helpers.js';

const SHAPE = [2, 2, 5];
const GEOMETRY: ImageGeometry = { spacing: [0.8, 0.9, 2.5], origin: [1, 2, 3], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] };

function seg(entries: Record<number, number[]>, geometry = GEOMETRY): Volume {
  const data = new Uint8Array(20);
  for (const [label, at] of Object.entries(entries)) for (const i of at) data[i] = Number(label);
  return { data, shape: SHAPE, dtype: 'uint8', geometry };
}

/**
 * case_a: label 1 ref {0..3}, pred {1..5} -> tp 3, fp 2, fn 1, tn 14
 *         label 2 ref {10, 11}, pred {11, 12, 13} -> tp 1, fp 2, fn 1, tn 16
 * case_b: label 1 ref = pred = {0..9}; label 2 absent from both.
 */
async function makeFolders(): Promise<{ ref: string; pred: string }> {
  const root = tempDir();
  const ref = join(root, 'ref');
  const pred = join(root, 'pred');
  mkdirSync(ref);
  mkdirSync(pred);
  await writeImage(seg({ 1: [0, 1, 2, 3], 2: [10, 11] }), join(ref, 'case_a.nii.gz'));
  await writeImage(seg({ 1: [1, 2, 3, 4, 5], 2: [11, 12, 13] }), join(pred, 'case_a.nii.gz'));
  const ten = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  // A plain .nii reference pairs with a .nii.gz prediction of the same case.
  await writeImage(seg({ 1: ten }), join(ref, 'case_b.nii'));
  await writeImage(seg({ 1: ten }), join(pred, 'case_b.nii.gz'));
  return { ref, pred };
}

const NAN = Number.NaN;
const EXPECTED_ALL = [
  {
    '1': {
      Accuracy: 17 / 20,
      Dice: 6 / 9,
      'False Discovery Rate': 1 - 3 / 5,
      'False Negative Rate': 1 - 3 / 4,
      'False Omission Rate': 1 / 15,
      'False Positive Rate': 1 - 14 / 16,
      Jaccard: 3 / 6,
      'Negative Predictive Value': 1 - 1 / 15,
      Precision: 3 / 5,
      Recall: 3 / 4,
      'Total Positives Reference': 4,
      'Total Positives Test': 5,
      'True Negative Rate': 14 / 16,
    },
    '2': {
      Accuracy: 17 / 20,
      Dice: 2 / 5,
      'False Discovery Rate': 1 - 1 / 3,
      'False Negative Rate': 1 - 1 / 2,
      'False Omission Rate': 1 / 17,
      'False Positive Rate': 1 - 16 / 18,
      Jaccard: 1 / 4,
      'Negative Predictive Value': 1 - 1 / 17,
      Precision: 1 / 3,
      Recall: 1 / 2,
      'Total Positives Reference': 2,
      'Total Positives Test': 3,
      'True Negative Rate': 16 / 18,
    },
  },
  {
    '1': {
      Accuracy: 1,
      Dice: 1,
      'False Discovery Rate': 0,
      'False Negative Rate': 0,
      'False Omission Rate': 0,
      'False Positive Rate': 0,
      Jaccard: 1,
      'Negative Predictive Value': 1,
      Precision: 1,
      Recall: 1,
      'Total Positives Reference': 10,
      'Total Positives Test': 10,
      'True Negative Rate': 1,
    },
    '2': {
      Accuracy: 1,
      Dice: NAN,
      'False Discovery Rate': NAN,
      'False Negative Rate': NAN,
      'False Omission Rate': 0,
      'False Positive Rate': 0,
      Jaccard: NAN,
      'Negative Predictive Value': 1,
      Precision: NAN,
      Recall: NAN,
      'Total Positives Reference': 0,
      'Total Positives Test': 0,
      'True Negative Rate': 1,
    },
  },
];

/** np.nanmean of two values, in NumPy's order (-0.0 + a + b, then / count). */
function nanmean2(a: number, b: number): number {
  const vals = [a, b].filter((v) => !Number.isNaN(v));
  return vals.length === 0 ? NAN : vals.reduce((s, v) => s + v, -0) / vals.length;
}

test('evaluateFolder writes v1 summary.json: keys, nesting, per-case values, nanmeans, Python number format', async () => {
  const { ref, pred } = await makeFolders();
  const r = await evaluateFolder(ref, pred, [1, 2], { workers: 2 });
  assert.equal(r.summaryPath, join(pred, 'summary.json'));
  const onDisk = readSummaryJson(r.summaryPath);
  assert.deepEqual(Object.keys(onDisk), ['author', 'description', 'id', 'name', 'results', 'task', 'timestamp']);
  assert.equal(onDisk.author, 'Fabian');
  assert.equal(onDisk.name, '');
  assert.equal(onDisk.description, '');
  assert.equal(onDisk.task, '');
  assert.match(onDisk.id, /^[0-9a-f]{12}$/);
  assert.match(onDisk.timestamp, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{6})?$/);
  assert.deepEqual(Object.keys(onDisk.results), ['all', 'mean']);
  assert.equal(onDisk.results.all.length, 2);
  const files = [
    [join(ref, 'case_a.nii.gz'), join(pred, 'case_a.nii.gz')],
    [join(ref, 'case_b.nii'), join(pred, 'case_b.nii.gz')],
  ];
  onDisk.results.all.forEach((entry, i) => {
    assert.deepEqual(Object.keys(entry), ['1', '2', 'reference', 'test']);
    assert.equal(entry.reference, files[i]?.[0]);
    assert.equal(entry.test, files[i]?.[1]);
    for (const label of ['1', '2'] as const) {
      const expected = EXPECTED_ALL[i]?.[label] as Record<string, number>;
      const got = entry[label] as Record<string, number>;
      assert.deepEqual(Object.keys(got), Object.keys(expected), `case ${i} label ${label} keys`);
      for (const [k, v] of Object.entries(expected)) assert.deepEqual(got[k], v, `case ${i} label ${label} ${k}`);
    }
  });
  assert.deepEqual(Object.keys(onDisk.results.mean), ['1', '2']);
  for (const label of ['1', '2'] as const) {
    const mean = onDisk.results.mean[label] as Record<string, number>;
    assert.deepEqual(Object.keys(mean), Object.keys(EXPECTED_ALL[0]?.[label] as object));
    for (const k of Object.keys(mean)) {
      const [first, second] = EXPECTED_ALL as [(typeof EXPECTED_ALL)[0], (typeof EXPECTED_ALL)[0]];
      const a = (first[label] as Record<string, number>)[k] as number;
      const b = (second[label] as Record<string, number>)[k] as number;
      assert.deepEqual(mean[k], nanmean2(a, b), `mean ${label} ${k}`);
    }
  }
  // Label 2's Dice is NaN in case_b and ignored by the mean.
  assert.equal(onDisk.results.mean['2']?.Dice, 2 / 5);
  // The returned object is what was written.
  assert.deepEqual(r.summary, onDisk);
  // Python's layout: indent 4, sorted keys, counts as ints per case and floats in the mean, bare NaN.
  const text = readFileSync(r.summaryPath, 'utf8');
  assert.ok(text.startsWith('{\n    "author": "Fabian",\n    "description": "",\n    "id": "'));
  assert.match(text, /\n {20}"Total Positives Test": 5,\n/);
  assert.match(text, /\n {16}"Total Positives Reference": 7\.0,\n/);
  assert.match(text, /\n {20}"Dice": NaN,\n/);
  assert.match(text, /\n {16}"Accuracy": 0\.925,\n/);
  assert.ok(!text.endsWith('\n'));
  assert.deepEqual(
    readdirSync(pred).filter((f) => f.startsWith('.')),
    [],
    'no temporary file is left behind',
  );
});

test('advanced adds v1\'s "Hausdorff Distance 95" (mm, prediction spacing), NaN where a mask is empty', async () => {
  const { ref, pred } = await makeFolders();
  const r = await evaluateFolder(ref, pred, [1, 2], { workers: 1, advanced: true });
  const [a, b] = r.summary.results.all as [
    Record<string, Record<string, number>>,
    Record<string, Record<string, number>>,
  ];
  assert.ok('Hausdorff Distance 95' in (a['1'] as object));
  // Label 1 of case_a: distances {0 x6, 0.8, 0.8, 0.9} -> 95th percentile 0.9 - 0.1 * 0.4.
  assert.ok(Math.abs((a['1']?.['Hausdorff Distance 95'] as number) - 0.86) < 1e-6);
  assert.ok(Number.isNaN(b['2']?.['Hausdorff Distance 95']));
  assert.equal(b['1']?.['Hausdorff Distance 95'], 0);
  assert.equal(r.summary.results.mean['2']?.['Hausdorff Distance 95'], a['2']?.['Hausdorff Distance 95']);
  // ASD and the others are available by name.
  const c = await evaluateCase(join(ref, 'case_a.nii.gz'), join(pred, 'case_a.nii.gz'), [1, [1, 2]], {
    advanced: true,
    advancedMetrics: ['Avg. Surface Distance', 'Hausdorff Distance'],
  });
  assert.deepEqual(Object.keys(c.scores), ['1', '(1, 2)']);
  assert.ok(Math.abs((c.scores['1']?.['Avg. Surface Distance'] as number) - (0.8 + 0.9) / 5) < 1e-6);
  assert.ok(Math.abs((c.scores['1']?.['Hausdorff Distance'] as number) - 0.9) < 1e-6);
  assert.equal(c.scores['(1, 2)']?.['Total Positives Test'], 8);
});

test('missing predictions or references are one error naming the files, before anything is read', async () => {
  const { ref, pred } = await makeFolders();
  rmSync(join(pred, 'case_b.nii.gz'));
  await assert.rejects(evaluateFolder(ref, pred, [1]), (e: Error & { code?: string }) => {
    assert.equal(e.code, 'ERR_NOT_FOUND');
    assert.match(e.message, /has no prediction for case_b\.nii/);
    assert.ok(e.message.includes(pred));
    return true;
  });
  rmSync(join(ref, 'case_a.nii.gz'));
  await assert.rejects(
    evaluateFolder(ref, pred, [1]),
    /has no reference for case_a\.nii\.gz and .* has no prediction for case_b\.nii/,
  );
  await assert.rejects(evaluateFolder(join(ref, 'nope'), pred, [1]), {
    code: 'ERR_NOT_FOUND',
    message: /does not exist/,
  });
  await assert.rejects(evaluateFolder(ref, pred, []), { code: 'ERR_ARGUMENT' });
});

test('a prediction on another voxel grid is an error naming both files', async () => {
  const { ref, pred } = await makeFolders();
  await writeImage(seg({ 1: [1] }, { ...GEOMETRY, spacing: [0.8, 0.9, 3] }), join(pred, 'case_a.nii.gz'));
  await assert.rejects(evaluateFolder(ref, pred, [1], { workers: 1 }), (e: Error & { code?: string }) => {
    assert.equal(e.code, 'ERR_DATASET');
    assert.ok(e.message.includes(join(pred, 'case_a.nii.gz')), e.message);
    assert.ok(e.message.includes(join(ref, 'case_a.nii.gz')), e.message);
    assert.match(e.message, /spacing/);
    return true;
  });
  const small: Volume = { data: new Uint8Array(10), shape: [1, 2, 5], dtype: 'uint8', geometry: GEOMETRY };
  assert.throws(() => evaluateVolumes(seg({}), small, [1]), { code: 'ERR_DATASET', message: /size/ });
});

test("Python's float repr and json.dump layout", () => {
  const cases: Array<[number, string]> = [
    [1, '1.0'],
    [0.1, '0.1'],
    [1e-5, '1e-05'],
    [1.5e-7, '1.5e-07'],
    [1e16, '1e+16'],
    [1e15, '1000000000000000.0'],
    [123456789012345680, '1.2345678901234568e+17'],
    [0.0001, '0.0001'],
    [-0, '-0.0'],
    [2.5e-320, '2.5e-320'],
    [1 / 3, '0.3333333333333333'],
    [100, '100.0'],
    [12345.678, '12345.678'],
    [1.7976931348623157e308, '1.7976931348623157e+308'],
    [5e-324, '5e-324'],
    [0.00012, '0.00012'],
    [-2.5, '-2.5'],
  ];
  for (const [v, s] of cases) assert.equal(pythonFloatRepr(v), s, String(v));
  // Both texts as /usr/bin/python3's json module writes them.
  const d = { b: [1n, 2, NAN], a: { z: {}, y: [] }, c: 'é\u007f\n', d: [{ k: Number.POSITIVE_INFINITY }] };
  assert.equal(
    pythonDumpIndented(d),
    '{\n    "a": {\n        "y": [],\n        "z": {}\n    },\n    "b": [\n        1,\n        2.0,\n        NaN\n    ],\n    "c": "\\u00e9\\u007f\\n",\n    "d": [\n        {\n            "k": Infinity\n        }\n    ]\n}',
  );
  assert.equal(
    pythonDumps(d),
    '{"b": [1, 2.0, NaN], "a": {"z": {}, "y": []}, "c": "\\u00e9\\u007f\\n", "d": [{"k": Infinity}]}',
  );
  assert.deepEqual(parsePythonJson('{"a": [NaN, -Infinity, "NaN"], "b": Infinity}'), {
    a: [NAN, Number.NEGATIVE_INFINITY, 'NaN'],
    b: Number.POSITIVE_INFINITY,
  });
  assert.equal(labelKey([4]), '(4,)');
});

test('nnUNet_evaluate_folder prints mean Dice per label; a missing prediction exits 1 with one line', async () => {
  const { ref, pred } = await makeFolders();
  const cli = join(PACKAGE_ROOT, 'dist', 'src', 'cli', 'evaluate-folder.js');
  const ok = spawnSync(process.execPath, [cli, '-ref', ref, '-pred', pred, '-l', '1', '2'], { encoding: 'utf8' });
  assert.equal(ok.status, 0, ok.stderr);
  const lines = ok.stdout.trim().split('\n');
  assert.equal(lines[0], 'label  mean Dice');
  assert.equal(lines[1], `1      ${((6 / 9 + 1) / 2).toFixed(4)}`);
  assert.equal(lines[2], '2      0.4000');
  assert.equal(lines[3], `2 cases -> ${join(pred, 'summary.json')}`);
  rmSync(join(pred, 'case_a.nii.gz'));
  const bad = spawnSync(process.execPath, [cli, '-ref', ref, '-pred', pred, '-l', '1'], { encoding: 'utf8' });
  assert.equal(bad.status, 1);
  assert.equal(bad.stderr.trim().split('\n').length, 1);
  assert.match(bad.stderr, /^nnUNet_evaluate_folder: .*has no prediction for case_a\.nii\.gz/);
  const badLabel = spawnSync(process.execPath, [cli, '-ref', ref, '-pred', pred, '-l', 'x'], { encoding: 'utf8' });
  assert.equal(badLabel.status, 1);
  assert.match(badLabel.stderr, /integer labels, got "x"/);
});
