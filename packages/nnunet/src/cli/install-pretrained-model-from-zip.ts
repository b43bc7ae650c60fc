#!/usr/bin/env node
import { NnunetError } from '../errors.js';
import { requireEnvFolder } from '../model/paths.js';
import { installModelFromZip } from '../sharing/install.js';
import type { CommandSpec } from './args.js';
import { ProgressBar } from './progress.js';
import { runCommand } from './run.js';

const spec: CommandSpec = {
  name: 'nnUNet_install_pretrained_model_from_zip',
  summary:
    'Argument: ZIP, the model archive.\n' +
    'Installs a model archive (made by nnUNet_export_model_to_zip, ours or v1) into $RESULTS_FOLDER/nnUNet.\n' +
    'The archive is checked completely before anything is moved into place.',
  options: {
    '--overwrite_existing': {
      kind: 'flag',
      help: "replace existing files whose contents differ from the archive's (other files are kept)",
    },
    '--force': { kind: 'flag', help: 'same as --overwrite_existing' },
  },
};

// v1 takes the zip as a positional argument; the option parser knows only options.
const argv = process.argv.slice(2);
const positional = argv.filter((a) => !a.startsWith('-'));
process.argv.splice(2, argv.length, ...argv.filter((a) => a.startsWith('-')));

await runCommand(spec, async (args) => {
  if (positional.length !== 1) {
    throw new NnunetError(
      'ERR_ARGUMENT',
      `Give exactly one zip file (got ${positional.length}): nnUNet_install_pretrained_model_from_zip MODEL.zip.`,
    );
  }
  const zip = positional[0] as string;
  const results = requireEnvFolder('RESULTS_FOLDER');
  const bar = new ProgressBar('extracting');
  let last: [number, number] = [0, 0];
  const r = await installModelFromZip(zip, {
    resultsFolder: results,
    overwrite: args.get('--overwrite_existing') === true || args.get('--force') === true,
    onProgress: (d, t) => {
      last = [d, t];
      bar.update(d, t);
    },
  });
  bar.finish(...last);
  for (const f of r.installed) {
    process.stdout.write(`${r.replaced.includes(f) ? 'replaced' : 'installed'} ${f}\n`);
  }
});
