/**
 * The training loss of nnUNetTrainerV2 and what surrounds it, on @nnunet/torch tensors:
 *
 * - soft Dice on the softmax (v1's SoftDiceLoss with smooth 1e-5, background left out), plus
 *   cross-entropy, summed with weights 1 and 1 (DC_and_CE_loss);
 * - the weighted sum over deep-supervision outputs (MultipleOutputLoss2), with the targets
 *   downsampled nearest-neighbour as DownsampleSegForDSTransform2 does;
 * - the online evaluation: per-class hard tp/fp/fn of the full-resolution output's argmax, their
 *   global Dice per epoch, and its moving average (the "pseudo Dice" that picks model_best).
 *
 * Shapes: network outputs are logits [B, C, ...spatial] (C classes, background 0); targets are
 * label maps [B, 1, ...spatial] (float as v1's loader gives them, or integer) or [B, ...spatial].
 * The tensor ops and their order follow v1 (e.g. sums over one axis at a time, last axis first,
 * as v1's sum_tensor), so results equal PyTorch's to float rounding.
 */
import { arange, F, noGrad, type Tensor, tensor, tidy } from '@nnunet/torch';
import { roundHalfEven } from '../compat/numpy.js';
import { NnunetError } from '../errors.js';
import type { Configuration } from '../model/configuration.js';
import { axisTaps } from '../preprocessing/spline.js';

/** Smoothing added to the Dice numerator and denominator (nnUNetTrainer: soft_dice_kwargs smooth). */
export const DICE_SMOOTH = 1e-5;
/** Added to the Dice denominator once more, against division by zero (SoftDiceLoss). */
export const DICE_DENOMINATOR_EPS = 1e-8;
/** Weight of the moving average of the online pseudo Dice: alpha * old + (1 - alpha) * new. */
export const EVAL_CRITERION_ALPHA = 0.9;

/**
 * Whether v1 trains this configuration with batch Dice (get_default_configuration): yes for 2d and
 * for the full-resolution networks of a task with a low-resolution stage (3d_fullres of a
 * two-stage plan, 3d_cascade_fullres); no for 3d_lowres and for 3d_fullres of a one-stage plan,
 * which use per-sample Dice. numStages: the number of stages in the 3D plans.
 */
export function batchDiceFor(network: Configuration, numStages: number): boolean {
  return (network === '2d' || numStages > 1) && network !== '3d_lowres';
}

function fail(message: string): NnunetError {
  return new NnunetError('ERR_ARGUMENT', message);
}

const shapeText = (s: readonly number[]) => `[${s.join(', ')}]`;

/**
 * The target as a label map with a channel axis, [B, 1, ...spatial], checked against the output
 * [B, C, ...spatial]; a target of the output's own shape is returned as is (already one-hot,
 * which v1 also accepts). Returns a new handle.
 */
function labelMapFor(x: Tensor, target: Tensor, what: string): { labels: Tensor; oneHot: boolean } {
  const xs = x.shape;
  const ts = target.shape;
  if (ts.length === xs.length - 1) {
    if (ts.every((s, i) => s === xs[i === 0 ? 0 : i + 1])) return { labels: target.unsqueeze(1), oneHot: false };
  } else if (ts.length === xs.length && ts[0] === xs[0] && ts.slice(2).every((s, i) => s === xs[i + 2])) {
    if (ts[1] === xs[1]) return { labels: target.alias(), oneHot: true };
    if (ts[1] === 1) return { labels: target.alias(), oneHot: false };
  }
  throw fail(
    `${what}: target of shape ${shapeText(ts)} does not fit the output ${shapeText(xs)}; expected [B, 1, ...spatial] or [B, ...spatial] with the output's batch and spatial sizes.`,
  );
}

/** Column of class indices [1, n, 1, ...] (rank `rank`) holding first..first+n-1, on `device`. */
function classColumn(first: number, n: number, rank: number, like: Tensor): Tensor {
  const shape = new Array<number>(rank).fill(1);
  shape[1] = n;
  return tidy(() => arange(first, first + n, 1, { dtype: 'int64', device: like.device }).view(shape));
}

/**
 * One-hot encoding of `target` in the layout and dtype of `x` [B, C, ...spatial] (v1 scatters
 * ones into zeros; equal to comparing the truncated labels with 0..C-1). No gradient.
 */
export function oneHotLike(x: Tensor, target: Tensor): Tensor {
  return noGrad(() =>
    tidy(() => {
      const { labels, oneHot } = labelMapFor(x, target, 'oneHotLike');
      if (oneHot) return labels;
      const classes = classColumn(0, x.shape[1] as number, x.ndim, x);
      return labels.to('int64').eq(classes).to(x.dtype);
    }),
  );
}

/** v1's sum_tensor: sums over the distinct `axes` one at a time, highest axis first. */
export function sumAxes(t: Tensor, axes: readonly number[]): Tensor {
  const order = [...new Set(axes)].sort((a, b) => b - a);
  if (order.length === 0) return t.alias();
  return tidy(() => {
    let s = t;
    for (const a of order) s = s.sum(a);
    return s;
  });
}

/**
 * Soft true positives, false positives and false negatives of probabilities `probs`
 * [B, C, ...spatial] against the one-hot `oneHot` of the same shape (v1's get_tp_fp_fn_tn without
 * mask or squaring): sums of p*y, p*(1-y) and (1-p)*y over `axes`.
 */
export function softTpFpFn(
  probs: Tensor,
  oneHot: Tensor,
  axes: readonly number[],
): { tp: Tensor; fp: Tensor; fn: Tensor } {
  return tidy(() => {
    const tp = sumAxes(probs.mul(oneHot), axes);
    const fp = sumAxes(probs.mul(oneHot.rsub(1)), axes);
    const fn = sumAxes(probs.rsub(1).mul(oneHot), axes);
    return { tp, fp, fn };
  });
}

export interface SoftDiceOptions {
  /**
   * true: one Dice per class over the whole batch treated as one volume; false: one Dice per sample
   * and class, averaged. See batchDiceFor.
   */
  batchDice: boolean;
  /** Include the background class (v1: false). */
  doBg?: boolean;
  /** v1: 1e-5. */
  smooth?: number;
  /**
   * Data-parallel training with batch Dice: turns this process's soft tp/fp/fn into those of the
   * global batch (nnU-Net v2 all-gathers them across ranks; see training/data-parallel.ts).
   */
  globalCounts?: (counts: { tp: Tensor; fp: Tensor; fn: Tensor }) => { tp: Tensor; fp: Tensor; fn: Tensor };
}

/**
 * v1's SoftDiceLoss with the softmax as nonlinearity, as nnUNetTrainer configures it:
 * dc = (2 tp + smooth) / (2 tp + fp + fn + smooth + 1e-8) per class (and per sample unless batch
 * Dice), background dropped, mean, negated. Returns a scalar in [-1, 0].
 * logits: [B, C, ...spatial]; target: label map (see the module comment) or one-hot like logits.
 */
export function softDiceLoss(logits: Tensor, target: Tensor, options: SoftDiceOptions): Tensor {
  const { batchDice, doBg = false, smooth = DICE_SMOOTH } = options;
  return tidy(() => {
    const spatial = Array.from({ length: logits.ndim - 2 }, (_, i) => i + 2);
    const axes = batchDice ? [0, ...spatial] : spatial;
    const probs = logits.softmax(1);
    const y = oneHotLike(logits, target);
    const local = softTpFpFn(probs, y, axes);
    const { tp, fp, fn } = batchDice && options.globalCounts ? options.globalCounts(local) : local;
    const nominator = tp.mul(2).add(smooth);
    const denominator = tp.mul(2).add(fp).add(fn).add(smooth);
    let dc = nominator.div(denominator.add(DICE_DENOMINATOR_EPS));
    if (!doBg) dc = dc.slice(batchDice ? 0 : 1, 1);
    return dc.mean().neg();
  });
}

/**
 * v1's RobustCrossEntropyLoss: torch's cross-entropy (mean over voxels) of logits [B, C, ...]
 * against the label map, whose channel axis (size 1) is dropped and whose values are truncated
 * to integers.
 */
export function robustCrossEntropyLoss(logits: Tensor, target: Tensor): Tensor {
  return tidy(() => {
    const { labels, oneHot } = labelMapFor(logits, target, 'robustCrossEntropyLoss');
    if (oneHot && logits.shape[1] !== 1) {
      throw fail('robustCrossEntropyLoss: the target must be a label map, not a one-hot encoding.');
    }
    return F.crossEntropy(logits, labels.select(1, 0).to('int64'));
  });
}

export interface DcAndCeOptions extends SoftDiceOptions {
  /** v1: 1. */
  weightCe?: number;
  /** v1: 1. */
  weightDice?: number;
}

/**
 * v1's DC_and_CE_loss with aggregate 'sum': weightCe * CE + weightDice * soft Dice (a term whose
 * weight is 0 is not computed). Scalar.
 */
export function dcAndCeLoss(logits: Tensor, target: Tensor, options: DcAndCeOptions): Tensor {
  const { weightCe = 1, weightDice = 1 } = options;
  return tidy(() => {
    const dc = weightDice !== 0 ? softDiceLoss(logits, target, options) : null;
    const ce = weightCe !== 0 ? robustCrossEntropyLoss(logits, target) : null;
    if (ce === null && dc === null) throw fail('dcAndCeLoss: weightCe and weightDice are both 0.');
    if (ce === null) return (dc as Tensor).mul(weightDice);
    if (dc === null) return ce.mul(weightCe);
    return ce.mul(weightCe).add(dc.mul(weightDice));
  });
}

/**
 * v1's MultipleOutputLoss2: weights[0] * loss(outputs[0], targets[0]) plus weights[i] *
 * loss(outputs[i], targets[i]) for every later output whose weight is not 0 (those are not
 * evaluated). Outputs, targets and weights are paired by index, full resolution first.
 */
export function multipleOutputLoss(
  outputs: readonly Tensor[],
  targets: readonly Tensor[],
  weights: readonly number[],
  loss: (output: Tensor, target: Tensor) => Tensor,
): Tensor {
  if (outputs.length === 0 || outputs.length !== targets.length || weights.length < outputs.length) {
    throw fail(
      `multipleOutputLoss: needs one target and one weight per output, got ${outputs.length} outputs, ${targets.length} targets and ${weights.length} weights.`,
    );
  }
  return tidy(() => {
    let total = loss(outputs[0] as Tensor, targets[0] as Tensor).mul(weights[0] as number);
    for (let i = 1; i < outputs.length; i++) {
      const w = weights[i] as number;
      if (w !== 0) total = total.add(loss(outputs[i] as Tensor, targets[i] as Tensor).mul(w));
    }
    return total;
  });
}

/**
 * The loss nnUNetTrainerV2 optimises: DC_and_CE per deep-supervision output, weighted by
 * `weights` (deepSupervisionLossWeights) and summed. Pass one output, one target and [1] for a
 * network without deep supervision.
 */
export function deepSupervisionLoss(
  outputs: readonly Tensor[],
  targets: readonly Tensor[],
  weights: readonly number[],
  options: DcAndCeOptions,
): Tensor {
  return multipleOutputLoss(outputs, targets, weights, (x, y) => dcAndCeLoss(x, y, options));
}

/**
 * The targets of the deep-supervision outputs (DownsampleSegForDSTransform2 with order 0): for
 * each entry of `scales` (deepSupervisionScales; full resolution first) the segmentation
 * [B, C, ...spatial] resized to round(size * scale) per axis (round half to even) by
 * batchgenerators' resize_segmentation at order 0, i.e. scikit-image's nearest-neighbour resize:
 * output index k takes input index floor((k + 0.5) * n / m), clamped to the edge. Implemented as one
 * index_select per resized axis, on the segmentation's device; labels are copied, never mixed.
 * An all-ones scale gives a new handle on `seg` itself, as v1 passes the array through.
 */
export function downsampleSegForDeepSupervision(seg: Tensor, scales: readonly (readonly number[])[]): Tensor[] {
  const spatial = seg.ndim - 2;
  if (spatial < 1)
    throw fail(`downsampleSegForDeepSupervision: expected [B, C, ...spatial], got ${shapeText(seg.shape)}.`);
  // One scope for all outputs, so that a bad scale frees the outputs made before it.
  return tidy(() =>
    scales.map((s) => {
      if (s.every((v) => v === 1)) return seg.alias();
      if (s.length !== spatial) {
        throw fail(
          `downsampleSegForDeepSupervision: scale [${s.join(', ')}] needs ${spatial} values for a segmentation of shape ${shapeText(seg.shape)}.`,
        );
      }
      let out = seg;
      s.forEach((scale, i) => {
        const n = seg.shape[i + 2] as number;
        const m = roundHalfEven(n * scale);
        if (m < 1) {
          throw fail(`downsampleSegForDeepSupervision: scale ${scale} leaves no voxel of axis ${i + 2} (size ${n}).`);
        }
        if (m === n) return;
        const { index } = axisTaps(n, m, 0);
        out = out.indexSelect(i + 2, tensor(Array.from(index), { dtype: 'int64', device: seg.device }));
      });
      return out === seg ? seg.alias() : out;
    }),
  );
}

/** Hard counts per foreground class 1..C-1 (index 0 is class 1). */
export interface HardCounts {
  tp: number[];
  fp: number[];
  fn: number[];
}

/**
 * v1's run_online_evaluation for one batch: the argmax of the softmax of `output` [B, C, ...spatial]
 * (the full-resolution output) against the label map `target`, giving for every foreground class
 * its true positives, false positives and false negatives over the whole batch. Counts are exact
 * integers (v1's float32 sums over one batch are exact below 2^24 voxels per class).
 */
export function onlineEvaluationCounts(output: Tensor, target: Tensor): HardCounts {
  return noGrad(() =>
    tidy(() => {
      const { labels, oneHot } = labelMapFor(output, target, 'onlineEvaluationCounts');
      if (oneHot && output.shape[1] !== 1) {
        throw fail('onlineEvaluationCounts: the target must be a label map, not a one-hot encoding.');
      }
      const numClasses = output.shape[1] as number;
      if (numClasses < 2) return { tp: [], fp: [], fn: [] };
      const classes = classColumn(1, numClasses - 1, output.ndim, output);
      const pred = output.softmax(1).argmax(1, true).eq(classes);
      const ref = labels.eq(classes);
      const axes = [0, ...Array.from({ length: output.ndim - 2 }, (_, i) => i + 2)];
      const count = (m: Tensor) => m.sum(axes, { dtype: 'int64' }).toArray();
      return {
        tp: count(pred.logicalAnd(ref)),
        fp: count(pred.logicalAnd(ref.logicalNot())),
        fn: count(pred.logicalNot().logicalAnd(ref)),
      };
    }),
  );
}

/** The epoch's online evaluation (v1's finish_online_evaluation). */
export interface OnlineEvaluationResult {
  /** Summed counts per foreground class. */
  counts: HardCounts;
  /** 2 tp / (2 tp + fp + fn) per foreground class; classes never predicted nor present are left out. */
  globalDcPerClass: number[];
  /** Mean of globalDcPerClass (NaN when it is empty), v1's all_val_eval_metrics entry. */
  meanForegroundDice: number;
}

/**
 * Collects the validation batches' counts of one epoch and turns them into v1's global
 * foreground Dice. Sums are float32, like v1's (numpy float32 arrays of float32 tensor sums),
 * which matters only beyond 2^24 voxels per class and epoch.
 */
export class OnlineEvaluation {
  #batches: HardCounts[] = [];

  /** Counts `output` (full-resolution logits) against `target` and keeps them; returns the counts. */
  add(output: Tensor, target: Tensor): HardCounts {
    const c = onlineEvaluationCounts(output, target);
    this.#batches.push(c);
    return c;
  }

  /** Number of batches added since the last finish(). */
  get numBatches(): number {
    return this.#batches.length;
  }

  /**
   * The epoch's result; clears the collected batches. `combine` turns this process's summed counts
   * into those of all data-parallel ranks.
   */
  finish(combine?: (counts: HardCounts) => HardCounts): OnlineEvaluationResult {
    const batches = this.#batches;
    this.#batches = [];
    const sum = (key: keyof HardCounts): number[] => {
      const acc: number[] = [];
      for (const b of batches) {
        b[key].forEach((v, c) => {
          acc[c] = Math.fround((acc[c] ?? 0) + Math.fround(v));
        });
      }
      return acc;
    };
    const local = { tp: sum('tp'), fp: sum('fp'), fn: sum('fn') };
    const counts = combine ? combine(local) : local;
    const globalDcPerClass = counts.tp
      .map((tp, c) => (2 * tp) / (2 * tp + (counts.fp[c] as number) + (counts.fn[c] as number)))
      .filter((d) => !Number.isNaN(d));
    const meanForegroundDice =
      globalDcPerClass.length === 0
        ? Number.NaN
        : globalDcPerClass.reduce((a, b) => a + b, 0) / globalDcPerClass.length;
    return { counts, globalDcPerClass, meanForegroundDice };
  }
}

/**
 * v1's update_eval_criterion_MA when the online evaluation ran: the first epoch's metric as is,
 * then alpha * previous + (1 - alpha) * metric. `previous` null means no epoch yet.
 */
export function evalCriterionMovingAverage(
  previous: number | null,
  metric: number,
  alpha: number = EVAL_CRITERION_ALPHA,
): number {
  return previous === null ? metric : alpha * previous + (1 - alpha) * metric;
}
