/**
 * nnU-Net v2's dataset converters against what v2's own code writes for the same two hippocampus
 * cases (fixtures/v2/converted_datasets.json, from scripts/make_v2_dataset_fixtures.py): the same
 * dataset.json text (keys in v2's order, 4-space indent) and the same files, images byte for byte;
 * and v2's dataset.json rules with one-sentence refusals.
 */
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { convertDecathlonTask } from '../../src/io/convert-decathlon.js';
import { convertMsdDatasetV2, convertOldDatasetV2 } from '../../src/io/convert-v2.js';
import { parseDatasetJsonV2, readDatasetJsonV2 } from '../../src/io/dataset-json-v2.js';
import { FIXTURES, HIPPOCAMPUS, tempDir } from '../helpers.js';

interface Converted {
  dataset: string;
  dataset_json: string;
  files: string[];
}
const fixture = JSON.parse(readFileSync(join(FIXTURES, 'v2', 'converted_datasets.json'), 'utf8')) as {
  cases: string[];
  msd: Converted;
  old: Converted;
};

/** The MSD task the fixture was made from: the fixture's cases, with an empty imagesTs/. */
function msdTask(root: string): string {
  const task = join(root, 'Task04_Hippocampus');
  for (const sub of ['imagesTr', 'labelsTr', 'imagesTs']) mkdirSync(join(task, sub), { recursive: true });
  for (const c of fixture.cases)
    for (const sub of ['imagesTr', 'labelsTr'])
      copyFileSync(join(HIPPOCAMPUS, sub, `${c}.nii.gz`), join(task, sub, `${c}.nii.gz`));
  const ds = JSON.parse(readFileSync(join(HIPPOCAMPUS, 'dataset.json'), 'utf8'));
  ds.training = fixture.cases.map((c) => ({ image: `./imagesTr/${c}.nii.gz`, label: `./labelsTr/${c}.nii.gz` }));
  ds.numTraining = fixture.cases.length;
  writeFileSync(join(task, 'dataset.json'), JSON.stringify(ds, null, 4));
  return task;
}

function files(folder: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const f of readdirSync(d)) {
      const p = join(d, f);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(relative(folder, p));
    }
  };
  walk(folder);
  return out.sort();
}

function sameAsV2(folder: string, expected: Converted): void {
  assert.equal(readFileSync(join(folder, 'dataset.json'), 'utf8').trimEnd(), expected.dataset_json);
  assert.deepEqual(files(folder), expected.files);
  for (const c of fixture.cases)
    assert.deepEqual(
      readFileSync(join(folder, 'imagesTr', `${c}_0000.nii.gz`)),
      readFileSync(join(HIPPOCAMPUS, 'imagesTr', `${c}.nii.gz`)),
      `${c}: the 3-D image is copied byte for byte`,
    );
  // What v2 writes reads back under v2's rules.
  const d = readDatasetJsonV2(join(folder, 'dataset.json'));
  assert.deepEqual(d.channelNames, ['MRI']);
  assert.deepEqual(
    [...d.labels],
    [
      ['background', 0],
      ['Anterior', 1],
      ['Posterior', 2],
    ],
  );
}

test('nnUNetv2_convert_MSD_dataset writes what v2 writes; a taken id is refused, -overwrite_id converts', async () => {
  const root = tempDir();
  const env = { nnUNet_raw: join(root, 'raw') };
  const task = msdTask(root);
  const r = await convertMsdDatasetV2(task, { env });
  assert.equal(r.datasetName, fixture.msd.dataset);
  sameAsV2(r.outputFolder, fixture.msd);
  await assert.rejects(
    convertMsdDatasetV2(task, { env }),
    /Dataset id 4 is already taken by Dataset004_Hippocampus.*-overwrite_id/,
  );
  const again = await convertMsdDatasetV2(task, { env, overwriteId: 7 });
  assert.equal(again.datasetName, 'Dataset007_Hippocampus');
  assert.equal(readdirSync(env.nnUNet_raw).sort().join(), 'Dataset004_Hippocampus,Dataset007_Hippocampus');
});

test('nnUNetv2_convert_old_nnUNet_dataset writes what v2 writes from a v1 raw task', async () => {
  const root = tempDir();
  const v1 = await convertDecathlonTask(msdTask(root), { env: { nnUNet_raw_data_base: join(root, 'v1') } });
  const env = { nnUNet_raw: join(root, 'raw') };
  const r = await convertOldDatasetV2(v1.outputFolder, fixture.old.dataset, { env });
  sameAsV2(r.outputFolder, fixture.old);
  await assert.rejects(
    convertOldDatasetV2(v1.outputFolder, fixture.old.dataset, { env }),
    /already exists: remove it first/,
  );
  await assert.rejects(
    convertOldDatasetV2(v1.outputFolder, 'Task005_X', { env }),
    /is not a v2 dataset name: use DatasetXXX_NAME/,
  );
  await assert.rejects(
    convertOldDatasetV2(join(root, 'nowhere'), 'Dataset006_X', { env }),
    /nowhere has no imagesTr: give the path of a v1 raw task folder/,
  );
  await assert.rejects(convertOldDatasetV2(v1.outputFolder, 'Dataset006_X', {}), /nnUNet_raw is not set/);
});

test('a conversion that fails half-way leaves nothing under the dataset name', async () => {
  const root = tempDir();
  const task = msdTask(root);
  // Two channels declared, 3-D images given: the first image is refused after the folders exist.
  const ds = JSON.parse(readFileSync(join(task, 'dataset.json'), 'utf8'));
  ds.modality = { 0: 'T1', 1: 'T2' };
  writeFileSync(join(task, 'dataset.json'), JSON.stringify(ds));
  const env = { nnUNet_raw: join(root, 'raw') };
  await assert.rejects(convertMsdDatasetV2(task, { env }), /holds 1 modality but dataset.json declares 2/);
  assert.deepEqual(readdirSync(env.nnUNet_raw), [], 'no dataset folder and no staging folder left');
  assert.equal(existsSync(join(env.nnUNet_raw, 'Dataset004_Hippocampus')), false);
});

test("v2's dataset.json rules: regions, the ignore label, and v1 files, each refused with a sentence", () => {
  const base = { channel_names: { 0: 'T2' }, numTraining: 3, file_ending: '.nii.gz' };
  const regions = parseDatasetJsonV2({
    ...base,
    labels: { background: 0, whole_tumor: [1, 2, 3], tumor_core: [2, 3], enhancing: 3 },
    regions_class_order: [1, 2, 3],
  });
  assert.deepEqual(regions.labels.get('whole_tumor'), [1, 2, 3]);
  assert.deepEqual(regions.regionsClassOrder, [1, 2, 3]);
  assert.throws(
    () => parseDatasetJsonV2({ ...base, labels: { background: 0, wt: [1, 2], tc: 2 } }),
    /defines regions, so "regions_class_order" is required/,
  );
  const sparse = parseDatasetJsonV2({ ...base, labels: { background: 0, liver: 1, ignore: 2 } });
  assert.equal(sparse.ignoreLabel, 2);
  assert.throws(
    () => parseDatasetJsonV2({ ...base, labels: { background: 0, ignore: 1, liver: 2 } }),
    /the ignore label \(1\) must be the highest label value \(2\)/,
  );
  assert.throws(
    () => parseDatasetJsonV2({ modality: { 0: 'MRI' }, labels: { 0: 'background' }, numTraining: 1 }, 'x/dataset.json'),
    /x\/dataset.json: has "modality" but no "channel_names": it is a v1 .* nnUNetv2_convert_old_nnUNet_dataset/,
  );
  assert.throws(() => parseDatasetJsonV2({ ...base, labels: { tumor: 1 } }), /must map "background" to 0/);
  assert.throws(
    () => parseDatasetJsonV2({ ...base, file_ending: 'nii.gz', labels: { background: 0 } }),
    /"file_ending"/,
  );
});
