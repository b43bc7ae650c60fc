#!/usr/bin/env node
import { requireEnvFolder } from '../model/paths.js';
import { installModelFromZip } from '../sharing/install.js';
import { defineCommand } from './args.js';
import { OVERWRITE_OPTION } from './download-common.js';
import { ProgressBar } from './progress.js';
import { runCommand } from './run.js';

const command = defineCommand({
  name: 'nnUNet_install_pretrained_model_from_zip',
  summary:
    'Installs a model archive (made by nnUNet_export_model_to_zip, ours or v1) into $RESULTS_FOLDER/nnUNet.\n' +
    'The archive is checked completely before anything is moved into place.',
  example: 'nnUNet_install_pretrained_model_from_zip MODEL.zip',
  positionals: [{ key: 'zip', name: 'ZIP', help: 'the model archive' }],
  options: { overwrite: OVERWRITE_OPTION },
});

await runCommand(command, async ({ zip, overwrite }) => {
  const results = requireEnvFolder('RESULTS_FOLDER');
  const bar = new ProgressBar('extracting');
  let last: [number, number] = [0, 0];
  const r = await installModelFromZip(zip, {
    resultsFolder: results,
    overwrite,
    onProgress: (d, t) => {
      last = [d, t];
      bar.update(d, t);
    },
  });
  bar.finish(...last);
  for (const f of r.installed) {
    process.stdout.write(`${r.replaced.includes(f) ? 'replaced' : 'installed'} ${f}\n`);
  }
});
