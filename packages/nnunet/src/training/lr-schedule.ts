/**
 * nnUNetTrainerV2's learning rate: the "poly" schedule lr = initial * (1 - epoch / maxEpochs)^0.9,
 * set once per epoch. v1 sets it at the start of training for the epoch about to run
 * (run_training: maybe_update_lr(self.epoch)) and after each epoch for the next one
 * (on_epoch_end, before the epoch counter is incremented: maybe_update_lr() uses self.epoch + 1).
 * So epoch e (0-based) always trains with polyLr(e), also when training resumes from a checkpoint,
 * whose stored epoch is the next one to run; after the last epoch the rate is set to 0.
 */

import { roundHalfEven } from '../compat/numpy.js';
import { NnunetError } from '../errors.js';

/** nnUNetTrainerV2.initial_lr. */
export const INITIAL_LR = 1e-2;
/** nnUNetTrainerV2.max_num_epochs. */
export const MAX_NUM_EPOCHS = 1000;
/** Exponent of the poly schedule (poly_lr's default, as nnUNetTrainerV2 passes it). */
export const POLY_LR_EXPONENT = 0.9;

export interface PolyLrOptions {
  /** Default INITIAL_LR. */
  initialLr?: number;
  /** Default MAX_NUM_EPOCHS. */
  maxEpochs?: number;
  /** Default POLY_LR_EXPONENT. */
  exponent?: number;
}

/**
 * v1's poly_lr: initialLr * (1 - epoch / maxEpochs) ** exponent, in float64 like Python. `epoch`
 * may be any number in [0, maxEpochs] (beyond it Python would return a complex number).
 */
export function polyLr(
  epoch: number,
  maxEpochs: number = MAX_NUM_EPOCHS,
  initialLr: number = INITIAL_LR,
  exponent: number = POLY_LR_EXPONENT,
): number {
  if (!(maxEpochs > 0)) throw new NnunetError('ERR_ARGUMENT', `polyLr: maxEpochs must be > 0, got ${maxEpochs}.`);
  if (!(epoch >= 0 && epoch <= maxEpochs)) {
    throw new NnunetError('ERR_ARGUMENT', `polyLr: epoch must lie in [0, ${maxEpochs}], got ${epoch}.`);
  }
  return initialLr * (1 - epoch / maxEpochs) ** exponent;
}

/** The learning rate epoch `epoch` (0-based) trains with. */
export function lrForEpoch(epoch: number, options: PolyLrOptions = {}): number {
  return polyLr(epoch, options.maxEpochs, options.initialLr, options.exponent);
}

/**
 * v1's maybe_update_lr: sets `optimizer.lr` to polyLr(epoch) when `epoch` is given (start of
 * training or of a resumed training: the epoch about to run), otherwise to polyLr(currentEpoch + 1)
 * (end of epoch `currentEpoch`: the rate of the next one). Returns the rate set.
 */
export function maybeUpdateLr(
  optimizer: { lr: number },
  currentEpoch: number,
  options: PolyLrOptions & { epoch?: number } = {},
): number {
  const lr = lrForEpoch(options.epoch ?? currentEpoch + 1, options);
  optimizer.lr = lr;
  return lr;
}

/** The rate as v1 logs it ("lr:", np.round(lr, decimals=6)). */
export function roundLrForLog(lr: number): number {
  return roundHalfEven(lr * 1e6) / 1e6;
}
