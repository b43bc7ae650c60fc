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
import { writeJsonAtomic } from '../util/atomic.js';
import type { ProgressLog } from './progress-plot.js';

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
  for (const name of ['model_final_checkpoint', 'model_latest', 'model_best']) {
    if (existsSync(join(folder, `${name}.json`))) return name;
  }
  return null;
}
