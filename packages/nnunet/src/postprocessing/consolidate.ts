/**
 * One postprocessing decision per trained configuration, as nnU-Net v1's consolidate_folds
 * (nnunet/postprocessing/consolidate_postprocessing.py): each fold's validation only sees its own
 * cases, so the folds' raw validation predictions are gathered into TRAINER/cv_niftis_raw,
 * evaluated together, and the postprocessing is determined on all of them
 * (TRAINER/postprocessing.json, TRAINER/cv_niftis_postprocessed).
 */
import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { NnunetError } from '../errors.js';
import { aggregateScores, readSummaryJson, type SummaryJson } from '../evaluation/evaluator.js';
import { foldFolderPath } from '../model/layout.js';
import { ENV_PREPROCESSED } from '../model/paths.js';
import { copyFileAtomic } from '../util/atomic.js';
import type { PoolOptions } from '../util/worker-pool.js';
import {
  type DeterminePostprocessingOptions,
  determinePostprocessing,
  niftiNames,
  type PostprocessingDecision,
  summaryLabels,
} from './determine.js';

/** v1's default cross-validation folds. */
export const DEFAULT_FOLDS: readonly number[] = [0, 1, 2, 3, 4];

const isDir = (p: string) => existsSync(p) && statSync(p).isDirectory();

/**
 * Where the ground truth of a trained configuration lies: TRAINER/gt_niftis (v1's trainer copies
 * it there) or else $nnUNet_preprocessed/TASK/gt_segmentations (what the validation compared to).
 * `preferPreprocessed` swaps the order (v1's ensembling reads gt_segmentations).
 */
export function groundTruthFolder(
  trainerFolder: string,
  task: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
  preferPreprocessed = false,
): string {
  const own = join(trainerFolder, 'gt_niftis');
  const pre = env[ENV_PREPROCESSED];
  const preprocessed = pre ? join(pre, task, 'gt_segmentations') : undefined;
  const candidates = preferPreprocessed ? [preprocessed, own] : [own, preprocessed];
  for (const c of candidates) if (c !== undefined && isDir(c)) return c;
  throw new NnunetError(
    'ERR_NOT_FOUND',
    `No ground truth for ${trainerFolder}: neither ${own} nor ${preprocessed ?? `$${ENV_PREPROCESSED}/${task}/gt_segmentations (${ENV_PREPROCESSED} is not set)`} exists; set ${ENV_PREPROCESSED} to the folder the task was preprocessed into.`,
  );
}

/** The folds (of `folds`) whose validation folder is missing. */
export function missingFolds(
  trainerFolder: string,
  folds: readonly number[],
  validationFolder = 'validation_raw',
): number[] {
  return folds.filter((f) => !isDir(join(foldFolderPath(trainerFolder, f), validationFolder)));
}

/** Throws one sentence naming the folds of `trainerFolder` that have no validation folder. */
export function requireFolds(
  trainerFolder: string,
  folds: readonly number[],
  validationFolder = 'validation_raw',
): void {
  const missing = missingFolds(trainerFolder, folds, validationFolder);
  if (missing.length > 0) {
    throw new NnunetError(
      'ERR_NOT_FOUND',
      `${trainerFolder} has no ${validationFolder} for fold(s) ${missing.join(', ')}: train and validate every fold first (nnUNet_train CONFIGURATION TRAINER TASK FOLD --npz), or name the trained folds with -f.`,
    );
  }
}

/**
 * v1's collect_cv_niftis: copies the .nii.gz predictions of every fold's validation folder into
 * `outputFolder`. Fails, naming them, when folds are missing. Returns the copied file names.
 */
export function collectCvNiftis(
  trainerFolder: string,
  outputFolder: string,
  validationFolder = 'validation_raw',
  folds: readonly number[] = DEFAULT_FOLDS,
): string[] {
  requireFolds(trainerFolder, folds, validationFolder);
  mkdirSync(outputFolder, { recursive: true });
  const names: string[] = [];
  for (const f of folds) {
    const folder = join(foldFolderPath(trainerFolder, f), validationFolder);
    for (const n of niftiNames(folder)) {
      copyFileAtomic(join(folder, n), join(outputFolder, n));
      names.push(n);
    }
  }
  return [...new Set(names)].sort();
}

export interface ConsolidateOptions extends PoolOptions {
  /** The folds' validation subfolder (v1: "validation_raw"). */
  validationFolder?: string;
  folds?: readonly number[];
  /** The ground-truth folder (default TRAINER/gt_niftis). */
  gtFolder?: string;
  /** v1's advanced_postprocessing (minimum object sizes); v1's commands leave it off. */
  advanced?: boolean;
  log?: (line: string) => void;
}

export interface ConsolidationResult {
  /** TRAINER/cv_niftis_raw */
  cvFolder: string;
  /** TRAINER/cv_niftis_raw/summary.json */
  cvSummary: SummaryJson;
  decision: PostprocessingDecision;
}

/**
 * Gathers the folds' raw predictions into TRAINER/cv_niftis_raw (replacing an older one), checks
 * that every ground-truth case was predicted, and evaluates them with the labels of the first
 * fold's summary.json (keys in v1's file order) into cv_niftis_raw/summary.json.
 */
export async function collectAndEvaluateCv(
  trainerFolder: string,
  options: ConsolidateOptions = {},
): Promise<{ cvFolder: string; cvSummary: SummaryJson; gtFolder: string }> {
  const validation = options.validationFolder ?? 'validation_raw';
  const folds = options.folds ?? DEFAULT_FOLDS;
  if (folds.length === 0) throw new NnunetError('ERR_ARGUMENT', 'at least one fold is needed to consolidate.');
  const gtFolder = options.gtFolder ?? join(trainerFolder, 'gt_niftis');
  if (!isDir(gtFolder)) {
    throw new NnunetError(
      'ERR_NOT_FOUND',
      `The ground-truth folder ${gtFolder} does not exist; it must hold the reference segmentation of every training case.`,
    );
  }
  requireFolds(trainerFolder, folds, validation);
  const cvFolder = join(trainerFolder, 'cv_niftis_raw');
  rmSync(cvFolder, { recursive: true, force: true });
  const names = collectCvNiftis(trainerFolder, cvFolder, validation, folds);
  const gtNames = niftiNames(gtFolder);
  const gtSet = new Set(gtNames);
  const noGt = names.filter((n) => !gtSet.has(n));
  if (noGt.length > 0) {
    throw new NnunetError(
      'ERR_NOT_FOUND',
      `${gtFolder} has no reference for the predictions ${noGt.slice(0, 5).join(', ')}; it must hold the ground truth of every training case.`,
    );
  }
  // v1 always demands every training case. When the caller picks some of the five folds (-f 0)
  // and each fold's debug.json lists its validation cases, those cases are what must be there.
  const subset = !DEFAULT_FOLDS.every((f) => folds.includes(f));
  const expected = subset ? foldValidationCases(trainerFolder, folds) : null;
  const required = expected === null ? gtNames : gtNames.filter((n) => expected.has(n.replace(/\.nii\.gz$/, '')));
  if (expected !== null && required.length < gtNames.length) {
    options.log?.(
      `note: consolidating fold(s) ${folds.join(', ')} only: ${required.length} of the ${gtNames.length} training cases (nnU-Net v1 requires all five folds).`,
    );
  }
  if (names.length !== required.length) {
    const have = new Set(names);
    const unpredicted = required.filter((n) => !have.has(n));
    throw new NnunetError(
      'ERR_NOT_FOUND',
      `Folds ${folds.join(', ')} of ${trainerFolder} predict ${names.length} of the ${required.length} cases in ${gtFolder} (none for ${unpredicted.slice(0, 3).join(', ')}${unpredicted.length > 3 ? ', ...' : ''}): train all folds first.`,
    );
  }
  const firstSummary = join(foldFolderPath(trainerFolder, folds[0] ?? 0), validation, 'summary.json');
  if (!existsSync(firstSummary)) {
    throw new NnunetError(
      'ERR_NOT_FOUND',
      `${firstSummary} does not exist: the validation of fold ${folds[0]} did not finish; re-run it (nnUNet_train CONFIGURATION TRAINER TASK ${folds[0]} -val --npz).`,
    );
  }
  const classes = summaryLabels(readSummaryJson(firstSummary).results.mean);
  const { summary } = await aggregateScores(
    names.map((n) => ({ test: join(cvFolder, n), reference: join(gtFolder, n) })),
    classes,
    { ...poolOf(options), jsonOutputFile: join(cvFolder, 'summary.json') },
  );
  return { cvFolder, cvSummary: summary, gtFolder };
}

function poolOf(o: PoolOptions): PoolOptions {
  const pool: PoolOptions = {};
  if (o.workers !== undefined) pool.workers = o.workers;
  if (o.onProgress !== undefined) pool.onProgress = o.onProgress;
  return pool;
}

/**
 * v1's consolidate_folds: collectAndEvaluateCv, then the postprocessing decision on all
 * cross-validation predictions (TRAINER/postprocessing.json, TRAINER/cv_niftis_postprocessed).
 */
export async function consolidateFolds(
  trainerFolder: string,
  options: ConsolidateOptions = {},
): Promise<ConsolidationResult> {
  const { cvFolder, cvSummary, gtFolder } = await collectAndEvaluateCv(trainerFolder, options);
  const determine: DeterminePostprocessingOptions = {
    ...poolOf(options),
    rawSubfolder: 'cv_niftis_raw',
    finalSubfolder: 'cv_niftis_postprocessed',
  };
  if (options.advanced !== undefined) determine.advanced = options.advanced;
  if (options.log !== undefined) determine.log = options.log;
  const decision = await determinePostprocessing(trainerFolder, gtFolder, determine);
  return { cvFolder, cvSummary, decision };
}

/** Fold numbers of a -f option ("0 1 2"). */
export function parseFolds(values: readonly string[]): number[] {
  return values.map((v) => {
    if (!/^\d+$/.test(v)) throw new NnunetError('ERR_ARGUMENT', `-f takes fold numbers such as 0 1 2 3 4, got "${v}".`);
    return Number(v);
  });
}

/** The union of the folds' validation cases from fold_N/debug.json (dataset_val); null if any is unknown. */
function foldValidationCases(trainerFolder: string, folds: readonly number[]): Set<string> | null {
  const cases = new Set<string>();
  for (const f of folds) {
    const file = join(foldFolderPath(trainerFolder, f), 'debug.json');
    if (!existsSync(file)) return null;
    let val: unknown;
    try {
      val = (JSON.parse(readFileSync(file, 'utf8')) as { dataset_val?: unknown }).dataset_val;
    } catch {
      return null;
    }
    if (!Array.isArray(val) || !val.every((v) => typeof v === 'string')) return null;
    for (const v of val) cases.add(v);
  }
  return cases;
}
