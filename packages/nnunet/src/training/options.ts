/**
 * What a caller can ask of one fold's training (nnUNet_train's options as a typed object), and
 * what it gets back.
 */
import type { ProcessGroup } from '@nnunet/torch';
import type { Configuration, Fold } from '../model/configuration.js';
import type { Env } from '../model/paths.js';
import type { CascadeAugmentationParams } from './augmentation/index.js';

/**
 * The arithmetic of the training steps: 'float32'; 'bfloat16' (CPU autocast: convolutions in bf16,
 * about 0.4x the step time on CPUs with AVX-512 BF16); 'float16' (CUDA autocast with dynamic loss
 * scaling, v1's default on GPUs). Weights, optimizer state, loss and Dice stay float32 in all three.
 */
export type TrainingPrecision = 'float32' | 'bfloat16' | 'float16';

export interface TrainOptions {
  configuration: Configuration;
  trainer?: string;
  task: string | number;
  /** A fold index or 'all' (parse text with parseFold). */
  fold: Fold;
  env?: Env;
  /** Overrides of the trainer's schedule (v1 users ask for these). */
  epochs?: number;
  itersPerEpoch?: number;
  valItersPerEpoch?: number;
  /** Test and benchmark knob: overrides the planned batch size. */
  batchSize?: number;
  device?: 'cpu' | 'cuda';
  /**
   * Data-parallel training: this process's rank in a group of processes that train the fold
   * together (the plans' batch split over the ranks, gradients averaged, rank 0 writes everything).
   */
  group?: ProcessGroup;
  /** See TrainingPrecision: given, it applies to new and continued runs alike (-c keeps the run's otherwise). */
  precision?: TrainingPrecision;
  /**
   * The precision of a run that starts from scratch when `precision` is not given (default
   * float32). nnUNet_train passes bfloat16 on CPUs with native bf16 (model/precision.ts).
   */
  newRunPrecision?: TrainingPrecision;
  continueTraining?: boolean;
  /** Only run the final validation of an existing model (v1's -val). */
  validationOnly?: boolean;
  /** Validate with model_best instead of the final model (v1's --valbest). */
  validateBest?: boolean;
  saveNpz?: boolean;
  disableSaving?: boolean;
  seed?: number;
  workers?: number;
  threads?: number;
  /**
   * A checkpoint (.safetensors) whose weights initialise the network, by v1's load_pretrained_weights
   * rules (ignored when continuing with -c).
   */
  pretrainedWeights?: string;
  /** 3d_lowres: skip the prediction of the validation cases for the cascade (v1's --disable_next_stage_pred). */
  disableNextStagePred?: boolean;
  /** Skip deciding the fold's postprocessing after validation (v1's --disable_postprocessing_on_folds). */
  disablePostprocessingOnFolds?: boolean;
  /** Cascade augmentation parameters (default CASCADE_AUGMENTATION_V1, what v1's trainer runs). */
  cascadeAugmentation?: CascadeAugmentationParams;
  /** Set by the caller to stop after the current epoch (save, then validate). */
  stopRequested?: () => boolean;
  /**
   * Set by the caller to stop after the current iteration: model_latest then holds the exact
   * position, nothing is validated and the result says `interrupted` (SIGTERM/SIGUSR1 in the CLI).
   */
  interruptRequested?: () => boolean;
  /** Write model_latest every this many epochs (default 1; v1 used 50). */
  saveEvery?: number;
  /** Told when the run moves from training to the final validation. */
  onPhase?: (phase: 'training' | 'validation') => void;
  log?: (line: string) => void;
  onIteration?: (phase: 'train' | 'val', done: number, total: number, loss: number, epoch: number) => void;
  onEpoch?: (
    epoch: number,
    summary: { trainLoss: number; valLoss: number; pseudoDice: number; ema: number; lr: number; seconds: number },
  ) => void;
}

export interface TrainResult {
  foldFolder: string;
  epochs: number;
  /** True when interruptRequested stopped the run: model_latest holds its position, nothing was validated. */
  interrupted: boolean;
  validationSummary: string | null;
  /** 3d_lowres: the CASE_segFromPrevStage.npz files written for the cascade. */
  nextStagePredictions: string[];
}
