#!/usr/bin/env node
import { convertDecathlonTask } from '../io/convert-decathlon.js';
import { defineCommand } from './args.js';
import { ProgressBar } from './progress.js';
import { runCommand } from './run.js';

const command = defineCommand({
  name: 'nnUNet_convert_decathlon_task',
  summary:
    'Converts a Medical Segmentation Decathlon task (4-D images, TaskXX_NAME) into an nnU-Net raw task\n' +
    '($nnUNet_raw_data_base/nnUNet_raw_data/TaskXXX_NAME, one 3-D file per modality).',
  options: {
    input: {
      flag: '-i',
      type: 'string',
      help: 'the TaskXX_NAME folder as downloaded from the Decathlon',
      required: true,
    },
    processes: { flag: '-p', type: 'int', help: 'number of processes (accepted for v1 compatibility)' },
    outputTaskId: { flag: '-output_task_id', type: 'int', help: 'task id of the output (default: the input id)' },
  },
});

await runCommand(command, async (args) => {
  const bar = new ProgressBar('converting');
  let last: [number, number] = [0, 0];
  const id = args.outputTaskId;
  const r = await convertDecathlonTask(args.input, {
    ...(id !== undefined ? { outputTaskId: id } : {}),
    onProgress: (d, t) => {
      last = [d, t];
      bar.update(d, t);
    },
  });
  bar.finish(...last);
  process.stdout.write(`${r.taskName}: ${r.images} images, ${r.labels} labels -> ${r.outputFolder}\n`);
});
