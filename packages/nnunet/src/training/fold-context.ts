/**
 * The set-up of one fold's training, before any tensor exists: the trainer and configuration
 * checked against each other, the plans and stage, the preprocessed cases and the fold's split,
 * every folder the run reads or writes, the schedule, and the log. Then the network, optimizer and
 * loss settings built from it (FoldModel). The epoch loop and the finish take both.
 */
import { appendFileSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { cuda, Generator, GradScaler, type ProcessGroup, SGD, setNumThreads } from '@nnunet/torch';
import { NnunetError } from '../errors.js';
import { cascadeLabels } from '../inference/cascade-input.js';
import { type Configuration, type Fold, parseFold, type Split } from '../model/configuration.js';
import {
  CHECKPOINT_FORMAT,
  type CheckpointMeta,
  DEFAULT_TRAINER,
  defaultMirrorAxes,
  FOLD_LOCK_FILE,
  foldFolderPath,
  GT_SEGMENTATIONS_FOLDER,
  MODEL_PLANS_FILE,
  plansFilePath,
  stageDataFolder,
  stageForConfiguration,
  trainerFolderPath,
} from '../model/layout.js';
import { requireEnvFolder, resolveTaskName } from '../model/paths.js';
import type { Plans, StagePlan } from '../model/plans.js';
import { readPlans } from '../model/plans.js';
import { deepSupervisionLossWeights, deepSupervisionScales } from '../network/deep-supervision.js';
import { unetConfigFromPlans } from '../network/from-plans.js';
import { GenericUNet } from '../network/generic-unet.js';
import { initWeightsHe } from '../network/init.js';
import { requireCompletePreprocessing } from '../preprocessing/completion.js';
import { writeFailure, writeJsonAtomic } from '../util/atomic.js';
import { acquireFolderLock, type FolderLock } from '../util/lock.js';
import { prevStageFolder, requirePrevStageSegmentations } from './cascade.js';
import { listPreprocessedCases, OVERSAMPLE_FOREGROUND_PERCENT } from './data-loader.js';
import { globalCountsOver, type RankShare, rankShares } from './data-parallel.js';
import { batchDiceFor, type DcAndCeOptions } from './loss.js';
import type { TrainingPrecision, TrainOptions } from './options.js';
import { loadPretrainedWeights } from './pretrained.js';
import { type FoldSplit, readOrCreateSplits, splitForFold } from './splits.js';
import { getTrainer, INITIAL_LR, MOMENTUM, TRAINERS, type TrainerSpec, WEIGHT_DECAY } from './trainer-spec.js';

/** Default seed of a run (weights, data order, augmentation). */
export const DEFAULT_SEED = 12345;

/** Everything about one fold's training that is decided before the network is built. */
export interface FoldContext {
  trainerName: string;
  spec: TrainerSpec;
  configuration: Configuration;
  task: string;
  fold: Fold;
  plans: Plans;
  plansPath: string;
  stage: string;
  stagePlan: StagePlan;
  /** $nnUNet_preprocessed/TASK */
  preprocessedFolder: string;
  /** The stage's preprocessed cases. */
  dataFolder: string;
  /** The reference segmentations (preprocessed folder's gt_segmentations). */
  gtFolder: string;
  resultsFolder: string;
  trainerFolder: string;
  foldFolder: string;
  splits: Split[];
  split: FoldSplit;
  /** 3d_cascade_fullres: the foreground labels fed as one-hot channels, and the 3d_lowres predictions. */
  cascade: { labels: number[]; prevStageFolder: string } | null;
  maxEpochs: number;
  itersPerEpoch: number;
  valItersPerEpoch: number;
  batchSize: number;
  device: 'cpu' | 'cuda';
  seed: number;
  mirrorAxes: number[];
  /** The share of this process's batch centred on foreground (the plans' share, split over data-parallel ranks). */
  oversample: number;
  /** Data-parallel training: the group of processes training this fold together. */
  group: ProcessGroup | null;
  /** Whether this process writes checkpoints, logs, plots and the validation (rank 0 or the only one). */
  isWriter: boolean;
  /** The fold folder's lock, held until the caller releases it (the writer's; null on other ranks). */
  lock: FolderLock | null;
  /** Appends a time-stamped line to the fold's training log and passes it to the caller's logger. */
  log: (line: string) => void;
}

/** Checks the request, resolves folders, plans and split, creates the fold folder and its log. */
export function createFoldContext(o: TrainOptions): FoldContext {
  const env = o.env ?? process.env;
  const trainerName = o.trainer ?? DEFAULT_TRAINER;
  const spec = getTrainer(trainerName);
  const isCascade = o.configuration === '3d_cascade_fullres';
  if (isCascade && spec.cascade === undefined) {
    throw new NnunetError(
      'ERR_ARGUMENT',
      `3d_cascade_fullres needs a cascade trainer (${Object.entries(TRAINERS)
        .filter(([, t]) => t.cascade !== undefined)
        .map(([n]) => n)
        .join(', ')}), got ${trainerName}.`,
    );
  }
  if (!isCascade && spec.cascade !== undefined) {
    throw new NnunetError(
      'ERR_ARGUMENT',
      `${trainerName} trains the second stage of the cascade: use it with 3d_cascade_fullres, not ${o.configuration}.`,
    );
  }
  if (o.threads !== undefined) setNumThreads(o.threads);
  // cuDNN picks the fastest convolution algorithms for the fixed patch size, as v1's trainer sets
  // (cudnn.benchmark, its non-deterministic default).
  if (o.device === 'cuda') cuda.setCudnnBenchmark(true);
  const precisionProblem = o.precision === undefined ? null : precisionMismatch(o.precision, o.device ?? 'cpu');
  if (precisionProblem !== null) throw new NnunetError('ERR_ARGUMENT', precisionProblem);
  const task = resolveTaskName(o.task, env);
  const preprocessedFolder = join(requireEnvFolder('nnUNet_preprocessed', env), task);
  const plansPath = plansFilePath(preprocessedFolder, o.configuration);
  if (!existsSync(plansPath)) {
    throw new NnunetError(
      'ERR_NOT_FOUND',
      `${plansPath} does not exist: run nnUNet_plan_and_preprocess -t ${task} first.`,
    );
  }
  const plans = readPlans(plansPath);
  if (isCascade && Object.keys(plans.plans_per_stage).length < 2) {
    throw new NnunetError(
      'ERR_ARGUMENT',
      `3d_cascade_fullres only applies when the plans have two stages; ${plansPath} has one, so this task needs no cascade: train 3d_fullres instead.`,
    );
  }
  const stage = stageForConfiguration(plans, o.configuration);
  const stagePlan = plans.plans_per_stage[stage];
  if (stagePlan === undefined) throw new NnunetError('ERR_DATASET', `${plansPath} has no stage ${stage}.`);
  const dataFolder = stageDataFolder(preprocessedFolder, plans, stage);
  if (!existsSync(dataFolder)) {
    throw new NnunetError(
      'ERR_NOT_FOUND',
      `${dataFolder} does not exist: preprocess the task first (nnUNet_plan_and_preprocess without -no_pp).`,
    );
  }
  const caseIds = listPreprocessedCases(dataFolder);
  requireCompletePreprocessing(preprocessedFolder, dataFolder, task);
  const fold = parseFold(o.fold);
  const { splits } = readOrCreateSplits(preprocessedFolder, caseIds);
  const split = splitForFold(splits, fold, caseIds);
  const resultsFolder = requireEnvFolder('RESULTS_FOLDER', env);
  const trainerFolder = trainerFolderPath(resultsFolder, o.configuration, task, trainerName);
  let cascade: FoldContext['cascade'] = null;
  if (spec.cascade !== undefined) {
    const previousTrainer = spec.cascade.previousTrainer;
    const folder = prevStageFolder(resultsFolder, task, previousTrainer);
    requirePrevStageSegmentations(folder, caseIds, { task, previousTrainer, splits });
    cascade = { labels: cascadeLabels(plans), prevStageFolder: folder };
  }
  const foldFolder = foldFolderPath(trainerFolder, fold);
  const group = o.group ?? null;
  const isWriter = group === null || group.rank === 0;
  const globalBatch = o.batchSize ?? stagePlan.batch_size;
  const share =
    group === null
      ? { batchSize: globalBatch, oversampleForegroundPercent: OVERSAMPLE_FOREGROUND_PERCENT }
      : (rankShares(globalBatch, group.size, OVERSAMPLE_FOREGROUND_PERCENT)[group.rank] as RankShare);
  let lock: FolderLock | null = null;
  if (isWriter) {
    mkdirSync(foldFolder, { recursive: true });
    // One process per fold: a second one would overwrite the first one's checkpoints and validation.
    lock = acquireFolderLock(foldFolder, {
      name: FOLD_LOCK_FILE,
      command: `nnUNet_train ${o.configuration} ${trainerName} ${task} ${fold}`,
      what: `Fold ${fold} of ${trainerFolder}`,
    });
    try {
      writeJsonAtomic(join(trainerFolder, MODEL_PLANS_FILE), plans);
    } catch (e) {
      lock.release();
      throw e;
    }
  }
  const logPath = join(foldFolder, `training_log_${new Date().toISOString().replace(/[:.]/g, '_')}.txt`);
  return {
    trainerName,
    spec,
    configuration: o.configuration,
    task,
    fold,
    plans,
    plansPath,
    stage,
    stagePlan,
    preprocessedFolder,
    dataFolder,
    gtFolder: join(preprocessedFolder, GT_SEGMENTATIONS_FOLDER),
    resultsFolder,
    trainerFolder,
    foldFolder,
    splits,
    split,
    cascade,
    maxEpochs: o.epochs ?? spec.maxEpochs,
    itersPerEpoch: o.itersPerEpoch ?? spec.itersPerEpoch,
    valItersPerEpoch: o.valItersPerEpoch ?? spec.valItersPerEpoch,
    batchSize: share.batchSize,
    oversample: share.oversampleForegroundPercent,
    group,
    isWriter,
    device: o.device ?? 'cpu',
    seed: o.seed ?? DEFAULT_SEED,
    mirrorAxes: spec.mirroring ? defaultMirrorAxes(plans, stage) : [],
    lock,
    log: (line: string) => {
      if (!isWriter) return;
      o.log?.(line);
      try {
        appendFileSync(logPath, `${new Date().toISOString()}: ${line}\n`);
      } catch (e) {
        throw writeFailure(logPath, e, null);
      }
    },
  };
}

/** Why `precision` cannot train on `device` (null when it can): bf16 is the CPU's, fp16 CUDA's. */
export function precisionMismatch(precision: TrainingPrecision, device: 'cpu' | 'cuda'): string | null {
  if (precision === 'bfloat16' && device === 'cuda')
    return 'bfloat16 training is a CPU option; on CUDA use the default (float16 with loss scaling) or --fp32.';
  if (precision === 'float16' && device === 'cpu')
    return 'float16 training needs CUDA (-device cuda); on the CPU use the default or --fp32.';
  return null;
}

/** The network, its optimizer and the loss settings of a fold. */
export interface FoldModel {
  net: GenericUNet;
  optimizer: SGD;
  /** Deep-supervision output scales (relative to the patch) and their loss weights. */
  dsScales: number[][];
  dsWeights: number[];
  lossOptions: DcAndCeOptions;
  /** What every checkpoint of this fold says about the model. */
  meta: CheckpointMeta;
  /** Data-parallel: the group whose gradients are averaged after every backward pass. */
  group: ProcessGroup | null;
  /** The steps' arithmetic (TrainOptions.precision): bf16 CPU autocast, fp16 CUDA autocast, or float32. */
  precision: TrainingPrecision;
  /** float16: the dynamic loss scale (saved with every checkpoint; unused in the other precisions). */
  gradScaler: GradScaler;
  dispose(): void;
}

/**
 * Builds the fold's network (He-initialised from the seed, then v1's pretrained-weight rules unless
 * a checkpoint will be loaded), moves it to the device and creates v1's SGD.
 */
export function createFoldModel(
  ctx: FoldContext,
  o: { pretrainedWeights?: string; resuming: boolean; precision?: TrainingPrecision },
): FoldModel {
  const base = unetConfigFromPlans(ctx.plans, ctx.stage, { deepSupervision: true });
  // The cascade network also takes the previous stage's labels, one channel per foreground label.
  const config =
    ctx.cascade === null ? base : { ...base, inputChannels: base.inputChannels + ctx.cascade.labels.length };
  const net = new GenericUNet(config);
  initWeightsHe(net, { generator: new Generator(ctx.seed) });
  if (o.pretrainedWeights !== undefined && !o.resuming) {
    const r = loadPretrainedWeights(net, o.pretrainedWeights);
    ctx.log(
      `pretrained weights from ${o.pretrainedWeights}: ${r.loaded.length} parameters loaded, ${r.skipped.length} kept as initialised${r.skipped.length > 0 ? ` (${r.skipped.map((s) => `${s.name}: ${s.reason}`).join('; ')})` : ''}`,
    );
  }
  if (ctx.device === 'cuda') net.to('cuda');
  const optimizer = new SGD(net.parameters(), {
    lr: INITIAL_LR,
    momentum: MOMENTUM,
    nesterov: true,
    weightDecay: WEIGHT_DECAY,
  });
  const dsScales = deepSupervisionScales(ctx.stagePlan.pool_op_kernel_sizes);
  return {
    net,
    optimizer,
    dsScales,
    dsWeights: deepSupervisionLossWeights(dsScales.length),
    lossOptions: {
      batchDice: batchDiceFor(ctx.configuration, ctx.plans.num_stages),
      ...(ctx.group !== null ? { globalCounts: globalCountsOver(ctx.group) } : {}),
    },
    precision: o.precision ?? 'float32',
    gradScaler: new GradScaler(),
    group: ctx.group,
    meta: {
      format: CHECKPOINT_FORMAT,
      trainer: ctx.trainerName,
      configuration: ctx.configuration,
      stage: ctx.stage,
      fold: String(ctx.fold),
      epoch: 0,
      mirror_axes: ctx.mirrorAxes,
      ...(ctx.cascade !== null ? { input_channels: config.inputChannels, cascade_labels: ctx.cascade.labels } : {}),
    },
    dispose() {
      net.dispose();
      optimizer.dispose();
    },
  };
}
