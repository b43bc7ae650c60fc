/**
 * Functional neural-network ops (torch.nn.functional), all differentiable.
 * Spatial ops take [N, C, ...spatial] inputs; per-axis options accept one number for every axis
 * or one per spatial axis.
 */

import type { DType } from './dtype.js';
import { argError } from './errors.js';
import { native } from './native.js';
import {
  checkDType,
  checkInt,
  checkShape,
  handleOf,
  handles,
  optHandle,
  type Scalar,
  type Shape,
  Tensor,
} from './tensor.js';

type PerAxis = number | readonly number[];

function perAxis(name: string, v: PerAxis, n: number): number[] {
  if (typeof v === 'number') return new Array<number>(n).fill(checkInt(name, v));
  checkShape(name, v);
  if (v.length !== n) throw argError(`${name} needs ${n} values (one per spatial axis), got [${v.join(', ')}]`);
  return [...v];
}

function spatialDims(name: string, x: Tensor, n: number): void {
  if (x.ndim !== n + 2) {
    throw argError(`${name} expects a ${n + 2}-D input [N, C, ...${n} spatial], got shape [${x.shape.join(', ')}]`);
  }
}

export interface ConvOptions {
  stride?: PerAxis;
  padding?: PerAxis;
  dilation?: PerAxis;
  groups?: number;
}
export interface ConvTransposeOptions extends ConvOptions {
  outputPadding?: PerAxis;
}

function conv(
  n: number,
  name: string,
  x: Tensor,
  w: Tensor,
  b: Tensor | null | undefined,
  o: ConvTransposeOptions,
  transposed: boolean,
): Tensor {
  spatialDims(name, x, n);
  return new Tensor(
    native.convolution(
      x.handle,
      handleOf('weight', w),
      optHandle('bias', b),
      perAxis('stride', o.stride ?? 1, n),
      perAxis('padding', o.padding ?? 0, n),
      perAxis('dilation', o.dilation ?? 1, n),
      transposed,
      perAxis('outputPadding', o.outputPadding ?? 0, n),
      checkInt('groups', o.groups ?? 1),
    ),
  );
}

export const conv1d = (x: Tensor, w: Tensor, b?: Tensor | null, o: ConvOptions = {}): Tensor =>
  conv(1, 'conv1d', x, w, b, o, false);
export const conv2d = (x: Tensor, w: Tensor, b?: Tensor | null, o: ConvOptions = {}): Tensor =>
  conv(2, 'conv2d', x, w, b, o, false);
export const conv3d = (x: Tensor, w: Tensor, b?: Tensor | null, o: ConvOptions = {}): Tensor =>
  conv(3, 'conv3d', x, w, b, o, false);
export const convTranspose2d = (x: Tensor, w: Tensor, b?: Tensor | null, o: ConvTransposeOptions = {}): Tensor =>
  conv(2, 'convTranspose2d', x, w, b, o, true);
export const convTranspose3d = (x: Tensor, w: Tensor, b?: Tensor | null, o: ConvTransposeOptions = {}): Tensor =>
  conv(3, 'convTranspose3d', x, w, b, o, true);

export function linear(x: Tensor, w: Tensor, b?: Tensor | null): Tensor {
  return new Tensor(native.linear(x.handle, handleOf('weight', w), optHandle('bias', b)));
}

export interface NormOptions {
  weight?: Tensor | null;
  bias?: Tensor | null;
  runningMean?: Tensor | null;
  runningVar?: Tensor | null;
  momentum?: number;
  eps?: number;
}

/** Instance norm over the spatial axes of each sample and channel (running stats optional). */
export function instanceNorm(x: Tensor, o: NormOptions & { useInputStats?: boolean } = {}): Tensor {
  return new Tensor(
    native.instanceNorm(
      x.handle,
      optHandle('weight', o.weight),
      optHandle('bias', o.bias),
      optHandle('runningMean', o.runningMean),
      optHandle('runningVar', o.runningVar),
      o.useInputStats ?? true,
      o.momentum ?? 0.1,
      o.eps ?? 1e-5,
    ),
  );
}

/**
 * instanceNorm (input statistics, optional affine) followed by leakyRelu_ on the result: the same
 * values as the two calls, without the full-size copies that autograd adds for an in-place op on
 * instance norm's output (the ReLU runs on the normalised tensor before it is shaped back).
 */
export function instanceNormLeakyRelu(
  x: Tensor,
  o: { weight?: Tensor | null; bias?: Tensor | null; eps?: number; negativeSlope?: number } = {},
): Tensor {
  return new Tensor(
    native.instanceNormLeakyRelu(
      x.handle,
      optHandle('weight', o.weight),
      optHandle('bias', o.bias),
      o.eps ?? 1e-5,
      o.negativeSlope ?? 0.01,
    ),
  );
}

export function batchNorm(x: Tensor, o: NormOptions & { training?: boolean } = {}): Tensor {
  return new Tensor(
    native.batchNorm(
      x.handle,
      optHandle('weight', o.weight),
      optHandle('bias', o.bias),
      optHandle('runningMean', o.runningMean),
      optHandle('runningVar', o.runningVar),
      o.training ?? false,
      o.momentum ?? 0.1,
      o.eps ?? 1e-5,
    ),
  );
}

export function groupNorm(
  x: Tensor,
  groups: number,
  o: { weight?: Tensor | null; bias?: Tensor | null; eps?: number } = {},
): Tensor {
  return new Tensor(
    native.groupNorm(
      x.handle,
      checkInt('groups', groups),
      optHandle('weight', o.weight),
      optHandle('bias', o.bias),
      o.eps ?? 1e-5,
    ),
  );
}

export function layerNorm(
  x: Tensor,
  normalizedShape: Shape,
  o: { weight?: Tensor | null; bias?: Tensor | null; eps?: number } = {},
): Tensor {
  return new Tensor(
    native.layerNorm(
      x.handle,
      checkShape('normalizedShape', normalizedShape),
      optHandle('weight', o.weight),
      optHandle('bias', o.bias),
      o.eps ?? 1e-5,
    ),
  );
}

export function relu(x: Tensor): Tensor {
  return new Tensor(native.relu(x.handle));
}
export function leakyRelu(x: Tensor, negativeSlope = 0.01): Tensor {
  return new Tensor(native.leakyRelu(x.handle, negativeSlope));
}
/** In place; returns x. */
export function leakyRelu_(x: Tensor, negativeSlope = 0.01): Tensor {
  native.leakyRelu_(x.handle, negativeSlope);
  return x;
}
export function gelu(x: Tensor): Tensor {
  return new Tensor(native.gelu(x.handle));
}
export function sigmoid(x: Tensor): Tensor {
  return new Tensor(native.sigmoid(x.handle));
}
/** Elementwise dropout with the global generator (seed it with manualSeed). */
export function dropout(x: Tensor, p = 0.5, training = true): Tensor {
  if (!(p >= 0 && p <= 1)) throw argError(`dropout probability p must be in [0, 1], got ${p}`);
  return new Tensor(native.dropout(x.handle, p, training));
}
/** Channel-wise dropout (whole feature maps), as nn.Dropout2d/3d. */
export function featureDropout(x: Tensor, p = 0.5, training = true): Tensor {
  if (!(p >= 0 && p <= 1)) throw argError(`dropout probability p must be in [0, 1], got ${p}`);
  return new Tensor(native.featureDropout(x.handle, p, training));
}

export interface PoolOptions {
  stride?: PerAxis;
  padding?: PerAxis;
  dilation?: PerAxis;
  ceilMode?: boolean;
  countIncludePad?: boolean;
}

function maxPool(n: number, x: Tensor, kernel: PerAxis, o: PoolOptions): Tensor {
  spatialDims(`maxPool${n}d`, x, n);
  const k = perAxis('kernelSize', kernel, n);
  return new Tensor(
    native.maxPool(
      x.handle,
      k,
      perAxis('stride', o.stride ?? k, n),
      perAxis('padding', o.padding ?? 0, n),
      perAxis('dilation', o.dilation ?? 1, n),
      o.ceilMode ?? false,
    ),
  );
}
function avgPool(n: number, x: Tensor, kernel: PerAxis, o: PoolOptions): Tensor {
  spatialDims(`avgPool${n}d`, x, n);
  const k = perAxis('kernelSize', kernel, n);
  return new Tensor(
    native.avgPool(
      x.handle,
      k,
      perAxis('stride', o.stride ?? k, n),
      perAxis('padding', o.padding ?? 0, n),
      o.ceilMode ?? false,
      o.countIncludePad ?? true,
    ),
  );
}
export const maxPool2d = (x: Tensor, k: PerAxis, o: PoolOptions = {}): Tensor => maxPool(2, x, k, o);
export const maxPool3d = (x: Tensor, k: PerAxis, o: PoolOptions = {}): Tensor => maxPool(3, x, k, o);
export const avgPool2d = (x: Tensor, k: PerAxis, o: PoolOptions = {}): Tensor => avgPool(2, x, k, o);
export const avgPool3d = (x: Tensor, k: PerAxis, o: PoolOptions = {}): Tensor => avgPool(3, x, k, o);
export function adaptiveAvgPool(x: Tensor, outputSize: Shape): Tensor {
  return new Tensor(native.adaptiveAvgPool(x.handle, checkShape('outputSize', outputSize)));
}

export type InterpolateMode = 'nearest' | 'linear' | 'bilinear' | 'bicubic' | 'trilinear';

/**
 * Resizes [N, C, ...spatial] to `size`, or by `scaleFactor` (output = floor(input * scale),
 * with the scale itself used for the coordinate mapping, like torch.nn.functional.interpolate).
 */
export function interpolate(
  x: Tensor,
  o: { size?: PerAxis; scaleFactor?: number | readonly number[]; mode?: InterpolateMode; alignCorners?: boolean },
): Tensor {
  const n = x.ndim - 2;
  if (n < 1 || n > 3) throw argError(`interpolate expects a 3-D, 4-D or 5-D input, got shape [${x.shape.join(', ')}]`);
  const mode = o.mode ?? 'nearest';
  if (o.alignCorners !== undefined && mode === 'nearest')
    throw argError('alignCorners applies only to linear, bilinear, bicubic and trilinear modes');
  let size: number[];
  let scales: number[] | undefined;
  if (o.size !== undefined) {
    if (o.scaleFactor !== undefined) throw argError('interpolate takes size or scaleFactor, not both');
    size = perAxis('size', o.size, n);
  } else if (o.scaleFactor !== undefined) {
    scales = typeof o.scaleFactor === 'number' ? new Array<number>(n).fill(o.scaleFactor) : [...o.scaleFactor];
    if (scales.length !== n) throw argError(`scaleFactor needs ${n} values`);
    size = scales.map((s, i) => Math.floor((x.shape[i + 2] as number) * s));
  } else {
    throw argError('interpolate needs size or scaleFactor');
  }
  return new Tensor(native.interpolate(x.handle, mode, size, scales, o.alignCorners ?? false));
}

const GRID_INTERP = { bilinear: 0, nearest: 1, bicubic: 2 } as const;
const GRID_PADDING = { zeros: 0, border: 1, reflection: 2 } as const;

/**
 * Samples `x` [N, C, (D,) H, W] at `grid` [N, (D,) H, W, 2|3] holding normalised (x, y, (z))
 * coordinates in [-1, 1], as torch.nn.functional.grid_sample ('bilinear' is trilinear in 3-D).
 */
export function gridSample(
  x: Tensor,
  grid: Tensor,
  o: { mode?: keyof typeof GRID_INTERP; paddingMode?: keyof typeof GRID_PADDING; alignCorners?: boolean } = {},
): Tensor {
  const mode = GRID_INTERP[o.mode ?? 'bilinear'];
  const pad = GRID_PADDING[o.paddingMode ?? 'zeros'];
  if (mode === undefined) throw argError(`gridSample mode must be bilinear, nearest or bicubic, got ${o.mode}`);
  if (pad === undefined)
    throw argError(`gridSample paddingMode must be zeros, border or reflection, got ${o.paddingMode}`);
  return new Tensor(native.gridSample(x.handle, handleOf('grid', grid), mode, pad, o.alignCorners ?? false));
}

/** Sampling grid for affine matrices `theta` [N, 2, 3] or [N, 3, 4] and output size [N, C, (D,) H, W]. */
export function affineGrid(theta: Tensor, size: Shape, alignCorners = false): Tensor {
  return new Tensor(native.affineGrid(theta.handle, checkShape('size', size), alignCorners));
}

export function softmax(x: Tensor, dim: number, dtype?: DType): Tensor {
  return new Tensor(
    native.softmax(x.handle, checkInt('dim', dim), dtype === undefined ? undefined : checkDType('dtype', dtype)),
  );
}
export function logSoftmax(x: Tensor, dim: number, dtype?: DType): Tensor {
  return new Tensor(
    native.logSoftmax(x.handle, checkInt('dim', dim), dtype === undefined ? undefined : checkDType('dtype', dtype)),
  );
}

export type Reduction = 'mean' | 'sum' | 'none';
export interface LossOptions {
  weight?: Tensor | null;
  reduction?: Reduction;
  ignoreIndex?: number;
}

/** Cross-entropy of logits [N, C, ...] against int64 class targets [N, ...]. */
export function crossEntropy(
  logits: Tensor,
  target: Tensor,
  o: LossOptions & { labelSmoothing?: number } = {},
): Tensor {
  return new Tensor(
    native.crossEntropy(
      logits.handle,
      handleOf('target', target),
      optHandle('weight', o.weight),
      o.reduction ?? 'mean',
      o.ignoreIndex ?? -100,
      o.labelSmoothing ?? 0,
    ),
  );
}
/** Negative log-likelihood of log-probabilities [N, C, ...] against int64 targets [N, ...]. */
export function nllLoss(logProbs: Tensor, target: Tensor, o: LossOptions = {}): Tensor {
  return new Tensor(
    native.nllLoss(
      logProbs.handle,
      handleOf('target', target),
      optHandle('weight', o.weight),
      o.reduction ?? 'mean',
      o.ignoreIndex ?? -100,
    ),
  );
}
export function mseLoss(a: Tensor, b: Tensor, reduction: Reduction = 'mean'): Tensor {
  return new Tensor(native.mseLoss(a.handle, handleOf('target', b), reduction));
}
export function l1Loss(a: Tensor, b: Tensor, reduction: Reduction = 'mean'): Tensor {
  return new Tensor(native.l1Loss(a.handle, handleOf('target', b), reduction));
}
export function binaryCrossEntropyWithLogits(
  x: Tensor,
  y: Tensor,
  o: { weight?: Tensor | null; posWeight?: Tensor | null; reduction?: Reduction } = {},
): Tensor {
  return new Tensor(
    native.bceWithLogits(
      x.handle,
      handleOf('target', y),
      optHandle('weight', o.weight),
      optHandle('posWeight', o.posWeight),
      o.reduction ?? 'mean',
    ),
  );
}

/** int64 labels [...] -> one-hot int64 [..., numClasses]. */
export function oneHot(labels: Tensor, numClasses = -1): Tensor {
  return new Tensor(native.oneHot(labels.handle, checkInt('numClasses', numClasses)));
}

export type PadMode = 'constant' | 'reflect' | 'replicate';
/**
 * Pads the last axes: `pad` lists (before, after) pairs starting from the LAST axis, like
 * torch.nn.functional.pad.
 */
export function pad(x: Tensor, padding: Shape, mode: PadMode = 'constant', value: Scalar = 0): Tensor {
  checkShape('padding', padding);
  if (padding.length % 2 !== 0) throw argError(`padding needs an even number of values, got ${padding.length}`);
  if (mode === 'constant') return new Tensor(native.padConstant(x.handle, padding, value));
  if (mode === 'reflect') return new Tensor(native.padReflect(x.handle, padding));
  if (mode === 'replicate') return new Tensor(native.padReplicate(x.handle, padding));
  throw argError(`pad mode must be constant, reflect or replicate, got ${String(mode)}`);
}

export function cat(tensors: readonly Tensor[], dim = 0): Tensor {
  return new Tensor(native.cat(handles('tensors', tensors), checkInt('dim', dim)));
}
export function stack(tensors: readonly Tensor[], dim = 0): Tensor {
  return new Tensor(native.stack(handles('tensors', tensors), checkInt('dim', dim)));
}
/** condition ? a : b elementwise (a and b tensors or scalars). */
export function where(condition: Tensor, a: Tensor | Scalar, b: Tensor | Scalar): Tensor {
  if (a instanceof Tensor && b instanceof Tensor) return new Tensor(native.where(condition.handle, a.handle, b.handle));
  if (!(a instanceof Tensor) && !(b instanceof Tensor)) return new Tensor(native.whereScalar(condition.handle, a, b));
  throw argError('where: a and b must both be tensors or both be scalars');
}
