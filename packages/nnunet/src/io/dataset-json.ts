/**
 * dataset.json in nnU-Net v1's format (the Medical Segmentation Decathlon's): parsed into a typed
 * object, with errors that name the file and the offending key.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { NnunetError } from '../errors.js';

export interface TrainingPair {
  /** Path as written in dataset.json, e.g. "./imagesTr/hippocampus_001.nii.gz". */
  image: string;
  label: string;
}

export interface DatasetJson {
  name: string;
  description?: string;
  tensorImageSize?: string;
  /** Modality names by channel index, e.g. ['MRI'] or ['T2', 'ADC']. */
  modalities: string[];
  /** Label names by integer value (0 is background). */
  labels: Map<number, string>;
  numTraining: number;
  numTest: number;
  training: TrainingPair[];
  test: string[];
  /** The whole parsed JSON, for keys this reader does not interpret (reference, licence, ...). */
  raw: Record<string, unknown>;
}

/** Case id of an image path in dataset.json: the file name without folder and extension. */
export function caseIdOf(imagePath: string): string {
  return basename(imagePath).replace(/\.nii(\.gz)?$/, '');
}

/** Reads and validates `path` (a dataset.json file). */
export function readDatasetJson(path: string): DatasetJson {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new NnunetError(
      'ERR_NOT_FOUND',
      `${path} does not exist: every task folder needs a dataset.json (see the nnU-Net dataset format).`,
    );
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new NnunetError('ERR_DATASET', `${path} is not valid JSON (${(e as Error).message}): fix the syntax.`);
  }
  return parseDatasetJson(raw, path);
}

/** Validates an already parsed dataset.json; `source` names it in messages. */
export function parseDatasetJson(raw: unknown, source = 'dataset.json'): DatasetJson {
  const fail = (key: string, why: string): never => {
    throw new NnunetError('ERR_DATASET', `${source}: key "${key}" ${why}.`);
  };
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) fail('(top level)', 'must be a JSON object');
  const d = raw as Record<string, unknown>;

  const name = d.name;
  if (typeof name !== 'string' || name === '') fail('name', 'must be a non-empty string');

  const modalities = indexedNames(d.modality, 'modality', fail);
  if (modalities.length === 0) fail('modality', 'must name at least one modality, e.g. {"0": "CT"}');

  const labelList = indexedNames(d.labels, 'labels', fail);
  const labels = new Map(labelList.map((n, i) => [i, n]));
  if (!labels.has(0)) fail('labels', 'must contain "0" (background)');

  const training = d.training;
  if (!Array.isArray(training)) fail('training', 'must be a list of {"image": ..., "label": ...} entries');
  const pairs: TrainingPair[] = (training as unknown[]).map((t, i) => {
    const e = t as Record<string, unknown> | null;
    if (e === null || typeof e !== 'object' || typeof e.image !== 'string' || typeof e.label !== 'string') {
      return fail(`training[${i}]`, 'must be {"image": "./imagesTr/CASE.nii.gz", "label": "./labelsTr/CASE.nii.gz"}');
    }
    return { image: e.image, label: e.label };
  });
  const test = d.test ?? [];
  if (!Array.isArray(test) || !test.every((t) => typeof t === 'string')) fail('test', 'must be a list of image paths');

  const numTraining = d.numTraining ?? pairs.length;
  if (typeof numTraining !== 'number' || !Number.isInteger(numTraining)) fail('numTraining', 'must be an integer');
  if (numTraining !== pairs.length) {
    fail('numTraining', `is ${numTraining} but "training" lists ${pairs.length} cases; make them agree`);
  }
  const numTest = d.numTest ?? (test as string[]).length;
  if (typeof numTest !== 'number' || !Number.isInteger(numTest)) fail('numTest', 'must be an integer');

  const seen = new Map<string, number>();
  pairs.forEach((p, i) => {
    const id = caseIdOf(p.image);
    const prev = seen.get(id);
    if (prev !== undefined)
      fail(`training[${i}]`, `repeats case "${id}" of training[${prev}]; each case may appear once`);
    seen.set(id, i);
  });

  const out: DatasetJson = {
    name: name as string,
    modalities,
    labels,
    numTraining: numTraining as number,
    numTest: numTest as number,
    training: pairs,
    test: test as string[],
    raw: d,
  };
  if (typeof d.description === 'string') out.description = d.description;
  if (typeof d.tensorImageSize === 'string') out.tensorImageSize = d.tensorImageSize;
  return out;
}

/** {"0": "a", "1": "b"} -> ['a', 'b'], requiring the keys to be 0..n-1 (in any order). */
function indexedNames(v: unknown, key: string, fail: (key: string, why: string) => never): string[] {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) fail(key, 'must be an object like {"0": "..."}');
  const entries = Object.entries(v as Record<string, unknown>);
  const out: string[] = [];
  for (const [k, name] of entries) {
    if (!/^\d+$/.test(k)) fail(key, `has the key "${k}", but keys must be integers "0", "1", ...`);
    if (typeof name !== 'string') fail(key, `maps "${k}" to ${JSON.stringify(name)}, but names must be strings`);
    out[Number(k)] = name as string;
  }
  for (let i = 0; i < out.length; i++) {
    if (out[i] === undefined) fail(key, `skips "${i}"; keys must be consecutive from "0"`);
  }
  return out;
}
