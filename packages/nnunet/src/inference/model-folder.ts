/**
 * Trained-model folders in nnU-Net v1's layout:
 *   $RESULTS_FOLDER/nnUNet/<configuration>/<TaskXXX_NAME>/<trainer>__<plans identifier>/
 *     plans.json                              the plans the model was trained with
 *     fold_<N>/model_final_checkpoint.safetensors + .json   weights and what is needed to use them
 * (v1 stores plans.pkl and model_final_checkpoint.model/.model.pkl; reading those is a separate
 * compatibility feature.) Checkpoints are written atomically.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Generator, safetensors } from '@nnunet/torch';
import { NnunetError } from '../errors.js';
import { writeJsonAtomic } from '../fingerprint/crop-task.js';
import { unetConfigFromPlans } from '../network/from-plans.js';
import { GenericUNet } from '../network/generic-unet.js';
import { type CONFIGURATIONS, RESULTS_SUBFOLDER } from '../paths.js';
import type { Plans } from '../planning/plans.js';

export type Configuration = (typeof CONFIGURATIONS)[number];
export const DEFAULT_TRAINER = 'nnUNetTrainerV2';
export const DEFAULT_CASCADE_TRAINER = 'nnUNetTrainerV2CascadeFullRes';
export const DEFAULT_PLANS_IDENTIFIER = 'nnUNetPlansv2.1';
export const CHECKPOINT_FORMAT = 'nnunet-ts-checkpoint/1';

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

export function readModelPlans(trainerFolder: string): Plans {
  const path = join(trainerFolder, 'plans.json');
  if (!existsSync(path)) {
    throw new NnunetError(
      'ERR_NOT_FOUND',
      `${path} does not exist: ${trainerFolder} is not a trained model folder (train it first, or check -t, -m, -tr and -p).`,
    );
  }
  return JSON.parse(readFileSync(path, 'utf8')) as Plans;
}

/** Folds present in a trainer folder, e.g. ['0', '1', 'all']. */
export function availableFolds(trainerFolder: string, checkpoint = 'model_final_checkpoint'): string[] {
  if (!existsSync(trainerFolder)) return [];
  return readdirSync(trainerFolder)
    .filter((f) => /^fold_(\d+|all)$/.test(f) && existsSync(join(trainerFolder, f, `${checkpoint}.safetensors`)))
    .map((f) => f.slice(5))
    .sort();
}

/** Saves a network's weights and metadata as fold_<fold>/<name>.safetensors/.json. */
export function saveCheckpoint(
  trainerFolder: string,
  net: GenericUNet,
  meta: CheckpointMeta,
  name = 'model_final_checkpoint',
): string {
  const folder = join(trainerFolder, `fold_${meta.fold}`);
  mkdirSync(folder, { recursive: true });
  safetensors.save(join(folder, `${name}.safetensors`), net.stateDict(), { format: CHECKPOINT_FORMAT });
  writeJsonAtomic(join(folder, `${name}.json`), meta);
  return folder;
}

/** Builds the network of a model folder's fold and loads its weights (inference mode: no deep supervision). */
export function loadNetwork(
  trainerFolder: string,
  fold: string,
  checkpoint = 'model_final_checkpoint',
): { net: GenericUNet; meta: CheckpointMeta; plans: Plans } {
  const plans = readModelPlans(trainerFolder);
  const base = join(trainerFolder, `fold_${fold}`, checkpoint);
  if (!existsSync(`${base}.safetensors`) || !existsSync(`${base}.json`)) {
    throw new NnunetError(
      'ERR_NOT_FOUND',
      `${base}.safetensors (and .json) not found: fold ${fold} of ${trainerFolder} is not trained; choose existing folds with -f or -chk.`,
    );
  }
  const meta = JSON.parse(readFileSync(`${base}.json`, 'utf8')) as CheckpointMeta;
  const net = new GenericUNet(unetConfigFromPlans(plans, meta.stage, { deepSupervision: false }));
  const { tensors } = safetensors.load(`${base}.safetensors`);
  try {
    net.loadStateDict(tensors);
  } catch (e) {
    throw new NnunetError(
      'ERR_DATASET',
      `${base}.safetensors does not fit the network of ${join(trainerFolder, 'plans.json')}: ${(e as Error).message}`,
    );
  } finally {
    for (const t of tensors.values()) t.dispose();
  }
  net.eval();
  return { net, meta, plans };
}

/**
 * Creates a model folder with freshly initialised (untrained) networks for the given folds, e.g.
 * to test the prediction pipeline before training. `seed` makes the weights reproducible.
 */
export function createInitialisedModel(
  plans: Plans,
  trainerFolder: string,
  configuration: Configuration,
  folds: readonly string[],
  options: { trainer?: string; seed?: number } = {},
): void {
  mkdirSync(trainerFolder, { recursive: true });
  writeJsonAtomic(join(trainerFolder, 'plans.json'), plans);
  const stage = stageForConfiguration(plans, configuration);
  for (const [i, fold] of folds.entries()) {
    const net = new GenericUNet(unetConfigFromPlans(plans, stage, { deepSupervision: false }), {
      generator: new Generator((options.seed ?? 0) + i),
    });
    saveCheckpoint(trainerFolder, net, {
      format: CHECKPOINT_FORMAT,
      trainer: options.trainer ?? DEFAULT_TRAINER,
      configuration,
      stage,
      fold,
      epoch: 0,
      mirror_axes: defaultMirrorAxes(plans, stage),
    });
    net.dispose();
  }
}
