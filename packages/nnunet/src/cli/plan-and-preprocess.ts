#!/usr/bin/env node
import { NnunetError } from '../errors.js';
import { planAndPreprocess } from '../pipeline/plan-and-preprocess.js';
import { defineCommand } from './args.js';
import { ProgressBar } from './progress.js';
import { runCommand } from './run.js';

const command = defineCommand({
  name: 'nnUNet_plan_and_preprocess',
  summary:
    'Verifies (optional), crops and fingerprints raw tasks, then plans them (3-D and 2-D planners,\n' +
    'nnUNetPlansv2.1_plans_3D.json / _2D.json) and preprocesses every stage into $nnUNet_preprocessed/TASK.\n' +
    'A task is locked while this runs (a second run on it, and nnUNet_train, are refused), and each stage\n' +
    'folder is recorded complete (preprocessing_status.json) only once all its cases are written: a run that\n' +
    'fails or is killed is finished by running the same command again.',
  options: {
    tasks: { flag: '-t', type: 'strings', help: 'task ids or names (4, 004, Task004_Hippocampus)', required: true },
    planner3d: {
      flag: '-pl3d',
      aliases: ['--planner3d'],
      type: 'string',
      help: '3-D experiment planner, or None (default ExperimentPlanner3D_v21)',
      parse: planner,
    },
    planner2d: {
      flag: '-pl2d',
      aliases: ['--planner2d'],
      type: 'string',
      help: '2-D experiment planner, or None (default ExperimentPlanner2D_v21)',
      parse: planner,
    },
    noPreprocessing: { flag: '-no_pp', type: 'flag', help: 'plan only, do not preprocess' },
    workersLowres: {
      flag: '-tl',
      type: 'int',
      help: 'worker threads for low-resolution preprocessing',
      default: 8,
    },
    workersFullres: {
      flag: '-tf',
      type: 'int',
      help: 'worker threads for cropping, fingerprint and full-resolution preprocessing',
      default: 8,
    },
    verifyDatasetIntegrity: {
      flag: '--verify_dataset_integrity',
      type: 'flag',
      help: 'check the raw data first (recommended on a new dataset)',
    },
    overwritePlans: {
      flag: '-overwrite_plans',
      type: 'string',
      help: 'plans file to take instead of planning (not supported yet)',
    },
    overwritePlansIdentifier: {
      flag: '-overwrite_plans_identifier',
      type: 'string',
      help: 'identifier for -overwrite_plans (not supported yet)',
    },
  },
});

/** v1's planner option: a class name, or None to skip that planner. */
function planner(text: string): string | null {
  return text === 'None' ? null : text;
}

await runCommand(command, async (args) => {
  if (args.overwritePlans !== undefined || args.overwritePlansIdentifier !== undefined) {
    throw new NnunetError(
      'ERR_ARGUMENT',
      '-overwrite_plans is not supported in this version yet: plan without it, or copy the plans file into $nnUNet_preprocessed/TASK by hand.',
    );
  }
  // One bar per step that reports progress (planning reports none).
  let label = '';
  let bar: ProgressBar | undefined;
  let last: [number, number] = [0, 0];
  const close = () => {
    if (bar !== undefined) bar.finish(...last);
    bar = undefined;
  };
  const { planner3d: p3, planner2d: p2 } = args;
  const outcomes = await planAndPreprocess(args.tasks, {
    ...(p3 !== undefined ? { planner3d: p3 } : {}),
    ...(p2 !== undefined ? { planner2d: p2 } : {}),
    verifyDatasetIntegrity: args.verifyDatasetIntegrity,
    noPreprocessing: args.noPreprocessing,
    workersFullres: args.workersFullres,
    workersLowres: args.workersLowres,
    // The lock names this command line, so that a second run or nnUNet_train can say what holds the task.
    command: ['nnUNet_plan_and_preprocess', ...process.argv.slice(2)].join(' '),
    onWarning: (message) => {
      close();
      process.stderr.write(`warning: ${message}\n`);
    },
    onStep: (task, step) => {
      close();
      label = `${task} ${step}`;
      last = [0, 0];
    },
    onProgress: (_t, _s, done, total) => {
      bar ??= new ProgressBar(label);
      last = [done, total];
      bar.update(done, total);
    },
  });
  close();
  for (const o of outcomes)
    process.stdout.write(
      `${o.task}: cropped data in ${o.croppedFolder}; fingerprint, plans and preprocessed data in ${o.preprocessedFolder}\n`,
    );
});
