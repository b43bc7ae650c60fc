#!/usr/bin/env node
import { NnunetError } from '../errors.js';
import type { CommandSpec } from './args.js';
import { DOWNLOAD_OPTIONS, downloadCommand, positionalArgs } from './download-common.js';
import { runCommand } from './run.js';

const spec: CommandSpec = {
  name: 'nnUNet_download_pretrained_model_by_url',
  summary:
    'Argument: URL of the model archive.\n' +
    'Downloads a model archive (made by nnUNet_export_model_to_zip) and installs it into\n' +
    '$RESULTS_FOLDER/nnUNet. For the published models use nnUNet_download_pretrained_model.',
  options: DOWNLOAD_OPTIONS,
};

const positional = positionalArgs();
await runCommand(spec, async (args) => {
  if (positional.length !== 1) {
    throw new NnunetError(
      'ERR_ARGUMENT',
      `Give exactly one URL (got ${positional.length}): nnUNet_download_pretrained_model_by_url URL.`,
    );
  }
  await downloadCommand(positional[0] as string, args);
});
