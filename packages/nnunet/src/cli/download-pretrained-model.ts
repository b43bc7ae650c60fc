#!/usr/bin/env node
import { NnunetError } from '../errors.js';
import { findPretrainedModel, LICENSE_WARNING } from '../sharing/pretrained-models.js';
import type { CommandSpec } from './args.js';
import { DOWNLOAD_OPTIONS, downloadCommand, positionalArgs } from './download-common.js';
import { runCommand } from './run.js';

const spec: CommandSpec = {
  name: 'nnUNet_download_pretrained_model',
  summary:
    'Argument: TASK_NAME, e.g. Task004_Hippocampus.\n' +
    'Downloads one of the pretrained models listed by nnUNet_print_available_pretrained_models and\n' +
    'installs it into $RESULTS_FOLDER/nnUNet (an interrupted download resumes when run again).',
  options: DOWNLOAD_OPTIONS,
};

const positional = positionalArgs();

await runCommand(spec, async (args) => {
  if (positional.length !== 1) {
    throw new NnunetError(
      'ERR_ARGUMENT',
      `Give exactly one task name (got ${positional.length}), e.g. nnUNet_download_pretrained_model Task004_Hippocampus.`,
    );
  }
  const task = positional[0] as string;
  const model = findPretrainedModel(task);
  if (model === undefined) {
    throw new NnunetError(
      'ERR_ARGUMENT',
      `The pretrained model "${task}" is not available: run nnUNet_print_available_pretrained_models for the task names.`,
    );
  }
  process.stdout.write(LICENSE_WARNING);
  for (const url of model.urls) await downloadCommand(url, args);
});
