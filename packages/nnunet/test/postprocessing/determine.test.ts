/** v1's postprocessing decision (determine_postprocessing) and fold consolidation on constructed results. */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { readSummaryJson } from '../../src/evaluation/evaluator.js';
import { readImage } from '../../src/io/image.js';
import { readPostprocessingJson } from '../../src/postprocessing/connected-components.js';
import { consolidateFolds } from '../../src/postprocessing/consolidate.js';
import {
  determineFoldPostprocessing,
  determinePostprocessing,
  postprocessingJsonText,
  pythonMinSizesText,
} from '../../src/postprocessing/determine.js';
import { FIXTURES, tempDir } from '../helpers.js';
import { blobBox, dice, ORGAN_BOXES, paint, writeCases, writeSummary } from './synthetic.js';

const ORGAN = ORGAN_BOXES;
const blob = blobBox;

async function setUp(gt: Record<string, Uint8Array>, pred: Record<string, Uint8Array>, labels: number[]) {
  const base = tempDir('nnunet-pp-');
  const gtFolder = join(base, 'gt');
  await writeCases(gtFolder, gt);
  await writeCases(join(base, 'validation_raw'), pred);
  await writeSummary(join(base, 'validation_raw'), gtFolder, Object.keys(pred), labels);
  return { base, gtFolder };
}

test('a spurious blob is removed by the foreground step; the per-class step adds nothing', async () => {
  const gt = paint(ORGAN);
  const { base, gtFolder } = await setUp({ a: gt, b: gt }, { a: paint([...ORGAN, blob(1)]), b: gt }, [1, 2]);
  const d = await determinePostprocessing(base, gtFolder, { workers: 1 });
  const rawDice1 = (dice(18, 4, 0) + 1) / 2; // case a: 36/40, case b: 1
  assert.equal(rawDice1, 0.95);
  assert.deepEqual(d.json.dc_per_class_raw, { '1': rawDice1, '2': 1 });
  assert.deepEqual(d.json.dc_per_class_pp_all, { '1': 1, '2': 1 });
  assert.deepEqual(d.json.dc_per_class_pp_per_class, { '1': 1, '2': 1 });
  assert.deepEqual(d.json.for_which_classes, [[1, 2]]);
  assert.equal(d.json.num_samples, 2);
  assert.equal(d.json.min_valid_object_sizes, 'None');
  // The postprocessed folder holds the cleaned predictions and their summary.
  const cleaned = await readImage(join(base, 'validation_final', 'a.nii.gz'));
  assert.deepEqual(Array.from(cleaned.data as Uint8Array), Array.from(gt));
  const final = readSummaryJson(join(base, 'validation_final', 'summary.json'));
  assert.equal(final.results.mean['1']?.Dice, 1);
  assert.equal(final.results.all.length, 2);
  assert.equal(final.results.all[0]?.test, join(base, 'validation_final', 'a.nii.gz'));
  assert.equal(final.results.all[0]?.reference, join(gtFolder, 'a.nii.gz'));
  const pp = readPostprocessingJson(d.path);
  assert.deepEqual(pp, { for_which_classes: [[1, 2]], min_valid_object_sizes: null });
});

test('the foreground step is rejected when one class gets worse; the per-class step keeps the class that improves', async () => {
  // Ground truth: the organ plus a true separate class-2 blob; the prediction adds a spurious class-1 blob.
  const gt = paint([...ORGAN, blob(2, true)]);
  const { base, gtFolder } = await setUp({ a: gt }, { a: paint([...ORGAN, blob(2, true), blob(1)]) }, [1, 2]);
  const d = await determinePostprocessing(base, gtFolder, { workers: 1 });
  // Removing every non-largest foreground component loses the true class-2 blob: 2*12/(2*12+4).
  const hurt = dice(12, 0, 4);
  assert.equal(hurt, 0.8571428571428571);
  assert.deepEqual(d.json.for_which_classes, [1]);
  const text = readFileSync(d.path, 'utf8');
  assert.equal(
    text,
    `{
    "dc_per_class_pp_all": {
        "1": 1.0,
        "2": 0.8571428571428571
    },
    "dc_per_class_pp_per_class": {
        "1": 1.0,
        "2": 0.8571428571428571
    },
    "dc_per_class_raw": {
        "1": 0.9,
        "2": 1.0
    },
    "for_which_classes": [
        1
    ],
    "min_valid_object_sizes": "None",
    "num_samples": 1,
    "validation_final": "validation_final",
    "validation_raw": "validation_raw"
}`,
  );
  // Applied: the spurious class-1 blob is gone, the true class-2 blob stays.
  const cleaned = await readImage(join(base, 'validation_final', 'a.nii.gz'));
  assert.deepEqual(Array.from(cleaned.data as Uint8Array), Array.from(gt));
});

test('removing components that are real is rejected (single class): nothing is applied', async () => {
  const gt = paint([{ label: 1, z: [0, 2], y: [0, 3], x: [0, 3] }, blob(1, true)]);
  const { base, gtFolder } = await setUp({ a: gt }, { a: gt }, [1]);
  // As the trainer calls it after a fold's validation.
  const d = await determineFoldPostprocessing(base, gtFolder, { workers: 1 });
  assert.deepEqual(d.json.for_which_classes, []);
  assert.deepEqual(d.json.dc_per_class_pp_all, { '1': dice(18, 0, 4) });
  assert.deepEqual(d.json.dc_per_class_pp_per_class, {});
  assert.equal(d.json.validation_final, 'validation_raw_postprocessed');
  const out = await readImage(join(base, 'validation_raw_postprocessed', 'a.nii.gz'));
  assert.deepEqual(Array.from(out.data as Uint8Array), Array.from(gt));
  assert.deepEqual(readPostprocessingJson(d.path).for_which_classes, []);
});

test('advanced mode records the smallest kept sizes (mm³) as Python text and applies them', async () => {
  const gt = paint([...ORGAN, blob(2, true)]);
  const { base, gtFolder } = await setUp({ a: gt }, { a: paint([...ORGAN, blob(2, true), blob(1)]) }, [1, 2]);
  const d = await determinePostprocessing(base, gtFolder, { workers: 1, advanced: true });
  // Per class the largest components are 18 and 12 voxels of 2 mm³; only class 1 is accepted.
  assert.deepEqual(d.json.for_which_classes, [1]);
  assert.equal(d.json.min_valid_object_sizes, '{1: 36.0}');
  assert.deepEqual(readPostprocessingJson(d.path), { for_which_classes: [1], min_valid_object_sizes: { '1': 36 } });
  const out = await readImage(join(base, 'validation_final', 'a.nii.gz'));
  assert.deepEqual(Array.from(out.data as Uint8Array), Array.from(gt));
  assert.equal(pythonMinSizesText(new Map([[[1, 2], 60]])), '{(1, 2): 60.0}');
  assert.equal(pythonMinSizesText(new Map([[[1], 0.5]])), '{(1,): 0.5}');
});

test('consolidateFolds gathers the folds, evaluates them together and decides once', async () => {
  const trainer = tempDir('nnunet-consolidate-');
  const gtFolder = join(trainer, 'gt_niftis');
  const gt = paint(ORGAN);
  await writeCases(gtFolder, { a: gt, b: gt });
  await writeCases(join(trainer, 'fold_0', 'validation_raw'), { a: paint([...ORGAN, blob(1)]) });
  await writeSummary(join(trainer, 'fold_0', 'validation_raw'), gtFolder, ['a'], [1, 2]);
  await writeCases(join(trainer, 'fold_1', 'validation_raw'), { b: gt });
  await writeSummary(join(trainer, 'fold_1', 'validation_raw'), gtFolder, ['b'], [1, 2]);

  await assert.rejects(consolidateFolds(trainer, { workers: 1 }), (e: Error) => {
    assert.match(e.message, /no validation_raw for fold\(s\) 2, 3, 4/);
    return true;
  });
  const r = await consolidateFolds(trainer, { workers: 1, folds: [0, 1] });
  assert.equal(r.cvSummary.results.all.length, 2);
  assert.equal(r.cvSummary.results.mean['1']?.Dice, 0.95);
  assert.ok(existsSync(join(trainer, 'cv_niftis_raw', 'b.nii.gz')));
  assert.deepEqual(r.decision.json.for_which_classes, [[1, 2]]);
  assert.equal(r.decision.json.validation_raw, 'cv_niftis_raw');
  assert.equal(r.decision.json.validation_final, 'cv_niftis_postprocessed');
  assert.ok(existsSync(join(trainer, 'postprocessing.json')));
  assert.ok(existsSync(join(trainer, 'cv_niftis_postprocessed', 'summary.json')));

  // A ground-truth case no fold predicted: all folds must be trained.
  await writeCases(gtFolder, { c: gt });
  await assert.rejects(
    consolidateFolds(trainer, { workers: 1, folds: [0, 1] }),
    /predict 2 of the 3 cases .*c\.nii\.gz.*train all folds/,
  );
  // Folds chosen on purpose (-f) whose debug.json names their validation cases: c belongs to
  // no chosen fold, so it is not required (a note says so); a listed case that is missing still is.
  writeFileSync(join(trainer, 'fold_0', 'debug.json'), JSON.stringify({ dataset_val: ['a'] }));
  writeFileSync(join(trainer, 'fold_1', 'debug.json'), JSON.stringify({ dataset_val: ['b'] }));
  const notes: string[] = [];
  const partial = await consolidateFolds(trainer, { workers: 1, folds: [0, 1], log: (l) => notes.push(l) });
  assert.equal(partial.cvSummary.results.all.length, 2);
  assert.ok(notes.some((l) => /fold\(s\) 0, 1 only: 2 of the 3 training cases/.test(l)));
  writeFileSync(join(trainer, 'fold_1', 'debug.json'), JSON.stringify({ dataset_val: ['b', 'c'] }));
  await assert.rejects(consolidateFolds(trainer, { workers: 1, folds: [0, 1] }), /predict 2 of the 3 cases/);
});

test('postprocessing.json text is byte-identical to the file v1 wrote for Task906_Tiny fold 0', () => {
  const v1 = join(FIXTURES, 'v1_models', 'nnUNet', '3d_fullres', 'Task906_Tiny', 'nnUNetTrainerV2__nnUNetPlansv2.1');
  const text = postprocessingJsonText({
    dc_per_class_raw: { '1': 0.512279293739968, '2': 0 },
    dc_per_class_pp_all: { '1': 0.512279293739968, '2': 0 },
    dc_per_class_pp_per_class: { '1': 0.512279293739968, '2': 0 },
    for_which_classes: [],
    min_valid_object_sizes: 'None',
    num_samples: 2,
    validation_raw: 'validation_raw',
    validation_final: 'validation_raw_postprocessed',
  });
  assert.equal(text, readFileSync(join(v1, 'fold_0', 'postprocessing.json'), 'utf8'));
});
