#!/usr/bin/env node
import { plotTaskOverlays } from '../visualisation/overlay.js';
import type { CommandSpec } from './args.js';
import { ProgressBar } from './progress.js';
import { runCommand } from './run.js';

const spec: CommandSpec = {
  name: 'nnUNet_plot_task_pngs',
  summary:
    'Writes one PNG per training case of a task: the axial slice with the most foreground, the labels\n' +
    'coloured over the image (OUT/CASE.png). Spacing is not taken into account. Uses the preprocessed\n' +
    'data unless --use_raw is given.',
  options: {
    '-t': { kind: 'string', help: 'task name or id', required: true },
    '-o': { kind: 'string', help: 'output folder', required: true },
    '-num_processes': { kind: 'int', help: 'accepted for v1 compatibility (cases are drawn one after another)' },
    '-modality_idx': { kind: 'int', help: 'modality drawn (0 = _0000.nii.gz; default 0)' },
    '--use_raw': { kind: 'flag', help: 'draw the raw data (imagesTr + labelsTr) instead of the preprocessed data' },
  },
};

await runCommand(spec, async (args) => {
  const out = args.get('-o') as string;
  const bar = new ProgressBar('cases');
  let last: [number, number] = [0, 0];
  const written = await plotTaskOverlays(args.get('-t') as string, out, {
    useRaw: args.get('--use_raw') === true,
    modality: (args.get('-modality_idx') as number | undefined) ?? 0,
    onProgress: (d, t) => {
      last = [d, t];
      bar.update(d, t);
    },
  });
  bar.finish(...last);
  process.stdout.write(`${written.length} PNG file(s) written to ${out}\n`);
});
