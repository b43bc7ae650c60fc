/**
 * nnUNet_train_DP / nnUNet_train_DDP: v1's multi-GPU entry points. Training here runs on one
 * device, so their GPU options are dropped (with a note) and the rest goes to nnUNet_train
 * unchanged: a v1 script that calls them still trains the same recipe.
 */

/** v1's options that only steer GPUs: name -> whether it takes a value. */
const GPU_ONLY_OPTIONS: Record<string, boolean> = { '-gpus': true, '--dbs': false, '--local_rank': true };

export async function runOnOneDevice(command: string): Promise<void> {
  const argv = process.argv.slice(2);
  const kept: string[] = [];
  const dropped: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const [name, inline] = a.split('=', 2) as [string, string | undefined];
    const takesValue = GPU_ONLY_OPTIONS[name];
    if (takesValue === undefined) {
      kept.push(a);
      continue;
    }
    dropped.push(a);
    if (takesValue && inline === undefined && i + 1 < argv.length) dropped.push(argv[++i] as string);
  }
  if (dropped.length > 0) {
    process.stderr.write(
      `${command}: training runs on one device here; ignoring ${dropped.join(' ')} and running nnUNet_train.\n`,
    );
  }
  process.argv.splice(2, argv.length, ...kept);
  await import('./train.js');
}
