#!/usr/bin/env node
import { availableParallelism } from 'node:os';
import { setNumThreads } from '@nnunet/torch';
import { NnunetError } from '../errors.js';
import type { Configuration } from '../model/configuration.js';
import { CONFIGURATIONS } from '../model/configuration.js';
import { trainFold } from '../training/trainer.js';
import type { CommandSpec } from './args.js';
import { ProgressBar } from './progress.js';
import { runCommand } from './run.js';

const spec: CommandSpec = {
  name: 'nnUNet_train',
  summary:
    'usage: nnUNet_train CONFIGURATION TRAINER TASK FOLD [options]\n' +
    "Trains one fold (0-4 or all) of 2d, 3d_fullres, 3d_lowres or 3d_cascade_fullres with nnU-Net v1's\n" +
    'recipe into $RESULTS_FOLDER/nnUNet/CONFIGURATION/TASK/TRAINER__nnUNetPlansv2.1/fold_FOLD, then validates\n' +
    'it. A 3d_lowres fold also predicts its validation cases into pred_next_stage/ for the cascade;\n' +
    '3d_cascade_fullres (trainer nnUNetTrainerV2CascadeFullRes) needs those of all 3d_lowres folds.',
  options: {
    '--npz': { kind: 'flag', help: 'save the validation softmax (.npz) for nnUNet_find_best_configuration' },
    '-c': {
      kind: 'flag',
      help: 'continue from the latest checkpoint (same epoch, learning rate, optimizer state, logs)',
    },
    '--continue_training': { kind: 'flag', help: 'same as -c' },
    '-val': { kind: 'flag', help: 'only run the final validation of a trained fold' },
    '--validation_only': { kind: 'flag', help: 'same as -val' },
    '--valbest': { kind: 'flag', help: 'validate with model_best instead of the final model' },
    '--fp32': { kind: 'flag', help: 'no mixed precision (the CPU always trains in float32)' },
    '-p': { kind: 'string', help: 'plans identifier (only nnUNetPlansv2.1)' },
    '-pretrained_weights': {
      kind: 'string',
      help: "initialise the network from this checkpoint (.safetensors, or v1's .model); heads of another shape are skipped",
    },
    '--disable_next_stage_pred': {
      kind: 'flag',
      help: '3d_lowres: do not predict the validation cases for the cascade (pred_next_stage)',
    },
    '--disable_postprocessing_on_folds': {
      kind: 'flag',
      help: "do not decide the fold's postprocessing after validation (fold_N/postprocessing.json)",
    },
    '--use_compressed_data': { kind: 'flag', help: 'accepted for v1 compatibility (data are never compressed)' },
    '--deterministic': { kind: 'flag', help: 'accepted; runs are seeded and reproducible on the CPU' },
    '--disable_saving': { kind: 'flag', help: 'write no checkpoints or plots' },
    '--epochs': { kind: 'int', help: "number of epochs (default: the trainer's, 1000)" },
    '--iters-per-epoch': { kind: 'int', help: 'training iterations per epoch (default 250)' },
    '--val-iters-per-epoch': { kind: 'int', help: 'validation iterations per epoch (default 50)' },
    '--device': { kind: 'string', help: 'cpu or cuda (default cpu)' },
    '--seed': { kind: 'int', help: 'random seed (default 12345)' },
    '--workers': { kind: 'int', help: 'data loading / augmentation threads (default 2)' },
  },
};

// v1's four positional arguments come first; the option parser sees the rest.
const positional = process.argv.slice(2, 6);
if (!positional.some((a) => a === '-h' || a === '--help')) process.argv.splice(2, 4);

await runCommand(spec, async (args) => {
  // LibTorch starts with one intra-op thread here; use every core unless OMP_NUM_THREADS says otherwise.
  setNumThreads(Number(process.env.OMP_NUM_THREADS) || availableParallelism());
  if (positional.length < 4 || positional.some((a) => a.startsWith('-'))) {
    throw new NnunetError(
      'ERR_ARGUMENT',
      'nnUNet_train needs CONFIGURATION TRAINER TASK FOLD, e.g. nnUNet_train 3d_fullres nnUNetTrainerV2 4 0.',
    );
  }
  const [configuration, trainer, task, fold] = positional as [string, string, string, string];
  if (!(CONFIGURATIONS as readonly string[]).includes(configuration)) {
    throw new NnunetError(
      'ERR_ARGUMENT',
      `CONFIGURATION must be one of ${CONFIGURATIONS.join(', ')}, got "${configuration}".`,
    );
  }
  const p = args.get('-p') as string | undefined;
  if (p !== undefined && p !== 'nnUNetPlansv2.1')
    throw new NnunetError('ERR_ARGUMENT', `Only the nnUNetPlansv2.1 plans are supported, got -p ${p}.`);
  const device = (args.get('--device') as string | undefined) ?? 'cpu';
  if (device !== 'cpu' && device !== 'cuda')
    throw new NnunetError('ERR_ARGUMENT', `--device must be cpu or cuda, got "${device}".`);
  // First Ctrl-C: finish the epoch, save and validate; a second one stops at once.
  let stop = false;
  process.on('SIGINT', () => {
    if (stop) process.exit(130);
    stop = true;
    process.stderr.write('\nstopping after this epoch (Ctrl-C again to abort)\n');
  });
  let bar: ProgressBar | undefined;
  const epochs = args.get('--epochs') as number | undefined;
  const r = await trainFold({
    configuration: configuration as Configuration,
    trainer,
    task,
    fold,
    device,
    continueTraining: args.get('-c') === true || args.get('--continue_training') === true,
    validationOnly: args.get('-val') === true || args.get('--validation_only') === true,
    validateBest: args.get('--valbest') === true,
    saveNpz: args.get('--npz') === true,
    disableSaving: args.get('--disable_saving') === true,
    disableNextStagePred: args.get('--disable_next_stage_pred') === true,
    disablePostprocessingOnFolds: args.get('--disable_postprocessing_on_folds') === true,
    ...(args.has('-pretrained_weights') ? { pretrainedWeights: args.get('-pretrained_weights') as string } : {}),
    ...(epochs !== undefined ? { epochs } : {}),
    ...(args.has('--iters-per-epoch') ? { itersPerEpoch: args.get('--iters-per-epoch') as number } : {}),
    ...(args.has('--val-iters-per-epoch') ? { valItersPerEpoch: args.get('--val-iters-per-epoch') as number } : {}),
    ...(args.has('--seed') ? { seed: args.get('--seed') as number } : {}),
    ...(args.has('--workers') ? { workers: args.get('--workers') as number } : {}),
    stopRequested: () => stop,
    log: (line) => {
      bar = undefined;
      process.stderr.write(`${line}\n`);
    },
    onIteration: (phase, done, total, loss) => {
      if (done === 1) bar = new ProgressBar(phase === 'train' ? 'train' : 'validation batches');
      bar?.update(done, total);
      if (done === total) bar?.finish(done, total);
      void loss;
    },
  });
  process.stdout.write(`fold folder: ${r.foldFolder}\nvalidation summary: ${r.validationSummary ?? '(none)'}\n`);
  if (r.nextStagePredictions.length > 0)
    process.stdout.write(`${r.nextStagePredictions.length} case(s) predicted for the next stage of the cascade\n`);
});
