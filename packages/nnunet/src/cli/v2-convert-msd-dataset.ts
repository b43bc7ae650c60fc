#!/usr/bin/env node
import { convertMsdDatasetV2 } from '../io/convert-v2.js';
import { defineCommand } from './args.js';
import { ProgressBar } from './progress.js';
import { runCommand } from './run.js';

const command = defineCommand({
  name: 'nnUNetv2_convert_MSD_dataset',
  summary:
    'Converts a Medical Segmentation Decathlon task (TaskXX_NAME, 4-D images) into an nnU-Net v2 dataset\n' +
    "($nnUNet_raw/DatasetXXX_NAME: one 3-D file per channel, labels copied, dataset.json in v2's format).",
  example: 'nnUNetv2_convert_MSD_dataset -i Task04_Hippocampus',
  options: {
    input: {
      flag: '-i',
      type: 'string',
      help: 'the TaskXX_NAME folder as downloaded from the Decathlon',
      required: true,
    },
    overwriteId: {
      flag: '-overwrite_id',
      type: 'int',
      help: "the dataset id of the output (default: the task's; needed when that id is taken)",
    },
    processes: { flag: '-np', type: 'int', help: 'number of processes (accepted for v2 compatibility)' },
  },
});

await runCommand(command, async (args) => {
  const bar = new ProgressBar('converting');
  let last: [number, number] = [0, 0];
  const r = await convertMsdDatasetV2(args.input, {
    ...(args.overwriteId !== undefined ? { overwriteId: args.overwriteId } : {}),
    onProgress: (d, t) => {
      last = [d, t];
      bar.update(d, t);
    },
  });
  bar.finish(...last);
  process.stdout.write(`${r.datasetName}: ${r.images} images, ${r.labels} labels -> ${r.outputFolder}\n`);
});
