#!/usr/bin/env node
import { NnunetError } from '../errors.js';
import { evaluateFolder } from '../evaluation/evaluator.js';
import { defineCommand } from './args.js';
import { ProgressBar } from './progress.js';
import { runCommand } from './run.js';

const command = defineCommand({
  name: 'nnUNet_evaluate_folder',
  summary:
    'Evaluates the segmentations in PRED against the references in REF (same file names, NIfTI) and writes\n' +
    'PRED/summary.json; its "mean" entry holds the metrics averaged over all cases.',
  options: {
    reference: { flag: '-ref', type: 'string', help: 'folder with the reference segmentations', required: true },
    prediction: {
      flag: '-pred',
      type: 'string',
      help: 'folder with the predicted segmentations (same file names)',
      required: true,
    },
    labels: {
      flag: '-l',
      type: 'strings',
      help: 'label values to evaluate, e.g. -l 1 2 (0, the background, adds nothing useful)',
      parse: (values, flag) => values.map((v) => parseLabel(v, flag)),
      required: true,
    },
    advanced: {
      flag: '--advanced',
      type: 'flag',
      help: 'also compute the Hausdorff Distance 95 (mm), as v1 advanced=True',
    },
  },
});

function parseLabel(text: string, flag: string): number {
  if (!/^-?\d+$/.test(text)) {
    throw new NnunetError(
      'ERR_ARGUMENT',
      `option ${flag} needs integer labels, got "${text}" (see ${command.name} -h).`,
    );
  }
  return Number(text);
}

await runCommand(command, async (args) => {
  const bar = new ProgressBar('evaluating');
  let last: [number, number] = [0, 0];
  const r = await evaluateFolder(args.reference, args.prediction, args.labels, {
    advanced: args.advanced,
    onProgress: (d, t) => {
      last = [d, t];
      bar.update(d, t);
    },
  });
  bar.finish(...last);
  const lines = ['label  mean Dice'];
  for (const [label, scores] of Object.entries(r.summary.results.mean)) {
    const dice = scores.Dice;
    lines.push(`${label.padEnd(5)}  ${dice === undefined || Number.isNaN(dice) ? 'nan' : dice.toFixed(4)}`);
  }
  lines.push(`${r.cases.length} cases -> ${r.summaryPath}`);
  process.stdout.write(`${lines.join('\n')}\n`);
});
