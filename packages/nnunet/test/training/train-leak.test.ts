/**
 * 500 training iterations on a tiny synthetic task: the live tensor count stays flat from epoch to
 * epoch and so does the resident memory.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { memoryStats } from '@nnunet/torch';
import { planAndPreprocess, writeImage } from '../../src/index.js';
import { trainFold } from '../../src/pipeline/train-fold.js';
import { tempDir } from '../helpers.js';

async function syntheticTask(base: string, cases: number): Promise<void> {
  const task = join(base, 'nnUNet_raw_data', 'Task901_Spheres');
  mkdirSync(join(task, 'imagesTr'), { recursive: true });
  mkdirSync(join(task, 'labelsTr'), { recursive: true });
  const shape = [16, 20, 20];
  const geometry = { spacing: [1, 1, 1], origin: [0, 0, 0], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] };
  const training = [];
  for (let c = 0; c < cases; c++) {
    const img = new Float32Array(16 * 20 * 20);
    const seg = new Uint8Array(img.length);
    const [cz, cy, cx, r] = [6 + (c % 4), 8 + (c % 5), 9 + (c % 3), 3 + (c % 3)];
    for (let z = 0; z < 16; z++)
      for (let y = 0; y < 20; y++)
        for (let x = 0; x < 20; x++) {
          const i = (z * 20 + y) * 20 + x;
          const inside = (z - cz) ** 2 + (y - cy) ** 2 + (x - cx) ** 2 < r * r;
          seg[i] = inside ? 1 : 0;
          img[i] = 10 + (inside ? 5 : 0) + Math.sin(i * 12.9898) * 2;
        }
    const id = `sphere_${String(c).padStart(3, '0')}`;
    await writeImage({ data: img, shape, dtype: 'float32', geometry }, join(task, 'imagesTr', `${id}_0000.nii.gz`));
    await writeImage({ data: seg, shape, dtype: 'uint8', geometry }, join(task, 'labelsTr', `${id}.nii.gz`));
    training.push({ image: `./imagesTr/${id}.nii.gz`, label: `./labelsTr/${id}.nii.gz` });
  }
  writeFileSync(
    join(task, 'dataset.json'),
    JSON.stringify({
      name: 'Spheres',
      modality: { '0': 'MRI' },
      labels: { '0': 'background', '1': 'sphere' },
      numTraining: cases,
      training,
      test: [],
    }),
  );
}

test('500 iterations keep live tensors and RSS flat', { timeout: 300_000 }, async () => {
  const base = tempDir();
  const env = {
    nnUNet_raw_data_base: join(base, 'raw'),
    nnUNet_preprocessed: join(base, 'pre'),
    RESULTS_FOLDER: join(base, 'results'),
  };
  await syntheticTask(env.nnUNet_raw_data_base, 8);
  await planAndPreprocess([901], { env, planner2d: null, workersFullres: 2, workersLowres: 2 });
  const live: number[] = [];
  const rss: number[] = [];
  await trainFold({
    configuration: '3d_fullres',
    task: 901,
    fold: 0,
    env,
    epochs: 5,
    itersPerEpoch: 100,
    valItersPerEpoch: 2,
    disableSaving: true,
    seed: 3,
    workers: 1,
    onEpoch: () => {
      live.push(memoryStats().liveTensors);
      rss.push(process.memoryUsage().rss / 2 ** 20);
    },
  });
  assert.equal(live.length, 5);
  assert.deepEqual(live.slice(1), new Array(4).fill(live[1]), `live tensors per epoch: ${live.join(', ')}`);
  const growth = (rss[4] as number) - (rss[1] as number);
  assert.ok(
    growth < 40,
    `RSS grew ${growth.toFixed(1)} MiB between epochs 1 and 4 (${rss.map((r) => r.toFixed(0)).join(', ')})`,
  );
});
