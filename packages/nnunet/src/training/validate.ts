/**
 * The final validation of a fold (v1's nnUNetTrainer.validate): every validation case's
 * preprocessed data is predicted with the sliding window (mirroring, Gaussian weighting, step
 * 0.5), exported on the original grid into validation_raw/ (with the softmax .npz when asked),
 * and the folder is evaluated against the ground truth into validation_raw/summary.json. For the
 * cascade the 3d_lowres predictions join the data as one-hot channels, as in training.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Tensor } from '@nnunet/torch';
import {
  buildSummary,
  type CaseEvaluation,
  evaluateCase,
  type FolderEvaluation,
  writeSummaryJson,
} from '../evaluation/evaluator.js';
import { readCroppedProperties } from '../fingerprint/analyze.js';
import { softmaxToSegmentation, writeSegmentation, writeSoftmaxNpz } from '../inference/export.js';
import { predictSlidingWindow2D, predictSlidingWindow3D } from '../inference/sliding-window.js';
import { readNpy } from '../io/npy.js';
import type { Plans } from '../model/plans.js';
import type { GenericUNet } from '../network/generic-unet.js';
import { writeJsonAtomic } from '../util/atomic.js';
import { product } from '../util/shape.js';
import { appendPrevStage } from './cascade.js';

export interface ValidateOptions {
  stagePreprocessedFolder: string;
  gtFolder: string;
  outputFolder: string;
  caseIds: readonly string[];
  mirrorAxes: readonly number[];
  saveNpz?: boolean;
  stepSize?: number;
  device?: 'cpu' | 'cuda';
  /**
   * The cascade (3d_cascade_fullres): the 3d_lowres pred_next_stage folder whose
   * CASE_segFromPrevStage.npz joins each case as one-hot channels of `labels`.
   */
  prevStage?: { folder: string; labels: readonly number[] };
  onProgress?: (done: number, total: number) => void;
}

/** Predicts `o.caseIds` into the output folder (a data-parallel rank passes its share). */
export async function predictValidationCases(
  net: GenericUNet,
  plans: Plans,
  stage: string,
  o: ValidateOptions,
): Promise<void> {
  const stagePlan = plans.plans_per_stage[stage];
  if (stagePlan === undefined) throw new Error(`plans have no stage ${stage}`);
  mkdirSync(o.outputFolder, { recursive: true });
  const numClasses = plans.num_classes + 1;
  const is2d = stagePlan.patch_size.length === 2;
  const previous = net.deepSupervision;
  net.deepSupervision = false;
  net.eval();
  try {
    for (const [i, id] of o.caseIds.entries()) {
      const { data, shape } = readNpy(join(o.stagePreprocessedFolder, `${id}.npy`));
      const props = readCroppedProperties(o.stagePreprocessedFolder, id);
      const C = (shape[0] as number) - 1;
      const spatial = shape.slice(1);
      let input = (data as Float32Array).subarray(0, C * product(spatial));
      let inputShape = [C, ...spatial];
      if (o.prevStage !== undefined) {
        const withPrev = appendPrevStage(input, inputShape, o.prevStage.folder, id, o.prevStage.labels);
        input = withPrev.data;
        inputShape = withPrev.shape;
      }
      const opts = {
        patchSize: stagePlan.patch_size,
        numClasses,
        stepSize: o.stepSize ?? 0.5,
        mirrorAxes: o.mirrorAxes,
        useGaussian: true,
        device: o.device ?? 'cpu',
        mixedPrecision: o.device === 'cuda',
      } as const;
      const network = (x: Tensor) => net.forwardLogits(x);
      const { softmax } = is2d
        ? predictSlidingWindow2D(network, input, inputShape, opts)
        : predictSlidingWindow3D(network, input, inputShape, opts);
      const r = softmaxToSegmentation(softmax, [numClasses, ...spatial], props as never, {
        transposeBackward: plans.transpose_backward,
        keepSoftmax: o.saveNpz === true,
      });
      await writeSegmentation(r.segmentation, r.shape, props as never, join(o.outputFolder, `${id}.nii.gz`));
      if (o.saveNpz && r.softmax && r.softmaxShape) {
        writeSoftmaxNpz(join(o.outputFolder, `${id}.npz`), r.softmax, r.softmaxShape);
        writeJsonAtomic(join(o.outputFolder, `${id}.json`), props);
      }
      o.onProgress?.(i + 1, o.caseIds.length);
    }
  } finally {
    net.deepSupervision = previous;
  }
}

/** Evaluates the predictions of every case of `o.caseIds` into the output folder's summary.json. */
export async function evaluateValidation(
  plans: Plans,
  o: Pick<ValidateOptions, 'gtFolder' | 'outputFolder' | 'caseIds'>,
): Promise<FolderEvaluation> {
  // Only this fold's validation cases are compared (the ground-truth folder holds every case).
  const labels = plans.all_classes.filter((c) => c > 0);
  const cases: CaseEvaluation[] = [];
  for (const id of o.caseIds) {
    cases.push(await evaluateCase(join(o.gtFolder, `${id}.nii.gz`), join(o.outputFolder, `${id}.nii.gz`), labels));
  }
  const summary = buildSummary(cases, { name: `${plans.data_identifier} validation`, description: '' });
  const summaryPath = join(o.outputFolder, 'summary.json');
  writeSummaryJson(summaryPath, summary);
  return { summaryPath, summary, cases };
}
