/**
 * Training checkpoints: the network weights and the optimizer's state tensors as safetensors,
 * everything else (epoch, position within the epoch, learning rate, logs, EMA, best value,
 * optimizer options, seed, schedule) as JSON, published together as one checkpoint set
 * (model/checkpoint-set.ts: a crash at any moment leaves the previous set or the new one, and a
 * damaged set is never loaded). Continuing (-c) takes the most advanced usable checkpoint and says
 * which one it skipped and why.
 */
import { existsSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { safetensors, type Tensor } from '@nnunet/torch';
import { NnunetError } from '../errors.js';
import {
  type CheckpointSet,
  checkpointSetExists,
  moveCheckpointSet,
  readCheckpointSet,
  recoverCheckpointSets,
  writeCheckpointSet,
} from '../model/checkpoint-set.js';
import type { CheckpointMeta } from '../model/layout.js';
import { BEST_CHECKPOINT, FINAL_CHECKPOINT, FOLD_STATUS_FILE, LATEST_CHECKPOINT } from '../model/layout.js';
import { removeStaleTemporaries } from '../util/atomic.js';
import { type FoldContext, type FoldModel, precisionMismatch } from './fold-context.js';
import { polyLr } from './lr-schedule.js';
import type { TrainingPrecision, TrainOptions } from './options.js';
import type { ProgressLog } from './progress-plot.js';
import { INITIAL_LR } from './trainer-spec.js';

/** The epochs and iterations a run was started with; -c keeps them unless given again. */
export interface TrainingSchedule {
  maxEpochs: number;
  itersPerEpoch: number;
  valItersPerEpoch: number;
}

export interface TrainerState {
  /** Epochs completed. */
  epoch: number;
  /** Training iterations already done in epoch `epoch` (0 at an epoch boundary). */
  iteration: number;
  /** Their losses (the epoch's mean training loss needs them). */
  partialTrainLosses: number[];
  lr: number;
  log: ProgressLog;
  bestEma: number | null;
  optimizer: { options: Record<string, unknown>; stepCount: number };
  /** Seed of the run; batch k of a run is made from (seed, k) alone, so the data continue exactly. */
  seed: number;
  schedule: TrainingSchedule;
  /** The steps' arithmetic (absent in checkpoints from before it could be chosen: float32). */
  precision?: TrainingPrecision;
  /** float16: the dynamic loss scale where the run stands. */
  gradScaler?: { scale: number; growthTracker: number };
}

export type CheckpointFile = CheckpointMeta & { state: TrainerState; weights: string; optimizerState: string };

/** The file names of checkpoint `name`'s set. */
export function checkpointFiles(name: string): { json: string; weights: string; optimizer: string } {
  return { json: `${name}.json`, weights: `${name}.safetensors`, optimizer: `${name}.optimizer.safetensors` };
}

/** Writes the set `<name>.safetensors`, `<name>.optimizer.safetensors` and `<name>.json`. */
export function saveTrainingCheckpoint(
  folder: string,
  name: string,
  weights: ReadonlyMap<string, Tensor>,
  optimizerTensors: ReadonlyMap<string, Tensor>,
  meta: CheckpointMeta,
  state: TrainerState,
): void {
  const names = checkpointFiles(name);
  const tag = { epoch: String(state.epoch), iteration: String(state.iteration) };
  const file: CheckpointFile = {
    ...meta,
    epoch: state.epoch,
    state,
    weights: names.weights,
    optimizerState: names.optimizer,
  };
  writeCheckpointSet(
    folder,
    name,
    new Map([
      [names.weights, safetensors.serializeParts(weights, tag)],
      [names.optimizer, safetensors.serializeParts(optimizerTensors, tag)],
    ]),
    file,
  );
}

export interface LoadedCheckpoint {
  file: CheckpointFile;
  weights: Map<string, Tensor>;
  optimizer: Map<string, Tensor>;
}

function tensorsOf(set: CheckpointSet, file: string, path: string): Map<string, Tensor> {
  const bytes = set.files.get(file);
  return bytes === undefined ? new Map() : safetensors.deserialize(bytes, path).tensors;
}

/** Reads and verifies a checkpoint written by saveTrainingCheckpoint; the caller disposes the tensors. */
export function loadTrainingCheckpoint(folder: string, name: string): LoadedCheckpoint {
  const names = checkpointFiles(name);
  const set = readCheckpointSet(folder, name, [names.weights]);
  const file = set.json as unknown as CheckpointFile;
  if (!file.state || !file.weights) {
    throw new NnunetError(
      'ERR_DATASET',
      `${join(folder, names.json)} is not a training checkpoint (no trainer state); it may be an inference-only export.`,
    );
  }
  const weights = tensorsOf(set, file.weights, join(folder, file.weights));
  const optimizer = tensorsOf(set, file.optimizerState, join(folder, file.optimizerState));
  return { file, weights, optimizer };
}

/** True when state a is further on than state b (epoch, then iteration within it). */
function isAhead(a: TrainerState, b: TrainerState): boolean {
  return a.epoch !== b.epoch ? a.epoch > b.epoch : (a.iteration ?? 0) > (b.iteration ?? 0);
}

/**
 * Picks the checkpoint to continue from among final, latest and best: the most advanced one that
 * loads and verifies (ties go to that order, v1's). Damaged ones are skipped with a note.
 */
export function checkpointToContinue(
  folder: string,
  notes: string[] = [],
): { name: string; checkpoint: LoadedCheckpoint } | null {
  let chosen: { name: string; checkpoint: LoadedCheckpoint } | null = null;
  for (const name of [FINAL_CHECKPOINT, LATEST_CHECKPOINT, BEST_CHECKPOINT]) {
    if (!checkpointSetExists(folder, name)) continue;
    let ck: LoadedCheckpoint;
    try {
      ck = loadTrainingCheckpoint(folder, name);
    } catch (e) {
      notes.push(`skipping ${name}: ${(e as Error).message}`);
      continue;
    }
    if (chosen === null || isAhead(ck.file.state, chosen.checkpoint.file.state)) {
      if (chosen !== null) disposeCheckpoint(chosen.checkpoint);
      chosen = { name, checkpoint: ck };
    } else {
      disposeCheckpoint(ck);
    }
  }
  return chosen;
}

function disposeCheckpoint(ck: LoadedCheckpoint): void {
  for (const t of [...ck.weights.values(), ...ck.optimizer.values()]) t.dispose();
}

/** A new run's state: epoch 0, the first epoch's learning rate, empty logs. */
export function initialTrainerState(schedule: TrainingSchedule, seed: number): TrainerState {
  return {
    epoch: 0,
    iteration: 0,
    partialTrainLosses: [],
    lr: polyLr(0, schedule.maxEpochs, INITIAL_LR),
    log: { trainLoss: [], valLoss: [], evalMetric: [], evalMetricEma: [] },
    bestEma: null,
    optimizer: { options: {}, stepCount: 0 },
    seed,
    schedule,
  };
}

/** The one checkpoint writer of the training loop: the model's weights, optimizer and `state` as `name`. */
export function writeCheckpoint(ctx: FoldContext, model: FoldModel, state: TrainerState, name: string): void {
  const opt = model.optimizer.stateDict();
  saveTrainingCheckpoint(
    ctx.foldFolder,
    name,
    model.net.stateDict(),
    opt.tensors,
    { ...model.meta, epoch: state.epoch },
    {
      ...state,
      precision: model.precision,
      ...(model.precision === 'float16' ? { gradScaler: model.gradScaler.stateDict() } : {}),
      optimizer: { options: opt.meta.options as unknown as Record<string, unknown>, stepCount: opt.meta.stepCount },
    },
  );
}

/**
 * Before a run writes into its fold folder: finishes or drops interrupted saves, and for a new run
 * (not -c / -val) moves the checkpoints of an earlier run into `earlier_run_<time>/`, so an old
 * final checkpoint never sits beside the new run's files and nothing is deleted (v1 overwrote
 * them). Returns notes for the log.
 */
export function prepareFoldFolder(folder: string, o: { freshRun: boolean }): string[] {
  const notes = [
    ...removeStaleTemporaries(folder, { recursive: true }).map((f) => `removed ${f}, left by a killed process`),
    ...recoverCheckpointSets(folder),
  ];
  if (o.freshRun) {
    const aside = join(folder, `earlier_run_${new Date().toISOString().replace(/[:.]/g, '_')}`);
    const moved = [FINAL_CHECKPOINT, LATEST_CHECKPOINT, BEST_CHECKPOINT].filter((name) => {
      const f = checkpointFiles(name);
      return moveCheckpointSet(folder, name, aside, [f.weights, f.optimizer]);
    });
    if (moved.length > 0) {
      if (existsSync(join(folder, FOLD_STATUS_FILE)))
        renameSync(join(folder, FOLD_STATUS_FILE), join(aside, FOLD_STATUS_FILE));
      notes.push(
        `a new run starts from scratch: the earlier run's ${moved.join(', ')} moved to ${aside} (delete it when not needed; use -c to continue a run instead)`,
      );
    }
  }
  return notes;
}

/**
 * Loads the checkpoint to continue from (-c), or for `validate` (v1's -val [--valbest]) the final
 * checkpoint or model_best, into the model's network and optimizer; returns its trainer state. The schedule the run was started
 * with is restored into `ctx` unless `o` gives it again.
 */
export function resumeFromCheckpoint(
  ctx: FoldContext,
  model: FoldModel,
  o: Pick<TrainOptions, 'epochs' | 'itersPerEpoch' | 'valItersPerEpoch' | 'precision'> & {
    validate?: 'final' | 'best';
  },
): TrainerState {
  const notes: string[] = [];
  let found: { name: string; checkpoint: LoadedCheckpoint } | null;
  if (o.validate !== undefined) {
    // v1's -val: the final checkpoint, or model_best with --valbest; never a mid-run one.
    const name = o.validate === 'best' ? BEST_CHECKPOINT : FINAL_CHECKPOINT;
    if (!checkpointSetExists(ctx.foldFolder, name)) {
      throw new NnunetError(
        'ERR_NOT_FOUND',
        `${join(ctx.foldFolder, `${name}.json`)} does not exist: ${o.validate === 'best' ? 'the fold has no model_best yet' : 'the fold has not finished training; continue it with -c first'}.`,
      );
    }
    found = { name, checkpoint: loadTrainingCheckpoint(ctx.foldFolder, name) };
  } else {
    found = checkpointToContinue(ctx.foldFolder, notes);
  }
  for (const n of notes) ctx.log(n);
  if (found === null) {
    throw new NnunetError(
      'ERR_NOT_FOUND',
      `${ctx.foldFolder} has no usable checkpoint to continue from${notes.length > 0 ? ' (see the notes above)' : ''}: train without -c first.`,
    );
  }
  const { name, checkpoint: ck } = found;
  try {
    model.net.loadStateDict(ck.weights);
    if (ck.optimizer.size > 0) {
      model.optimizer.loadStateDict({
        tensors: ck.optimizer,
        meta: {
          options: { ...(ck.file.state.optimizer.options as object), lr: ck.file.state.lr } as never,
          stepCount: ck.file.state.optimizer.stepCount,
        },
      });
    }
  } finally {
    disposeCheckpoint(ck);
  }
  const state: TrainerState = {
    ...ck.file.state,
    iteration: ck.file.state.iteration ?? 0,
    partialTrainLosses: ck.file.state.partialTrainLosses ?? [],
  };
  const saved = ck.file.state.schedule;
  const given = { maxEpochs: o.epochs, itersPerEpoch: o.itersPerEpoch, valItersPerEpoch: o.valItersPerEpoch };
  const schedule: TrainingSchedule = {
    maxEpochs: given.maxEpochs ?? saved?.maxEpochs ?? ctx.maxEpochs,
    itersPerEpoch: given.itersPerEpoch ?? saved?.itersPerEpoch ?? ctx.itersPerEpoch,
    valItersPerEpoch: given.valItersPerEpoch ?? saved?.valItersPerEpoch ?? ctx.valItersPerEpoch,
  };
  model.precision = o.precision ?? ck.file.state.precision ?? 'float32';
  const mismatch = precisionMismatch(model.precision, ctx.device);
  if (mismatch !== null)
    throw new NnunetError(
      'ERR_ARGUMENT',
      `${join(ctx.foldFolder, name)} was trained in ${model.precision}: ${mismatch} (--fp32 continues it in float32)`,
    );
  if (model.precision === 'float16' && ck.file.state.gradScaler !== undefined)
    model.gradScaler.loadStateDict(ck.file.state.gradScaler);
  ctx.maxEpochs = schedule.maxEpochs;
  ctx.itersPerEpoch = schedule.itersPerEpoch;
  ctx.valItersPerEpoch = schedule.valItersPerEpoch;
  state.schedule = schedule;
  const where =
    state.iteration > 0 ? `epoch ${state.epoch}, iteration ${state.iteration}` : `the end of epoch ${state.epoch - 1}`;
  const origin = (k: keyof typeof given) =>
    given[k] !== undefined ? 'as given' : saved !== undefined ? 'as the run was started' : "the trainer's default";
  ctx.log(
    `continuing from ${name} at ${state.epoch === 0 && state.iteration === 0 ? 'the start' : where} in ${model.precision}${o.precision === undefined && ck.file.state.precision !== undefined ? ' (as the run was started)' : ''}; schedule: ${schedule.maxEpochs} epochs (${origin('maxEpochs')}), ${schedule.itersPerEpoch} iterations per epoch (${origin('itersPerEpoch')}), ${schedule.valItersPerEpoch} validation iterations (${origin('valItersPerEpoch')})`,
  );
  return state;
}
