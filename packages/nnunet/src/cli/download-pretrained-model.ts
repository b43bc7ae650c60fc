#!/usr/bin/env node
import { NnunetError } from '../errors.js';
import { findPretrainedModel, LICENSE_WARNING } from '../sharing/pretrained-models.js';
import { defineCommand } from './args.js';
import { downloadCommand, OVERWRITE_OPTION } from './download-common.js';
import { runCommand } from './run.js';

const command = defineCommand({
  name: 'nnUNet_download_pretrained_model',
  summary:
    'Downloads one of the pretrained models listed by nnUNet_print_available_pretrained_models and\n' +
    'installs it into $RESULTS_FOLDER/nnUNet (an interrupted download resumes when run again).',
  example: 'nnUNet_download_pretrained_model Task004_Hippocampus',
  positionals: [{ key: 'task', name: 'TASK_NAME', help: 'the task name' }],
  options: { overwrite: OVERWRITE_OPTION },
});

await runCommand(command, async ({ task, overwrite }) => {
  const model = findPretrainedModel(task);
  if (model === undefined) {
    throw new NnunetError(
      'ERR_ARGUMENT',
      `The pretrained model "${task}" is not available: run nnUNet_print_available_pretrained_models for the task names.`,
    );
  }
  process.stdout.write(LICENSE_WARNING);
  for (const url of model.urls) await downloadCommand(url, overwrite);
});
