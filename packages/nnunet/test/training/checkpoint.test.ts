/**
 * Choosing the checkpoint to continue from: the most advanced one that verifies, ties in v1's
 * order (final, latest, best); a damaged one is skipped with a note naming the file, and the
 * trainer state (position within the epoch, schedule) comes back as it was saved.
 */
import assert from 'node:assert/strict';
import { truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tensor } from '@nnunet/torch';
import { CHECKPOINT_FORMAT, type CheckpointMeta } from '../../src/model/layout.js';
import {
  checkpointToContinue,
  initialTrainerState,
  saveTrainingCheckpoint,
  type TrainerState,
} from '../../src/training/checkpoint.js';
import { tempDir } from '../helpers.js';

const META: CheckpointMeta = {
  format: CHECKPOINT_FORMAT,
  trainer: 'nnUNetTrainerV2',
  configuration: '3d_fullres',
  stage: '0',
  fold: '0',
  epoch: 0,
  mirror_axes: [0, 1, 2],
};

function save(folder: string, name: string, epoch: number, iteration: number): void {
  const state: TrainerState = {
    ...initialTrainerState({ maxEpochs: 10, itersPerEpoch: 5, valItersPerEpoch: 1 }, 7),
    epoch,
    iteration,
    partialTrainLosses: Array.from({ length: iteration }, (_, i) => i / 10),
  };
  const w = tensor([epoch, iteration, 1, 2], { shape: [2, 2] });
  const m = tensor([iteration, epoch], { shape: [2] });
  saveTrainingCheckpoint(folder, name, new Map([['w', w]]), new Map([['w.momentum', m]]), META, state);
  w.dispose();
  m.dispose();
}

function pick(folder: string): { name: string; epoch: number; iteration: number; notes: string[]; w: number[] } {
  const notes: string[] = [];
  const found = checkpointToContinue(folder, notes);
  assert.ok(found !== null);
  const w = [...(found.checkpoint.weights.get('w')?.toArray() ?? [])];
  for (const t of [...found.checkpoint.weights.values(), ...found.checkpoint.optimizer.values()]) t.dispose();
  const s = found.checkpoint.file.state;
  return { name: found.name, epoch: s.epoch, iteration: s.iteration, notes, w };
}

test('the most advanced verified checkpoint wins; a damaged one is skipped with a note', () => {
  const folder = tempDir();
  save(folder, 'model_best', 3, 0);
  save(folder, 'model_latest', 4, 2);
  let p = pick(folder);
  assert.deepEqual([p.name, p.epoch, p.iteration, p.w], ['model_latest', 4, 2, [4, 2, 1, 2]]);
  assert.deepEqual(p.notes, []);

  // model_best ahead of model_latest (v1's 50-epoch interval): best is taken.
  save(folder, 'model_best', 5, 0);
  assert.equal(pick(folder).name, 'model_best');

  // Truncated weights of the best one: skipped with a note; latest is next.
  truncateSync(join(folder, 'model_best.safetensors'), 10);
  p = pick(folder);
  assert.equal(p.name, 'model_latest');
  assert.equal(p.notes.length, 1);
  assert.match(
    p.notes[0] as string,
    /^skipping model_best: .*model_best\.safetensors does not match .*model_best\.json/,
  );

  // A final checkpoint at the same position as latest wins the tie; unparseable JSON is skipped.
  save(folder, 'model_final_checkpoint', 4, 2);
  assert.equal(pick(folder).name, 'model_final_checkpoint');
  writeFileSync(join(folder, 'model_final_checkpoint.json'), '{"truncat');
  p = pick(folder);
  assert.equal(p.name, 'model_latest');
  assert.match(p.notes.join('\n'), /skipping model_final_checkpoint: .*is not valid JSON/);
});
