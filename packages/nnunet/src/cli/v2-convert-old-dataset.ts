#!/usr/bin/env node
import { convertOldDatasetV2 } from '../io/convert-v2.js';
import { defineCommand } from './args.js';
import { runCommand } from './run.js';

const command = defineCommand({
  name: 'nnUNetv2_convert_old_nnUNet_dataset',
  summary:
    'Copies an nnU-Net v1 raw task (nnUNet_raw_data/TaskXXX_NAME) into an nnU-Net v2 dataset\n' +
    "($nnUNet_raw/DATASET_NAME; images and labels as they are, dataset.json in v2's format).",
  example:
    'nnUNetv2_convert_old_nnUNet_dataset $nnUNet_raw_data_base/nnUNet_raw_data/Task004_Hippocampus Dataset004_Hippocampus',
  positionals: [
    {
      key: 'input',
      name: 'INPUT_FOLDER',
      help: 'the path of the v1 raw task folder (with imagesTr/, labelsTr/, dataset.json)',
    },
    { key: 'output', name: 'OUTPUT_DATASET_NAME', help: 'the new dataset name, DatasetXXX_NAME (not a path)' },
  ],
  options: {},
});

await runCommand(command, async (args) => {
  const r = await convertOldDatasetV2(args.input, args.output);
  process.stdout.write(`${r.datasetName}: ${r.images} images, ${r.labels} labels -> ${r.outputFolder}\n`);
});
