/** nnUNet_train_DP / _DDP: v1's multi-GPU commands map onto nnUNet_train's data-parallel options. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { getTrainer } from '../../src/training/trainer-spec.js';
import { PACKAGE_ROOT, tempDir } from '../helpers.js';

const CLI = (name: string) => join(PACKAGE_ROOT, 'dist', 'src', 'cli', `${name}.js`);

test('-gpus becomes -num_gpus, --dbs is accepted, --local_rank dropped with a note; the rest reaches nnUNet_train', () => {
  const env: NodeJS.ProcessEnv = { ...process.env, nnUNet_preprocessed: join(tempDir(), 'missing') };
  const dp = spawnSync(
    process.execPath,
    [CLI('train-dp'), '3d_fullres', 'nnUNetTrainerV2_DP', '4', '0', '-gpus', '2', '--dbs', '--bogus'],
    { env, encoding: 'utf8' },
  );
  assert.equal(dp.status, 1);
  assert.doesNotMatch(dp.stderr, /ignoring/);
  // nnUNet_train's own parser saw the rest: the unknown option is named by it (-num_gpus 2 it knows).
  assert.match(dp.stderr, /nnUNet_train: unknown option --bogus/);
  const ddp = spawnSync(
    process.execPath,
    [CLI('train-ddp'), '3d_fullres', 'nnUNetTrainerV2_DDP', '4', '0', '--local_rank=1', '--bogus'],
    {
      env,
      encoding: 'utf8',
    },
  );
  assert.equal(ddp.status, 1);
  assert.match(ddp.stderr, /nnUNet_train_DDP: ignoring --local_rank=1 \(each rank reads LOCAL_RANK\)/);
  assert.match(ddp.stderr, /nnUNet_train: unknown option --bogus/);
});

test("v1's multi-GPU trainer names train nnUNetTrainerV2's recipe", () => {
  assert.deepEqual(getTrainer('nnUNetTrainerV2_DP'), getTrainer('nnUNetTrainerV2'));
  assert.deepEqual(getTrainer('nnUNetTrainerV2_DDP'), getTrainer('nnUNetTrainerV2'));
});
