#!/usr/bin/env node
import { ensembleFolders } from '../inference/ensemble.js';
import { defineCommand } from './args.js';
import { ProgressBar } from './progress.js';
import { runCommand } from './run.js';

const command = defineCommand({
  name: 'nnUNet_ensemble',
  summary:
    'Averages the softmax (.npz, from nnUNet_predict -z) of the same cases in several prediction folders and\n' +
    "writes the argmax segmentations with each case's original geometry. With -pp, the postprocessing.json\n" +
    'named by nnUNet_find_best_configuration is applied (raw ensemble in OUTPUT/not_postprocessed).',
  options: {
    folders: {
      flag: '-f',
      aliases: ['--folders'],
      type: 'strings',
      help: 'prediction folders holding CASE.npz and CASE.json',
      required: true,
    },
    output: { flag: '-o', aliases: ['--output_folder'], type: 'string', help: 'output folder', required: true },
    postprocessingFile: {
      flag: '-pp',
      aliases: ['--postprocessing_file'],
      type: 'string',
      help: 'postprocessing.json to apply (strongly recommended)',
    },
    threads: { flag: '-t', aliases: ['--threads'], type: 'int', help: 'worker threads', default: 2, min: 1 },
    npz: { flag: '--npz', type: 'flag', help: 'also save the averaged softmax as CASE.npz (+ CASE.json)' },
  },
});

await runCommand(command, async (args) => {
  const { folders, output, postprocessingFile: pp } = args;
  if (pp === undefined) process.stderr.write('no -pp given: the ensemble is not postprocessed\n');
  const bar = new ProgressBar('ensembling');
  let last: [number, number] = [0, 0];
  const r = await ensembleFolders(folders, output, {
    ...(pp !== undefined ? { postprocessingFile: pp } : {}),
    storeNpz: args.npz,
    workers: args.threads,
    onProgress: (d, t) => {
      last = [d, t];
      bar.update(d, t);
    },
  });
  bar.finish(...last);
  process.stdout.write(`${r.cases.length} case(s) ensembled from ${folders.length} folders into ${r.outputFolder}\n`);
});
