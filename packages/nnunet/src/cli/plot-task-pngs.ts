#!/usr/bin/env node
import { plotTaskOverlays } from '../visualisation/overlay.js';
import { defineCommand } from './args.js';
import { ProgressBar } from './progress.js';
import { runCommand } from './run.js';

const command = defineCommand({
  name: 'nnUNet_plot_task_pngs',
  summary:
    'Writes one PNG per training case of a task: the axial slice with the most foreground, the labels\n' +
    'coloured over the image (OUT/CASE.png). Spacing is not taken into account. Uses the preprocessed\n' +
    'data unless --use_raw is given.',
  options: {
    task: { flag: '-t', type: 'string', help: 'task name or id', required: true },
    output: { flag: '-o', type: 'string', help: 'output folder', required: true },
    processes: {
      flag: '-num_processes',
      type: 'int',
      help: 'accepted for v1 compatibility (cases are drawn one after another)',
    },
    modality: { flag: '-modality_idx', type: 'int', help: 'modality drawn (0 = _0000.nii.gz; default 0)', default: 0 },
    useRaw: {
      flag: '--use_raw',
      type: 'flag',
      help: 'draw the raw data (imagesTr + labelsTr) instead of the preprocessed data',
    },
  },
});

await runCommand(command, async (args) => {
  const out = args.output;
  const bar = new ProgressBar('cases');
  let last: [number, number] = [0, 0];
  const written = await plotTaskOverlays(args.task, out, {
    useRaw: args.useRaw,
    modality: args.modality,
    onProgress: (d, t) => {
      last = [d, t];
      bar.update(d, t);
    },
  });
  bar.finish(...last);
  process.stdout.write(`${written.length} PNG file(s) written to ${out}\n`);
});
