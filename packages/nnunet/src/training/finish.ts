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
import { PRED_NEXT_STAGE_FOLDER, predictNextStage } from './cascade.js';
import type { TrainerState } from './checkpoint.js';
import type { FoldContext, FoldModel } from './fold-context.js';
import type { TrainOptions } from './options.js';
import { INITIAL_LR, MOMENTUM, WEIGHT_DECAY } from './trainer-spec.js';
import { validateFold } from './validate.js';

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

/** Validates the fold, decides its postprocessing and, for 3d_lowres, predicts for the next stage. */
export async function finishFold(
  ctx: FoldContext,
  model: FoldModel,
  o: Pick<TrainOptions, 'saveNpz' | 'disablePostprocessingOnFolds' | 'disableNextStagePred'>,
): Promise<FoldFinish> {
  const { net } = model;
  ctx.log(`validating ${ctx.split.val.length} cases into validation_raw`);
  const evaluation = await validateFold(net, ctx.plans, ctx.stage, {
    stagePreprocessedFolder: ctx.dataFolder,
    gtFolder: ctx.gtFolder,
    outputFolder: join(ctx.foldFolder, 'validation_raw'),
    caseIds: ctx.split.val,
    mirrorAxes: ctx.mirrorAxes,
    saveNpz: o.saveNpz === true,
    device: ctx.device,
    ...(ctx.cascade !== null ? { prevStage: { folder: ctx.cascade.prevStageFolder, labels: ctx.cascade.labels } } : {}),
  });
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
  let nextStagePredictions: string[] = [];
  if (ctx.configuration === '3d_lowres' && o.disableNextStagePred !== true) {
    const nextStage = stageForConfiguration(ctx.plans, '3d_fullres');
    const outputFolder = join(ctx.trainerFolder, PRED_NEXT_STAGE_FOLDER);
    ctx.log(`predicting ${ctx.split.val.length} cases for the next stage of the cascade into ${outputFolder}`);
    nextStagePredictions = predictNextStage(net, ctx.plans, ctx.stage, {
      lowresFolder: ctx.dataFolder,
      nextStageFolder: stageDataFolder(ctx.preprocessedFolder, ctx.plans, nextStage),
      outputFolder,
      caseIds: ctx.split.val,
      mirrorAxes: ctx.mirrorAxes,
      device: ctx.device,
    });
  }
  return { validationSummary: evaluation.summaryPath, nextStagePredictions };
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
