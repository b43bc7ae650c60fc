/**
 * The end of a fold, as v1 ends it: debug.json describing the run, the final validation of the
 * fold's validation cases into validation_raw/ (with summary.json), a copy of the references in the
 * trainer folder (gt_niftis, for consolidating folds later), the fold's postprocessing decision,
 * and for 3d_lowres the predictions the cascade's next stage trains on.
 */
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { stageDataFolder, stageForConfiguration } from '../model/layout.js';
import { determineFoldPostprocessing } from '../postprocessing/determine.js';
import { copyFileAtomic, writeJsonAtomic } from '../util/atomic.js';
import type { CascadeAugmentationParams } from './augmentation/index.js';
import { PRED_NEXT_STAGE_FOLDER, predictNextStage, segFromPrevStagePath } from './cascade.js';
import type { TrainerState } from './checkpoint.js';
import type { FoldContext, FoldModel } from './fold-context.js';
import type { TrainOptions } from './options.js';
import { INITIAL_LR, MOMENTUM, WEIGHT_DECAY } from './trainer-spec.js';
import { evaluateValidation, predictValidationCases } from './validate.js';

/** Writes fold_N/debug.json: the settings and cases of the run (v1 writes the same file). */
export function writeDebugJson(
  ctx: FoldContext,
  model: FoldModel,
  state: TrainerState,
  extras: { cascadeAugmentation: CascadeAugmentationParams | null; pretrainedWeights?: string },
): void {
  writeJsonAtomic(join(ctx.foldFolder, 'debug.json'), {
    trainer: ctx.trainerName,
    configuration: ctx.configuration,
    task: ctx.task,
    fold: ctx.fold,
    stage: ctx.stage,
    epochs: state.epoch,
    max_epochs: ctx.maxEpochs,
    iters_per_epoch: ctx.itersPerEpoch,
    val_iters_per_epoch: ctx.valItersPerEpoch,
    batch_size: ctx.batchSize,
    patch_size: ctx.stagePlan.patch_size,
    batch_dice: model.lossOptions.batchDice,
    deep_supervision_weights: model.dsWeights,
    deep_supervision_scales: model.dsScales,
    mirror_axes: ctx.mirrorAxes,
    ...(ctx.cascade !== null
      ? {
          cascade_labels: ctx.cascade.labels,
          seg_from_prev_stage_folder: ctx.cascade.prevStageFolder,
          cascade_augmentation: extras.cascadeAugmentation,
        }
      : {}),
    ...(extras.pretrainedWeights !== undefined ? { pretrained_weights: extras.pretrainedWeights } : {}),
    initial_lr: INITIAL_LR,
    momentum: MOMENTUM,
    weight_decay: WEIGHT_DECAY,
    seed: ctx.seed,
    device: ctx.device,
    precision: model.precision,
    dataset_train: ctx.split.train,
    dataset_val: ctx.split.val,
  });
}

export interface FoldFinish {
  validationSummary: string;
  /** 3d_lowres: the CASE_segFromPrevStage.npz files written for the cascade. */
  nextStagePredictions: string[];
}

/** The cases of `caseIds` that rank `rank` of `size` predicts (every size-th, as nnU-Net v2 splits them). */
export function casesOfRank(caseIds: readonly string[], rank: number, size: number): string[] {
  return caseIds.filter((_, i) => i % size === rank);
}

/**
 * Validates the fold, decides its postprocessing and, for 3d_lowres, predicts for the next stage.
 * In data-parallel training every rank calls it: each predicts its share of the validation cases
 * (and of the next stage's), then rank 0 alone evaluates them all and decides the postprocessing
 * (the other ranks get null).
 */
export async function finishFold(
  ctx: FoldContext,
  model: FoldModel,
  o: Pick<TrainOptions, 'saveNpz' | 'disablePostprocessingOnFolds' | 'disableNextStagePred'>,
): Promise<FoldFinish | null> {
  const { net } = model;
  const group = ctx.group;
  const mine = group === null ? ctx.split.val : casesOfRank(ctx.split.val, group.rank, group.size);
  const validation = {
    gtFolder: ctx.gtFolder,
    outputFolder: join(ctx.foldFolder, 'validation_raw'),
    caseIds: ctx.split.val,
  };
  ctx.log(
    group === null
      ? `validating ${ctx.split.val.length} cases into validation_raw`
      : `validating ${ctx.split.val.length} cases into validation_raw, split over ${group.size} processes`,
  );
  await predictValidationCases(net, ctx.plans, ctx.stage, {
    ...validation,
    caseIds: mine,
    stagePreprocessedFolder: ctx.dataFolder,
    mirrorAxes: ctx.mirrorAxes,
    saveNpz: o.saveNpz === true,
    device: ctx.device,
    ...(ctx.cascade !== null ? { prevStage: { folder: ctx.cascade.prevStageFolder, labels: ctx.cascade.labels } } : {}),
  });
  const nextStage = ctx.configuration === '3d_lowres' && o.disableNextStagePred !== true;
  const nextStageFolder = join(ctx.trainerFolder, PRED_NEXT_STAGE_FOLDER);
  if (nextStage) {
    ctx.log(`predicting ${ctx.split.val.length} cases for the next stage of the cascade into ${nextStageFolder}`);
    predictNextStage(net, ctx.plans, ctx.stage, {
      lowresFolder: ctx.dataFolder,
      nextStageFolder: stageDataFolder(
        ctx.preprocessedFolder,
        ctx.plans,
        stageForConfiguration(ctx.plans, '3d_fullres'),
      ),
      outputFolder: nextStageFolder,
      caseIds: mine,
      mirrorAxes: ctx.mirrorAxes,
      device: ctx.device,
    });
  }
  // Every rank's predictions are on disk before rank 0 reads them.
  if (group !== null) group.barrier().wait();
  if (!ctx.isWriter) return null;
  const evaluation = await evaluateValidation(ctx.plans, validation);
  const means = evaluation.summary.results.mean as Record<string, Record<string, number>>;
  ctx.log(
    `validation Dice per class: ${Object.entries(means)
      .map(([k, v]) => `${k}: ${Number(v.Dice).toFixed(4)}`)
      .join(', ')}`,
  );
  // v1 ends validation by deciding the fold's postprocessing and keeping a copy of the references
  // in the trainer folder for consolidating the folds later.
  copyReferences(ctx.gtFolder, join(ctx.trainerFolder, 'gt_niftis'));
  if (o.disablePostprocessingOnFolds !== true) {
    ctx.log('determining postprocessing on the validation cases');
    const pp = await determineFoldPostprocessing(ctx.foldFolder, ctx.gtFolder, { log: ctx.log });
    ctx.log(`postprocessing: ${pp.path}`);
  }
  return {
    validationSummary: evaluation.summaryPath,
    nextStagePredictions: nextStage ? ctx.split.val.map((id) => segFromPrevStagePath(nextStageFolder, id)) : [],
  };
}

/** Copies the reference segmentations that are not there yet (v1's TRAINER/gt_niftis). */
function copyReferences(from: string, to: string): void {
  if (!existsSync(from)) return;
  mkdirSync(to, { recursive: true });
  for (const f of readdirSync(from)) {
    if (!f.endsWith('.nii.gz') || existsSync(join(to, f))) continue;
    copyFileAtomic(join(from, f), join(to, f));
  }
}
