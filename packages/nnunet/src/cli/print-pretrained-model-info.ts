#!/usr/bin/env node
import { NnunetError } from '../errors.js';
import { findPretrainedModel } from '../sharing/pretrained-models.js';
import { defineCommand } from './args.js';
import { runCommand } from './run.js';

const command = defineCommand({
  name: 'nnUNet_print_pretrained_model_info',
  summary: 'Prints what a published pretrained model expects (dataset, input modalities, licence).',
  example: 'nnUNet_print_pretrained_model_info Task004_Hippocampus',
  positionals: [{ key: 'task', name: 'TASK_NAME', help: 'the task name' }],
  options: {},
});

await runCommand(command, async ({ task }) => {
  const model = findPretrainedModel(task);
  if (model === undefined) {
    throw new NnunetError(
      'ERR_NOT_FOUND',
      `${task} is not a published pretrained model: run nnUNet_print_available_pretrained_models for the task names.`,
    );
  }
  process.stdout.write(`${model.description}\n`);
});
