#!/usr/bin/env node
/**
 * `make demo`: nnU-Net's whole workflow on the hippocampus cases bundled in data/Task04_Hippocampus,
 * run through the same commands a user types. A few labelled cases are held out as a test set;
 * the rest become an MSD task that is converted, verified, planned, preprocessed, trained
 * (3d_fullres fold 0 on a short budget; 2d as well with --long), model-selected, and finally
 * used to predict the held-out cases, which are evaluated against their labels. Prints a Dice
 * table and where the overlay PNGs and progress plots are.
 *
 * Everything lives in one workspace folder (default ./demo-output), which is replaced on each run.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineCommand } from '../cli/args.js';
import { runCommand } from '../cli/run.js';
import { NnunetError } from '../errors.js';
import { plotPredictionOverlays } from '../visualisation/overlay.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const CLI_DIR = join(HERE, '..', 'cli');
const REPO_ROOT = resolve(HERE, '..', '..', '..', '..', '..');
const MARKER = '.nnunet-demo-workspace';

export interface DemoBudget {
  epochs: number;
  itersPerEpoch: number;
  valItersPerEpoch: number;
  /** Also train and select among 2d (slow on CPU). */
  with2d: boolean;
}

/**
 * About 15-20 minutes of 3d_fullres training on 2 CPU cores: v1's planner gives the 28-case task
 * batch 2 (its 5%-of-the-dataset cap), ~1.3 s per iteration here.
 */
export const DEFAULT_BUDGET: DemoBudget = { epochs: 30, itersPerEpoch: 25, valItersPerEpoch: 2, with2d: false };
/** `--long`: a few hours on 2 cores; 2d joins the model selection. */
export const LONG_BUDGET: DemoBudget = { epochs: 100, itersPerEpoch: 50, valItersPerEpoch: 5, with2d: true };

export interface DemoOptions {
  workspace: string;
  /** MSD-layout task to draw the cases from. */
  source: string;
  testCases: number;
  /** Training cases (0 = all that are not held out). */
  trainCases: number;
  budget: DemoBudget;
  seed: number;
  log?: (line: string) => void;
  /** Hide the commands' own output (tests). */
  quiet?: boolean;
}

export interface DemoResult {
  budget: DemoBudget;
  /** Mean Dice per label on the held-out cases. */
  dice: Record<string, number>;
  predictionFolder: string;
  overlays: string[];
  progressPlots: string[];
  minutes: number;
}

function prepareWorkspace(ws: string): void {
  if (existsSync(ws)) {
    if (!existsSync(join(ws, MARKER)) && readdirSync(ws).length > 0) {
      throw new NnunetError(
        'ERR_ARGUMENT',
        `${ws} exists and is not a demo workspace (no ${MARKER} file); pass an empty or new folder with --workspace.`,
      );
    }
    rmSync(ws, { recursive: true, force: true });
  }
  mkdirSync(ws, { recursive: true });
  writeFileSync(join(ws, MARKER), 'Created by the nnU-Net TypeScript demo; replaced on every run.\n');
}

/** Splits the bundled cases into an MSD task (training) and a labelled held-out set. */
function stageTask(o: DemoOptions): { msd: string; testLabels: string; testIds: string[] } {
  const ds = JSON.parse(readFileSync(join(o.source, 'dataset.json'), 'utf8')) as Record<string, unknown> & {
    training: { image: string; label: string }[];
  };
  const files = readdirSync(join(o.source, 'imagesTr'))
    .filter((f) => f.endsWith('.nii.gz') && !f.startsWith('.'))
    .sort();
  if (files.length < o.testCases + 4) {
    throw new NnunetError(
      'ERR_DATASET',
      `${o.source}/imagesTr holds ${files.length} cases: the demo needs at least ${o.testCases + 4}.`,
    );
  }
  // Every (len / testCases)-th case is held out, so the test set spans the collection.
  const stride = Math.floor(files.length / o.testCases);
  const test = new Set(files.filter((_, i) => i % stride === stride - 1).slice(0, o.testCases));
  let train = files.filter((f) => !test.has(f));
  if (o.trainCases > 0) train = train.slice(0, o.trainCases);
  const msd = join(o.workspace, 'msd', 'Task04_Hippocampus');
  for (const d of ['imagesTr', 'labelsTr', 'imagesTs']) mkdirSync(join(msd, d), { recursive: true });
  const testLabels = join(o.workspace, 'test_labels');
  mkdirSync(testLabels, { recursive: true });
  for (const f of train) {
    copyFileSync(join(o.source, 'imagesTr', f), join(msd, 'imagesTr', f));
    copyFileSync(join(o.source, 'labelsTr', f), join(msd, 'labelsTr', f));
  }
  for (const f of test) {
    copyFileSync(join(o.source, 'imagesTr', f), join(msd, 'imagesTs', f));
    copyFileSync(join(o.source, 'labelsTr', f), join(testLabels, f));
  }
  ds.training = train.map((f) => ({ image: `./imagesTr/${f}`, label: `./labelsTr/${f}` }));
  ds.numTraining = train.length;
  ds.test = [...test].map((f) => `./imagesTs/${f}`);
  ds.numTest = test.size;
  writeFileSync(join(msd, 'dataset.json'), JSON.stringify(ds, null, 4));
  return {
    msd,
    testLabels,
    testIds: [...test].map((f) => f.replace(/\.nii\.gz$/, '')),
  };
}

/** Runs the whole pipeline; throws NnunetError naming the step that failed. */
export async function runDemo(o: DemoOptions): Promise<DemoResult> {
  const t0 = Date.now();
  const log = o.log ?? ((l: string) => process.stdout.write(`${l}\n`));
  const ws = resolve(o.workspace);
  prepareWorkspace(ws);
  const env = {
    ...process.env,
    nnUNet_raw_data_base: join(ws, 'nnUNet_raw_data_base'),
    nnUNet_preprocessed: join(ws, 'nnUNet_preprocessed'),
    RESULTS_FOLDER: join(ws, 'nnUNet_trained_models'),
  };
  const step = (title: string, command: string, ...args: string[]) => {
    log(`\n=== ${title}\n$ ${command} ${args.join(' ')}`);
    const r = spawnSync(process.execPath, [join(CLI_DIR, `${command}.js`), ...args], {
      env,
      stdio: o.quiet ? ['ignore', 'pipe', 'pipe'] : 'inherit',
      encoding: 'utf8',
    });
    if (r.status !== 0) {
      // Quiet runs hid the command's own one-line error: repeat its last line.
      const said = o.quiet
        ? ` ${
            String(r.stderr ?? '')
              .trim()
              .split('\n')
              .pop() ?? ''
          }`
        : '';
      throw new NnunetError(
        'ERR_PIPELINE',
        `the demo stopped at "${title}" (${command} exited with ${r.status}).${said}`,
      );
    }
  };
  const staged = stageTask({ ...o, workspace: ws });
  const configs = o.budget.with2d ? ['3d_fullres', '2d'] : ['3d_fullres'];
  const b = o.budget;

  step('convert the MSD task to nnU-Net layout', 'convert-decathlon-task', '-i', staged.msd);
  step(
    'verify, fingerprint, plan and preprocess',
    'plan-and-preprocess',
    '-t',
    '4',
    '--verify_dataset_integrity',
    ...(o.budget.with2d ? [] : ['-pl2d', 'None']),
  );
  for (const c of configs) {
    step(
      `train ${c} fold 0 (${b.epochs} epochs x ${b.itersPerEpoch} iterations)`,
      'train',
      c,
      'nnUNetTrainerV2',
      '4',
      '0',
      '--npz',
      '--epochs',
      String(b.epochs),
      '--iters-per-epoch',
      String(b.itersPerEpoch),
      '--val-iters-per-epoch',
      String(b.valItersPerEpoch),
      '--seed',
      String(o.seed),
    );
  }
  step('choose the best configuration', 'find-best-configuration', '-m', ...configs, '-t', '4', '-f', '0');
  const testImages = join(env.nnUNet_raw_data_base, 'nnUNet_raw_data', 'Task004_Hippocampus', 'imagesTs');
  const predictions = join(ws, 'predictions');
  // Run exactly the commands nnUNet_find_best_configuration wrote for its choice.
  const commands = chosenCommands(join(env.RESULTS_FOLDER, 'nnUNet', 'ensembles', 'Task004_Hippocampus'));
  for (const c of commands) {
    const args = c.args.map((a) =>
      a === 'INPUT_FOLDER'
        ? testImages
        : a === 'OUTPUT_FOLDER'
          ? predictions
          : a.startsWith('OUTPUT_FOLDER_')
            ? join(ws, `predictions_${a.slice('OUTPUT_FOLDER_'.length).toLowerCase()}`)
            : a,
    );
    const what = c.command === 'predict' ? `predict the ${staged.testIds.length} held-out cases` : 'ensemble';
    step(what, c.command, ...args);
  }
  step(
    'evaluate against the held-out labels',
    'evaluate-folder',
    '-ref',
    staged.testLabels,
    '-pred',
    predictions,
    '-l',
    '1',
    '2',
  );
  const overlays = join(ws, 'overlays');
  log('\n=== overlay PNGs of the predictions (nnUNet_plot_task_pngs does the same for training cases)');
  // Hippocampus slices are about 35 x 50 voxels: draw each voxel as 6 x 6 pixels.
  const overlayFiles = await plotPredictionOverlays(predictions, testImages, overlays, { scale: 6 });

  const summary = JSON.parse(readFileSync(join(predictions, 'summary.json'), 'utf8')) as {
    results: { mean: Record<string, { Dice?: number }> };
  };
  const dice: Record<string, number> = {};
  for (const [label, m] of Object.entries(summary.results.mean)) dice[label] = m.Dice ?? Number.NaN;
  const progressPlots = configs.map((c) =>
    join(
      env.RESULTS_FOLDER,
      'nnUNet',
      c,
      'Task004_Hippocampus',
      'nnUNetTrainerV2__nnUNetPlansv2.1',
      'fold_0',
      'progress.png',
    ),
  );
  return {
    budget: o.budget,
    dice,
    predictionFolder: predictions,
    overlays: overlayFiles,
    progressPlots: progressPlots.filter((p) => existsSync(p)),
    minutes: (Date.now() - t0) / 60000,
  };
}

/**
 * The commands of the chosen model from prediction_commands.txt (one block per winner: predict
 * lines, then an ensemble line for an ensemble; on a tie v1's pick is the last block).
 */
function chosenCommands(summaryFolder: string): { command: string; args: string[] }[] {
  const file = join(summaryFolder, 'prediction_commands.txt');
  if (!existsSync(file)) {
    throw new NnunetError('ERR_PIPELINE', `${file} was not written by nnUNet_find_best_configuration.`);
  }
  const blocks: string[][][] = [[]];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const words = line
      .trim()
      .split(/\s+/)
      .filter((w) => w.length > 0);
    if (words.length === 0) continue;
    (blocks[blocks.length - 1] as string[][]).push(words);
    // A block ends with the command that writes OUTPUT_FOLDER itself.
    if (words.includes('OUTPUT_FOLDER')) blocks.push([]);
  }
  const last = blocks.filter((b) => b.length > 0).pop() ?? [];
  const names: Record<string, string> = { nnUNet_predict: 'predict', nnUNet_ensemble: 'ensemble' };
  return last.map((words) => {
    const command = names[words[0] as string];
    if (command === undefined) throw new NnunetError('ERR_PIPELINE', `${file}: unexpected command ${words[0]}.`);
    return { command, args: words.slice(1) };
  });
}

const command = defineCommand({
  name: 'nnunet-demo',
  summary:
    'Runs the whole nnU-Net workflow on the bundled hippocampus cases (about 20 minutes on 2 CPU cores):\n' +
    'convert, verify, plan, preprocess, train, choose the configuration, predict held-out cases, evaluate.',
  options: {
    workspace: {
      flag: '--workspace',
      type: 'string',
      help: 'folder for all outputs, replaced on each run (default demo-output)',
    },
    long: { flag: '--long', type: 'flag', help: 'a longer budget (hours): 100 x 50 iterations, 2d as well' },
    epochs: { flag: '--epochs', type: 'int', min: 1, help: `training epochs (default ${DEFAULT_BUDGET.epochs})` },
    itersPerEpoch: {
      flag: '--iters-per-epoch',
      type: 'int',
      min: 1,
      help: `iterations per epoch (default ${DEFAULT_BUDGET.itersPerEpoch})`,
    },
    valItersPerEpoch: {
      flag: '--val-iters-per-epoch',
      type: 'int',
      min: 0,
      help: `validation batches per epoch (default ${DEFAULT_BUDGET.valItersPerEpoch})`,
    },
    testCases: { flag: '--test-cases', type: 'int', min: 1, default: 4, help: 'held-out labelled cases' },
    trainCases: { flag: '--train-cases', type: 'int', min: 0, default: 0, help: 'training cases (0: all others)' },
    seed: { flag: '--seed', type: 'int', default: 12345, help: 'seed of the training run' },
  },
});

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await runCommand(command, async (args) => {
    const base = args.long ? LONG_BUDGET : DEFAULT_BUDGET;
    const budget: DemoBudget = {
      ...base,
      epochs: args.epochs ?? base.epochs,
      itersPerEpoch: args.itersPerEpoch ?? base.itersPerEpoch,
      valItersPerEpoch: args.valItersPerEpoch ?? base.valItersPerEpoch,
    };
    const r = await runDemo({
      workspace: args.workspace ?? join(REPO_ROOT, 'demo-output'),
      source: join(REPO_ROOT, 'data', 'Task04_Hippocampus'),
      testCases: args.testCases,
      trainCases: args.trainCases,
      budget,
      seed: args.seed,
    });
    const names: Record<string, string> = { '1': 'Anterior', '2': 'Posterior' };
    const lines = ['', 'Held-out cases, mean Dice:', 'label  structure   Dice'];
    for (const [l, d] of Object.entries(r.dice)) {
      lines.push(`${l.padEnd(5)}  ${(names[l] ?? '').padEnd(10)}  ${Number.isNaN(d) ? 'nan' : d.toFixed(3)}`);
    }
    lines.push('', `predictions: ${r.predictionFolder}`);
    for (const p of r.progressPlots) lines.push(`progress plot: ${p}`);
    for (const p of r.overlays) lines.push(`overlay: ${p}`);
    lines.push(`finished in ${r.minutes.toFixed(1)} min`);
    process.stdout.write(`${lines.join('\n')}\n`);
  });
}
