#!/usr/bin/env node
import { requireEnvFolder } from '../model/paths.js';
import { DEFAULT_MAX_COMPRESSION_RATIO, DEFAULT_MAX_INSTALL_BYTES, installModelFromZip } from '../sharing/install.js';
import { defineCommand } from './args.js';
import { OVERWRITE_OPTION } from './download-common.js';
import { ProgressBar } from './progress.js';
import { runCommand } from './run.js';

const command = defineCommand({
  name: 'nnUNet_install_pretrained_model_from_zip',
  summary:
    'Installs a model archive (made by nnUNet_export_model_to_zip, ours or v1) into $RESULTS_FOLDER/nnUNet.\n' +
    'The archive is checked completely before anything is moved into place. It may unpack to at most\n' +
    `${DEFAULT_MAX_INSTALL_BYTES / 1024 ** 3} GiB and expand at most ${DEFAULT_MAX_COMPRESSION_RATIO}-fold (zip bombs are refused), and hold only what model folders\n` +
    'hold: plans.json or plans.pkl, postprocessing.json, and fold_N/ folders with checkpoints, debug.json,\n' +
    'progress.png and network_architecture.pdf; other files are refused unless --allow_unknown_files.',
  example: 'nnUNet_install_pretrained_model_from_zip MODEL.zip',
  positionals: [{ key: 'zip', name: 'ZIP', help: 'the model archive' }],
  options: {
    overwrite: OVERWRITE_OPTION,
    allowUnknownFiles: {
      flag: '--allow_unknown_files',
      type: 'flag',
      help: 'also install files that are not part of an nnU-Net model (they are listed)',
    },
  },
});

await runCommand(command, async ({ zip, overwrite, allowUnknownFiles }) => {
  const results = requireEnvFolder('RESULTS_FOLDER');
  const bar = new ProgressBar('extracting');
  let last: [number, number] = [0, 0];
  const r = await installModelFromZip(zip, {
    resultsFolder: results,
    overwrite,
    allowUnknownFiles,
    onProgress: (d, t) => {
      last = [d, t];
      bar.update(d, t);
    },
  });
  bar.finish(...last);
  if (r.unknownFiles.length > 0) {
    process.stderr.write(
      `warning: installed ${r.unknownFiles.length} ${r.unknownFiles.length === 1 ? 'file that is' : 'files that are'} not part of an nnU-Net model:\n${r.unknownFiles.map((f) => `  ${f}\n`).join('')}`,
    );
  }
  for (const f of r.installed) {
    process.stdout.write(`${r.replaced.includes(f) ? 'replaced' : 'installed'} ${f}\n`);
  }
});
