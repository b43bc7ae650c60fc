#!/usr/bin/env node
import { availableParallelism } from 'node:os';
import { setNumThreads } from '@nnunet/torch';
import { NnunetError } from '../errors.js';
import { LEDGER_FILE } from '../inference/output-folder.js';
import { parseConfiguration } from '../model/configuration.js';
import { DEFAULT_CASCADE_TRAINER, DEFAULT_PLANS_IDENTIFIER, DEFAULT_TRAINER } from '../model/layout.js';
import { lowPrecisionOnCpu } from '../model/precision.js';
import { predictTask } from '../pipeline/predict.js';
import { defineCommand } from './args.js';
import { ProgressBar } from './progress.js';
import { runCommand } from './run.js';

const command = defineCommand({
  name: 'nnUNet_predict',
  summary:
    'Segments every case of an input folder (CASE_XXXX.nii.gz, one file per modality) with a trained model\n' +
    'from $RESULTS_FOLDER/nnUNet/<-m>/<task>/<-tr>__<-p>/, averaging the selected folds.\n' +
    '-m 3d_cascade_fullres uses <-ctr>__<-p> and the 3d_lowres segmentations of -l; without -l the\n' +
    '3d_lowres model (<-tr>) predicts them first into OUTPUT/3d_lowres_predictions.\n' +
    `Each finished case is recorded in OUTPUT/${LEDGER_FILE} (its files' checksums and the postprocessing.json\n` +
    'applied), so a rerun of an interrupted run keeps the finished cases, postprocesses the recorded raw ones\n' +
    'and predicts the rest, including outputs that are damaged or that the ledger does not vouch for.\n' +
    'Exit status: 0 all cases predicted or kept; 1 an error stopped the run (one line on stderr);\n' +
    '2 an internal error (a bug: stack trace); 3 some cases could not be read (each named on stderr)\n' +
    'and were skipped, the others were predicted.',
  options: {
    input: { flag: '-i', type: 'string', help: 'input folder', required: true },
    output: { flag: '-o', type: 'string', help: 'output folder (created if needed)', required: true },
    task: { flag: '-t', type: 'string', help: 'task id or name', required: true },
    trainer: {
      flag: '-tr',
      type: 'string',
      help: `trainer class (default ${DEFAULT_TRAINER}); with 3d_cascade_fullres and no -l, the 3d_lowres trainer`,
    },
    cascadeTrainer: {
      flag: '-ctr',
      type: 'string',
      help: `cascade trainer for 3d_cascade_fullres (default ${DEFAULT_CASCADE_TRAINER})`,
    },
    configuration: {
      flag: '-m',
      type: 'string',
      help: '2d, 3d_lowres, 3d_fullres or 3d_cascade_fullres',
      parse: parseConfiguration,
      default: '3d_fullres',
    },
    plansIdentifier: { flag: '-p', type: 'string', help: `plans identifier (default ${DEFAULT_PLANS_IDENTIFIER})` },
    folds: { flag: '-f', type: 'strings', help: 'folds to use (default: all trained folds)' },
    saveNpz: {
      flag: '-z',
      aliases: ['--save_npz'],
      type: 'flag',
      help: 'also save the softmax as CASE.npz (for nnUNet_ensemble)',
    },
    lowresSegmentations: {
      flag: '-l',
      type: 'string',
      help: '3d_cascade_fullres: folder of the 3d_lowres segmentations (CASE.nii.gz); default: predict them first',
    },
    partId: { flag: '--part_id', type: 'int', help: 'predict only part PART_ID of NUM_PARTS (for parallel jobs)' },
    numParts: { flag: '--num_parts', type: 'int', help: 'number of parts' },
    numThreadsPreprocessing: {
      flag: '--num_threads_preprocessing',
      type: 'int',
      help: 'accepted for v1 compatibility',
    },
    numThreadsNiftiSave: { flag: '--num_threads_nifti_save', type: 'int', help: 'accepted for v1 compatibility' },
    disableTta: { flag: '--disable_tta', type: 'flag', help: 'no test-time mirroring (8x faster in 3-D)' },
    overwriteExisting: {
      flag: '--overwrite_existing',
      type: 'flag',
      help: 'predict cases whose output already exists',
    },
    mode: { flag: '--mode', type: 'string', help: 'accepted for v1 compatibility (normal)' },
    allInGpu: { flag: '--all_in_gpu', type: 'string', help: 'accepted for v1 compatibility' },
    stepSize: {
      flag: '--step_size',
      type: 'string',
      help: 'sliding-window step as a fraction of the patch',
      parse: parseStepSize,
      default: 0.5,
    },
    checkpoint: { flag: '-chk', type: 'string', help: 'checkpoint name (default model_final_checkpoint)' },
    disableMixedPrecision: {
      flag: '--disable_mixed_precision',
      type: 'flag',
      help: 'predict in float32 (same as --fp32)',
    },
    fp32: {
      flag: '--fp32',
      type: 'flag',
      help: "float32 network arithmetic: v1's probabilities bit for bit (default on CPUs without AVX-512 BF16 / AMX; elsewhere bf16 autocast, ~0.4x the time)",
    },
    disablePostprocessing: {
      flag: '--disable_postprocessing',
      type: 'flag',
      help: "do not apply the model's postprocessing.json (applied by default, as v1 does)",
    },
    device: { flag: '--device', type: 'string', choices: ['cpu', 'cuda'], help: 'cpu or cuda', default: 'cpu' },
    nanValue: {
      flag: '--nan_value',
      type: 'string',
      help: 'replace NaN and infinite input voxels by this number (default: refuse such cases)',
      parse: parseNanValue,
    },
  },
});

/** Exit status when some cases could not be read and were skipped while the others were predicted. */
const EXIT_SOME_CASES_FAILED = 3;

/** The replacement for NaN and infinite voxels: a finite number. */
function parseNanValue(text: string, flag: string): number {
  const v = Number(text);
  if (text.trim() === '' || !Number.isFinite(v))
    throw new NnunetError('ERR_ARGUMENT', `${flag} must be a finite number such as 0, got ${text}.`);
  return v;
}

/** The sliding-window step: a fraction of the patch size in (0, 1]. */
function parseStepSize(text: string, flag: string): number {
  const step = Number(text);
  if (!(step > 0 && step <= 1)) throw new NnunetError('ERR_ARGUMENT', `${flag} must be in (0, 1], got ${text}.`);
  return step;
}

await runCommand(command, async (args) => {
  // LibTorch starts with one intra-op thread here; use every core unless OMP_NUM_THREADS says otherwise.
  setNumThreads(Number(process.env.OMP_NUM_THREADS) || availableParallelism());
  const { output, device } = args;
  let bar: ProgressBar | undefined;
  // A case's bar starts with its first sliding-window step, so a case whose input cannot be read shows none.
  let pendingBar: string | undefined;
  let last: [number, number] = [0, 0];
  const closeBar = () => {
    if (bar) bar.finish(...last);
    bar = undefined;
    pendingBar = undefined;
  };
  const result = await predictTask({
    input: args.input,
    output,
    task: args.task,
    configuration: args.configuration,
    ...(args.trainer !== undefined ? { trainer: args.trainer } : {}),
    ...(args.cascadeTrainer !== undefined ? { cascadeTrainer: args.cascadeTrainer } : {}),
    ...(args.plansIdentifier !== undefined ? { plansIdentifier: args.plansIdentifier } : {}),
    ...(args.lowresSegmentations !== undefined ? { lowresSegmentations: args.lowresSegmentations } : {}),
    ...(args.folds !== undefined ? { folds: args.folds } : {}),
    ...(args.checkpoint !== undefined ? { checkpoint: args.checkpoint } : {}),
    ...(args.partId !== undefined ? { partId: args.partId } : {}),
    ...(args.numParts !== undefined ? { numParts: args.numParts } : {}),
    saveNpz: args.saveNpz,
    overwriteExisting: args.overwriteExisting,
    mirror: !args.disableTta,
    mixedPrecision: device === 'cuda' && !args.disableMixedPrecision && !args.fp32,
    cpuPrecision: lowPrecisionOnCpu(device, args.fp32 || args.disableMixedPrecision, (line) =>
      process.stderr.write(`${line}\n`),
    )
      ? 'bfloat16'
      : 'float32',
    device,
    stepSize: args.stepSize,
    postprocessing: !args.disablePostprocessing,
    ...(args.nanValue !== undefined ? { nanValue: args.nanValue } : {}),
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
    onCase: (id, i, total, action, why) => {
      closeBar();
      if (action === 'keep') process.stderr.write(`${id}: finished output kept (use --overwrite_existing)\n`);
      else if (action === 'postprocess')
        process.stderr.write(`${id}: postprocessing the raw output recorded in ${LEDGER_FILE}\n`);
      else {
        if (why !== undefined) process.stderr.write(`${id}: predicting again: ${why}\n`);
        pendingBar = `case ${i + 1}/${total} ${id}`;
      }
    },
    onProgress: (d: number, t: number) => {
      last = [d, t];
      if (bar === undefined && pendingBar !== undefined) {
        bar = new ProgressBar(pendingBar);
        pendingBar = undefined;
      }
      bar?.update(d, t);
    },
  });
  closeBar();
  const kept = result.kept.length > 0 ? ` (${result.kept.length} finished case(s) kept)` : '';
  process.stdout.write(`${result.written.length} case(s) written to ${output}${kept}\n`);
  if (result.failed.length > 0) {
    const ids = result.failed.map((f) => f.id);
    process.stderr.write(
      `nnUNet_predict: ${ids.length} case(s) could not be predicted (${ids.slice(0, 5).join(', ')}${ids.length > 5 ? ', ...' : ''}): fix their input files as said above and rerun; finished cases are kept.\n`,
    );
    process.exitCode = EXIT_SOME_CASES_FAILED;
  }
});
