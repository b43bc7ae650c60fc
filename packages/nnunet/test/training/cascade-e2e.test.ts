/**
 * v1's cascade from the command line on a tiny synthetic task whose plans have two stages
 * (written by hand and preprocessed with preprocessWithPlans): 3d_lowres fold 'all' predicts the
 * next stage, nnUNetTrainerV2CascadeFullRes trains and validates on top of it, -val redoes the
 * next-stage prediction, -pretrained_weights initialises a run, and nnUNet_predict -m
 * 3d_cascade_fullres writes segmentations with the input geometry, with and without -l.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { safetensors } from '@nnunet/torch';
import { planAndPreprocess, readImage, writeImage } from '../../src/index.js';
import { readNpyHeader } from '../../src/io/npy.js';
import { readNpzRaw } from '../../src/io/npz.js';
import type { Plans } from '../../src/model/plans.js';
import { preprocessWithPlans } from '../../src/pipeline/plan-and-preprocess.js';
import { readSegFromPrevStage } from '../../src/training/prev-stage.js';
import { folderEnv, PACKAGE_ROOT, tempDir } from '../helpers.js';

const CLI = (name: string) => join(PACKAGE_ROOT, 'dist', 'src', 'cli', `${name}.js`);
const TASK = 'Task903_Cascade';
const SHAPE = [20, 24, 24];
const CASES = 5;

/** Five cases of nested spheres (label 2 inside label 1) with noise, 1 mm voxels. */
async function syntheticTask(rawBase: string): Promise<string> {
  const task = join(rawBase, 'nnUNet_raw_data', TASK);
  mkdirSync(join(task, 'imagesTr'), { recursive: true });
  mkdirSync(join(task, 'labelsTr'), { recursive: true });
  const [Z, Y, X] = SHAPE as [number, number, number];
  const geometry = { spacing: [0.9, 1, 1.1], origin: [3, -2, 5], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] };
  const training = [];
  for (let c = 0; c < CASES; c++) {
    const img = new Float32Array(Z * Y * X);
    const seg = new Uint8Array(img.length);
    for (let z = 0; z < Z; z++)
      for (let y = 0; y < Y; y++)
        for (let x = 0; x < X; x++) {
          const i = (z * Y + y) * X + x;
          const d = (z - 10) ** 2 + (y - 11 - (c % 3)) ** 2 + (x - 12 + (c % 2)) ** 2;
          seg[i] = d < 16 ? 2 : d < 49 ? 1 : 0;
          img[i] = 10 + 3 * (seg[i] as number) + Math.sin(i * 12.9898) * 2;
        }
    const id = `case_${c}`;
    await writeImage(
      { data: img, shape: SHAPE, dtype: 'float32', geometry },
      join(task, 'imagesTr', `${id}_0000.nii.gz`),
    );
    await writeImage({ data: seg, shape: SHAPE, dtype: 'uint8', geometry }, join(task, 'labelsTr', `${id}.nii.gz`));
    training.push({ image: `./imagesTr/${id}.nii.gz`, label: `./labelsTr/${id}.nii.gz` });
  }
  writeFileSync(
    join(task, 'dataset.json'),
    JSON.stringify({
      name: 'Cascade',
      modality: { '0': 'MRI' },
      labels: { '0': 'background', '1': 'outer', '2': 'inner' },
      numTraining: CASES,
      training,
      test: [],
    }),
  );
  return task;
}

/** The planned single stage becomes v1's two: a 2 mm low-resolution stage 0 and the 1 mm stage 1. */
function twoStagePlans(plans: Plans): Plans {
  const stage = plans.plans_per_stage['0'] as Plans['plans_per_stage'][string];
  const pools = [
    [2, 2, 2],
    [2, 2, 2],
  ];
  const convs = [
    [3, 3, 3],
    [3, 3, 3],
    [3, 3, 3],
  ];
  return {
    ...plans,
    num_stages: 2,
    base_num_features: 8,
    plans_per_stage: {
      '0': {
        ...stage,
        current_spacing: stage.current_spacing.map((v) => 2 * v),
        patch_size: [8, 8, 8],
        median_patient_size_in_voxels: [10, 12, 12],
        num_pool_per_axis: [2, 2, 2],
        pool_op_kernel_sizes: pools,
        conv_kernel_sizes: convs,
      },
      '1': {
        ...stage,
        patch_size: [16, 16, 16],
        num_pool_per_axis: [2, 2, 2],
        pool_op_kernel_sizes: pools,
        conv_kernel_sizes: convs,
      },
    },
  } as Plans;
}

test('cascade from the CLI: lowres next-stage predictions, cascade training and validation, prediction with and without -l', {
  timeout: 300_000,
}, async () => {
  const root = tempDir();
  const env = {
    ...folderEnv(root),
    OMP_NUM_THREADS: '1',
  };
  const run = (name: string, ...args: string[]) =>
    spawnSync(process.execPath, [CLI(name), ...args], { env, encoding: 'utf8' });
  const ok = (name: string, ...args: string[]) => {
    const r = run(name, ...args);
    assert.equal(r.status, 0, `${name} ${args.join(' ')}\n${r.stderr}`);
    return r;
  };
  const rawTask = await syntheticTask(env.nnUNet_raw_data_base);
  await planAndPreprocess([903], { env, planner2d: null, noPreprocessing: true, workersFullres: 1 });
  const pre = join(env.nnUNet_preprocessed, TASK);
  const plansFile = join(pre, 'nnUNetPlansv2.1_plans_3D.json');
  const plans = twoStagePlans(JSON.parse(readFileSync(plansFile, 'utf8')) as Plans);
  writeFileSync(plansFile, JSON.stringify(plans));
  await preprocessWithPlans(plans, join(env.nnUNet_raw_data_base, 'nnUNet_cropped_data', TASK), pre, {
    workersFullres: 1,
    workersLowres: 1,
  });
  const stage1 = join(pre, 'nnUNetData_plans_v2.1_stage1');
  const fullShape = readNpyHeader(join(stage1, 'case_0.npy')).shape.slice(1);
  assert.deepEqual(readNpyHeader(join(pre, 'nnUNetData_plans_v2.1_stage0', 'case_0.npy')).shape.slice(1), [10, 12, 12]);
  const schedule = [
    '--epochs',
    '1',
    '--iters-per-epoch',
    '2',
    '--val-iters-per-epoch',
    '1',
    '--seed',
    '5',
    '--workers',
    '1',
  ];

  // The cascade before the lowres stage: a clear error naming the folder and the command.
  const early = run('train', '3d_cascade_fullres', 'nnUNetTrainerV2CascadeFullRes', '903', '0', ...schedule);
  assert.notEqual(early.status, 0);
  assert.match(early.stderr, /3d_lowres\/Task903_Cascade\/nnUNetTrainerV2__nnUNetPlansv2\.1\/pred_next_stage/);
  assert.match(early.stderr, /nnUNet_train 3d_lowres nnUNetTrainerV2 Task903_Cascade FOLD/);
  const wrong = run('train', '3d_fullres', 'nnUNetTrainerV2CascadeFullRes', '903', '0', ...schedule);
  assert.match(wrong.stderr, /use it with 3d_cascade_fullres/);

  // 3d_lowres fold 'all' predicts every case (its validation cases) for the next stage.
  ok('train', '3d_lowres', 'nnUNetTrainerV2', '903', 'all', ...schedule);
  const lowresFolder = join(env.RESULTS_FOLDER, 'nnUNet', '3d_lowres', TASK, 'nnUNetTrainerV2__nnUNetPlansv2.1');
  const nextStage = join(lowresFolder, 'pred_next_stage');
  const npzs = readdirSync(nextStage)
    .filter((f) => f.endsWith('_segFromPrevStage.npz'))
    .sort();
  assert.deepEqual(
    npzs,
    Array.from({ length: CASES }, (_, c) => `case_${c}_segFromPrevStage.npz`),
  );
  let foreground = 0;
  for (const f of npzs) {
    const member = readNpzRaw(join(nextStage, f)).get('data');
    assert.ok(member, `${f} has the key "data"`);
    assert.match(member.subarray(10, 80).toString('latin1'), /'descr': '\|u1'/, 'uint8 as v1 saves it');
    const { data, shape } = readSegFromPrevStage(join(nextStage, f));
    const id = f.replace('_segFromPrevStage.npz', '');
    assert.deepEqual(shape, readNpyHeader(join(stage1, `${id}.npy`)).shape.slice(1), 'the full-resolution grid');
    assert.ok(
      data.every((v) => v <= 2),
      'labels of the task',
    );
    foreground += data.filter((v) => v > 0).length;
  }
  assert.ok(foreground > 0, 'the lowres network predicts some foreground');
  assert.deepEqual(fullShape, [20, 24, 24]);

  // -val redoes only the validation and the next-stage prediction.
  rmSync(join(nextStage, 'case_3_segFromPrevStage.npz'));
  const val = ok('train', '3d_lowres', 'nnUNetTrainerV2', '903', 'all', '-val');
  assert.match(val.stdout, /5 case\(s\) predicted for the next stage/);
  assert.ok(existsSync(join(nextStage, 'case_3_segFromPrevStage.npz')));

  // The cascade trains on it: input channels = 1 modality + 2 foreground labels.
  ok('train', '3d_cascade_fullres', 'nnUNetTrainerV2CascadeFullRes', '903', '0', ...schedule);
  const cascadeFolder = join(
    env.RESULTS_FOLDER,
    'nnUNet',
    '3d_cascade_fullres',
    TASK,
    'nnUNetTrainerV2CascadeFullRes__nnUNetPlansv2.1',
  );
  const fold0 = join(cascadeFolder, 'fold_0');
  const { tensors } = safetensors.load(join(fold0, 'model_final_checkpoint.safetensors'));
  const firstConv = tensors.get('conv_blocks_context.0.blocks.0.conv.weight');
  assert.deepEqual(firstConv?.shape, [8, 3, 3, 3, 3]);
  for (const t of tensors.values()) t.dispose();
  const debug = JSON.parse(readFileSync(join(fold0, 'debug.json'), 'utf8'));
  assert.deepEqual(debug.cascade_labels, [1, 2]);
  assert.equal(debug.seg_from_prev_stage_folder, nextStage);
  const splits = JSON.parse(readFileSync(join(pre, 'splits_final.json'), 'utf8'));
  const summary = JSON.parse(readFileSync(join(fold0, 'validation_raw', 'summary.json'), 'utf8'));
  assert.equal(summary.results.all.length, splits[0].val.length);

  // -pretrained_weights: the same architecture loads every parameter (no training step follows).
  const pre0 = run(
    'train',
    '3d_cascade_fullres',
    'nnUNetTrainerV2CascadeFullRes',
    '903',
    '1',
    '--epochs',
    '1',
    '--iters-per-epoch',
    '0',
    '--val-iters-per-epoch',
    '1',
    '-pretrained_weights',
    join(fold0, 'model_final_checkpoint.safetensors'),
  );
  assert.equal(pre0.status, 0, pre0.stderr);
  assert.match(pre0.stderr, /pretrained weights from .*: \d+ parameters loaded, 0 kept as initialised/);
  const a = safetensors.load(join(fold0, 'model_final_checkpoint.safetensors')).tensors;
  const b = safetensors.load(join(cascadeFolder, 'fold_1', 'model_final_checkpoint.safetensors')).tensors;
  for (const [k, t] of a) assert.ok(t.equal(b.get(k) as never), `${k} was loaded`);
  for (const t of [...a.values(), ...b.values()]) t.dispose();
  // lowres weights have one input channel: v1's rule refuses them for the cascade network
  const refused = run(
    'train',
    '3d_cascade_fullres',
    'nnUNetTrainerV2CascadeFullRes',
    '903',
    '1',
    '--epochs',
    '1',
    '--iters-per-epoch',
    '0',
    '--val-iters-per-epoch',
    '1',
    '-pretrained_weights',
    join(lowresFolder, 'fold_all', 'model_final_checkpoint.safetensors'),
  );
  assert.notEqual(refused.status, 0);
  assert.match(
    refused.stderr,
    /does not fit this network's architecture \(conv_blocks_context\.0\.blocks\.0\.conv\.weight/,
  );

  // Prediction: without -l the lowres model runs first into OUTPUT/3d_lowres_predictions.
  const input = join(root, 'imagesTs');
  mkdirSync(input);
  for (const c of ['case_1', 'case_4'])
    copyFileSync(join(rawTask, 'imagesTr', `${c}_0000.nii.gz`), join(input, `${c}_0000.nii.gz`));
  const out = join(root, 'pred');
  ok('predict', '-i', input, '-o', out, '-t', '903', '-m', '3d_cascade_fullres', '--disable_tta');
  const lowresOut = join(out, '3d_lowres_predictions');
  const out2 = join(root, 'pred-l');
  ok('predict', '-i', input, '-o', out2, '-t', '903', '-m', '3d_cascade_fullres', '-l', lowresOut);
  for (const c of ['case_1', 'case_4']) {
    const img = await readImage(join(input, `${c}_0000.nii.gz`));
    for (const f of [join(out, `${c}.nii.gz`), join(out2, `${c}.nii.gz`), join(lowresOut, `${c}.nii.gz`)]) {
      const seg = await readImage(f);
      assert.deepEqual(seg.shape, img.shape, f);
      assert.deepEqual(seg.geometry, img.geometry, f);
      assert.ok(
        (seg.data as Uint8Array).every((v) => v <= 2),
        f,
      );
    }
  }
  // -l pointing at a folder without the lowres maps: a clear error.
  const noLowres = run(
    'predict',
    '-i',
    input,
    '-o',
    join(root, 'x'),
    '-t',
    '903',
    '-m',
    '3d_cascade_fullres',
    '-l',
    input,
  );
  assert.notEqual(noLowres.status, 0);
  assert.match(noLowres.stderr, /lacks the 3d_lowres segmentations case_1\.nii\.gz, case_4\.nii\.gz/);
});
