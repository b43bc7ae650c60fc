/** Where a data-parallel rank learns its place: torchrun's variables, or Slurm's inside srun. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dataParallelFromEnv, firstSlurmHost } from '../../src/pipeline/data-parallel-launch.js';

test("torchrun's variables, Slurm's as a fallback, one process means no group", () => {
  assert.equal(dataParallelFromEnv({}), null);
  assert.equal(dataParallelFromEnv({ WORLD_SIZE: '1', RANK: '0' }), null);
  assert.deepEqual(
    dataParallelFromEnv({ WORLD_SIZE: '4', RANK: '3', LOCAL_RANK: '1', MASTER_ADDR: 'node1', MASTER_PORT: '1234' }),
    { rank: 3, worldSize: 4, localRank: 1, masterAddr: 'node1', masterPort: 1234 },
  );
  // Under srun: SLURM_* only, the master is the job's first node, torchrun's default port.
  assert.deepEqual(
    dataParallelFromEnv({ SLURM_NTASKS: '8', SLURM_PROCID: '5', SLURM_LOCALID: '1', SLURM_JOB_NODELIST: 'gpu[07-10]' }),
    { rank: 5, worldSize: 8, localRank: 1, masterAddr: 'gpu07', masterPort: 29500 },
  );
  // torchrun's variables win over Slurm's (torchrun inside a Slurm job).
  assert.equal(
    dataParallelFromEnv({ WORLD_SIZE: '2', RANK: '1', MASTER_ADDR: 'h', SLURM_NTASKS: '1', SLURM_PROCID: '0' })?.rank,
    1,
  );
  assert.throws(
    () => dataParallelFromEnv({ WORLD_SIZE: '2', MASTER_ADDR: 'h' }),
    /RANK \(or SLURM_PROCID\) is not set/,
  );
  assert.throws(() => dataParallelFromEnv({ WORLD_SIZE: '2', RANK: '2', MASTER_ADDR: 'h' }), /RANK in 0\.\.1/);
  assert.throws(() => dataParallelFromEnv({ WORLD_SIZE: '2', RANK: '0' }), /MASTER_ADDR is not set/);
  assert.throws(() => dataParallelFromEnv({ WORLD_SIZE: 'two' }), /WORLD_SIZE=two is not a non-negative integer/);
});

test('the first host of a Slurm node list', () => {
  assert.equal(firstSlurmHost('node01'), 'node01');
  assert.equal(firstSlurmHost('a,b,c'), 'a');
  assert.equal(firstSlurmHost('node[03-05,7],gpu1'), 'node03');
  assert.equal(firstSlurmHost('n[8,2-3]'), 'n8');
});
