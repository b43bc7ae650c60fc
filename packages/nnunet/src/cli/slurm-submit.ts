#!/usr/bin/env node
import { type Configuration, parseConfiguration } from '../model/configuration.js';
import { submitExperiment } from '../pipeline/slurm-submit.js';
import { parseFolds } from '../postprocessing/consolidate.js';
import { defineCommand } from './args.js';
import { runCommand } from './run.js';

const command = defineCommand({
  name: 'nnUNet_slurm_submit',
  summary:
    'Submits the whole experiment of a task to Slurm: one job array per configuration over the folds (each task\n' +
    'checkpoints on the time-limit signal and requeues itself), 3d_cascade_fullres after all 3d_lowres folds,\n' +
    'nnUNet_find_best_configuration after every training, and with -i/-o the prediction with the winner.\n' +
    'Finished folds are left out; scripts, logs and job ids go to $RESULTS_FOLDER/nnUNet/slurm/TASK/.',
  options: {
    task: { flag: '-t', type: 'string', help: 'task id or name', required: true },
    configurations: {
      flag: '-m',
      type: 'strings',
      help: 'configurations, e.g. 2d 3d_fullres 3d_lowres 3d_cascade_fullres',
      required: true,
      parse: (values: string[], flag: string): Configuration[] =>
        values.map((v) => parseConfiguration(v, `${flag} ${v}`)),
    },
    folds: { flag: '-f', type: 'strings', help: 'folds (default 0 1 2 3 4)', parse: parseFolds },
    trainer: { flag: '-tr', type: 'string', help: 'trainer (default nnUNetTrainerV2)' },
    cascadeTrainer: {
      flag: '-ctr',
      type: 'string',
      help: 'trainer of 3d_cascade_fullres (default nnUNetTrainerV2CascadeFullRes)',
    },
    input: { flag: '-i', type: 'string', help: 'predict this folder with the selected model after training' },
    output: { flag: '-o', type: 'string', help: 'where the predictions go (with -i)' },
    partition: { flag: '--partition', type: 'string', help: 'sbatch --partition' },
    time: {
      flag: '--time',
      type: 'string',
      help: 'sbatch --time of every job (trainings requeue themselves at the limit)',
    },
    gres: { flag: '--gres', type: 'string', help: 'sbatch --gres, e.g. gpu:1' },
    cpusPerTask: { flag: '--cpus-per-task', type: 'int', help: 'sbatch --cpus-per-task' },
    mem: { flag: '--mem', type: 'string', help: 'sbatch --mem' },
    account: { flag: '--account', type: 'string', help: 'sbatch --account' },
    sbatch: { flag: '--sbatch', type: 'strings', help: 'further sbatch options, passed as given' },
    trainArgs: {
      flag: '--train_args',
      type: 'string',
      help: 'further arguments of every nnUNet_train, as one string: --train_args="--epochs 300 -num_gpus 2"',
      parse: (text: string) => text.split(/\s+/).filter((a) => a !== ''),
    },
    signalSeconds: {
      flag: '--signal_seconds',
      type: 'int',
      min: 1,
      help: 'seconds before the time limit at which a training saves and requeues (default 300)',
    },
    dryRun: {
      flag: '--dry-run',
      type: 'flag',
      help: 'write and print the scripts and sbatch commands; submit nothing',
    },
  },
});

await runCommand(command, async (args) => {
  const sbatch = [
    ...(args.partition !== undefined ? [`--partition=${args.partition}`] : []),
    ...(args.time !== undefined ? [`--time=${args.time}`] : []),
    ...(args.gres !== undefined ? [`--gres=${args.gres}`] : []),
    ...(args.cpusPerTask !== undefined ? [`--cpus-per-task=${args.cpusPerTask}`] : []),
    ...(args.mem !== undefined ? [`--mem=${args.mem}`] : []),
    ...(args.account !== undefined ? [`--account=${args.account}`] : []),
    ...(args.sbatch ?? []),
  ];
  const r = submitExperiment({
    task: args.task,
    configurations: args.configurations,
    ...(args.folds !== undefined ? { folds: args.folds } : {}),
    ...(args.trainer !== undefined ? { trainer: args.trainer } : {}),
    ...(args.cascadeTrainer !== undefined ? { cascadeTrainer: args.cascadeTrainer } : {}),
    ...(args.input !== undefined ? { input: args.input } : {}),
    ...(args.output !== undefined ? { output: args.output } : {}),
    ...(args.signalSeconds !== undefined ? { signalSeconds: args.signalSeconds } : {}),
    sbatch,
    ...(args.trainArgs !== undefined ? { trainArgs: args.trainArgs } : {}),
    dryRun: args.dryRun,
  });
  for (const [configuration, folds] of Object.entries(r.skipped))
    if (folds.length > 0)
      process.stderr.write(`${configuration}: folds ${folds.join(', ')} are complete and left out\n`);
  if (args.dryRun) {
    for (const j of r.jobs) process.stdout.write(`# ---- ${r.folder}/${j.name}.sh\n${j.script}\n`);
    process.stdout.write(
      `# ---- the job graph (sbatch commands; <name> = the id of that job)\n${r.commands.join('\n')}\n`,
    );
    return;
  }
  for (const j of r.jobs)
    process.stdout.write(
      `${j.name}: job ${r.ids[j.name]}${j.array !== undefined ? ` (folds ${j.array.join(', ')})` : ''}${j.after.length > 0 ? ` after ${j.after.map((n) => r.ids[n]).join(', ')}` : ''}\n`,
    );
  process.stdout.write(`scripts and logs: ${r.folder}\n`);
});
