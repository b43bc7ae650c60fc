/**
 * nnUNet_train for one fold as a library function: set-up (fold context and model), resume or a
 * fresh state, the epoch loop, the final checkpoint and debug.json, then the finish (validation,
 * postprocessing decision, next-stage predictions). `-val` skips straight to the finish with the
 * final (or best) checkpoint.
 */
import { FINAL_CHECKPOINT } from '../model/layout.js';
import { initialTrainerState, resumeFromCheckpoint, writeCheckpoint } from '../training/checkpoint.js';
import { runEpochs } from '../training/epoch-loop.js';
import { finishFold, writeDebugJson } from '../training/finish.js';
import { createFoldContext, createFoldModel } from '../training/fold-context.js';
import type { TrainOptions, TrainResult } from '../training/options.js';

export async function trainFold(o: TrainOptions): Promise<TrainResult> {
  const ctx = createFoldContext(o);
  const resuming = o.continueTraining === true || o.validationOnly === true;
  const model = createFoldModel(ctx, {
    ...(o.pretrainedWeights ? { pretrainedWeights: o.pretrainedWeights } : {}),
    resuming,
  });
  try {
    let state = resuming
      ? resumeFromCheckpoint(ctx, model, { best: o.validationOnly === true && o.validateBest === true })
      : initialTrainerState(ctx.maxEpochs, ctx.seed);
    if (o.validationOnly !== true) {
      const run = await runEpochs(ctx, model, state, o);
      state = run.state;
      if (!o.disableSaving) writeCheckpoint(ctx, model, state, FINAL_CHECKPOINT);
      writeDebugJson(ctx, model, state, {
        cascadeAugmentation: run.cascadeAugmentation,
        ...(o.pretrainedWeights !== undefined && !resuming ? { pretrainedWeights: o.pretrainedWeights } : {}),
      });
    }
    const finish = await finishFold(ctx, model, o);
    return { foldFolder: ctx.foldFolder, epochs: state.epoch, ...finish };
  } finally {
    model.dispose();
  }
}
