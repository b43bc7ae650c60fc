/**
 * nnUNet_train_DP / nnUNet_train_DDP: v1's multi-GPU entry points. Training here runs on one
 * device, so their GPU options are dropped (with a note) and the rest goes to nnUNet_train
 * unchanged: a v1 script that calls them still trains the same recipe. This filters argv instead of
 * parsing it, so nnUNet_train's own parser judges (and names) everything else.
 */

/** v1's options that only steer GPUs: name -> whether it takes a value. */
const GPU_ONLY_OPTIONS = new Map([
  ['-gpus', true],
  ['--dbs', false],
  ['--local_rank', true],
]);

export async function runOnOneDevice(command: string): Promise<void> {
  const rest = process.argv.slice(2);
  const kept: string[] = [];
  const dropped: string[] = [];
  for (let a = rest.shift(); a !== undefined; a = rest.shift()) {
    const eq = a.indexOf('=');
    const takesValue = GPU_ONLY_OPTIONS.get(eq < 0 ? a : a.slice(0, eq));
    if (takesValue === undefined) {
      kept.push(a);
      continue;
    }
    dropped.push(a);
    const value = takesValue && eq < 0 ? rest.shift() : undefined;
    if (value !== undefined) dropped.push(value);
  }
  if (dropped.length > 0) {
    process.stderr.write(
      `${command}: training runs on one device here; ignoring ${dropped.join(' ')} and running nnUNet_train.\n`,
    );
  }
  process.argv.splice(2, process.argv.length - 2, ...kept);
  await import('./train.js');
}
