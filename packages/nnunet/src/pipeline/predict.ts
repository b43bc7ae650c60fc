/**
 * nnUNet_predict as a library function: the model folder from task, configuration, trainer and
 * plans identifier, and for 3d_cascade_fullres without given low-resolution segmentations, v1's
 * two passes (the 3d_lowres model first into OUTPUT/3d_lowres_predictions, then the cascade).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { NnunetError } from '../errors.js';
import { type PredictFolderOptions, type PredictFolderResult, predictFolder } from '../inference/predict.js';
import type { Configuration } from '../model/configuration.js';
import {
  DEFAULT_CASCADE_TRAINER,
  DEFAULT_PLANS_IDENTIFIER,
  DEFAULT_TRAINER,
  trainerFolderPath,
} from '../model/layout.js';
import { type Env, requireEnvFolder, resolveTaskName } from '../model/paths.js';

/** The 3d_lowres predictions' sub-folder of the output when the cascade predicts them itself (v1). */
export const LOWRES_PREDICTIONS_FOLDER = '3d_lowres_predictions';

export interface PredictTaskOptions extends Omit<PredictFolderOptions, 'lowresSegmentations'> {
  /** Folder of CASE_XXXX.nii.gz inputs (one file per modality). */
  input: string;
  /** Output folder, created when missing. */
  output: string;
  /** Task id or name (4, "004", "Task004_Hippocampus"). */
  task: string | number;
  /** Default 3d_fullres. */
  configuration?: Configuration;
  /** Trainer class; for 3d_cascade_fullres without `lowresSegmentations`, the 3d_lowres trainer. Default nnUNetTrainerV2. */
  trainer?: string;
  /** 3d_cascade_fullres: the cascade trainer (default nnUNetTrainerV2CascadeFullRes). */
  cascadeTrainer?: string;
  /** Default nnUNetPlansv2.1. */
  plansIdentifier?: string;
  /** 3d_cascade_fullres: folder of the 3d_lowres segmentations (v1's -l); default: predict them first. */
  lowresSegmentations?: string;
  /** Environment holding RESULTS_FOLDER (default process.env). */
  env?: Env;
  /** Called when the cascade switches from its 3d_lowres pass to the cascade pass. */
  onPass?: (pass: 'lowres' | 'cascade', outputFolder: string) => void;
}

/**
 * Predicts a folder with a trained model of a task. Returns what the (last) pass wrote and kept,
 * and the cases whose input could not be used in either pass: the others are predicted.
 */
export async function predictTask(o: PredictTaskOptions): Promise<PredictFolderResult> {
  const configuration = o.configuration ?? '3d_fullres';
  const isCascade = configuration === '3d_cascade_fullres';
  if (!isCascade && (o.lowresSegmentations !== undefined || o.cascadeTrainer !== undefined)) {
    throw new NnunetError(
      'ERR_ARGUMENT',
      `-l and -ctr belong to the cascade: use them with -m 3d_cascade_fullres, not ${configuration}.`,
    );
  }
  const env = o.env ?? process.env;
  const results = requireEnvFolder('RESULTS_FOLDER', env);
  const task = resolveTaskName(o.task, env);
  const plansIdentifier = o.plansIdentifier ?? DEFAULT_PLANS_IDENTIFIER;
  const trainer = o.trainer ?? DEFAULT_TRAINER;
  const modelFolder = trainerFolderPath(
    results,
    configuration,
    task,
    isCascade ? (o.cascadeTrainer ?? DEFAULT_CASCADE_TRAINER) : trainer,
    plansIdentifier,
  );
  const { input, output, task: _task, configuration: _c, env: _e, onPass, ...common } = o;
  let lowres = o.lowresSegmentations;
  let lowresFailed: PredictFolderResult['failed'] = [];
  if (isCascade && lowres === undefined) {
    if ((o.partId ?? 0) !== 0 || (o.numParts ?? 1) !== 1)
      throw new NnunetError(
        'ERR_ARGUMENT',
        '--part_id / --num_parts need -l with the 3d_lowres segmentations for the cascade: run the 3d_lowres prediction (-m 3d_lowres) separately first.',
      );
    const lowresModel = trainerFolderPath(results, '3d_lowres', task, trainer, plansIdentifier);
    if (!existsSync(lowresModel))
      throw new NnunetError(
        'ERR_NOT_FOUND',
        `${lowresModel} does not exist: the cascade without -l predicts the 3d_lowres segmentations first, so train 3d_lowres (nnUNet_train 3d_lowres ${trainer} ${task} FOLD) or give them with -l.`,
      );
    lowres = join(output, LOWRES_PREDICTIONS_FOLDER);
    onPass?.('lowres', lowres);
    // The first pass writes segmentations only: the cascade reads CASE.nii.gz, not softmax files.
    const { saveNpz: _z, checkpoint: _k, partId: _p, numParts: _n, ...lowresOptions } = common;
    lowresFailed = (await predictFolder(input, lowres, lowresModel, lowresOptions)).failed;
    onPass?.('cascade', output);
  }
  const r = await predictFolder(input, output, modelFolder, {
    ...common,
    ...(lowres !== undefined ? { lowresSegmentations: lowres } : {}),
    // A case whose lowres pass failed has no lowres segmentation: it was reported there.
    ...(lowresFailed.length > 0 ? { excludeCases: new Set(lowresFailed.map((f) => f.id)) } : {}),
  });
  return { ...r, failed: [...lowresFailed, ...r.failed] };
}
