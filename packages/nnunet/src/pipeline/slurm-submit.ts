/**
 * The whole nnU-Net experiment as Slurm jobs (nnUNet_slurm_submit): one job array per
 * configuration over its folds, the cascade's fullres array after every 3d_lowres fold
 * (afterok), nnUNet_find_best_configuration after every training, and, given an input folder, the
 * prediction with the winner after that. Each training task runs `nnUNet_train ... -c`, turns
 * Slurm's time-limit warning (--signal=B:USR1) into a checkpoint of the exact position (exit 75)
 * and requeues itself; folds whose training_status.json says complete are left out, and a
 * submission whose jobs are still queued is not repeated.
 *
 * Everything goes into $RESULTS_FOLDER/nnUNet/slurm/TASK/: the scripts, bin/ (one wrapper per
 * nnUNet_* command, so jobs need no PATH of their own), logs/ and submission.json (the job ids).
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NnunetError } from '../errors.js';
import type { Configuration } from '../model/configuration.js';
import { DEFAULT_CASCADE_TRAINER, DEFAULT_TRAINER, foldFolderPath, trainerFolderPath } from '../model/layout.js';
import { type Env, requireEnvFolder, resolveTaskName } from '../model/paths.js';
import { writeFileAtomic, writeJsonAtomic } from '../util/atomic.js';

export interface SlurmSubmitOptions {
  task: string;
  configurations: readonly Configuration[];
  folds?: readonly number[];
  trainer?: string;
  cascadeTrainer?: string;
  /** sbatch options for every job: --partition, --time, --gres, --cpus-per-task, --mem, --account, ... */
  sbatch?: readonly string[];
  /** Further arguments of every nnUNet_train (e.g. --epochs 300, -num_gpus 2). */
  trainArgs?: readonly string[];
  /** Seconds before the time limit at which a training checkpoints and requeues (default 300). */
  signalSeconds?: number;
  /** Predict this folder with the winner after model selection (needs `output`). */
  input?: string;
  output?: string;
  /** Write and print the scripts and the sbatch commands; submit nothing. */
  dryRun?: boolean;
  env?: Env;
  /** Command names (for tests on machines with their own wrappers); default sbatch and squeue. */
  sbatchCommand?: string;
  squeueCommand?: string;
}

export interface PlannedJob {
  /** Unique within the submission; also the script's file name and the job name's suffix. */
  name: string;
  script: string;
  /** The array indices (folds) of a training array; undefined for a single job. */
  array?: number[];
  /** Names of the planned jobs this one waits for (afterok). */
  after: string[];
}

export interface SubmissionResult {
  folder: string;
  jobs: PlannedJob[];
  /** name -> Slurm job id (empty in a dry run). */
  ids: Record<string, string>;
  /** Folds left out because their training is complete, per configuration. */
  skipped: Record<string, number[]>;
  /** The sbatch command lines, in submission order. */
  commands: string[];
}

const SUBMISSION_FILE = 'submission.json';

/** Single-quotes a word for bash. */
function q(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** The nnUNet_* commands of this installation: name -> absolute path of its script. */
function installedCommands(): Record<string, string> {
  const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
  const pkg = JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { bin: Record<string, string> };
  return Object.fromEntries(Object.entries(pkg.bin).map(([name, rel]) => [name, join(packageRoot, rel)]));
}

function trainingScript(o: {
  configuration: Configuration;
  trainer: string;
  task: string;
  bin: string;
  extra: readonly string[];
}): string {
  return `#!/bin/bash
# nnU-Net training of ${o.task} ${o.configuration}, fold = the array index. On Slurm's time-limit
# warning (USR1) nnUNet_train saves its exact position and exits 75; the task then requeues itself
# and continues with -c (which also starts a fold that has no checkpoint yet).
export PATH=${q(o.bin)}:$PATH
fold=\${SLURM_ARRAY_TASK_ID:?this script runs as a job array task}
nnUNet_train ${o.configuration} ${q(o.trainer)} ${q(o.task)} "$fold" -c --npz${o.extra.map((a) => ` ${q(a)}`).join('')} & pid=$!
trap 'signalled=1; kill -USR1 $pid' USR1
wait $pid; rc=$?
[ -n "\${signalled:-}" ] && { wait $pid; rc=$?; }   # the trap ended the first wait early
if [ $rc -eq 75 ]; then scontrol requeue "$SLURM_JOB_ID"; fi
exit $rc
`;
}

function findBestScript(o: {
  configurations: readonly Configuration[];
  task: string;
  bin: string;
  trainer: string;
  cascadeTrainer: string;
  folds: readonly number[];
}): string {
  return `#!/bin/bash
# Model selection over the trained configurations (their folds' validation with --npz).
set -euo pipefail
export PATH=${q(o.bin)}:$PATH
nnUNet_find_best_configuration -m ${o.configurations.join(' ')} -t ${q(o.task)} -tr ${q(o.trainer)} -ctr ${q(o.cascadeTrainer)} -f ${o.folds.join(' ')}
`;
}

function predictScript(o: { task: string; bin: string; input: string; output: string; commandsFile: string }): string {
  return `#!/bin/bash
# Prediction of ${q(o.input)} with the winner of model selection: the first command group of
# prediction_commands.txt (one nnUNet_predict, or the ensemble's predictions and nnUNet_ensemble).
set -euo pipefail
export PATH=${q(o.bin)}:$PATH
awk 'NR == 1 && !/ -z/ { print; exit } { print } /^nnUNet_ensemble/ { exit }' ${q(o.commandsFile)} |
  sed -e "s#INPUT_FOLDER#"${q(o.input)}"#g" -e "s#OUTPUT_FOLDER_MODEL#"${q(o.output)}"/model#g" -e "s#OUTPUT_FOLDER#"${q(o.output)}"#g" |
  bash -euo pipefail
`;
}

/** Whether a fold's training finished (training_status.json says complete). */
function foldComplete(folder: string): boolean {
  try {
    return (
      (JSON.parse(readFileSync(join(folder, 'training_status.json'), 'utf8')) as { status?: string }).status ===
      'complete'
    );
  } catch {
    return false;
  }
}

function run(command: string, args: readonly string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(command, args, { encoding: 'utf8' });
  if (r.error !== undefined)
    throw new NnunetError(
      'ERR_NOT_FOUND',
      `${command} could not be run (${(r.error as NodeJS.ErrnoException).code ?? r.error.message}): run nnUNet_slurm_submit on a Slurm login node, or use --dry-run to write the scripts only.`,
    );
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

export function submitExperiment(o: SlurmSubmitOptions): SubmissionResult {
  const env = o.env ?? process.env;
  const task = resolveTaskName(o.task, env);
  const results = requireEnvFolder('RESULTS_FOLDER', env);
  const trainer = o.trainer ?? DEFAULT_TRAINER;
  const cascadeTrainer = o.cascadeTrainer ?? DEFAULT_CASCADE_TRAINER;
  const folds = [...(o.folds ?? [0, 1, 2, 3, 4])];
  if ((o.input === undefined) !== (o.output === undefined))
    throw new NnunetError(
      'ERR_ARGUMENT',
      'Give both -i INPUT and -o OUTPUT to predict after model selection, or neither.',
    );
  if (o.configurations.includes('3d_cascade_fullres') && !o.configurations.includes('3d_lowres'))
    throw new NnunetError('ERR_ARGUMENT', '3d_cascade_fullres needs 3d_lowres trained first: add 3d_lowres to -m.');
  const folder = join(results, 'nnUNet', 'slurm', task);
  const bin = join(folder, 'bin');
  const logs = join(folder, 'logs');
  const squeue = o.squeueCommand ?? 'squeue';
  const sbatch = o.sbatchCommand ?? 'sbatch';

  // A previous submission whose jobs are still queued or running is not submitted again.
  const previous = join(folder, SUBMISSION_FILE);
  if (!o.dryRun && existsSync(previous)) {
    const ids = Object.values(
      (JSON.parse(readFileSync(previous, 'utf8')) as { ids?: Record<string, string> }).ids ?? {},
    );
    if (ids.length > 0) {
      const q2 = run(squeue, ['-h', '-o', '%i', '-j', ids.join(',')]);
      const live = q2.stdout
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l !== '');
      if (q2.status === 0 && live.length > 0)
        throw new NnunetError(
          'ERR_ARGUMENT',
          `The previous submission of ${task} (${previous}) still has jobs in the queue (${live.slice(0, 5).join(', ')}${live.length > 5 ? ', ...' : ''}): wait for them or scancel them, then submit again.`,
        );
    }
  }

  const jobs: PlannedJob[] = [];
  const skipped: Record<string, number[]> = {};
  for (const configuration of o.configurations) {
    const tr = configuration === '3d_cascade_fullres' ? cascadeTrainer : trainer;
    const trainerFolder = trainerFolderPath(results, configuration, task, tr);
    const done = folds.filter((f) => foldComplete(foldFolderPath(trainerFolder, String(f))));
    skipped[configuration] = done;
    const todo = folds.filter((f) => !done.includes(f));
    if (todo.length === 0) continue;
    jobs.push({
      name: `train_${configuration}`,
      script: trainingScript({ configuration, trainer: tr, task, bin, extra: o.trainArgs ?? [] }),
      array: todo,
      after:
        configuration === '3d_cascade_fullres' && jobs.some((j) => j.name === 'train_3d_lowres')
          ? ['train_3d_lowres']
          : [],
    });
  }
  const trainings = jobs.map((j) => j.name);
  jobs.push({
    name: 'find_best',
    script: findBestScript({ configurations: o.configurations, task, bin, trainer, cascadeTrainer, folds }),
    after: trainings,
  });
  if (o.input !== undefined && o.output !== undefined) {
    jobs.push({
      name: 'predict',
      script: predictScript({
        task,
        bin,
        input: o.input,
        output: o.output,
        commandsFile: join(results, 'nnUNet', 'ensembles', task, 'prediction_commands.txt'),
      }),
      after: ['find_best'],
    });
  }

  // Files: wrappers for every command, the scripts, the log folder.
  mkdirSync(bin, { recursive: true });
  mkdirSync(logs, { recursive: true });
  const executable = (path: string, text: string) => {
    writeFileAtomic(path, text);
    chmodSync(path, 0o755);
  };
  for (const [name, script] of Object.entries(installedCommands()))
    executable(join(bin, name), `#!/bin/sh\nexec ${q(process.execPath)} ${q(script)} "$@"\n`);
  for (const j of jobs) executable(join(folder, `${j.name}.sh`), j.script);

  const ids: Record<string, string> = {};
  const commands: string[] = [];
  const signal = o.signalSeconds ?? 300;
  for (const j of jobs) {
    const args = [
      '--parsable',
      `--job-name=nnunet_${task}_${j.name}`,
      `--output=${join(logs, j.array !== undefined ? `${j.name}_%A_%a.out` : `${j.name}_%j.out`)}`,
      ...(j.array !== undefined ? [`--array=${j.array.join(',')}`, `--signal=B:USR1@${signal}`, '--requeue'] : []),
      ...(j.after.length > 0
        ? [`--dependency=afterok:${j.after.map((n) => ids[n] ?? `<${n}>`).join(':')}`, '--kill-on-invalid-dep=yes']
        : []),
      ...(o.sbatch ?? []),
      join(folder, `${j.name}.sh`),
    ];
    commands.push([sbatch, ...args].map(q).join(' '));
    if (o.dryRun) continue;
    const r = run(sbatch, args);
    if (r.status !== 0)
      throw new NnunetError(
        'ERR_ARGUMENT',
        `sbatch refused the ${j.name} job (${r.stderr.trim() || `exit ${r.status}`}); the jobs submitted before it are ${Object.values(ids).join(', ') || 'none'} (scancel them before trying again).`,
      );
    ids[j.name] = (r.stdout.trim().split(';')[0] ?? '').trim();
  }
  if (!o.dryRun) writeJsonAtomic(previous, { task, submitted: new Date().toISOString(), ids, commands });
  return { folder, jobs, ids, skipped, commands };
}
