/** nnUNet_predict end to end with an initialised (untrained) model folder on hippocampus cases. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { convertDecathlonTask, planAndPreprocess, readImage, readPlans } from '../../src/index.js';
import { createInitialisedModel } from '../../src/inference/model-folder.js';
import { findInputCases, loadModel, predictFolder, predictVolumes } from '../../src/inference/predict.js';
import { readNpzRaw } from '../../src/io/npz.js';
import { trainerFolderPath } from '../../src/model/layout.js';
import { applyPostprocessing, readPostprocessingJson } from '../../src/postprocessing/connected-components.js';
import { HIPPOCAMPUS, PACKAGE_ROOT, tempDir } from '../helpers.js';

const CASES = ['hippocampus_001', 'hippocampus_003'];

async function setup(): Promise<{ env: Record<string, string>; input: string; trainer: string }> {
  const base = tempDir();
  const env = {
    nnUNet_raw_data_base: join(base, 'raw'),
    nnUNet_preprocessed: join(base, 'pre'),
    RESULTS_FOLDER: join(base, 'results'),
  };
  await convertDecathlonTask(HIPPOCAMPUS, { env });
  await planAndPreprocess([4], { env, noPreprocessing: true, workersFullres: 2 });
  const plans = readPlans(join(env.nnUNet_preprocessed, 'Task004_Hippocampus', 'nnUNetPlansv2.1_plans_3D.json'));
  const trainer = trainerFolderPath(env.RESULTS_FOLDER, '3d_fullres', 'Task004_Hippocampus');
  createInitialisedModel(plans, trainer, '3d_fullres', ['0', '1'], { seed: 3 });
  const input = join(base, 'imagesTs');
  mkdirSync(input);
  for (const c of CASES) copyFileSync(join(HIPPOCAMPUS, 'imagesTr', `${c}.nii.gz`), join(input, `${c}_0000.nii.gz`));
  return { env, input, trainer };
}

test('two folds predict two cases: labels on the input grid with its geometry, softmax .npz, finished cases skipped', async () => {
  const { input, trainer } = await setup();
  const out = join(tempDir(), 'pred');
  const { written } = await predictFolder(input, out, trainer, { mirror: false, saveNpz: true });
  assert.equal(written.length, 2);
  for (const c of CASES) {
    const img = await readImage(join(input, `${c}_0000.nii.gz`));
    const seg = await readImage(join(out, `${c}.nii.gz`));
    assert.equal(seg.dtype, 'uint8');
    assert.deepEqual(seg.shape, img.shape);
    assert.deepEqual(seg.geometry, img.geometry);
    assert.ok(
      (seg.data as Uint8Array).every((v) => v <= 2),
      'labels 0..2',
    );
    const npz = readNpzRaw(join(out, `${c}.npz`)).get('softmax');
    assert.ok(npz);
    assert.match(npz.subarray(10, 90).toString('latin1'), new RegExp(`'shape': \\(3, ${img.shape.join(', ')}\\)`));
  }
  assert.ok(existsSync(join(out, 'plans.json')));
  const before = statSync(join(out, `${CASES[0]}.nii.gz`)).mtimeMs;
  const again = await predictFolder(input, out, trainer, { mirror: false, saveNpz: true });
  assert.deepEqual(again, { written: [], kept: CASES, failed: [] }, 'finished cases are kept');
  assert.equal(statSync(join(out, `${CASES[0]}.nii.gz`)).mtimeMs, before);
});

test('predictVolumes on in-memory images equals the folder prediction', async () => {
  const { input, trainer } = await setup();
  const out = join(tempDir(), 'pred');
  await predictFolder(input, out, trainer, { mirror: false, folds: ['0'] });
  const model = loadModel(trainer, { folds: ['0'] });
  const img = await readImage(join(input, `${CASES[0]}_0000.nii.gz`));
  const r = predictVolumes([img], model, { mirror: false });
  for (const n of model.nets) n.dispose();
  const fromFolder = await readImage(join(out, `${CASES[0]}.nii.gz`));
  assert.deepEqual(r.shape, img.shape);
  assert.deepEqual(Array.from(r.segmentation), Array.from(fromFolder.data as Uint8Array));
  assert.throws(
    () => predictVolumes([img, img], loadModel(trainer, { folds: ['0'] })),
    /takes 1 modality per case, got 2/,
  );
});

test('input naming errors name the files and the expected modalities', async () => {
  const dir = tempDir();
  copyFileSync(join(HIPPOCAMPUS, 'imagesTr', 'hippocampus_001.nii.gz'), join(dir, 'hippocampus_001.nii.gz'));
  assert.throws(() => findInputCases(dir, 1), /hippocampus_001\.nii\.gz do not follow the naming CASE_XXXX\.nii\.gz/);
  const two = tempDir();
  copyFileSync(join(HIPPOCAMPUS, 'imagesTr', 'hippocampus_001.nii.gz'), join(two, 'a_0000.nii.gz'));
  assert.throws(() => findInputCases(two, 2), /a lacks a_0001\.nii\.gz\. The model expects 2 file\(s\) per case/);
});

test('the command: fold selection, mirroring, and one-line errors with exit 1', async () => {
  const { env, input } = await setup();
  const cli = join(PACKAGE_ROOT, 'dist', 'src', 'cli', 'predict.js');
  const out = join(tempDir(), 'cli');
  const run = (...args: string[]) =>
    spawnSync(process.execPath, [cli, ...args], { env: { ...process.env, ...env }, encoding: 'utf8' });
  const ok = run(
    '-i',
    input,
    '-o',
    out,
    '-t',
    '4',
    '-m',
    '3d_fullres',
    '-f',
    '0',
    '--part_id',
    '0',
    '--num_parts',
    '2',
  );
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /^1 case\(s\) written to /);
  assert.deepEqual(
    readdirSync(out).filter((f) => f.endsWith('.nii.gz')),
    ['hippocampus_001.nii.gz'],
  );
  const noModel = run('-i', input, '-o', out, '-t', '4', '-m', '2d');
  assert.equal(noModel.status, 1);
  assert.match(noModel.stderr, /^nnUNet_predict: .*plans\.json does not exist: .* is not a trained model folder/);
  const cascade = run('-i', input, '-o', out, '-t', '4', '-m', '3d_cascade_fullres');
  assert.equal(cascade.status, 1);
  assert.match(
    cascade.stderr,
    /^nnUNet_predict: .*3d_lowres\/Task004_Hippocampus\/nnUNetTrainerV2__nnUNetPlansv2\.1 does not exist: the cascade without -l/,
  );
  const misplaced = run('-i', input, '-o', out, '-t', '4', '-m', '3d_fullres', '-l', input);
  assert.equal(misplaced.status, 1);
  assert.match(misplaced.stderr, /-l and -ctr belong to the cascade/);
  assert.ok(JSON.parse(readFileSync(join(out, 'plans.json'), 'utf8')).plans_per_stage);
});

test("the model's postprocessing.json is applied to the outputs (as v1), and a missing one is a warning", async () => {
  const { input, trainer } = await setup();
  const raw = join(tempDir(), 'raw');
  const warnings: string[] = [];
  await predictFolder(input, raw, trainer, { mirror: false, folds: ['0'], log: (l) => warnings.push(l) });
  assert.equal(warnings.length, 1);
  assert.match(warnings[0] as string, /no postprocessing applied: .*postprocessing\.json does not exist/);
  writeFileSync(
    join(trainer, 'postprocessing.json'),
    JSON.stringify({ for_which_classes: [1, 2], min_valid_object_sizes: 'None' }),
  );
  const pp = readPostprocessingJson(join(trainer, 'postprocessing.json'));
  const post = join(tempDir(), 'post');
  await predictFolder(input, post, trainer, { mirror: false, folds: ['0'] });
  assert.ok(existsSync(join(post, 'postprocessing.json')), 'the json is copied beside the predictions');
  let changed = 0;
  for (const c of CASES) {
    const a = await readImage(join(raw, `${c}.nii.gz`));
    const b = await readImage(join(post, `${c}.nii.gz`));
    const want = applyPostprocessing(
      Uint8Array.from(a.data as Uint8Array),
      a.shape,
      [...a.geometry.spacing].reverse(),
      pp,
    ).seg;
    assert.deepEqual(b.data, want, c);
    for (let i = 0; i < want.length; i++) if (want[i] !== (a.data as Uint8Array)[i]) changed++;
  }
  assert.ok(changed > 0, 'the untrained network leaves stray components to remove');
  const off = join(tempDir(), 'off');
  await predictFolder(input, off, trainer, { mirror: false, folds: ['0'], postprocessing: false });
  for (const c of CASES) {
    assert.deepEqual(
      (await readImage(join(off, `${c}.nii.gz`))).data,
      (await readImage(join(raw, `${c}.nii.gz`))).data,
    );
  }
});
