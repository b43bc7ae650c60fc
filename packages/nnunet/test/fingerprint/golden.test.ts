/**
 * Cropping and fingerprinting against nnU-Net v1.7.0's own outputs (test/fixtures/golden):
 * Task902_SynthCT (12 synthetic CT cases) must match completely; for Task004_Hippocampus the
 * bundled 32-case subset must match v1's per-case values.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cpSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { analyzeDataset } from '../../src/fingerprint/analyze.js';
import { cropTask } from '../../src/fingerprint/crop-task.js';
import { convertDecathlonTask } from '../../src/index.js';
import { readNpy } from '../../src/io/npy.js';
import { FIXTURES, HIPPOCAMPUS, tempDir } from '../helpers.js';

const GOLDEN = join(FIXTURES, 'golden');
// Re-serialised so that v1's -0.0 (e.g. in itk_direction) compares equal to 0.
const json = (p: string) => JSON.parse(JSON.stringify(JSON.parse(readFileSync(p, 'utf8'))));

interface Manifest {
  arrays: { file: string; shape: number[]; sha256_of_raw_bytes: string }[];
}

function checkCroppedCase(croppedFolder: string, goldenTask: string, id: string): void {
  const ours = json(join(croppedFolder, `${id}.json`));
  const gold = json(join(GOLDEN, goldenTask, `${id}_cropped_properties.json`));
  for (const key of [
    'original_size_of_raw_data',
    'original_spacing',
    'itk_origin',
    'itk_spacing',
    'itk_direction',
    'crop_bbox',
    'classes',
    'size_after_cropping',
  ]) {
    assert.deepEqual(ours[key], gold[key], `${id} ${key}`);
  }
  assert.ok(ours.list_of_data_files[0].endsWith(gold.list_of_data_files[0].replace('<nnUNet_raw_data>', '')));
  const entry = (json(join(GOLDEN, goldenTask, 'manifest.json')) as Manifest).arrays.find(
    (a) => a.file === `${id}_cropped_data.npy`,
  );
  assert.ok(entry, `manifest lists ${id}`);
  const { data, shape } = readNpy(join(croppedFolder, `${id}.npy`));
  assert.deepEqual(shape, entry.shape);
  const sha = createHash('sha256')
    .update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength))
    .digest('hex');
  assert.equal(sha, entry.sha256_of_raw_bytes, `${id}: cropped array bytes equal v1's`);
}

test('Task902_SynthCT: cropped cases and the whole fingerprint equal v1 bit for bit', async () => {
  const base = tempDir();
  cpSync(join(GOLDEN, 'Task902_SynthCT', 'raw'), join(base, 'nnUNet_raw_data', 'Task902_SynthCT'), { recursive: true });
  const folder = await cropTask('Task902_SynthCT', { env: { nnUNet_raw_data_base: base }, workers: 2 });
  const ours = analyzeDataset(folder);
  for (const id of ['synct_000', 'synct_001']) checkCroppedCase(folder, 'Task902_SynthCT', id);
  const gold = json(join(GOLDEN, 'Task902_SynthCT', 'dataset_properties.json'));
  assert.deepEqual(JSON.parse(JSON.stringify(ours)), gold);
  assert.deepEqual(json(join(folder, 'dataset_properties.json')), gold, 'written file');
  assert.equal(readdirSync(join(folder, 'gt_segmentations')).length, 12);
});

test('Task004_Hippocampus subset: converted, cropped and analysed, per-case values equal v1', async () => {
  const base = tempDir();
  const env = { nnUNet_raw_data_base: base };
  await convertDecathlonTask(HIPPOCAMPUS, { env });
  const folder = await cropTask('Task004_Hippocampus', { env, workers: 2 });
  for (const id of ['hippocampus_001', 'hippocampus_003', 'hippocampus_034'])
    checkCroppedCase(folder, 'Task004_Hippocampus', id);
  const ours = analyzeDataset(folder);
  const gold = json(join(GOLDEN, 'Task004_Hippocampus', 'dataset_properties.json'));
  const goldIds = Object.keys(gold.size_reductions);
  const ids = Object.keys(ours.size_reductions);
  assert.equal(ids.length, 32);
  ids.forEach((id, i) => {
    const g = goldIds.indexOf(id);
    assert.ok(g >= 0, `${id} is in v1's fingerprint`);
    assert.deepEqual(ours.all_sizes[i], gold.all_sizes[g], `${id} size after cropping`);
    assert.deepEqual(ours.all_spacings[i], gold.all_spacings[g], `${id} spacing`);
    assert.equal(ours.size_reductions[id], gold.size_reductions[id], `${id} size reduction`);
  });
  assert.deepEqual(ours.all_classes, gold.all_classes);
  assert.deepEqual(ours.modalities, gold.modalities);
  assert.equal(ours.intensityproperties, null, 'MRI: no intensity statistics, as in v1');
});
