/**
 * Training from the command line on a tiny real task (10 bundled hippocampus cases, converted,
 * planned and preprocessed once), what a finished fold holds, and nothing lost in training, with real signals to real nnUNet_train processes on a tiny task:
 * an uninterrupted seeded run, the same run stopped by SIGTERM mid-epoch and continued with -c
 * (schedule restored from the checkpoint), and the same run killed with SIGKILL and continued from
 * its last model_latest end with byte-identical weights. A second process on the fold is refused
 * while the first runs; the dead one's lock is taken over. Two Ctrl-Cs exit at once, leaving no
 * partial file; the log shows progress lines although stderr is not a terminal. A full disk
 * (a small tmpfs) while saving is one sentence and leaves the earlier checkpoint intact. The
 * README's Slurm job script forwards USR1 and requeues on exit code 75.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { readImage } from '../../src/io/image.js';
import { readCheckpointSet } from '../../src/model/checkpoint-set.js';
import { PACKAGE_ROOT } from '../helpers.js';
import { CLI, preparedWorkspace, Running, ScriptRun, type Workspace } from './cli-harness.js';

let shared: Workspace | undefined;
const workspace = () => {
  shared ??= preparedWorkspace();
  return shared;
};

const SCHEDULE = ['--epochs', '2', '--iters-per-epoch', '3', '--val-iters-per-epoch', '1'];
// No test-time mirroring keeps the final validation short; the training recipe is nnUNetTrainerV2's.
const TRAINER = 'nnUNetTrainerV2_noMirroring';
const COMMON = ['3d_fullres', TRAINER, '4', '0', '--seed', '7'];
const BASE = [...COMMON, '--disable_postprocessing_on_folds'];

function weights(fold: string, name = 'model_final_checkpoint'): Buffer {
  const json = JSON.parse(readFileSync(join(fold, `${name}.json`), 'utf8'));
  return readFileSync(join(fold, json.weights));
}

function status(fold: string): { status: string; epoch: number; iteration: number; message: string } {
  return JSON.parse(readFileSync(join(fold, 'training_status.json'), 'utf8'));
}

function leftovers(fold: string): string[] {
  return readdirSync(fold).filter((f) => f.includes('.tmp-') || f.endsWith('.next'));
}

test('SIGTERM and SIGKILL at chosen iterations, continued with -c, end with the weights of an uninterrupted run', {
  timeout: 600_000,
}, async () => {
  const ws = workspace();
  const fold = ws.fold(0, TRAINER);

  // The reference: uninterrupted, with what v1's nnUNet_train leaves in a fold (softmax kept with
  // --npz, the fold's postprocessing decided).
  ws.run('train', [...COMMON, '--npz', ...SCHEDULE]);
  const reference = weights(fold);
  assert.equal(status(fold).status, 'complete');
  for (const f of [
    'model_final_checkpoint.safetensors',
    'model_final_checkpoint.optimizer.safetensors',
    'model_best.json',
    'model_latest.json',
    'progress.png',
    'debug.json',
    'validation_raw/summary.json',
    'postprocessing.json',
    'validation_raw_postprocessed/summary.json',
    '../gt_niftis/hippocampus_001.nii.gz',
  ]) {
    assert.ok(existsSync(join(fold, f)), f);
  }
  const splits = JSON.parse(
    readFileSync(join(ws.env.nnUNet_preprocessed as string, 'Task004_Hippocampus', 'splits_final.json'), 'utf8'),
  );
  assert.equal(splits.length, 5);
  const valFiles = readdirSync(join(fold, 'validation_raw'));
  assert.deepEqual(
    valFiles.filter((f) => f.endsWith('.nii.gz')).sort(),
    (splits[0].val as string[]).map((c) => `${c}.nii.gz`).sort(),
  );
  assert.ok(
    valFiles.some((f) => f.endsWith('.npz')),
    '--npz keeps the softmax',
  );
  const final = JSON.parse(readFileSync(join(fold, 'model_final_checkpoint.json'), 'utf8'));
  assert.deepEqual([final.state.epoch, final.state.log.trainLoss.length], [2, 2]);

  // SIGTERM during epoch 1: stops after the current iteration with that position saved, exit 75.
  const termed = new Running('train', [...BASE, ...SCHEDULE], ws.env);
  await termed.waitFor(/epoch 1 train 1\/3/);
  termed.child.kill('SIGTERM');
  const t = await termed.done;
  assert.equal(t.code, 75, termed.stderr);
  assert.match(termed.stderr, /SIGTERM: saving the exact position/);
  // A plain progress line per iteration (NNUNET_PROGRESS_SECONDS=0) with loss, speed and time left.
  assert.match(termed.stderr, /epoch 0 train 1\/3, loss \d\.\d{4}, [\d.]+ (it\/s|s\/it), \d+s left/);
  const st = status(fold);
  assert.equal(st.status, 'interrupted');
  assert.equal(st.epoch, 1);
  assert.ok(st.iteration >= 1 && st.iteration <= 3, `iteration ${st.iteration}`);
  assert.match(
    st.message,
    /continue with nnUNet_train 3d_fullres nnUNetTrainerV2_noMirroring Task004_Hippocampus 0 -c/,
  );
  assert.ok(!existsSync(join(fold, 'model_final_checkpoint.json')), 'an interrupted run has no final checkpoint');
  const latest = JSON.parse(readFileSync(join(fold, 'model_latest.json'), 'utf8'));
  assert.deepEqual([latest.state.epoch, latest.state.iteration], [1, st.iteration]);
  assert.deepEqual(leftovers(fold), []);
  // The fresh run moved the reference run's checkpoints aside instead of deleting them.
  const aside = readdirSync(fold).filter((f) => f.startsWith('earlier_run_'));
  assert.equal(aside.length, 1);
  assert.ok(weights(join(fold, aside[0] as string)).equals(reference), 'the earlier run is kept whole');
  // -val validates a finished training only, never a mid-epoch model_latest.
  const val = ws.run('train', [...BASE, '-val'], 1);
  assert.match(
    val.stderr,
    /model_final_checkpoint\.json does not exist: the fold has not finished training; continue it with -c first\./,
  );
  // -c without the schedule options restores them from the checkpoint.
  const resumed = ws.run('train', [...BASE, '-c']);
  assert.match(
    resumed.stderr,
    new RegExp(
      `continuing from model_latest at epoch 1, iteration ${st.iteration} in (float32|bfloat16) \\(as the run was started\\); schedule: 2 epochs \\(as the run was started\\), 3 iterations per epoch \\(as the run was started\\)`,
    ),
  );
  assert.ok(weights(fold).equals(reference), 'SIGTERM + -c: final weights differ from the uninterrupted run');
  assert.equal(status(fold).status, 'complete');

  // SIGKILL during epoch 1 (after model_latest of epoch 0); meanwhile a second process is refused.
  const killed = new Running('train', [...BASE, ...SCHEDULE], ws.env);
  await killed.waitFor(/epoch 1 train 1\/3/);
  const second = ws.run('train', [...BASE, ...SCHEDULE], 1);
  assert.match(
    second.stderr,
    new RegExp(
      `^nnUNet_train: Fold 0 of .* is in use by nnUNet_train 3d_fullres ${TRAINER} Task004_Hippocampus 0 \\(PID ${killed.child.pid} on .*\\); wait for it to finish\\.\\n$`,
    ),
  );
  killed.child.kill('SIGKILL');
  await killed.done;
  assert.equal(status(fold).status, 'training', 'a killed run never looks finished');
  // Continued; a SIGTERM during the final validation exits 75 with the training saved.
  const afterKill = new Running('train', [...BASE, '-c'], ws.env);
  await afterKill.waitFor(/validating \d+ cases into validation_raw/);
  afterKill.child.kill('SIGTERM');
  assert.equal((await afterKill.done).code, 75, afterKill.stderr);
  assert.match(afterKill.stderr, new RegExp(`took over the lock .* \\(PID ${killed.child.pid} on`));
  assert.match(afterKill.stderr, /continuing from model_latest at the end of epoch 0/);
  assert.match(afterKill.stderr, /SIGTERM during the final validation: exiting; the training is saved/);
  assert.ok(weights(fold).equals(reference), 'SIGKILL + -c: final weights differ from the uninterrupted run');
  assert.equal(status(fold).status, 'trained');
  // -c on the finished training only validates.
  const validated = ws.run('train', [...BASE, '-c']);
  assert.match(validated.stderr, /nothing left to train/);
  assert.equal(status(fold).status, 'complete');
  assert.deepEqual(leftovers(fold), []);

  // The trained fold exported, installed elsewhere and used: the optimizer state an export leaves
  // out is not needed to predict.
  const zip = join(ws.root, 'model.zip');
  ws.run('export-model-to-zip', [
    '-t',
    '4',
    '-o',
    zip,
    '-m',
    '3d_fullres',
    '-tr',
    TRAINER,
    '-f',
    '0',
    '--disable_strict',
  ]);
  const elsewhere = { ...ws.env, RESULTS_FOLDER: join(ws.root, 'installed') };
  mkdirSync(elsewhere.RESULTS_FOLDER);
  const install = spawnSync(process.execPath, [CLI('install-pretrained-model-from-zip'), zip], {
    env: elsewhere,
    encoding: 'utf8',
  });
  assert.equal(install.status, 0, install.stderr);
  const input = join(ws.root, 'one-case');
  mkdirSync(input);
  const raw = join(ws.env.nnUNet_raw_data_base as string, 'nnUNet_raw_data', 'Task004_Hippocampus', 'imagesTr');
  const first = readdirSync(raw).sort()[0] as string;
  copyFileSync(join(raw, first), join(input, first));
  const out = join(ws.root, 'installed-pred');
  const pred = spawnSync(
    process.execPath,
    [CLI('predict'), '-i', input, '-o', out, '-t', '4', '-m', '3d_fullres', '-tr', TRAINER, '-f', '0'],
    { env: elsewhere, encoding: 'utf8' },
  );
  assert.equal(pred.status, 0, pred.stderr);
  const seg = await readImage(join(out, first.replace('_0000.nii.gz', '.nii.gz')));
  const img = await readImage(join(input, first));
  assert.deepEqual(seg.geometry, img.geometry);
  assert.deepEqual(seg.shape, img.shape);
});

test('two Ctrl-Cs exit at once (130) without partial files; the fold does not look finished', {
  timeout: 300_000,
}, async () => {
  const ws = workspace();
  const fold = ws.fold(1, TRAINER);
  const run = new Running(
    'train',
    ['3d_fullres', TRAINER, '4', '1', '--epochs', '50', '--iters-per-epoch', '3', '--val-iters-per-epoch', '1'],
    ws.env,
  );
  await run.waitFor(/epoch 0 train 1\/3/);
  run.child.kill('SIGINT');
  await run.waitFor(/stopping after this epoch/);
  run.child.kill('SIGINT');
  const r = await run.done;
  assert.equal(r.code, 130, run.stderr);
  assert.deepEqual(leftovers(fold), []);
  assert.ok(!existsSync(join(fold, 'model_final_checkpoint.json')));
  assert.ok(!existsSync(join(fold, '.nnunet-train.lock')), 'the lock is released on exit');
  assert.notEqual(status(fold).status, 'complete');
});

test('a full disk while saving model_latest: one sentence, exit 1, model_best intact, the fold says failed', {
  timeout: 300_000,
}, (t) => {
  const ws = workspace();
  // The size of one checkpoint set of this network, from the first test's fold.
  const set = ['model_best.json', 'model_best.safetensors', 'model_best.optimizer.safetensors'];
  const reference = ws.fold(0, TRAINER);
  if (!existsSync(join(reference, set[0] as string))) {
    t.skip('needs the fold trained by the first test');
    return;
  }
  const setBytes = set.reduce((n, f) => n + statSync(join(reference, f)).size, 0);
  const results = join(ws.root, 'small-results');
  mkdirSync(results);
  // Room for one set and a half: model_best fits, model_latest does not.
  const size = Math.ceil((setBytes * 1.5) / 4096) * 4096;
  const m = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', results], { encoding: 'utf8' });
  if (m.status !== 0) {
    t.skip(`cannot mount a tmpfs here (${m.stderr.trim()}); the full-disk training test needs root`);
    return;
  }
  try {
    const r = spawnSync(process.execPath, [CLI('train'), ...BASE, ...SCHEDULE], {
      env: { ...ws.env, RESULTS_FOLDER: results },
      encoding: 'utf8',
    });
    assert.equal(r.status, 1, r.stderr);
    assert.doesNotMatch(r.stderr, /internal error|\n\s+at /);
    assert.match(
      r.stderr,
      /\nnnUNet_train: Cannot write .*model_latest\..*: the disk is full \(the file needs [\d.]+ [KM]iB, [\d.]+ [KM]?i?B are free on that file system\); free some space and run the command again\.\n$/,
    );
    const fold = join(results, 'nnUNet', '3d_fullres', 'Task004_Hippocampus', `${TRAINER}__nnUNetPlansv2.1`, 'fold_0');
    const best = readCheckpointSet(fold, 'model_best');
    assert.equal(best.files.size, 2, 'model_best is complete and verifies');
    assert.deepEqual(leftovers(fold), []);
    assert.equal(status(fold).status, 'failed');
    assert.match(status(fold).message, /the disk is full/);
  } finally {
    spawnSync('umount', [results]);
  }
});

test("the README's Slurm job script: USR1 to the batch shell reaches nnUNet_train, which saves and exits 75; the script requeues", {
  timeout: 300_000,
}, async () => {
  const ws = workspace();
  const readme = readFileSync(join(PACKAGE_ROOT, '..', '..', 'README.md'), 'utf8');
  const block = /```sh\n( *)(#SBATCH --signal=B:USR1@300[\s\S]*?)```/.exec(readme);
  assert.ok(block !== null, 'README has the job script');
  const indent = new RegExp(`^${block[1]}`, 'gm');
  const body = (block[2] as string).replace(indent, '');
  const bin = join(ws.root, 'fakebin');
  mkdirSync(bin);
  const calls = join(ws.root, 'scontrol.log');
  // nnUNet_train from this build; scontrol records what it was asked to do.
  writeFileSync(join(bin, 'nnUNet_train'), `#!/bin/sh\nexec "${process.execPath}" "${CLI('train')}" "$@"\n`, {
    mode: 0o755,
  });
  writeFileSync(join(bin, 'scontrol'), `#!/bin/sh\necho "$@" >> "${calls}"\n`, { mode: 0o755 });
  const script = join(ws.root, 'job.sh');
  writeFileSync(script, `#!/bin/bash\n${body}`);
  const job = new ScriptRun(script, { ...ws.env, PATH: `${bin}:${ws.env.PATH}`, SLURM_JOB_ID: '4711' });
  // The README's command: -c on a fold without checkpoints starts it.
  await job.waitFor(/epoch 0 train 1\/250/);
  job.child.kill('SIGUSR1');
  const r = await job.done;
  assert.equal(r.code, 75, job.stderr);
  assert.match(job.stderr, /has no checkpoint yet, so this run starts the fold/);
  assert.match(job.stderr, /SIGUSR1: saving the exact position/);
  assert.equal(readFileSync(calls, 'utf8'), 'requeue 4711\n');
  assert.equal(status(ws.fold(0)).status, 'interrupted');
});
