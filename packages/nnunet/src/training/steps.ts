/**
 * One training step and one validation step of nnUNetTrainerV2 on a produced batch: deep-supervision
 * targets, forward, Dice + cross-entropy over the outputs, and for training backward, gradient
 * clipping and the SGD step. Both return the loss as a number and free every intermediate tensor.
 */
import { autocast, clipGradNorm_, noGrad, type ProcessGroup, type Tensor, tidy } from '@nnunet/torch';
import type { ProducedBatch } from './batch-producer.js';
import type { FoldModel } from './fold-context.js';
import { deepSupervisionLoss, downsampleSegForDeepSupervision, type OnlineEvaluation } from './loss.js';
import { GRAD_CLIP_NORM } from './trainer-spec.js';

/** The batch's data and segmentation on the model's device with the deep-supervision targets. */
function inputs(model: FoldModel, batch: ProducedBatch, device: 'cpu' | 'cuda'): { data: Tensor; targets: Tensor[] } {
  const move = (t: Tensor) => (device === 'cuda' ? t.to('cuda') : t);
  const data = move(batch.tensor('data'));
  const seg = move(batch.tensor('seg'));
  return { data, targets: downsampleSegForDeepSupervision(seg, model.dsScales) };
}

/**
 * The network's outputs, under autocast when the model asks for it (bf16 on the CPU, fp16 on
 * CUDA: convolutions in low precision, weights and their gradients stay float32), cast back to
 * float32 so that softmax, cross-entropy and the Dice terms are computed in float32.
 */
function forward(model: Pick<FoldModel, 'net' | 'precision'>, data: Tensor): Tensor[] {
  if (model.precision === 'float32') return model.net.forward(data) as Tensor[];
  const device = model.precision === 'float16' ? 'cuda' : 'cpu';
  const outputs = autocast(device, () => model.net.forward(data)) as Tensor[];
  return outputs.map((o) => o.to('float32'));
}

/** What one optimisation step needs of a fold's model (benchmarks build it without a fold). */
export type StepModel = Pick<
  FoldModel,
  'net' | 'optimizer' | 'dsWeights' | 'lossOptions' | 'precision' | 'gradScaler'
> & {
  group: Pick<ProcessGroup, 'averageGradients'> | null;
};

/**
 * Forward, loss, backward, clip and step on tensors already on the model's device (the network
 * must be in training mode). In float16 the loss is scaled before backward and the gradients
 * unscaled before clipping; a step whose gradients overflowed is skipped and the scale halved
 * (v1's run_iteration with amp). Returns the loss.
 */
export function optimizationStep(model: StepModel, data: Tensor, targets: readonly Tensor[]): number {
  return tidy(() => {
    const outputs = forward(model, data);
    const loss = deepSupervisionLoss(outputs, targets, model.dsWeights, model.lossOptions);
    const params = model.optimizer.params;
    model.optimizer.zeroGrad();
    const scaler = model.precision === 'float16' ? model.gradScaler : null;
    (scaler === null ? loss : scaler.scaleLoss(loss)).backward();
    // Data-parallel: every rank steps with the gradient of the global batch.
    if (model.group !== null) model.group.averageGradients(params);
    if (scaler === null) {
      clipGradNorm_(params, GRAD_CLIP_NORM);
      model.optimizer.step();
    } else {
      scaler.unscale(params);
      clipGradNorm_(params, GRAD_CLIP_NORM);
      scaler.step(params, () => model.optimizer.step());
      scaler.update();
    }
    return loss.item();
  });
}

/** One training step on a produced batch (moved to the device, with its deep-supervision targets). */
export function trainStep(model: FoldModel, batch: ProducedBatch, device: 'cpu' | 'cuda'): number {
  return tidy(() => {
    const { data, targets } = inputs(model, batch, device);
    return optimizationStep(model, data, targets);
  });
}

/** The loss of one batch without gradients; the full-resolution output joins the online pseudo-Dice. */
export function validationStep(
  model: FoldModel,
  batch: ProducedBatch,
  device: 'cpu' | 'cuda',
  online: OnlineEvaluation,
): number {
  return noGrad(() =>
    tidy(() => {
      const { data, targets } = inputs(model, batch, device);
      const outputs = forward(model, data);
      online.add(outputs[0] as Tensor, targets[0] as Tensor);
      return deepSupervisionLoss(outputs, targets, model.dsWeights, model.lossOptions).item();
    }),
  );
}
