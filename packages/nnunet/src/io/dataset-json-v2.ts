/**
 * dataset.json in nnU-Net v2's format: `channel_names` (index -> name), `labels` (name -> value,
 * or name -> list of values for a region), `numTraining`, `file_ending`, and optionally
 * `regions_class_order` (required with regions) and `overwrite_image_reader_writer`. The label
 * named "ignore" is v2's ignore label: it must be the highest value. Errors name the file, the key
 * and the fix.
 */
import { readFileSync } from 'node:fs';
import { NnunetError } from '../errors.js';

export interface DatasetJsonV2 {
  /** Channel names by index: ['MRI'], or ['T2', 'ADC']. */
  channelNames: string[];
  /** Label (or region) name -> its value, or the values that make up a region. */
  labels: Map<string, number | number[]>;
  numTraining: number;
  /** The file ending of every image and label, e.g. ".nii.gz" or ".png". */
  fileEnding: string;
  /** Region-based training: the order in which regions are painted into a label map on export. */
  regionsClassOrder: number[] | null;
  /** The ignore label's value (the label named "ignore"), or null. */
  ignoreLabel: number | null;
  /** The whole parsed JSON, for keys this reader does not interpret. */
  raw: Record<string, unknown>;
}

/** Whether `labels` describes regions (any entry a list of several values). */
export function hasRegions(d: Pick<DatasetJsonV2, 'labels'>): boolean {
  return [...d.labels.values()].some((v) => Array.isArray(v) && v.length > 1);
}

/** Reads and validates a v2 dataset.json. */
export function readDatasetJsonV2(path: string): DatasetJsonV2 {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    const why =
      (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : `is not valid JSON (${(e as Error).message})`;
    throw new NnunetError('ERR_DATASET', `${path} ${why}: every v2 dataset needs a dataset.json.`);
  }
  return parseDatasetJsonV2(raw, path);
}

export function parseDatasetJsonV2(raw: unknown, source = 'dataset.json'): DatasetJsonV2 {
  const bad = (what: string): never => {
    throw new NnunetError('ERR_DATASET', `${source}: ${what}`);
  };
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return bad('is not a JSON object.');
  const o = raw as Record<string, unknown>;
  if ('modality' in o && !('channel_names' in o))
    bad(
      'has "modality" but no "channel_names": it is a v1 (Decathlon) dataset.json; convert the task with nnUNetv2_convert_old_nnUNet_dataset or nnUNetv2_convert_MSD_dataset.',
    );
  const channels = o.channel_names;
  if (typeof channels !== 'object' || channels === null || Array.isArray(channels))
    bad('"channel_names" must be an object like {"0": "CT"}.');
  const entries = Object.entries(channels as Record<string, unknown>);
  if (entries.length === 0) bad('"channel_names" is empty: name at least channel "0".');
  const channelNames: string[] = [];
  for (const [k, v] of entries) {
    const i = Number(k);
    if (!Number.isInteger(i) || i < 0 || i >= entries.length)
      bad(`"channel_names" key "${k}" is not a channel index 0..${entries.length - 1}.`);
    if (typeof v !== 'string') bad(`"channel_names"["${k}"] must be a string.`);
    channelNames[i] = v as string;
  }
  const labelsRaw = o.labels;
  if (typeof labelsRaw !== 'object' || labelsRaw === null || Array.isArray(labelsRaw))
    bad('"labels" must be an object like {"background": 0, "tumor": 1}.');
  const labels = new Map<string, number | number[]>();
  const isValue = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v >= 0;
  for (const [name, v] of Object.entries(labelsRaw as Record<string, unknown>)) {
    if (isValue(v)) labels.set(name, v as number);
    else if (Array.isArray(v) && v.length > 0 && v.every(isValue))
      labels.set(name, v.length === 1 ? (v[0] as number) : (v as number[]));
    else
      bad(`"labels"["${name}"] must be a non-negative integer or a list of them (a region), got ${JSON.stringify(v)}.`);
  }
  if (labels.get('background') !== 0) bad('"labels" must map "background" to 0.');
  const numTraining = o.numTraining;
  if (typeof numTraining !== 'number' || !Number.isInteger(numTraining) || numTraining < 1)
    bad('"numTraining" must be a positive integer (the number of training cases).');
  const fileEnding = o.file_ending;
  if (typeof fileEnding !== 'string' || !fileEnding.startsWith('.'))
    bad('"file_ending" must be the images\' file ending, e.g. ".nii.gz".');
  let regionsClassOrder: number[] | null = null;
  const regions = hasRegions({ labels });
  if (o.regions_class_order !== undefined) {
    const r = o.regions_class_order;
    if (!Array.isArray(r) || !r.every(isValue)) bad('"regions_class_order" must be a list of label values.');
    regionsClassOrder = r as number[];
  }
  if (regions && regionsClassOrder === null)
    bad('"labels" defines regions, so "regions_class_order" is required (the label value each region exports as).');
  if (regionsClassOrder !== null && regionsClassOrder.length !== labels.size - 1 - (labels.has('ignore') ? 1 : 0))
    bad(
      `"regions_class_order" has ${regionsClassOrder.length} entries but "labels" has ${labels.size - 1 - (labels.has('ignore') ? 1 : 0)} regions besides background${labels.has('ignore') ? ' and ignore' : ''}.`,
    );
  let ignoreLabel: number | null = null;
  if (labels.has('ignore')) {
    const v = labels.get('ignore');
    if (typeof v !== 'number') bad('"labels"["ignore"] must be a single value, not a region.');
    const highest = Math.max(...[...labels.values()].flat());
    if (v !== highest) bad(`the ignore label (${v}) must be the highest label value (${highest}).`);
    ignoreLabel = v as number;
  }
  return {
    channelNames,
    labels,
    numTraining: numTraining as number,
    fileEnding: fileEnding as string,
    regionsClassOrder,
    ignoreLabel,
    raw: o,
  };
}

/**
 * A v1 (Decathlon) dataset.json as v2 writes it when converting: labels turned into name -> value,
 * "modality" renamed "channel_names" (moved last), ".nii.gz" as the file ending, the case lists
 * dropped; `dropCounts` also drops tensorImageSize and numTest (v2's old-dataset conversion does,
 * its MSD conversion does not). Key order as v2's converters leave it.
 */
export function datasetJsonFromV1(v1: Record<string, unknown>, o: { dropCounts: boolean }): Record<string, unknown> {
  const labels = v1.labels;
  const modality = v1.modality;
  if (typeof labels !== 'object' || labels === null || typeof modality !== 'object' || modality === null)
    throw new NnunetError('ERR_DATASET', 'the v1 dataset.json needs "labels" and "modality" objects to be converted.');
  const out: Record<string, unknown> = {};
  const dropped = new Set(['modality', 'training', 'test', ...(o.dropCounts ? ['tensorImageSize', 'numTest'] : [])]);
  for (const [k, v] of Object.entries(v1)) {
    if (dropped.has(k)) continue;
    out[k] =
      k === 'labels'
        ? Object.fromEntries(Object.entries(v as Record<string, string>).map(([i, n]) => [n, Number(i)]))
        : v;
  }
  // v2's two converters add these in different orders; the content is the same.
  if (o.dropCounts) {
    out.channel_names = { ...(modality as object) };
    out.file_ending = '.nii.gz';
  } else {
    out.file_ending = '.nii.gz';
    out.channel_names = { ...(modality as object) };
  }
  return out;
}
