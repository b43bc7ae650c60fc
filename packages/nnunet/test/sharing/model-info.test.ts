/** nnUNet_print_pretrained_model_info: v1's description of a published model, or one sentence. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { PACKAGE_ROOT } from '../helpers.js';

const CLI = join(PACKAGE_ROOT, 'dist', 'src', 'cli', 'print-pretrained-model-info.js');

test('prints the input modalities of a published model and names an unknown task in one sentence', () => {
  const ok = spawnSync(process.execPath, [CLI, 'Task004_Hippocampus'], { encoding: 'utf8' });
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /Hippocampus Segmentation/);
  assert.match(ok.stdout, /Input modalities are 0: MRI/);
  const bad = spawnSync(process.execPath, [CLI, 'Task999_Nothing'], { encoding: 'utf8' });
  assert.equal(bad.status, 1);
  assert.equal(bad.stderr.trim().split('\n').length, 1);
  assert.match(bad.stderr, /Task999_Nothing is not a published pretrained model/);
  const none = spawnSync(process.execPath, [CLI], { encoding: 'utf8' });
  assert.equal(none.status, 1);
  assert.match(none.stderr, /give the task name/);
});
