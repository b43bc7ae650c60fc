/**
 * The batch transform the loader workers run (see batch-producer.ts): nnUNetTrainerV2's data
 * augmentation on tensors, seeded per batch so a run is reproducible whatever the worker count;
 * without augmentation parameters, only v1's label clean-up (-1 -> 0). For the cascade the
 * previous stage's labels (seg channel 1) then become one-hot data channels, perturbed in training
 * batches by v1's cascade augmentations.
 */
import { Generator, tensor, tidy } from '@nnunet/torch';
import { type CascadeAugmentationParams, cascadeBatchTransform } from './augmentation/cascade.js';
import { type AugmentationParams, createAugmentation } from './augmentation/index.js';
import { AugmentationRandom } from './augmentation/random.js';
import type { BatchArrays, BatchTransform, BatchTransformContext } from './batch-producer.js';
import type { LoaderBatch } from './data-loader.js';

export interface TrainTransformOptions {
  /** null: no augmentation (validation batches, nnUNetTrainerV2_noDataAugmentation). */
  params: AugmentationParams | null;
  /**
   * The cascade: the foreground labels whose one-hot channels are appended to the data, and the
   * cascade augmentations (null for validation batches).
   */
  cascade?: { labels: number[]; augmentation: CascadeAugmentationParams | null };
}

function cleanLabels(seg: Float32Array): Float32Array {
  for (let i = 0; i < seg.length; i++) if ((seg[i] as number) < 0) seg[i] = 0;
  return seg;
}

type Arrays = { data: Float32Array; dataShape: readonly number[]; seg: Float32Array; segShape: readonly number[] };

function toBatchArrays(a: Arrays): BatchArrays {
  return { data: { data: a.data, shape: a.dataShape }, seg: { data: a.seg, shape: a.segShape } };
}

export function createBatchTransform(options: TrainTransformOptions): BatchTransform {
  const params = options.params;
  const cascade = options.cascade;
  const finish = (a: Arrays, generator: Generator | null): BatchArrays => {
    if (cascade === undefined) return toBatchArrays(a);
    const augment = cascade.augmentation;
    const rng = augment !== null && generator !== null ? new AugmentationRandom(generator) : null;
    return toBatchArrays(cascadeBatchTransform(a, cascade.labels, rng === null ? null : augment, rng));
  };
  if (params === null) {
    return (batch: LoaderBatch, context: BatchTransformContext): BatchArrays =>
      finish(
        { data: batch.data, dataShape: batch.dataShape, seg: cleanLabels(batch.seg), segShape: batch.segShape },
        cascade?.augmentation ? new Generator(context.seed) : null,
      );
  }
  return (batch: LoaderBatch, context: BatchTransformContext): BatchArrays => {
    const generator = new Generator(context.seed);
    const out = tidy(() => {
      const augment = createAugmentation(params, { generator });
      const data = tensor(batch.data, { shape: batch.dataShape });
      const seg = tensor(batch.seg, { shape: batch.segShape });
      const r = augment(data, seg);
      return {
        data: r.data.toTypedArray() as Float32Array,
        dataShape: [...r.data.shape],
        seg: cleanLabels(r.seg.toTypedArray() as Float32Array),
        segShape: [...r.seg.shape],
      };
    });
    return finish(out, generator);
  };
}
