/**
 * Training checkpoints: the network weights and the optimizer's state tensors as safetensors,
 * everything else (epoch, learning rate, logs, EMA, best value, optimizer options, random state
 * seed) as JSON. Each file is written to a temporary name and renamed, and the JSON (written last)
 * names the weight files it belongs to, so a crash at any moment leaves either the previous
 * complete checkpoint or the new one.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { safetensors, type Tensor } from '@nnunet/torch';
import { NnunetError } from '../errors.js';
import type { CheckpointMeta } from '../model/layout.js';
import { BEST_CHECKPOINT, FINAL_CHECKPOINT, LATEST_CHECKPOINT } from '../model/layout.js';
import { writeJsonAtomic } from '../util/atomic.js';
import type { FoldContext, FoldModel } from './fold-context.js';
import { polyLr } from './lr-schedule.js';
import type { ProgressLog } from './progress-plot.js';
import { INITIAL_LR } from './trainer-spec.js';

export interface TrainerState {
  epoch: number;
  lr: number;
  log: ProgressLog;
  bestEma: number | null;
  optimizer: { options: Record<string, unknown>; stepCount: number };
  /** Seed of the run; data order after resume continues from (seed, epoch). */
  seed: number;
}

export type CheckpointFile = CheckpointMeta & { state: TrainerState; weights: string; optimizerState: string };

/** Writes `<name>.safetensors`, `<name>.optimizer.safetensors`, then `<name>.json`. */
export function saveTrainingCheckpoint(
  folder: string,
  name: string,
  weights: ReadonlyMap<string, Tensor>,
  optimizerTensors: ReadonlyMap<string, Tensor>,
  meta: CheckpointMeta,
  state: TrainerState,
): void {
  safetensors.save(join(folder, `${name}.safetensors`), weights, { epoch: String(state.epoch) });
  safetensors.save(join(folder, `${name}.optimizer.safetensors`), optimizerTensors, { epoch: String(state.epoch) });
  const file: CheckpointFile = {
    ...meta,
    epoch: state.epoch,
    state,
    weights: `${name}.safetensors`,
    optimizerState: `${name}.optimizer.safetensors`,
  };
  writeJsonAtomic(join(folder, `${name}.json`), file);
}

export interface LoadedCheckpoint {
  file: CheckpointFile;
  weights: Map<string, Tensor>;
  optimizer: Map<string, Tensor>;
}

/** Reads a checkpoint written by saveTrainingCheckpoint; the caller disposes the tensors. */
export function loadTrainingCheckpoint(folder: string, name: string): LoadedCheckpoint {
  const jsonPath = join(folder, `${name}.json`);
  if (!existsSync(jsonPath))
    throw new NnunetError(
      'ERR_NOT_FOUND',
      `${jsonPath} does not exist: there is no ${name} checkpoint to continue from.`,
    );
  const file = JSON.parse(readFileSync(jsonPath, 'utf8')) as CheckpointFile;
  if (!file.state || !file.weights) {
    throw new NnunetError(
      'ERR_DATASET',
      `${jsonPath} is not a training checkpoint (no trainer state); it may be an inference-only export.`,
    );
  }
  const weights = safetensors.load(join(folder, file.weights)).tensors;
  const optPath = join(folder, file.optimizerState);
  const optimizer = existsSync(optPath) ? safetensors.load(optPath).tensors : new Map<string, Tensor>();
  return { file, weights, optimizer };
}

/** v1's order when continuing (-c): the final checkpoint, else the latest, else the best. */
export function checkpointToContinue(folder: string): string | null {
  for (const name of [FINAL_CHECKPOINT, LATEST_CHECKPOINT, BEST_CHECKPOINT]) {
    if (existsSync(join(folder, `${name}.json`))) return name;
  }
  return null;
}

/** A new run's state: epoch 0, the first epoch's learning rate, empty logs. */
export function initialTrainerState(maxEpochs: number, seed: number): TrainerState {
  return {
    epoch: 0,
    lr: polyLr(0, maxEpochs, INITIAL_LR),
    log: { trainLoss: [], valLoss: [], evalMetric: [], evalMetricEma: [] },
    bestEma: null,
    optimizer: { options: {}, stepCount: 0 },
    seed,
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
      optimizer: { options: opt.meta.options as unknown as Record<string, unknown>, stepCount: opt.meta.stepCount },
    },
  );
}

/**
 * Loads the checkpoint v1 continues from (-c), or model_best with `best` (v1's -val --valbest),
 * into the model's network and optimizer; returns its trainer state.
 */
export function resumeFromCheckpoint(ctx: FoldContext, model: FoldModel, o: { best?: boolean } = {}): TrainerState {
  const found = checkpointToContinue(ctx.foldFolder);
  if (found === null) {
    throw new NnunetError(
      'ERR_NOT_FOUND',
      `${ctx.foldFolder} has no checkpoint to continue from: train without -c first.`,
    );
  }
  const name = o.best ? BEST_CHECKPOINT : found;
  const ck = loadTrainingCheckpoint(ctx.foldFolder, name);
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
    for (const t of [...ck.weights.values(), ...ck.optimizer.values()]) t.dispose();
  }
  ctx.log(`continuing from ${name} at epoch ${ck.file.state.epoch}`);
  return ck.file.state;
}
