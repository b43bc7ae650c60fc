/**
 * Whether a task's preprocessed data is whole. nnUNet_plan_and_preprocess records, per stage
 * folder, which run wrote it in PREPROCESSING_STATUS_FILE: when a stage starts, an "in progress"
 * record replaces any earlier one (so a stage is never complete while it is being rewritten), and
 * only after every case of the stage is written does the "complete" record, listing the cases,
 * replace it (both atomically). While it runs, the run holds PREPROCESSING_LOCK_FILE in the
 * preprocessed task folder (and in the cropped one). nnUNet_train checks all this before it reads
 * or creates the split, so that a run that failed or was killed half-way is never trained on.
 * Stage folders without a record (nnU-Net v1's, or from versions before it) are checked against
 * the training cases of the task's dataset.json instead.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { NnunetError } from '../errors.js';
import { caseIdOf, readDatasetJson } from '../io/dataset-json.js';
import { writeJsonAtomic } from '../util/atomic.js';
import { ownerIsDead, readLockOwner } from '../util/lock.js';

/** The record of the run that wrote a stage folder, in the stage folder. */
export const PREPROCESSING_STATUS_FILE = 'preprocessing_status.json';
/** The lock nnUNet_plan_and_preprocess holds in $nnUNet_preprocessed/TASK and the cropped task folder. */
export const PREPROCESSING_LOCK_FILE = '.nnunet-preprocess.lock';
/** How many case identifiers a message names before it says "and N more". */
const LISTED_CASES = 5;

export interface StageStatus {
  /** True once every case in `cases` was written by the run that started at `started`. */
  complete: boolean;
  /** When the run started the stage (ISO time). */
  started: string;
  /** When it finished (ISO time), for a complete stage. */
  finished?: string;
  /** The cases of the stage. */
  cases: string[];
}

/** Replaces the stage's record by an "in progress" one listing `cases`; returns it. */
export function markStageStarted(stageFolder: string, cases: readonly string[]): StageStatus {
  const status: StageStatus = { complete: false, started: new Date().toISOString(), cases: [...cases] };
  writeJsonAtomic(join(stageFolder, PREPROCESSING_STATUS_FILE), status);
  return status;
}

/** Records that every case of `started` is written. */
export function markStageComplete(stageFolder: string, started: StageStatus): void {
  const status: StageStatus = { ...started, complete: true, finished: new Date().toISOString() };
  writeJsonAtomic(join(stageFolder, PREPROCESSING_STATUS_FILE), status);
}

/** The stage folder's record, or null when it has none; a damaged record is an error naming the file. */
export function readStageStatus(stageFolder: string): StageStatus | null {
  const path = join(stageFolder, PREPROCESSING_STATUS_FILE);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new NnunetError('ERR_DATASET', `Cannot read ${path} (${(e as Error).message}): check its permissions.`, {
      cause: e,
    });
  }
  let v: Partial<StageStatus>;
  try {
    v = JSON.parse(text) as Partial<StageStatus>;
  } catch {
    v = {};
  }
  if (
    typeof v.complete !== 'boolean' ||
    typeof v.started !== 'string' ||
    !Array.isArray(v.cases) ||
    v.cases.some((c) => typeof c !== 'string')
  ) {
    throw new NnunetError(
      'ERR_DATASET',
      `${path} is damaged (not the record nnUNet_plan_and_preprocess writes): run nnUNet_plan_and_preprocess again for this task.`,
    );
  }
  return {
    complete: v.complete,
    started: v.started,
    ...(typeof v.finished === 'string' ? { finished: v.finished } : {}),
    cases: v.cases,
  };
}

function listCases(ids: readonly string[]): string {
  const shown = ids.slice(0, LISTED_CASES).join(', ');
  return ids.length > LISTED_CASES ? `${shown} and ${ids.length - LISTED_CASES} more` : shown;
}

/** Throws when nnUNet_plan_and_preprocess holds the task's lock (a live holder, or one that cannot be checked). */
function refuseWhilePreprocessing(preprocessedFolder: string, task: string): void {
  const path = join(preprocessedFolder, PREPROCESSING_LOCK_FILE);
  if (!existsSync(path)) return;
  const owner = readLockOwner(path);
  if (owner !== null && ownerIsDead(owner)) return;
  const who =
    owner === null
      ? `a process that left an unreadable lock file ${path}`
      : `${owner.command} (PID ${owner.pid} on ${owner.host}, since ${owner.since})`;
  throw new NnunetError(
    'ERR_ARGUMENT',
    `${task} is being preprocessed by ${who}: wait for it to finish, then train${owner === null || owner.host !== hostname() ? `, or if no nnUNet_plan_and_preprocess is running for it, delete ${path}` : ''}.`,
  );
}

/** The training cases of the preprocessed folder's dataset.json, or null without one. */
function datasetCases(preprocessedFolder: string): string[] | null {
  const path = join(preprocessedFolder, 'dataset.json');
  if (!existsSync(path)) return null;
  return readDatasetJson(path).training.map((t) => caseIdOf(t.image));
}

function hasCase(dataFolder: string, id: string): boolean {
  return existsSync(join(dataFolder, `${id}.npy`)) && existsSync(join(dataFolder, `${id}.json`));
}

/** Whether the case's files were written before `since` (ms), i.e. by an earlier run. */
function olderThan(dataFolder: string, id: string, since: number): boolean {
  try {
    return (
      statSync(join(dataFolder, `${id}.npy`)).mtimeMs < since ||
      statSync(join(dataFolder, `${id}.json`)).mtimeMs < since
    );
  } catch {
    return true;
  }
}

/**
 * Refuses to train on preprocessed data that is not whole: `dataFolder` (a stage folder of
 * `preprocessedFolder`, i.e. $nnUNet_preprocessed/`task`) while nnUNet_plan_and_preprocess runs on
 * the task, when the run that wrote it stopped before the end, or when cases of its record or of
 * the task's dataset.json are missing. Each refusal is one sentence naming the folder, the missing
 * cases (the first few) and the command that finishes the preprocessing.
 */
export function requireCompletePreprocessing(preprocessedFolder: string, dataFolder: string, task: string): void {
  refuseWhilePreprocessing(preprocessedFolder, task);
  const finish = `run nnUNet_plan_and_preprocess -t ${task} (with the same planner options as before) to finish it, then train`;
  const status = readStageStatus(dataFolder);
  const fromDataset = datasetCases(preprocessedFolder);
  const expected = [...new Set([...(status?.cases ?? []), ...(fromDataset ?? [])])];
  const missing = expected.filter((id) => !hasCase(dataFolder, id));
  if (status !== null && !status.complete) {
    // Files of an earlier run may still be there: those older than the record are not the stopped
    // run's output. The record's own mtime, not its clock time, is compared: file times come from
    // the file system's clock (coarse, or the server's on NFS).
    const since = statSync(join(dataFolder, PREPROCESSING_STATUS_FILE)).mtimeMs;
    const notWritten = expected.filter((id) => !hasCase(dataFolder, id) || olderThan(dataFolder, id, since));
    throw new NnunetError(
      'ERR_DATASET',
      `The preprocessing of ${task} in ${dataFolder} did not finish (${
        notWritten.length > 0
          ? `${notWritten.length} of ${expected.length} cases not written: ${listCases(notWritten)}`
          : 'it stopped before recording that it was complete'
      }): ${finish}.`,
    );
  }
  if (missing.length > 0) {
    throw new NnunetError(
      'ERR_DATASET',
      `The preprocessing of ${task} in ${dataFolder} is incomplete (${missing.length} of ${expected.length} cases missing: ${listCases(missing)}): ${finish}.`,
    );
  }
  // The final validation compares with the references in gt_segmentations.
  const gt = join(preprocessedFolder, 'gt_segmentations');
  const noReference = existsSync(gt)
    ? expected.filter((id) => !existsSync(join(gt, `${id}.nii.gz`)) && !existsSync(join(gt, `${id}.nii`)))
    : expected;
  if (noReference.length > 0) {
    throw new NnunetError(
      'ERR_DATASET',
      `${gt} lacks the reference segmentations of ${noReference.length} of ${expected.length} cases (${listCases(noReference)}): ${finish}.`,
    );
  }
}
