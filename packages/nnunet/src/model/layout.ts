/**
 * Where nnU-Net v1 keeps what the stages share, in one place:
 *   $nnUNet_preprocessed/TASK/
 *     nnUNetPlansv2.1_plans_3D.json / _2D.json        the plans (PLANS_FILE_3D / PLANS_FILE_2D)
 *     <data_identifier>_stage<N>/CASE.npy + .json      a stage's preprocessed cases
 *     gt_segmentations/                               the reference segmentations
 *   $RESULTS_FOLDER/nnUNet/<configuration>/<TASK>/<trainer>__<plans identifier>/
 *     plans.json (v1: plans.pkl)                      the plans the model was trained with
 *     fold_<N>/<checkpoint>.safetensors + .json       weights and what is needed to use them
 * and what a checkpoint's metadata says. Nothing here reads images or builds networks.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { NnunetError } from '../errors.js';
import type { Configuration, Fold } from './configuration.js';
import { RESULTS_SUBFOLDER } from './paths.js';
import type { Plans } from './plans.js';

export const DEFAULT_TRAINER = 'nnUNetTrainerV2';
export const DEFAULT_CASCADE_TRAINER = 'nnUNetTrainerV2CascadeFullRes';
export const DEFAULT_PLANS_IDENTIFIER = 'nnUNetPlansv2.1';
export const CHECKPOINT_FORMAT = 'nnunet-ts-checkpoint/1';

/** v1's plans file names in the preprocessed task folder (the 3-D file holds 3d_lowres and 3d_fullres). */
export const PLANS_FILE_3D = 'nnUNetPlansv2.1_plans_3D.json';
export const PLANS_FILE_2D = 'nnUNetPlansv2.1_plans_2D.json';
/** The plans a trained model folder keeps. */
export const MODEL_PLANS_FILE = 'plans.json';
/** The reference segmentations v1 copies into the preprocessed task folder. */
export const GT_SEGMENTATIONS_FOLDER = 'gt_segmentations';

/** Checkpoint names, as v1 calls them. */
export const FINAL_CHECKPOINT = 'model_final_checkpoint';
export const LATEST_CHECKPOINT = 'model_latest';
export const BEST_CHECKPOINT = 'model_best';
/** fold_N/training_status.json: whether the fold's training is running, interrupted, trained or complete. */
export const FOLD_STATUS_FILE = 'training_status.json';
/** The lock file of a fold folder while a process trains or validates it. */
export const FOLD_LOCK_FILE = '.nnunet-train.lock';

/** What a checkpoint's .json holds beside the weights. */
export interface CheckpointMeta {
  format: typeof CHECKPOINT_FORMAT;
  trainer: string;
  configuration: Configuration;
  /** plans_per_stage key the network was built for. */
  stage: string;
  fold: string;
  epoch: number;
  /** Spatial axes test-time mirroring may flip (v1's data_aug_params mirror_axes). */
  mirror_axes: number[];
  [key: string]: unknown;
}

export function trainerFolderPath(
  resultsFolder: string,
  configuration: Configuration,
  task: string,
  trainer = DEFAULT_TRAINER,
  plansIdentifier = DEFAULT_PLANS_IDENTIFIER,
): string {
  return join(resultsFolder, RESULTS_SUBFOLDER, configuration, task, `${trainer}__${plansIdentifier}`);
}

/** A fold's folder inside a trainer folder: fold_<N> or fold_all. */
export function foldFolderPath(trainerFolder: string, fold: Fold | string): string {
  return join(trainerFolder, `fold_${fold}`);
}

/** The plans file a configuration trains with, in a preprocessed task folder. */
export function plansFilePath(preprocessedTaskFolder: string, configuration: Configuration): string {
  return join(preprocessedTaskFolder, configuration === '2d' ? PLANS_FILE_2D : PLANS_FILE_3D);
}

/** The folder of a stage's preprocessed cases (<data_identifier>_stage<N>). */
export function stageDataFolder(preprocessedTaskFolder: string, plans: Plans, stage: string): string {
  return join(preprocessedTaskFolder, `${plans.data_identifier}_stage${stage}`);
}

/** The plans stage a configuration uses: 2d and 3d_lowres the first, 3d_fullres / cascade the last. */
export function stageForConfiguration(plans: Plans, configuration: Configuration): string {
  const keys = Object.keys(plans.plans_per_stage).sort((a, b) => Number(a) - Number(b));
  if (configuration === '3d_lowres' && keys.length < 2) {
    throw new NnunetError(
      'ERR_ARGUMENT',
      'These plans have a single stage: there is no 3d_lowres (or cascade) configuration for this task; use 3d_fullres.',
    );
  }
  return (configuration === '2d' || configuration === '3d_lowres' ? keys[0] : keys[keys.length - 1]) as string;
}

/** Default mirror axes of nnUNetTrainerV2: every spatial axis. */
export function defaultMirrorAxes(plans: Plans, stage: string): number[] {
  const dims = plans.plans_per_stage[stage]?.patch_size.length ?? 3;
  return dims === 2 ? [0, 1] : [0, 1, 2];
}

/** v1's pickled plans in a trained model folder. */
export const V1_PLANS_FILE = 'plans.pkl';
/** v1's checkpoint suffix (a PyTorch file) and its trainer description beside it. */
export const V1_CHECKPOINT_SUFFIX = '.model';

/** Folds present in a trainer folder, e.g. ['0', '1', 'all'] (ours: .safetensors; v1: .model). */
export function availableFolds(trainerFolder: string, checkpoint = 'model_final_checkpoint'): string[] {
  if (!existsSync(trainerFolder)) return [];
  const has = (f: string): boolean =>
    existsSync(join(trainerFolder, f, `${checkpoint}.safetensors`)) ||
    existsSync(join(trainerFolder, f, `${checkpoint}${V1_CHECKPOINT_SUFFIX}`));
  return readdirSync(trainerFolder)
    .filter((f) => /^fold_(\d+|all)$/.test(f) && has(f))
    .map((f) => f.slice(5))
    .sort();
}
