/**
 * Model sharing: nnUNet_export_model_to_zip -> nnUNet_install_pretrained_model_from_zip into another
 * RESULTS_FOLDER (byte-identical files, same predictions), strict checks, merging into existing model
 * folders (other files kept, different files refused unless asked, rollback on failure), archive layout
 * and file/folder clashes, malicious archives (nothing written), nnUNet_change_trainer_class.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { test } from 'node:test';
import type { NnunetError } from '../../src/errors.js';
import { createInitialisedModel } from '../../src/inference/model-folder.js';
import { loadModel, predictVolumes } from '../../src/inference/predict.js';
import type { Volume } from '../../src/io/image.js';
import { crc32Update, METHOD_STORED, ZipReader, ZipWriter } from '../../src/io/zip.js';
import { DEFAULT_PLANS_IDENTIFIER, DEFAULT_TRAINER, trainerFolderPath } from '../../src/model/layout.js';
import type { Plans } from '../../src/model/plans.js';
import { changeTrainerClass } from '../../src/sharing/change-trainer.js';
import { exportModelToZip } from '../../src/sharing/export.js';
import { installModelFromZip } from '../../src/sharing/install.js';
import { product } from '../../src/util/shape.js';
import { FIXTURES, PACKAGE_ROOT, randomBytes, tempDir } from '../helpers.js';

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
  const n = product(shape);
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
    (await ZipReader.open(zip)).entries.map((e) => e.name),
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

/** An archive holding `members` (name -> bytes; names ending in '/' are folder entries). */
async function archive(members: [string, string][]): Promise<string> {
  const zip = join(tempDir(), 'a.zip');
  const w = new ZipWriter(zip);
  for (const [name, data] of members) await w.addBuffer(name, Buffer.from(data));
  await w.close();
  return zip;
}

/** Every file below `root` with its contents. */
function snapshot(root: string): Record<string, string> {
  return Object.fromEntries(listFiles(root).map((f) => [f, readFileSync(join(root, f), 'utf8')]));
}

test('install merges into existing model folders like v1: other files are kept, identical files are fine', async () => {
  const { results } = makeResults();
  const fold0 = join(tempDir(), 'fold0.zip');
  const fold1 = join(tempDir(), 'fold1.zip');
  const opts = { resultsFolder: results, task: TASK, configurations: ['2d' as const] };
  await exportModelToZip({ ...opts, output: fold0, folds: ['0'] });
  await exportModelToZip({ ...opts, output: fold1, folds: ['1'] });
  const other = join(tempDir(), 'results');
  const target = join(other, 'nnUNet', '2d', TASK, TP);
  const r0 = await installModelFromZip(fold0, { resultsFolder: other });
  assert.deepEqual(r0.installed, [target]);
  assert.deepEqual(r0.replaced, []);
  assert.equal(r0.addedFiles.length, 5);
  // Files of the user's that no archive has: a validation folder and a fold of their own.
  mkdirSync(join(target, 'fold_0', 'validation_raw'));
  writeFileSync(join(target, 'fold_0', 'validation_raw', 'summary.json'), '{"mine": 1}');
  mkdirSync(join(target, 'fold_3'));
  writeFileSync(join(target, 'fold_3', 'old.txt'), 'old');
  // Adding fold_1 keeps fold_0 (no flag needed: plans.pkl and postprocessing.json are identical).
  const r1 = await installModelFromZip(fold1, { resultsFolder: other });
  assert.deepEqual(r1.addedFiles.map((p) => relative(target, p)).sort(), [
    'fold_1/debug.json',
    'fold_1/model_final_checkpoint.model',
    'fold_1/model_final_checkpoint.model.pkl',
  ]);
  assert.deepEqual(r1.unchangedFiles.map((p) => relative(target, p)).sort(), ['plans.pkl', 'postprocessing.json']);
  assert.deepEqual(r1.replacedFiles, []);
  assert.deepEqual(listFiles(target), [
    'fold_0/debug.json',
    'fold_0/model_final_checkpoint.model',
    'fold_0/model_final_checkpoint.model.pkl',
    'fold_0/validation_raw/summary.json',
    'fold_1/debug.json',
    'fold_1/model_final_checkpoint.model',
    'fold_1/model_final_checkpoint.model.pkl',
    'fold_3/old.txt',
    'plans.pkl',
    'postprocessing.json',
  ]);
  for (const f of listFiles(join(results, 'nnUNet', '2d', TASK, TP)).filter((f) => !f.startsWith('fold_3'))) {
    if (existsSync(join(target, f))) {
      assert.equal(
        readFileSync(join(target, f), 'utf8'),
        readFileSync(join(results, 'nnUNet', '2d', TASK, TP, f), 'utf8'),
      );
    }
  }
  // Installing the same archive again changes nothing.
  const again = await installModelFromZip(fold1, { resultsFolder: other });
  assert.equal(again.unchangedFiles.length, 5);
  assert.deepEqual([again.addedFiles, again.replacedFiles], [[], []]);
  assert.deepEqual(readdirSync(other), ['nnUNet'], 'no staging folder left behind');
});

test('install refuses existing files with different bytes unless asked, then replaces only those', async () => {
  const { results } = makeResults();
  const zip = join(tempDir(), 'model.zip');
  await exportModelToZip({ resultsFolder: results, task: TASK, output: zip, configurations: ['2d'], folds: ['0'] });
  const other = join(tempDir(), 'results');
  const target = join(other, 'nnUNet', '2d', TASK, TP);
  mkdirSync(join(target, 'fold_0'), { recursive: true });
  mkdirSync(join(target, 'fold_1'), { recursive: true });
  // A different size (found before extraction) and the same size with other bytes (found by comparison).
  writeFileSync(join(target, 'postprocessing.json'), '{"edited": true}');
  writeFileSync(join(target, 'fold_0', 'debug.json'), '{"'); // the archive's is '{}': same length
  writeFileSync(join(target, 'fold_1', 'model_final_checkpoint.model'), 'another fold');
  const before = snapshot(other);
  await assert.rejects(installModelFromZip(zip, { resultsFolder: other }), (e) => {
    assert.equal((e as NnunetError).code, 'ERR_ARGUMENT');
    assert.equal(
      (e as Error).message,
      `${zip} was not installed because 2 files already exist with different contents: ${join(target, 'fold_0', 'debug.json')}, ${join(target, 'postprocessing.json')}: pass --overwrite_existing to replace them, or move them away first; nothing was changed.`,
    );
    return true;
  });
  assert.deepEqual(snapshot(other), before, 'nothing added or changed');
  assert.deepEqual(readdirSync(other), ['nnUNet']);
  const r = await installModelFromZip(zip, { resultsFolder: other, overwrite: true });
  assert.deepEqual(r.replaced, [target]);
  assert.deepEqual(r.replacedFiles.map((p) => relative(target, p)).sort(), [
    'fold_0/debug.json',
    'postprocessing.json',
  ]);
  assert.equal(readFileSync(join(target, 'postprocessing.json'), 'utf8'), POSTPROCESSING);
  assert.equal(readFileSync(join(target, 'fold_0', 'debug.json'), 'utf8'), '{}');
  assert.equal(readFileSync(join(target, 'fold_0', 'model_final_checkpoint.model'), 'utf8'), 'torch weights 0');
  assert.equal(readFileSync(join(target, 'fold_1', 'model_final_checkpoint.model'), 'utf8'), 'another fold');
  assert.deepEqual(readdirSync(other), ['nnUNet']);
  // A folder where the archive has a file (or a file where it needs a folder) is refused even with the flag.
  rmSync(join(target, 'plans.pkl'));
  mkdirSync(join(target, 'plans.pkl'));
  writeFileSync(join(target, 'plans.pkl', 'keep'), 'x');
  rmSync(join(target, 'fold_0'), { recursive: true });
  writeFileSync(join(target, 'fold_0'), 'a file');
  const before2 = snapshot(other);
  await assert.rejects(
    installModelFromZip(zip, { resultsFolder: other, overwrite: true }),
    new RegExp(
      `because these paths are in the way: ${join(target, 'fold_0').replace(/[.]/g, '\\.')} \\(a file where the archive has a folder\\), .*plans\\.pkl \\(a folder where the archive has a file\\): move or remove them first; nothing was changed\\.$`,
    ),
  );
  assert.deepEqual(snapshot(other), before2);
});

test('an existing file with the same size and CRC-32 but other bytes is still found (byte comparison)', async () => {
  const original = Buffer.from('{"fold": 0, "x": 12345}');
  // XOR-ing the CRC-32 polynomial (x^32 + ... + 1, bit-reflected: 0x1DB710641) into a message keeps its CRC.
  const forged = Buffer.from(original);
  [0x41, 0x06, 0x71, 0xdb, 0x01].forEach((d, i) => {
    forged[3 + i] = (forged[3 + i] as number) ^ d;
  });
  assert.equal(crc32Update(forged), crc32Update(original));
  assert.ok(!forged.equals(original));
  const zip = join(tempDir(), 'a.zip');
  const w = new ZipWriter(zip);
  await w.addBuffer(`3d_fullres/Task099_Tiny/${TP}/fold_0/debug.json`, original);
  await w.close();
  const other = join(tempDir(), 'results');
  const path = join(other, 'nnUNet', '3d_fullres', 'Task099_Tiny', TP, 'fold_0', 'debug.json');
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, forged);
  await assert.rejects(
    installModelFromZip(zip, { resultsFolder: other }),
    /because this file already exists with different contents: .*fold_0\/debug\.json: pass --overwrite_existing/,
  );
  assert.ok(readFileSync(path).equals(forged));
  assert.deepEqual(readdirSync(other), ['nnUNet'], 'staging folder removed');
  writeFileSync(path, original);
  const r = await installModelFromZip(zip, { resultsFolder: other });
  assert.deepEqual(r.unchangedFiles, [path]);
});

test('a failure half-way through the merge puts every file back', async (t) => {
  const other = join(tempDir(), 'results');
  const target = join(other, 'nnUNet', '3d_fullres', 'Task099_Tiny', TP);
  mkdirSync(join(target, 'fold_1'), { recursive: true });
  writeFileSync(join(target, 'plans.json'), '{"old": 1}');
  writeFileSync(join(target, 'fold_1', 'keep.txt'), 'keep');
  const zip = await archive([
    [`3d_fullres/Task099_Tiny/${TP}/plans.json`, '{"new": 2}'],
    [`3d_fullres/Task099_Tiny/${TP}/fold_0/model_final_checkpoint.json`, '{}'],
    [`3d_fullres/Task099_Tiny/${TP}/fold_1/model_final_checkpoint.json`, '{}'],
  ]);
  // An immutable folder makes the last move fail even for root (ext4 and most Linux file systems).
  if (spawnSync('chattr', ['+i', join(target, 'fold_1')]).status !== 0) {
    t.skip('chattr +i is not available here');
    return;
  }
  try {
    const before = snapshot(other);
    await assert.rejects(installModelFromZip(zip, { resultsFolder: other, overwrite: true }), (e) => {
      assert.match(
        (e as Error).message,
        /^.*a\.zip was not installed: writing .*fold_1\/model_final_checkpoint\.json failed \(EPERM\); nothing was changed/,
      );
      return true;
    });
    assert.deepEqual(snapshot(other), before, 'plans.json restored, the new fold_0 file removed');
    assert.equal(existsSync(join(target, 'fold_0')), false, 'the folder made for fold_0 is gone');
    assert.deepEqual(readdirSync(other), ['nnUNet']);
  } finally {
    spawnSync('chattr', ['-i', join(target, 'fold_1')]);
  }
});

test('files outside a model folder are refused, so no task or configuration folder is ever replaced', async () => {
  const { results, ours } = makeResults();
  const before = snapshot(results);
  const model = `3d_fullres/${TASK}/${TP}`;
  const cases: [string[], RegExp][] = [
    [[`3d_fullres/${TASK}`], /entry "3d_fullres\/Task004_Hippocampus" is a file outside a model folder/],
    [['3d_fullres'], /entry "3d_fullres" is a file outside a model folder/],
    [[`nnUNet/3d_fullres/${TASK}`], /entry "nnUNet\/3d_fullres\/Task004_Hippocampus" is a file outside/],
    [
      [`3d_fullres/${TASK}/plans.json`],
      /is a file outside a model folder \(model files belong in <configuration>\/<TaskXXX_NAME>\/<trainer>__<plans>\/ or ensembles\/<TaskXXX_NAME>\/<name>\/\)/,
    ],
    [[`ensembles/${TASK}/postprocessing.json`], /is a file outside a model folder/],
    [
      [`3d_fullres/${TASK}/nnUNetTrainerV2/plans.json`],
      /names the model folder "nnUNetTrainerV2", not <trainer>__<plans>/,
    ],
    [[`3d_fullres/Hippocampus/${TP}/plans.json`], /names the task folder "Hippocampus", not TaskXXX_NAME/],
    [['nnUNet'], /entry "nnUNet" is not inside 2d\/, 3d_lowres\//],
  ];
  for (const [names, message] of cases) {
    const zip = await archive([[`${model}/fold_0/debug.json`, '{}'], ...names.map((n): [string, string] => [n, 'x'])]);
    await assert.rejects(installModelFromZip(zip, { resultsFolder: results, overwrite: true }), (e) => {
      assert.match((e as Error).message, message);
      assert.match((e as Error).message, /nothing was written/);
      return true;
    });
  }
  assert.deepEqual(snapshot(results), before, 'the existing task and configuration folders are intact');
  assert.ok(existsSync(join(ours, 'fold_1', 'model_final_checkpoint.safetensors')));
  // v1's layouts are accepted: model folders and ensembles/<task>/<name>/, with or without nnUNet/ and folder entries.
  const ok = await archive([
    ['nnUNet/', ''],
    ['nnUNet/3d_lowres/', ''],
    [`nnUNet/3d_lowres/${TASK}/`, ''],
    [`nnUNet/3d_lowres/${TASK}/${TP}/`, ''],
    [`nnUNet/3d_lowres/${TASK}/${TP}/fold_0/`, ''],
    [`nnUNet/3d_lowres/${TASK}/${TP}/fold_0/debug.json`, '{}'],
    [`nnUNet/ensembles/${TASK}/ensemble_x--y/postprocessing.json`, POSTPROCESSING],
  ]);
  const other = join(tempDir(), 'results');
  const r = await installModelFromZip(ok, { resultsFolder: other });
  assert.deepEqual(
    r.installed.map((p) => relative(other, p)),
    [`nnUNet/3d_lowres/${TASK}/${TP}`, `nnUNet/ensembles/${TASK}/ensemble_x--y`],
  );
  assert.deepEqual(listFiles(other), [
    `nnUNet/3d_lowres/${TASK}/${TP}/fold_0/debug.json`,
    `nnUNet/ensembles/${TASK}/ensemble_x--y/postprocessing.json`,
  ]);
});

test('a path that is both a file and a folder in the archive is refused before extraction', async () => {
  const fold = `3d_fullres/Task099_Tiny/${TP}/fold_0`;
  const cases: [[string, string][], RegExp][] = [
    [
      [
        [`${fold}/`, ''],
        [fold, 'x'],
      ],
      /entry "3d_fullres\/Task099_Tiny\/.*\/fold_0" is a file but the entry ".*\/fold_0\/" makes it a folder/,
    ],
    [
      [
        [fold, 'x'],
        [`${fold}/`, ''],
      ],
      /entry ".*\/fold_0" is a file but the entry ".*\/fold_0\/" makes it a folder/,
    ],
    [
      [
        [fold, 'x'],
        [`${fold.replace('fold_0', 'Fold_0')}/`, ''],
      ],
      /is a file but the entry ".*\/Fold_0\/" makes it a folder/,
    ],
    [
      [
        [fold, 'x'],
        [`${fold}/sub/`, ''],
      ],
      /entry ".*\/fold_0" is a file but also the folder of ".*\/fold_0\/sub\/"/,
    ],
    [
      [
        [`${fold}/a/b.json`, '{}'],
        [`${fold}/a`, 'x'],
      ],
      /entry ".*\/fold_0\/a" is a file but also the folder of ".*\/a\/b\.json"/,
    ],
  ];
  for (const [members, message] of cases) {
    const results = join(tempDir(), 'results');
    await assert.rejects(installModelFromZip(await archive(members), { resultsFolder: results }), (e) => {
      assert.equal((e as NnunetError).code, 'ERR_DATASET');
      assert.match((e as Error).message, message);
      assert.match((e as Error).message, /nothing was written/);
      return true;
    });
    assert.equal(existsSync(results), false);
  }
});

test('archives with entries under nnUNet/ (relative to RESULTS_FOLDER) install to the same place', async () => {
  const zip = join(tempDir(), 'prefixed.zip');
  const w = new ZipWriter(zip);
  await w.addBuffer(`nnUNet/3d_fullres/Task099_Tiny/${TP}/plans.json`, Buffer.from('{}'));
  await w.addBuffer('__MACOSX/._plans.json', Buffer.from('resource fork'));
  await w.close();
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
  const last = (await ZipReader.open(zip)).entries.at(-1);
  assert.ok(last);
  const at = last.localHeaderOffset + 30 + Buffer.byteLength(last.name) + 2;
  bytes[at] = (bytes[at] as number) ^ 0x55;
  writeFileSync(zip, bytes);
  const other = join(tempDir(), 'results');
  await assert.rejects(installModelFromZip(zip, { resultsFolder: other }), /is damaged: .*postprocessing\.json/);
  assert.deepEqual(readdirSync(other), [], 'staging folder removed, nothing installed');
});

/** Central-directory records of `zip`, and where the directory starts (a small archive without ZIP64). */
function centralRecords(zip: Buffer): { records: Buffer[]; offset: number } {
  const eocd = zip.length - 22;
  assert.equal(zip.readUInt32LE(eocd), 0x06054b50);
  const offset = zip.readUInt32LE(eocd + 16);
  const records: Buffer[] = [];
  for (let k = 0, p = offset; k < zip.readUInt16LE(eocd + 10); k++) {
    const length = 46 + zip.readUInt16LE(p + 28) + zip.readUInt16LE(p + 30) + zip.readUInt16LE(p + 32);
    records.push(Buffer.from(zip.subarray(p, p + length)));
    p += length;
  }
  return { records, offset };
}

/**
 * `zip` with `copies` more central-directory records that point at the data of its last entry under
 * other names: the overlapping-entry zip bomb, where every entry expands only once.
 */
function withSharedEntries(zip: Buffer, copies: number): Buffer {
  const { records, offset } = centralRecords(zip);
  const last = records.at(-1) as Buffer;
  const name = last.subarray(46, 46 + last.readUInt16LE(28)).toString();
  for (let i = 0; i < copies; i++) {
    const header = Buffer.from(last.subarray(0, 46));
    const copyName = Buffer.from(name.replace(/\.bin$/, `_${i}.bin`));
    header.writeUInt16LE(copyName.length, 28);
    header.writeUInt16LE(0, 30);
    header.writeUInt16LE(0, 32);
    records.push(header, copyName);
  }
  const cd = Buffer.concat(records);
  const end = Buffer.from(zip.subarray(zip.length - 22));
  end.writeUInt16LE(records.length - copies, 8);
  end.writeUInt16LE(end.readUInt16LE(8), 10);
  end.writeUInt32LE(cd.length, 12);
  return Buffer.concat([zip.subarray(0, offset), cd, end]);
}

test('zip bombs are refused from the central directory before anything is extracted', async () => {
  const dir = tempDir();
  const model = `3d_fullres/Task099_Tiny/${TP}`;
  const refused = async (zip: string, message: RegExp, limits = {}): Promise<void> => {
    const results = join(tempDir(), 'results');
    await assert.rejects(installModelFromZip(zip, { resultsFolder: results, ...limits }), (e) => {
      assert.equal((e as NnunetError).code, 'ERR_DATASET');
      assert.match((e as Error).message, message);
      assert.match((e as Error).message, /nothing was written/);
      return true;
    });
    assert.equal(existsSync(results), false, 'RESULTS_FOLDER untouched: nothing was extracted');
  };
  // A member of 16 MiB of zeros deflates to about 16 KiB: a thousand-fold expansion.
  writeFileSync(join(dir, 'zeros'), Buffer.alloc(16 * 1024 ** 2));
  const bomb = join(dir, 'bomb.zip');
  const w = new ZipWriter(bomb);
  await w.addBuffer(`${model}/plans.json`, Buffer.from('{}'));
  await w.addFile(`${model}/fold_0/model_final_checkpoint.safetensors`, join(dir, 'zeros'));
  await w.close();
  assert.ok(statSync(bomb).size < 100_000);
  await refused(
    bomb,
    /entry ".*fold_0\/model_final_checkpoint\.safetensors" would expand \d+-fold \(\d+ bytes to 16777216\), more than the 100-fold any model file needs: this is a zip bomb/,
  );
  // Incompressible members over the total cap (lowered here; 32 GiB by default).
  const big = join(dir, 'big.zip');
  const b = new ZipWriter(big);
  for (const f of ['0', '1']) await b.addBuffer(`${model}/fold_${f}/w.bin`, randomBytes(768 * 1024, Number(f) + 1));
  await b.close();
  await refused(
    big,
    /would unpack to 1\.5 MiB, more than the limit of 1\.0 MiB \(a zip bomb or not a model archive\)/,
    { maxBytes: 1024 ** 2 },
  );
  const allowed = await installModelFromZip(big, { resultsFolder: join(tempDir(), 'r'), allowUnknownFiles: true });
  assert.equal(allowed.addedFiles.length, 2);
  // 200 entries sharing one stored member of 64 KiB: each expands once, the archive 150-fold.
  const one = join(dir, 'one.zip');
  const o = new ZipWriter(one);
  await o.addBuffer(`${model}/fold_0/w.bin`, randomBytes(64 * 1024, 3), { method: METHOD_STORED });
  await o.close();
  const shared = join(dir, 'shared.zip');
  writeFileSync(shared, withSharedEntries(readFileSync(one), 200));
  assert.equal((await ZipReader.open(shared)).entries.length, 201);
  await refused(
    shared,
    /its \d+\.\d KiB would unpack to 12\.6 MiB, more than 100 times as much \(a zip bomb: entries that expand too much or share their data\)/,
  );
  // Below the ratio, entries that share their data are found by their local headers, before extraction too.
  writeFileSync(shared, withSharedEntries(readFileSync(one), 2));
  const other = join(tempDir(), 'results');
  await assert.rejects(
    installModelFromZip(shared, { resultsFolder: other, allowUnknownFiles: true }),
    /shared\.zip is damaged: .*w_0\.bin shares its data with another entry \(a zip bomb\)/,
  );
  assert.equal(existsSync(other), false, 'RESULTS_FOLDER untouched: nothing was extracted');
});

test('a member that inflates past the size its headers declare is cut off and refused', async () => {
  const model = `3d_fullres/Task099_Tiny/${TP}`;
  const zip = join(tempDir(), 'lying.zip');
  const w = new ZipWriter(zip);
  await w.addBuffer(`${model}/plans.json`, Buffer.from('{"x": 1}'.repeat(50_000)));
  await w.close();
  // Both headers now claim 1000 bytes, so the caps (checked on declared sizes) pass.
  const bytes = readFileSync(zip);
  const { records, offset } = centralRecords(bytes);
  const local = (records[0] as Buffer).readUInt32LE(42);
  bytes.writeUInt32LE(1000, local + 22);
  bytes.writeUInt32LE(1000, offset + 24);
  writeFileSync(zip, bytes);
  const other = join(tempDir(), 'results');
  await assert.rejects(
    installModelFromZip(zip, { resultsFolder: other }),
    /lying\.zip is damaged: .*plans\.json decompresses to more bytes than recorded/,
  );
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

test('CLI: export, install, reinstall (no change), conflicting file refused with exit 1 then replaced, change trainer', () => {
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
  const missing = join(tempDir(), 'missing', 'dir', 'x.zip');
  const bad = cli('export-model-to-zip', ['-t', '4', '-o', missing, '-m', '3d_fullres', '-f', '0'], {
    RESULTS_FOLDER: results,
  });
  assert.equal(bad.status, 1);
  assert.equal(
    bad.stderr,
    `nnUNet_export_model_to_zip: Creating the zip archive ${missing} failed (ENOENT: the folder ${dirname(missing)} does not exist): create the folder ${dirname(missing)} or choose another output path.\n`,
  );
  const other = join(tempDir(), 'results');
  const i1 = cli('install-pretrained-model-from-zip', [zip], { RESULTS_FOLDER: other });
  assert.equal(i1.status, 0, i1.stderr);
  assert.match(i1.stdout, /installed .*3d_fullres\/Task004_Hippocampus\/nnUNetTrainerV2__nnUNetPlansv2\.1/);
  const i2 = cli('install-pretrained-model-from-zip', [zip], { RESULTS_FOLDER: other });
  assert.equal(i2.status, 0, 'installing the same archive again changes nothing');
  const plans = join(trainerFolderPath(other, '3d_fullres', TASK), 'plans.json');
  writeFileSync(plans, '{"edited": true}');
  const i3 = cli('install-pretrained-model-from-zip', [zip], { RESULTS_FOLDER: other });
  assert.equal(i3.status, 1);
  assert.match(
    i3.stderr,
    /^nnUNet_install_pretrained_model_from_zip: .* this file already exists with different contents: .*plans\.json: pass --overwrite_existing/,
  );
  assert.equal(readFileSync(plans, 'utf8'), '{"edited": true}');
  const i4 = cli('install-pretrained-model-from-zip', [zip, '--overwrite_existing'], { RESULTS_FOLDER: other });
  assert.equal(i4.status, 0, i4.stderr);
  assert.match(i4.stdout, /^replaced /);
  assert.ok(readFileSync(plans).equals(readFileSync(join(ours, 'plans.json'))));
  const ct = cli('change-trainer-class', ['-i', ours, '-tr', 'nnUNetTrainerV2_5epochs'], {});
  assert.equal(ct.status, 0, ct.stderr);
  assert.equal(
    JSON.parse(readFileSync(join(ours, 'fold_0', 'model_final_checkpoint.json'), 'utf8')).trainer,
    'nnUNetTrainerV2_5epochs',
  );
});
