/**
 * The epoch loop of nnUNetTrainerV2: background batch producers for training (augmented, from the
 * loader's enlarged patch) and validation batches (unaugmented), then per epoch the poly learning
 * rate, `itersPerEpoch` training steps, `valItersPerEpoch` validation steps with the online
 * pseudo-Dice and its moving average, the log line, checkpoints (model_best on a new best average,
 * model_latest every `saveEvery` epochs and when asked to stop), progress.png and v1's epoch-100
 * momentum rescue. The loop yields to the event loop after every iteration so that signal handlers
 * run: `stopRequested` ends it after the epoch (saved), `interruptRequested` after the current
 * iteration with model_latest holding the exact position. Resumes from (state.epoch,
 * state.iteration); batch k is made from (seed, k) alone, so the data continue exactly.
 */
import { join } from 'node:path';
import { memoryStats, noGrad } from '@nnunet/torch';
import { BEST_CHECKPOINT, LATEST_CHECKPOINT } from '../model/layout.js';
import type { AugmentationParams, CascadeAugmentationParams } from './augmentation/index.js';
import { CASCADE_AUGMENTATION_V1, trainerV2AugmentationParams } from './augmentation/index.js';
import { BatchProducer } from './batch-producer.js';
import { type TrainerState, writeCheckpoint } from './checkpoint.js';
import { loadDataset } from './data-loader.js';
import { anyRank, countsOverRanks, meanOverRanks } from './data-parallel.js';
import type { FoldContext, FoldModel } from './fold-context.js';
import { evalCriterionMovingAverage, OnlineEvaluation } from './loss.js';
import { polyLr } from './lr-schedule.js';
import type { TrainOptions } from './options.js';
import { writeProgressPng } from './progress-plot.js';
import { trainStep, validationStep } from './steps.js';
import {
  INITIAL_LR,
  MOMENTUM_RESCUE_EPOCH,
  needsMomentumRescue,
  RESCUE_MOMENTUM,
  rescueMomentum,
} from './trainer-spec.js';

/** What the loop reports and how it is stopped (a subset of TrainOptions). */
export type EpochLoopOptions = Pick<
  TrainOptions,
  | 'workers'
  | 'disableSaving'
  | 'stopRequested'
  | 'interruptRequested'
  | 'saveEvery'
  | 'onIteration'
  | 'onEpoch'
  | 'cascadeAugmentation'
>;

/** A data-parallel rank's own stream of batches: rank 0 keeps the run's seed. */
function rankSeed(seed: number, ctx: FoldContext): number {
  const rank = ctx.group?.rank ?? 0;
  return (seed + Math.imul(rank, 0x9e3779b1)) >>> 0;
}

/** Lets pending signal handlers and timers run (a resolved await alone does not turn the event loop). */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function mean(v: readonly number[]): number {
  return v.length === 0 ? Number.NaN : v.reduce((a, b) => a + b, 0) / v.length;
}

/** The training and validation batch producers of a fold, started at `state.epoch`. */
function createProducers(
  ctx: FoldContext,
  state: TrainerState,
  o: EpochLoopOptions,
): { train: BatchProducer; val: BatchProducer; cascadeAugmentation: CascadeAugmentationParams | null } {
  const { stagePlan, plans, spec, cascade } = ctx;
  const basic = spec.augmentation
    ? trainerV2AugmentationParams({
        patchSize: stagePlan.patch_size,
        doDummy2DAug: stagePlan.do_dummy_2D_data_aug,
        useMaskForNorm: Object.keys(plans.modalities).map((k) => plans.use_mask_for_norm[k] === true),
      })
    : null;
  const augParams: AugmentationParams | null =
    basic === null ? null : { ...basic.params, mirror: { enabled: spec.mirroring, axes: ctx.mirrorAxes } };
  const dim = stagePlan.patch_size.length as 2 | 3;
  const transformModule = new URL('./train-transform.js', import.meta.url);
  const cascadeAugmentation =
    cascade === null ? null : spec.augmentation ? (o.cascadeAugmentation ?? CASCADE_AUGMENTATION_V1) : null;
  const withPrev = cascade === null ? {} : { prevStageFolder: cascade.prevStageFolder };
  const cascadeOption = (augmentation: CascadeAugmentationParams | null) =>
    cascade === null ? {} : { cascade: { labels: cascade.labels, augmentation } };
  const train = new BatchProducer({
    dataset: loadDataset(ctx.dataFolder, { keys: ctx.split.train, ...withPrev }),
    loader: {
      dim,
      patchSize: basic?.basicGeneratorPatchSize ?? stagePlan.patch_size,
      finalPatchSize: stagePlan.patch_size,
      batchSize: ctx.batchSize,
      oversampleForegroundPercent: ctx.oversample,
    },
    seed: rankSeed(ctx.seed, ctx),
    startIndex: state.epoch * ctx.itersPerEpoch + state.iteration,
    ...(o.workers !== undefined ? { workers: o.workers } : {}),
    transform: { module: transformModule, options: { params: augParams, ...cascadeOption(cascadeAugmentation) } },
  });
  const val = new BatchProducer({
    dataset: loadDataset(ctx.dataFolder, { keys: ctx.split.val, ...withPrev }),
    loader: { dim, patchSize: stagePlan.patch_size, finalPatchSize: stagePlan.patch_size, batchSize: ctx.batchSize },
    seed: rankSeed((ctx.seed + 1) >>> 0, ctx),
    startIndex: state.epoch * ctx.valItersPerEpoch,
    workers: 1,
    transform: { module: transformModule, options: { params: null, ...cascadeOption(null) } },
  });
  return { train, val, cascadeAugmentation };
}

/**
 * Trains from `state` to the fold's last epoch (or until asked to stop); `state` is updated in place
 * and returned, with `interrupted` true when `interruptRequested` cut an epoch short. Returns also
 * the cascade augmentation the producers used (for debug.json).
 */
export async function runEpochs(
  ctx: FoldContext,
  model: FoldModel,
  state: TrainerState,
  o: EpochLoopOptions = {},
): Promise<{ state: TrainerState; cascadeAugmentation: CascadeAugmentationParams | null; interrupted: boolean }> {
  if (state.epoch >= ctx.maxEpochs) {
    ctx.log(`training already reached epoch ${state.epoch} of ${ctx.maxEpochs}; nothing left to train`);
    return { state, cascadeAugmentation: null, interrupted: false };
  }
  const { train, val, cascadeAugmentation } = createProducers(ctx, state, o);
  const saveEvery = o.saveEvery ?? 1;
  const save = (name: string) => {
    if (!o.disableSaving && ctx.isWriter) writeCheckpoint(ctx, model, state, name);
  };
  // Data-parallel ranks act on a signal together: any rank's request counts for all (one tiny
  // all-reduce per check; every rank checks at the same points in the same order).
  const group = ctx.group;
  const requests = (): { interrupt: boolean; stop: boolean } => {
    const mine = [o.interruptRequested?.() === true, o.stopRequested?.() === true];
    const [interrupt, stop] = group === null ? mine : anyRank(group, mine);
    return { interrupt: interrupt === true, stop: stop === true };
  };
  const interruptNow = (): boolean => requests().interrupt;
  ctx.log(
    `training ${ctx.trainerName} ${ctx.configuration} ${ctx.task} fold ${ctx.fold}: ${ctx.split.train.length} training and ${ctx.split.val.length} validation cases, epochs ${state.epoch}..${ctx.maxEpochs - 1}${state.iteration > 0 ? ` (epoch ${state.epoch} from iteration ${state.iteration})` : ''}, ${ctx.itersPerEpoch} iterations per epoch, batch ${ctx.batchSize}`,
  );
  // Saves the exact position (epoch, iterations done) as model_latest when interrupted.
  const interrupt = (iterationsDone: number, losses: number[]) => {
    state.iteration = iterationsDone;
    state.partialTrainLosses = losses;
    save(LATEST_CHECKPOINT);
    ctx.log(
      `interrupted at epoch ${state.epoch}, iteration ${iterationsDone} of ${ctx.itersPerEpoch}${o.disableSaving ? ' (--disable_saving: nothing saved)' : `; ${LATEST_CHECKPOINT} holds this position, continue with -c`}`,
    );
  };
  const { net, optimizer } = model;
  try {
    while (state.epoch < ctx.maxEpochs) {
      const t0 = performance.now();
      const epoch = state.epoch;
      const lr = polyLr(epoch, ctx.maxEpochs, INITIAL_LR);
      optimizer.lr = lr;
      state.lr = lr;
      net.train();
      const trainLosses: number[] = [...state.partialTrainLosses];
      for (let i = state.iteration; i < ctx.itersPerEpoch; i++) {
        const batch = await train.next();
        const loss = trainStep(model, batch, ctx.device);
        batch.release();
        trainLosses.push(loss);
        o.onIteration?.('train', i + 1, ctx.itersPerEpoch, loss, epoch);
        await yieldToEventLoop();
        if (interruptNow()) {
          interrupt(i + 1, trainLosses);
          return { state, cascadeAugmentation, interrupted: true };
        }
      }
      const online = new OnlineEvaluation();
      const valLosses: number[] = [];
      noGrad(() => {
        net.eval();
      });
      for (let i = 0; i < ctx.valItersPerEpoch; i++) {
        const batch = await val.next();
        const loss = validationStep(model, batch, ctx.device, online);
        batch.release();
        valLosses.push(loss);
        o.onIteration?.('val', i + 1, ctx.valItersPerEpoch, loss, epoch);
        await yieldToEventLoop();
        // Validation changes no weights: an interrupted one is redone from its start on resume.
        if (interruptNow()) {
          interrupt(ctx.itersPerEpoch, trainLosses);
          return { state, cascadeAugmentation, interrupted: true };
        }
      }
      const pseudoDice =
        ctx.valItersPerEpoch > 0
          ? online.finish(group === null ? undefined : countsOverRanks(group)).meanForegroundDice
          : Number.NaN;
      const [trainLoss, valLoss] =
        group === null
          ? [mean(trainLosses), mean(valLosses)]
          : (meanOverRanks(group, [mean(trainLosses), mean(valLosses)]) as [number, number]);
      // v1 falls back to -val_loss when no metric is available.
      const metric = Number.isFinite(pseudoDice) ? pseudoDice : -valLoss;
      const previousEma = state.log.evalMetricEma.length > 0 ? (state.log.evalMetricEma.at(-1) as number) : null;
      const ema = evalCriterionMovingAverage(previousEma, metric);
      state.log.trainLoss.push(trainLoss);
      state.log.valLoss.push(valLoss);
      state.log.evalMetric.push(pseudoDice);
      state.log.evalMetricEma.push(ema);
      state.epoch = epoch + 1;
      state.iteration = 0;
      state.partialTrainLosses = [];
      const seconds = (performance.now() - t0) / 1000;
      ctx.log(
        `epoch ${epoch}: train loss ${trainLoss.toFixed(4)}, val loss ${valLoss.toFixed(4)}, pseudo dice ${pseudoDice.toFixed(4)}, EMA ${ema.toFixed(4)}, lr ${lr.toExponential(3)}, ${seconds.toFixed(1)} s, live tensors ${memoryStats().liveTensors}`,
      );
      o.onEpoch?.(epoch, { trainLoss, valLoss, pseudoDice, ema, lr, seconds });
      if (state.bestEma === null || ema > state.bestEma) {
        state.bestEma = ema;
        save(BEST_CHECKPOINT);
      }
      const asked = requests();
      const stopping = asked.stop || asked.interrupt;
      let latestSaved = false;
      if ((epoch + 1) % saveEvery === 0 || stopping) {
        save(LATEST_CHECKPOINT);
        latestSaved = true;
      }
      if (!o.disableSaving && ctx.isWriter)
        await writeProgressPng(
          join(ctx.foldFolder, 'progress.png'),
          state.log,
          `${ctx.task} ${ctx.configuration} fold ${ctx.fold}`,
        );
      if (needsMomentumRescue(epoch, pseudoDice)) {
        rescueMomentum(net, optimizer, (ctx.seed + MOMENTUM_RESCUE_EPOCH) >>> 0);
        ctx.log(
          `At epoch ${epoch} the mean foreground Dice was 0, which a too high momentum can cause: momentum is now ${RESCUE_MOMENTUM} and the network weights were initialised again.`,
        );
        // model_best keeps the weights before the rescue, as v1's; model_latest must hold the state
        // the next epoch starts from, or a resume would skip the rescue.
        if (latestSaved) save(LATEST_CHECKPOINT);
      }
      const late = requests();
      if (late.interrupt) {
        // The signal may have come while progress.png was drawn, after the save decision.
        if (!latestSaved) save(LATEST_CHECKPOINT);
        ctx.log(`interrupted after epoch ${epoch}; ${LATEST_CHECKPOINT} holds this position, continue with -c`);
        return { state, cascadeAugmentation, interrupted: true };
      }
      if (late.stop) {
        ctx.log(`stopping after epoch ${epoch} as requested`);
        break;
      }
    }
  } finally {
    await train.close();
    await val.close();
  }
  return { state, cascadeAugmentation, interrupted: false };
}
