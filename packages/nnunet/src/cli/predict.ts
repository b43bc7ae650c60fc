#!/usr/bin/env node
import { availableParallelism } from 'node:os';
import { setNumThreads } from '@nnunet/torch';
import { NnunetError } from '../errors.js';
import { parseConfiguration } from '../model/configuration.js';
import { DEFAULT_CASCADE_TRAINER, DEFAULT_PLANS_IDENTIFIER, DEFAULT_TRAINER } from '../model/layout.js';
import { predictTask } from '../pipeline/predict.js';
import type { CommandSpec } from './args.js';
import { ProgressBar } from './progress.js';
import { runCommand } from './run.js';

const spec: CommandSpec = {
  name: 'nnUNet_predict',
  summary:
    'Segments every case of an input folder (CASE_XXXX.nii.gz, one file per modality) with a trained model\n' +
    'from $RESULTS_FOLDER/nnUNet/<-m>/<task>/<-tr>__<-p>/, averaging the selected folds.\n' +
    '-m 3d_cascade_fullres uses <-ctr>__<-p> and the 3d_lowres segmentations of -l; without -l the\n' +
    '3d_lowres model (<-tr>) predicts them first into OUTPUT/3d_lowres_predictions.',
  options: {
    '-i': { kind: 'string', help: 'input folder', required: true },
    '-o': { kind: 'string', help: 'output folder (created if needed)', required: true },
    '-t': { kind: 'string', help: 'task id or name', required: true },
    '-tr': {
      kind: 'string',
      help: `trainer class (default ${DEFAULT_TRAINER}); with 3d_cascade_fullres and no -l, the 3d_lowres trainer`,
    },
    '-ctr': { kind: 'string', help: `cascade trainer for 3d_cascade_fullres (default ${DEFAULT_CASCADE_TRAINER})` },
    '-m': { kind: 'string', help: '2d, 3d_lowres, 3d_fullres or 3d_cascade_fullres (default 3d_fullres)' },
    '-p': { kind: 'string', help: `plans identifier (default ${DEFAULT_PLANS_IDENTIFIER})` },
    '-f': { kind: 'strings', help: 'folds to use (default: all trained folds)' },
    '-z': { kind: 'flag', help: 'also save the softmax as CASE.npz (for nnUNet_ensemble)' },
    '--save_npz': { kind: 'flag', help: 'same as -z' },
    '-l': {
      kind: 'string',
      help: '3d_cascade_fullres: folder of the 3d_lowres segmentations (CASE.nii.gz); default: predict them first',
    },
    '--part_id': { kind: 'int', help: 'predict only part PART_ID of NUM_PARTS (for parallel jobs)' },
    '--num_parts': { kind: 'int', help: 'number of parts' },
    '--num_threads_preprocessing': { kind: 'int', help: 'accepted for v1 compatibility' },
    '--num_threads_nifti_save': { kind: 'int', help: 'accepted for v1 compatibility' },
    '--disable_tta': { kind: 'flag', help: 'no test-time mirroring (8x faster in 3-D)' },
    '--overwrite_existing': { kind: 'flag', help: 'predict cases whose output already exists' },
    '--mode': { kind: 'string', help: 'accepted for v1 compatibility (normal)' },
    '--all_in_gpu': { kind: 'string', help: 'accepted for v1 compatibility' },
    '--step_size': { kind: 'string', help: 'sliding-window step as a fraction of the patch (default 0.5)' },
    '-chk': { kind: 'string', help: 'checkpoint name (default model_final_checkpoint)' },
    '--disable_mixed_precision': { kind: 'flag', help: 'predict in float32 (the CPU default)' },
    '--disable_postprocessing': {
      kind: 'flag',
      help: "do not apply the model's postprocessing.json (applied by default, as v1 does)",
    },
    '--device': { kind: 'string', help: 'cpu or cuda (default cpu)' },
  },
};

await runCommand(spec, async (args) => {
  // LibTorch starts with one intra-op thread here; use every core unless OMP_NUM_THREADS says otherwise.
  setNumThreads(Number(process.env.OMP_NUM_THREADS) || availableParallelism());
  const configuration = parseConfiguration((args.get('-m') as string | undefined) ?? '3d_fullres', '-m');
  const device = (args.get('--device') as string | undefined) ?? 'cpu';
  if (device !== 'cpu' && device !== 'cuda')
    throw new NnunetError('ERR_ARGUMENT', `--device must be cpu or cuda, got "${device}".`);
  const step = Number((args.get('--step_size') as string | undefined) ?? '0.5');
  if (!(step > 0 && step <= 1))
    throw new NnunetError('ERR_ARGUMENT', `--step_size must be in (0, 1], got ${args.get('--step_size')}.`);
  const output = args.get('-o') as string;
  let bar: ProgressBar | undefined;
  let last: [number, number] = [0, 0];
  const closeBar = () => {
    if (bar) bar.finish(...last);
    bar = undefined;
  };
  const written = await predictTask({
    input: args.get('-i') as string,
    output,
    task: args.get('-t') as string,
    configuration,
    ...(args.has('-tr') ? { trainer: args.get('-tr') as string } : {}),
    ...(args.has('-ctr') ? { cascadeTrainer: args.get('-ctr') as string } : {}),
    ...(args.has('-p') ? { plansIdentifier: args.get('-p') as string } : {}),
    ...(args.has('-l') ? { lowresSegmentations: args.get('-l') as string } : {}),
    ...(args.has('-f') ? { folds: args.get('-f') as string[] } : {}),
    ...(args.has('-chk') ? { checkpoint: args.get('-chk') as string } : {}),
    ...(args.has('--part_id') ? { partId: args.get('--part_id') as number } : {}),
    ...(args.has('--num_parts') ? { numParts: args.get('--num_parts') as number } : {}),
    saveNpz: args.get('-z') === true || args.get('--save_npz') === true,
    overwriteExisting: args.get('--overwrite_existing') === true,
    mirror: args.get('--disable_tta') !== true,
    mixedPrecision: device === 'cuda' && args.get('--disable_mixed_precision') !== true,
    device,
    stepSize: step,
    postprocessing: args.get('--disable_postprocessing') !== true,
    log: (line: string) => {
      // Close the case's progress bar first so the message gets its own line.
      closeBar();
      process.stderr.write(`${line}\n`);
    },
    onPass: (pass, folder) => {
      closeBar();
      if (pass === 'lowres')
        process.stderr.write(`no -l: predicting the 3d_lowres segmentations into ${folder} first\n`);
    },
    onCase: (id: string, i: number, total: number, skipped: boolean) => {
      closeBar();
      if (skipped) process.stderr.write(`${id}: output exists, skipped (use --overwrite_existing)\n`);
      else bar = new ProgressBar(`case ${i + 1}/${total} ${id}`);
    },
    onProgress: (d: number, t: number) => {
      last = [d, t];
      bar?.update(d, t);
    },
  });
  closeBar();
  process.stdout.write(`${written.length} case(s) written to ${output}\n`);
});
