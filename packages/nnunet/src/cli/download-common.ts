/**
 * What nnUNet_download_pretrained_model and its _by_url sibling share (the overwrite option also
 * serves nnUNet_install_pretrained_model_from_zip).
 */
import { requireEnvFolder } from '../model/paths.js';
import { downloadAndInstall } from '../sharing/download.js';
import type { FlagOption } from './args.js';
import { ProgressBar } from './progress.js';

export const OVERWRITE_OPTION = {
  flag: '--overwrite_existing',
  aliases: ['--force'],
  type: 'flag',
  help: "replace existing files whose contents differ from the archive's (other files are kept)",
} as const satisfies FlagOption;

export async function downloadCommand(url: string, overwrite: boolean): Promise<void> {
  const results = requireEnvFolder('RESULTS_FOLDER');
  process.stdout.write(`Downloading pretrained model from url: ${url}\n`);
  const bar = new ProgressBar('download (bytes)');
  let last: [number, number] = [0, 0];
  const r = await downloadAndInstall(url, {
    resultsFolder: results,
    overwrite,
    onProgress: (d, t) => {
      last = [d, t];
      bar.update(d, t);
    },
    log: (line) => process.stderr.write(`\n${line}\n`),
  });
  bar.finish(...last);
  for (const f of r.installed) process.stdout.write(`${r.replaced.includes(f) ? 'replaced' : 'installed'} ${f}\n`);
}
