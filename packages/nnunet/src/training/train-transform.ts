/**
 * The batch transform the loader workers run (see batch-producer.ts): nnUNetTrainerV2's data
 * augmentation on tensors, seeded per batch so a run is reproducible whatever the worker count;
 * without augmentation parameters, only v1's label clean-up (-1 -> 0).
 */
import { Generator, tensor, tidy } from '@nnunet/torch';
import { type AugmentationParams, createAugmentation } from './augmentation/index.js';
import type { BatchArrays, BatchTransform, BatchTransformContext } from './batch-producer.js';
import type { LoaderBatch } from './data-loader.js';

export interface TrainTransformOptions {
  /** null: no augmentation (validation batches, nnUNetTrainerV2_noDataAugmentation). */
  params: AugmentationParams | null;
}

function cleanLabels(seg: Float32Array): Float32Array {
  for (let i = 0; i < seg.length; i++) if ((seg[i] as number) < 0) seg[i] = 0;
  return seg;
}

export function createBatchTransform(options: TrainTransformOptions): BatchTransform {
  const params = options.params;
  if (params === null) {
    return (batch: LoaderBatch): BatchArrays => ({
      data: { data: batch.data, shape: batch.dataShape },
      seg: { data: cleanLabels(batch.seg), shape: batch.segShape },
    });
  }
  return (batch: LoaderBatch, context: BatchTransformContext): BatchArrays =>
    tidy(() => {
      const augment = createAugmentation(params, { generator: new Generator(context.seed) });
      const data = tensor(batch.data, { shape: batch.dataShape });
      const seg = tensor(batch.seg, { shape: batch.segShape });
      const out = augment(data, seg);
      return {
        data: { data: out.data.toTypedArray() as Float32Array, shape: [...out.data.shape] },
        seg: { data: cleanLabels(out.seg.toTypedArray() as Float32Array), shape: [...out.seg.shape] },
      };
    });
}
