/**
 * nnUNet_train -num_gpus 2 on the CPU: two real processes (Gloo over a TCPStore on localhost) train
 * one fold of a tiny real task; rank 0 alone writes the checkpoints and the log, the validation
 * cases are split over the ranks and rank 0 evaluates them (-val too, on 2 or 1 processes alike).
 * Two launchers with --nnodes 2 --node_rank 0/1 form one group, as two machines would.
 * SIGTERM to the launcher stops both ranks with model_latest saved (exit 75), and the run is
 * continued with a different number of processes.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { freeLocalPort } from '../../src/pipeline/data-parallel-launch.js';
import { preparedWorkspace, Running } from './cli-harness.js';

const TRAINER = 'nnUNetTrainerV2_noMirroring';
const BASE = ['3d_fullres', TRAINER, '4', '0', '--seed', '7', '--disable_postprocessing_on_folds'];

function status(fold: string): { status: string; epoch: number; iteration: number } {
  return JSON.parse(readFileSync(join(fold, 'training_status.json'), 'utf8'));
}

/** Each validation case's Dice per class, by case, from validation_raw/summary.json. */
function perCaseDice(fold: string): [string, number[]][] {
  const summary = JSON.parse(readFileSync(join(fold, 'validation_raw', 'summary.json'), 'utf8'));
  return (summary.results.all as Record<string, unknown>[])
    .map((c): [string, number[]] => [
      String(c.reference),
      Object.keys(c)
        .filter((k) => /^\d+$/.test(k))
        .map((k) => (c[k] as { Dice: number }).Dice),
    ])
    .sort((a, b) => a[0].localeCompare(b[0]));
}

test('nnUNet_train -num_gpus 2: two ranks train one fold; SIGTERM stops both with the position saved; -c continues on one process', {
  timeout: 600_000,
}, async () => {
  const ws = preparedWorkspace();
  const fold = ws.fold(0, TRAINER);
  const env = { ...ws.env, OMP_NUM_THREADS: '1' };

  // An uninterrupted 2-process run.
  const whole = new Running(
    'train',
    [...BASE, '-num_gpus', '2', '--epochs', '2', '--iters-per-epoch', '2', '--val-iters-per-epoch', '1'],
    env,
  );
  const done = await whole.done;
  assert.equal(done.code, 0, whole.stderr);
  assert.match(whole.stderr, /data-parallel training on 2 processes \(gloo\): batch \d+ on this rank/);
  assert.equal(status(fold).status, 'complete');
  const logs = readdirSync(fold).filter((f) => f.startsWith('training_log_'));
  assert.equal(logs.length, 1, `one log, written by rank 0: ${logs}`);
  assert.ok(readdirSync(join(fold, 'validation_raw')).some((f) => f === 'summary.json'));
  // Only rank 0 reports: one "fold folder" line.
  assert.equal(whole.stderr.match(/epoch 1: train loss/g)?.length, 1, whole.stderr);
  // The validation cases were split over the ranks, and rank 0 evaluated them all.
  assert.match(whole.stderr, /validating (\d+) cases into validation_raw, split over 2 processes/);
  const splitDice = perCaseDice(fold);
  assert.ok(splitDice.length >= 2, `${splitDice.length} validation cases`);

  // -val again, on 2 processes (the other rank loads the final checkpoint too) and on 1: the same
  // cases get the same Dice, whichever rank predicted them.
  for (const processes of [['-num_gpus', '2'], []]) {
    const val = new Running('train', [...BASE, '-val', ...processes], env);
    const v = await val.done;
    assert.equal(v.code, 0, val.stderr);
    assert.deepEqual(perCaseDice(fold), splitDice, `-val ${processes.join(' ')}`);
  }

  // SIGTERM to the launcher during the first epoch of a fresh run.
  const termed = new Running(
    'train',
    [...BASE, '-num_gpus', '2', '--epochs', '2', '--iters-per-epoch', '3', '--val-iters-per-epoch', '1'],
    env,
  );
  await termed.waitFor(/epoch 0 train 1\/3/);
  termed.child.kill('SIGTERM');
  const t = await termed.done;
  assert.equal(t.code, 75, termed.stderr);
  const st = status(fold);
  assert.equal(st.status, 'interrupted');
  assert.equal(st.epoch, 0);
  assert.ok(st.iteration >= 1 && st.iteration <= 3, `stopped at iteration ${st.iteration}`);

  // Continued with one process: the same fold finishes.
  const resumed = ws.run('train', [...BASE, '-c']);
  assert.match(resumed.stderr, /continuing from model_latest at epoch 0, iteration \d/);
  assert.equal(status(fold).status, 'complete');

  // Two "nodes" on this machine, as on a cluster: the same command once per node with
  // --nnodes 2 --node_rank R and node 0's MASTER_ADDR/MASTER_PORT, one process each.
  const port = String(await freeLocalPort());
  const nodeEnv = { ...env, MASTER_ADDR: '127.0.0.1', MASTER_PORT: port };
  const nodeArgs = ['--epochs', '1', '--iters-per-epoch', '2', '--val-iters-per-epoch', '1', '--nproc_per_node', '1'];
  const nodes = [0, 1].map(
    (r) => new Running('train', [...BASE, ...nodeArgs, '--nnodes', '2', '--node_rank', String(r)], nodeEnv),
  );
  const ends = await Promise.all(nodes.map((n) => n.done));
  for (const [r, e] of ends.entries()) assert.equal(e.code, 0, `node ${r}: ${nodes[r]?.stderr}`);
  assert.match(nodes[0]?.stderr ?? '', /data-parallel training on 2 processes \(gloo\)/);
  assert.equal(status(fold).status, 'complete');
  // Without node 0's address every node would wait for a master that is not there: refused at once.
  const noMaster = ws.run('train', [...BASE, ...nodeArgs, '--nnodes', '2', '--node_rank', '1'], 1);
  assert.match(noMaster.stderr, /--nnodes 2: set MASTER_ADDR/);
  const badRank = ws.run('train', [...BASE, ...nodeArgs, '--nnodes', '2', '--node_rank', '2'], 1);
  assert.match(badRank.stderr, /--node_rank 2 is not in 0\.\.1/);
});
