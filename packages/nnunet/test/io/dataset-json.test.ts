/** dataset.json parsing and the messages for each bad key. */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { caseIdOf, NnunetError, parseDatasetJson, readDatasetJson } from '../../src/index.js';
import { HIPPOCAMPUS, tempDir } from '../helpers.js';

test('the bundled MSD dataset.json parses into typed fields', () => {
  const d = readDatasetJson(join(HIPPOCAMPUS, 'dataset.json'));
  assert.equal(d.name, 'Hippocampus');
  assert.deepEqual(d.modalities, ['MRI']);
  assert.deepEqual(
    [...d.labels],
    [
      [0, 'background'],
      [1, 'Anterior'],
      [2, 'Posterior'],
    ],
  );
  assert.equal(d.numTraining, 32);
  assert.equal(d.training.length, 32);
  assert.equal(caseIdOf(d.training[0]!.image), 'hippocampus_001');
  assert.equal(d.raw.licence, 'CC-BY-SA 4.0');
});

const good = {
  name: 'T',
  modality: { '0': 'T2', '1': 'ADC' },
  labels: { '0': 'background', '1': 'PZ' },
  numTraining: 1,
  training: [{ image: './imagesTr/a.nii.gz', label: './labelsTr/a.nii.gz' }],
  test: [],
};

test('each malformed key gets a message naming it', () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ ...good, name: '' }, /key "name" must be a non-empty string/],
    [{ ...good, modality: ['CT'] }, /key "modality" must be an object/],
    [{ ...good, modality: { '0': 'T2', '2': 'ADC' } }, /key "modality" skips "1"/],
    [{ ...good, labels: { '1': 'x' } }, /key "labels" skips "0"/],
    [{ ...good, labels: { '0': 'bg', one: 'x' } }, /key "labels" has the key "one"/],
    [{ ...good, training: [{ image: 'a' }] }, /key "training\[0\]" must be/],
    [{ ...good, numTraining: 3 }, /key "numTraining" is 3 but "training" lists 1 cases/],
    [
      { ...good, numTraining: 2, training: [good.training[0], good.training[0]] },
      /key "training\[1\]" repeats case "a"/,
    ],
    [{ ...good, test: [1] }, /key "test" must be a list of image paths/],
  ];
  for (const [raw, message] of cases) {
    assert.throws(
      () => parseDatasetJson(raw, '/x/dataset.json'),
      (e: unknown) =>
        e instanceof NnunetError &&
        e.code === 'ERR_DATASET' &&
        e.message.startsWith('/x/dataset.json: ') &&
        message.test(e.message),
      String(message),
    );
  }
  assert.deepEqual(parseDatasetJson(good).modalities, ['T2', 'ADC']);
});

test('missing file and broken JSON are reported with the path', () => {
  const dir = tempDir();
  assert.throws(() => readDatasetJson(join(dir, 'dataset.json')), { code: 'ERR_NOT_FOUND' });
  writeFileSync(join(dir, 'dataset.json'), '{"name": ');
  assert.throws(
    () => readDatasetJson(join(dir, 'dataset.json')),
    (e: unknown) => e instanceof NnunetError && e.code === 'ERR_DATASET' && e.message.includes(dir),
  );
});
