/**
 * nnUNet_plan_and_preprocess as a library function: per task, optionally verify the raw data,
 * crop it, fingerprint it and copy the fingerprint to $nnUNet_preprocessed/TASK, then run the 3-D
 * and 2-D planners (each may be skipped with null, v1's "None") and preprocess every plans stage.
 * Each task's cropped and preprocessed folders are locked for the run (a second run on the task is
 * refused, naming the first), and each stage is recorded complete only once all its cases are
 * written (preprocessing/completion.ts), which nnUNet_train checks.
 */
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { analyzeDataset, croppedCaseIds } from '../fingerprint/analyze.js';
import { cropTask } from '../fingerprint/crop-task.js';
import { readDatasetJson } from '../io/dataset-json.js';
import { verifyDatasetIntegrity } from '../io/verify.js';
import { requireEnvFolder, resolveTaskName } from '../model/paths.js';
import type { Plans, StagePlan } from '../model/plans.js';
import { planTask } from '../planning/plan-from-fingerprint.js';
import { getPlanner } from '../planning/registry.js';
import { markStageStarted, PREPROCESSING_LOCK_FILE } from '../preprocessing/completion.js';
import { preprocessStages, settingsFromPlans } from '../preprocessing/preprocess.js';
import { copyFileAtomic } from '../util/atomic.js';
import { acquireFolderLock, type FolderLock, takeoverNote } from '../util/lock.js';

export const DEFAULT_PLANNER_3D = 'ExperimentPlanner3D_v21';
export const DEFAULT_PLANNER_2D = 'ExperimentPlanner2D_v21';

export type Step = 'verify' | 'crop' | 'fingerprint' | 'plan' | 'preprocess';

export interface PlanAndPreprocessOptions {
  env?: Readonly<Record<string, string | undefined>>;
  /** Planner class names, or null for none (v1's "None"). */
  planner3d?: string | null;
  planner2d?: string | null;
  verifyDatasetIntegrity?: boolean;
  /** Worker threads for cropping and fingerprinting (v1's -tf). */
  workersFullres?: number;
  /** Worker threads for low-resolution preprocessing (v1's -tl). */
  workersLowres?: number;
  /** Plan only (v1's -no_pp). */
  noPreprocessing?: boolean;
  onStep?: (task: string, step: Step) => void;
  /** Non-fatal findings (e.g. mixed orientations), one sentence each. */
  onWarning?: (message: string) => void;
  onProgress?: (task: string, step: Step, done: number, total: number) => void;
  /** What the task's lock says holds it (default "nnUNet_plan_and_preprocess -t TASK"). */
  command?: string;
}

export interface TaskOutcome {
  task: string;
  croppedFolder: string;
  preprocessedFolder: string;
}

export async function planAndPreprocess(
  taskIds: readonly (string | number)[],
  options: PlanAndPreprocessOptions = {},
): Promise<TaskOutcome[]> {
  const env = options.env ?? process.env;
  const planners = [
    options.planner3d === undefined ? DEFAULT_PLANNER_3D : options.planner3d,
    options.planner2d === undefined ? DEFAULT_PLANNER_2D : options.planner2d,
  ].filter((p): p is string => p !== null);
  // Unknown planner names fail before any work is done.
  for (const p of planners) getPlanner(p);
  const rawBase = requireEnvFolder('nnUNet_raw_data_base', env);
  const rawRoot = join(rawBase, 'nnUNet_raw_data');
  const preprocessedRoot = requireEnvFolder('nnUNet_preprocessed', env);
  const outcomes: TaskOutcome[] = [];
  for (const id of taskIds) {
    const task = resolveTaskName(id, env);
    const preprocessedFolder = join(preprocessedRoot, task);
    // A task without raw data fails here, before its locks create any folder.
    readDatasetJson(join(rawRoot, task, 'dataset.json'));
    const locks = lockTask(task, preprocessedFolder, options.command);
    try {
      for (const lock of locks) {
        const note = takeoverNote(lock);
        if (note !== null) options.onWarning?.(note);
      }
      const croppedFolder = await planAndPreprocessTask(task, rawRoot, preprocessedFolder, planners, options);
      outcomes.push({ task, croppedFolder, preprocessedFolder });
    } finally {
      for (const lock of locks.reverse()) lock.release();
    }
  }
  return outcomes;
}

/**
 * Holds the task's preprocessed folder against a second nnUNet_plan_and_preprocess of the task
 * (which writes the same cropped and preprocessed folders) and, through
 * requireCompletePreprocessing, against nnUNet_train, for the whole run. The cropped folder is only
 * created by the run itself, so a run refused here (or by the integrity check) leaves none behind.
 */
function lockTask(task: string, preprocessedFolder: string, command?: string): FolderLock[] {
  mkdirSync(preprocessedFolder, { recursive: true });
  return [
    acquireFolderLock(preprocessedFolder, {
      name: PREPROCESSING_LOCK_FILE,
      command: command ?? `nnUNet_plan_and_preprocess -t ${task}`,
      what: `The preprocessed data of ${task} (${preprocessedFolder})`,
    }),
  ];
}

/** One task's steps, under its locks; returns the cropped-data folder. */
async function planAndPreprocessTask(
  task: string,
  rawRoot: string,
  preprocessedFolder: string,
  planners: readonly string[],
  options: PlanAndPreprocessOptions,
): Promise<string> {
  const env = options.env ?? process.env;
  const rawTask = join(rawRoot, task);
  const progress = (step: Step) => (done: number, total: number) => options.onProgress?.(task, step, done, total);
  if (options.verifyDatasetIntegrity) {
    options.onStep?.(task, 'verify');
    await verifyDatasetIntegrity(rawTask, {
      ...(options.workersFullres ? { workers: options.workersFullres } : {}),
      onProgress: progress('verify'),
    });
  }
  options.onStep?.(task, 'crop');
  const croppedFolder = await cropTask(task, {
    env,
    ...(options.workersFullres ? { workers: options.workersFullres } : {}),
    onProgress: progress('crop'),
  });
  options.onStep?.(task, 'fingerprint');
  analyzeDataset(croppedFolder, { onProgress: progress('fingerprint') });
  // Whole-file copies: requireCompletePreprocessing reads dataset.json, and a killed copy must not leave half of it.
  for (const f of ['dataset_properties.json', 'dataset.json'])
    copyFileAtomic(join(croppedFolder, f), join(preprocessedFolder, f));
  for (const planner of planners) {
    options.onStep?.(task, 'plan');
    const { plans } = planTask(planner, croppedFolder, preprocessedFolder);
    if (options.noPreprocessing) continue;
    options.onStep?.(task, 'preprocess');
    await preprocessWithPlans(plans, croppedFolder, preprocessedFolder, {
      workersFullres: options.workersFullres ?? 8,
      workersLowres: options.workersLowres ?? 8,
      onProgress: progress('preprocess'),
    });
  }
  return croppedFolder;
}

/**
 * v1's run_preprocessing: copies gt_segmentations next to the plans and preprocesses every stage
 * into <data_identifier>_stage<N> (a two-stage 3-D plan runs its low-resolution stage with the
 * -tl worker count and the full-resolution stage with -tf).
 */
export async function preprocessWithPlans(
  plans: Plans,
  croppedFolder: string,
  preprocessedFolder: string,
  o: { workersFullres: number; workersLowres: number; onProgress?: (done: number, total: number) => void },
): Promise<void> {
  const stageKeys = Object.keys(plans.plans_per_stage).sort((a, b) => Number(a) - Number(b));
  const stages = stageKeys.map((k, i) => ({
    outFolder: join(preprocessedFolder, `${plans.data_identifier}_stage${k}`),
    targetSpacing: [...(plans.plans_per_stage[k] as StagePlan).current_spacing],
    workers: stageKeys.length > 1 && i === 0 ? o.workersLowres : o.workersFullres,
  }));
  // Training validates against gt_segmentations: no stage may look complete while it is being replaced.
  for (const stage of stages) {
    mkdirSync(stage.outFolder, { recursive: true });
    markStageStarted(stage.outFolder, croppedCaseIds(croppedFolder));
  }
  replaceFolder(join(croppedFolder, 'gt_segmentations'), join(preprocessedFolder, 'gt_segmentations'));
  await preprocessStages(croppedFolder, stages, {
    // Every stage shares the plans' settings; only the target spacing differs (set per stage above).
    ...withoutSpacing(settingsFromPlans(plans, [])),
    onProgress: (_stage, done, total) => o.onProgress?.(done, total),
  });
}

/**
 * Makes `target` a copy of `source`: the files are copied (checked, fsynced) into `target.next`,
 * which then takes the place of `target`; a kill leaves the old copy, or none (which training
 * reports), never a partial one under the final name.
 */
function replaceFolder(source: string, target: string): void {
  const next = `${target}.next`;
  const old = `${target}.old`;
  rmSync(next, { recursive: true, force: true });
  rmSync(old, { recursive: true, force: true });
  mkdirSync(next);
  for (const f of readdirSync(source)) copyFileAtomic(join(source, f), join(next, f));
  if (existsSync(target)) renameSync(target, old);
  renameSync(next, target);
  rmSync(old, { recursive: true, force: true });
}

function withoutSpacing<T extends { targetSpacing: unknown }>(s: T): Omit<T, 'targetSpacing'> {
  const { targetSpacing: _unused, ...rest } = s;
  return rest;
}
