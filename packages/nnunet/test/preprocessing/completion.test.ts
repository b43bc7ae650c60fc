/**
 * requireCompletePreprocessing on stage folders written by hand: with a completion record, without
 * one (v1 and older folders: dataset.json decides), with an "in progress" record left by a run
 * that stopped (earlier files do not count), and with the task's preprocessing lock held by a
 * live process, a dead one or one on another host.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  markStageComplete,
  markStageStarted,
  PREPROCESSING_LOCK_FILE,
  PREPROCESSING_STATUS_FILE,
  readStageStatus,
  requireCompletePreprocessing,
} from '../../src/preprocessing/completion.js';
import { processStartTime } from '../../src/util/lock.js';
import { tempDir } from '../helpers.js';

const TASK = 'Task004_Hippocampus';
const ids = (n: number) => Array.from({ length: n }, (_, i) => `case_${String(i).padStart(3, '0')}`);

function writeDatasetJson(pre: string, cases: readonly string[]): void {
  writeFileSync(
    join(pre, 'dataset.json'),
    JSON.stringify({
      name: 'Hippocampus',
      modality: { 0: 'MRI' },
      labels: { 0: 'background', 1: 'Anterior', 2: 'Posterior' },
      numTraining: cases.length,
      training: cases.map((c) => ({ image: `./imagesTr/${c}.nii.gz`, label: `./labelsTr/${c}.nii.gz` })),
      test: [],
    }),
  );
}

/** $nnUNet_preprocessed/TASK with a dataset.json listing `cases` and an empty stage folder. */
function taskFolder(cases: readonly string[]): { pre: string; stage: string } {
  const pre = join(tempDir(), TASK);
  const stage = join(pre, 'nnUNetData_plans_v2.1_stage0');
  mkdirSync(stage, { recursive: true });
  writeDatasetJson(pre, cases);
  return { pre, stage };
}

function writeCase(stage: string, id: string): void {
  writeFileSync(join(stage, `${id}.npy`), 'npy');
  writeFileSync(join(stage, `${id}.json`), '{}');
  // Its reference segmentation, which the final validation reads.
  const gt = join(stage, '..', 'gt_segmentations');
  mkdirSync(gt, { recursive: true });
  writeFileSync(join(gt, `${id}.nii.gz`), 'nii');
}

function refused(pre: string, stage: string, message: RegExp, code = 'ERR_DATASET'): void {
  assert.throws(
    () => requireCompletePreprocessing(pre, stage, TASK),
    (e: Error & { code?: string }) => {
      assert.equal(e.code, code);
      assert.match(e.message, message);
      return true;
    },
  );
}

test('without a record (v1 or older folders), the training cases of dataset.json must all be there', () => {
  const { pre, stage } = taskFolder(ids(9));
  for (const id of ids(2)) writeCase(stage, id);
  writeFileSync(join(stage, 'case_002.npy'), 'npy'); // the .json is missing
  refused(
    pre,
    stage,
    new RegExp(
      `^The preprocessing of ${TASK} in ${stage} is incomplete \\(7 of 9 cases missing: case_002, case_003, case_004, case_005, case_006 and 2 more\\): run nnUNet_plan_and_preprocess -t ${TASK} .*to finish it, then train\\.$`,
    ),
  );
  for (const id of ids(9)) writeCase(stage, id);
  requireCompletePreprocessing(pre, stage, TASK);
  // Without dataset.json nothing can be compared: accepted as it is.
  rmSync(join(pre, 'dataset.json'));
  rmSync(join(stage, 'case_008.npy'));
  requireCompletePreprocessing(pre, stage, TASK);
});

test('a complete record: every case it lists (and every dataset.json case) must still be there', () => {
  const { pre, stage } = taskFolder(ids(4));
  const started = markStageStarted(stage, ids(4));
  for (const id of ids(4)) writeCase(stage, id);
  markStageComplete(stage, started);
  const status = readStageStatus(stage);
  assert.equal(status?.complete, true);
  assert.deepEqual(status?.cases, ids(4));
  requireCompletePreprocessing(pre, stage, TASK);
  rmSync(join(stage, 'case_001.json'));
  refused(pre, stage, /is incomplete \(1 of 4 cases missing: case_001\)/);
  writeCase(stage, 'case_001');
  // A case added to dataset.json after the run (a rerun that stopped before preprocessing).
  writeDatasetJson(pre, ids(5));
  refused(pre, stage, /is incomplete \(1 of 5 cases missing: case_004\)/);
  // The references the final validation needs.
  writeDatasetJson(pre, ids(4));
  rmSync(join(pre, 'gt_segmentations', 'case_002.nii.gz'));
  refused(pre, stage, /gt_segmentations lacks the reference segmentations of 1 of 4 cases \(case_002\)/);
});

test('an "in progress" record is refused even when files of an earlier run fill the folder', () => {
  const { pre, stage } = taskFolder(ids(6));
  for (const id of ids(6)) writeCase(stage, id);
  // The earlier run's files are an hour old; the stopped run rewrote two cases and wrote no record.
  const hourAgo = new Date(Date.now() - 3_600_000);
  for (const id of ids(6)) {
    utimesSync(join(stage, `${id}.npy`), hourAgo, hourAgo);
    utimesSync(join(stage, `${id}.json`), hourAgo, hourAgo);
  }
  markStageStarted(stage, ids(6));
  for (const id of ids(2)) writeCase(stage, id);
  refused(
    pre,
    stage,
    new RegExp(
      `^The preprocessing of ${TASK} in ${stage} did not finish \\(4 of 6 cases not written: case_002, case_003, case_004, case_005\\): run nnUNet_plan_and_preprocess -t ${TASK}`,
    ),
  );
  for (const id of ids(6)) writeCase(stage, id);
  refused(pre, stage, /did not finish \(it stopped before recording that it was complete\)/);
  writeFileSync(join(stage, PREPROCESSING_STATUS_FILE), '{"complete": tr');
  refused(pre, stage, new RegExp(`${PREPROCESSING_STATUS_FILE} is damaged .*run nnUNet_plan_and_preprocess again`));
});

test('a task whose preprocessing lock has a live holder is refused; a dead holder is ignored', () => {
  const { pre, stage } = taskFolder(ids(2));
  for (const id of ids(2)) writeCase(stage, id);
  const lock = join(pre, PREPROCESSING_LOCK_FILE);
  const owner = (pid: number, host = hostname()) =>
    JSON.stringify({
      host,
      pid,
      processStart: processStartTime(pid),
      since: '2026-01-01T00:00:00.000Z',
      command: 'nnUNet_plan_and_preprocess -t 4',
    });
  writeFileSync(lock, owner(process.pid));
  refused(
    pre,
    stage,
    new RegExp(
      `^${TASK} is being preprocessed by nnUNet_plan_and_preprocess -t 4 \\(PID ${process.pid} on ${hostname()}, since 2026-01-01T00:00:00\\.000Z\\): wait for it to finish, then train\\.$`,
    ),
    'ERR_ARGUMENT',
  );
  // On another host the holder cannot be checked: the message says which file to delete if it is gone.
  writeFileSync(lock, owner(process.pid, 'some-other-node'));
  refused(pre, stage, new RegExp(`on some-other-node.*delete ${lock}\\.$`), 'ERR_ARGUMENT');
  // A process that has exited (killed half-way): the lock is stale, the data decide.
  const gone = spawnSync(process.execPath, ['-e', '']);
  assert.equal(gone.status, 0);
  writeFileSync(lock, owner(gone.pid as number).replace(/"processStart":[^,]*/, '"processStart":1'));
  requireCompletePreprocessing(pre, stage, TASK);
});
