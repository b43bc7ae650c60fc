/**
 * nnUNet_plan_and_preprocess as a library function: per task, optionally verify the raw data,
 * crop it, fingerprint it and copy the fingerprint to $nnUNet_preprocessed/TASK, then plan and
 * preprocess. The experiment planners are not part of this version yet: a planner name other
 * than "None" is refused with a clear message (v1's `-pl3d None -pl2d None` runs the rest).
 */
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { NnunetError } from '../errors.js';
import { analyzeDataset } from '../fingerprint/analyze.js';
import { cropTask } from '../fingerprint/crop-task.js';
import { verifyDatasetIntegrity } from '../io/verify.js';
import { requireEnvFolder, resolveTaskName } from '../paths.js';

export const DEFAULT_PLANNER_3D = 'ExperimentPlanner3D_v21';
export const DEFAULT_PLANNER_2D = 'ExperimentPlanner2D_v21';

export type Step = 'verify' | 'crop' | 'fingerprint';

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
  onStep?: (task: string, step: Step) => void;
  /** Non-fatal findings (e.g. mixed orientations), one sentence each. */
  onWarning?: (message: string) => void;
  onProgress?: (task: string, step: Step, done: number, total: number) => void;
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
  for (const [flag, name] of [
    ['-pl3d', options.planner3d === undefined ? DEFAULT_PLANNER_3D : options.planner3d],
    ['-pl2d', options.planner2d === undefined ? DEFAULT_PLANNER_2D : options.planner2d],
  ] as const) {
    if (name !== null) {
      throw new NnunetError(
        'ERR_ARGUMENT',
        `Planner ${name} (${flag}) is not available in this version yet: run with -pl3d None -pl2d None to verify, crop and fingerprint the data now.`,
      );
    }
  }
  requireEnvFolder('nnUNet_raw_data_base', env);
  const preprocessedRoot = requireEnvFolder('nnUNet_preprocessed', env);
  const outcomes: TaskOutcome[] = [];
  for (const id of taskIds) {
    const task = resolveTaskName(id, env);
    const rawTask = join(requireEnvFolder('nnUNet_raw_data_base', env), 'nnUNet_raw_data', task);
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
    const preprocessedFolder = join(preprocessedRoot, task);
    mkdirSync(preprocessedFolder, { recursive: true });
    copyFileSync(join(croppedFolder, 'dataset_properties.json'), join(preprocessedFolder, 'dataset_properties.json'));
    copyFileSync(join(croppedFolder, 'dataset.json'), join(preprocessedFolder, 'dataset.json'));
    outcomes.push({ task, croppedFolder, preprocessedFolder });
  }
  return outcomes;
}
