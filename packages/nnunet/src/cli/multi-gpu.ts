/**
 * nnUNet_train_DP / nnUNet_train_DDP: v1's multi-GPU entry points, mapped onto nnUNet_train's
 * data-parallel path: `-gpus N` (DP) becomes `-num_gpus N`, `--nproc_per_node N` (DDP, the option
 * of torch.distributed.launch) is nnUNet_train's own; `--dbs` is accepted and needs no action (the
 * plans' batch is always split over the processes, nnU-Net v2's rule), `--local_rank` is dropped
 * (each rank reads LOCAL_RANK). This filters argv instead of parsing it, so nnUNet_train's own
 * parser judges (and names) everything else.
 */

/** v1's options that nnUNet_train has no use for: name -> whether it takes a value. */
const DROPPED_OPTIONS = new Map([
  ['--dbs', false],
  ['--local_rank', true],
]);

export async function runDataParallel(command: string): Promise<void> {
  const rest = process.argv.slice(2);
  const kept: string[] = [];
  const dropped: string[] = [];
  for (let a = rest.shift(); a !== undefined; a = rest.shift()) {
    const eq = a.indexOf('=');
    const name = eq < 0 ? a : a.slice(0, eq);
    if (name === '-gpus') {
      const value = eq < 0 ? rest.shift() : a.slice(eq + 1);
      kept.push('-num_gpus', value ?? '');
      continue;
    }
    const takesValue = DROPPED_OPTIONS.get(name);
    if (takesValue === undefined) {
      kept.push(a);
      continue;
    }
    dropped.push(a);
    const value = takesValue && eq < 0 ? rest.shift() : undefined;
    if (value !== undefined) dropped.push(value);
  }
  if (dropped.some((d) => d !== '--dbs')) {
    process.stderr.write(
      `${command}: ignoring ${dropped.filter((d) => d !== '--dbs').join(' ')} (each rank reads LOCAL_RANK).\n`,
    );
  }
  process.argv.splice(2, process.argv.length - 2, ...kept);
  await import('./train.js');
}
