/**
 * The trainers this project knows by v1's class names: nnUNetTrainerV2's recipe (SGD with Nesterov
 * momentum 0.99, lr 0.01 with the poly schedule, weight decay 3e-5, gradient clipping at 12,
 * 1000 epochs of 250 iterations) and the variants that differ only in settings, plus v1's
 * epoch-100 momentum rescue.
 */
import { Generator, type SGD } from '@nnunet/torch';
import { NnunetError } from '../errors.js';
import { GenericUNet } from '../network/generic-unet.js';
import { initWeightsHe } from '../network/init.js';

/** A trainer variant: v1's class name and what it changes. */
export interface TrainerSpec {
  maxEpochs: number;
  itersPerEpoch: number;
  valItersPerEpoch: number;
  augmentation: boolean;
  mirroring: boolean;
  /** Second stage of the cascade (3d_cascade_fullres): the 3d_lowres trainer whose predictions it reads. */
  cascade?: { previousTrainer: string };
}

const V2: TrainerSpec = {
  maxEpochs: 1000,
  itersPerEpoch: 250,
  valItersPerEpoch: 50,
  augmentation: true,
  mirroring: true,
};

/** v1 trainer classes that differ only in their settings, found by name. */
export const TRAINERS: Record<string, TrainerSpec> = {
  nnUNetTrainerV2: V2,
  nnUNetTrainerV2_5epochs: { ...V2, maxEpochs: 5 },
  nnUNetTrainerV2_10epochs: { ...V2, maxEpochs: 10 },
  nnUNetTrainerV2_50epochs: { ...V2, maxEpochs: 50 },
  nnUNetTrainerV2_100epochs: { ...V2, maxEpochs: 100 },
  nnUNetTrainerV2_noDataAugmentation: { ...V2, augmentation: false, mirroring: false },
  nnUNetTrainerV2_noMirroring: { ...V2, mirroring: false },
  // v1's multi-GPU trainers: the same recipe; here one device trains the whole batch.
  nnUNetTrainerV2_DP: V2,
  nnUNetTrainerV2_DDP: V2,
  nnUNetTrainerV2CascadeFullRes: { ...V2, cascade: { previousTrainer: 'nnUNetTrainerV2' } },
};

export function getTrainer(name: string): TrainerSpec {
  const t = TRAINERS[name];
  if (t === undefined) {
    throw new NnunetError(
      'ERR_ARGUMENT',
      `Unknown trainer "${name}": known trainers are ${Object.keys(TRAINERS).join(', ')}.`,
    );
  }
  return t;
}

/** v1's SGD settings and training constants. */
export const INITIAL_LR = 0.01;
export const MOMENTUM = 0.99;
export const WEIGHT_DECAY = 3e-5;
export const GRAD_CLIP_NORM = 12;
/** v1 saves model_latest every this many epochs (here every epoch unless --save_every says otherwise). */
export const V1_SAVE_EVERY = 50;
/**
 * nnUNetTrainerV2.on_epoch_end: when the pseudo-Dice of epoch MOMENTUM_RESCUE_EPOCH (0-based) is
 * exactly 0, the momentum drops to RESCUE_MOMENTUM and the network is initialised afresh.
 */
export const MOMENTUM_RESCUE_EPOCH = 100;
export const RESCUE_MOMENTUM = 0.95;

/** Whether v1's epoch-100 rule fires after `epoch` (0-based) with that epoch's pseudo-Dice. */
export function needsMomentumRescue(epoch: number, pseudoDice: number): boolean {
  return epoch === MOMENTUM_RESCUE_EPOCH && pseudoDice === 0;
}

/**
 * v1's rescue: momentum RESCUE_MOMENTUM from now on (the momentum buffers are kept, as v1 keeps
 * them) and He-initialised weights (negative slope 1e-2) drawn from `seed`.
 */
export function rescueMomentum(net: GenericUNet, optimizer: SGD, seed: number): void {
  optimizer.options = { ...optimizer.options, momentum: RESCUE_MOMENTUM };
  // A fresh network on the CPU gives the new weights, whatever device `net` is on.
  const fresh = new GenericUNet(net.config);
  try {
    initWeightsHe(fresh, { generator: new Generator(seed) });
    net.loadStateDict(fresh.stateDict());
  } finally {
    fresh.dispose();
  }
}
