/**
 * fold_N/training_status.json says plainly where a fold's training stands, so an interrupted run
 * never looks finished: "training" (a process is at it; if that process is gone it was killed),
 * "interrupted" (stopped with a resumable checkpoint), "failed" (stopped by an error), "trained"
 * (model_final_checkpoint written, the final validation not done) and "complete".
 */
import { hostname } from 'node:os';
import { join } from 'node:path';
import { FOLD_STATUS_FILE } from '../model/layout.js';
import { writeJsonAtomic } from '../util/atomic.js';
import type { TrainerState } from './checkpoint.js';
import type { FoldContext } from './fold-context.js';

export type FoldStatus = 'training' | 'interrupted' | 'failed' | 'trained' | 'complete';

/** The command that continues this fold. */
export function continueCommand(ctx: FoldContext, flag: '-c' | '-val' = '-c'): string {
  return `nnUNet_train ${ctx.configuration} ${ctx.trainerName} ${ctx.task} ${ctx.fold} ${flag}`;
}

export interface StatusDetails {
  /** The error that stopped a failed run. */
  error?: string;
  /** Training ended before the schedule's last epoch (a first Ctrl-C). */
  stoppedEarly?: boolean;
}

function explain(ctx: FoldContext, status: FoldStatus, state: TrainerState | null, d: StatusDetails): string {
  const early =
    d.stoppedEarly === true && state !== null
      ? ` (stopped early by request after ${state.epoch} of ${ctx.maxEpochs} epochs; -c trains the rest)`
      : '';
  const at =
    state === null ? '' : ` at epoch ${state.epoch}${state.iteration > 0 ? `, iteration ${state.iteration}` : ''}`;
  switch (status) {
    case 'training':
      return `training in progress (PID ${process.pid} on ${hostname()}); if that process no longer runs, it was killed: continue with ${continueCommand(ctx)}`;
    case 'interrupted':
      return `training was interrupted${at} with a checkpoint of that position: continue with ${continueCommand(ctx)}`;
    case 'failed':
      return `training stopped${at} because of an error (${d.error ?? 'unknown'}): fix it, then continue with ${continueCommand(ctx)}`;
    case 'trained':
      return `training finished${early} (model_final_checkpoint); the final validation has not completed: run ${continueCommand(ctx, '-val')}`;
    case 'complete':
      return `training and the final validation are complete${early}`;
  }
}

/** Writes the fold's status file (atomically). */
export function writeFoldStatus(
  ctx: FoldContext,
  status: FoldStatus,
  state: TrainerState | null,
  details: StatusDetails = {},
): void {
  writeJsonAtomic(join(ctx.foldFolder, FOLD_STATUS_FILE), {
    status,
    message: explain(ctx, status, state, details),
    stopped_early: details.stoppedEarly === true,
    epoch: state?.epoch ?? null,
    iteration: state?.iteration ?? null,
    max_epochs: ctx.maxEpochs,
    host: hostname(),
    pid: process.pid,
    updated: new Date().toISOString(),
  });
}
