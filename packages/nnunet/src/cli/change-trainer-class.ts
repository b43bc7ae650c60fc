#!/usr/bin/env node
import { changeTrainerClass } from '../sharing/change-trainer.js';
import { defineCommand } from './args.js';
import { runCommand } from './run.js';

const command = defineCommand({
  name: 'nnUNet_change_trainer_class',
  summary:
    'Changes the trainer class recorded in the checkpoints of a trained model folder (the one holding\n' +
    'the fold_X sub-folders), for models whose trainer cannot predict or is not available. The network\n' +
    'architecture of both trainers must be identical. Experimental, for advanced users (as in v1).',
  options: {
    folder: { flag: '-i', type: 'string', help: 'model folder containing the fold_X sub-folders', required: true },
    trainer: { flag: '-tr', aliases: ['-tu'], type: 'string', help: 'name of the new trainer class', required: true },
  },
});

await runCommand(command, async ({ folder, trainer }) => {
  const r = changeTrainerClass(folder, trainer);
  for (const f of r.changed) process.stdout.write(`${f}: trainer = ${trainer}\n`);
  if (r.skippedV1.length > 0) {
    process.stderr.write(
      `Warning: ${r.skippedV1.length} nnU-Net v1 checkpoint(s) (.model.pkl) were left unchanged: this version cannot rewrite them.\n`,
    );
  }
});
