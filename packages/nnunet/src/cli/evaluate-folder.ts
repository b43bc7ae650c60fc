#!/usr/bin/env node
import { NnunetError } from '../errors.js';
import { evaluateFolder } from '../evaluation/evaluator.js';
import type { CommandSpec } from './args.js';
import { ProgressBar } from './progress.js';
import { runCommand } from './run.js';

const spec: CommandSpec = {
  name: 'nnUNet_evaluate_folder',
  summary:
    'Evaluates the segmentations in PRED against the references in REF (same file names, NIfTI) and writes\n' +
    'PRED/summary.json; its "mean" entry holds the metrics averaged over all cases.',
  options: {
    '-ref': { kind: 'string', help: 'folder with the reference segmentations', required: true },
    '-pred': { kind: 'string', help: 'folder with the predicted segmentations (same file names)', required: true },
    '-l': {
      kind: 'strings',
      help: 'label values to evaluate, e.g. -l 1 2 (0, the background, adds nothing useful)',
      required: true,
    },
    '--advanced': { kind: 'flag', help: 'also compute the Hausdorff Distance 95 (mm), as v1 advanced=True' },
  },
};

await runCommand(spec, async (args) => {
  const labels = (args.get('-l') as string[]).map((v) => {
    if (!/^-?\d+$/.test(v)) {
      throw new NnunetError('ERR_ARGUMENT', `option -l needs integer labels, got "${v}" (see ${spec.name} -h).`);
    }
    return Number(v);
  });
  const bar = new ProgressBar('evaluating');
  let last: [number, number] = [0, 0];
  const r = await evaluateFolder(args.get('-ref') as string, args.get('-pred') as string, labels, {
    advanced: args.get('--advanced') === true,
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
