/**
 * @nnunet/torch: LibTorch for Node.js.
 *
 * Memory rules: every op returns a new Tensor owned by the caller; no function disposes its
 * inputs; free tensors with `dispose()` or let `tidy(fn)` free intermediates.
 */

export { autocast, GradScaler } from './amp.js';
export { enableGrad, grad, inferenceMode, isGradEnabled, isInferenceMode, noGrad } from './autograd.js';
export { cpuBf16ConvolutionProblem } from './bf16-check.js';
export * from './creation.js';
export {
  type Backend,
  hasBackend,
  ProcessGroup,
  type ProcessGroupOptions,
  type ReduceOp,
  Work,
} from './distributed.js';
export { DTYPE_BYTES, type DType, isFloating } from './dtype.js';
export { TorchError, type TorchErrorCode } from './errors.js';
export * as F from './functional.js';
export { cat, stack, where } from './functional.js';
export * as init from './nn/init.js';
export { BatchNorm, Conv, InstanceNorm, type Layer, LeakyReLU, Linear, Sequential } from './nn/layers.js';
export { Module } from './nn/module.js';
export { Adam, type AdamOptions, AdamW } from './optim/adam.js';
export { clipGradNorm_ } from './optim/clip.js';
export { Optimizer } from './optim/optimizer.js';
export { SGD, type SGDOptions } from './optim/sgd.js';
export {
  cpuHasNativeBf16,
  cuda,
  getNumThreads,
  manualSeed,
  memoryStats,
  profile,
  setNumThreads,
  version,
} from './runtime.js';
export * as safetensors from './safetensors.js';
export { dispose, keep, tidy } from './scope.js';
export { type Device, Generator, type MemoryFormat, type Scalar, type Shape, Tensor } from './tensor.js';
