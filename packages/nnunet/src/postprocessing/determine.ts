/**
 * nnU-Net v1's postprocessing decision (nnunet/postprocessing/connected_components.py,
 * determine_postprocessing): on a folder of raw predictions with a summary.json, try
 *   1. keeping only the largest connected component of the whole foreground (all classes as one
 *      region): kept if at least one class's mean Dice rises above raw + dice_threshold and no
 *      class's mean Dice falls;
 *   2. (two or more classes) keeping only the largest component of each class, on the output of
 *      step 1 when it was kept: kept per class whose mean Dice rises above its previous value +
 *      dice_threshold (no check of the other classes).
 * The decision goes to BASE/postprocessing.json with v1's keys, and the raw predictions with the
 * decision applied go to BASE/<final subfolder> with their summary.json.
 *
 * v1 writes the trial steps into temporary folders and deletes them; here the trials run in
 * memory (same arrays, same scores) and only the final folder is written.
 */
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { type PyJson, pythonDumpIndented, pythonFloatRepr } from '../compat/python-json.js';
import { NnunetError } from '../errors.js';
import {
  buildSummary,
  type CaseEvaluation,
  evaluateVolumes,
  type LabelScores,
  meanScores,
  readSummaryJson,
  writeSummaryJson,
} from '../evaluation/evaluator.js';
import { DEFAULT_METRICS, type MetricName } from '../evaluation/metrics.js';
import { readImage, writeImage } from '../io/image.js';
import { writeFileAtomic } from '../util/atomic.js';
import { type PoolOptions, runPool } from '../util/worker-pool.js';
import {
  applyPostprocessing,
  type ClassOrGroup,
  type ComponentReport,
  classKey,
  type Postprocessing,
} from './connected-components.js';

/** v1's postprocessing.json, as written (min_valid_object_sizes is Python's str() of a dict, or "None"). */
export interface PostprocessingJson {
  /** Mean Dice per class of the raw predictions (from their summary.json). */
  dc_per_class_raw: Record<string, number>;
  /** Mean Dice per class after keeping the largest foreground component. */
  dc_per_class_pp_all: Record<string, number>;
  /** Mean Dice per class after the per-class step (empty with a single class). */
  dc_per_class_pp_per_class: Record<string, number>;
  /** The accepted steps: the list of all classes for step 1, then single classes. */
  for_which_classes: ClassOrGroup[];
  min_valid_object_sizes: string;
  num_samples: number;
  /** Subfolder names of the raw and the postprocessed predictions. */
  validation_raw: string;
  validation_final: string;
}

export interface DeterminePostprocessingOptions extends PoolOptions {
  /** Subfolder of `base` with the raw predictions and their summary.json (v1 default "validation_raw"). */
  rawSubfolder?: string;
  /** Subfolder of `base` for the postprocessed predictions (v1 default "validation_final"). */
  finalSubfolder?: string;
  /** A step is kept only if Dice exceeds the previous Dice + this (v1: 0). */
  diceThreshold?: number;
  /**
   * v1's advanced_postprocessing: a component is removed only if smaller than the smallest
   * largest-component volume seen over the cases; the sizes go to min_valid_object_sizes.
   */
  advanced?: boolean;
  /** File name of the decision in `base` (v1: "postprocessing.json"). */
  ppFilename?: string;
  /** Receives v1's progress lines (before/after Dice of each step). */
  log?: (line: string) => void;
}

export interface PostprocessingDecision {
  /** base/postprocessing.json */
  path: string;
  json: PostprocessingJson;
  /** The decision in the form applyPostprocessing takes. */
  postprocessing: Postprocessing;
  /** base/<final subfolder> */
  finalFolder: string;
  /** base/<final subfolder>/summary.json */
  finalSummaryPath: string;
}

/** One case's work for the postprocessing workers. */
export interface PostprocessJob {
  /** The segmentation to read. */
  prediction: string;
  /**
   * Chains of steps, each applied in order to the prediction (v1's load_remove_save on the output
   * of the previous step); every chain is reported (and scored) separately.
   */
  chains: Postprocessing[][];
  /** Score each chain's result against this reference; null: only the component reports are wanted. */
  reference: string | null;
  labels: number[];
  metrics: MetricName[];
  /** Write the result of the first chain here (same voxel type and geometry); null: keep it in memory. */
  output: string | null;
}

/** What one chain of a job gave. */
export interface ChainResult {
  /** The scores, with `test` = output (or the prediction) as v1's summary lists it. */
  evaluation: CaseEvaluation | null;
  /** The component reports of the chain's last step. */
  reports: ComponentReport[];
}

/** One result per chain of the job, in order. */
export type PostprocessJobResult = ChainResult[];

/** The integer labels of a summary's means, in the order of v1's file (keys sorted as strings). */
export function summaryLabels(mean: Readonly<Record<string, unknown>>): number[] {
  return Object.keys(mean)
    .filter((k) => /^-?\d+$/.test(k))
    .sort()
    .map(Number);
}

/** The `.nii.gz` files of a folder, sorted (v1's subfiles(..., suffix=".nii.gz")). */
export function niftiNames(folder: string): string[] {
  return readdirSync(folder)
    .filter((f) => f.endsWith('.nii.gz') && !f.startsWith('.') && statSync(join(folder, f)).isFile())
    .sort();
}

/** Python's str() of v1's min_valid_object_sizes dict (keys: ints or tuples; values: floats), or "None". */
export function pythonMinSizesText(sizes: ReadonlyMap<ClassOrGroup, number> | null): string {
  if (sizes === null) return 'None';
  const items = [...sizes].map(([k, v]) => `${classKey(k)}: ${pythonFloatRepr(v)}`);
  return `{${items.join(', ')}}`;
}

function toPyJson(json: PostprocessingJson): PyJson {
  const fwc: PyJson = json.for_which_classes.map((c) => (typeof c === 'number' ? BigInt(c) : c.map((v) => BigInt(v))));
  return {
    dc_per_class_raw: json.dc_per_class_raw,
    dc_per_class_pp_all: json.dc_per_class_pp_all,
    dc_per_class_pp_per_class: json.dc_per_class_pp_per_class,
    for_which_classes: fwc,
    min_valid_object_sizes: json.min_valid_object_sizes,
    num_samples: BigInt(json.num_samples),
    validation_raw: json.validation_raw,
    validation_final: json.validation_final,
  };
}

/** The text of postprocessing.json as v1's save_json writes it (sorted keys, indent 4). */
export function postprocessingJsonText(json: PostprocessingJson): string {
  return pythonDumpIndented(toPyJson(json));
}

/** Smallest kept (largest-component) volume per class or group over all cases, v1's min_size_kept. */
function smallestKept(results: readonly ChainResult[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const r of results) {
    for (const rep of r.reports) {
      if (rep.keptSize === null) continue;
      const prev = out.get(rep.key);
      out.set(rep.key, prev === undefined ? rep.keptSize : Math.min(prev, rep.keptSize));
    }
  }
  return out;
}

function minSizesFor(classes: readonly ClassOrGroup[], kept: ReadonlyMap<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const c of classes) {
    const v = kept.get(classKey(c));
    // A class absent from every case has nothing to remove; an infinite bound changes nothing.
    out[classKey(c)] = v ?? Number.POSITIVE_INFINITY;
  }
  return out;
}

function diceOf(mean: Readonly<Record<string, LabelScores>>, c: number, where: string): number {
  const d = mean[String(c)]?.Dice;
  if (typeof d !== 'number') {
    throw new NnunetError(
      'ERR_DATASET',
      `${where} has no mean Dice for class ${c}; re-run the evaluation that wrote it.`,
    );
  }
  return d;
}

/**
 * Runs one case: reads the prediction (and reference) once, applies each chain of steps, writes
 * the first chain's result when asked and scores every chain. (The handler of postprocess-worker.ts.)
 */
export async function runPostprocessJob(job: PostprocessJob): Promise<PostprocessJobResult> {
  const volume = await readImage(job.prediction);
  if (volume.data instanceof BigInt64Array || volume.data instanceof BigUint64Array) {
    throw new NnunetError(
      'ERR_IMAGE_READ',
      `${job.prediction} stores 64-bit integer labels; save segmentations as uint8/int16/int32.`,
    );
  }
  const reference = job.reference !== null ? await readImage(job.reference) : null;
  const spacing = [...volume.geometry.spacing].reverse();
  const out: ChainResult[] = [];
  for (const [i, chain] of job.chains.entries()) {
    let data = volume.data;
    let reports: ComponentReport[] = [];
    for (const step of chain) {
      const r = applyPostprocessing(data, volume.shape, spacing, step);
      data = r.seg;
      reports = r.reports;
    }
    const result = { ...volume, data };
    const output = i === 0 ? job.output : null;
    if (output !== null) await writeImage(result, output);
    const evaluation: CaseEvaluation | null =
      reference === null || job.reference === null
        ? null
        : {
            reference: job.reference,
            test: output ?? job.prediction,
            scores: evaluateVolumes(reference, result, job.labels, { metrics: job.metrics }),
          };
    out.push({ evaluation, reports });
  }
  return out;
}

/** Runs `jobs` in the postprocessing workers. */
export function runPostprocessJobs(
  jobs: readonly PostprocessJob[],
  pool: PoolOptions = {},
): Promise<PostprocessJobResult[]> {
  const o: PoolOptions = {};
  if (pool.workers !== undefined) o.workers = pool.workers;
  if (pool.onProgress !== undefined) o.onProgress = pool.onProgress;
  return runPool<PostprocessJob, PostprocessJobResult>(new URL('./postprocess-worker.js', import.meta.url), jobs, o);
}

/**
 * v1's determine_postprocessing on `base/<rawSubfolder>` (predictions + summary.json) against the
 * references in `gtFolder` (same file names). Writes base/<ppFilename> and the postprocessed
 * predictions with their summary.json into base/<finalSubfolder>; returns the decision.
 */
export async function determinePostprocessing(
  base: string,
  gtFolder: string,
  options: DeterminePostprocessingOptions = {},
): Promise<PostprocessingDecision> {
  const rawSub = options.rawSubfolder ?? 'validation_raw';
  const finalSub = options.finalSubfolder ?? 'validation_final';
  const threshold = options.diceThreshold ?? 0;
  const advanced = options.advanced === true;
  const log = options.log ?? (() => {});
  const pool: PoolOptions = {};
  if (options.workers !== undefined) pool.workers = options.workers;
  if (options.onProgress !== undefined) pool.onProgress = options.onProgress;

  const rawFolder = join(base, rawSub);
  const rawSummaryPath = join(rawFolder, 'summary.json');
  if (!existsSync(rawSummaryPath)) {
    throw new NnunetError(
      'ERR_NOT_FOUND',
      `${rawFolder} has no summary.json: evaluate the raw predictions first (the validation of nnUNet_train writes it).`,
    );
  }
  const rawSummary = readSummaryJson(rawSummaryPath);
  const classes = summaryLabels(rawSummary.results.mean).filter((c) => c !== 0);
  if (classes.length === 0) {
    throw new NnunetError(
      'ERR_DATASET',
      `${rawSummaryPath} lists no foreground class in results.mean; re-run the evaluation with the foreground labels.`,
    );
  }
  const rawMean = rawSummary.results.mean;
  const fnames = niftiNames(rawFolder);
  if (fnames.length === 0) {
    throw new NnunetError('ERR_NOT_FOUND', `${rawFolder} holds no .nii.gz predictions; nothing to postprocess.`);
  }
  const noGt = fnames.filter((f) => !existsSync(join(gtFolder, f)));
  if (noGt.length > 0) {
    throw new NnunetError(
      'ERR_NOT_FOUND',
      `${gtFolder} has no reference for ${noGt.slice(0, 5).join(', ')}${noGt.length > 5 ? ` and ${noGt.length - 5} more` : ''}; it must hold the ground truth of every prediction in ${rawFolder}.`,
    );
  }

  const dice: MetricName[] = ['Dice'];
  const jobsFor = (chains: Postprocessing[][], score: boolean): PostprocessJob[] =>
    fnames.map((f) => ({
      prediction: join(rawFolder, f),
      chains,
      reference: score ? join(gtFolder, f) : null,
      labels: classes,
      metrics: dice,
      output: null,
    }));
  /** Runs the chains on every case; returns, per chain, the results of all cases. */
  const run = async (chains: Postprocessing[][], score: boolean): Promise<ChainResult[][]> => {
    const perCase = await runPostprocessJobs(jobsFor(chains, score), pool);
    return chains.map((_, k) => perCase.map((r) => r[k] as ChainResult));
  };
  const meanOf = (results: readonly ChainResult[] | undefined) =>
    meanScores((results ?? []).map((r) => r.evaluation as CaseEvaluation));

  const json: PostprocessingJson = {
    dc_per_class_raw: {},
    dc_per_class_pp_all: {},
    dc_per_class_pp_per_class: {},
    for_which_classes: [],
    min_valid_object_sizes: 'None',
    num_samples: rawSummary.results.all.length,
    validation_raw: rawSub,
    validation_final: finalSub,
  };
  const minSizes = new Map<ClassOrGroup, number>();

  // Step 1: all foreground classes as one region.
  const fgStep: Postprocessing = { for_which_classes: [classes], min_valid_object_sizes: null };
  const perClass: Postprocessing = { for_which_classes: [...classes], min_valid_object_sizes: null };
  if (advanced) {
    const kept = smallestKept((await run([[fgStep]], false))[0] ?? []);
    fgStep.min_valid_object_sizes = minSizesFor([classes], kept);
    log(`foreground vs background, smallest valid object size was ${kept.get(classKey(classes))}`);
  }
  // Without size thresholds the per-class trials do not depend on step 1's outcome, so both
  // possible sources are scored in the same pass (each case is read once).
  const trials: Postprocessing[][] = [[fgStep]];
  if (!advanced && classes.length > 1) trials.push([perClass], [fgStep, perClass]);
  const trialResults = await run(trials, true);
  const allMean = meanOf(trialResults[0]);
  for (const c of classes) {
    json.dc_per_class_raw[String(c)] = diceOf(rawMean, c, rawSummaryPath);
    json.dc_per_class_pp_all[String(c)] = diceOf(allMean, c, 'the foreground-postprocessed predictions');
  }
  const raw = (c: number) => json.dc_per_class_raw[String(c)] as number;
  const ppAll = (c: number) => json.dc_per_class_pp_all[String(c)] as number;
  log('Foreground vs background');
  log(`before: ${classes.reduce((a, c) => a + raw(c), 0) / classes.length}`);
  log(`after:  ${classes.reduce((a, c) => a + ppAll(c), 0) / classes.length}`);
  // NaN compares false both ways, as in v1.
  let doFg = false;
  if (classes.some((c) => ppAll(c) > raw(c) + threshold) && !classes.some((c) => ppAll(c) < raw(c))) {
    json.for_which_classes.push([...classes]);
    if (advanced)
      minSizes.set(
        [...classes],
        (fgStep.min_valid_object_sizes as Record<string, number>)[classKey(classes)] as number,
      );
    doFg = true;
    log(
      `Removing all but the largest foreground region improved results! for_which_classes ${JSON.stringify(classes)}`,
    );
  }

  // Step 2: each class on its own, after step 1 when it was kept.
  if (classes.length > 1) {
    const source = doFg ? [fgStep] : [];
    let perMean: Record<string, LabelScores>;
    if (advanced) {
      const kept = smallestKept((await run([[...source, perClass]], false))[0] ?? []);
      perClass.min_valid_object_sizes = minSizesFor(classes, kept);
      log(
        `classes treated separately, smallest valid object sizes are ${JSON.stringify(perClass.min_valid_object_sizes)}`,
      );
      perMean = meanOf((await run([[...source, perClass]], true))[0]);
    } else {
      perMean = meanOf(trialResults[doFg ? 2 : 1]);
    }
    for (const c of classes) {
      const before = doFg ? ppAll(c) : raw(c);
      const after = diceOf(perMean, c, 'the per-class-postprocessed predictions');
      json.dc_per_class_pp_per_class[String(c)] = after;
      log(`class ${c}: before ${before}, after ${after}`);
      if (after > before + threshold) {
        json.for_which_classes.push(c);
        if (advanced) minSizes.set(c, (perClass.min_valid_object_sizes as Record<string, number>)[String(c)] as number);
        log(`Removing all but the largest region for class ${c} improved results!`);
      }
    }
  }
  const finalMinSizes: Record<string, number> | null = advanced ? {} : null;
  if (finalMinSizes !== null) for (const [k, v] of minSizes) finalMinSizes[classKey(k)] = v;
  json.min_valid_object_sizes = pythonMinSizesText(advanced ? minSizes : null);
  log(`for which classes: ${JSON.stringify(json.for_which_classes)}`);
  log(`min_object_sizes: ${json.min_valid_object_sizes}`);

  // Apply the decision to the raw predictions and evaluate them with v1's default metrics.
  const postprocessing: Postprocessing = {
    for_which_classes: json.for_which_classes,
    min_valid_object_sizes: finalMinSizes,
  };
  const finalFolder = join(base, finalSub);
  mkdirSync(finalFolder, { recursive: true });
  const finalResults = await runPostprocessJobs(
    fnames.map((f) => ({
      prediction: join(rawFolder, f),
      chains: [[postprocessing]],
      reference: join(gtFolder, f),
      labels: classes,
      metrics: [...DEFAULT_METRICS],
      output: join(finalFolder, f),
    })),
    pool,
  );
  const summary = buildSummary(
    finalResults.map((r) => r[0]?.evaluation as CaseEvaluation),
    { author: 'Fabian' },
  );
  const finalSummaryPath = join(finalFolder, 'summary.json');
  writeSummaryJson(finalSummaryPath, summary);
  const path = join(base, options.ppFilename ?? 'postprocessing.json');
  writeFileAtomic(path, postprocessingJsonText(json));
  return { path, json, postprocessing, finalFolder, finalSummaryPath };
}

/**
 * v1's apply_postprocessing_to_folder: applies `pp` to every .nii.gz of `inputFolder` and writes
 * the results under the same names into `outputFolder` (created if needed). Returns the names.
 */
export async function applyPostprocessingToFolder(
  inputFolder: string,
  outputFolder: string,
  pp: Postprocessing,
  pool: PoolOptions = {},
): Promise<string[]> {
  const names = niftiNames(inputFolder);
  mkdirSync(outputFolder, { recursive: true });
  await runPostprocessJobs(
    names.map((f) => ({
      prediction: join(inputFolder, f),
      chains: [[pp]],
      reference: null,
      labels: [],
      metrics: [],
      output: join(outputFolder, f),
    })),
    pool,
  );
  return names;
}

/**
 * The end of v1's nnUNetTrainer.validate: the postprocessing of one fold, determined on its own
 * validation cases. Reads FOLD/<validationFolder> (predictions + summary.json) and the references
 * in `gtFolder`; writes FOLD/postprocessing.json and FOLD/<validationFolder>_postprocessed/ (with
 * its summary.json).
 */
export function determineFoldPostprocessing(
  foldFolder: string,
  gtFolder: string,
  options: PoolOptions & { validationFolder?: string; log?: (line: string) => void } = {},
): Promise<PostprocessingDecision> {
  const validation = options.validationFolder ?? 'validation_raw';
  const o: DeterminePostprocessingOptions = { rawSubfolder: validation, finalSubfolder: `${validation}_postprocessed` };
  if (options.workers !== undefined) o.workers = options.workers;
  if (options.onProgress !== undefined) o.onProgress = options.onProgress;
  if (options.log !== undefined) o.log = options.log;
  return determinePostprocessing(foldFolder, gtFolder, o);
}
