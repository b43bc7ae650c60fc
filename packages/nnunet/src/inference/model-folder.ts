/**
 * Trained-model folders in nnU-Net v1's layout:
 *   $RESULTS_FOLDER/nnUNet/<configuration>/<TaskXXX_NAME>/<trainer>__<plans identifier>/
 *     plans.json                              the plans the model was trained with
 *     fold_<N>/model_final_checkpoint.safetensors + .json   weights and what is needed to use them
 * Folders written by nnU-Net v1 itself are read as well, transparently:
 *     plans.pkl                                                  the plans (pickled)
 *     fold_<N>/model_final_checkpoint.model + .model.pkl          PyTorch checkpoint + trainer description
 * (see v1-model.ts; only the weights are taken, nothing in the pickles is executed). Our own
 * checkpoints are checkpoint sets (model/checkpoint-set.ts): written as a whole, read only when
 * every file matches the sizes and hashes their JSON records.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { Generator, safetensors, type Tensor } from '@nnunet/torch';
import { NnunetError } from '../errors.js';
import { readTorchCheckpoint, stateDictTensors } from '../io/torch-checkpoint.js';
import { checkpointSetExists, readCheckpointSet, writeCheckpointSet } from '../model/checkpoint-set.js';
import { type Configuration, isConfiguration } from '../model/configuration.js';
import {
  CHECKPOINT_FORMAT,
  type CheckpointMeta,
  DEFAULT_TRAINER,
  defaultMirrorAxes,
  foldFolderPath,
  stageForConfiguration,
  V1_CHECKPOINT_SUFFIX,
  V1_PLANS_FILE,
} from '../model/layout.js';
import type { Plans } from '../model/plans.js';
import { unetConfigFromPlans } from '../network/from-plans.js';
import { GenericUNet } from '../network/generic-unet.js';
import { writeJsonAtomic } from '../util/atomic.js';
import { readV1ModelInfo, readV1Plans, v1MirrorAxes, v1NetworkConfig, v1Stage, v1TrainerInfo } from './v1-model.js';

/** The plans of a model folder: plans.json, or v1's plans.pkl. */
export function readModelPlans(trainerFolder: string): Plans {
  const path = join(trainerFolder, 'plans.json');
  if (existsSync(path)) return JSON.parse(readFileSync(path, 'utf8')) as Plans;
  const v1 = join(trainerFolder, V1_PLANS_FILE);
  if (existsSync(v1)) return readV1Plans(v1);
  throw new NnunetError(
    'ERR_NOT_FOUND',
    `${path} does not exist: ${trainerFolder} is not a trained model folder (it has neither plans.json nor v1's ${V1_PLANS_FILE}; train it first, or check -t, -m, -tr and -p).`,
  );
}

/** Saves a network's weights and metadata as fold_<fold>/<name>.safetensors/.json. */
export function saveCheckpoint(
  trainerFolder: string,
  net: GenericUNet,
  meta: CheckpointMeta,
  name = 'model_final_checkpoint',
): string {
  const folder = foldFolderPath(trainerFolder, meta.fold);
  mkdirSync(folder, { recursive: true });
  writeCheckpointSet(
    folder,
    name,
    new Map([[`${name}.safetensors`, safetensors.serialize(net.stateDict(), { format: CHECKPOINT_FORMAT })]]),
    meta,
  );
  return folder;
}

/** Builds the network of a model folder's fold and loads its weights (inference mode: no deep supervision). */
export function loadNetwork(
  trainerFolder: string,
  fold: string,
  checkpoint = 'model_final_checkpoint',
): { net: GenericUNet; meta: CheckpointMeta; plans: Plans } {
  const folder = foldFolderPath(trainerFolder, fold);
  const base = join(folder, checkpoint);
  const ours = checkpointSetExists(folder, checkpoint);
  if (!ours && existsSync(`${base}${V1_CHECKPOINT_SUFFIX}`)) return loadV1Network(trainerFolder, fold, checkpoint);
  if (!ours) {
    throw new NnunetError(
      'ERR_NOT_FOUND',
      `${base}.safetensors (and .json) not found, nor v1's ${basename(base)}${V1_CHECKPOINT_SUFFIX}: fold ${fold} of ${trainerFolder} is not trained; choose existing folds with -f or -chk.`,
    );
  }
  const plans = readModelPlans(trainerFolder);
  // Only a complete, verified set (the training may be writing a newer one right now).
  const set = readCheckpointSet(folder, checkpoint, [`${checkpoint}.safetensors`], {
    only: [`${checkpoint}.safetensors`],
  });
  const meta = set.json as CheckpointMeta;
  const weightsFile = typeof meta.weights === 'string' ? meta.weights : `${checkpoint}.safetensors`;
  const weightBytes = set.files.get(weightsFile);
  if (weightBytes === undefined)
    throw new NnunetError('ERR_DATASET', `${base}.json names no weights file: the checkpoint is damaged.`);
  const config = unetConfigFromPlans(plans, meta.stage, { deepSupervision: false });
  // The cascade's full-resolution network also reads the low-resolution one-hot foreground classes.
  if (meta.configuration === '3d_cascade_fullres') {
    config.inputChannels =
      typeof meta.input_channels === 'number' ? meta.input_channels : config.inputChannels + plans.num_classes;
  }
  const net = new GenericUNet(config);
  const { tensors } = safetensors.deserialize(weightBytes, join(folder, weightsFile));
  try {
    net.loadStateDict(tensors);
  } catch (e) {
    net.dispose();
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

/** The configuration a trainer folder belongs to ($RESULTS_FOLDER/nnUNet/<configuration>/<task>/<trainer>__<plans>). */
function configurationOfFolder(trainerFolder: string, plans: Plans, stage: string): Configuration {
  const named = basename(dirname(dirname(trainerFolder)));
  if (isConfiguration(named)) return named;
  if (plans.plans_per_stage[stage]?.patch_size.length === 2) return '2d';
  const keys = Object.keys(plans.plans_per_stage);
  return keys.length > 1 && stage === keys.sort()[0] ? '3d_lowres' : '3d_fullres';
}

/**
 * Loads fold_<fold>/<checkpoint>.model written by nnU-Net v1 into a GenericUNet. The trainer class
 * and stage come from <checkpoint>.model.pkl (v1's restore_model reads the same file; without it the
 * trainer is taken from the folder name), the network from the plans it holds (else plans.pkl),
 * the weights from the checkpoint's state_dict ('module.' prefixes of DataParallel/DDP removed).
 */
function loadV1Network(
  trainerFolder: string,
  fold: string,
  checkpoint: string,
): { net: GenericUNet; meta: CheckpointMeta; plans: Plans } {
  const base = join(foldFolderPath(trainerFolder, fold), checkpoint);
  const modelFile = `${base}${V1_CHECKPOINT_SUFFIX}`;
  const infoFile = `${modelFile}.pkl`;
  const info = existsSync(infoFile) ? readV1ModelInfo(infoFile) : null;
  const trainerName = info?.trainer ?? basename(trainerFolder).split('__')[0] ?? '';
  const trainer = v1TrainerInfo(trainerName, trainerFolder);
  const plans = info?.plans ?? readModelPlans(trainerFolder);
  const stage = v1Stage(plans, info?.init.stage ?? null, info ? infoFile : join(trainerFolder, V1_PLANS_FILE));
  const config = v1NetworkConfig(trainer, plans, stage);
  const ckpt = readTorchCheckpoint(modelFile);
  const keys = [...ckpt.stateDict.keys()];
  const prefix = keys.length > 0 && keys.every((k) => k.startsWith('module.')) ? 'module.' : undefined;
  const net = new GenericUNet(config);
  let tensors: Map<string, Tensor> | undefined;
  try {
    tensors = stateDictTensors(ckpt.stateDict, prefix ? { stripPrefix: prefix } : {});
    net.loadStateDict(tensors);
  } catch (e) {
    net.dispose();
    throw new NnunetError(
      'ERR_DATASET',
      `${modelFile} does not fit the network its plans describe (trainer ${trainerName}, stage ${stage}): ${(e as Error).message}`,
    );
  } finally {
    for (const t of tensors?.values() ?? []) t.dispose();
  }
  net.eval();
  const epoch = ckpt.other.get('epoch');
  const patchDims = plans.plans_per_stage[stage]?.patch_size.length ?? 3;
  const meta: CheckpointMeta = {
    format: CHECKPOINT_FORMAT,
    trainer: trainerName,
    // A cascade trainer makes it a cascade model whatever the folder is called.
    configuration: trainer.cascade ? '3d_cascade_fullres' : configurationOfFolder(trainerFolder, plans, stage),
    stage,
    fold,
    epoch: typeof epoch === 'number' ? epoch : 0,
    mirror_axes: v1MirrorAxes(trainer, patchDims),
    v1_checkpoint: modelFile,
    equivalent_trainer: trainer.equivalent,
    cascade: trainer.cascade,
  };
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
