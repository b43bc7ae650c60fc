/**
 * Model sharing: nnUNet_export_model_to_zip -> nnUNet_install_pretrained_model_from_zip into another
 * RESULTS_FOLDER (byte-identical files, same predictions), strict checks, refusal of existing folders,
 * malicious archives (nothing written), nnUNet_change_trainer_class.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import {
  createInitialisedModel,
  DEFAULT_PLANS_IDENTIFIER,
  DEFAULT_TRAINER,
  trainerFolderPath,
} from '../../src/inference/model-folder.js';
import { loadModel, predictVolumes } from '../../src/inference/predict.js';
import type { Volume } from '../../src/io/image.js';
import { ZipReader, ZipWriter } from '../../src/io/zip.js';
import type { Plans } from '../../src/planning/plans.js';
import { changeTrainerClass } from '../../src/sharing/change-trainer.js';
import { exportModelToZip } from '../../src/sharing/export.js';
import { installModelFromZip } from '../../src/sharing/install.js';
import { FIXTURES, PACKAGE_ROOT, tempDir } from '../helpers.js';

const TASK = 'Task004_Hippocampus';
const TP = `${DEFAULT_TRAINER}__${DEFAULT_PLANS_IDENTIFIER}`;
const POSTPROCESSING = '{\n "for_which_classes": [],\n "min_valid_object_sizes": "{}"\n}';

/** Hippocampus 3-D plans with 4 base features, so that a model is a few hundred kB. */
function tinyPlans(): Plans {
  const plans = JSON.parse(
    readFileSync(join(FIXTURES, 'golden', TASK, 'nnUNetPlansv2.1_plans_3D.json'), 'utf8'),
  ) as Plans;
  plans.base_num_features = 4;
  return plans;
}

/** A results folder with a 3d_fullres model of ours (folds 0, 1) and a v1-style 2d model folder. */
function makeResults(): { results: string; ours: string; v1: string } {
  const results = join(tempDir(), 'results');
  const ours = trainerFolderPath(results, '3d_fullres', TASK);
  createInitialisedModel(tinyPlans(), ours, '3d_fullres', ['0', '1'], { seed: 5 });
  writeFileSync(join(ours, 'postprocessing.json'), POSTPROCESSING);
  writeFileSync(join(ours, 'fold_0', 'debug.json'), '{"epochs": 0}');
  writeFileSync(join(ours, 'fold_0', 'progress.png'), 'not really a png');
  writeFileSync(join(ours, 'fold_0', 'model_final_checkpoint.optimizer.safetensors'), 'optimizer state');
  writeFileSync(join(ours, 'fold_0', 'model_latest.json'), '{}');
  const v1 = trainerFolderPath(results, '2d', TASK);
  for (const f of ['0', '1']) {
    mkdirSync(join(v1, `fold_${f}`), { recursive: true });
    writeFileSync(join(v1, `fold_${f}`, 'model_final_checkpoint.model'), `torch weights ${f}`);
    writeFileSync(join(v1, `fold_${f}`, 'model_final_checkpoint.model.pkl'), `pickle ${f}`);
    writeFileSync(join(v1, `fold_${f}`, 'debug.json'), '{}');
  }
  writeFileSync(join(v1, 'plans.pkl'), 'plans pickle');
  writeFileSync(join(v1, 'postprocessing.json'), POSTPROCESSING);
  const ens = join(results, 'nnUNet', 'ensembles', TASK);
  for (const e of [`ensemble_2d__${TP}--3d_fullres__${TP}`, `ensemble_2d__${TP}--3d_fullres__OtherTrainer__x`]) {
    mkdirSync(join(ens, e), { recursive: true });
    writeFileSync(join(ens, e, 'postprocessing.json'), POSTPROCESSING);
  }
  return { results, ours, v1 };
}

function listFiles(root: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const f of readdirSync(d)) {
      const p = join(d, f);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(relative(root, p));
    }
  };
  if (existsSync(root)) walk(root);
  return out.sort();
}

function randomVolume(shape: number[], seed: number): Volume {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    data[i] = s / 2 ** 32;
  }
  return {
    data,
    shape,
    dtype: 'float32',
    geometry: { spacing: [1, 1, 1], origin: [0, 0, 0], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] },
  };
}

test('export -> install into another RESULTS_FOLDER: v1 entry layout, byte-identical files, same prediction', async () => {
  const { results, ours } = makeResults();
  const zip = join(tempDir(), 'model.zip');
  const r = await exportModelToZip({
    resultsFolder: results,
    task: TASK,
    output: zip,
    configurations: ['2d', '3d_fullres'],
    folds: ['0', '1'],
  });
  const expected = [
    `2d/${TASK}/${TP}/fold_0/model_final_checkpoint.model`,
    `2d/${TASK}/${TP}/fold_0/model_final_checkpoint.model.pkl`,
    `2d/${TASK}/${TP}/fold_0/debug.json`,
    `2d/${TASK}/${TP}/fold_1/model_final_checkpoint.model`,
    `2d/${TASK}/${TP}/fold_1/model_final_checkpoint.model.pkl`,
    `2d/${TASK}/${TP}/fold_1/debug.json`,
    `2d/${TASK}/${TP}/plans.pkl`,
    `2d/${TASK}/${TP}/postprocessing.json`,
    `3d_fullres/${TASK}/${TP}/fold_0/model_final_checkpoint.safetensors`,
    `3d_fullres/${TASK}/${TP}/fold_0/model_final_checkpoint.json`,
    `3d_fullres/${TASK}/${TP}/fold_0/debug.json`,
    `3d_fullres/${TASK}/${TP}/fold_0/progress.png`,
    `3d_fullres/${TASK}/${TP}/fold_1/model_final_checkpoint.safetensors`,
    `3d_fullres/${TASK}/${TP}/fold_1/model_final_checkpoint.json`,
    `3d_fullres/${TASK}/${TP}/plans.json`,
    `3d_fullres/${TASK}/${TP}/postprocessing.json`,
    `ensembles/${TASK}/ensemble_2d__${TP}--3d_fullres__${TP}/postprocessing.json`,
  ];
  assert.deepEqual(r.entries, expected);
  assert.deepEqual(
    ZipReader.open(zip).entries.map((e) => e.name),
    expected,
  );

  const other = join(tempDir(), 'results');
  const inst = await installModelFromZip(zip, { resultsFolder: other });
  assert.deepEqual(inst.installed.map((p) => relative(other, p)).sort(), [
    `nnUNet/2d/${TASK}/${TP}`,
    `nnUNet/3d_fullres/${TASK}/${TP}`,
    `nnUNet/ensembles/${TASK}/ensemble_2d__${TP}--3d_fullres__${TP}`,
  ]);
  assert.deepEqual(readdirSync(other), ['nnUNet'], 'no staging folder left behind');
  const installedFiles = listFiles(join(other, 'nnUNet'));
  assert.deepEqual(installedFiles, [...expected].sort());
  for (const f of installedFiles) {
    assert.ok(readFileSync(join(other, 'nnUNet', f)).equals(readFileSync(join(results, 'nnUNet', f))), f);
  }
  // The installed model predicts exactly like the original.
  const img = randomVolume([40, 56, 40], 11);
  const a = loadModel(ours, { folds: ['0', '1'] });
  const b = loadModel(trainerFolderPath(other, '3d_fullres', TASK), { folds: ['0', '1'] });
  const pa = predictVolumes([img], a, { mirror: false });
  const pb = predictVolumes([img], b, { mirror: false });
  for (const n of [...a.nets, ...b.nets]) n.dispose();
  assert.deepEqual(Array.from(pb.segmentation), Array.from(pa.segmentation));
});

test('strict export: missing configuration, fold, checkpoint or postprocessing.json are errors; nothing written', async () => {
  const { results, ours } = makeResults();
  const dir = tempDir();
  const zip = join(dir, 'model.zip');
  const base = { resultsFolder: results, task: TASK, output: zip };
  await assert.rejects(exportModelToZip(base), /Fold 2 of the 2d model is missing/);
  await assert.rejects(
    exportModelToZip({ ...base, folds: ['0', '1'] }),
    /Task004_Hippocampus has no 3d_lowres model .* --disable_strict/,
  );
  await assert.rejects(
    exportModelToZip({ ...base, configurations: ['3d_fullres'] }),
    /Fold 2 of the 3d_fullres model is missing .*fold_2 does not exist\): train it, or choose the trained folds with -f/,
  );
  rmSync(join(ours, 'fold_1', 'model_final_checkpoint.safetensors'));
  await assert.rejects(
    exportModelToZip({ ...base, configurations: ['3d_fullres'], folds: ['0', '1'] }),
    /fold_1 has no final checkpoint/,
  );
  await assert.rejects(
    exportModelToZip({ ...base, configurations: ['2d'], folds: ['0', 'all'] }),
    /Fold all of the 2d model is missing/,
  );
  rmSync(join(results, 'nnUNet', '2d', TASK, TP, 'postprocessing.json'));
  await assert.rejects(
    exportModelToZip({ ...base, configurations: ['2d'], folds: ['0'] }),
    /postprocessing\.json is missing: .* --disable_strict/,
  );
  assert.deepEqual(readdirSync(dir), [], 'no archive and no temporary file');
  const log: string[] = [];
  const r = await exportModelToZip({ ...base, folds: ['0'], strict: false, log: (l) => log.push(l) });
  assert.ok(log.some((l) => /no 3d_lowres model/.test(l)));
  assert.ok(log.some((l) => /postprocessing\.json is missing; exported without it/.test(l)));
  assert.ok(r.entries.includes(`2d/${TASK}/${TP}/plans.pkl`));
  assert.ok(!r.entries.some((e) => e.includes('optimizer') || e.includes('model_latest')));
});

test('install refuses existing model folders unless asked, and then replaces them whole', async () => {
  const { results } = makeResults();
  const zip = join(tempDir(), 'model.zip');
  await exportModelToZip({ resultsFolder: results, task: TASK, output: zip, configurations: ['2d'], folds: ['0'] });
  const other = join(tempDir(), 'results');
  const target = join(other, 'nnUNet', '2d', TASK, TP);
  mkdirSync(join(target, 'fold_3'), { recursive: true });
  writeFileSync(join(target, 'fold_3', 'old.txt'), 'old');
  await assert.rejects(
    installModelFromZip(zip, { resultsFolder: other }),
    /was not installed because this model folder already exists: .*2d\/Task004_Hippocampus\/nnUNetTrainerV2__nnUNetPlansv2\.1; pass --overwrite_existing to replace it/,
  );
  assert.equal(readFileSync(join(target, 'fold_3', 'old.txt'), 'utf8'), 'old');
  const r = await installModelFromZip(zip, { resultsFolder: other, overwrite: true });
  assert.deepEqual(r.replaced, [target]);
  assert.equal(existsSync(join(target, 'fold_3')), false);
  assert.equal(readFileSync(join(target, 'fold_0', 'model_final_checkpoint.model'), 'utf8'), 'torch weights 0');
  assert.deepEqual(readdirSync(other), ['nnUNet']);
});

test('archives with entries under nnUNet/ (relative to RESULTS_FOLDER) install to the same place', async () => {
  const zip = join(tempDir(), 'prefixed.zip');
  const w = new ZipWriter(zip);
  w.addBuffer(`nnUNet/3d_fullres/Task099_Tiny/${TP}/plans.json`, Buffer.from('{}'));
  w.addBuffer('__MACOSX/._plans.json', Buffer.from('resource fork'));
  w.close();
  const other = join(tempDir(), 'results');
  await installModelFromZip(zip, { resultsFolder: other });
  assert.deepEqual(listFiles(other), [`nnUNet/3d_fullres/Task099_Tiny/${TP}/plans.json`]);
});

test('malicious or damaged archives are refused before anything is written', async () => {
  const cases: [string, RegExp][] = [
    ['evil_dotdot.zip', /entry "3d_fullres\/\.\.\/\.\.\/evil\.txt" has the path component "\.\."/],
    ['evil_absolute.zip', /entry "\/tmp\/nnunet_evil_absolute\.txt" is an absolute path/],
    ['evil_symlink.zip', /entry "3d_fullres\/Task099_Tiny\/link" is a symbolic link/],
    ['evil_drive.zip', /entry "C:\/evil\.txt" starts with a drive letter/],
    ['evil_duplicate.zip', /appears twice/],
  ];
  for (const [name, message] of cases) {
    const results = join(tempDir(), 'results');
    await assert.rejects(installModelFromZip(join(FIXTURES, 'sharing', name), { resultsFolder: results }), (e) => {
      assert.match((e as Error).message, message);
      assert.match((e as Error).message, /nothing was written/);
      return true;
    });
    assert.equal(existsSync(results), false, `${name}: RESULTS_FOLDER untouched`);
  }
  assert.equal(existsSync('/tmp/nnunet_evil_absolute.txt'), false);
  // Not a model archive at all.
  await assert.rejects(
    installModelFromZip(join(FIXTURES, 'sharing', 'zip64.zip'), { resultsFolder: join(tempDir(), 'r') }),
    /entry "random\.bin" is not inside 2d\/, 3d_lowres\/, 3d_fullres\/, 3d_cascade_fullres\/, ensembles\//,
  );
  // A damaged member (CRC) is found during extraction into the staging folder: nothing reaches nnUNet/.
  const { results } = makeResults();
  const zip = join(tempDir(), 'model.zip');
  await exportModelToZip({ resultsFolder: results, task: TASK, output: zip, configurations: ['2d'], folds: ['0'] });
  const bytes = readFileSync(zip);
  const last = ZipReader.open(zip).entries.at(-1);
  assert.ok(last);
  const at = last.localHeaderOffset + 30 + Buffer.byteLength(last.name) + 2;
  bytes[at] = (bytes[at] as number) ^ 0x55;
  writeFileSync(zip, bytes);
  const other = join(tempDir(), 'results');
  await assert.rejects(installModelFromZip(zip, { resultsFolder: other }), /is damaged: .*postprocessing\.json/);
  assert.deepEqual(readdirSync(other), [], 'staging folder removed, nothing installed');
});

test('change trainer class rewrites every checkpoint .json; v1-only folders are refused', () => {
  const { ours, v1 } = makeResults();
  const before = JSON.parse(readFileSync(join(ours, 'fold_1', 'model_final_checkpoint.json'), 'utf8'));
  const r = changeTrainerClass(ours, 'nnUNetTrainerV2_noMirroring');
  assert.deepEqual(r.changed.map((p) => relative(ours, p)).sort(), [
    'fold_0/model_final_checkpoint.json',
    'fold_1/model_final_checkpoint.json',
  ]);
  const after = JSON.parse(readFileSync(join(ours, 'fold_1', 'model_final_checkpoint.json'), 'utf8'));
  assert.deepEqual(after, { ...before, trainer: 'nnUNetTrainerV2_noMirroring' });
  assert.equal(readFileSync(join(ours, 'fold_0', 'model_latest.json'), 'utf8'), '{}', 'other JSON untouched');
  assert.throws(() => changeTrainerClass(v1, 'X'), /holds only nnU-Net v1 checkpoints \(2 \.model\.pkl files\)/);
  assert.throws(() => changeTrainerClass(ours, 'bad name'), /is not a trainer class name/);
});

test('CLI: export, install twice (second refused with exit 1), change trainer', () => {
  const { results, ours } = makeResults();
  const zip = join(tempDir(), 'model.zip');
  const cli = (name: string, args: string[], env: Record<string, string>) =>
    spawnSync(process.execPath, [join(PACKAGE_ROOT, 'dist', 'src', 'cli', `${name}.js`), ...args], {
      env: { ...process.env, ...env },
      encoding: 'utf8',
    });
  const ex = cli('export-model-to-zip', ['-t', '4', '-o', zip, '-m', '3d_fullres', '-f', '0', '1'], {
    RESULTS_FOLDER: results,
  });
  assert.equal(ex.status, 0, ex.stderr);
  assert.match(ex.stdout, /1 model folder\(s\), 8 files written to/);
  const other = join(tempDir(), 'results');
  const i1 = cli('install-pretrained-model-from-zip', [zip], { RESULTS_FOLDER: other });
  assert.equal(i1.status, 0, i1.stderr);
  assert.match(i1.stdout, /installed .*3d_fullres\/Task004_Hippocampus\/nnUNetTrainerV2__nnUNetPlansv2\.1/);
  const i2 = cli('install-pretrained-model-from-zip', [zip], { RESULTS_FOLDER: other });
  assert.equal(i2.status, 1);
  assert.match(i2.stderr, /^nnUNet_install_pretrained_model_from_zip: .* already exists: .* --overwrite_existing/);
  const i3 = cli('install-pretrained-model-from-zip', [zip, '--overwrite_existing'], { RESULTS_FOLDER: other });
  assert.equal(i3.status, 0, i3.stderr);
  assert.match(i3.stdout, /^replaced /);
  const ct = cli('change-trainer-class', ['-i', ours, '-tr', 'nnUNetTrainerV2_5epochs'], {});
  assert.equal(ct.status, 0, ct.stderr);
  assert.equal(
    JSON.parse(readFileSync(join(ours, 'fold_0', 'model_final_checkpoint.json'), 'utf8')).trainer,
    'nnUNetTrainerV2_5epochs',
  );
});
