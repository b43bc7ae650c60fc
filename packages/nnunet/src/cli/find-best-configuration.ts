#!/usr/bin/env node
import { DEFAULT_CASCADE_TRAINER, DEFAULT_PLANS_IDENTIFIER, DEFAULT_TRAINER } from '../model/layout.js';
import { requireEnvFolder, resolveTaskName } from '../model/paths.js';
import { DEFAULT_FOLDS, parseFolds } from '../postprocessing/consolidate.js';
import { findBestConfiguration } from '../selection/find-best.js';
import { defineCommand } from './args.js';
import { runCommand } from './run.js';

const command = defineCommand({
  name: 'nnUNet_find_best_configuration',
  summary:
    'Picks what to use for test cases from the 5-fold cross-validation of the trained configurations: each\n' +
    "configuration's postprocessing is determined, every pair is ensembled from the validation softmax\n" +
    '(nnUNet_train --npz), and the best mean foreground Dice wins. Prints the commands to predict with it and\n' +
    'writes $RESULTS_FOLDER/nnUNet/ensembles/TASK/summary.csv and prediction_commands.txt.',
  options: {
    configurations: {
      flag: '-m',
      aliases: ['--models'],
      type: 'strings',
      help: 'configurations (default 2d 3d_lowres 3d_fullres 3d_cascade_fullres)',
    },
    tasks: { flag: '-t', type: 'strings', help: 'task id(s) or name(s)', required: true },
    trainer: { flag: '-tr', type: 'string', help: `trainer (default ${DEFAULT_TRAINER})` },
    cascadeTrainer: {
      flag: '-ctr',
      type: 'string',
      help: `trainer of 3d_cascade_fullres (default ${DEFAULT_CASCADE_TRAINER})`,
    },
    plansIdentifier: { flag: '-pl', type: 'string', help: `plans identifier (default ${DEFAULT_PLANS_IDENTIFIER})` },
    folds: { flag: '-f', type: 'strings', help: 'folds', parse: parseFolds, default: DEFAULT_FOLDS },
    disableEnsembling: { flag: '--disable_ensembling', type: 'flag', help: 'only compare single configurations' },
    disablePostprocessing: { flag: '--disable_postprocessing', type: 'flag', help: 'do not determine postprocessing' },
    strict: {
      flag: '--strict',
      type: 'flag',
      help: 'fail when a requested configuration, fold or softmax is missing (default: leave it out with a warning)',
    },
  },
});

await runCommand(command, async (args) => {
  const results = requireEnvFolder('RESULTS_FOLDER');
  const { configurations, trainer, cascadeTrainer, plansIdentifier } = args;
  for (const t of args.tasks) {
    const task = resolveTaskName(t);
    const r = await findBestConfiguration({
      resultsFolder: results,
      task,
      ...(configurations !== undefined ? { configurations } : {}),
      ...(trainer !== undefined ? { trainer } : {}),
      ...(cascadeTrainer !== undefined ? { cascadeTrainer } : {}),
      ...(plansIdentifier !== undefined ? { plansIdentifier } : {}),
      folds: args.folds,
      disableEnsembling: args.disableEnsembling,
      disablePostprocessing: args.disablePostprocessing,
      strict: args.strict,
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
