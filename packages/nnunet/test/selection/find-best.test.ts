/**
 * Model selection as v1's nnUNet_find_best_configuration on a constructed results folder: two
 * configurations whose errors lie in different places, so that their softmax ensemble is right
 * everywhere and must win; v1's tie rule, summary.csv, commands, missing folds and softmax, and
 * the three commands end to end.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { readSummaryJson } from '../../src/evaluation/evaluator.js';
import { type ExportProperties, writeSoftmaxNpz } from '../../src/inference/export.js';
import { readImage } from '../../src/io/image.js';
import { readPostprocessingJson } from '../../src/postprocessing/connected-components.js';
import { findBestConfiguration, pickBest, pythonFixed4 } from '../../src/selection/find-best.js';
import { PACKAGE_ROOT, tempDir } from '../helpers.js';
import {
  type Box,
  blobBox,
  dice,
  ORGAN_BOXES,
  paint,
  SHAPE,
  SPACING,
  writeCases,
  writeSummary,
} from '../postprocessing/synthetic.js';

const TASK = 'Task099_Toy';
const TRAINER = 'nnUNetTrainerV2__nnUNetPlansv2.1';
const CASES = ['a', 'b', 'c', 'd'];
const FOLDS: Record<string, string[]> = { '0': ['a', 'b'], '1': ['c', 'd'] };
const ENSEMBLE = 'ensemble_2d__nnUNetTrainerV2__nnUNetPlansv2.1--3d_fullres__nnUNetTrainerV2__nnUNetPlansv2.1';

/** Where each configuration is wrong (label painted over the ground truth) per case. */
const ERRORS: Record<string, (id: string) => Box[]> = {
  // Three class-1 voxels called class 2, and in case a a spurious class-1 blob.
  '2d': (id) => [{ label: 2, z: [0, 1], y: [0, 1], x: [0, 3] }, ...(id === 'a' ? [blobBox(1)] : [])],
  // Two class-2 voxels called class 1.
  '3d_fullres': () => [{ label: 1, z: [1, 2], y: [2, 3], x: [3, 5] }],
};

function properties(): ExportProperties {
  const zyx = [SPACING[2], SPACING[1], SPACING[0]];
  return {
    original_size_of_raw_data: [...SHAPE],
    size_after_cropping: [...SHAPE],
    original_spacing: zyx,
    spacing_after_resampling: zyx,
    crop_bbox: null,
    itk_spacing: [...SPACING],
    itk_origin: [0, 0, 0],
    itk_direction: [1, 0, 0, 0, 1, 0, 0, 0, 1],
  };
}

/** Softmax [3, ...SHAPE]: 0.9 on the predicted label where right, 0.6 wrong / 0.4 right where wrong. */
function softmax(pred: Uint8Array, gt: Uint8Array): Float32Array {
  const n = pred.length;
  const out = new Float32Array(3 * n);
  for (let i = 0; i < n; i++) {
    const p = pred[i] as number;
    const g = gt[i] as number;
    if (p === g) for (let k = 0; k < 3; k++) out[k * n + i] = k === p ? 0.9 : 0.05;
    else {
      out[p * n + i] = 0.6;
      out[g * n + i] = 0.4;
    }
  }
  return out;
}

/** RESULTS_FOLDER with 2d and 3d_fullres trained on folds 0 and 1 (validation with --npz). */
async function buildResults(configurations = ['2d', '3d_fullres']): Promise<string> {
  const results = tempDir('nnunet-select-');
  const gt = paint(ORGAN_BOXES);
  for (const m of configurations) {
    const trainer = join(results, 'nnUNet', m, TASK, TRAINER);
    mkdirSync(trainer, { recursive: true });
    writeFileSync(join(trainer, 'plans.json'), JSON.stringify({ all_classes: [1, 2], num_classes: 2 }));
    await writeCases(join(trainer, 'gt_niftis'), Object.fromEntries(CASES.map((c) => [c, gt])));
    for (const [fold, ids] of Object.entries(FOLDS)) {
      const val = join(trainer, `fold_${fold}`, 'validation_raw');
      const preds = Object.fromEntries(
        ids.map((id) => [id, paint([...ORGAN_BOXES, ...(ERRORS[m] as (id: string) => Box[])(id)])]),
      );
      await writeCases(val, preds);
      for (const id of ids) {
        writeSoftmaxNpz(join(val, `${id}.npz`), softmax(preds[id] as Uint8Array, gt), [3, ...SHAPE]);
        writeFileSync(join(val, `${id}.json`), JSON.stringify(properties()));
      }
      await writeSummary(val, join(trainer, 'gt_niftis'), ids, [1, 2]);
    }
  }
  return results;
}

/** np.mean of 4 and of 2 values (NumPy adds fewer than 8 values one after the other). */
const mean4 = (v: readonly number[]) => ((v[0] as number) + (v[1] as number) + (v[2] as number) + (v[3] as number)) / 4;
const pair = (v: readonly number[]) => ((v[0] as number) + (v[1] as number)) / 2;

test('pythonFixed4 rounds like Python\'s "%01.4f" (exact halves to even)', () => {
  assert.equal(pythonFixed4(0.03125), '0.0312');
  assert.equal(pythonFixed4(0.96875), '0.9688');
  assert.equal(pythonFixed4(0.00015), '0.0001');
  assert.equal(pythonFixed4(0.12345), '0.1235');
  assert.equal(pythonFixed4(1), '1.0000');
  assert.equal(pythonFixed4(Number.NaN), 'nan');
});

test("pickBest: v1's maximum; every tie is a winner and the last one is best_model; NaN never wins", () => {
  const c = (name: string, meanForegroundDice: number) => ({ name, meanForegroundDice });
  const r = pickBest([c('2d', 0.5), c('3d_fullres', 0.7), c('ensemble_x', 0.7), c('3d_lowres', Number.NaN)]);
  assert.deepEqual(
    r.winners.map((w) => w.name),
    ['3d_fullres', 'ensemble_x'],
  );
  assert.equal(r.best.name, 'ensemble_x');
  assert.throws(() => pickBest([c('2d', Number.NaN)]), /No candidate has a mean foreground Dice/);
});

test('the ensemble of two configurations with complementary errors wins; summaries and commands as v1', async () => {
  const results = await buildResults();
  const r = await findBestConfiguration({
    resultsFolder: results,
    task: TASK,
    configurations: ['2d', '3d_fullres'],
    folds: [0, 1],
    env: {},
    workers: 1,
  });
  const c2d = [dice(15, 4, 3), dice(15, 0, 3), dice(15, 0, 3), dice(15, 0, 3)];
  const d2d = [mean4(c2d), mean4(new Array(4).fill(dice(12, 3, 0)))];
  const d3d = [mean4(new Array(4).fill(dice(18, 2, 0))), mean4(new Array(4).fill(dice(10, 0, 2)))];
  assert.deepEqual(
    r.candidates.map((c) => [c.name, c.meanForegroundDice]),
    [
      ['2d', pair(d2d)],
      ['3d_fullres', pair(d3d)],
      [ENSEMBLE, 1],
    ],
  );
  assert.equal(r.best.name, ENSEMBLE);
  assert.deepEqual(r.skipped, []);
  // Each configuration's cross-validation was consolidated and its postprocessing determined.
  const t2d = join(results, 'nnUNet', '2d', TASK, TRAINER);
  assert.deepEqual(readPostprocessingJson(join(t2d, 'postprocessing.json')).for_which_classes, [[1, 2]]);
  assert.deepEqual(
    readPostprocessingJson(join(results, 'nnUNet', '3d_fullres', TASK, TRAINER, 'postprocessing.json'))
      .for_which_classes,
    [],
  );
  assert.equal(readSummaryJson(join(t2d, 'cv_niftis_raw', 'summary.json')).results.all.length, 4);
  // v1's foreground mean was added to the raw summaries.
  assert.equal(readSummaryJson(join(t2d, 'cv_niftis_raw', 'summary.json')).results.mean.mean?.Dice, pair(d2d));
  // The ensemble folder: raw ensemble + summary, postprocessing, postprocessed summary with experiment_name.
  const ens = join(results, 'nnUNet', 'ensembles', TASK, ENSEMBLE);
  const raw = readSummaryJson(join(ens, 'ensembled_raw', 'summary.json'));
  assert.equal(raw.task, TASK);
  assert.equal(raw.name, `${TASK}__${ENSEMBLE}`);
  const seg = await readImage(join(ens, 'ensembled_raw', 'a.nii.gz'));
  assert.deepEqual(Array.from(seg.data as Uint8Array), Array.from(paint(ORGAN_BOXES)));
  assert.deepEqual(readPostprocessingJson(join(ens, 'postprocessing.json')).for_which_classes, []);
  assert.equal(readSummaryJson(join(ens, 'ensembled_postprocessed', 'summary.json')).experiment_name, ENSEMBLE);
  assert.ok(existsSync(join(results, 'nnUNet', 'summary_jsons', `${TASK}__${ENSEMBLE}.json`)));
  // summary.csv (Python's %01.4f of the hand-computed Dice) and the commands.
  assert.equal(
    readFileSync(join(results, 'nnUNet', 'ensembles', TASK, 'summary.csv'), 'utf8'),
    `model,class1,class2,average\n2d,0.8845,0.8889,0.8867\n3d_fullres,0.9474,0.9091,0.9282\n${ENSEMBLE},1.0000,1.0000,1.0000\n`,
  );
  assert.deepEqual(r.commands, [
    `nnUNet_predict -i INPUT_FOLDER -o OUTPUT_FOLDER_MODEL1 -t ${TASK} -m 2d -tr nnUNetTrainerV2 -p nnUNetPlansv2.1 -z`,
    `nnUNet_predict -i INPUT_FOLDER -o OUTPUT_FOLDER_MODEL2 -t ${TASK} -m 3d_fullres -tr nnUNetTrainerV2 -p nnUNetPlansv2.1 -z`,
    `nnUNet_ensemble -f OUTPUT_FOLDER_MODEL1 OUTPUT_FOLDER_MODEL2 -o OUTPUT_FOLDER -pp ${join(ens, 'postprocessing.json')}`,
  ]);
  assert.equal(readFileSync(r.commandsPath, 'utf8'), `${r.commands.join('\n')}\n`);

  // Without ensembling the better single configuration wins and is predicted alone.
  const single = await findBestConfiguration({
    resultsFolder: results,
    task: TASK,
    configurations: ['2d', '3d_fullres'],
    folds: [0, 1],
    env: {},
    workers: 1,
    disableEnsembling: true,
  });
  assert.equal(single.best.name, '3d_fullres');
  assert.deepEqual(single.commands, [
    `nnUNet_predict -i INPUT_FOLDER -o OUTPUT_FOLDER -t ${TASK} -m 3d_fullres -tr nnUNetTrainerV2 -p nnUNetPlansv2.1`,
  ]);
});

test('missing configurations and softmax files: left out with a warning, or an error with strict', async () => {
  const results = await buildResults();
  // 3d_lowres was never trained: skipped unless strict.
  const r = await findBestConfiguration({
    resultsFolder: results,
    task: TASK,
    configurations: ['2d', '3d_lowres'],
    folds: [0, 1],
    env: {},
    workers: 1,
  });
  assert.equal(r.best.name, '2d');
  assert.equal(r.skipped[0]?.name, '3d_lowres');
  assert.match(r.skipped[0]?.reason ?? '', /output folder of configuration 3d_lowres is missing/);
  await assert.rejects(
    findBestConfiguration({
      resultsFolder: results,
      task: TASK,
      configurations: ['2d', '3d_lowres'],
      folds: [0, 1],
      env: {},
      workers: 1,
      strict: true,
    }),
    /3d_lowres is missing/,
  );
  // A fold that was not trained.
  await assert.rejects(
    findBestConfiguration({
      resultsFolder: results,
      task: TASK,
      configurations: ['3d_fullres'],
      env: {},
      workers: 1,
      strict: true,
    }),
    /no validation_raw for fold\(s\) 2, 3, 4/,
  );
  // A validation without --npz: the ensemble cannot be built.
  rmSync(join(results, 'nnUNet', '3d_fullres', TASK, TRAINER, 'fold_1', 'validation_raw', 'd.npz'));
  const noNpz = await findBestConfiguration({
    resultsFolder: results,
    task: TASK,
    configurations: ['2d', '3d_fullres'],
    folds: [0, 1],
    env: {},
    workers: 1,
  });
  assert.equal(noNpz.best.name, '3d_fullres');
  assert.equal(noNpz.skipped[0]?.name, ENSEMBLE);
  await assert.rejects(
    findBestConfiguration({
      resultsFolder: results,
      task: TASK,
      configurations: ['2d', '3d_fullres'],
      folds: [0, 1],
      env: {},
      workers: 1,
      strict: true,
    }),
    /fold_1\/validation_raw has no softmax \(\.npz\) for 1 case\(s\) \(d\).*-val --npz/,
  );
});

test('--disable_postprocessing: folds evaluated without a postprocessing decision; the ensemble command has no -pp', async () => {
  const results = await buildResults();
  const r = await findBestConfiguration({
    resultsFolder: results,
    task: TASK,
    configurations: ['2d', '3d_fullres'],
    folds: [0, 1],
    env: {},
    workers: 1,
    disablePostprocessing: true,
  });
  assert.equal(r.best.name, ENSEMBLE);
  const t2d = join(results, 'nnUNet', '2d', TASK, TRAINER);
  assert.equal(readSummaryJson(join(t2d, 'cv_niftis_raw', 'summary.json')).results.all.length, 4);
  assert.ok(!existsSync(join(t2d, 'postprocessing.json')));
  assert.ok(!existsSync(join(results, 'nnUNet', 'ensembles', TASK, ENSEMBLE, 'postprocessing.json')));
  assert.equal(r.commands[2], 'nnUNet_ensemble -f OUTPUT_FOLDER_MODEL1 OUTPUT_FOLDER_MODEL2 -o OUTPUT_FOLDER');
});

test('CLI: nnUNet_determine_postprocessing, nnUNet_find_best_configuration and nnUNet_ensemble end to end', async () => {
  const results = await buildResults();
  const env: Record<string, string> = { PATH: process.env.PATH ?? '', RESULTS_FOLDER: results };
  const cli = (name: string, args: string[]) =>
    spawnSync(process.execPath, [join(PACKAGE_ROOT, 'dist', 'src', 'cli', `${name}.js`), ...args], {
      env,
      encoding: 'utf8',
    });

  const dp = cli('determine-postprocessing', ['-m', '2d', '-t', '99', '-f', '0', '1']);
  assert.equal(dp.status, 0, dp.stderr);
  assert.match(dp.stdout, /for_which_classes: \[\[1,2\]\]/);
  const t2d = join(results, 'nnUNet', '2d', TASK, TRAINER);
  assert.ok(existsSync(join(t2d, 'cv_niftis_postprocessed', 'summary.json')));
  const bad = cli('determine-postprocessing', ['-m', '2d', '-t', '99']);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /^nnUNet_determine_postprocessing: .*no validation_raw for fold\(s\) 2, 3, 4.*\n$/);

  const fb = cli('find-best-configuration', ['-m', '2d', '3d_fullres', '-t', '99', '-f', '0', '1', '--strict']);
  assert.equal(fb.status, 0, fb.stderr);
  assert.match(fb.stdout, new RegExp(`${ENSEMBLE}\\s+1\\.0000  <- best`));
  assert.match(fb.stdout, /nnUNet_ensemble -f OUTPUT_FOLDER_MODEL1 OUTPUT_FOLDER_MODEL2 -o OUTPUT_FOLDER -pp /);

  // Ensemble two folders of softmax predictions (the folds' validation folders serve as such) with postprocessing.
  const out = join(results, 'ens_out');
  const en = cli('ensemble', [
    '-f',
    join(t2d, 'fold_0', 'validation_raw'),
    join(results, 'nnUNet', '3d_fullres', TASK, TRAINER, 'fold_0', 'validation_raw'),
    '-o',
    out,
    '-pp',
    join(t2d, 'postprocessing.json'),
    '--npz',
  ]);
  assert.equal(en.status, 0, en.stderr);
  assert.match(en.stdout, /2 case\(s\) ensembled from 2 folders/);
  const seg = await readImage(join(out, 'a.nii.gz'));
  assert.deepEqual(Array.from(seg.data as Uint8Array), Array.from(paint(ORGAN_BOXES)));
  assert.ok(existsSync(join(out, 'not_postprocessed', 'a.npz')));
  assert.ok(existsSync(join(out, 'postprocessing.json')));
  const missing = cli('ensemble', [
    '-f',
    join(t2d, 'fold_0', 'validation_raw'),
    join(t2d, 'fold_1', 'validation_raw'),
    '-o',
    out,
  ]);
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /fold_0\/validation_raw has no softmax \(\.npz\) for c, d/);
});
