/**
 * nnUNet_train for one fold as a library function: set-up (fold context with the fold's lock, and
 * model), resume or a fresh state, the epoch loop, the final checkpoint and debug.json, then the
 * finish (validation, postprocessing decision, next-stage predictions). `-val` skips straight to
 * the finish with the final (or best) checkpoint. training_status.json follows every step, and an
 * interrupted run returns `interrupted` with model_latest holding its exact position.
 */
import { checkpointSetExists } from '../model/checkpoint-set.js';
import { BEST_CHECKPOINT, FINAL_CHECKPOINT, LATEST_CHECKPOINT } from '../model/layout.js';
import {
  initialTrainerState,
  prepareFoldFolder,
  resumeFromCheckpoint,
  type TrainerState,
  writeCheckpoint,
} from '../training/checkpoint.js';
import { runEpochs } from '../training/epoch-loop.js';
import { finishFold, writeDebugJson } from '../training/finish.js';
import { createFoldContext, createFoldModel } from '../training/fold-context.js';
import type { TrainOptions, TrainResult } from '../training/options.js';
import { writeFoldStatus } from '../training/status.js';
import { takeoverNote } from '../util/lock.js';

export async function trainFold(o: TrainOptions): Promise<TrainResult> {
  const ctx = createFoldContext(o);
  // -c on a fold without any checkpoint starts it (as nnU-Net v2 does), so one job script serves
  // the first run and every requeued one.
  const nothingToContinue =
    o.continueTraining === true &&
    o.validationOnly !== true &&
    ![FINAL_CHECKPOINT, LATEST_CHECKPOINT, BEST_CHECKPOINT].some((n) => checkpointSetExists(ctx.foldFolder, n));
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
    const note = takeoverNote(ctx.lock);
    if (note !== null) ctx.log(note);
    if (nothingToContinue) ctx.log(`-c: ${ctx.foldFolder} has no checkpoint yet, so this run starts the fold`);
    for (const n of prepareFoldFolder(ctx.foldFolder, { freshRun: !resuming && o.disableSaving !== true })) ctx.log(n);
    const startPrecision = o.precision ?? (resuming ? undefined : o.newRunPrecision);
    const model = createFoldModel(ctx, {
      ...(o.pretrainedWeights ? { pretrainedWeights: o.pretrainedWeights } : {}),
      ...(startPrecision !== undefined ? { precision: startPrecision } : {}),
      resuming,
    });
    try {
      state = resuming
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
      if (o.interruptRequested?.() === true) {
        ctx.log(`interrupted before the final validation; continue with -c (or -val) to validate`);
        return interrupted(state);
      }
      status = 'validation';
      o.onPhase?.('validation');
      const finish = await finishFold(ctx, model, o);
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
  } finally {
    ctx.lock.release();
  }
}
