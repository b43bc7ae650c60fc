#!/usr/bin/env node
import { NnunetError } from '../errors.js';
import { planAndPreprocess } from '../pipeline/plan-and-preprocess.js';
import type { CommandSpec } from './args.js';
import { ProgressBar } from './progress.js';
import { runCommand } from './run.js';

const spec: CommandSpec = {
  name: 'nnUNet_plan_and_preprocess',
  summary:
    'Verifies (optional), crops and fingerprints raw tasks, then plans them (3-D and 2-D planners,\n' +
    'nnUNetPlansv2.1_plans_3D.json / _2D.json) and preprocesses every stage into $nnUNet_preprocessed/TASK.',
  options: {
    '-t': { kind: 'strings', help: 'task ids or names (4, 004, Task004_Hippocampus)', required: true },
    '-pl3d': { kind: 'string', help: '3-D experiment planner, or None (default ExperimentPlanner3D_v21)' },
    '--planner3d': { kind: 'string', help: 'same as -pl3d' },
    '-pl2d': { kind: 'string', help: '2-D experiment planner, or None (default ExperimentPlanner2D_v21)' },
    '--planner2d': { kind: 'string', help: 'same as -pl2d' },
    '-no_pp': { kind: 'flag', help: 'plan only, do not preprocess' },
    '-tl': { kind: 'int', help: 'worker threads for low-resolution preprocessing (default 8)' },
    '-tf': {
      kind: 'int',
      help: 'worker threads for cropping, fingerprint and full-resolution preprocessing (default 8)',
    },
    '--verify_dataset_integrity': { kind: 'flag', help: 'check the raw data first (recommended on a new dataset)' },
    '-overwrite_plans': { kind: 'string', help: 'plans file to take instead of planning (not supported yet)' },
    '-overwrite_plans_identifier': { kind: 'string', help: 'identifier for -overwrite_plans (not supported yet)' },
  },
};

const planner = (v: unknown): string | null | undefined =>
  v === undefined ? undefined : v === 'None' ? null : String(v);

await runCommand(spec, async (args) => {
  if (args.has('-overwrite_plans') || args.has('-overwrite_plans_identifier')) {
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
  const p3 = planner(args.get('-pl3d') ?? args.get('--planner3d'));
  const p2 = planner(args.get('-pl2d') ?? args.get('--planner2d'));
  const tf = args.get('-tf') as number | undefined;
  const tl = args.get('-tl') as number | undefined;
  const outcomes = await planAndPreprocess(args.get('-t') as string[], {
    ...(p3 !== undefined ? { planner3d: p3 } : {}),
    ...(p2 !== undefined ? { planner2d: p2 } : {}),
    verifyDatasetIntegrity: args.get('--verify_dataset_integrity') === true,
    noPreprocessing: args.get('-no_pp') === true,
    workersFullres: tf ?? 8,
    workersLowres: tl ?? 8,
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
