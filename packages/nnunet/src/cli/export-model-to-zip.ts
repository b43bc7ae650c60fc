#!/usr/bin/env node
import { CONFIGURATIONS } from '../model/configuration.js';
import { DEFAULT_CASCADE_TRAINER, DEFAULT_PLANS_IDENTIFIER, DEFAULT_TRAINER } from '../model/layout.js';
import { requireEnvFolder, resolveTaskName } from '../model/paths.js';
import { exportModelToZip } from '../sharing/export.js';
import type { CommandSpec } from './args.js';
import { runCommand } from './run.js';

const spec: CommandSpec = {
  name: 'nnUNet_export_model_to_zip',
  summary:
    'Exports the trained models of a task to a zip file for sharing: install it elsewhere with\n' +
    'nnUNet_install_pretrained_model_from_zip, or upload it and share the URL for\n' +
    'nnUNet_download_pretrained_model_by_url. Entries are relative to $RESULTS_FOLDER/nnUNet, as in v1.',
  options: {
    '-t': { kind: 'string', help: 'task name or id', required: true },
    '-o': { kind: 'string', help: 'output file (should end with .zip)', required: true },
    '-m': { kind: 'strings', help: `configurations (default: ${CONFIGURATIONS.join(' ')})` },
    '-tr': { kind: 'string', help: `trainer of 2d, 3d_lowres and 3d_fullres (default ${DEFAULT_TRAINER})` },
    '-trc': { kind: 'string', help: `trainer of 3d_cascade_fullres (default ${DEFAULT_CASCADE_TRAINER})` },
    '-ctr': { kind: 'string', help: 'same as -trc' },
    '-pl': { kind: 'string', help: `plans identifier (default ${DEFAULT_PLANS_IDENTIFIER})` },
    '--disable_strict': {
      kind: 'flag',
      help: 'skip missing configurations and a missing postprocessing.json instead of failing',
    },
    '-f': { kind: 'strings', help: 'folds (default: 0 1 2 3 4)' },
  },
};

await runCommand(spec, async (args) => {
  const results = requireEnvFolder('RESULTS_FOLDER');
  const task = resolveTaskName(args.get('-t') as string);
  const cascade = (args.get('-trc') ?? args.get('-ctr')) as string | undefined;
  const output = args.get('-o') as string;
  const r = await exportModelToZip({
    resultsFolder: results,
    task,
    output,
    ...(args.has('-m') ? { configurations: args.get('-m') as string[] } : {}),
    ...(args.has('-tr') ? { trainer: args.get('-tr') as string } : {}),
    ...(cascade === undefined ? {} : { cascadeTrainer: cascade }),
    ...(args.has('-pl') ? { plansIdentifier: args.get('-pl') as string } : {}),
    ...(args.has('-f') ? { folds: args.get('-f') as string[] } : {}),
    strict: args.get('--disable_strict') !== true,
    log: (line) => process.stderr.write(`${line}\n`),
  });
  process.stdout.write(`${r.folders.length} model folder(s), ${r.entries.length} files written to ${output}\n`);
});
