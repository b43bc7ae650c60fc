#!/usr/bin/env node
import { defineCommand } from './args.js';
import { downloadCommand, OVERWRITE_OPTION } from './download-common.js';
import { runCommand } from './run.js';

const command = defineCommand({
  name: 'nnUNet_download_pretrained_model_by_url',
  summary:
    'Downloads a model archive (made by nnUNet_export_model_to_zip) and installs it into\n' +
    '$RESULTS_FOLDER/nnUNet. For the published models use nnUNet_download_pretrained_model.',
  example: 'nnUNet_download_pretrained_model_by_url https://example.org/Task004_Hippocampus.zip',
  positionals: [{ key: 'url', name: 'URL', help: 'the URL of the model archive' }],
  options: { overwrite: OVERWRITE_OPTION },
});

await runCommand(command, async ({ url, overwrite }) => {
  await downloadCommand(url, overwrite);
});
