/**
 * Cropping a raw task (v1's `crop` step of nnUNet_plan_and_preprocess): every training case is
 * read, cropped to its nonzero region and stored in $nnUNet_raw_data_base/nnUNet_cropped_data/TASK
 * as CASE.npy ((C + 1, z, y, x) float32: modalities then segmentation) and CASE.json (its
 * properties with v1's keys). Label files are copied to gt_segmentations/, dataset.json beside.
 */
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { NnunetError } from '../errors.js';
import { caseIdOf, type DatasetJson, readDatasetJson } from '../io/dataset-json.js';
import { readImage, type Volume } from '../io/image.js';
import { resolveNifti } from '../io/nifti-path.js';
import { npyFileProblem, writeNpy } from '../io/npy.js';
import { requireEnvFolder } from '../model/paths.js';
import type { CroppedProperties } from '../model/properties.js';
import { copyFileAtomic, removeStaleTemporaries, writeJsonAtomic } from '../util/atomic.js';
import { runPool } from '../util/worker-pool.js';
import { type CroppedCase, cropCase } from './crop.js';

export interface CaseFiles {
  id: string;
  /** One file per modality, in modality order. */
  images: string[];
  /** The label file, or null for unlabeled (test) cases. */
  seg: string | null;
}

/** Training cases of a raw task in dataset.json order (v1: imagesTr/CASE_XXXX.nii.gz, labelsTr/CASE.nii.gz). */
export function trainingCases(rawTask: string, dataset: DatasetJson): CaseFiles[] {
  return dataset.training.map((t) => {
    const id = caseIdOf(t.image);
    return {
      id,
      images: dataset.modalities.map((_, m) =>
        resolveNifti(join(rawTask, 'imagesTr', `${id}_${String(m).padStart(4, '0')}.nii.gz`)),
      ),
      seg: resolveNifti(join(rawTask, 'labelsTr', `${id}.nii.gz`)),
    };
  });
}

/** Reads and crops one case in memory (training and test cases alike). */
export async function loadAndCropCase(c: CaseFiles): Promise<{ cropped: CroppedCase; properties: CroppedProperties }> {
  const images = [];
  for (const f of c.images) images.push(await readImage(f));
  const first = images[0];
  if (first === undefined)
    throw new NnunetError(
      'ERR_DATASET',
      `Case ${c.id} has no image files: dataset.json must name at least one modality.`,
    );
  for (const [m, v] of images.entries()) {
    if (v.shape.length !== 3) {
      throw new NnunetError(
        'ERR_DATASET',
        `${c.images[m]} is ${v.shape.length}-D: nnU-Net needs one 3-D file per modality (split 4-D files with nnUNet_convert_decathlon_task).`,
      );
    }
    if (v.shape.join() !== first.shape.join()) {
      throw new NnunetError(
        'ERR_DATASET',
        `${c.images[m]} has shape [${v.shape}] but ${c.images[0]} has [${first.shape}]: all modalities of a case must share one voxel grid.`,
      );
    }
  }
  const seg = c.seg === null ? null : await readImage(c.seg);
  if (seg !== null && seg.shape.join() !== first.shape.join()) {
    throw new NnunetError(
      'ERR_DATASET',
      `${c.seg} has shape [${seg.shape}] but ${c.images[0]} has [${first.shape}]: the label must share the image's voxel grid.`,
    );
  }
  return cropVolumes(images, seg, c.images, c.seg);
}

/**
 * Crops volumes already in memory (all modalities of one case on one grid, optionally its
 * label) and records v1's cropped properties; `files` and `segFile` only label the properties.
 */
export function cropVolumes(
  images: readonly Volume[],
  seg: Volume | null,
  files: string[] = [],
  segFile: string | null = null,
): { cropped: CroppedCase; properties: CroppedProperties } {
  const first = images[0];
  if (first === undefined) throw new NnunetError('ERR_ARGUMENT', 'cropVolumes needs at least one image.');
  const cropped = cropCase(images, seg);
  const g = first.geometry;
  const props: CroppedProperties = {
    original_size_of_raw_data: [...first.shape],
    original_spacing: [...g.spacing].reverse(),
    list_of_data_files: files,
    seg_file: segFile,
    itk_origin: g.origin,
    itk_spacing: g.spacing,
    itk_direction: g.direction,
    crop_bbox: cropped.bbox,
    classes: cropped.classes,
    size_after_cropping: cropped.shape.slice(1),
  };
  return { cropped, properties: props };
}

/** Reads, crops and stores one case; returns its properties. */
export async function cropCaseFiles(c: CaseFiles, outFolder: string): Promise<CroppedProperties> {
  const { cropped, properties } = await loadAndCropCase(c);
  writeNpy(join(outFolder, `${c.id}.npy`), cropped.data, cropped.shape);
  writeJsonAtomic(join(outFolder, `${c.id}.json`), properties);
  return properties;
}

export interface CropOptions {
  env?: Readonly<Record<string, string | undefined>>;
  /** Recrop cases that already have output (v1's override). */
  overwrite?: boolean;
  /** Worker threads (v1's -tl). */
  workers?: number;
  onProgress?: (done: number, total: number) => void;
}

/** Crops every training case of `taskName`; returns the cropped-data folder. */
export async function cropTask(taskName: string, options: CropOptions = {}): Promise<string> {
  const env = options.env ?? process.env;
  const base = requireEnvFolder('nnUNet_raw_data_base', env);
  const rawTask = join(base, 'nnUNet_raw_data', taskName);
  const out = join(base, 'nnUNet_cropped_data', taskName);
  const dataset = readDatasetJson(join(rawTask, 'dataset.json'));
  const cases = trainingCases(rawTask, dataset);
  if (options.overwrite) rmSync(out, { recursive: true, force: true });
  removeStaleTemporaries(out, { recursive: true });
  mkdirSync(join(out, 'gt_segmentations'), { recursive: true });
  for (const c of cases)
    if (c.seg !== null)
      copyFileAtomic(c.seg, join(out, 'gt_segmentations', `${c.id}${c.seg.endsWith('.nii') ? '.nii' : '.nii.gz'}`));
  // A case is done only when both its outputs load: files an interrupted run left damaged are redone.
  const todo = cases.filter((c) => options.overwrite || !croppedCaseIsComplete(out, c.id));
  await runPool<{ c: CaseFiles; out: string }, CroppedProperties>(
    new URL('./crop-worker.js', import.meta.url),
    todo.map((c) => ({ c, out })),
    {
      ...(options.workers !== undefined ? { workers: options.workers } : {}),
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    },
  );
  copyFileAtomic(join(rawTask, 'dataset.json'), join(out, 'dataset.json'));
  return out;
}

/** True when CASE.npy of `folder` has the size its header implies and CASE.json parses. */
export function croppedCaseIsComplete(folder: string, id: string): boolean {
  if (npyFileProblem(join(folder, `${id}.npy`)) !== null) return false;
  try {
    JSON.parse(readFileSync(join(folder, `${id}.json`), 'utf8'));
    return true;
  } catch {
    return false;
  }
}
