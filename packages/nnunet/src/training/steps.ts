/**
 * One training step and one validation step of nnUNetTrainerV2 on a produced batch: deep-supervision
 * targets, forward, Dice + cross-entropy over the outputs, and for training backward, gradient
 * clipping and the SGD step. Both return the loss as a number and free every intermediate tensor.
 */
import { autocast, clipGradNorm_, noGrad, type Tensor, tidy } from '@nnunet/torch';
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
 * The network's outputs, under bfloat16 autocast on the CPU when the model asks for it
 * (convolutions in bf16, weights and their gradients stay float32), cast back to float32 so that
 * softmax, cross-entropy and the Dice terms are computed in float32.
 */
function forward(model: FoldModel, data: Tensor): Tensor[] {
  if (model.precision !== 'bfloat16') return model.net.forward(data) as Tensor[];
  const outputs = autocast('cpu', () => model.net.forward(data)) as Tensor[];
  return outputs.map((o) => o.to('float32'));
}

/** Forward, loss, backward, clip and step on one batch (the network must be in training mode). */
export function trainStep(model: FoldModel, batch: ProducedBatch, device: 'cpu' | 'cuda'): number {
  return tidy(() => {
    const { data, targets } = inputs(model, batch, device);
    const outputs = forward(model, data);
    const loss = deepSupervisionLoss(outputs, targets, model.dsWeights, model.lossOptions);
    model.optimizer.zeroGrad();
    loss.backward();
    // Data-parallel: every rank steps with the gradient of the global batch.
    if (model.group !== null) model.group.averageGradients(model.optimizer.params);
    clipGradNorm_(model.optimizer.params, GRAD_CLIP_NORM);
    model.optimizer.step();
    return loss.item();
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
