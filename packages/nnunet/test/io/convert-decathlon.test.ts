/** nnUNet_convert_decathlon_task on the bundled hippocampus subset and on a 4-D two-modality task. */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { convertDecathlonTask, readImage } from '../../src/index.js';
import { FIXTURES, HIPPOCAMPUS, PACKAGE_ROOT, tempDir } from '../helpers.js';

const CLI = join(PACKAGE_ROOT, 'dist', 'src', 'cli', 'convert-decathlon-task.js');

test('the hippocampus subset becomes Task004_Hippocampus with _0000 files, byte-identical copies and the same dataset.json', async () => {
  const base = tempDir();
  const r = await convertDecathlonTask(HIPPOCAMPUS, { env: { nnUNet_raw_data_base: base } });
  const out = join(base, 'nnUNet_raw_data', 'Task004_Hippocampus');
  assert.equal(r.taskName, 'Task004_Hippocampus');
  assert.equal(r.outputFolder, out);
  assert.deepEqual(readdirSync(out).sort(), ['dataset.json', 'imagesTr', 'imagesTs', 'labelsTr']);
  const images = readdirSync(join(out, 'imagesTr')).sort();
  const sources = readdirSync(join(HIPPOCAMPUS, 'imagesTr')).sort();
  assert.deepEqual(
    images,
    sources.map((f) => f.replace('.nii.gz', '_0000.nii.gz')),
  );
  for (const f of sources.slice(0, 5)) {
    assert.ok(
      readFileSync(join(HIPPOCAMPUS, 'imagesTr', f)).equals(
        readFileSync(join(out, 'imagesTr', f.replace('.nii.gz', '_0000.nii.gz'))),
      ),
    );
  }
  assert.deepEqual(readdirSync(join(out, 'labelsTr')).sort(), readdirSync(join(HIPPOCAMPUS, 'labelsTr')).sort());
  assert.ok(readFileSync(join(HIPPOCAMPUS, 'dataset.json')).equals(readFileSync(join(out, 'dataset.json'))));
  assert.deepEqual(readdirSync(join(base, 'nnUNet_raw_data')), ['Task004_Hippocampus'], 'no staging folder left');
});

/** A Decathlon-style task whose one image is the 4-D fixture (two modalities). */
function fourDTask(root: string, modalities: Record<string, string>): string {
  const task = join(root, 'Task05_Prostate');
  for (const d of ['imagesTr', 'labelsTr', 'imagesTs']) mkdirSync(join(task, d), { recursive: true });
  copyFileSync(join(FIXTURES, 'io', 'four_d.nii.gz'), join(task, 'imagesTr', 'prostate_00.nii.gz'));
  copyFileSync(join(FIXTURES, 'io', 'uint8.nii.gz'), join(task, 'labelsTr', 'prostate_00.nii.gz'));
  writeFileSync(join(task, 'labelsTr', '._prostate_00.nii.gz'), 'macOS resource fork');
  writeFileSync(
    join(task, 'dataset.json'),
    JSON.stringify({
      name: 'Prostate',
      modality: modalities,
      labels: { '0': 'background', '1': 'PZ' },
      numTraining: 1,
      training: [{ image: './imagesTr/prostate_00.nii.gz', label: './labelsTr/prostate_00.nii.gz' }],
      test: [],
    }),
  );
  return task;
}

test('a 4-D image is split into one 3-D file per modality with the spatial geometry; hidden files are skipped', async () => {
  const root = tempDir();
  const task = fourDTask(root, { '0': 'T2', '1': 'ADC' });
  const base = join(root, 'base');
  const r = await convertDecathlonTask(task, { env: { nnUNet_raw_data_base: base }, outputTaskId: 105 });
  assert.equal(r.taskName, 'Task105_Prostate');
  const out = join(base, 'nnUNet_raw_data', 'Task105_Prostate');
  assert.deepEqual(readdirSync(join(out, 'imagesTr')).sort(), ['prostate_00_0000.nii.gz', 'prostate_00_0001.nii.gz']);
  assert.deepEqual(readdirSync(join(out, 'labelsTr')), ['prostate_00.nii.gz']);
  const four = await readImage(join(FIXTURES, 'io', 'four_d.nii.gz'));
  const n = four.data.length / 2;
  for (const t of [0, 1]) {
    const v = await readImage(join(out, 'imagesTr', `prostate_00_000${t}.nii.gz`));
    assert.deepEqual(v.shape, four.shape.slice(1));
    assert.deepEqual(
      Array.from(v.data as Float32Array),
      Array.from((four.data as Float32Array).slice(t * n, (t + 1) * n)),
    );
    assert.deepEqual(v.geometry.spacing, four.geometry.spacing.slice(0, 3));
    assert.deepEqual(v.geometry.origin, four.geometry.origin.slice(0, 3));
  }
});

test('a modality count that disagrees with dataset.json fails and keeps the previous output intact', async () => {
  const root = tempDir();
  const base = join(root, 'base');
  const good = fourDTask(join(root, 'good'), { '0': 'T2', '1': 'ADC' });
  await convertDecathlonTask(good, { env: { nnUNet_raw_data_base: base } });
  const bad = fourDTask(join(root, 'bad'), { '0': 'T2', '1': 'ADC', '2': 'DWI' });
  await assert.rejects(convertDecathlonTask(bad, { env: { nnUNet_raw_data_base: base } }), {
    code: 'ERR_DATASET',
    message: /prostate_00\.nii\.gz holds 2 modalities but dataset.json declares 3/,
  });
  const out = join(base, 'nnUNet_raw_data');
  assert.deepEqual(readdirSync(out), ['Task005_Prostate'], 'no staging folder left');
  assert.equal(readdirSync(join(out, 'Task005_Prostate', 'imagesTr')).length, 2, 'previous conversion untouched');
});

test('the command: one line and exit 1 on a missing variable, a summary line on success', () => {
  const env = { ...process.env };
  delete env.nnUNet_raw_data_base;
  const fail = spawnSync(process.execPath, [CLI, '-i', HIPPOCAMPUS], { env, encoding: 'utf8' });
  assert.equal(fail.status, 1);
  assert.match(
    fail.stderr,
    /^nnUNet_convert_decathlon_task: The environment variable nnUNet_raw_data_base is not set: .*\n$/,
  );
  const unknown = spawnSync(process.execPath, [CLI, '-i', HIPPOCAMPUS, '--bogus'], { env, encoding: 'utf8' });
  assert.equal(unknown.status, 1);
  assert.match(unknown.stderr, /unknown option --bogus/);
  const base = tempDir();
  const ok = execFileSync(process.execPath, [CLI, '-i', HIPPOCAMPUS, '-output_task_id', '44'], {
    env: { ...env, nnUNet_raw_data_base: base },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  assert.match(ok, /^Task044_Hippocampus: 32 images, 32 labels -> /);
  assert.ok(
    existsSync(join(base, 'nnUNet_raw_data', 'Task044_Hippocampus', 'imagesTr', 'hippocampus_243_0000.nii.gz')),
  );
});
