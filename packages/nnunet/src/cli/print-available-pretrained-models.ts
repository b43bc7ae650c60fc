#!/usr/bin/env node
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { NnunetError } from '../errors.js';
import { availableModelsJson, availableModelsText } from '../sharing/pretrained-models.js';
import { writeFileAtomic } from '../util/atomic.js';
import { defineCommand } from './args.js';
import { runCommand } from './run.js';

const command = defineCommand({
  name: 'nnUNet_print_available_pretrained_models',
  summary: 'Lists the pretrained models nnU-Net v1 published (install one with nnUNet_download_pretrained_model TASK).',
  options: {
    exportFolder: {
      flag: '--export',
      type: 'string',
      help: 'existing folder to also save the list to as available_models.json',
    },
  },
});

await runCommand(command, async (args) => {
  const folder = args.exportFolder;
  if (folder !== undefined && !(existsSync(folder) && statSync(folder).isDirectory())) {
    throw new NnunetError('ERR_ARGUMENT', `--export ${folder} is not a folder: give an existing folder.`);
  }
  process.stdout.write(availableModelsText());
  if (folder !== undefined) {
    const path = join(folder, 'available_models.json');
    writeFileAtomic(path, availableModelsJson());
    process.stdout.write(`Data successfully exported to ${path}\n`);
  }
});
