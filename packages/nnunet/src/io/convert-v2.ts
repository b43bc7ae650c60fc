/**
 * Datasets into nnU-Net v2's raw format ($nnUNet_raw/DatasetXXX_NAME), as v2's converters make them:
 *
 * - from a Medical Segmentation Decathlon task (nnUNetv2_convert_MSD_dataset): TaskXX_NAME becomes
 *   DatasetXXX_NAME (the task's id unless another is given; refused when a dataset already has that
 *   id); images become one 3-D file per channel (CASE_0000.nii.gz, ...), labels are copied, and
 *   dataset.json is rewritten in v2's format;
 * - from an nnU-Net v1 raw task (nnUNetv2_convert_old_nnUNet_dataset): the image and label folders
 *   are copied as they are (v1 and v2 name files alike) and dataset.json is rewritten.
 *
 * Both assemble the dataset in a temporary folder and rename it into place, so a failure leaves
 * nothing under the final name. v2 requires an imagesTs/ folder in an MSD task; here a task
 * without one converts too (the output's imagesTs/ is then empty, as v2's would be).
 */
import { cpSync, existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { NnunetError } from '../errors.js';
import type { Env } from '../model/paths.js';
import { datasetIdOf, datasetName, datasetsWithId, ENV_V2_RAW, requireV2Folder } from '../model/paths-v2.js';
import { copyFileAtomic, removeStaleTemporaries, temporaryName, writeJsonAtomic } from '../util/atomic.js';
import { NIFTI, splitImage, visibleFiles } from './convert-decathlon.js';
import { readDatasetJson } from './dataset-json.js';
import { datasetJsonFromV1, parseDatasetJsonV2 } from './dataset-json-v2.js';

export interface ConvertV2Result {
  datasetName: string;
  outputFolder: string;
  images: number;
  labels: number;
}

const MSD_NAME = /^Task(\d+)_(.+)$/;

/** v2 writes dataset.json with 4-space indents and the keys in its own order. */
function writeDatasetJson(path: string, json: Record<string, unknown>): void {
  // Checked against v2's own rules before it is written.
  parseDatasetJsonV2(json, path);
  writeJsonAtomic(path, json, 4);
}

/** Builds the dataset in a staging folder beside `target`, then renames it into place. */
async function assemble(target: string, build: (staging: string) => Promise<void>): Promise<void> {
  const parent = join(target, '..');
  mkdirSync(parent, { recursive: true });
  removeStaleTemporaries(parent);
  const staging = temporaryName(target);
  mkdirSync(staging, { recursive: true });
  try {
    await build(staging);
    renameSync(staging, target);
  } catch (e) {
    rmSync(staging, { recursive: true, force: true });
    throw e;
  }
}

export async function convertMsdDatasetV2(
  inputFolder: string,
  o: { overwriteId?: number; env?: Env; onProgress?: (done: number, total: number) => void } = {},
): Promise<ConvertV2Result> {
  const env = o.env ?? process.env;
  const input = inputFolder.replace(/\/+$/, '');
  const m = MSD_NAME.exec(basename(input));
  if (m === null)
    throw new NnunetError(
      'ERR_ARGUMENT',
      `${input} is not a Decathlon task folder: its name must look like Task04_Hippocampus (for a v1 task folder use nnUNetv2_convert_old_nnUNet_dataset).`,
    );
  for (const sub of ['imagesTr', 'labelsTr', 'dataset.json'])
    if (!existsSync(join(input, sub)))
      throw new NnunetError(
        'ERR_DATASET',
        `${input} has no ${sub}: point -i at a Decathlon task folder (imagesTr/, labelsTr/, dataset.json).`,
      );
  const v1 = readDatasetJson(join(input, 'dataset.json'));
  const id = o.overwriteId ?? Number(m[1]);
  const name = datasetName(id, m[2] as string);
  const raw = requireV2Folder(ENV_V2_RAW, env);
  const taken = datasetsWithId(id, env);
  if (taken.length > 0)
    throw new NnunetError(
      'ERR_ARGUMENT',
      `Dataset id ${id} is already taken by ${taken.join(', ')} (under nnUNet_raw, nnUNet_preprocessed or nnUNet_results): choose another with -overwrite_id.`,
    );
  const target = join(raw, name);
  let images = 0;
  let labels = 0;
  await assemble(target, async (staging) => {
    const jobs: [string, string][] = [];
    for (const sub of ['imagesTr', 'imagesTs']) {
      mkdirSync(join(staging, sub), { recursive: true });
      for (const f of visibleFiles(join(input, sub), NIFTI)) jobs.push([join(input, sub, f), join(staging, sub)]);
    }
    for (const [file, outDir] of jobs) {
      await splitImage(file, outDir, v1.modalities.length);
      o.onProgress?.(++images, jobs.length);
    }
    mkdirSync(join(staging, 'labelsTr'));
    for (const f of visibleFiles(join(input, 'labelsTr'), NIFTI)) {
      copyFileAtomic(join(input, 'labelsTr', f), join(staging, 'labelsTr', f));
      labels++;
    }
    writeDatasetJson(join(staging, 'dataset.json'), datasetJsonFromV1(v1.raw, { dropCounts: false }));
  });
  return { datasetName: name, outputFolder: target, images, labels };
}

/** v2's copy of a v1 raw task (TaskXXX_NAME with imagesTr/ labelsTr/ ...) as `targetName`. */
export async function convertOldDatasetV2(
  inputFolder: string,
  targetName: string,
  o: { env?: Env } = {},
): Promise<ConvertV2Result> {
  const env = o.env ?? process.env;
  const input = inputFolder.replace(/\/+$/, '');
  const id = datasetIdOf(targetName);
  if (id === undefined || targetName.includes('/'))
    throw new NnunetError(
      'ERR_ARGUMENT',
      `"${targetName}" is not a v2 dataset name: use DatasetXXX_NAME (three digits), e.g. Dataset004_Hippocampus.`,
    );
  for (const sub of ['imagesTr', 'labelsTr', 'dataset.json'])
    if (!existsSync(join(input, sub)))
      throw new NnunetError(
        'ERR_DATASET',
        `${input} has no ${sub}: give the path of a v1 raw task folder (nnUNet_raw_data/TaskXXX_NAME, with imagesTr/, labelsTr/ and dataset.json).`,
      );
  const raw = requireV2Folder(ENV_V2_RAW, env);
  const target = join(raw, targetName);
  if (existsSync(target))
    throw new NnunetError(
      'ERR_ARGUMENT',
      `${target} already exists: remove it first if it should be replaced, or choose another dataset name.`,
    );
  const v1 = readDatasetJson(join(input, 'dataset.json')).raw;
  await assemble(target, async (staging) => {
    for (const sub of ['imagesTr', 'labelsTr', 'imagesTs', 'labelsTs', 'imagesVal', 'labelsVal'])
      if (existsSync(join(input, sub))) cpSync(join(input, sub), join(staging, sub), { recursive: true });
    writeDatasetJson(join(staging, 'dataset.json'), datasetJsonFromV1(v1, { dropCounts: true }));
  });
  return {
    datasetName: targetName,
    outputFolder: target,
    images: visibleFiles(join(target, 'imagesTr'), NIFTI).length,
    labels: visibleFiles(join(target, 'labelsTr'), NIFTI).length,
  };
}
