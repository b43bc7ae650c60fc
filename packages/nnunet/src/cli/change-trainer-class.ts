#!/usr/bin/env node
import { NnunetError } from '../errors.js';
import { changeTrainerClass } from '../sharing/change-trainer.js';
import type { CommandSpec } from './args.js';
import { runCommand } from './run.js';

const spec: CommandSpec = {
  name: 'nnUNet_change_trainer_class',
  summary:
    'Changes the trainer class recorded in the checkpoints of a trained model folder (the one holding\n' +
    'the fold_X sub-folders), for models whose trainer cannot predict or is not available. The network\n' +
    'architecture of both trainers must be identical. Experimental, for advanced users (as in v1).',
  options: {
    '-i': { kind: 'string', help: 'model folder containing the fold_X sub-folders', required: true },
    '-tr': { kind: 'string', help: 'name of the new trainer class' },
    '-tu': { kind: 'string', help: 'same as -tr' },
  },
};

await runCommand(spec, async (args) => {
  const trainer = (args.get('-tr') ?? args.get('-tu')) as string | undefined;
  if (trainer === undefined) {
    throw new NnunetError('ERR_ARGUMENT', 'option -tr is required (see nnUNet_change_trainer_class -h).');
  }
  const r = changeTrainerClass(args.get('-i') as string, trainer);
  for (const f of r.changed) process.stdout.write(`${f}: trainer = ${trainer}\n`);
  if (r.skippedV1.length > 0) {
    process.stderr.write(
      `Warning: ${r.skippedV1.length} nnU-Net v1 checkpoint(s) (.model.pkl) were left unchanged: this version cannot rewrite them.\n`,
    );
  }
});
