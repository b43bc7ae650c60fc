/**
 * Renaming the trainer class recorded in a model folder's checkpoints (v1's
 * nnUNet_change_trainer_class, pretend_to_be_other_trainer): for models trained with a trainer
 * whose code is unavailable, or one that cannot predict, when the network is the same. v1 rewrites
 * the `name` in each fold's model_best / model_final_checkpoint .model.pkl; here the `trainer` of
 * every checkpoint .json in the fold folders is rewritten (each file atomically, after all were
 * read and checked). v1's pickles cannot be rewritten by this version.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { NnunetError } from '../errors.js';
import { CHECKPOINT_FORMAT } from '../model/layout.js';
import { writeJsonAtomic } from '../util/atomic.js';

/** The v1 checkpoints v1's command rewrites. */
const V1_CHECKPOINTS = ['model_best.model.pkl', 'model_final_checkpoint.model.pkl'] as const;

export interface ChangeTrainerResult {
  /** Checkpoint .json files rewritten. */
  changed: string[];
  /** v1 .model.pkl files left unchanged. */
  skippedV1: string[];
}

/** Sets `trainer` to `newTrainer` in every checkpoint .json of `folder`/fold_*. */
export function changeTrainerClass(folder: string, newTrainer: string): ChangeTrainerResult {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(newTrainer)) {
    throw new NnunetError(
      'ERR_ARGUMENT',
      `"${newTrainer}" is not a trainer class name: give a class name such as nnUNetTrainerV2.`,
    );
  }
  if (!existsSync(folder) || !statSync(folder).isDirectory()) {
    throw new NnunetError(
      'ERR_NOT_FOUND',
      `${folder} is not a folder: give the model folder that holds the fold_X sub-folders (-i).`,
    );
  }
  const folds = readdirSync(folder)
    .filter((f) => f.startsWith('fold_') && statSync(join(folder, f)).isDirectory())
    .sort();
  const updates: { path: string; value: Record<string, unknown> }[] = [];
  const skippedV1: string[] = [];
  for (const fold of folds) {
    const dir = join(folder, fold);
    for (const f of readdirSync(dir).sort()) {
      if (!f.endsWith('.json')) continue;
      const path = join(dir, f);
      let value: unknown;
      try {
        value = JSON.parse(readFileSync(path, 'utf8'));
      } catch {
        continue; // not JSON we wrote (e.g. a half-copied file); checkpoints are checked below
      }
      if (typeof value === 'object' && value !== null && (value as { format?: unknown }).format === CHECKPOINT_FORMAT) {
        updates.push({ path, value: { ...(value as Record<string, unknown>), trainer: newTrainer } });
      }
    }
    for (const c of V1_CHECKPOINTS) if (existsSync(join(dir, c))) skippedV1.push(join(dir, c));
  }
  if (updates.length === 0) {
    if (skippedV1.length > 0) {
      throw new NnunetError(
        'ERR_ARGUMENT',
        `${folder} holds only nnU-Net v1 checkpoints (${skippedV1.length} .model.pkl files), whose pickled trainer name this version cannot rewrite: run v1's nnUNet_change_trainer_class (Python) on this folder instead.`,
      );
    }
    throw new NnunetError(
      'ERR_NOT_FOUND',
      `${folder} has no checkpoints in fold_X sub-folders: give the model folder (…/<trainer>__<plans>) with -i.`,
    );
  }
  for (const u of updates) writeJsonAtomic(u.path, u.value);
  return { changed: updates.map((u) => u.path), skippedV1 };
}
