/**
 * nnUNet_slurm_submit --dry-run: the scripts and the job graph of a whole experiment, without a
 * Slurm cluster (the submission itself runs against a real one in `make test-slurm`).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { PACKAGE_ROOT, tempDir } from '../helpers.js';

const CLI = join(PACKAGE_ROOT, 'dist', 'src', 'cli', 'slurm-submit.js');

test('--dry-run writes every script and prints the job graph; complete folds are left out', () => {
  const root = tempDir();
  const env = {
    ...process.env,
    RESULTS_FOLDER: join(root, 'results'),
    nnUNet_raw_data_base: join(root, 'raw'),
    nnUNet_preprocessed: join(root, 'pre'),
  };
  mkdirSync(join(root, 'raw', 'nnUNet_raw_data', 'Task004_Hippocampus'), { recursive: true });
  // Fold 1 of 3d_fullres is complete: it must not be trained again.
  const done = join(
    root,
    'results',
    'nnUNet',
    '3d_fullres',
    'Task004_Hippocampus',
    'nnUNetTrainerV2__nnUNetPlansv2.1',
    'fold_1',
  );
  mkdirSync(done, { recursive: true });
  writeFileSync(join(done, 'training_status.json'), JSON.stringify({ status: 'complete' }));
  const args = [
    '-t',
    '4',
    '-m',
    '3d_fullres',
    '3d_lowres',
    '3d_cascade_fullres',
    '-f',
    '0',
    '1',
    '--time',
    '02:00:00',
    '--gres',
    'gpu:1',
    '-i',
    join(root, 'in'),
    '-o',
    join(root, 'out'),
    '--train_args=--epochs 3 -num_gpus 2',
    '--dry-run',
  ];
  const r = spawnSync(process.execPath, [CLI, ...args], { env, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /3d_fullres: folds 1 are complete and left out/);
  const folder = join(root, 'results', 'nnUNet', 'slurm', 'Task004_Hippocampus');
  const graph = r.stdout.slice(r.stdout.indexOf('# ---- the job graph')).trim().split('\n').slice(1);
  assert.equal(graph.length, 5);
  const [fullres, lowres, cascade, findBest, predict] = graph as [string, string, string, string, string];
  assert.match(fullres, /--array=0 --signal=B:USR1@300 --requeue --time=02:00:00 --gres=gpu:1 .*train_3d_fullres\.sh$/);
  assert.match(lowres, /--array=0,1 /);
  assert.match(cascade, /'--dependency=afterok:<train_3d_lowres>' --kill-on-invalid-dep=yes/);
  assert.match(findBest, /'--dependency=afterok:<train_3d_fullres>:<train_3d_lowres>:<train_3d_cascade_fullres>'/);
  assert.match(predict, /'--dependency=afterok:<find_best>'/);
  for (const name of ['train_3d_fullres', 'train_3d_lowres', 'train_3d_cascade_fullres', 'find_best', 'predict']) {
    const path = join(folder, `${name}.sh`);
    assert.ok(statSync(path).mode & 0o100, `${name}.sh is executable`);
    assert.equal(spawnSync('bash', ['-n', path]).status, 0, `${name}.sh is valid bash`);
  }
  const train = readFileSync(join(folder, 'train_3d_fullres.sh'), 'utf8');
  assert.match(
    train,
    /nnUNet_train 3d_fullres nnUNetTrainerV2 Task004_Hippocampus "\$fold" -c --npz --epochs 3 -num_gpus 2 & pid=\$!/,
  );
  assert.match(train, /trap 'signalled=1; kill -USR1 \$pid' USR1/);
  assert.match(train, /scontrol requeue "\$SLURM_JOB_ID"/);
  // The wrappers run this installation's commands.
  const wrapper = join(folder, 'bin', 'nnUNet_train');
  const help = spawnSync(wrapper, ['-h'], { encoding: 'utf8' });
  assert.equal(help.status, 0, help.stderr);
  assert.match(help.stdout, /usage: nnUNet_train/);
  assert.ok(!existsSync(join(folder, 'submission.json')), 'a dry run submits nothing');
});

test('bad requests are one sentence: -i without -o, the cascade without 3d_lowres, no sbatch', () => {
  const root = tempDir();
  const env = { ...process.env, RESULTS_FOLDER: root, nnUNet_raw_data_base: root, PATH: '/nonexistent' };
  mkdirSync(join(root, 'nnUNet_raw_data', 'Task004_Hippocampus'), { recursive: true });
  const run = (...a: string[]) => spawnSync(process.execPath, [CLI, ...a], { env, encoding: 'utf8' });
  const noOut = run('-t', '4', '-m', '3d_fullres', '-i', root);
  assert.equal(noOut.status, 1);
  assert.match(noOut.stderr, /Give both -i INPUT and -o OUTPUT/);
  const cascade = run('-t', '4', '-m', '3d_cascade_fullres');
  assert.match(cascade.stderr, /3d_cascade_fullres needs 3d_lowres trained first/);
  const noSlurm = run('-t', '4', '-m', '3d_fullres');
  assert.equal(noSlurm.status, 1);
  assert.match(
    noSlurm.stderr,
    /^nnUNet_slurm_submit: sbatch could not be run \(ENOENT\): run nnUNet_slurm_submit on a Slurm login node/,
  );
  assert.doesNotMatch(noSlurm.stderr, /\n\s+at /, 'no stack trace');
});
