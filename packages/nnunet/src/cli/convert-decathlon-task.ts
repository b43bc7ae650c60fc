#!/usr/bin/env node
import { convertDecathlonTask } from '../io/convert-decathlon.js';
import type { CommandSpec } from './args.js';
import { ProgressBar } from './progress.js';
import { runCommand } from './run.js';

const spec: CommandSpec = {
  name: 'nnUNet_convert_decathlon_task',
  summary:
    'Converts a Medical Segmentation Decathlon task (4-D images, TaskXX_NAME) into an nnU-Net raw task\n' +
    '($nnUNet_raw_data_base/nnUNet_raw_data/TaskXXX_NAME, one 3-D file per modality).',
  options: {
    '-i': { kind: 'string', help: 'the TaskXX_NAME folder as downloaded from the Decathlon', required: true },
    '-p': { kind: 'int', help: 'number of processes (accepted for v1 compatibility)' },
    '-output_task_id': { kind: 'int', help: 'task id of the output (default: the input id)' },
  },
};

await runCommand(spec, async (args) => {
  const bar = new ProgressBar('converting');
  let last: [number, number] = [0, 0];
  const id = args.get('-output_task_id') as number | undefined;
  const r = await convertDecathlonTask(args.get('-i') as string, {
    ...(id !== undefined ? { outputTaskId: id } : {}),
    onProgress: (d, t) => {
      last = [d, t];
      bar.update(d, t);
    },
  });
  bar.finish(...last);
  process.stdout.write(`${r.taskName}: ${r.images} images, ${r.labels} labels -> ${r.outputFolder}\n`);
});
