#!/usr/bin/env node
import { NnunetError } from '../errors.js';
import { ensembleFolders } from '../inference/ensemble.js';
import type { CommandSpec } from './args.js';
import { ProgressBar } from './progress.js';
import { runCommand } from './run.js';

const spec: CommandSpec = {
  name: 'nnUNet_ensemble',
  summary:
    'Averages the softmax (.npz, from nnUNet_predict -z) of the same cases in several prediction folders and\n' +
    "writes the argmax segmentations with each case's original geometry. With -pp, the postprocessing.json\n" +
    'named by nnUNet_find_best_configuration is applied (raw ensemble in OUTPUT/not_postprocessed).',
  options: {
    '-f': { kind: 'strings', help: 'prediction folders holding CASE.npz and CASE.json', required: false },
    '--folders': { kind: 'strings', help: 'same as -f' },
    '-o': { kind: 'string', help: 'output folder' },
    '--output_folder': { kind: 'string', help: 'same as -o' },
    '-pp': { kind: 'string', help: 'postprocessing.json to apply (strongly recommended)' },
    '--postprocessing_file': { kind: 'string', help: 'same as -pp' },
    '-t': { kind: 'int', help: 'worker threads (default 2)' },
    '--threads': { kind: 'int', help: 'same as -t' },
    '--npz': { kind: 'flag', help: 'also save the averaged softmax as CASE.npz (+ CASE.json)' },
  },
};

await runCommand(spec, async (args) => {
  const folders = (args.get('-f') ?? args.get('--folders')) as string[] | undefined;
  const output = (args.get('-o') ?? args.get('--output_folder')) as string | undefined;
  if (folders === undefined || output === undefined) {
    throw new NnunetError('ERR_ARGUMENT', `-f FOLDER [FOLDER ...] and -o OUTPUT are required (see ${spec.name} -h).`);
  }
  const pp = (args.get('-pp') ?? args.get('--postprocessing_file')) as string | undefined;
  const threads = (args.get('-t') ?? args.get('--threads') ?? 2) as number;
  if (threads < 1) throw new NnunetError('ERR_ARGUMENT', `-t must be at least 1, got ${threads}.`);
  if (pp === undefined) process.stderr.write('no -pp given: the ensemble is not postprocessed\n');
  const bar = new ProgressBar('ensembling');
  let last: [number, number] = [0, 0];
  const r = await ensembleFolders(folders, output, {
    ...(pp !== undefined ? { postprocessingFile: pp } : {}),
    storeNpz: args.get('--npz') === true,
    workers: threads,
    onProgress: (d, t) => {
      last = [d, t];
      bar.update(d, t);
    },
  });
  bar.finish(...last);
  process.stdout.write(`${r.cases.length} case(s) ensembled from ${folders.length} folders into ${r.outputFolder}\n`);
});
