#!/usr/bin/env node
import { compressNiftiFolder } from '../io/compress.js';
import { defineCommand } from './args.js';
import { ProgressBar } from './progress.js';
import { runCommand } from './run.js';

const command = defineCommand({
  name: 'nnUNet_compress_nifti_folder',
  summary:
    'Gzips every .nii in a folder to .nii.gz (byte-exact, verified before it is kept). The originals stay\n' +
    'unless --remove_originals is given, and are removed only after their .nii.gz checked out.',
  options: {
    folder: { flag: '-i', type: 'string', help: 'folder with .nii files', required: true },
    removeOriginals: {
      flag: '--remove_originals',
      type: 'flag',
      help: 'delete each .nii once its .nii.gz is verified',
    },
  },
});

await runCommand(command, async (args) => {
  const bar = new ProgressBar('compressing');
  let last: [number, number] = [0, 0];
  const r = compressNiftiFolder(args.folder, {
    removeOriginals: args.removeOriginals,
    onProgress: (d, t) => {
      last = [d, t];
      bar.update(d, t);
    },
  });
  bar.finish(...last);
  process.stdout.write(
    `${r.compressed.length} compressed, ${r.skipped.length} already done, ${r.removed.length} originals removed\n`,
  );
});
