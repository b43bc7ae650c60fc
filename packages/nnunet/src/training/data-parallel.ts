/**
 * The rules of data-parallel training (nnU-Net v2's nnUNetTrainer under DDP), per rank:
 *
 * - the plans' batch is the global batch: rank r gets ceil(B / N) samples, the last ranks what is
 *   left, so the ranks' batches add up to B;
 * - foreground oversampling is decided per sample position in the global batch (the last
 *   `oversample` share of positions show foreground), so each rank's share is the part of that
 *   tail its positions cover and the global share stays the plans' value;
 * - batch Dice is computed on the global batch: every rank's soft tp/fp/fn are summed over ranks.
 */
import type { ProcessGroup, Tensor } from '@nnunet/torch';
import { cat, noGrad, tensor, tidy } from '@nnunet/torch';
import { NnunetError } from '../errors.js';

export interface RankShare {
  /** This rank's samples per iteration. */
  batchSize: number;
  /** The share of this rank's samples centred on foreground. */
  oversampleForegroundPercent: number;
}

/** The process counts over which v2's rule gives every rank at least one sample of `globalBatch`. */
export function validProcessCounts(globalBatch: number): number[] {
  return Array.from({ length: globalBatch }, (_, i) => i + 1).filter(
    (n) => Math.ceil(globalBatch / n) * (n - 1) < globalBatch,
  );
}

/** v2's get_batch_size_overground_sample_percentage for every rank. */
export function rankShares(globalBatch: number, worldSize: number, oversample: number): RankShare[] {
  if (!Number.isInteger(worldSize) || worldSize < 1)
    throw new NnunetError('ERR_ARGUMENT', `the number of processes must be a positive integer, got ${worldSize}.`);
  const perRank = Math.ceil(globalBatch / worldSize);
  const shares: RankShare[] = [];
  let low = 0;
  for (let r = 0; r < worldSize; r++) {
    const batchSize = (r + 1) * perRank > globalBatch ? perRank - ((r + 1) * perRank - globalBatch) : perRank;
    if (batchSize < 1)
      throw new NnunetError(
        'ERR_ARGUMENT',
        `a batch of ${globalBatch} cannot be split over ${worldSize} processes (rank ${r} would get ${batchSize} samples): use ${validProcessCounts(globalBatch).join(', ')} processes, or another batch size.`,
      );
    const high = low + batchSize;
    const randomShare = 1 - oversample;
    let share: number;
    if (high / globalBatch < randomShare) share = 0;
    else if (low / globalBatch > randomShare) share = 1;
    else share = 1 - (randomShare - low / globalBatch) / (high / globalBatch - low / globalBatch);
    shares.push({ batchSize, oversampleForegroundPercent: share });
    low = high;
  }
  return shares;
}

/**
 * A SoftDiceOptions.globalCounts hook: the global batch's soft tp/fp/fn (every rank's summed), whose
 * gradient reaches this rank's own counts times the world size. With gradients then averaged over
 * the ranks, every rank's samples get exactly the gradient of the global batch Dice (v2 gets the
 * same from an all-gather whose backward all-reduces the gradient).
 */
export function globalCountsOver(
  group: ProcessGroup,
): (c: { tp: Tensor; fp: Tensor; fn: Tensor }) => { tp: Tensor; fp: Tensor; fn: Tensor } {
  return ({ tp, fp, fn }) =>
    tidy(() => {
      const n = group.size;
      const local = cat([tp, fp, fn].map((t) => t.unsqueeze(0)));
      // The sum over ranks, without gradient.
      const total = noGrad(() => {
        const t = local.detach().clone();
        group.allReduce(t).wait();
        return t;
      });
      // value: total; gradient to the local counts: n.
      const others = total.sub(local.detach());
      const combined = local
        .mul(n)
        .sub(local.detach().mul(n - 1))
        .add(others);
      return { tp: combined.select(0, 0), fp: combined.select(0, 1), fn: combined.select(0, 2) };
    });
}

/** The mean of each value over the ranks (float64). */
export function meanOverRanks(group: ProcessGroup, values: readonly number[]): number[] {
  return tidy(() => {
    const t = tensor(values, { dtype: 'float64' });
    group.allReduce(t, 'avg').wait();
    return Array.from(t.toTypedArray() as Float64Array);
  });
}

/** Whether any rank says yes, per question: every rank gets the same answers. */
export function anyRank(group: ProcessGroup, answers: readonly boolean[]): boolean[] {
  return tidy(() => {
    const t = tensor(
      answers.map((a) => (a ? 1 : 0)),
      { dtype: 'float32' },
    );
    group.allReduce(t, 'max').wait();
    return Array.from(t.toTypedArray() as Float32Array).map((v) => v > 0);
  });
}

/** Per-class hard counts summed over the ranks (the online evaluation of the global validation batches). */
export function countsOverRanks(
  group: ProcessGroup,
): (c: { tp: number[]; fp: number[]; fn: number[] }) => { tp: number[]; fp: number[]; fn: number[] } {
  return ({ tp, fp, fn }) =>
    tidy(() => {
      const n = tp.length;
      const t = tensor([...tp, ...fp, ...fn], { dtype: 'float64' });
      group.allReduce(t).wait();
      const v = Array.from(t.toTypedArray() as Float64Array);
      return { tp: v.slice(0, n), fp: v.slice(n, 2 * n), fn: v.slice(2 * n) };
    });
}

/** Makes every rank's parameters and buffers rank 0's (after building or loading the network). */
export function broadcastFromRankZero(group: ProcessGroup, tensors: readonly Tensor[]): void {
  if (group.size === 1) return;
  noGrad(() => {
    for (const t of tensors) group.broadcast(t, 0).wait();
  });
}
