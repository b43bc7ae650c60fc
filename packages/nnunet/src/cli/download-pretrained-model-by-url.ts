#!/usr/bin/env node
import { NnunetError } from '../errors.js';
import { requireEnvFolder } from '../paths.js';
import { downloadAndInstall } from '../sharing/download.js';
import type { CommandSpec, ParsedArgs } from './args.js';
import { ProgressBar } from './progress.js';
import { runCommand } from './run.js';

/** Takes the positional arguments out of argv (v1's command takes one; our parser knows options only). */
function positionalArgs(): string[] {
  const argv = process.argv.slice(2);
  process.argv.splice(2, argv.length, ...argv.filter((a) => a.startsWith('-')));
  return argv.filter((a) => !a.startsWith('-'));
}

async function downloadCommand(url: string, args: ParsedArgs): Promise<void> {
  const results = requireEnvFolder('RESULTS_FOLDER');
  process.stdout.write(`Downloading pretrained model from url: ${url}\n`);
  const bar = new ProgressBar('download (bytes)');
  let last: [number, number] = [0, 0];
  const r = await downloadAndInstall(url, {
    resultsFolder: results,
    overwrite: args.get('--overwrite_existing') === true || args.get('--force') === true,
    onProgress: (d, t) => {
      last = [d, t];
      bar.update(d, t);
    },
    log: (line) => process.stderr.write(`\n${line}\n`),
  });
  bar.finish(...last);
  for (const f of r.installed) process.stdout.write(`${r.replaced.includes(f) ? 'replaced' : 'installed'} ${f}\n`);
}

const spec: CommandSpec = {
  name: 'nnUNet_download_pretrained_model_by_url',
  summary:
    'Argument: URL of the model archive.\n' +
    'Downloads a model archive (made by nnUNet_export_model_to_zip) and installs it into\n' +
    '$RESULTS_FOLDER/nnUNet. For the published models use nnUNet_download_pretrained_model.',
  options: {
    '--overwrite_existing': { kind: 'flag', help: 'replace model folders that already exist' },
    '--force': { kind: 'flag', help: 'same as --overwrite_existing' },
  },
};

const positional = positionalArgs();
await runCommand(spec, async (args) => {
  if (positional.length !== 1) {
    throw new NnunetError(
      'ERR_ARGUMENT',
      `Give exactly one URL (got ${positional.length}): nnUNet_download_pretrained_model_by_url URL.`,
    );
  }
  await downloadCommand(positional[0] as string, args);
});
