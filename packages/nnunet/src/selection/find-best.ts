/**
 * nnU-Net v1's choice of what to submit (nnunet/evaluation/model_selection/
 * figure_out_what_to_submit.py, nnUNet_find_best_configuration): every requested configuration's
 * cross-validation is consolidated (cv_niftis_raw + summary.json + postprocessing.json in its
 * trainer folder), every pair of configurations is ensembled from the saved validation softmax,
 * and the candidate with the highest mean foreground Dice of its raw (not postprocessed)
 * cross-validation predictions wins. Writes RESULTS/nnUNet/ensembles/TASK/summary.csv and
 * prediction_commands.txt.
 *
 * Missing configurations: with `strict` the first problem is thrown; without it the configuration
 * (or the ensemble) is skipped with a warning, as v1 did before its --strict flag was removed.
 */
import { existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { numpyMean } from '../compat/numpy-sum.js';
import { NnunetError } from '../errors.js';
import {
  type LabelScores,
  readSummaryJson,
  type SummaryJson,
  withForegroundMean,
  writeSummaryJson,
} from '../evaluation/evaluator.js';
import { type Configuration, parseConfiguration } from '../model/configuration.js';
import {
  DEFAULT_CASCADE_TRAINER,
  DEFAULT_PLANS_IDENTIFIER,
  DEFAULT_TRAINER,
  trainerFolderPath,
} from '../model/layout.js';
import { RESULTS_SUBFOLDER } from '../model/paths.js';
import {
  collectAndEvaluateCv,
  consolidateFolds,
  DEFAULT_FOLDS,
  groundTruthFolder,
} from '../postprocessing/consolidate.js';
import { writeFileAtomic } from '../util/atomic.js';
import type { PoolOptions } from '../util/worker-pool.js';
import { ensembleCrossValidation } from './ensemble-cv.js';

export interface FindBestOptions extends PoolOptions {
  /** RESULTS_FOLDER (models under RESULTS_FOLDER/nnUNet). */
  resultsFolder: string;
  /** The full task name, TaskXXX_NAME. */
  task: string;
  /** Configurations to compare, in order (v1 default: 2d, 3d_lowres, 3d_fullres, 3d_cascade_fullres). */
  configurations?: readonly string[];
  trainer?: string;
  /** Trainer of 3d_cascade_fullres. */
  cascadeTrainer?: string;
  plansIdentifier?: string;
  folds?: readonly number[];
  disableEnsembling?: boolean;
  disablePostprocessing?: boolean;
  strict?: boolean;
  /** Environment for the ground-truth fallback ($nnUNet_preprocessed/TASK/gt_segmentations). */
  env?: Readonly<Record<string, string | undefined>>;
  /** Progress and warnings. */
  log?: (line: string) => void;
}

/** A single configuration or a pairwise ensemble that was evaluated. */
export interface Candidate {
  /** The configuration ("3d_fullres") or v1's ensemble folder name ("ensemble_2d__T__P--3d_fullres__T__P"). */
  name: string;
  members: Array<{ configuration: string; trainer: string; plansIdentifier: string }>;
  /** Trainer folder, or the ensemble folder. */
  folder: string;
  /** The raw cross-validation summary.json that was scored. */
  summaryPath: string;
  /** np.mean of the mean Dice of every label but 0 (v1's get_foreground_mean; NaN if any is NaN). */
  meanForegroundDice: number;
  /** summary results.mean including the added foreground "mean". */
  mean: Record<string, LabelScores>;
  /** The postprocessing.json to use with it (null with disablePostprocessing). */
  postprocessingFile: string | null;
}

export interface FindBestResult {
  task: string;
  candidates: Candidate[];
  /** Every candidate with the best score, in candidate order (v1 prints commands for each). */
  winners: Candidate[];
  /** The last winner (v1's best_model, which shapes summary.csv). */
  best: Candidate;
  /** Configurations or ensembles left out, with the reason (only without strict). */
  skipped: Array<{ name: string; reason: string }>;
  /** The commands to predict test cases with each winner. */
  plan: Array<{ candidate: Candidate; commands: string[] }>;
  /** All of `plan`'s commands, one per line (prediction_commands.txt). */
  commands: string[];
  /** RESULTS/nnUNet/ensembles/TASK */
  summaryFolder: string;
  summaryCsvPath: string;
  commandsPath: string;
}

const isDir = (p: string) => existsSync(p) && statSync(p).isDirectory();

/** v1's get_foreground_mean: np.mean of results.mean[label].Dice over labels other than "0" and "mean". */
export function meanForegroundDice(summary: SummaryJson): number {
  const mean = summary.results.mean;
  // v1 reads keys in its file's order: summary.json is written with sorted keys.
  const keys = Object.keys(mean)
    .filter((k) => k !== '0' && k !== 'mean')
    .sort();
  return numpyMean(keys.map((k) => mean[k]?.Dice ?? Number.NaN));
}

/**
 * v1's pick: the maximum score; every candidate equal to it is a winner and the last of them is
 * v1's best_model. NaN scores never win (v1 would fail on them); all NaN is an error.
 */
export function pickBest<T extends { name: string; meanForegroundDice: number }>(
  candidates: readonly T[],
): { winners: T[]; best: T } {
  const scored = candidates.filter((c) => !Number.isNaN(c.meanForegroundDice));
  if (scored.length === 0) {
    throw new NnunetError(
      'ERR_DATASET',
      `No candidate has a mean foreground Dice (${candidates.map((c) => c.name).join(', ') || 'none evaluated'}); check the cross-validation summaries.`,
    );
  }
  const top = Math.max(...scored.map((c) => c.meanForegroundDice));
  const winners = scored.filter((c) => c.meanForegroundDice === top);
  return { winners, best: winners[winners.length - 1] as T };
}

/** v1's ensemble folder name. */
export function ensembleName(
  a: { configuration: string; trainer: string },
  b: { configuration: string; trainer: string },
  plansIdentifier: string,
): string {
  return `ensemble_${a.configuration}__${a.trainer}__${plansIdentifier}--${b.configuration}__${b.trainer}__${plansIdentifier}`;
}

/** Python's "%01.4f" (round half to even on the exact binary value; nan/inf as Python writes them). */
export function pythonFixed4(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  const fixed = x.toFixed(4);
  // toFixed rounds exact halves away from zero; Python rounds them to even.
  const exact = Math.abs(x).toFixed(30);
  const dot = exact.indexOf('.');
  const tail = exact.slice(dot + 5);
  if (/^50*$/.test(tail)) {
    const lastKept = Number(exact[dot + 4]);
    if (lastKept % 2 === 0) {
      const truncated = exact.slice(0, dot + 5);
      return (x < 0 ? '-' : '') + truncated;
    }
  }
  return fixed;
}

/** summary.csv as v1 writes it: model, class1..classN, average (the foreground mean Dice). */
export function summaryCsv(candidates: readonly Candidate[], best: Candidate): string {
  const numClasses = Object.keys(best.mean).filter((k) => k !== 'mean' && k !== '0').length;
  let out = 'model';
  for (let c = 1; c <= numClasses; c++) out += `,class${c}`;
  out += ',average\n';
  for (const m of candidates) {
    out += m.name;
    for (let c = 1; c <= numClasses; c++) out += `,${pythonFixed4(m.mean[String(c)]?.Dice ?? Number.NaN)}`;
    out += `,${pythonFixed4(m.mean.mean?.Dice ?? Number.NaN)}\n`;
  }
  return out;
}

function predictCommand(
  m: Candidate['members'][number],
  task: string,
  output: string,
  trainer: string,
  cascadeTrainer: string,
  npz: boolean,
): string {
  const trainers =
    m.configuration === '3d_cascade_fullres' ? `-tr ${trainer} -ctr ${cascadeTrainer}` : `-tr ${m.trainer}`;
  return `nnUNet_predict -i INPUT_FOLDER -o ${output} -t ${task} -m ${m.configuration} ${trainers} -p ${m.plansIdentifier}${npz ? ' -z' : ''}`;
}

/** The commands that reproduce a candidate on test cases (v1 prints the same information). */
export function predictionCommands(
  c: Candidate,
  task: string,
  trainer = DEFAULT_TRAINER,
  cascadeTrainer = DEFAULT_CASCADE_TRAINER,
): string[] {
  if (c.members.length === 1) {
    return [
      predictCommand(
        c.members[0] as Candidate['members'][number],
        task,
        'OUTPUT_FOLDER',
        trainer,
        cascadeTrainer,
        false,
      ),
    ];
  }
  const outs = c.members.map((_, i) => `OUTPUT_FOLDER_MODEL${i + 1}`);
  const lines = c.members.map((m, i) => predictCommand(m, task, outs[i] as string, trainer, cascadeTrainer, true));
  lines.push(
    `nnUNet_ensemble -f ${outs.join(' ')} -o OUTPUT_FOLDER${c.postprocessingFile !== null ? ` -pp ${c.postprocessingFile}` : ''}`,
  );
  return lines;
}

/** Adds v1's foreground mean to a summary.json in place and returns the updated summary. */
function addForegroundMean(path: string): SummaryJson {
  const s = withForegroundMean(readSummaryJson(path));
  writeSummaryJson(path, s);
  return s;
}

/** nnUNet_find_best_configuration for one task; see the module comment. */
export async function findBestConfiguration(o: FindBestOptions): Promise<FindBestResult> {
  const configurations = o.configurations ?? ['2d', '3d_lowres', '3d_fullres', '3d_cascade_fullres'];
  const tr = o.trainer ?? DEFAULT_TRAINER;
  const ctr = o.cascadeTrainer ?? DEFAULT_CASCADE_TRAINER;
  const pl = o.plansIdentifier ?? DEFAULT_PLANS_IDENTIFIER;
  const folds = o.folds ?? DEFAULT_FOLDS;
  const env = o.env ?? process.env;
  const log = o.log ?? (() => {});
  const pool: PoolOptions = {};
  if (o.workers !== undefined) pool.workers = o.workers;
  if (o.onProgress !== undefined) pool.onProgress = o.onProgress;
  const models = join(o.resultsFolder, RESULTS_SUBFOLDER);
  for (const m of configurations) parseConfiguration(m, '-m');
  const candidates: Candidate[] = [];
  const skipped: Array<{ name: string; reason: string }> = [];
  const attempt = async (name: string, work: () => Promise<void>): Promise<void> => {
    try {
      await work();
    } catch (e) {
      if (o.strict === true || !(e instanceof NnunetError)) throw e;
      skipped.push({ name, reason: e.message });
      log(`WARNING: ${name} left out: ${e.message}`);
    }
  };

  const valid: Array<{ configuration: string; trainer: string; folder: string }> = [];
  for (const m of configurations) {
    const trainer = m === '3d_cascade_fullres' ? ctr : tr;
    const folder = trainerFolderPath(o.resultsFolder, m as Configuration, o.task, trainer, pl);
    await attempt(m, async () => {
      if (!isDir(folder)) {
        throw new NnunetError(
          'ERR_NOT_FOUND',
          `The output folder of configuration ${m} is missing (expected ${folder}); train it or leave it out of -m.`,
        );
      }
      const cvFolder = join(folder, 'cv_niftis_raw');
      const summaryPath = join(cvFolder, 'summary.json');
      let postprocessingFile: string | null = null;
      if (o.disablePostprocessing === true) {
        if (!existsSync(summaryPath)) {
          log(`${o.task} ${m}: collecting and evaluating the cross-validation predictions`);
          rmSync(cvFolder, { recursive: true, force: true });
          await collectAndEvaluateCv(folder, { ...pool, folds, gtFolder: groundTruthFolder(folder, o.task, env) });
        }
      } else {
        postprocessingFile = join(folder, 'postprocessing.json');
        if (!existsSync(postprocessingFile) || !isDir(cvFolder)) {
          log(`${o.task} ${m}: determining the postprocessing on the cross-validation predictions`);
          await consolidateFolds(folder, { ...pool, folds, gtFolder: groundTruthFolder(folder, o.task, env), log });
        }
      }
      if (!existsSync(summaryPath)) {
        throw new NnunetError(
          'ERR_NOT_FOUND',
          `${summaryPath} is missing; delete ${cvFolder} and run again so that it is rebuilt.`,
        );
      }
      const score = meanForegroundDice(readSummaryJson(summaryPath));
      const summary = addForegroundMean(summaryPath);
      candidates.push({
        name: m,
        members: [{ configuration: m, trainer, plansIdentifier: pl }],
        folder,
        summaryPath,
        meanForegroundDice: score,
        mean: summary.results.mean,
        postprocessingFile,
      });
      valid.push({ configuration: m, trainer, folder });
    });
  }

  if (o.disableEnsembling !== true && valid.length > 1) {
    log(`ensembling pairs of: ${valid.map((v) => v.configuration).join(', ')}`);
    for (let i = 0; i < valid.length; i++) {
      for (let j = i + 1; j < valid.length; j++) {
        const a = valid[i] as (typeof valid)[number];
        const b = valid[j] as (typeof valid)[number];
        const name = ensembleName(a, b, pl);
        const outputBase = join(models, 'ensembles', o.task, name);
        await attempt(name, async () => {
          const r = await ensembleCrossValidation({
            ...pool,
            folder1: a.folder,
            folder2: b.folder,
            outputBase,
            task: o.task,
            gtFolder: groundTruthFolder(a.folder, o.task, env, true),
            folds,
            postprocessing: o.disablePostprocessing !== true,
            summaryJsonsFolder: join(models, 'summary_jsons'),
            log,
          });
          const score = meanForegroundDice(readSummaryJson(r.rawSummaryPath));
          const summary = addForegroundMean(r.rawSummaryPath);
          candidates.push({
            name,
            members: [a, b].map((v) => ({ configuration: v.configuration, trainer: v.trainer, plansIdentifier: pl })),
            folder: outputBase,
            summaryPath: r.rawSummaryPath,
            meanForegroundDice: score,
            mean: summary.results.mean,
            postprocessingFile: r.postprocessingPath,
          });
        });
      }
    }
  }

  if (candidates.length === 0) {
    throw new NnunetError(
      'ERR_NOT_FOUND',
      `None of the configurations ${configurations.join(', ')} of ${o.task} could be evaluated (${skipped.map((s) => `${s.name}: ${s.reason}`).join(' ')})`,
    );
  }
  const { winners, best } = pickBest(candidates);
  const plan = winners.map((w) => ({ candidate: w, commands: predictionCommands(w, o.task, tr, ctr) }));
  const commands = plan.flatMap((p) => p.commands);
  const summaryFolder = join(models, 'ensembles', o.task);
  mkdirSync(summaryFolder, { recursive: true });
  const commandsPath = join(summaryFolder, 'prediction_commands.txt');
  writeFileAtomic(commandsPath, commands.map((l) => `${l}\n`).join(''));
  const summaryCsvPath = join(summaryFolder, 'summary.csv');
  writeFileAtomic(summaryCsvPath, summaryCsv(candidates, best));
  return {
    task: o.task,
    candidates,
    winners,
    best,
    skipped,
    plan,
    commands,
    summaryFolder,
    summaryCsvPath,
    commandsPath,
  };
}
