/**
 * --verify_dataset_integrity: one bad input per case of a small task, all reported together with
 * the case, the file and a fix; the command exits 1 and writes nothing.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { NnunetError, readImage, verifyDatasetIntegrity, writeImage } from '../../src/index.js';
import { axisCodes } from '../../src/io/verify.js';
import { HIPPOCAMPUS, PACKAGE_ROOT, tempDir } from '../helpers.js';

const CASES = [
  'hippocampus_001',
  'hippocampus_003',
  'hippocampus_004',
  'hippocampus_006',
  'hippocampus_007',
  'hippocampus_008',
  'hippocampus_011',
];

/** A raw v1 task with the first seven bundled cases. */
function makeTask(base: string): string {
  const task = join(base, 'nnUNet_raw_data', 'Task004_Hippocampus');
  for (const d of ['imagesTr', 'labelsTr', 'imagesTs']) mkdirSync(join(task, d), { recursive: true });
  for (const c of CASES) {
    copyFileSync(join(HIPPOCAMPUS, 'imagesTr', `${c}.nii.gz`), join(task, 'imagesTr', `${c}_0000.nii.gz`));
    copyFileSync(join(HIPPOCAMPUS, 'labelsTr', `${c}.nii.gz`), join(task, 'labelsTr', `${c}.nii.gz`));
  }
  const ds = JSON.parse(readFileSync(join(HIPPOCAMPUS, 'dataset.json'), 'utf8'));
  ds.training = CASES.map((c) => ({ image: `./imagesTr/${c}.nii.gz`, label: `./labelsTr/${c}.nii.gz` }));
  ds.numTraining = CASES.length;
  writeFileSync(join(task, 'dataset.json'), JSON.stringify(ds));
  return task;
}

test('a clean task passes; mixed axis orders are a warning, not a failure', async () => {
  const task = makeTask(tempDir());
  const r = await verifyDatasetIntegrity(task, { workers: 2 });
  assert.deepEqual(r.problems, []);
  assert.deepEqual(r.warnings, []);
  // Flip the x axis of one case (image and label together): still consistent, but LAS vs RAS.
  for (const f of [
    join(task, 'imagesTr', 'hippocampus_011_0000.nii.gz'),
    join(task, 'labelsTr', 'hippocampus_011.nii.gz'),
  ]) {
    const v = await readImage(f);
    const d = [...v.geometry.direction];
    for (const i of [0, 3, 6]) d[i] = -(d[i] as number);
    await writeImage({ ...v, geometry: { ...v.geometry, direction: d } }, f);
  }
  const mixed = await verifyDatasetIntegrity(task, { workers: 2 });
  assert.equal(mixed.warnings.length, 1);
  assert.match(mixed.warnings[0] as string, /not all share one axis order: RAS \(6 cases\), LAS \(1 cases\)/);
});

test('axis codes follow nibabel: the hippocampus LPS-flipped identity is RAS', () => {
  assert.equal(axisCodes([-1, 0, 0, 0, -1, 0, 0, 0, 1]), 'RAS');
  assert.equal(axisCodes([1, 0, 0, 0, 1, 0, 0, 0, 1]), 'LPS');
  // Array x runs along LPS -y (anterior), y along -z (inferior), z along +x (left).
  assert.equal(axisCodes([0, 0, 1, -1, 0, 0, 0, -1, 0]), 'AIL');
});

test('every kind of bad input is reported together, each naming its case, file and fix', async () => {
  const task = makeTask(tempDir());
  const tr = join(task, 'imagesTr');
  const lb = join(task, 'labelsTr');
  // 1. missing modality file
  rmSync(join(tr, 'hippocampus_001_0000.nii.gz'));
  // 2. geometry mismatch between label and image
  const seg3 = await readImage(join(lb, 'hippocampus_003.nii.gz'));
  await writeImage({ ...seg3, geometry: { ...seg3.geometry, spacing: [1, 1, 2] } }, join(lb, 'hippocampus_003.nii.gz'));
  // 3. a label value dataset.json does not list
  const seg4 = await readImage(join(lb, 'hippocampus_004.nii.gz'));
  seg4.data[100] = 7;
  await writeImage(seg4, join(lb, 'hippocampus_004.nii.gz'));
  // 4. a NaN voxel (as float32)
  const img6 = await readImage(join(tr, 'hippocampus_006_0000.nii.gz'));
  const f = Float32Array.from(img6.data as ArrayLike<number>);
  f[5] = Number.NaN;
  await writeImage({ ...img6, data: f, dtype: 'float32' }, join(tr, 'hippocampus_006_0000.nii.gz'));
  // 5. a truncated .nii.gz
  const bytes = readFileSync(join(tr, 'hippocampus_007_0000.nii.gz'));
  writeFileSync(join(tr, 'hippocampus_007_0000.nii.gz'), bytes.subarray(0, bytes.length >> 1));
  // 6. a second modality file that dataset.json does not declare
  copyFileSync(join(tr, 'hippocampus_008_0000.nii.gz'), join(tr, 'hippocampus_008_0001.nii.gz'));

  await assert.rejects(verifyDatasetIntegrity(task, { workers: 2 }), (e: unknown) => {
    assert.ok(e instanceof NnunetError);
    assert.equal(e.code, 'ERR_DATASET');
    const m = e.message;
    assert.match(m, /failed the integrity check with 6 problem\(s\)/);
    assert.match(
      m,
      /case hippocampus_001: missing .*hippocampus_001_0000\.nii\.gz; every training case needs 1 image file/,
    );
    assert.match(
      m,
      /case hippocampus_003: label .*hippocampus_003\.nii\.gz and image .* differ in spacing \[1,1,2\] vs \[1,1,1\]; resample/,
    );
    assert.match(
      m,
      /case hippocampus_004: .*hippocampus_004\.nii\.gz contains label values 7 that dataset.json does not list \(it lists 0, 1, 2\)/,
    );
    assert.match(m, /case hippocampus_006: .*hippocampus_006_0000\.nii\.gz contains 1 NaN or infinite voxels/);
    assert.match(
      m,
      /case hippocampus_007: Cannot read image .*hippocampus_007_0000\.nii\.gz: the gzip data is truncated/,
    );
    assert.match(
      m,
      /imagesTr holds 1 file\(s\) that dataset.json does not account for \(hippocampus_008_0001\.nii\.gz\)/,
    );
    return true;
  });
});

test('dataset.json declaring more modalities than the files provide is reported per case', async () => {
  const task = makeTask(tempDir());
  const ds = JSON.parse(readFileSync(join(task, 'dataset.json'), 'utf8'));
  ds.modality = { '0': 'T1', '1': 'T2' };
  writeFileSync(join(task, 'dataset.json'), JSON.stringify(ds));
  await assert.rejects(verifyDatasetIntegrity(task), (e: unknown) => {
    const m = (e as Error).message;
    assert.match(m, /with 7 problem\(s\)/);
    assert.match(
      m,
      /case hippocampus_011: missing .*hippocampus_011_0001\.nii\.gz; every training case needs 2 image file\(s\)/,
    );
    return true;
  });
});

test('the command exits 1 with the report and writes no cropped data', () => {
  const base = tempDir();
  const task = makeTask(base);
  rmSync(join(task, 'imagesTr', 'hippocampus_001_0000.nii.gz'));
  const env = { ...process.env, nnUNet_raw_data_base: base, nnUNet_preprocessed: join(base, 'pre') };
  const cli = join(PACKAGE_ROOT, 'dist', 'src', 'cli', 'plan-and-preprocess.js');
  const r = spawnSync(
    process.execPath,
    [cli, '-t', '4', '--verify_dataset_integrity', '-pl3d', 'None', '-pl2d', 'None'],
    { env, encoding: 'utf8' },
  );
  assert.equal(r.status, 1);
  assert.match(
    r.stderr,
    /^nnUNet_plan_and_preprocess: .*Task004_Hippocampus failed the integrity check with 1 problem/,
  );
  assert.equal(existsSync(join(base, 'nnUNet_cropped_data', 'Task004_Hippocampus')), false);
  const missingEnv = spawnSync(process.execPath, [cli, '-t', '4', '-pl3d', 'None', '-pl2d', 'None'], {
    env: { ...env, nnUNet_preprocessed: '' },
    encoding: 'utf8',
  });
  assert.equal(missingEnv.status, 1);
  assert.match(missingEnv.stderr, /The environment variable nnUNet_preprocessed is not set/);
});
