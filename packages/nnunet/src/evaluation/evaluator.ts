/**
 * Case and folder evaluation as nnU-Net v1 does it (nnunet/evaluation/evaluator.py: NiftiEvaluator,
 * aggregate_scores, evaluate_folder): per label, v1's metrics of the prediction ("test") against
 * the reference; over a folder, the per-case results and their NaN-ignoring means, written to
 * PRED/summary.json with v1's keys, nesting and Python-style JSON.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { numpyNanmean } from '../compat/numpy-sum.js';
import { type PyJson, parsePythonJson, pythonDumpIndented, pythonDumps } from '../compat/python-json.js';
import { NnunetError } from '../errors.js';
import { readImage, type Volume, type VoxelArray } from '../io/image.js';
import { geometryDifferences } from '../io/verify.js';
import { writeFileAtomic } from '../util/atomic.js';
import { type PoolOptions, runPool } from '../util/worker-pool.js';
import {
  computeMetrics,
  DEFAULT_ADVANCED_METRICS,
  DEFAULT_METRICS,
  INTEGER_METRICS,
  isMetricName,
  type MetricName,
} from './metrics.js';

/** A label value, or a group of label values evaluated as one region (v1's tuple labels). */
export type LabelSpec = number | readonly number[];

/** Metric name -> value for one label. */
export type LabelScores = Record<string, number>;

/** The key of a label in summary.json: "1" for a label, Python's tuple text "(1, 2)" for a group. */
export function labelKey(label: LabelSpec): string {
  if (typeof label === 'number') return String(label);
  return label.length === 1 ? `(${label[0]},)` : `(${label.join(', ')})`;
}

export interface EvaluateOptions {
  /** Also compute the advanced (surface distance) metrics, as v1's `advanced=True`. */
  advanced?: boolean;
  /** The basic metrics; default v1's Evaluator.default_metrics. */
  metrics?: readonly MetricName[];
  /** The metrics `advanced` adds; default v1's ["Hausdorff Distance 95"]. */
  advancedMetrics?: readonly MetricName[];
}

/** One case's scores, with the two files as v1 records them ("test" is the prediction). */
export interface CaseEvaluation {
  reference: string;
  test: string;
  /** labelKey -> metric -> value. */
  scores: Record<string, LabelScores>;
}

/** v1's summary.json. */
export interface SummaryJson {
  name: string;
  description: string;
  /** Python's str(datetime.today()), e.g. "2024-05-01 14:03:59.123000". */
  timestamp: string;
  task: string;
  author: string;
  results: {
    /** Per case: labelKey -> scores, plus "test" and "reference" -> file paths. */
    all: Array<Record<string, LabelScores | string>>;
    /** labelKey -> metric -> nanmean over cases. */
    mean: Record<string, LabelScores>;
  };
  /** The first 12 hex digits of the md5 of the rest, as v1 computes it. */
  id: string;
  /** Added by v1's model selection to the ensembles' postprocessed summaries. */
  experiment_name?: string;
}

/** Top-level keys of summary.json that the summary itself defines (anything else is passed through). */
const SUMMARY_KEYS = new Set(['name', 'description', 'timestamp', 'task', 'author', 'results', 'id']);

function checkLabels(labels: readonly LabelSpec[]): void {
  const ok = (v: unknown) => typeof v === 'number' && Number.isInteger(v);
  if (
    labels.length === 0 ||
    !labels.every((l) => ok(l) || (Array.isArray(l) && l.length > 0 && (l as readonly unknown[]).every(ok)))
  ) {
    throw new NnunetError(
      'ERR_ARGUMENT',
      `labels must be a non-empty list of integers or groups of integers, got ${JSON.stringify(labels)}.`,
    );
  }
}

/** The metric names of one label in v1's order: the basic ones sorted, then the advanced ones. */
export function metricList(options: EvaluateOptions = {}): MetricName[] {
  const basic = [...(options.metrics ?? DEFAULT_METRICS)].sort();
  const extra = options.advanced === true ? (options.advancedMetrics ?? DEFAULT_ADVANCED_METRICS) : [];
  for (const m of [...basic, ...extra]) {
    if (!isMetricName(m)) throw new NnunetError('ERR_ARGUMENT', `unknown metric "${m}"; use one of v1's names.`);
  }
  return [...new Set([...basic, ...extra])];
}

/** A 0/1 mask of the voxels whose value is one of `values`. */
export function labelMask(data: VoxelArray, values: readonly number[]): Uint8Array {
  const out = new Uint8Array(data.length);
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) {
    const set = new Set(values.map((v) => BigInt(v)));
    for (let i = 0; i < data.length; i++) if (set.has(data[i] as bigint)) out[i] = 1;
    return out;
  }
  const d = data as ArrayLike<number>;
  if (values.length === 1) {
    const v = values[0] as number;
    for (let i = 0; i < d.length; i++) if (d[i] === v) out[i] = 1;
    return out;
  }
  const set = new Set(values);
  for (let i = 0; i < d.length; i++) if (set.has(d[i] as number)) out[i] = 1;
  return out;
}

/**
 * Scores of a prediction against a reference already in memory (same voxel grid; shape (z, y, x)).
 * The surface metrics use the prediction's spacing, as v1's NiftiEvaluator does.
 */
export function evaluateVolumes(
  reference: Volume,
  prediction: Volume,
  labels: readonly LabelSpec[],
  options: EvaluateOptions = {},
): Record<string, LabelScores> {
  checkLabels(labels);
  return scoreVolumes(
    reference,
    prediction,
    labels,
    metricList(options),
    'the reference volume',
    'The prediction volume',
  );
}

function scoreVolumes(
  reference: Volume,
  prediction: Volume,
  labels: readonly LabelSpec[],
  metrics: readonly MetricName[],
  refName: string,
  predName: string,
): Record<string, LabelScores> {
  const diff = geometryDifferences(prediction, reference);
  if (diff.length > 0) {
    throw new NnunetError(
      'ERR_DATASET',
      `${predName} and ${refName} differ in ${diff.join('; ')}; a prediction must lie on its reference's voxel grid (export it with the image's geometry).`,
    );
  }
  const spacing = [...prediction.geometry.spacing].reverse();
  const scores: Record<string, LabelScores> = {};
  for (const label of labels) {
    const values = typeof label === 'number' ? [label] : [...label];
    scores[labelKey(label)] = computeMetrics(
      {
        test: labelMask(prediction.data, values),
        reference: labelMask(reference.data, values),
        shape: prediction.shape,
        spacing,
      },
      metrics,
    );
  }
  return scores;
}

/**
 * Reads a reference and a prediction and scores every label. The two must share one voxel grid
 * (size, spacing, origin, direction within np.isclose's tolerance); otherwise an NnunetError
 * names both files.
 */
export async function evaluateCase(
  refPath: string,
  predPath: string,
  labels: readonly LabelSpec[],
  options: EvaluateOptions = {},
): Promise<CaseEvaluation> {
  checkLabels(labels);
  return scoreCase(refPath, predPath, labels, metricList(options));
}

async function scoreCase(
  refPath: string,
  predPath: string,
  labels: readonly LabelSpec[],
  metrics: readonly MetricName[],
): Promise<CaseEvaluation> {
  const [reference, prediction] = await Promise.all([readImage(refPath), readImage(predPath)]);
  const scores = scoreVolumes(reference, prediction, labels, metrics, `reference ${refPath}`, `Prediction ${predPath}`);
  return { reference: refPath, test: predPath, scores };
}

/**
 * v1's aggregate_scores means: per label and metric, np.nanmean over the cases (NaN only when
 * every case is NaN). Labels and metrics keep the order of their first appearance.
 */
export function meanScores(cases: readonly CaseEvaluation[]): Record<string, LabelScores> {
  const lists = new Map<string, Map<string, number[]>>();
  for (const c of cases) {
    for (const [label, scores] of Object.entries(c.scores)) {
      let perLabel = lists.get(label);
      if (perLabel === undefined) {
        perLabel = new Map();
        lists.set(label, perLabel);
      }
      for (const [metric, value] of Object.entries(scores)) {
        let list = perLabel.get(metric);
        if (list === undefined) {
          list = [];
          perLabel.set(metric, list);
        }
        list.push(value);
      }
    }
  }
  const mean: Record<string, LabelScores> = {};
  for (const [label, perLabel] of lists) {
    const m: LabelScores = {};
    for (const [metric, values] of perLabel) m[metric] = numpyNanmean(values);
    mean[label] = m;
  }
  return mean;
}

/** Python's str(datetime) of a local time, with microseconds (here milliseconds x 1000). */
function pythonTimestamp(d: Date): string {
  const p = (v: number, n = 2) => String(v).padStart(n, '0');
  const base = `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
  const micro = d.getMilliseconds() * 1000;
  return micro === 0 ? base : `${base}.${p(micro, 6)}`;
}

/** The summary as Python objects: counts as ints, everything else as floats, v1's insertion order. */
function toPython(summary: Omit<SummaryJson, 'id'>): { [key: string]: PyJson } {
  const extra: { [key: string]: PyJson } = {};
  for (const [k, v] of Object.entries(summary)) {
    if (!SUMMARY_KEYS.has(k) && typeof v === 'string') extra[k] = v;
  }
  const all = summary.results.all.map((c) => {
    const entry: { [key: string]: PyJson } = {};
    for (const [k, v] of Object.entries(c)) {
      if (typeof v === 'string') {
        entry[k] = v;
        continue;
      }
      const scores: { [key: string]: PyJson } = {};
      for (const [metric, value] of Object.entries(v)) {
        scores[metric] = INTEGER_METRICS.has(metric) && Number.isInteger(value) ? BigInt(value) : value;
      }
      entry[k] = scores;
    }
    return entry;
  });
  return {
    name: summary.name,
    description: summary.description,
    timestamp: summary.timestamp,
    task: summary.task,
    author: summary.author,
    results: { all, mean: summary.results.mean },
    ...extra,
  };
}

export interface SummaryOptions {
  name?: string;
  description?: string;
  /** Default "Fabian", v1's aggregate_scores default. */
  author?: string;
  task?: string;
  /** The time written as the timestamp (default now). */
  now?: Date;
}

/** Builds v1's summary.json object from case results (means, timestamp, id). */
export function buildSummary(cases: readonly CaseEvaluation[], options: SummaryOptions = {}): SummaryJson {
  const all = cases.map((c) => {
    const entry: Record<string, LabelScores | string> = { ...c.scores };
    entry.test = c.test;
    entry.reference = c.reference;
    return entry;
  });
  const body = {
    name: options.name ?? '',
    description: options.description ?? '',
    timestamp: pythonTimestamp(options.now ?? new Date()),
    task: options.task ?? '',
    author: options.author ?? 'Fabian',
    results: { all, mean: meanScores(cases) },
  };
  const id = createHash('md5')
    .update(pythonDumps(toPython(body)), 'utf8')
    .digest('hex')
    .slice(0, 12);
  return { ...body, id };
}

/** The text of summary.json as v1 writes it (json.dump with indent=4 and sorted keys). */
export function summaryJsonText(summary: SummaryJson): string {
  const { id, ...body } = summary;
  return pythonDumpIndented({ ...toPython(body), id });
}

/** Reads a summary.json (v1's or ours; NaN and Infinity accepted). */
export function readSummaryJson(path: string): SummaryJson {
  let parsed: unknown;
  try {
    parsed = parsePythonJson(readFileSync(path, 'utf8'));
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'it does not exist' : (e as Error).message;
    throw new NnunetError('ERR_DATASET', `Cannot read ${path}: ${why}; re-run the evaluation to rewrite it.`, {
      cause: e,
    });
  }
  const s = parsed as Partial<SummaryJson> | null;
  if (
    s === null ||
    typeof s !== 'object' ||
    typeof s.results !== 'object' ||
    s.results === null ||
    !Array.isArray(s.results.all) ||
    typeof s.results.mean !== 'object'
  ) {
    throw new NnunetError(
      'ERR_DATASET',
      `${path} is not an nnU-Net summary.json (it needs results.all and results.mean); re-run the evaluation to rewrite it.`,
    );
  }
  return s as SummaryJson;
}

const NIFTI_SUFFIXES = ['.nii.gz', '.nii'] as const;

/** Segmentation files of a folder by case name (file name without .nii.gz/.nii), hidden files skipped. */
function segmentationFiles(folder: string, role: string): Map<string, string> {
  if (!existsSync(folder) || !statSync(folder).isDirectory()) {
    throw new NnunetError('ERR_NOT_FOUND', `The ${role} folder ${folder} does not exist; check the path.`);
  }
  const out = new Map<string, string>();
  for (const name of readdirSync(folder).sort()) {
    if (name.startsWith('.')) continue;
    const suffix = NIFTI_SUFFIXES.find((s) => name.endsWith(s));
    if (suffix === undefined || !statSync(join(folder, name)).isFile()) continue;
    const id = name.slice(0, -suffix.length);
    const other = out.get(id);
    if (other !== undefined) {
      throw new NnunetError(
        'ERR_DATASET',
        `The ${role} folder ${folder} holds both ${other} and ${name}; keep one file per case.`,
      );
    }
    out.set(id, name);
  }
  return out;
}

function listNames(names: readonly string[]): string {
  const shown = names.slice(0, 5).join(', ');
  return names.length > 5 ? `${shown} and ${names.length - 5} more` : shown;
}

export interface EvaluateFolderOptions extends EvaluateOptions, SummaryOptions, PoolOptions {}

export interface FolderEvaluation {
  /** PRED/summary.json. */
  summaryPath: string;
  summary: SummaryJson;
  cases: CaseEvaluation[];
}

/**
 * v1's evaluate_folder: every segmentation (.nii.gz or .nii) of `predFolder` is scored against the
 * file of the same case in `refFolder`; both folders must hold the same cases (v1 asserts both
 * ways), otherwise an NnunetError lists the missing files before anything is read. Cases run in
 * worker threads, in the order of the prediction file names. Writes `predFolder/summary.json`
 * atomically (temporary file, then rename) and returns it.
 */
export async function evaluateFolder(
  refFolder: string,
  predFolder: string,
  labels: readonly LabelSpec[],
  options: EvaluateFolderOptions = {},
): Promise<FolderEvaluation> {
  checkLabels(labels);
  // Unknown metric names fail here, before any file is read.
  metricList(options);
  const refs = segmentationFiles(refFolder, 'reference');
  const preds = segmentationFiles(predFolder, 'prediction');
  const noRef = [...preds.keys()].filter((id) => !refs.has(id)).map((id) => preds.get(id) as string);
  const noPred = [...refs.keys()].filter((id) => !preds.has(id)).map((id) => refs.get(id) as string);
  if (noRef.length > 0 || noPred.length > 0) {
    const parts: string[] = [];
    if (noRef.length > 0) parts.push(`${refFolder} has no reference for ${listNames(noRef)}`);
    if (noPred.length > 0) parts.push(`${predFolder} has no prediction for ${listNames(noPred)}`);
    throw new NnunetError(
      'ERR_NOT_FOUND',
      `${parts.join(' and ')}; both folders must hold the same cases under the same file names.`,
    );
  }
  if (preds.size === 0) {
    throw new NnunetError(
      'ERR_NOT_FOUND',
      `No segmentations (.nii.gz or .nii) in ${predFolder} or ${refFolder}; check the folders.`,
    );
  }
  const pairs = [...preds.entries()]
    .sort((a, b) => (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
    .map(([id, name]) => ({ test: join(predFolder, name), reference: join(refFolder, refs.get(id) as string) }));
  const summaryPath = join(predFolder, 'summary.json');
  const { summary, cases } = await aggregateScores(pairs, labels, { ...options, jsonOutputFile: summaryPath });
  return { summaryPath, summary, cases };
}

/** A prediction ("test") and its reference segmentation. */
export interface ScorePair {
  test: string;
  reference: string;
}

export interface AggregateOptions extends EvaluateFolderOptions {
  /** Where to write summary.json (atomically); nothing is written without it. */
  jsonOutputFile?: string;
}

/**
 * v1's aggregate_scores: scores every (prediction, reference) pair in worker threads, in the
 * given order, builds the summary (per-case results and NaN-ignoring means) and writes it to
 * `jsonOutputFile` when given.
 */
export async function aggregateScores(
  pairs: readonly ScorePair[],
  labels: readonly LabelSpec[],
  options: AggregateOptions = {},
): Promise<{ summary: SummaryJson; cases: CaseEvaluation[] }> {
  checkLabels(labels);
  const metrics = metricList(options);
  const jobs = pairs.map((p) => ({
    reference: p.reference,
    test: p.test,
    labels: labels.map((l) => (typeof l === 'number' ? l : [...l])),
    metrics,
  }));
  const pool: PoolOptions = {};
  if (options.workers !== undefined) pool.workers = options.workers;
  if (options.onProgress !== undefined) pool.onProgress = options.onProgress;
  const cases = await runPool<EvaluateJob, CaseEvaluation>(
    new URL('./evaluate-worker.js', import.meta.url),
    jobs,
    pool,
  );
  const summary = buildSummary(cases, options);
  if (options.jsonOutputFile !== undefined) writeSummaryJson(options.jsonOutputFile, summary);
  return { summary, cases };
}

/** Writes summary.json atomically (temporary file, then rename) in v1's layout. */
export function writeSummaryJson(path: string, summary: SummaryJson): void {
  writeFileAtomic(path, summaryJsonText(summary));
}

/**
 * v1's foreground_mean (nnunet/evaluation/add_mean_dice_to_json.py): adds results.mean.mean, per
 * metric of label "1" the NaN-ignoring mean over the foreground labels (every integer label but 0,
 * -1 and 99; a label 99 is dropped). Returns a new summary.
 */
export function withForegroundMean(summary: SummaryJson): SummaryJson {
  const mean = { ...summary.results.mean };
  delete mean['99'];
  const ids = Object.keys(mean)
    .filter((k) => k !== 'mean' && /^-?\d+$/.test(k))
    .map(Number)
    .filter((c) => c !== 0 && c !== -1 && c !== 99);
  const first = mean['1'];
  if (first === undefined) {
    throw new NnunetError(
      'ERR_DATASET',
      'the summary has no results for label 1, so no foreground mean can be formed; check the evaluated labels.',
    );
  }
  const fg: LabelScores = {};
  for (const metric of Object.keys(first)) {
    fg[metric] = numpyNanmean(ids.map((c) => mean[String(c)]?.[metric] ?? Number.NaN));
  }
  mean.mean = fg;
  return { ...summary, results: { ...summary.results, mean } };
}

/** One case for the evaluation worker: explicit metric names, so the worker needs no options. */
export interface EvaluateJob {
  reference: string;
  test: string;
  labels: LabelSpec[];
  metrics: MetricName[];
}

/** The worker's handler: scores one case with exactly `job.metrics` for each label. */
export function runEvaluateJob(job: EvaluateJob): Promise<CaseEvaluation> {
  return scoreCase(job.reference, job.test, job.labels, job.metrics);
}
