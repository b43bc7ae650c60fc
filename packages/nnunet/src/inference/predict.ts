/**
 * nnUNet_predict as library functions: find the cases of an input folder (CASE_XXXX.nii.gz per
 * modality), preprocess each on the fly exactly as the training data were preprocessed, predict
 * with every selected fold (sliding window, Gaussian weighting, test-time mirroring), average the
 * folds' probabilities and export the segmentation (and optionally the softmax) with the input's
 * geometry. `predictCase` works on in-memory arrays for library users.
 *
 * The cascade (3d_cascade_fullres, v1's predict_simple with -l or without it): each case's 3d_lowres
 * segmentation (on the input grid) is cropped like the images, resampled to the preprocessed grid
 * (per-label linear, v1's resize_segmentation order 1) and appended as one-hot channels.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Tensor } from '@nnunet/torch';
import { NnunetError, type NnunetErrorCode } from '../errors.js';
import { cropVolumes } from '../fingerprint/crop-task.js';
import { readImage, type Volume, writeImage } from '../io/image.js';
import { availableFolds, type CheckpointMeta } from '../model/layout.js';
import type { Plans } from '../model/plans.js';
import type { CroppedProperties } from '../model/properties.js';
import type { GenericUNet } from '../network/generic-unet.js';
import {
  applyPostprocessing,
  type Postprocessing,
  readPostprocessingJson,
} from '../postprocessing/connected-components.js';
import { preprocessArrays, settingsFromPlans, transposeSpatial } from '../preprocessing/preprocess.js';
import { resizeSegmentation } from '../preprocessing/resize.js';
import { writeFileAtomic, writeJsonAtomic } from '../util/atomic.js';
import { sha256File } from '../util/hash.js';
import { product } from '../util/shape.js';
import { appendOneHot, cascadeLabels } from './cascade-input.js';
import { type ExportResult, softmaxToSegmentation, writeSegmentation, writeSoftmaxNpz } from './export.js';
import { checkCaseImages } from './input-check.js';
import { loadNetwork, readModelPlans } from './model-folder.js';
import {
  type AppliedPostprocessing,
  checkRecordedCase,
  createOutputFolder,
  LEDGER_FILE,
  ledgerEntry,
  readLedger,
  recordCase,
} from './output-folder.js';
import { averageSoftmax, predictSlidingWindow2D, predictSlidingWindow3D, windowBatch } from './sliding-window.js';

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
  /** A cascade (3d_cascade_fullres) model: the foreground labels of its extra one-hot input channels. */
  cascadeLabels?: number[];
}

/** Whether a checkpoint belongs to the second stage of the cascade (its network takes the lowres labels). */
function isCascadeMeta(meta: CheckpointMeta): boolean {
  return meta.configuration === '3d_cascade_fullres';
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
      `${trainerFolder} has no fold_N/${checkpoint}.safetensors (nor v1's fold_N/${checkpoint}.model): train the model first or pick the checkpoint with -chk.`,
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
  const cascades = metas.filter(isCascadeMeta).length;
  if (cascades !== 0 && cascades !== metas.length) {
    for (const n of nets) n.dispose();
    throw new NnunetError(
      'ERR_DATASET',
      `${trainerFolder} mixes cascade and non-cascade checkpoints in folds ${folds.join(', ')}: pick the folds with -f.`,
    );
  }
  const model: LoadedModel = { plans, stage: (metas[0] as CheckpointMeta).stage, nets, metas };
  if (cascades > 0) {
    const labels = (metas[0] as CheckpointMeta).cascade_labels;
    model.cascadeLabels = Array.isArray(labels) ? (labels as number[]) : cascadeLabels(plans);
  }
  return model;
}

export interface PredictCaseOptions {
  stepSize?: number;
  /** false disables test-time mirroring (v1's --disable_tta). */
  mirror?: boolean;
  mixedPrecision?: boolean;
  /**
   * The network's arithmetic on the CPU: 'float32' (default; v1's probabilities bit for bit) or
   * 'bfloat16' (autocast; several windows per forward pass unless windowsPerForward says otherwise).
   */
  cpuPrecision?: 'float32' | 'bfloat16';
  /** Network inputs (window x mirror) per forward pass; default 1 in float32, windowBatch(patch) in bf16. */
  windowsPerForward?: number;
  device?: 'cpu' | 'cuda';
  /** Keep the probabilities on the original grid (for --save_npz). */
  keepSoftmax?: boolean;
  /**
   * Cascade models: the case's 3d_lowres segmentation on the input images' own (uncropped) grid,
   * (z, y, x) C order.
   */
  lowresSegmentation?: { data: ArrayLike<number>; shape: readonly number[] };
  /**
   * Replace NaN and infinite input voxels by this value before cropping (the CLI's --nan_value).
   * Without it such voxels are refused with an error naming the image.
   */
  nanValue?: number;
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
  let C = (pre.shape[0] as number) - 1;
  const spatial = pre.shape.slice(1);
  let data = pre.data.subarray(0, C * product(spatial));
  if (model.cascadeLabels !== undefined) {
    if (o.lowresSegmentation === undefined)
      throw new NnunetError(
        'ERR_ARGUMENT',
        'A 3d_cascade_fullres model needs the 3d_lowres segmentation of each case: give a folder of them with -l, or leave -l out to predict them with the 3d_lowres model first.',
      );
    const prev = lowresOnPreprocessedGrid(o.lowresSegmentation, props, plans.transpose_forward, spatial);
    const withPrev = appendOneHot(data, [C, ...spatial], prev, model.cascadeLabels);
    data = withPrev.data;
    C = withPrev.shape[0] as number;
  }
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
      cpuPrecision: o.cpuPrecision ?? 'float32',
      windowsPerForward: o.windowsPerForward ?? (o.cpuPrecision === 'bfloat16' ? windowBatch(stagePlan.patch_size) : 1),
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
 * The lowres segmentation (input grid) on the preprocessed grid: cropped to the images' nonzero
 * box, transposed like the data and resized per label with order 1 (v1's resize_segmentation).
 * v1 resizes the uncropped map to the cropped data's shape, which is the same whenever cropping
 * removes nothing; cropping first keeps the map aligned with the images in the other cases too.
 */
function lowresOnPreprocessedGrid(
  seg: { data: ArrayLike<number>; shape: readonly number[] },
  props: CroppedProperties,
  transposeForward: readonly number[],
  target: readonly number[],
): Float32Array {
  const full = props.original_size_of_raw_data;
  if (seg.shape.length !== 3 || seg.shape.some((s, d) => s !== full[d]))
    throw new NnunetError(
      'ERR_DATASET',
      `The 3d_lowres segmentation has shape (${seg.shape.join(', ')}) but the case's images are (${full.join(', ')}): it must be the lowres prediction of this very case.`,
    );
  const box = props.crop_bbox ?? full.map((s) => [0, s] as [number, number]);
  const [[z0, z1], [y0, y1], [x0, x1]] = box as [[number, number], [number, number], [number, number]];
  const [, Y, X] = full as [number, number, number];
  const cropped = new Float32Array((z1 - z0) * (y1 - y0) * (x1 - x0));
  let k = 0;
  for (let z = z0; z < z1; z++)
    for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) cropped[k++] = seg.data[(z * Y + y) * X + x] as number;
  const t = transposeSpatial(cropped, [1, z1 - z0, y1 - y0, x1 - x0], transposeForward);
  const out = new Float32Array(product(target));
  resizeSegmentation(t.data, t.shape.slice(1), target, 1, out);
  return out;
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
  const names = images.map((_, i) => `Image ${i} of the case`);
  const checked = checkCaseImages(images, names, o.nanValue !== undefined ? { nanValue: o.nanValue } : {});
  const { cropped, properties } = cropVolumes(checked, null);
  return predictCroppedCase(cropped.data, cropped.shape, properties, model, o);
}

export interface PredictFolderOptions extends PredictCaseOptions {
  folds?: readonly string[];
  checkpoint?: string;
  saveNpz?: boolean;
  /** Predict every case again, even those the ledger records as finished. */
  overwriteExisting?: boolean;
  /** Predict only every numParts-th case starting at partId (v1's --part_id / --num_parts). */
  partId?: number;
  numParts?: number;
  /** Called before each case with what is done to it; `why` says why an existing output is not kept. */
  onCase?: (id: string, index: number, total: number, action: CaseAction, why?: string) => void;
  /** Cascade models: the folder of the 3d_lowres segmentations, CASE.nii.gz (v1's -l). */
  lowresSegmentations?: string;
  /** Cases not to predict (e.g. those whose 3d_lowres pass failed); they are neither read nor reported. */
  excludeCases?: ReadonlySet<string>;
  /**
   * Apply the model's postprocessing.json (trainer folder root, written by
   * nnUNet_determine_postprocessing / nnUNet_find_best_configuration) to the outputs, as v1 does.
   * Default true; without the file a warning goes to `log`.
   */
  postprocessing?: boolean;
  log?: (line: string) => void;
}

/**
 * What happens to a case: predicted; kept (finished with the same postprocessing); or
 * postprocessed (its recorded raw output gets the postprocessing now wanted).
 */
export type CaseAction = 'predict' | 'keep' | 'postprocess';

/** A case that could not be predicted because its input could not be used; the run went on without it. */
export interface CaseFailure {
  id: string;
  /** One sentence naming the file and the problem. */
  message: string;
}

export interface PredictFolderResult {
  /** Segmentations written by this run (predicted, or postprocessed from a recorded raw output). */
  written: string[];
  /** Cases whose finished outputs were kept. */
  kept: string[];
  /** Cases whose input could not be read or used; the others were predicted. */
  failed: CaseFailure[];
}

/** An image's voxels as numbers (64-bit integer label maps included). */
function labelValues(v: Volume): ArrayLike<number> {
  const d = v.data;
  return d instanceof BigInt64Array || d instanceof BigUint64Array ? Array.from(d, Number) : d;
}

/** The model's postprocessing.json as read for this run, with what identifies it in the ledger. */
interface RunPostprocessing {
  pp: Postprocessing;
  applied: AppliedPostprocessing;
}

/**
 * Predicts every case of `inputFolder` into `outputFolder` with the model in `trainerFolder`.
 *
 * Each case's segmentation is postprocessed in memory and written once, then recorded in the
 * folder's prediction_ledger.json (output-folder.ts). A rerun keeps the cases recorded with the
 * same postprocessing whose files still match, applies the postprocessing to recorded raw
 * outputs, and predicts all other cases again (an output the ledger does not vouch for may be
 * raw, partial or from another run). A case whose input cannot be used (damaged file, NaN
 * voxels, mismatched grids) is reported in `failed` and the others are predicted.
 */
export async function predictFolder(
  inputFolder: string,
  outputFolder: string,
  trainerFolder: string,
  o: PredictFolderOptions = {},
): Promise<PredictFolderResult> {
  const model = loadModel(trainerFolder, {
    ...(o.folds ? { folds: o.folds } : {}),
    ...(o.checkpoint ? { checkpoint: o.checkpoint } : {}),
    ...(o.device ? { device: o.device } : {}),
  });
  try {
    return await predictFolderWith(model, inputFolder, outputFolder, trainerFolder, o);
  } finally {
    for (const n of model.nets) n.dispose();
  }
}

async function predictFolderWith(
  model: LoadedModel,
  inputFolder: string,
  outputFolder: string,
  trainerFolder: string,
  o: PredictFolderOptions,
): Promise<PredictFolderResult> {
  const modalities = Object.keys(model.plans.modalities).length;
  const parts = o.numParts ?? 1;
  const all = findInputCases(inputFolder, modalities)
    .filter((_, i) => i % parts === (o.partId ?? 0))
    .filter((c) => !o.excludeCases?.has(c.id));
  if (model.cascadeLabels !== undefined) {
    const folder = o.lowresSegmentations;
    if (folder === undefined) {
      throw new NnunetError(
        'ERR_ARGUMENT',
        `${trainerFolder} is a 3d_cascade_fullres model: it needs the 3d_lowres segmentations of the cases (-l FOLDER with CASE.nii.gz files).`,
      );
    }
    const missing = all.filter((c) => !existsSync(join(folder, `${c.id}.nii.gz`))).map((c) => `${c.id}.nii.gz`);
    if (missing.length > 0) {
      throw new NnunetError(
        'ERR_NOT_FOUND',
        `${folder} lacks the 3d_lowres segmentations ${missing.slice(0, 3).join(', ')}${missing.length > 3 ? ', ...' : ''}: -l must hold CASE.nii.gz for every case (or leave -l out to predict them with the 3d_lowres model).`,
      );
    }
  }
  createOutputFolder(outputFolder);
  // v1 leaves the plans beside the predictions (ensembling reads them).
  writeJsonAtomic(join(outputFolder, 'plans.json'), model.plans);
  const post = o.postprocessing === false ? null : modelPostprocessing(trainerFolder, outputFolder, o.log);
  const ledger = readLedger(outputFolder, o.log);
  const result: PredictFolderResult = { written: [], kept: [], failed: [] };
  for (const [i, c] of all.entries()) {
    const segFile = `${c.id}.nii.gz`;
    const out = join(outputFolder, segFile);
    const entry = o.overwriteExisting ? undefined : ledger.get(c.id);
    let why: string | undefined;
    if (entry !== undefined) {
      const check = await checkRecordedCase(outputFolder, entry, segFile);
      if ('problem' in check) {
        why = check.problem;
      } else if (o.saveNpz && !(`${c.id}.npz` in entry.files)) {
        why = 'it was written without its softmax (.npz)';
      } else if (samePostprocessing(entry.postprocessing, post?.applied ?? null)) {
        o.onCase?.(c.id, i, all.length, 'keep');
        result.kept.push(c.id);
        continue;
      } else if (entry.postprocessing === null && post !== null) {
        // A raw output: postprocess it now, exactly once (the new entry replaces the raw one).
        o.onCase?.(c.id, i, all.length, 'postprocess');
        const v = check.segmentation;
        if (v.data instanceof BigInt64Array || v.data instanceof BigUint64Array)
          throw new Error(
            `${out} matches its ledger checksum but holds 64-bit labels, which predictFolder never writes`,
          );
        const seg = applyPostprocessing(v.data, v.shape, [...v.geometry.spacing].reverse(), post.pp).seg;
        await writeImage({ ...v, data: seg }, out);
        recordCase(
          outputFolder,
          c.id,
          ledgerEntry(outputFolder, Object.keys(entry.files), v.shape, post.applied, entry.nan_value),
        );
        result.written.push(out);
        continue;
      } else {
        why = `it was written ${entry.postprocessing === null ? 'without postprocessing' : `with the postprocessing of ${entry.postprocessing.file} as it was then`}`;
      }
    } else if (!o.overwriteExisting && existsSync(out)) {
      why = `${LEDGER_FILE} does not record it as finished (written by an interrupted or older run)`;
    }
    o.onCase?.(c.id, i, all.length, 'predict', why);
    const input = await readCaseInput(c, model, o);
    if ('failure' in input) {
      result.failed.push({ id: c.id, message: input.failure });
      o.log?.(`${c.id}: not predicted: ${input.failure}`);
      continue;
    }
    const { cropped, properties, lowres } = input;
    const r = predictCroppedCase(cropped.data, cropped.shape, properties, model, {
      ...o,
      keepSoftmax: o.saveNpz === true,
      ...(lowres !== null ? { lowresSegmentation: { data: labelValues(lowres), shape: lowres.shape } } : {}),
    });
    const spacing = [...properties.itk_spacing].reverse();
    const seg = post === null ? r.segmentation : applyPostprocessing(r.segmentation, r.shape, spacing, post.pp).seg;
    const files: string[] = [];
    if (o.saveNpz && r.softmax && r.softmaxShape) {
      writeSoftmaxNpz(join(outputFolder, `${c.id}.npz`), r.softmax, r.softmaxShape);
      writeJsonAtomic(join(outputFolder, `${c.id}.json`), properties);
      files.push(`${c.id}.npz`, `${c.id}.json`);
    }
    await writeSegmentation(seg, r.shape, properties, out);
    files.push(segFile);
    recordCase(
      outputFolder,
      c.id,
      ledgerEntry(outputFolder, files, r.shape, post?.applied ?? null, o.nanValue ?? null),
    );
    result.written.push(out);
  }
  return result;
}

function samePostprocessing(a: AppliedPostprocessing | null, b: AppliedPostprocessing | null): boolean {
  return a === null || b === null ? a === b : a.sha256 === b.sha256;
}

/**
 * Reads one case's images (and its 3d_lowres segmentation for a cascade), checks them and crops
 * them. A problem with the case's files is returned as a one-sentence failure, so the other
 * cases can go on; anything else is thrown.
 */
async function readCaseInput(
  c: InputCase,
  model: LoadedModel,
  o: PredictFolderOptions,
): Promise<
  | { cropped: { data: Float32Array; shape: number[] }; properties: CroppedProperties; lowres: Volume | null }
  | { failure: string }
> {
  try {
    const images: Volume[] = [];
    for (const f of c.files) images.push(await readImage(f));
    const checked = checkCaseImages(images, c.files, o.nanValue !== undefined ? { nanValue: o.nanValue } : {});
    const { cropped, properties } = cropVolumes(checked, null, c.files);
    const lowres =
      model.cascadeLabels !== undefined && o.lowresSegmentations !== undefined
        ? await readImage(join(o.lowresSegmentations, `${c.id}.nii.gz`))
        : null;
    return { cropped, properties, lowres };
  } catch (e) {
    if (e instanceof NnunetError && CASE_INPUT_ERRORS.has(e.code)) return { failure: e.message };
    throw e;
  }
}

/** Error codes that mean "this case's files cannot be used" rather than "the run cannot go on". */
const CASE_INPUT_ERRORS: ReadonlySet<NnunetErrorCode> = new Set(['ERR_IMAGE_READ', 'ERR_NOT_FOUND', 'ERR_DATASET']);

/**
 * v1's last prediction step, set up once per run: the model's postprocessing.json (keep only the
 * largest components of the classes it names), copied beside the predictions. Null, with a
 * warning to `log`, when the model has none.
 */
function modelPostprocessing(
  trainerFolder: string,
  outputFolder: string,
  log?: (line: string) => void,
): RunPostprocessing | null {
  const ppFile = join(trainerFolder, 'postprocessing.json');
  if (!existsSync(ppFile)) {
    log?.(
      `warning: no postprocessing applied: ${ppFile} does not exist (run nnUNet_determine_postprocessing or nnUNet_find_best_configuration for this model to create it).`,
    );
    return null;
  }
  const pp = readPostprocessingJson(ppFile);
  writeFileAtomic(join(outputFolder, 'postprocessing.json'), readFileSync(ppFile));
  if (pp.for_which_classes.length > 0) log?.(`postprocessing with ${ppFile}`);
  return { pp, applied: { file: ppFile, sha256: sha256File(ppFile) } };
}
