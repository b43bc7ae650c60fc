/**
 * Medical Segmentation Decathlon task -> nnU-Net v1 raw task (v1's nnUNet_convert_decathlon_task):
 * TaskXX_NAME becomes $nnUNet_raw_data_base/nnUNet_raw_data/TaskXXX_NAME; every image in imagesTr/
 * and imagesTs/ becomes one 3-D file per modality (CASE_0000.nii.gz, CASE_0001.nii.gz, ...; 4-D
 * images are split along their last ITK axis), labelsTr/ and dataset.json are copied unchanged.
 * Hidden files ("._x" from macOS) are skipped, never deleted. The output is assembled in a
 * temporary folder and swapped in at the end, so a failure leaves any previous output intact.
 */
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { NnunetError } from '../errors.js';
import { requireEnvFolder } from '../model/paths.js';
import { copyFileAtomic, removeStaleTemporaries, temporaryName } from '../util/atomic.js';
import { readDatasetJson } from './dataset-json.js';
import { readImage, type Volume, writeImage } from './image.js';

export interface ConvertOptions {
  /** Task id of the output (default: the input's). */
  outputTaskId?: number;
  /** Environment to read nnUNet_raw_data_base from (default: process.env). */
  env?: Readonly<Record<string, string | undefined>>;
  /** Called after each image with (done, total). */
  onProgress?: (done: number, total: number) => void;
}

export interface ConvertResult {
  taskName: string;
  outputFolder: string;
  images: number;
  labels: number;
}

const MSD_NAME = /^Task(\d+)_(.+)$/;

export function visibleFiles(dir: string, ext: RegExp): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => !f.startsWith('.') && !f.startsWith('_') && ext.test(f) && statSync(join(dir, f)).isFile())
    .sort();
}

export const NIFTI = /\.nii(\.gz)?$/;

/** Splits a 4-D volume (t, z, y, x) into t 3-D volumes with the spatial part of its geometry. */
export function split4d(v: Volume): Volume[] {
  if (v.shape.length !== 4) return [v];
  const [t, z, y, x] = v.shape as [number, number, number, number];
  const n = z * y * x;
  const g = v.geometry;
  const direction = [0, 1, 2].flatMap((r) => [0, 1, 2].map((c) => g.direction[r * 4 + c] as number));
  return Array.from({ length: t }, (_, i) => ({
    data: v.data.slice(i * n, (i + 1) * n) as Volume['data'],
    shape: [z, y, x],
    dtype: v.dtype,
    geometry: { spacing: g.spacing.slice(0, 3), origin: g.origin.slice(0, 3), direction },
  }));
}

export async function convertDecathlonTask(inputFolder: string, options: ConvertOptions = {}): Promise<ConvertResult> {
  const env = options.env ?? process.env;
  const input = inputFolder.replace(/\/+$/, '');
  const m = MSD_NAME.exec(basename(input));
  if (m === null) {
    throw new NnunetError(
      'ERR_ARGUMENT',
      `${input} is not a Decathlon task folder: its name must look like Task04_Hippocampus.`,
    );
  }
  for (const sub of ['imagesTr', 'labelsTr']) {
    if (!existsSync(join(input, sub))) {
      throw new NnunetError(
        'ERR_DATASET',
        `${input} has no ${sub}/ folder: point -i at a Decathlon task folder (with imagesTr/, labelsTr/ and dataset.json).`,
      );
    }
  }
  const dataset = readDatasetJson(join(input, 'dataset.json'));
  const id = options.outputTaskId ?? Number(m[1]);
  if (!Number.isInteger(id) || id < 0 || id > 999) {
    throw new NnunetError('ERR_ARGUMENT', `Task id ${id} is out of range: use an integer from 0 to 999.`);
  }
  const taskName = `Task${String(id).padStart(3, '0')}_${m[2]}`;
  const rawData = join(requireEnvFolder('nnUNet_raw_data_base', env), 'nnUNet_raw_data');
  const outputFolder = join(rawData, taskName);
  // Staging folders of conversions that were killed are removed; live ones are left alone.
  removeStaleTemporaries(rawData);
  const staging = temporaryName(outputFolder);
  mkdirSync(staging, { recursive: true });
  try {
    const jobs: [string, string][] = [];
    for (const sub of ['imagesTr', 'imagesTs']) {
      mkdirSync(join(staging, sub), { recursive: true });
      for (const f of visibleFiles(join(input, sub), NIFTI)) jobs.push([join(input, sub, f), join(staging, sub)]);
    }
    let done = 0;
    for (const [file, outDir] of jobs) {
      await splitImage(file, outDir, dataset.modalities.length);
      options.onProgress?.(++done, jobs.length);
    }
    mkdirSync(join(staging, 'labelsTr'));
    const labels = visibleFiles(join(input, 'labelsTr'), NIFTI);
    for (const f of labels) copyFileAtomic(join(input, 'labelsTr', f), join(staging, 'labelsTr', f));
    copyFileAtomic(join(input, 'dataset.json'), join(staging, 'dataset.json'));
    swapIn(staging, outputFolder);
    return { taskName, outputFolder, images: jobs.length, labels: labels.length };
  } catch (e) {
    rmSync(staging, { recursive: true, force: true });
    throw e;
  }
}

/** One MSD image -> CASE_XXXX.nii.gz per modality; a 3-D .nii.gz is copied byte for byte like v1. */
export async function splitImage(file: string, outDir: string, modalities: number): Promise<void> {
  const caseId = basename(file).replace(NIFTI, '');
  const volume = await readImage(file);
  const parts = split4d(volume);
  if (parts.length !== modalities) {
    throw new NnunetError(
      'ERR_DATASET',
      `${file} holds ${parts.length} modalit${parts.length === 1 ? 'y' : 'ies'} but dataset.json declares ${modalities}: fix "modality" in dataset.json or the image.`,
    );
  }
  if (volume.shape.length === 3 && file.endsWith('.nii.gz')) {
    copyFileAtomic(file, join(outDir, `${caseId}_0000.nii.gz`));
    return;
  }
  for (const [i, part] of parts.entries()) {
    await writeImage(part, join(outDir, `${caseId}_${String(i).padStart(4, '0')}.nii.gz`));
  }
}

/** Replaces `target` by `staging`, keeping the old folder until the new one is in place. */
export function swapIn(staging: string, target: string): void {
  if (!existsSync(target)) {
    renameSync(staging, target);
    return;
  }
  const old = temporaryName(target);
  renameSync(target, old);
  try {
    renameSync(staging, target);
  } catch (e) {
    renameSync(old, target);
    throw e;
  }
  rmSync(old, { recursive: true, force: true });
}
