#!/usr/bin/env node
import { DEFAULT_CASCADE_TRAINER, DEFAULT_PLANS_IDENTIFIER, DEFAULT_TRAINER } from '../model/layout.js';
import { requireEnvFolder, resolveTaskName } from '../model/paths.js';
import { DEFAULT_FOLDS, parseFolds } from '../postprocessing/consolidate.js';
import { findBestConfiguration } from '../selection/find-best.js';
import type { CommandSpec } from './args.js';
import { runCommand } from './run.js';

const spec: CommandSpec = {
  name: 'nnUNet_find_best_configuration',
  summary:
    'Picks what to use for test cases from the 5-fold cross-validation of the trained configurations: each\n' +
    "configuration's postprocessing is determined, every pair is ensembled from the validation softmax\n" +
    '(nnUNet_train --npz), and the best mean foreground Dice wins. Prints the commands to predict with it and\n' +
    'writes $RESULTS_FOLDER/nnUNet/ensembles/TASK/summary.csv and prediction_commands.txt.',
  options: {
    '-m': { kind: 'strings', help: 'configurations (default 2d 3d_lowres 3d_fullres 3d_cascade_fullres)' },
    '--models': { kind: 'strings', help: 'same as -m' },
    '-t': { kind: 'strings', help: 'task id(s) or name(s)', required: true },
    '-tr': { kind: 'string', help: `trainer (default ${DEFAULT_TRAINER})` },
    '-ctr': { kind: 'string', help: `trainer of 3d_cascade_fullres (default ${DEFAULT_CASCADE_TRAINER})` },
    '-pl': { kind: 'string', help: `plans identifier (default ${DEFAULT_PLANS_IDENTIFIER})` },
    '-f': { kind: 'strings', help: `folds (default ${DEFAULT_FOLDS.join(' ')})` },
    '--disable_ensembling': { kind: 'flag', help: 'only compare single configurations' },
    '--disable_postprocessing': { kind: 'flag', help: 'do not determine postprocessing' },
    '--strict': {
      kind: 'flag',
      help: 'fail when a requested configuration, fold or softmax is missing (default: leave it out with a warning)',
    },
  },
};

await runCommand(spec, async (args) => {
  const results = requireEnvFolder('RESULTS_FOLDER');
  const configurations = (args.get('-m') ?? args.get('--models')) as string[] | undefined;
  const folds = args.has('-f') ? parseFolds(args.get('-f') as string[]) : DEFAULT_FOLDS;
  for (const t of args.get('-t') as string[]) {
    const task = resolveTaskName(t);
    const r = await findBestConfiguration({
      resultsFolder: results,
      task,
      ...(configurations !== undefined ? { configurations } : {}),
      ...(args.has('-tr') ? { trainer: args.get('-tr') as string } : {}),
      ...(args.has('-ctr') ? { cascadeTrainer: args.get('-ctr') as string } : {}),
      ...(args.has('-pl') ? { plansIdentifier: args.get('-pl') as string } : {}),
      folds,
      disableEnsembling: args.get('--disable_ensembling') === true,
      disablePostprocessing: args.get('--disable_postprocessing') === true,
      strict: args.get('--strict') === true,
      log: (line) => process.stderr.write(`${line}\n`),
    });
    const width = Math.max(...r.candidates.map((c) => c.name.length));
    const lines = [`${task}: mean foreground Dice of the cross-validation (raw predictions)`];
    for (const c of r.candidates) {
      const mark = r.winners.includes(c) ? '  <- best' : '';
      lines.push(`  ${c.name.padEnd(width)}  ${c.meanForegroundDice.toFixed(4)}${mark}`);
    }
    for (const s of r.skipped) lines.push(`  ${s.name}: left out (${s.reason})`);
    for (const p of r.plan) {
      lines.push('', `Use ${p.candidate.name}. To predict test cases, run in this order (replace the folder names):`);
      lines.push(...p.commands);
    }
    lines.push('', `Written: ${r.summaryCsvPath}`, `         ${r.commandsPath}`);
    process.stdout.write(`${lines.join('\n')}\n`);
  }
});
