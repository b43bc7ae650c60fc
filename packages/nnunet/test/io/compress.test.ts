/** .nii -> .nii.gz conversion: byte-exact, verified, originals kept unless asked; .nii accepted in raw tasks. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { compressNiftiFolder, cropTask, readImage } from '../../src/index.js';
import { FIXTURES, HIPPOCAMPUS, PACKAGE_ROOT, tempDir } from '../helpers.js';

test('each .nii becomes a .nii.gz holding exactly its bytes; originals stay unless asked', async () => {
  const dir = tempDir();
  copyFileSync(join(FIXTURES, 'io', 'oblique_float32.nii'), join(dir, 'a.nii'));
  writeFileSync(join(dir, 'b.nii'), gunzipSync(readFileSync(join(FIXTURES, 'io', 'int16.nii.gz'))));
  const r = compressNiftiFolder(dir);
  assert.deepEqual(r.compressed, ['a.nii', 'b.nii']);
  assert.deepEqual(readdirSync(dir).sort(), ['a.nii', 'a.nii.gz', 'b.nii', 'b.nii.gz']);
  assert.ok(gunzipSync(readFileSync(join(dir, 'a.nii.gz'))).equals(readFileSync(join(dir, 'a.nii'))));
  const v = await readImage(join(dir, 'b.nii.gz'));
  assert.equal(v.dtype, 'int16');
  // A second run with removal: the existing .nii.gz are verified identical, then originals go.
  const again = compressNiftiFolder(dir, { removeOriginals: true });
  assert.deepEqual(again.skipped, ['a.nii', 'b.nii']);
  assert.deepEqual(readdirSync(dir).sort(), ['a.nii.gz', 'b.nii.gz']);
});

test('an existing different .nii.gz stops the conversion and removes nothing', () => {
  const dir = tempDir();
  copyFileSync(join(FIXTURES, 'io', 'oblique_float32.nii'), join(dir, 'a.nii'));
  copyFileSync(join(FIXTURES, 'io', 'int8.nii.gz'), join(dir, 'a.nii.gz'));
  const cli = join(PACKAGE_ROOT, 'dist', 'src', 'cli', 'compress-nifti-folder.js');
  const r = spawnSync(process.execPath, [cli, '-i', dir, '--remove_originals'], { encoding: 'utf8' });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /a\.nii\.gz already exists and differs from .*a\.nii: remove one of them/);
  assert.deepEqual(readdirSync(dir).sort(), ['a.nii', 'a.nii.gz']);
});

test('a raw task with uncompressed .nii files is cropped like its .nii.gz twin', async () => {
  const base = tempDir();
  const task = join(base, 'nnUNet_raw_data', 'Task004_Hippocampus');
  mkdirSync(join(task, 'imagesTr'), { recursive: true });
  mkdirSync(join(task, 'labelsTr'), { recursive: true });
  const id = 'hippocampus_034';
  writeFileSync(
    join(task, 'imagesTr', `${id}_0000.nii`),
    gunzipSync(readFileSync(join(HIPPOCAMPUS, 'imagesTr', `${id}.nii.gz`))),
  );
  writeFileSync(
    join(task, 'labelsTr', `${id}.nii`),
    gunzipSync(readFileSync(join(HIPPOCAMPUS, 'labelsTr', `${id}.nii.gz`))),
  );
  const ds = JSON.parse(readFileSync(join(HIPPOCAMPUS, 'dataset.json'), 'utf8'));
  ds.training = [{ image: `./imagesTr/${id}.nii.gz`, label: `./labelsTr/${id}.nii.gz` }];
  ds.numTraining = 1;
  writeFileSync(join(task, 'dataset.json'), JSON.stringify(ds));
  const out = await cropTask('Task004_Hippocampus', { env: { nnUNet_raw_data_base: base }, workers: 1 });
  const props = JSON.parse(readFileSync(join(out, `${id}.json`), 'utf8'));
  const gold = JSON.parse(
    readFileSync(join(FIXTURES, 'golden', 'Task004_Hippocampus', `${id}_cropped_properties.json`), 'utf8'),
  );
  assert.deepEqual(props.crop_bbox, gold.crop_bbox);
  assert.deepEqual(props.size_after_cropping, gold.size_after_cropping);
});
