/**
 * Incomplete preprocessing is never trained on, with the real commands on 6 hippocampus cases:
 * a run that fails half-way leaves no completion record and nnUNet_train refuses it, listing the
 * missing cases, without freezing them into splits_final.json; while a run is stopped half-way, a
 * second nnUNet_plan_and_preprocess on the task is refused naming the first one's PID and
 * nnUNet_train is refused too; once it is killed (SIGKILL), the files an earlier run left do not
 * make the stage look complete; running the command again takes over the dead locks, finishes,
 * and nnUNet_train accepts the task and splits all 6 cases.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Split } from '../../src/model/configuration.js';
import {
  PREPROCESSING_LOCK_FILE,
  PREPROCESSING_STATUS_FILE,
  readStageStatus,
  requireCompletePreprocessing,
} from '../../src/preprocessing/completion.js';
import { folderEnv, HIPPOCAMPUS, PACKAGE_ROOT, tempDir } from '../helpers.js';

const CLI = (name: string) => join(PACKAGE_ROOT, 'dist', 'src', 'cli', `${name}.js`);
const TASK = 'Task004_Hippocampus';
const CASES = readdirSync(join(HIPPOCAMPUS, 'imagesTr'))
  .sort()
  .slice(0, 6)
  .map((f) => f.replace(/\.nii\.gz$/, ''));
const [C0, , C2, ...LATER] = CASES as [string, string, string, ...string[]];

/** The raw task as nnUNet_convert_decathlon_task writes it (one 3-D file per modality). */
function rawTask(base: string): void {
  const task = join(base, 'nnUNet_raw_data', TASK);
  for (const d of ['imagesTr', 'labelsTr']) mkdirSync(join(task, d), { recursive: true });
  for (const c of CASES) {
    copyFileSync(join(HIPPOCAMPUS, 'imagesTr', `${c}.nii.gz`), join(task, 'imagesTr', `${c}_0000.nii.gz`));
    copyFileSync(join(HIPPOCAMPUS, 'labelsTr', `${c}.nii.gz`), join(task, 'labelsTr', `${c}.nii.gz`));
  }
  const ds = JSON.parse(readFileSync(join(HIPPOCAMPUS, 'dataset.json'), 'utf8'));
  ds.training = CASES.map((c) => ({ image: `./imagesTr/${c}.nii.gz`, label: `./labelsTr/${c}.nii.gz` }));
  ds.numTraining = CASES.length;
  ds.test = [];
  writeFileSync(join(task, 'dataset.json'), JSON.stringify(ds));
}

test('plan_and_preprocess: a failed or killed run is refused by nnUNet_train until it is finished; one run per task', {
  timeout: 180_000,
}, async () => {
  const root = tempDir();
  const env = {
    ...folderEnv(root),
  };
  rawTask(env.nnUNet_raw_data_base);
  const pre = join(env.nnUNet_preprocessed, TASK);
  const stage = join(pre, 'nnUNetData_plans_v2.1_stage0');
  const splitsFile = join(pre, 'splits_final.json');
  // One worker: the cases are preprocessed one after the other, in sorted order.
  const ppArgs = ['-t', '4', '-pl2d', 'None', '-tf', '1', '-tl', '1'];
  const run = (name: string, ...args: string[]) =>
    spawnSync(process.execPath, [CLI(name), ...args], { env, encoding: 'utf8' });
  const train = () => run('train', '3d_fullres', 'nnUNetTrainerV2', '4', '0', '-val');
  // The run locks the preprocessed task folder (its cropped folder is only written under that lock).
  const locks = () => [pre].filter((f) => existsSync(join(f, PREPROCESSING_LOCK_FILE)));

  // 1. A case that cannot be written (a folder in its place) stops the run after C0 and C1.
  mkdirSync(join(stage, `${C2}.npy`), { recursive: true });
  const failed = run('plan-and-preprocess', ...ppArgs);
  assert.equal(failed.status, 1, failed.stderr);
  assert.match(failed.stderr, new RegExp(`${C2}\\.npy`));
  assert.equal(readStageStatus(stage)?.complete, false, 'no completion record');
  assert.deepEqual(locks(), [], 'the locks are released when the run fails');
  const refused = train();
  assert.equal(refused.status, 1, refused.stderr);
  assert.match(
    refused.stderr,
    new RegExp(
      `^nnUNet_train: The preprocessing of ${TASK} in ${stage} did not finish \\(4 of 6 cases not written: ${[C2, ...LATER].join(', ')}\\): run nnUNet_plan_and_preprocess -t ${TASK} .*to finish it, then train\\.\\n$`,
    ),
  );
  assert.equal(existsSync(splitsFile), false, 'no split is frozen from the partial data');

  // 2. Running the command again finishes the preprocessing.
  rmSync(join(stage, `${C2}.npy`), { recursive: true });
  const rerun = run('plan-and-preprocess', ...ppArgs);
  assert.equal(rerun.status, 0, rerun.stderr);
  const complete = readStageStatus(stage);
  assert.equal(complete?.complete, true);
  assert.deepEqual(complete?.cases, CASES);
  requireCompletePreprocessing(pre, stage, TASK);

  // 3. A run held half-way: stopped (SIGSTOP) as soon as it holds its lock, then let run in slices of
  // a few milliseconds until its first case is rewritten (a case takes tens of milliseconds).
  const held = spawn(process.execPath, [CLI('plan-and-preprocess'), ...ppArgs], { env, stdio: 'ignore' });
  const exited = new Promise((resolve) => held.on('exit', resolve));
  const previous = Date.parse(complete?.started ?? '');
  const firstRewritten = (): boolean => {
    const s = readStageStatus(stage);
    if (s === null || s.complete || Date.parse(s.started) <= previous) return false;
    const json = join(stage, `${C0}.json`);
    return existsSync(json) && statSync(json).mtimeMs >= statSync(join(stage, PREPROCESSING_STATUS_FILE)).mtimeMs;
  };
  let missing: string[] = [];
  try {
    const deadline = Date.now() + 60_000;
    while (!existsSync(join(pre, PREPROCESSING_LOCK_FILE))) {
      assert.ok(Date.now() < deadline && held.exitCode === null, 'the run takes its lock');
      await sleep(2);
    }
    held.kill('SIGSTOP');
    while (!firstRewritten()) {
      assert.ok(Date.now() < deadline && held.exitCode === null, 'the run reaches its first case');
      held.kill('SIGCONT');
      await sleep(3);
      held.kill('SIGSTOP');
    }
    const second = run('plan-and-preprocess', ...ppArgs);
    assert.equal(second.status, 1, second.stderr);
    assert.match(
      second.stderr,
      new RegExp(
        `The preprocessed data of ${TASK} \\(${pre}\\) is in use by nnUNet_plan_and_preprocess ${ppArgs.join(' ')} \\(PID ${held.pid} on `,
      ),
    );
    const busy = train();
    assert.equal(busy.status, 1, busy.stderr);
    assert.match(
      busy.stderr,
      new RegExp(`${TASK} is being preprocessed by nnUNet_plan_and_preprocess .*\\(PID ${held.pid} on `),
    );
  } finally {
    held.kill('SIGKILL');
    await exited;
  }
  // 4. Killed: its locks stay behind, and the earlier run's files of the cases it did not reach do not count.
  assert.equal(locks().length, 1);
  assert.throws(
    () => requireCompletePreprocessing(pre, stage, TASK),
    (e: Error & { code?: string }) => {
      assert.equal(e.code, 'ERR_DATASET');
      const m = /did not finish \((\d) of 6 cases not written: (.*)\): run nnUNet_plan_and_preprocess/.exec(e.message);
      assert.ok(m !== null, e.message);
      missing = (m[2] as string).split(', ');
      return true;
    },
  );
  // One worker takes the cases in order: a prefix is rewritten, the rest is not (at least C2 and later).
  assert.ok(missing.length >= 4 && missing.length < 6, missing.join());
  assert.deepEqual(missing, CASES.slice(6 - missing.length));
  for (const c of missing) assert.ok(existsSync(join(stage, `${c}.npy`)), `${c} of the earlier run is still there`);

  // 5. The same command again takes over the dead locks and finishes; nnUNet_train accepts the task.
  const finish = run('plan-and-preprocess', ...ppArgs);
  assert.equal(finish.status, 0, finish.stderr);
  assert.match(
    finish.stderr,
    new RegExp(`took over the lock ${pre}/${PREPROCESSING_LOCK_FILE.replace('.', '\\.')} left by .*PID ${held.pid}`),
  );
  assert.deepEqual(locks(), []);
  assert.equal(readStageStatus(stage)?.complete, true);
  const accepted = train();
  assert.doesNotMatch(accepted.stderr, /preprocess/, 'no complaint about the preprocessing');
  const splits = JSON.parse(readFileSync(splitsFile, 'utf8')) as Split[];
  assert.deepEqual(splits.flatMap((s) => s.val).sort(), CASES, 'the split covers all 6 cases');
});
