/**
 * The whole v1 workflow from the command line on a tiny real task (10 hippocampus cases):
 * convert, plan and preprocess, train 2 epochs x 2 iterations (seeded), validate, continue with
 * -c for a third epoch, and predict with the trained fold.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { readImage } from '../../src/index.js';
import { polyLr } from '../../src/training/lr-schedule.js';
import { HIPPOCAMPUS, tempDir } from '../helpers.js';
import { CLI, smallHippocampusTask } from './cli-harness.js';

const CASES = readdirSync(join(HIPPOCAMPUS, 'imagesTr')).sort().slice(0, 10);

test('convert, plan, preprocess, train, validate, continue (-c) and predict, all from the CLI', {
  timeout: 300_000,
}, () => {
  const root = tempDir();
  const env = {
    ...process.env,
    nnUNet_raw_data_base: join(root, 'raw'),
    nnUNet_preprocessed: join(root, 'pre'),
    RESULTS_FOLDER: join(root, 'results'),
  };
  const run = (name: string, ...args: string[]) => {
    const r = spawnSync(process.execPath, [CLI(name), ...args], { env, encoding: 'utf8' });
    assert.equal(r.status, 0, `${name} ${args.join(' ')}\n${r.stderr}`);
    return r;
  };
  run('convert-decathlon-task', '-i', smallHippocampusTask(root, CASES.length));
  run('plan-and-preprocess', '-t', '4', '-pl2d', 'None', '-tf', '2', '-tl', '2');
  const trainArgs = [
    '3d_fullres',
    'nnUNetTrainerV2',
    '4',
    '0',
    '--iters-per-epoch',
    '2',
    '--val-iters-per-epoch',
    '1',
    '--seed',
    '7',
    '--npz',
  ];
  run('train', ...trainArgs, '--epochs', '2');
  const fold = join(
    env.RESULTS_FOLDER,
    'nnUNet',
    '3d_fullres',
    'Task004_Hippocampus',
    'nnUNetTrainerV2__nnUNetPlansv2.1',
    'fold_0',
  );
  for (const f of [
    'model_final_checkpoint.safetensors',
    'model_final_checkpoint.json',
    'model_best.json',
    'progress.png',
    'debug.json',
    'validation_raw/summary.json',
    // v1 decides the fold's postprocessing at the end of validation.
    'postprocessing.json',
    'validation_raw_postprocessed/summary.json',
    '../gt_niftis/hippocampus_001.nii.gz',
  ]) {
    assert.ok(existsSync(join(fold, f)), f);
  }
  const splits = JSON.parse(
    readFileSync(join(env.nnUNet_preprocessed, 'Task004_Hippocampus', 'splits_final.json'), 'utf8'),
  );
  assert.equal(splits.length, 5);
  const val: string[] = splits[0].val;
  assert.deepEqual(
    readdirSync(join(fold, 'validation_raw'))
      .filter((f) => f.endsWith('.nii.gz'))
      .sort(),
    val.map((c) => `${c}.nii.gz`).sort(),
  );
  assert.ok(
    readdirSync(join(fold, 'validation_raw')).some((f) => f.endsWith('.npz')),
    '--npz keeps the softmax',
  );
  const first = JSON.parse(readFileSync(join(fold, 'model_final_checkpoint.json'), 'utf8'));
  assert.equal(first.state.epoch, 2);
  assert.equal(first.state.log.trainLoss.length, 2);
  const firstLosses = first.state.log.trainLoss;

  // Continue: the same run with one more epoch picks up at epoch 2 with poly(2, 3).
  const keep = join(root, 'before-continue');
  cpSync(fold, keep, { recursive: true });
  const r = run('train', ...trainArgs, '--epochs', '3', '-c');
  assert.match(
    r.stderr,
    /continuing from model_final_checkpoint at the end of epoch 1; schedule: 3 epochs \(as given\)/,
  );
  assert.match(
    r.stderr,
    new RegExp(`epoch 2: .* lr ${polyLr(2, 3).toExponential(3).replace('.', '\\.').replace('+', '\\+')}`),
  );
  const second = JSON.parse(readFileSync(join(fold, 'model_final_checkpoint.json'), 'utf8'));
  assert.equal(second.state.epoch, 3);
  assert.deepEqual(second.state.log.trainLoss.slice(0, 2), firstLosses, 'the log continues, not restarts');

  // Predict one unseen-style case with the trained fold.
  const input = join(root, 'imagesTs');
  mkdirSync(input);
  copyFileSync(
    join(HIPPOCAMPUS, 'imagesTr', CASES[0] as string),
    join(input, (CASES[0] as string).replace('.nii.gz', '_0000.nii.gz')),
  );
  const out = join(root, 'pred');
  run('predict', '-i', input, '-o', out, '-t', '4', '-m', '3d_fullres', '-f', '0', '--disable_tta');
  return readImage(join(out, CASES[0] as string)).then(async (seg) => {
    const img = await readImage(join(input, (CASES[0] as string).replace('.nii.gz', '_0000.nii.gz')));
    assert.deepEqual(seg.geometry, img.geometry);
    assert.deepEqual(seg.shape, img.shape);
  });
});
