/**
 * nnUNet_predict as library functions: find the cases of an input folder (CASE_XXXX.nii.gz per
 * modality), preprocess each on the fly exactly as the training data were preprocessed, predict
 * with every selected fold (sliding window, Gaussian weighting, test-time mirroring), average the
 * folds' probabilities and export the segmentation (and optionally the softmax) with the input's
 * geometry. `predictCase` works on in-memory arrays for library users.
 */
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Tensor } from '@nnunet/torch';
import { NnunetError } from '../errors.js';
import { type CroppedProperties, cropVolumes, loadAndCropCase, writeJsonAtomic } from '../fingerprint/crop-task.js';
import type { Volume } from '../io/image.js';
import type { GenericUNet } from '../network/generic-unet.js';
import type { Plans } from '../planning/plans.js';
import { preprocessArrays, settingsFromPlans } from '../preprocessing/preprocess.js';
import { type ExportResult, softmaxToSegmentation, writeSegmentation, writeSoftmaxNpz } from './export.js';
import { availableFolds, type CheckpointMeta, loadNetwork, readModelPlans } from './model-folder.js';
import { averageSoftmax, predictSlidingWindow2D, predictSlidingWindow3D } from './sliding-window.js';

export interface InputCase {
  id: string;
  /** One file per modality, in modality order. */
  files: string[];
}

const MODALITY_FILE = /^(.+)_(\d{4})\.nii(\.gz)?$/;

/**
 * Groups an input folder's files into cases (v1 naming: CASE_0000.nii.gz, CASE_0001.nii.gz, ...)
 * and checks that every case has exactly the `numModalities` files the model expects.
 */
export function findInputCases(folder: string, numModalities: number): InputCase[] {
  if (!existsSync(folder)) throw new NnunetError('ERR_NOT_FOUND', `Input folder ${folder} does not exist.`);
  const byCase = new Map<string, Map<number, string>>();
  const misnamed: string[] = [];
  for (const f of readdirSync(folder).sort()) {
    if (f.startsWith('.')) continue;
    if (!/\.nii(\.gz)?$/.test(f)) continue;
    const m = MODALITY_FILE.exec(f);
    if (m === null) {
      misnamed.push(f);
      continue;
    }
    const id = m[1] as string;
    if (!byCase.has(id)) byCase.set(id, new Map());
    (byCase.get(id) as Map<number, string>).set(Number(m[2]), join(folder, f));
  }
  if (misnamed.length > 0) {
    throw new NnunetError(
      'ERR_DATASET',
      `${folder}: ${misnamed.slice(0, 3).join(', ')}${misnamed.length > 3 ? ', ...' : ''} do not follow the naming CASE_XXXX.nii.gz (XXXX = modality index, e.g. patient1_0000.nii.gz); rename them.`,
    );
  }
  if (byCase.size === 0)
    throw new NnunetError('ERR_NOT_FOUND', `${folder} holds no CASE_XXXX.nii.gz images to predict.`);
  const problems: string[] = [];
  const cases: InputCase[] = [];
  for (const [id, mods] of byCase) {
    const files: string[] = [];
    for (let i = 0; i < numModalities; i++) {
      const f = mods.get(i);
      if (f === undefined) problems.push(`${id} lacks ${id}_${String(i).padStart(4, '0')}.nii.gz`);
      else files.push(f);
    }
    const extra = [...mods.keys()].filter((k) => k >= numModalities);
    if (extra.length > 0)
      problems.push(
        `${id} has modality ${extra.map((k) => String(k).padStart(4, '0')).join(', ')} but the model takes ${numModalities}`,
      );
    cases.push({ id, files });
  }
  if (problems.length > 0) {
    throw new NnunetError(
      'ERR_DATASET',
      `${folder}: ${problems.slice(0, 5).join('; ')}${problems.length > 5 ? '; ...' : ''}. The model expects ${numModalities} file(s) per case.`,
    );
  }
  return cases;
}

/** The models of one configuration: the plans and one network per fold. */
export interface LoadedModel {
  plans: Plans;
  stage: string;
  nets: GenericUNet[];
  metas: CheckpointMeta[];
}

/** Loads the selected folds (default: all present) of a trainer folder. */
export function loadModel(
  trainerFolder: string,
  o: { folds?: readonly string[]; checkpoint?: string; device?: 'cpu' | 'cuda' } = {},
): LoadedModel {
  const checkpoint = o.checkpoint ?? 'model_final_checkpoint';
  const plans = readModelPlans(trainerFolder);
  const folds = o.folds && o.folds.length > 0 ? [...o.folds] : availableFolds(trainerFolder, checkpoint);
  if (folds.length === 0) {
    throw new NnunetError(
      'ERR_NOT_FOUND',
      `${trainerFolder} has no fold_N/${checkpoint}.safetensors: train the model first or pick the checkpoint with -chk.`,
    );
  }
  const nets: GenericUNet[] = [];
  const metas: CheckpointMeta[] = [];
  for (const f of folds) {
    const { net, meta } = loadNetwork(trainerFolder, f, checkpoint);
    if (o.device === 'cuda') net.to('cuda');
    nets.push(net);
    metas.push(meta);
  }
  return { plans, stage: (metas[0] as CheckpointMeta).stage, nets, metas };
}

export interface PredictCaseOptions {
  stepSize?: number;
  /** false disables test-time mirroring (v1's --disable_tta). */
  mirror?: boolean;
  mixedPrecision?: boolean;
  device?: 'cpu' | 'cuda';
  /** Keep the probabilities on the original grid (for --save_npz). */
  keepSoftmax?: boolean;
  onProgress?: (done: number, total: number) => void;
}

/**
 * Predicts one case given as cropped arrays from loadAndCropCase ((C + 1, z, y, x), last channel
 * the nonzero mask as 0 / -1). Returns the label map on the original grid.
 */
export function predictCroppedCase(
  all: Float32Array,
  allShape: readonly number[],
  props: CroppedProperties,
  model: LoadedModel,
  o: PredictCaseOptions = {},
): ExportResult {
  const { plans, stage } = model;
  const stagePlan = plans.plans_per_stage[stage];
  if (stagePlan === undefined) throw new NnunetError('ERR_DATASET', `The plans have no stage ${stage}.`);
  const pre = preprocessArrays(all, allShape, props, settingsFromPlans(plans, stagePlan.current_spacing));
  const C = (pre.shape[0] as number) - 1;
  const spatial = pre.shape.slice(1);
  const data = pre.data.subarray(0, C * spatial.reduce((a, b) => a * b, 1));
  const numClasses = plans.num_classes + 1;
  const is2d = stagePlan.patch_size.length === 2;
  const perFold: Float32Array[] = [];
  model.nets.forEach((net, i) => {
    const meta = model.metas[i] as CheckpointMeta;
    const network = (x: Tensor) => net.forwardLogits(x);
    const common = {
      patchSize: stagePlan.patch_size,
      numClasses,
      stepSize: o.stepSize ?? 0.5,
      mirrorAxes: o.mirror === false ? [] : meta.mirror_axes,
      useGaussian: true,
      device: o.device ?? 'cpu',
      mixedPrecision: o.mixedPrecision ?? false,
      ...(o.onProgress ? { onProgress: o.onProgress } : {}),
    };
    const r = is2d
      ? predictSlidingWindow2D(network, data, [C, ...spatial], common)
      : predictSlidingWindow3D(network, data, [C, ...spatial], common);
    perFold.push(r.softmax);
  });
  const softmax = perFold.length === 1 ? (perFold[0] as Float32Array) : averageSoftmax(perFold);
  return softmaxToSegmentation(softmax, [numClasses, ...spatial], pre.properties, {
    transposeBackward: plans.transpose_backward,
    keepSoftmax: o.keepSoftmax ?? false,
  });
}

/**
 * Predicts one case from images in memory (all modalities on one grid, in the model's modality
 * order): crops, preprocesses, predicts and returns the label map on the images' own grid, in
 * (z, y, x) order, ready to be written with the first image's geometry.
 */
export function predictVolumes(
  images: readonly Volume[],
  model: LoadedModel,
  o: PredictCaseOptions = {},
): ExportResult {
  const expected = Object.keys(model.plans.modalities).length;
  if (images.length !== expected) {
    throw new NnunetError(
      'ERR_ARGUMENT',
      `The model takes ${expected} modalit${expected === 1 ? 'y' : 'ies'} per case, got ${images.length} image(s).`,
    );
  }
  const { cropped, properties } = cropVolumes(images, null);
  return predictCroppedCase(cropped.data, cropped.shape, properties, model, o);
}

export interface PredictFolderOptions extends PredictCaseOptions {
  folds?: readonly string[];
  checkpoint?: string;
  saveNpz?: boolean;
  overwriteExisting?: boolean;
  /** Predict only every numParts-th case starting at partId (v1's --part_id / --num_parts). */
  partId?: number;
  numParts?: number;
  onCase?: (id: string, index: number, total: number, skipped: boolean) => void;
}

/** Predicts every case of `inputFolder` into `outputFolder` with the model in `trainerFolder`. */
export async function predictFolder(
  inputFolder: string,
  outputFolder: string,
  trainerFolder: string,
  o: PredictFolderOptions = {},
): Promise<string[]> {
  const model = loadModel(trainerFolder, {
    ...(o.folds ? { folds: o.folds } : {}),
    ...(o.checkpoint ? { checkpoint: o.checkpoint } : {}),
    ...(o.device ? { device: o.device } : {}),
  });
  const modalities = Object.keys(model.plans.modalities).length;
  const parts = o.numParts ?? 1;
  const all = findInputCases(inputFolder, modalities).filter((_, i) => i % parts === (o.partId ?? 0));
  mkdirSync(outputFolder, { recursive: true });
  // v1 leaves the plans beside the predictions (ensembling reads them).
  writeJsonAtomic(join(outputFolder, 'plans.json'), model.plans);
  const written: string[] = [];
  try {
    for (const [i, c] of all.entries()) {
      const out = join(outputFolder, `${c.id}.nii.gz`);
      const npz = join(outputFolder, `${c.id}.npz`);
      const done = existsSync(out) && (!o.saveNpz || existsSync(npz));
      if (done && !o.overwriteExisting) {
        o.onCase?.(c.id, i, all.length, true);
        continue;
      }
      o.onCase?.(c.id, i, all.length, false);
      const { cropped, properties } = await loadAndCropCase({ id: c.id, images: c.files, seg: null });
      const r = predictCroppedCase(cropped.data, cropped.shape, properties, model, {
        ...o,
        keepSoftmax: o.saveNpz === true,
      });
      await writeSegmentation(r.segmentation, r.shape, properties, out);
      if (o.saveNpz && r.softmax && r.softmaxShape) {
        writeSoftmaxNpz(npz, r.softmax, r.softmaxShape);
        writeJsonAtomic(join(outputFolder, `${c.id}.json`), properties);
      }
      written.push(out);
    }
  } finally {
    for (const n of model.nets) n.dispose();
  }
  return written;
}
