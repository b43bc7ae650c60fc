/**
 * nnU-Net v1's cascade between its two 3-D stages:
 *
 *  - after a 3d_lowres fold is trained (and after `-val`), its network predicts the fold's
 *    validation cases (v1's predict_next_stage): sliding window with the trainer's mirroring, the
 *    softmax resampled (order 1, no separate z, as v1 calls resample_data_or_seg there) to the
 *    shape of the full-resolution stage's preprocessed case, argmax, saved as uint8 in
 *    pred_next_stage/CASE_segFromPrevStage.npz. All five folds together cover every case, each
 *    predicted by the fold that did not train on it.
 *  - 3d_cascade_fullres (nnUNetTrainerV2CascadeFullRes) reads these maps: as a second segmentation
 *    channel of each training patch, and as one-hot input channels (one per foreground label) in
 *    validation and prediction, so its network takes modalities + foreground labels channels.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Tensor } from '@nnunet/torch';
import { NnunetError } from '../errors.js';
import { appendOneHot } from '../inference/cascade-input.js';
import { predictSlidingWindow3D } from '../inference/sliding-window.js';
import { readNpy, readNpyHeader } from '../io/npy.js';
import type { Split } from '../model/configuration.js';
import { trainerFolderPath } from '../model/layout.js';
import type { Plans } from '../model/plans.js';
import type { GenericUNet } from '../network/generic-unet.js';
import { resampleDataOrSeg } from '../preprocessing/resample.js';
import { product } from '../util/shape.js';
import {
  PRED_NEXT_STAGE_FOLDER,
  readSegFromPrevStage,
  segFromPrevStagePath,
  writeSegFromPrevStage,
} from './prev-stage.js';

export { PRED_NEXT_STAGE_FOLDER, segFromPrevStagePath } from './prev-stage.js';

/** The 3d_lowres pred_next_stage folder a cascade trainer reads (v1: same task and plans identifier). */
export function prevStageFolder(
  resultsFolder: string,
  task: string,
  previousTrainer: string,
  plansIdentifier?: string,
): string {
  return join(
    trainerFolderPath(resultsFolder, '3d_lowres', task, previousTrainer, plansIdentifier),
    PRED_NEXT_STAGE_FOLDER,
  );
}

/**
 * Throws a clear error unless `folder` holds CASE_segFromPrevStage.npz for every case, naming the
 * 3d_lowres folds (from the splits) whose training or `-val` run would write the missing ones.
 */
export function requirePrevStageSegmentations(
  folder: string,
  caseIds: readonly string[],
  o: { task: string; previousTrainer: string; splits?: readonly Split[] },
): void {
  const missing = caseIds.filter((id) => !existsSync(segFromPrevStagePath(folder, id)));
  if (missing.length === 0) return;
  const folds = new Set<string>();
  for (const id of missing) {
    const f = o.splits?.findIndex((s) => s.val.includes(id)) ?? -1;
    folds.add(f >= 0 ? String(f) : 'all');
  }
  const foldList = [...folds].sort();
  const what = existsSync(folder)
    ? `${folder} lacks the 3d_lowres segmentations of ${missing.length} of ${caseIds.length} cases (e.g. ${missing
        .slice(0, 3)
        .map((id) => `${id}_segFromPrevStage.npz`)
        .join(', ')})`
    : `${folder} does not exist`;
  throw new NnunetError(
    'ERR_NOT_FOUND',
    `${what}: the cascade needs the predictions of the 3d_lowres stage for every case. Train 3d_lowres fold(s) ${foldList.join(', ')} first (nnUNet_train 3d_lowres ${o.previousTrainer} ${o.task} FOLD), or, if they are trained, write only the predictions with nnUNet_train 3d_lowres ${o.previousTrainer} ${o.task} FOLD -val.`,
  );
}

/**
 * The label map of a softmax [K, ...shape] resampled to `targetShape` (order `order`, every axis
 * at once) and argmax'ed (first maximal class on ties, as numpy), one class at a time.
 */
export function softmaxToLabelsOnGrid(
  softmax: Float32Array,
  shape: readonly number[],
  targetShape: readonly number[],
  order = 1,
): Uint8Array {
  const [K, ...spatial] = shape as [number, ...number[]];
  const n = product(spatial);
  const m = product(targetShape);
  if (softmax.length !== K * n)
    throw new NnunetError('ERR_ARGUMENT', `softmax has ${softmax.length} values for shape [${shape.join(', ')}].`);
  const best = new Float32Array(m).fill(Number.NEGATIVE_INFINITY);
  const labels = new Uint8Array(m);
  for (let k = 0; k < K; k++) {
    const channel = softmax.subarray(k * n, (k + 1) * n);
    const r = resampleDataOrSeg(channel, [1, ...spatial], targetShape, {
      isSeg: false,
      order,
      orderZ: 0,
      separateZAxis: null,
    });
    for (let i = 0; i < m; i++) {
      const v = r[i] as number;
      if (v > (best[i] as number)) {
        best[i] = v;
        labels[i] = k;
      }
    }
  }
  return labels;
}

export interface PredictNextStageOptions {
  /** The 3d_lowres stage's preprocessed folder (nnUNetData_plans_v2.1_stage0). */
  lowresFolder: string;
  /** The full-resolution stage's preprocessed folder (its case shapes are the target grid). */
  nextStageFolder: string;
  /** pred_next_stage of the lowres trainer folder. */
  outputFolder: string;
  caseIds: readonly string[];
  mirrorAxes: readonly number[];
  stepSize?: number;
  device?: 'cpu' | 'cuda';
  onCase?: (id: string, done: number, total: number) => void;
}

/**
 * v1's predict_next_stage: every case of `caseIds` predicted by the 3d_lowres network and saved
 * on the next stage's grid as OUTPUT/CASE_segFromPrevStage.npz. Returns the files written.
 */
export function predictNextStage(
  net: GenericUNet,
  plans: Plans,
  lowresStage: string,
  o: PredictNextStageOptions,
): string[] {
  const stagePlan = plans.plans_per_stage[lowresStage];
  if (stagePlan === undefined) throw new NnunetError('ERR_DATASET', `The plans have no stage ${lowresStage}.`);
  if (stagePlan.patch_size.length !== 3)
    throw new NnunetError('ERR_ARGUMENT', 'Only a 3-D (3d_lowres) network predicts the next stage of the cascade.');
  // v1 reads these from the plans when present (segmentation_export_params), else order 1.
  const exportParams = (plans as { segmentation_export_params?: { interpolation_order?: number } })
    .segmentation_export_params;
  const order = exportParams?.interpolation_order ?? 1;
  mkdirSync(o.outputFolder, { recursive: true });
  const numClasses = plans.num_classes + 1;
  const previous = net.deepSupervision;
  net.deepSupervision = false;
  net.eval();
  const written: string[] = [];
  try {
    for (const [i, id] of o.caseIds.entries()) {
      const { data, shape } = readNpy(join(o.lowresFolder, `${id}.npy`));
      const C = (shape[0] as number) - 1;
      const spatial = shape.slice(1);
      const input = (data as Float32Array).subarray(0, C * product(spatial));
      const nextFile = join(o.nextStageFolder, `${id}.npy`);
      if (!existsSync(nextFile))
        throw new NnunetError(
          'ERR_NOT_FOUND',
          `${nextFile} does not exist: preprocess the full-resolution stage of this task (nnUNet_plan_and_preprocess) before the 3d_lowres prediction for the next stage.`,
        );
      const target = readNpyHeader(nextFile).shape.slice(1);
      const { softmax } = predictSlidingWindow3D((x: Tensor) => net.forwardLogits(x), input, [C, ...spatial], {
        patchSize: stagePlan.patch_size,
        numClasses,
        stepSize: o.stepSize ?? 0.5,
        mirrorAxes: o.mirrorAxes,
        useGaussian: true,
        device: o.device ?? 'cpu',
        mixedPrecision: o.device === 'cuda',
      });
      const labels = softmaxToLabelsOnGrid(softmax, [numClasses, ...spatial], target, order);
      const out = segFromPrevStagePath(o.outputFolder, id);
      writeSegFromPrevStage(out, labels, target);
      written.push(out);
      o.onCase?.(id, i + 1, o.caseIds.length);
    }
  } finally {
    net.deepSupervision = previous;
  }
  return written;
}

/** CASE_segFromPrevStage.npz of `folder` as one-hot channels appended to a preprocessed case. */
export function appendPrevStage(
  data: Float32Array,
  shape: readonly number[],
  folder: string,
  caseId: string,
  labels: readonly number[],
): { data: Float32Array; shape: number[] } {
  const path = segFromPrevStagePath(folder, caseId);
  const prev = readSegFromPrevStage(path);
  const spatial = shape.slice(1);
  if (prev.shape.length !== spatial.length || prev.shape.some((s, d) => s !== spatial[d]))
    throw new NnunetError(
      'ERR_DATASET',
      `${path} has shape (${prev.shape}) but the preprocessed case is (${spatial}): rerun the 3d_lowres prediction for the next stage (nnUNet_train 3d_lowres ... -val).`,
    );
  return appendOneHot(data, shape, prev.data, labels);
}
