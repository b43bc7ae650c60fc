/**
 * nnUNet_plan_and_preprocess end to end against nnU-Net v1.7.0's own outputs: plans, preprocessed
 * arrays (sha256 of their bytes) and foreground class locations of the golden cases, for the 3-D
 * and 2-D stages of Task902_SynthCT and of the bundled hippocampus subset.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cpSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { convertDecathlonTask, planAndPreprocess, readNpy } from '../../src/index.js';
import { FIXTURES, HIPPOCAMPUS, tempDir } from '../helpers.js';

const GOLDEN = join(FIXTURES, 'golden');
const json = (p: string) => JSON.parse(JSON.stringify(JSON.parse(readFileSync(p, 'utf8'))));

interface Manifest {
  arrays: { file: string; shape: number[]; sha256_of_raw_bytes: string; notes?: string }[];
}

/** Compares one preprocessed case (data bytes, properties, class locations) with v1's. */
function checkCase(pre: string, task: string, id: string, stage: '3d' | '2d'): void {
  const folder = join(pre, task, stage === '3d' ? 'nnUNetData_plans_v2.1_stage0' : 'nnUNetData_plans_v2.1_2D_stage0');
  const manifest = json(join(GOLDEN, task, 'manifest.json')) as Manifest;
  // v1's golden set stores 2-D files only where they differ from the 3-D ones.
  const goldenStage = manifest.arrays.some((a) => a.file === `${id}_${stage}_stage0_data.npy`) ? stage : '3d';
  const entry = manifest.arrays.find((a) => a.file === `${id}_${goldenStage}_stage0_data.npy`);
  assert.ok(entry, `${id} ${goldenStage} in the manifest`);
  const { data, shape } = readNpy(join(folder, `${id}.npy`));
  assert.deepEqual(shape, entry.shape, `${id} ${stage} shape`);
  const sha = createHash('sha256')
    .update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength))
    .digest('hex');
  assert.equal(sha, entry.sha256_of_raw_bytes, `${id} ${stage}: preprocessed bytes equal v1's`);
  const props = json(join(folder, `${id}.json`));
  const gold = json(join(GOLDEN, task, `${id}_${goldenStage}_stage0_properties.json`));
  for (const key of Object.keys(gold).filter((k) => k !== 'list_of_data_files' && k !== 'seg_file')) {
    assert.deepEqual(props[key], gold[key], `${id} ${stage} ${key}`);
  }
  const locations = json(join(GOLDEN, task, `${id}_${goldenStage}_stage0_class_locations.json`));
  assert.deepEqual(props.class_locations, locations, `${id} ${stage}: the same voxels in the same order`);
}

function checkPlans(pre: string, task: string, kind: '3D' | '2D'): void {
  const ours = json(join(pre, task, `nnUNetPlansv2.1_plans_${kind}.json`));
  const gold = json(join(GOLDEN, task, `nnUNetPlansv2.1_plans_${kind}.json`));
  for (const key of Object.keys(gold).filter((k) => k !== 'list_of_npz_files' && k !== 'preprocessed_data_folder')) {
    assert.deepEqual(ours[key], gold[key], `${task} ${kind} plans: ${key}`);
  }
}

test('Task902_SynthCT: plans, preprocessed arrays and class locations equal v1 (3-D and 2-D, incl. separate z)', async () => {
  const base = tempDir();
  const env = { nnUNet_raw_data_base: join(base, 'raw'), nnUNet_preprocessed: join(base, 'pre') };
  cpSync(join(GOLDEN, 'Task902_SynthCT', 'raw'), join(base, 'raw', 'nnUNet_raw_data', 'Task902_SynthCT'), {
    recursive: true,
  });
  await planAndPreprocess([902], { env, workersFullres: 2, workersLowres: 2 });
  checkPlans(env.nnUNet_preprocessed, 'Task902_SynthCT', '3D');
  checkPlans(env.nnUNet_preprocessed, 'Task902_SynthCT', '2D');
  for (const id of ['synct_000', 'synct_001']) {
    checkCase(env.nnUNet_preprocessed, 'Task902_SynthCT', id, '3d');
    checkCase(env.nnUNet_preprocessed, 'Task902_SynthCT', id, '2d');
  }
});

test('Task004_Hippocampus subset: preprocessed arrays and class locations of the golden cases equal v1', async () => {
  const base = tempDir();
  const env = { nnUNet_raw_data_base: join(base, 'raw'), nnUNet_preprocessed: join(base, 'pre') };
  await convertDecathlonTask(HIPPOCAMPUS, { env });
  await planAndPreprocess(['Task004_Hippocampus'], { env, workersFullres: 2, workersLowres: 2 });
  const plans = json(join(env.nnUNet_preprocessed, 'Task004_Hippocampus', 'nnUNetPlansv2.1_plans_3D.json'));
  const gold = json(join(GOLDEN, 'Task004_Hippocampus', 'nnUNetPlansv2.1_plans_3D.json'));
  // 32 of the 200 cases: same spacing, patch and topology; the 5% voxel cap gives a smaller batch.
  assert.deepEqual(plans.plans_per_stage['0'].patch_size, gold.plans_per_stage['0'].patch_size);
  assert.deepEqual(plans.plans_per_stage['0'].pool_op_kernel_sizes, gold.plans_per_stage['0'].pool_op_kernel_sizes);
  assert.ok(plans.plans_per_stage['0'].batch_size < gold.plans_per_stage['0'].batch_size);
  for (const id of ['hippocampus_001', 'hippocampus_003', 'hippocampus_034']) {
    checkCase(env.nnUNet_preprocessed, 'Task004_Hippocampus', id, '3d');
    checkCase(env.nnUNet_preprocessed, 'Task004_Hippocampus', id, '2d');
  }
});
