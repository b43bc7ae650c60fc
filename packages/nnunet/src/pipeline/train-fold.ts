/**
 * nnUNet_train for one fold as a library function: set-up (fold context with the fold's lock, and
 * model), resume or a fresh state, the epoch loop, the final checkpoint and debug.json, then the
 * finish (validation, postprocessing decision, next-stage predictions). `-val` skips straight to
 * the finish with the final (or best) checkpoint. training_status.json follows every step, and an
 * interrupted run returns `interrupted` with model_latest holding its exact position.
 */

import type { ProcessGroup } from '@nnunet/torch';
import { NnunetError } from '../errors.js';
import { checkpointSetExists } from '../model/checkpoint-set.js';
import { BEST_CHECKPOINT, FINAL_CHECKPOINT, LATEST_CHECKPOINT } from '../model/layout.js';
import {
  initialTrainerState,
  prepareFoldFolder,
  resumeFromCheckpoint,
  type TrainerState,
  writeCheckpoint,
} from '../training/checkpoint.js';
import { anyRank, broadcastFromRankZero } from '../training/data-parallel.js';
import { runEpochs } from '../training/epoch-loop.js';
import { finishFold, writeDebugJson } from '../training/finish.js';
import { createFoldContext, createFoldModel, type FoldContext, type FoldModel } from '../training/fold-context.js';
import type { TrainOptions, TrainResult } from '../training/options.js';
import { writeFoldStatus } from '../training/status.js';
import { takeoverNote } from '../util/lock.js';

/** Whether the fold folder holds any checkpoint set that -c could continue from. */
function hasCheckpoint(ctx: FoldContext): boolean {
  return [FINAL_CHECKPOINT, LATEST_CHECKPOINT, BEST_CHECKPOINT].some((n) => checkpointSetExists(ctx.foldFolder, n));
}

/** Store key through which rank 0 tells the other ranks that the fold folder is ready (or why not). */
const SETUP_KEY = 'nnunet-train-setup';

export async function trainFold(o: TrainOptions): Promise<TrainResult> {
  const group = o.group ?? null;
  if (group !== null && group.rank !== 0) return followRankZero(o, group);
  let ctx: FoldContext;
  try {
    ctx = createFoldContext(o);
  } catch (e) {
    group?.setValue(SETUP_KEY, `failed: ${(e as Error).message}`);
    throw e;
  }
  try {
    return await trainAsWriter(ctx, o);
  } catch (e) {
    // Tells ranks still waiting for the set-up (the others read it once, at their start).
    group?.setValue(SETUP_KEY, `failed: ${(e as Error).message}`);
    throw e;
  } finally {
    ctx.lock?.release();
  }
}

/**
 * A data-parallel rank other than 0: waits until rank 0 has prepared the fold folder (split,
 * recovered checkpoints), trains its share of every batch in step with the others, then predicts
 * its share of the validation cases; the checkpoints, the evaluation and every other file are rank 0's.
 */
async function followRankZero(o: TrainOptions, group: ProcessGroup): Promise<TrainResult> {
  const setup = group.getValue(SETUP_KEY);
  if (setup !== 'ok')
    throw new NnunetError(
      'ERR_ARGUMENT',
      `rank ${group.rank}: rank 0 could not start the training (${setup.replace(/^failed: /, '')}).`,
    );
  const ctx = createFoldContext(o);
  const resuming = o.validationOnly === true || (o.continueTraining === true && hasCheckpoint(ctx));
  const start = modelAndState(ctx, o, resuming);
  const { model } = start;
  const result = (epochs: number, interrupted: boolean): TrainResult => ({
    foldFolder: ctx.foldFolder,
    epochs,
    interrupted,
    validationSummary: null,
    nextStagePredictions: [],
  });
  try {
    let state = start.state;
    if (o.validationOnly !== true) {
      broadcastFromRankZero(group, model.net.parameters());
      const run = await runEpochs(ctx, model, state, o);
      state = run.state;
      if (run.interrupted) return result(state.epoch, true);
    }
    if (stopBeforeValidation(ctx, o)) return result(state.epoch, true);
    await finishFold(ctx, model, o);
    return result(state.epoch, false);
  } finally {
    model.dispose();
  }
}

/**
 * Whether a stop was asked for between the last iteration and the final validation (on any rank:
 * the ranks validate together or not at all).
 */
function stopBeforeValidation(ctx: FoldContext, o: TrainOptions): boolean {
  const mine = o.interruptRequested?.() === true;
  return ctx.group === null ? mine : (anyRank(ctx.group, [mine])[0] as boolean);
}

/**
 * The fold's network and the state training starts from: a checkpoint's when resuming (-c, -val),
 * else a fresh one (the precision: the one asked for, else the run's own when resuming, else
 * newRunPrecision).
 */
function modelAndState(
  ctx: FoldContext,
  o: TrainOptions,
  resuming: boolean,
): { model: FoldModel; state: TrainerState } {
  const startPrecision = o.precision ?? (resuming ? undefined : o.newRunPrecision);
  const model = createFoldModel(ctx, {
    ...(o.pretrainedWeights ? { pretrainedWeights: o.pretrainedWeights } : {}),
    ...(startPrecision !== undefined ? { precision: startPrecision } : {}),
    resuming,
  });
  try {
    const state = resuming
      ? resumeFromCheckpoint(ctx, model, {
          ...(o.validationOnly === true ? { validate: o.validateBest === true ? 'best' : 'final' } : {}),
          ...(o.epochs !== undefined ? { epochs: o.epochs } : {}),
          ...(o.itersPerEpoch !== undefined ? { itersPerEpoch: o.itersPerEpoch } : {}),
          ...(o.valItersPerEpoch !== undefined ? { valItersPerEpoch: o.valItersPerEpoch } : {}),
          ...(o.precision !== undefined ? { precision: o.precision } : {}),
        })
      : initialTrainerState(
          { maxEpochs: ctx.maxEpochs, itersPerEpoch: ctx.itersPerEpoch, valItersPerEpoch: ctx.valItersPerEpoch },
          ctx.seed,
        );
    return { model, state };
  } catch (e) {
    model.dispose();
    throw e;
  }
}

async function trainAsWriter(ctx: FoldContext, o: TrainOptions): Promise<TrainResult> {
  const group = ctx.group;
  // -c on a fold without any checkpoint starts it (as nnU-Net v2 does), so one job script serves
  // the first run and every requeued one.
  const nothingToContinue = o.continueTraining === true && o.validationOnly !== true && !hasCheckpoint(ctx);
  const resuming = (o.continueTraining === true && !nothingToContinue) || o.validationOnly === true;
  let state: TrainerState | null = null;
  let status: 'training' | 'validation' = 'training';
  const interrupted = (s: TrainerState): TrainResult => ({
    foldFolder: ctx.foldFolder,
    epochs: s.epoch,
    interrupted: true,
    validationSummary: null,
    nextStagePredictions: [],
  });
  try {
    const note = ctx.lock === null ? null : takeoverNote(ctx.lock);
    if (note !== null) ctx.log(note);
    if (nothingToContinue) ctx.log(`-c: ${ctx.foldFolder} has no checkpoint yet, so this run starts the fold`);
    for (const n of prepareFoldFolder(ctx.foldFolder, { freshRun: !resuming && o.disableSaving !== true })) ctx.log(n);
    if (group !== null) {
      group.setValue(SETUP_KEY, 'ok');
      ctx.log(
        `data-parallel training on ${group.size} processes (${group.backend}): batch ${ctx.batchSize} on this rank`,
      );
    }
    const start = modelAndState(ctx, o, resuming);
    const { model } = start;
    try {
      state = start.state;
      if (group !== null && o.validationOnly !== true) broadcastFromRankZero(group, model.net.parameters());
      if (o.validationOnly !== true) {
        if (!o.disableSaving) writeFoldStatus(ctx, 'training', state);
        const run = await runEpochs(ctx, model, state, o);
        state = run.state;
        if (run.interrupted) {
          if (!o.disableSaving) writeFoldStatus(ctx, 'interrupted', state);
          return interrupted(state);
        }
        if (!o.disableSaving) {
          writeCheckpoint(ctx, model, state, FINAL_CHECKPOINT);
          writeFoldStatus(ctx, 'trained', state, { stoppedEarly: state.epoch < ctx.maxEpochs });
        }
        writeDebugJson(ctx, model, state, {
          cascadeAugmentation: run.cascadeAugmentation,
          ...(o.pretrainedWeights !== undefined && !resuming ? { pretrainedWeights: o.pretrainedWeights } : {}),
        });
      }
      // A stop asked for after the last iteration: the training is saved, the validation waits for -c / -val.
      if (stopBeforeValidation(ctx, o)) {
        ctx.log(`interrupted before the final validation; continue with -c (or -val) to validate`);
        return interrupted(state);
      }
      status = 'validation';
      o.onPhase?.('validation');
      const finish = await finishFold(ctx, model, o);
      if (finish === null) throw new Error('rank 0 got no validation summary');
      if (!o.disableSaving) writeFoldStatus(ctx, 'complete', state, { stoppedEarly: state.epoch < ctx.maxEpochs });
      return { foldFolder: ctx.foldFolder, epochs: state.epoch, interrupted: false, ...finish };
    } finally {
      model.dispose();
    }
  } catch (e) {
    // A fold that stopped on an error says so (a finished training keeps "trained").
    if (status === 'training' && o.disableSaving !== true) {
      try {
        writeFoldStatus(ctx, 'failed', state, { error: (e as Error).message });
      } catch {
        // the original error matters more (e.g. the disk is full)
      }
    }
    throw e;
  }
}
