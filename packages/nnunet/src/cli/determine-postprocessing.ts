#!/usr/bin/env node
import { parseConfiguration } from '../model/configuration.js';
import {
  DEFAULT_CASCADE_TRAINER,
  DEFAULT_PLANS_IDENTIFIER,
  DEFAULT_TRAINER,
  trainerFolderPath,
} from '../model/layout.js';
import { requireEnvFolder, resolveTaskName } from '../model/paths.js';
import { consolidateFolds, DEFAULT_FOLDS, groundTruthFolder, parseFolds } from '../postprocessing/consolidate.js';
import { defineCommand } from './args.js';
import { runCommand } from './run.js';

const command = defineCommand({
  name: 'nnUNet_determine_postprocessing',
  summary:
    "Determines the postprocessing of a trained configuration from its cross-validation: the folds'\n" +
    'validation_raw predictions are gathered into TRAINER/cv_niftis_raw and evaluated, then keeping only the\n' +
    'largest connected component (of the whole foreground, then per class) is tried and kept where Dice improves.\n' +
    'Writes TRAINER/postprocessing.json (used by nnUNet_predict) and TRAINER/cv_niftis_postprocessed.',
  options: {
    configuration: {
      flag: '-m',
      type: 'string',
      help: '2d, 3d_lowres, 3d_fullres or 3d_cascade_fullres',
      parse: parseConfiguration,
      required: true,
    },
    task: { flag: '-t', type: 'string', help: 'task id or name', required: true },
    trainer: {
      flag: '-tr',
      type: 'string',
      help: `trainer (default ${DEFAULT_TRAINER}, or ${DEFAULT_CASCADE_TRAINER} for 3d_cascade_fullres)`,
    },
    plansIdentifier: { flag: '-pl', type: 'string', help: 'plans identifier', default: DEFAULT_PLANS_IDENTIFIER },
    validationFolder: {
      flag: '-val',
      type: 'string',
      help: 'validation folder name of the folds',
      default: 'validation_raw',
    },
    folds: { flag: '-f', type: 'strings', help: 'folds', parse: parseFolds, default: DEFAULT_FOLDS },
  },
});

await runCommand(command, async (args) => {
  const m = args.configuration;
  const results = requireEnvFolder('RESULTS_FOLDER');
  const task = resolveTaskName(args.task);
  const trainer = args.trainer ?? (m === '3d_cascade_fullres' ? DEFAULT_CASCADE_TRAINER : DEFAULT_TRAINER);
  const folder = trainerFolderPath(results, m, task, trainer, args.plansIdentifier);
  const r = await consolidateFolds(folder, {
    validationFolder: args.validationFolder,
    folds: args.folds,
    gtFolder: groundTruthFolder(folder, task),
    log: (line) => process.stderr.write(`${line}\n`),
  });
  const json = r.decision.json;
  const lines = ['class  Dice raw  after fg step  after per-class step'];
  for (const c of Object.keys(json.dc_per_class_raw)) {
    const f = (v: number | undefined) => (v === undefined ? '-' : Number.isNaN(v) ? 'nan' : v.toFixed(4));
    lines.push(
      `${c.padEnd(5)}  ${f(json.dc_per_class_raw[c]).padEnd(8)}  ${f(json.dc_per_class_pp_all[c]).padEnd(13)}  ${f(json.dc_per_class_pp_per_class[c])}`,
    );
  }
  lines.push(`for_which_classes: ${JSON.stringify(json.for_which_classes)}`);
  lines.push(`${r.decision.path}`);
  lines.push(`${r.decision.finalSummaryPath}`);
  process.stdout.write(`${lines.join('\n')}\n`);
});
