/**
 * The public entry point, imported by package name as a program would ('nnunet' resolves through
 * package.json "exports" to dist/src/index.js): the README's in-process example, which predicts a
 * volume held in memory and gets the label array and the probabilities back.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { createInitialisedModel, loadModel, type Plans, predictVolumes, trainerFolderPath, type Volume } from 'nnunet';
import { FIXTURES, tempDir } from './helpers.js';

test('the package entry exposes every whole command as a function', async () => {
  // Loaded as a plain module record: the names are checked at run time, as a JavaScript caller sees them.
  const api = (await import('nnunet')) as unknown as Record<string, unknown>;
  for (const name of [
    'convertDecathlonTask',
    'verifyDatasetIntegrity',
    'planAndPreprocess',
    'trainFold',
    'predictTask',
    'predictFolder',
    'predictVolumes',
    'evaluateFolder',
    'determinePostprocessing',
    'findBestConfiguration',
    'ensembleFolders',
    'exportModelToZip',
    'installModelFromZip',
    'changeTrainerClass',
    'compressNiftiFolder',
    'plotTaskOverlays',
  ]) {
    assert.equal(typeof api[name], 'function', name);
  }
  assert.deepEqual(api.CONFIGURATIONS, ['2d', '3d_lowres', '3d_fullres', '3d_cascade_fullres']);
});

test('README example: predict a volume held in memory, get labels and probabilities', () => {
  // A model folder as training leaves it (here: untrained weights for the hippocampus plans).
  const results = tempDir();
  const plans = JSON.parse(
    readFileSync(join(FIXTURES, 'golden', 'Task004_Hippocampus', 'nnUNetPlansv2.1_plans_3D.json'), 'utf8'),
  ) as Plans;
  const folder = trainerFolderPath(results, '3d_fullres', 'Task004_Hippocampus');
  createInitialisedModel(plans, folder, '3d_fullres', ['0'], { seed: 1 });

  // --- the README's example, as written there
  const shape = [36, 50, 35]; // (z, y, x)
  const voxels = new Float32Array(36 * 50 * 35).map((_, i) => Math.sin(i / 97) * 100);
  const image: Volume = {
    data: voxels,
    shape,
    dtype: 'float32',
    geometry: { spacing: [1, 1, 1], origin: [0, 0, 0], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] },
  };
  const model = loadModel(folder, { folds: ['0'] });
  const { segmentation, softmax, softmaxShape } = predictVolumes([image], model, { keepSoftmax: true });
  for (const net of model.nets) net.dispose();
  // ---

  assert.equal(segmentation.length, voxels.length);
  assert.deepEqual(softmaxShape, [3, ...shape]);
  assert.ok(softmax !== undefined);
  const n = voxels.length;
  let ties = 0;
  for (let i = 0; i < n; i++) {
    const p: number[] = [softmax[i] as number, softmax[n + i] as number, softmax[2 * n + i] as number];
    assert.ok(Math.abs(p.reduce((a, b) => a + b, 0) - 1) < 1e-5, `probabilities of voxel ${i} sum to 1`);
    const best = Math.max(...p);
    const label = segmentation[i] as number;
    if (p[label] !== best) assert.fail(`voxel ${i}: label ${label} is not the most probable class (${p})`);
    if (p.filter((v) => v === best).length > 1) ties++;
  }
  assert.ok(ties < n / 100, 'ties are rare');
});
