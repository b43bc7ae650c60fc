/**
 * The cross-validation ensemble of two trained configurations, as nnU-Net v1's model selection
 * builds it (nnunet/evaluation/model_selection/ensemble.py): fold by fold, the validation softmax
 * (.npz, written by nnUNet_train --npz) of both models is averaged into OUTPUT/ensembled_raw,
 * evaluated against the ground truth with the plans' classes, and the postprocessing of the
 * ensemble is determined (OUTPUT/postprocessing.json, OUTPUT/ensembled_postprocessed).
 * Like v1, existing segmentations, summary.json and postprocessing.json are reused.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { NnunetError } from '../errors.js';
import { aggregateScores, readSummaryJson, writeSummaryJson } from '../evaluation/evaluator.js';
import { type MergeJob, npzCaseIds, runMergeJobs } from '../inference/ensemble.js';
import { readModelPlans } from '../inference/model-folder.js';
import { foldFolderPath } from '../model/layout.js';
import { determinePostprocessing } from '../postprocessing/determine.js';
import type { PoolOptions } from '../util/worker-pool.js';

export interface CvEnsembleOptions extends PoolOptions {
  /** The two trainer folders (…/CONFIGURATION/TASK/TRAINER__PLANS). */
  folder1: string;
  folder2: string;
  /** RESULTS_FOLDER/nnUNet/ensembles/TASK/ensemble_… */
  outputBase: string;
  task: string;
  /** Ground truth of every case (v1: nnUNet_preprocessed/TASK/gt_segmentations). */
  gtFolder: string;
  folds: readonly number[];
  validationFolder?: string;
  /** Determine the ensemble's postprocessing (v1's allow_ensembling; off with --disable_postprocessing). */
  postprocessing?: boolean;
  /** Where v1 collects the postprocessed summaries (RESULTS_FOLDER/nnUNet/summary_jsons). */
  summaryJsonsFolder?: string;
  log?: (line: string) => void;
}

export interface CvEnsembleResult {
  /** OUTPUT/ensembled_raw/summary.json */
  rawSummaryPath: string;
  /** OUTPUT/postprocessing.json, or null without postprocessing. */
  postprocessingPath: string | null;
}

const isDir = (p: string) => existsSync(p) && statSync(p).isDirectory();

/** Case ids of a validation folder's raw segmentations (v1 skips *noPostProcess and *_postprocessed). */
function niftiCaseIds(folder: string): string[] {
  return readdirSync(folder)
    .filter(
      (f) =>
        f.endsWith('.nii.gz') &&
        !f.startsWith('.') &&
        !f.endsWith('noPostProcess.nii.gz') &&
        !f.endsWith('_postprocessed.nii.gz'),
    )
    .map((f) => f.slice(0, -'.nii.gz'.length))
    .sort();
}

function checkValidationFolder(folder: string, fold: number): string[] {
  const rerun = `re-run the validation of fold ${fold} with nnUNet_train CONFIGURATION TRAINER TASK ${fold} -val --npz`;
  if (!isDir(folder)) throw new NnunetError('ERR_NOT_FOUND', `The validation folder ${folder} is missing: ${rerun}.`);
  if (!existsSync(join(folder, 'summary.json'))) {
    throw new NnunetError(
      'ERR_NOT_FOUND',
      `The validation folder ${folder} has no summary.json (incomplete): ${rerun}.`,
    );
  }
  const npz = npzCaseIds(folder);
  const have = new Set(npz);
  const missing = niftiCaseIds(folder).filter((id) => !have.has(id));
  if (missing.length > 0) {
    throw new NnunetError(
      'ERR_NOT_FOUND',
      `${folder} has no softmax (.npz) for ${missing.length} case(s) (${missing.slice(0, 3).join(', ')}${missing.length > 3 ? ', ...' : ''}): ensembling needs them; ${rerun}, or pass --disable_ensembling.`,
    );
  }
  return npz;
}

/** v1's ensemble(): see the module comment. */
export async function ensembleCrossValidation(o: CvEnsembleOptions): Promise<CvEnsembleResult> {
  const validation = o.validationFolder ?? 'validation_raw';
  const log = o.log ?? (() => {});
  const plans = readModelPlans(o.folder1);
  if (!Array.isArray(plans.all_classes) || plans.all_classes.length === 0) {
    throw new NnunetError('ERR_DATASET', `${join(o.folder1, 'plans.json')} has no all_classes; re-run the planning.`);
  }
  const rawFolder = join(o.outputBase, 'ensembled_raw');
  const jobs: MergeJob[] = [];
  const pairs: Array<{ test: string; reference: string }> = [];
  for (const fold of o.folds) {
    const v1 = join(foldFolderPath(o.folder1, fold), validation);
    const v2 = join(foldFolderPath(o.folder2, fold), validation);
    const ids1 = checkValidationFolder(v1, fold);
    const ids2 = checkValidationFolder(v2, fold);
    if (ids1.join('\n') !== ids2.join('\n')) {
      throw new NnunetError(
        'ERR_DATASET',
        `${v1} and ${v2} hold softmax files of different cases; both configurations must be trained on the same splits (splits_final.json).`,
      );
    }
    for (const id of ids1) {
      jobs.push({
        id,
        npzFiles: [join(v1, `${id}.npz`), join(v2, `${id}.npz`)],
        propertiesFolder: v1,
        output: join(rawFolder, `${id}.nii.gz`),
        storeNpz: false,
        override: false,
      });
      pairs.push({ test: join(rawFolder, `${id}.nii.gz`), reference: join(o.gtFolder, `${id}.nii.gz`) });
    }
  }
  const noGt = pairs.filter((p) => !existsSync(p.reference)).map((p) => basename(p.reference));
  if (noGt.length > 0) {
    throw new NnunetError(
      'ERR_NOT_FOUND',
      `${o.gtFolder} has no reference for ${noGt.slice(0, 5).join(', ')}; it must hold the ground truth of every training case.`,
    );
  }
  const pool: PoolOptions = {};
  if (o.workers !== undefined) pool.workers = o.workers;
  if (o.onProgress !== undefined) pool.onProgress = o.onProgress;
  mkdirSync(rawFolder, { recursive: true });
  log(`ensembling ${o.folder1} and ${o.folder2} into ${rawFolder}`);
  await runMergeJobs(jobs, pool);
  const rawSummaryPath = join(rawFolder, 'summary.json');
  const name = basename(o.outputBase);
  if (!existsSync(rawSummaryPath) && pairs.length > 0) {
    await aggregateScores(pairs, plans.all_classes, {
      ...pool,
      jsonOutputFile: rawSummaryPath,
      task: o.task,
      name: `${o.task}__${name}`,
    });
  }
  if (o.postprocessing === false) return { rawSummaryPath, postprocessingPath: null };
  const postprocessingPath = join(o.outputBase, 'postprocessing.json');
  if (!existsSync(postprocessingPath)) {
    const d = await determinePostprocessing(o.outputBase, o.gtFolder, {
      ...pool,
      rawSubfolder: 'ensembled_raw',
      finalSubfolder: 'ensembled_postprocessed',
      diceThreshold: 0,
      log,
    });
    const summary = { ...readSummaryJson(d.finalSummaryPath), experiment_name: name };
    writeSummaryJson(d.finalSummaryPath, summary);
    if (o.summaryJsonsFolder !== undefined) {
      mkdirSync(o.summaryJsonsFolder, { recursive: true });
      copyFileSync(d.finalSummaryPath, join(o.summaryJsonsFolder, `${o.task}__${name}.json`));
    }
  }
  return { rawSummaryPath, postprocessingPath };
}
