/**
 * nnUNetTrainerV2 as a library function: network from the plans, SGD with Nesterov momentum
 * (lr 0.01, momentum 0.99, weight decay 3e-5), poly learning rate, Dice + cross-entropy with deep
 * supervision, gradient clipping at 12, background batch producers with augmentation, per-epoch
 * validation batches with the EMA pseudo-Dice, checkpoints (latest every 50 epochs, best on a new
 * best EMA, final), progress.png, a training log, resume, and the final validation of the fold.
 * Trainer variants are small entries in TRAINERS.
 *
 * The cascade: a 3d_lowres fold ends by predicting its validation cases for the next stage
 * (cascade.ts); nnUNetTrainerV2CascadeFullRes (3d_cascade_fullres) trains on the full-resolution
 * stage with those predictions as extra one-hot input channels.
 */
import { appendFileSync, copyFileSync, existsSync, mkdirSync, readdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { clipGradNorm_, Generator, memoryStats, noGrad, SGD, setNumThreads, type Tensor, tidy } from '@nnunet/torch';
import { NnunetError } from '../errors.js';
import { cascadeLabels } from '../inference/cascade-input.js';
import { type Configuration, type Fold, parseFold } from '../model/configuration.js';
import {
  CHECKPOINT_FORMAT,
  type CheckpointMeta,
  defaultMirrorAxes,
  stageForConfiguration,
  trainerFolderPath,
} from '../model/layout.js';
import { requireEnvFolder, resolveTaskName } from '../model/paths.js';
import type { Plans } from '../model/plans.js';
import { deepSupervisionLossWeights, deepSupervisionScales } from '../network/deep-supervision.js';
import { unetConfigFromPlans } from '../network/from-plans.js';
import { GenericUNet } from '../network/generic-unet.js';
import { initWeightsHe } from '../network/init.js';
import { readPlans } from '../planning/plan-from-fingerprint.js';
import { determineFoldPostprocessing } from '../postprocessing/determine.js';
import { writeJsonAtomic } from '../util/atomic.js';
import {
  type AugmentationParams,
  CASCADE_AUGMENTATION_V1,
  type CascadeAugmentationParams,
  trainerV2AugmentationParams,
} from './augmentation/index.js';
import { BatchProducer, type ProducedBatch } from './batch-producer.js';
import { PRED_NEXT_STAGE_FOLDER, predictNextStage, prevStageFolder, requirePrevStageSegmentations } from './cascade.js';
import {
  checkpointToContinue,
  loadTrainingCheckpoint,
  saveTrainingCheckpoint,
  type TrainerState,
} from './checkpoint.js';
import { listPreprocessedCases, loadDataset } from './data-loader.js';
import {
  batchDiceFor,
  deepSupervisionLoss,
  downsampleSegForDeepSupervision,
  evalCriterionMovingAverage,
  OnlineEvaluation,
} from './loss.js';
import { polyLr } from './lr-schedule.js';
import { loadPretrainedWeights } from './pretrained.js';
import { writeProgressPng } from './progress-plot.js';
import { readOrCreateSplits, splitForFold } from './splits.js';
import { validateFold } from './validate.js';

/** A trainer variant: v1's class name and what it changes. */
export interface TrainerSpec {
  maxEpochs: number;
  itersPerEpoch: number;
  valItersPerEpoch: number;
  augmentation: boolean;
  mirroring: boolean;
  /** Second stage of the cascade (3d_cascade_fullres): the 3d_lowres trainer whose predictions it reads. */
  cascade?: { previousTrainer: string };
}

const V2: TrainerSpec = {
  maxEpochs: 1000,
  itersPerEpoch: 250,
  valItersPerEpoch: 50,
  augmentation: true,
  mirroring: true,
};

/** v1 trainer classes that differ only in their settings, found by name. */
export const TRAINERS: Record<string, TrainerSpec> = {
  nnUNetTrainerV2: V2,
  nnUNetTrainerV2_5epochs: { ...V2, maxEpochs: 5 },
  nnUNetTrainerV2_10epochs: { ...V2, maxEpochs: 10 },
  nnUNetTrainerV2_50epochs: { ...V2, maxEpochs: 50 },
  nnUNetTrainerV2_100epochs: { ...V2, maxEpochs: 100 },
  nnUNetTrainerV2_noDataAugmentation: { ...V2, augmentation: false, mirroring: false },
  nnUNetTrainerV2_noMirroring: { ...V2, mirroring: false },
  // v1's multi-GPU trainers: the same recipe; here one device trains the whole batch.
  nnUNetTrainerV2_DP: V2,
  nnUNetTrainerV2_DDP: V2,
  nnUNetTrainerV2CascadeFullRes: { ...V2, cascade: { previousTrainer: 'nnUNetTrainerV2' } },
};

export function getTrainer(name: string): TrainerSpec {
  const t = TRAINERS[name];
  if (t === undefined) {
    throw new NnunetError(
      'ERR_ARGUMENT',
      `Unknown trainer "${name}": known trainers are ${Object.keys(TRAINERS).join(', ')}.`,
    );
  }
  return t;
}

/** v1's SGD settings and training constants. */
export const INITIAL_LR = 0.01;
export const MOMENTUM = 0.99;
export const WEIGHT_DECAY = 3e-5;
export const GRAD_CLIP_NORM = 12;
/** v1 saves model_latest every this many epochs. */
export const SAVE_EVERY = 50;
/**
 * nnUNetTrainerV2.on_epoch_end: when the pseudo-Dice of epoch MOMENTUM_RESCUE_EPOCH (0-based) is
 * exactly 0, the momentum drops to RESCUE_MOMENTUM and the network is initialised afresh.
 */
export const MOMENTUM_RESCUE_EPOCH = 100;
export const RESCUE_MOMENTUM = 0.95;

/** Whether v1's epoch-100 rule fires after `epoch` (0-based) with that epoch's pseudo-Dice. */
export function needsMomentumRescue(epoch: number, pseudoDice: number): boolean {
  return epoch === MOMENTUM_RESCUE_EPOCH && pseudoDice === 0;
}

/**
 * v1's rescue: momentum RESCUE_MOMENTUM from now on (the momentum buffers are kept, as v1 keeps
 * them) and He-initialised weights (negative slope 1e-2) drawn from `seed`.
 */
export function rescueMomentum(net: GenericUNet, optimizer: SGD, seed: number): void {
  optimizer.options = { ...optimizer.options, momentum: RESCUE_MOMENTUM };
  // A fresh network on the CPU gives the new weights, whatever device `net` is on.
  const fresh = new GenericUNet(net.config);
  try {
    initWeightsHe(fresh, { generator: new Generator(seed) });
    net.loadStateDict(fresh.stateDict());
  } finally {
    fresh.dispose();
  }
}

export interface TrainOptions {
  configuration: Configuration;
  trainer?: string;
  task: string | number;
  fold: string | number;
  env?: Readonly<Record<string, string | undefined>>;
  /** Overrides of the trainer's schedule (v1 users ask for these). */
  epochs?: number;
  itersPerEpoch?: number;
  valItersPerEpoch?: number;
  /** Test and benchmark knob: overrides the planned batch size. */
  batchSize?: number;
  device?: 'cpu' | 'cuda';
  continueTraining?: boolean;
  /** Only run the final validation of an existing model (v1's -val). */
  validationOnly?: boolean;
  /** Validate with model_best instead of the final model (v1's --valbest). */
  validateBest?: boolean;
  saveNpz?: boolean;
  disableSaving?: boolean;
  seed?: number;
  workers?: number;
  threads?: number;
  /**
   * A checkpoint (.safetensors) whose weights initialise the network, by v1's load_pretrained_weights
   * rules (ignored when continuing with -c).
   */
  pretrainedWeights?: string;
  /** 3d_lowres: skip the prediction of the validation cases for the cascade (v1's --disable_next_stage_pred). */
  disableNextStagePred?: boolean;
  /** Skip deciding the fold's postprocessing after validation (v1's --disable_postprocessing_on_folds). */
  disablePostprocessingOnFolds?: boolean;
  /** Cascade augmentation parameters (default CASCADE_AUGMENTATION_V1, what v1's trainer runs). */
  cascadeAugmentation?: CascadeAugmentationParams;
  /** Set by the caller to stop after the current epoch (save, then validate). */
  stopRequested?: () => boolean;
  log?: (line: string) => void;
  onIteration?: (phase: 'train' | 'val', done: number, total: number, loss: number) => void;
  onEpoch?: (
    epoch: number,
    summary: { trainLoss: number; valLoss: number; pseudoDice: number; ema: number; lr: number; seconds: number },
  ) => void;
}

export interface TrainResult {
  foldFolder: string;
  epochs: number;
  validationSummary: string | null;
  /** 3d_lowres: the CASE_segFromPrevStage.npz files written for the cascade. */
  nextStagePredictions: string[];
}

function mean(v: readonly number[]): number {
  return v.length === 0 ? Number.NaN : v.reduce((a, b) => a + b, 0) / v.length;
}

export async function trainFold(o: TrainOptions): Promise<TrainResult> {
  const env = o.env ?? process.env;
  const trainerName = o.trainer ?? 'nnUNetTrainerV2';
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
  const task = resolveTaskName(o.task, env);
  const preprocessed = join(requireEnvFolder('nnUNet_preprocessed', env), task);
  const plansPath = join(
    preprocessed,
    o.configuration === '2d' ? 'nnUNetPlansv2.1_plans_2D.json' : 'nnUNetPlansv2.1_plans_3D.json',
  );
  if (!existsSync(plansPath)) {
    throw new NnunetError(
      'ERR_NOT_FOUND',
      `${plansPath} does not exist: run nnUNet_plan_and_preprocess -t ${task} first.`,
    );
  }
  const plans: Plans = readPlans(plansPath);
  if (isCascade && Object.keys(plans.plans_per_stage).length < 2) {
    throw new NnunetError(
      'ERR_ARGUMENT',
      `3d_cascade_fullres only applies when the plans have two stages; ${plansPath} has one, so this task needs no cascade: train 3d_fullres instead.`,
    );
  }
  const stage = stageForConfiguration(plans, o.configuration);
  const stagePlan = plans.plans_per_stage[stage];
  if (stagePlan === undefined) throw new NnunetError('ERR_DATASET', `${plansPath} has no stage ${stage}.`);
  const dataFolder = join(preprocessed, `${plans.data_identifier}_stage${stage}`);
  if (!existsSync(dataFolder)) {
    throw new NnunetError(
      'ERR_NOT_FOUND',
      `${dataFolder} does not exist: preprocess the task first (nnUNet_plan_and_preprocess without -no_pp).`,
    );
  }
  const caseIds = listPreprocessedCases(dataFolder);
  const fold: Fold = typeof o.fold === 'number' ? o.fold : parseFold(String(o.fold));
  const { splits } = readOrCreateSplits(preprocessed, caseIds);
  const split = splitForFold(splits, fold, caseIds);
  const results = requireEnvFolder('RESULTS_FOLDER', env);
  const trainerFolder = trainerFolderPath(results, o.configuration, task, trainerName);
  const foldFolder = join(trainerFolder, `fold_${fold}`);
  mkdirSync(foldFolder, { recursive: true });
  writeJsonAtomic(join(trainerFolder, 'plans.json'), plans);
  const logPath = join(foldFolder, `training_log_${new Date().toISOString().replace(/[:.]/g, '_')}.txt`);
  const log = (line: string) => {
    const stamped = `${new Date().toISOString()}: ${line}`;
    appendFileSync(logPath, `${stamped}\n`);
    o.log?.(line);
  };

  const maxEpochs = o.epochs ?? spec.maxEpochs;
  const iters = o.itersPerEpoch ?? spec.itersPerEpoch;
  const valIters = o.valItersPerEpoch ?? spec.valItersPerEpoch;
  const device = o.device ?? 'cpu';
  const seed = o.seed ?? 12345;
  const mirrorAxes = spec.mirroring ? defaultMirrorAxes(plans, stage) : [];
  // The cascade network also takes the previous stage's labels, one channel per foreground label.
  const labels = cascadeLabels(plans);
  const prevFolder = spec.cascade === undefined ? null : prevStageFolder(results, task, spec.cascade.previousTrainer);
  if (prevFolder !== null && spec.cascade !== undefined)
    requirePrevStageSegmentations(prevFolder, caseIds, { task, previousTrainer: spec.cascade.previousTrainer, splits });
  const baseConfig = unetConfigFromPlans(plans, stage, { deepSupervision: true });
  const config = isCascade ? { ...baseConfig, inputChannels: baseConfig.inputChannels + labels.length } : baseConfig;
  const net = new GenericUNet(config);
  initWeightsHe(net, { generator: new Generator(seed) });
  const resuming = o.continueTraining === true || o.validationOnly === true;
  if (o.pretrainedWeights !== undefined && !resuming) {
    const r = loadPretrainedWeights(net, o.pretrainedWeights);
    log(
      `pretrained weights from ${o.pretrainedWeights}: ${r.loaded.length} parameters loaded, ${r.skipped.length} kept as initialised${r.skipped.length > 0 ? ` (${r.skipped.map((s) => `${s.name}: ${s.reason}`).join('; ')})` : ''}`,
    );
  }
  if (device === 'cuda') net.to('cuda');
  const params = net.parameters();
  const optimizer = new SGD(params, { lr: INITIAL_LR, momentum: MOMENTUM, nesterov: true, weightDecay: WEIGHT_DECAY });
  const poolKernels = stagePlan.pool_op_kernel_sizes;
  const dsScales = deepSupervisionScales(poolKernels);
  const dsWeights = deepSupervisionLossWeights(dsScales.length);
  const lossOptions = { batchDice: batchDiceFor(o.configuration, plans.num_stages) };

  const meta: CheckpointMeta = {
    format: CHECKPOINT_FORMAT,
    trainer: trainerName,
    configuration: o.configuration,
    stage,
    fold: String(fold),
    epoch: 0,
    mirror_axes: mirrorAxes,
    ...(isCascade ? { input_channels: config.inputChannels, cascade_labels: labels } : {}),
  };
  let state: TrainerState = {
    epoch: 0,
    lr: polyLr(0, maxEpochs, INITIAL_LR),
    log: { trainLoss: [], valLoss: [], evalMetric: [], evalMetricEma: [] },
    bestEma: null,
    optimizer: { options: {}, stepCount: 0 },
    seed,
  };
  const save = (name: string) => {
    if (o.disableSaving) return;
    const opt = optimizer.stateDict();
    saveTrainingCheckpoint(
      foldFolder,
      name,
      net.stateDict(),
      opt.tensors,
      { ...meta, epoch: state.epoch },
      {
        ...state,
        optimizer: { options: opt.meta.options as unknown as Record<string, unknown>, stepCount: opt.meta.stepCount },
      },
    );
  };

  const resumeFrom = o.continueTraining || o.validationOnly ? checkpointToContinue(foldFolder) : null;
  if ((o.continueTraining || o.validationOnly) && resumeFrom === null) {
    throw new NnunetError('ERR_NOT_FOUND', `${foldFolder} has no checkpoint to continue from: train without -c first.`);
  }
  if (resumeFrom !== null) {
    const name = o.validationOnly && o.validateBest ? 'model_best' : resumeFrom;
    const ck = loadTrainingCheckpoint(foldFolder, name);
    net.loadStateDict(ck.weights);
    if (ck.optimizer.size > 0) {
      optimizer.loadStateDict({
        tensors: ck.optimizer,
        meta: {
          options: { ...(ck.file.state.optimizer.options as object), lr: ck.file.state.lr } as never,
          stepCount: ck.file.state.optimizer.stepCount,
        },
      });
    }
    for (const t of [...ck.weights.values(), ...ck.optimizer.values()]) t.dispose();
    state = ck.file.state;
    log(`continuing from ${name} at epoch ${state.epoch}`);
  }

  let validationSummary: string | null = null;
  if (!o.validationOnly) {
    const basic = spec.augmentation
      ? trainerV2AugmentationParams({
          patchSize: stagePlan.patch_size,
          doDummy2DAug: stagePlan.do_dummy_2D_data_aug,
          useMaskForNorm: Object.keys(plans.modalities).map((k) => plans.use_mask_for_norm[k] === true),
        })
      : null;
    const augParams: AugmentationParams | null =
      basic === null ? null : { ...basic.params, mirror: { enabled: spec.mirroring, axes: mirrorAxes } };
    const dim = stagePlan.patch_size.length as 2 | 3;
    const batchSize = o.batchSize ?? stagePlan.batch_size;
    const transformModule = new URL('./train-transform.js', import.meta.url);
    const cascadeAugmentation = o.cascadeAugmentation ?? CASCADE_AUGMENTATION_V1;
    const withPrev = prevFolder === null ? {} : { prevStageFolder: prevFolder };
    const trainProducer = new BatchProducer({
      dataset: loadDataset(dataFolder, { keys: split.train, ...withPrev }),
      loader: {
        dim,
        patchSize: basic?.basicGeneratorPatchSize ?? stagePlan.patch_size,
        finalPatchSize: stagePlan.patch_size,
        batchSize,
      },
      seed,
      startIndex: state.epoch * iters,
      ...(o.workers !== undefined ? { workers: o.workers } : {}),
      transform: {
        module: transformModule,
        options: {
          params: augParams,
          ...(isCascade ? { cascade: { labels, augmentation: spec.augmentation ? cascadeAugmentation : null } } : {}),
        },
      },
    });
    const valProducer = new BatchProducer({
      dataset: loadDataset(dataFolder, { keys: split.val, ...withPrev }),
      loader: { dim, patchSize: stagePlan.patch_size, finalPatchSize: stagePlan.patch_size, batchSize },
      seed: (seed + 1) >>> 0,
      startIndex: state.epoch * valIters,
      workers: 1,
      transform: {
        module: transformModule,
        options: { params: null, ...(isCascade ? { cascade: { labels, augmentation: null } } : {}) },
      },
    });
    log(
      `training ${trainerName} ${o.configuration} ${task} fold ${fold}: ${split.train.length} training and ${split.val.length} validation cases, epochs ${state.epoch}..${maxEpochs - 1}, ${iters} iterations per epoch, batch ${batchSize}`,
    );
    const toDevice = (t: Tensor) => (device === 'cuda' ? t.to('cuda') : t);
    try {
      while (state.epoch < maxEpochs) {
        const t0 = performance.now();
        const epoch = state.epoch;
        const lr = polyLr(epoch, maxEpochs, INITIAL_LR);
        optimizer.lr = lr;
        state.lr = lr;
        net.train();
        const trainLosses: number[] = [];
        for (let i = 0; i < iters; i++) {
          const batch: ProducedBatch = await trainProducer.next();
          const loss = tidy(() => {
            const data = toDevice(batch.tensor('data'));
            const seg = toDevice(batch.tensor('seg'));
            const targets = downsampleSegForDeepSupervision(seg, dsScales);
            const outputs = net.forward(data) as Tensor[];
            const l = deepSupervisionLoss(outputs, targets, dsWeights, lossOptions);
            optimizer.zeroGrad();
            l.backward();
            clipGradNorm_(params, GRAD_CLIP_NORM);
            optimizer.step();
            return l.item();
          });
          batch.release();
          trainLosses.push(loss);
          o.onIteration?.('train', i + 1, iters, loss);
        }
        const online = new OnlineEvaluation();
        const valLosses: number[] = [];
        noGrad(() => {
          net.eval();
        });
        for (let i = 0; i < valIters; i++) {
          const batch = await valProducer.next();
          const loss = noGrad(() =>
            tidy(() => {
              const data = toDevice(batch.tensor('data'));
              const seg = toDevice(batch.tensor('seg'));
              const targets = downsampleSegForDeepSupervision(seg, dsScales);
              const outputs = net.forward(data) as Tensor[];
              online.add(outputs[0] as Tensor, targets[0] as Tensor);
              return deepSupervisionLoss(outputs, targets, dsWeights, lossOptions).item();
            }),
          );
          batch.release();
          valLosses.push(loss);
          o.onIteration?.('val', i + 1, valIters, loss);
        }
        const pseudoDice = valIters > 0 ? online.finish().meanForegroundDice : Number.NaN;
        const trainLoss = mean(trainLosses);
        const valLoss = mean(valLosses);
        // v1 falls back to -val_loss when no metric is available.
        const metric = Number.isFinite(pseudoDice) ? pseudoDice : -valLoss;
        const previousEma = state.log.evalMetricEma.length > 0 ? (state.log.evalMetricEma.at(-1) as number) : null;
        const ema = evalCriterionMovingAverage(previousEma, metric);
        state.log.trainLoss.push(trainLoss);
        state.log.valLoss.push(valLoss);
        state.log.evalMetric.push(pseudoDice);
        state.log.evalMetricEma.push(ema);
        state.epoch = epoch + 1;
        const seconds = (performance.now() - t0) / 1000;
        log(
          `epoch ${epoch}: train loss ${trainLoss.toFixed(4)}, val loss ${valLoss.toFixed(4)}, pseudo dice ${pseudoDice.toFixed(4)}, EMA ${ema.toFixed(4)}, lr ${lr.toExponential(3)}, ${seconds.toFixed(1)} s, live tensors ${memoryStats().liveTensors}`,
        );
        o.onEpoch?.(epoch, { trainLoss, valLoss, pseudoDice, ema, lr, seconds });
        if (state.bestEma === null || ema > state.bestEma) {
          state.bestEma = ema;
          save('model_best');
        }
        if (epoch % SAVE_EVERY === SAVE_EVERY - 1 || o.stopRequested?.()) save('model_latest');
        if (!o.disableSaving)
          await writeProgressPng(
            join(foldFolder, 'progress.png'),
            state.log,
            `${task} ${o.configuration} fold ${fold}`,
          );
        if (needsMomentumRescue(epoch, pseudoDice)) {
          rescueMomentum(net, optimizer, (seed + MOMENTUM_RESCUE_EPOCH) >>> 0);
          log(
            `At epoch ${epoch} the mean foreground Dice was 0, which a too high momentum can cause: momentum is now ${RESCUE_MOMENTUM} and the network weights were initialised again.`,
          );
        }
        if (o.stopRequested?.()) {
          log(`stopping after epoch ${epoch} as requested`);
          break;
        }
      }
    } finally {
      await trainProducer.close();
      await valProducer.close();
    }
    save('model_final_checkpoint');
    writeJsonAtomic(join(foldFolder, 'debug.json'), {
      trainer: trainerName,
      configuration: o.configuration,
      task,
      fold,
      stage,
      epochs: state.epoch,
      max_epochs: maxEpochs,
      iters_per_epoch: iters,
      val_iters_per_epoch: valIters,
      batch_size: o.batchSize ?? stagePlan.batch_size,
      patch_size: stagePlan.patch_size,
      batch_dice: lossOptions.batchDice,
      deep_supervision_weights: dsWeights,
      deep_supervision_scales: dsScales,
      mirror_axes: mirrorAxes,
      ...(isCascade
        ? { cascade_labels: labels, seg_from_prev_stage_folder: prevFolder, cascade_augmentation: cascadeAugmentation }
        : {}),
      ...(o.pretrainedWeights !== undefined && !resuming ? { pretrained_weights: o.pretrainedWeights } : {}),
      initial_lr: INITIAL_LR,
      momentum: MOMENTUM,
      weight_decay: WEIGHT_DECAY,
      seed,
      device,
      dataset_train: split.train,
      dataset_val: split.val,
    });
  }
  log(`validating ${split.val.length} cases into validation_raw`);
  const evaluation = await validateFold(net, plans, stage, {
    stagePreprocessedFolder: dataFolder,
    gtFolder: join(preprocessed, 'gt_segmentations'),
    outputFolder: join(foldFolder, 'validation_raw'),
    caseIds: split.val,
    mirrorAxes,
    saveNpz: o.saveNpz === true,
    device,
    ...(prevFolder !== null ? { prevStage: { folder: prevFolder, labels } } : {}),
  });
  validationSummary = evaluation.summaryPath;
  const means = evaluation.summary.results.mean as Record<string, Record<string, number>>;
  log(
    `validation Dice per class: ${Object.entries(means)
      .map(([k, v]) => `${k}: ${Number(v.Dice).toFixed(4)}`)
      .join(', ')}`,
  );
  // v1 ends validation by deciding the fold's postprocessing and keeping a copy of the references
  // in the trainer folder for consolidating the folds later.
  const gtFolder = join(preprocessed, 'gt_segmentations');
  copyReferences(gtFolder, join(trainerFolder, 'gt_niftis'));
  if (o.disablePostprocessingOnFolds !== true) {
    log('determining postprocessing on the validation cases');
    const pp = await determineFoldPostprocessing(foldFolder, gtFolder, { log });
    log(`postprocessing: ${pp.path}`);
  }
  let nextStagePredictions: string[] = [];
  if (o.configuration === '3d_lowres' && o.disableNextStagePred !== true) {
    const nextStage = stageForConfiguration(plans, '3d_fullres');
    const outputFolder = join(trainerFolder, PRED_NEXT_STAGE_FOLDER);
    log(`predicting ${split.val.length} cases for the next stage of the cascade into ${outputFolder}`);
    nextStagePredictions = predictNextStage(net, plans, stage, {
      lowresFolder: dataFolder,
      nextStageFolder: join(preprocessed, `${plans.data_identifier}_stage${nextStage}`),
      outputFolder,
      caseIds: split.val,
      mirrorAxes,
      device,
    });
  }
  net.dispose();
  optimizer.dispose();
  return { foldFolder, epochs: state.epoch, validationSummary, nextStagePredictions };
}

/** Copies the reference segmentations that are not there yet (v1's TRAINER/gt_niftis). */
function copyReferences(from: string, to: string): void {
  if (!existsSync(from)) return;
  mkdirSync(to, { recursive: true });
  for (const f of readdirSync(from)) {
    if (!f.endsWith('.nii.gz') || existsSync(join(to, f))) continue;
    const tmp = join(to, `.${f}.tmp-${process.pid}`);
    copyFileSync(join(from, f), tmp);
    renameSync(tmp, join(to, f));
  }
}
