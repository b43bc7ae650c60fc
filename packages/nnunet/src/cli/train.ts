#!/usr/bin/env node
import { availableParallelism } from 'node:os';
import { setNumThreads } from '@nnunet/torch';
import { NnunetError } from '../errors.js';
import { parseConfiguration, parseFold } from '../model/configuration.js';
import { defaultTrainingPrecision } from '../model/precision.js';
import {
  dataParallelFromEnv,
  EXIT_INTERRUPTED,
  joinDataParallelGroup,
  launchLocalRanks,
} from '../pipeline/data-parallel-launch.js';
import { trainFold } from '../pipeline/train-fold.js';
import { V1_SAVE_EVERY } from '../training/trainer-spec.js';
import { defineCommand } from './args.js';
import { ProgressBar } from './progress.js';

import { runCommand } from './run.js';

const PRECISIONS = { fp32: 'float32', bf16: 'bfloat16', fp16: 'float16' } as const;

const command = defineCommand({
  name: 'nnUNet_train',
  summary:
    "Trains one fold (0-4 or all) of 2d, 3d_fullres, 3d_lowres or 3d_cascade_fullres with nnU-Net v1's\n" +
    'recipe into $RESULTS_FOLDER/nnUNet/CONFIGURATION/TASK/TRAINER__nnUNetPlansv2.1/fold_FOLD, then validates\n' +
    'it. A 3d_lowres fold also predicts its validation cases into pred_next_stage/ for the cascade;\n' +
    '3d_cascade_fullres (trainer nnUNetTrainerV2CascadeFullRes) needs those of all 3d_lowres folds.\n' +
    'Signals: the first Ctrl-C (SIGINT) finishes the epoch, saves and validates; a second one exits at once\n' +
    `(code 130). SIGTERM or SIGUSR1 (Slurm's time limit, --signal) stop after the current iteration, save\n` +
    `model_latest with the exact position and exit with code ${EXIT_INTERRUPTED}: requeue the job and continue\n` +
    'with -c, which ends with the same weights as an uninterrupted run. fold_N/training_status.json says\n' +
    'whether the fold is training, interrupted, failed, trained or complete; one process per fold (a lock).',
  example: 'nnUNet_train 3d_fullres nnUNetTrainerV2 4 0',
  positionals: [
    {
      key: 'configuration',
      name: 'CONFIGURATION',
      help: 'the configuration: 2d, 3d_lowres, 3d_fullres or 3d_cascade_fullres',
      parse: parseConfiguration,
    },
    { key: 'trainer', name: 'TRAINER', help: 'the trainer class' },
    { key: 'task', name: 'TASK', help: 'the task id or name' },
    { key: 'fold', name: 'FOLD', help: 'the fold (0-4 or all)', parse: parseFold },
  ],
  options: {
    npz: { flag: '--npz', type: 'flag', help: 'save the validation softmax (.npz) for nnUNet_find_best_configuration' },
    continueTraining: {
      flag: '-c',
      aliases: ['--continue_training'],
      type: 'flag',
      help: 'continue from the most advanced checkpoint that verifies (same position, learning rate, optimizer state, logs and schedule); a fold without checkpoints is started',
    },
    validationOnly: {
      flag: '-val',
      aliases: ['--validation_only'],
      type: 'flag',
      help: 'only run the final validation of a trained fold',
    },
    valbest: { flag: '--valbest', type: 'flag', help: 'validate with model_best instead of the final model' },
    fp32: {
      flag: '--fp32',
      type: 'flag',
      help: 'float32 steps (default on CPUs without AVX-512 BF16 / AMX; overrides --precision)',
    },
    precision: {
      flag: '--precision',
      type: 'string',
      choices: ['fp32', 'bf16', 'fp16'],
      help: "step arithmetic: fp32; bf16 autocast, the CPU's (default on CPUs with AVX-512 BF16 or AMX: ~0.4x the fp32 step); fp16 autocast with loss scaling, CUDA's (its default); -c keeps the run's",
    },
    plansIdentifier: {
      flag: '-p',
      type: 'string',
      help: 'plans identifier (only nnUNetPlansv2.1)',
      parse: parsePlansIdentifier,
    },
    pretrainedWeights: {
      flag: '-pretrained_weights',
      type: 'string',
      help: "initialise the network from this checkpoint (.safetensors, or v1's .model); heads of another shape are skipped",
    },
    disableNextStagePred: {
      flag: '--disable_next_stage_pred',
      type: 'flag',
      help: '3d_lowres: do not predict the validation cases for the cascade (pred_next_stage)',
    },
    disablePostprocessingOnFolds: {
      flag: '--disable_postprocessing_on_folds',
      type: 'flag',
      help: "do not decide the fold's postprocessing after validation (fold_N/postprocessing.json)",
    },
    useCompressedData: {
      flag: '--use_compressed_data',
      type: 'flag',
      help: 'accepted for v1 compatibility (data are never compressed)',
    },
    deterministic: {
      flag: '--deterministic',
      type: 'flag',
      help: 'accepted; runs are seeded and reproducible on the CPU',
    },
    disableSaving: { flag: '--disable_saving', type: 'flag', help: 'write no checkpoints or plots' },
    saveEvery: {
      flag: '--save_every',
      type: 'int',
      min: 1,
      help: `write model_latest every N epochs (default 1; v1 used ${V1_SAVE_EVERY})`,
    },
    epochs: { flag: '--epochs', type: 'int', help: "number of epochs (default: the trainer's, 1000)" },
    itersPerEpoch: { flag: '--iters-per-epoch', type: 'int', help: 'training iterations per epoch (default 250)' },
    valItersPerEpoch: {
      flag: '--val-iters-per-epoch',
      type: 'int',
      help: 'validation iterations per epoch (default 50)',
    },
    device: { flag: '--device', type: 'string', choices: ['cpu', 'cuda'], help: 'cpu or cuda', default: 'cpu' },
    seed: { flag: '--seed', type: 'int', help: 'random seed (default 12345)' },
    workers: { flag: '--workers', type: 'int', help: 'data loading / augmentation threads (default 2)' },
    numGpus: {
      flag: '-num_gpus',
      type: 'int',
      min: 1,
      help: "data-parallel training on N local processes (nnU-Net v2's option; on the CPU each gets cores/N threads)",
    },
    nprocPerNode: {
      flag: '--nproc_per_node',
      type: 'int',
      min: 1,
      help: "the same as -num_gpus (torch.distributed.launch's name)",
    },
    nnodes: {
      flag: '--nnodes',
      type: 'int',
      min: 1,
      help: 'machines taking part, each running this command with its --node_rank (MASTER_ADDR/MASTER_PORT of node 0 set on all)',
    },
    nodeRank: {
      flag: '--node_rank',
      type: 'int',
      min: 0,
      help: "this machine's index among --nnodes (default NODE_RANK or 0)",
    },
  },
});

/** Only v1's default plans can be trained here. */
function parsePlansIdentifier(text: string, flag: string): string {
  if (text !== 'nnUNetPlansv2.1')
    throw new NnunetError('ERR_ARGUMENT', `Only the nnUNetPlansv2.1 plans are supported, got ${flag} ${text}.`);
  return text;
}

await runCommand(command, async (args) => {
  const processes = args.numGpus ?? args.nprocPerNode ?? 1;
  const nodes = args.nnodes ?? 1;
  if (processes * nodes > 1 && process.env.WORLD_SIZE === undefined) {
    // The launcher: the same command once per rank on this machine (the launch options removed).
    const launchFlags = ['-num_gpus', '--nproc_per_node', '--nnodes', '--node_rank'];
    const rest = process.argv.slice(2).filter((a, i, all) => {
      const flag = (x: string | undefined) => x !== undefined && launchFlags.includes(x);
      return !flag(a) && !flag(all[i - 1]) && !launchFlags.some((f) => a.startsWith(`${f}=`));
    });
    const nodeRank = args.nodeRank ?? (Number(process.env.NODE_RANK) || 0);
    process.exitCode = await launchLocalRanks(
      process.argv[1] as string,
      rest,
      { processes, nodes, nodeRank },
      process.env,
    );
    return;
  }
  // LibTorch starts with one intra-op thread here; use every core unless OMP_NUM_THREADS says otherwise.
  setNumThreads(Number(process.env.OMP_NUM_THREADS) || availableParallelism());
  const dataParallel = dataParallelFromEnv(process.env);
  const group = dataParallel === null ? null : joinDataParallelGroup(dataParallel, process.env, args.device);
  // Rank 0 reports; the other ranks stay quiet unless they fail.
  const quiet = group !== null && group.rank !== 0;
  // First Ctrl-C: finish the epoch, save and validate; a second one (or one during the final
  // validation) exits at once: every file is written whole, so nothing partial is left.
  let stopAfterEpoch = false;
  let interrupt = false;
  let phase: 'training' | 'validation' = 'training';
  process.on('SIGINT', () => {
    if (stopAfterEpoch || phase === 'validation') {
      process.stderr.write('\naborted\n');
      process.exit(130);
    }
    stopAfterEpoch = true;
    process.stderr.write('\nstopping after this epoch (Ctrl-C again to abort)\n');
  });
  // SIGTERM/SIGUSR1: stop after this iteration with a checkpoint of the exact position (acts once).
  const onTerminate = (signal: string) => () => {
    if (phase === 'validation') {
      process.stderr.write(
        `\n${signal} during the final validation: exiting; the training is saved, validate later with -val\n`,
      );
      process.exit(EXIT_INTERRUPTED);
    }
    if (interrupt) return;
    interrupt = true;
    process.stderr.write(`\n${signal}: saving the exact position after this iteration, then exiting\n`);
  };
  // With --disable_saving there is nothing to resume from: the signals keep their default action.
  if (!args.disableSaving) {
    process.on('SIGTERM', onTerminate('SIGTERM'));
    process.on('SIGUSR1', onTerminate('SIGUSR1'));
  }
  let bar: ProgressBar | undefined;
  const { pretrainedWeights, epochs, itersPerEpoch, valItersPerEpoch, seed, workers, saveEvery } = args;
  const r = await trainFold({
    configuration: args.configuration,
    trainer: args.trainer,
    task: args.task,
    fold: args.fold,
    device: args.device,
    ...(args.fp32
      ? { precision: 'float32' as const }
      : args.precision !== undefined
        ? { precision: PRECISIONS[args.precision as keyof typeof PRECISIONS] }
        : { newRunPrecision: defaultTrainingPrecision(args.device, (line) => process.stderr.write(`${line}\n`)) }),
    continueTraining: args.continueTraining,
    validationOnly: args.validationOnly,
    validateBest: args.valbest,
    saveNpz: args.npz,
    disableSaving: args.disableSaving,
    disableNextStagePred: args.disableNextStagePred,
    disablePostprocessingOnFolds: args.disablePostprocessingOnFolds,
    ...(pretrainedWeights !== undefined ? { pretrainedWeights } : {}),
    ...(epochs !== undefined ? { epochs } : {}),
    ...(itersPerEpoch !== undefined ? { itersPerEpoch } : {}),
    ...(valItersPerEpoch !== undefined ? { valItersPerEpoch } : {}),
    ...(seed !== undefined ? { seed } : {}),
    ...(workers !== undefined ? { workers } : {}),
    ...(saveEvery !== undefined ? { saveEvery } : {}),
    ...(group !== null ? { group } : {}),
    stopRequested: () => stopAfterEpoch,
    interruptRequested: () => interrupt,
    onPhase: (p) => {
      phase = p;
    },
    log: (line) => {
      process.stderr.write(`${line}\n`);
    },
    onIteration: (which, done, total, loss, epoch) => {
      if (quiet) return;
      if (bar === undefined || done === 1)
        bar = new ProgressBar(`epoch ${epoch} ${which === 'train' ? 'train' : 'validation batches'}`);
      bar.update(done, total, loss);
      if (done === total) bar.finish(done, total);
    },
  });
  group?.destroy();
  if (r.interrupted) {
    if (quiet) {
      process.exitCode = EXIT_INTERRUPTED;
      return;
    }
    process.stderr.write(
      `interrupted: continue with nnUNet_train ${args.configuration} ${args.trainer} ${args.task} ${args.fold} -c (exit code ${EXIT_INTERRUPTED})\n`,
    );
    process.exitCode = EXIT_INTERRUPTED;
    return;
  }
  if (quiet) return;
  process.stdout.write(`fold folder: ${r.foldFolder}\nvalidation summary: ${r.validationSummary ?? '(none)'}\n`);
  if (r.nextStagePredictions.length > 0)
    process.stdout.write(`${r.nextStagePredictions.length} case(s) predicted for the next stage of the cascade\n`);
});
