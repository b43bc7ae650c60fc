#!/usr/bin/env node
import { CONFIGURATIONS } from '../model/configuration.js';
import { DEFAULT_CASCADE_TRAINER, DEFAULT_PLANS_IDENTIFIER, DEFAULT_TRAINER } from '../model/layout.js';
import { requireEnvFolder, resolveTaskName } from '../model/paths.js';
import { exportModelToZip } from '../sharing/export.js';
import { defineCommand } from './args.js';
import { runCommand } from './run.js';

const command = defineCommand({
  name: 'nnUNet_export_model_to_zip',
  summary:
    'Exports the trained models of a task to a zip file for sharing: install it elsewhere with\n' +
    'nnUNet_install_pretrained_model_from_zip, or upload it and share the URL for\n' +
    'nnUNet_download_pretrained_model_by_url. Entries are relative to $RESULTS_FOLDER/nnUNet, as in v1.',
  options: {
    task: { flag: '-t', type: 'string', help: 'task name or id', required: true },
    output: { flag: '-o', type: 'string', help: 'output file (should end with .zip)', required: true },
    configurations: { flag: '-m', type: 'strings', help: `configurations (default: ${CONFIGURATIONS.join(' ')})` },
    trainer: {
      flag: '-tr',
      type: 'string',
      help: `trainer of 2d, 3d_lowres and 3d_fullres (default ${DEFAULT_TRAINER})`,
    },
    cascadeTrainer: {
      flag: '-trc',
      aliases: ['-ctr'],
      type: 'string',
      help: `trainer of 3d_cascade_fullres (default ${DEFAULT_CASCADE_TRAINER})`,
    },
    plansIdentifier: { flag: '-pl', type: 'string', help: `plans identifier (default ${DEFAULT_PLANS_IDENTIFIER})` },
    disableStrict: {
      flag: '--disable_strict',
      type: 'flag',
      help: 'skip missing configurations and a missing postprocessing.json instead of failing',
    },
    folds: { flag: '-f', type: 'strings', help: 'folds (default: 0 1 2 3 4)' },
  },
});

await runCommand(command, async (args) => {
  const results = requireEnvFolder('RESULTS_FOLDER');
  const task = resolveTaskName(args.task);
  const { output, configurations, trainer, cascadeTrainer, plansIdentifier, folds } = args;
  const r = await exportModelToZip({
    resultsFolder: results,
    task,
    output,
    ...(configurations !== undefined ? { configurations } : {}),
    ...(trainer !== undefined ? { trainer } : {}),
    ...(cascadeTrainer !== undefined ? { cascadeTrainer } : {}),
    ...(plansIdentifier !== undefined ? { plansIdentifier } : {}),
    ...(folds !== undefined ? { folds } : {}),
    strict: !args.disableStrict,
    log: (line) => process.stderr.write(`${line}\n`),
  });
  process.stdout.write(`${r.folders.length} model folder(s), ${r.entries.length} files written to ${output}\n`);
});
