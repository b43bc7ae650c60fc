/** What nnUNet_download_pretrained_model and its _by_url sibling share. */
import { requireEnvFolder } from '../model/paths.js';
import { downloadAndInstall } from '../sharing/download.js';
import type { OptionSpec, ParsedArgs } from './args.js';
import { ProgressBar } from './progress.js';

export const DOWNLOAD_OPTIONS: Record<string, OptionSpec> = {
  '--overwrite_existing': {
    kind: 'flag',
    help: "replace existing files whose contents differ from the archive's (other files are kept)",
  },
  '--force': { kind: 'flag', help: 'same as --overwrite_existing' },
};

/** Takes the positional arguments out of argv (v1's command takes one; our parser knows options only). */
export function positionalArgs(): string[] {
  const argv = process.argv.slice(2);
  process.argv.splice(2, argv.length, ...argv.filter((a) => a.startsWith('-')));
  return argv.filter((a) => !a.startsWith('-'));
}

export async function downloadCommand(url: string, args: ParsedArgs): Promise<void> {
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
