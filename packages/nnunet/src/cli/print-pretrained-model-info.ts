#!/usr/bin/env node
import { NnunetError } from '../errors.js';
import { findPretrainedModel } from '../sharing/pretrained-models.js';
import type { CommandSpec } from './args.js';
import { runCommand } from './run.js';

const spec: CommandSpec = {
  name: 'nnUNet_print_pretrained_model_info',
  summary:
    'usage: nnUNet_print_pretrained_model_info TASK_NAME\n' +
    'Prints what a published pretrained model expects (dataset, input modalities, licence).',
  options: {},
};

// v1 takes the task name as its only positional argument.
const task = process.argv[2];
if (task !== undefined && !task.startsWith('-')) process.argv.splice(2, 1);

await runCommand(spec, async () => {
  if (task === undefined || task.startsWith('-')) {
    throw new NnunetError(
      'ERR_ARGUMENT',
      'give the task name, e.g. nnUNet_print_pretrained_model_info Task004_Hippocampus.',
    );
  }
  const model = findPretrainedModel(task);
  if (model === undefined) {
    throw new NnunetError(
      'ERR_NOT_FOUND',
      `${task} is not a published pretrained model: run nnUNet_print_available_pretrained_models for the task names.`,
    );
  }
  process.stdout.write(`${model.description}\n`);
});
