/**
 * The only module that loads the native addon. Everything else sees it through `Native`,
 * a typed view of the functions exported by native/*.cc.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TorchError } from './errors.js';

declare const handleBrand: unique symbol;
/** Opaque native tensor handle (an N-API external owning one at::Tensor). */
export type Handle = { readonly [handleBrand]: 'tensor' };
declare const genBrand: unique symbol;
export type GenHandle = { readonly [genBrand]: 'generator' };

type H = Handle;
type OH = Handle | null | undefined;
type Sc = number | bigint | boolean;
type Shape = readonly number[];
type Dev = string;
type Code = number;

export type UnaryOpName =
  | 'neg'
  | 'exp'
  | 'log'
  | 'log1p'
  | 'sqrt'
  | 'rsqrt'
  | 'abs'
  | 'sign'
  | 'floor'
  | 'ceil'
  | 'round'
  | 'reciprocal'
  | 'sin'
  | 'cos'
  | 'tanh'
  | 'sigmoid'
  | 'relu'
  | 'logicalNot'
  | 'isnan'
  | 'isinf'
  | 'isfinite';
type CompareName = 'eq' | 'ne' | 'lt' | 'le' | 'gt' | 'ge';
type LogicalName = 'logicalAnd' | 'logicalOr' | 'logicalXor';

export interface Native
  extends Record<UnaryOpName, (h: H) => H>,
    Record<CompareName | LogicalName, (a: H, b: H) => H>,
    Record<`${CompareName}Scalar`, (a: H, b: Sc) => H> {
  dispose(h: H): void;
  setData(h: H, src: H): void;
  setErrorFactory(f: (kind: string, message: string) => Error): void;
  liveTensors(): number;
  liveBytes(): number;
  fromBytes(bytes: ArrayBufferView, shape: Shape, dtype: Code): H;
  shareBytes(bytes: ArrayBufferView, shape: Shape, dtype: Code): H;
  toBytes(h: H): ArrayBuffer;
  copyIntoBytes(h: H, target: ArrayBufferView): void;

  shape(h: H): number[];
  strides(h: H): number[];
  dtype(h: H): Code;
  device(h: H): string;
  numel(h: H): number;
  dim(h: H): number;
  isContiguous(h: H): boolean;
  item(h: H): number;
  itemInt(h: H): number;
  toString(h: H): string;

  empty(s: Shape, d: Code, dev: Dev): H;
  zeros(s: Shape, d: Code, dev: Dev): H;
  ones(s: Shape, d: Code, dev: Dev): H;
  full(s: Shape, v: Sc, d: Code, dev: Dev): H;
  arange(a: Sc, b: Sc, step: Sc, d: Code, dev: Dev): H;
  linspace(a: Sc, b: Sc, n: number, d: Code, dev: Dev): H;
  eye(n: number, d: Code, dev: Dev): H;
  rand(s: Shape, g: GenHandle | undefined, d: Code, dev: Dev): H;
  randn(s: Shape, g: GenHandle | undefined, d: Code, dev: Dev): H;
  randint(lo: number, hi: number, s: Shape, g: GenHandle | undefined, d: Code, dev: Dev): H;
  randperm(n: number, g: GenHandle | undefined, d: Code, dev: Dev): H;
  uniform_(h: H, a: number, b: number, g: GenHandle | undefined): void;
  normal_(h: H, mean: number, std: number, g: GenHandle | undefined): void;
  bernoulli(h: H, g: GenHandle | undefined): H;
  multinomial(h: H, n: number, replacement: boolean, g: GenHandle | undefined): H;

  createGenerator(seed: number | bigint): GenHandle;
  generatorSeed(g: GenHandle, seed: number | bigint): void;
  generatorState(g: GenHandle): H;
  generatorSetState(g: GenHandle, state: H): void;
  manualSeed(seed: number | bigint): void;

  requiresGrad(h: H): boolean;
  setRequiresGrad(h: H, r: boolean): void;
  grad(h: H): H | null;
  setGrad(h: H, g: OH): void;
  isLeaf(h: H): boolean;
  hasGradFn(h: H): boolean;
  retainGrad(h: H): void;
  detach(h: H): H;
  detach_(h: H): void;
  backward(h: H, grad: OH, retainGraph: boolean): void;
  autogradGrad(outs: H[], ins: H[], gradOuts: H[] | undefined, retain: boolean, create: boolean): (H | null)[];
  isGradEnabled(): boolean;
  setGradEnabled(on: boolean): void;
  isInferenceMode(): boolean;
  inferenceEnter(): number;
  inferenceExit(scope: number): void;

  autocastState(): [number, number, Code, Code];
  autocastSet(cuda: boolean, cpu: boolean, gpuDtype: Code, cpuDtype: Code): void;
  autocastEnter(): void;
  autocastExit(): void;

  setNumThreads(n: number): void;
  getNumThreads(): number;
  setNumInteropThreads(n: number): void;
  cudaIsAvailable(): boolean;
  cudaDeviceCount(): number;
  cudaSynchronize(index: number): void;
  torchVersion(): string;
  parallelInfo(): string;

  to(h: H, dev: Dev, d: Code, copy: boolean): H;
  contiguous(h: H): H;
  clone(h: H): H;
  copy_(h: H, src: H): void;
  alias(h: H): H;
  reshape(h: H, s: Shape): H;
  view(h: H, s: Shape): H;
  permute(h: H, dims: Shape): H;
  transpose(h: H, a: number, b: number): H;
  squeeze(h: H, dim: number | undefined): H;
  unsqueeze(h: H, dim: number): H;
  expand(h: H, s: Shape): H;
  repeat(h: H, r: Shape): H;
  flip(h: H, dims: Shape): H;
  narrow(h: H, dim: number, start: number, length: number): H;
  slice(h: H, dim: number, start: number | undefined, end: number | undefined, step: number): H;
  select(h: H, dim: number, index: number): H;
  indexSelect(h: H, dim: number, index: H): H;
  gather(h: H, dim: number, index: H): H;
  scatter(h: H, dim: number, index: H, src: H): H;
  scatterAdd(h: H, dim: number, index: H, src: H): H;
  maskedFill(h: H, mask: H, v: Sc): H;
  maskedFill_(h: H, mask: H, v: Sc): void;
  maskedSelect(h: H, mask: H): H;
  where(c: H, a: H, b: H): H;
  whereScalar(c: H, a: Sc, b: Sc): H;
  nonzero(h: H): H;
  indexTensor(h: H, idx: (H | null)[]): H;
  indexPut_(h: H, idx: (H | null)[], v: H, accumulate: boolean): void;
  cat(hs: H[], dim: number): H;
  stack(hs: H[], dim: number): H;
  split(h: H, size: number, dim: number): H[];
  splitWithSizes(h: H, sizes: Shape, dim: number): H[];
  chunk(h: H, n: number, dim: number): H[];
  unbind(h: H, dim: number): H[];
  padConstant(h: H, pad: Shape, v: Sc): H;
  padReflect(h: H, pad: Shape): H;
  padReplicate(h: H, pad: Shape): H;
  tril(h: H, k: number): H;
  triu(h: H, k: number): H;
  roll(h: H, shifts: Shape, dims: Shape): H;
  oneHot(h: H, n: number): H;

  add(a: H, b: H, alpha: Sc): H;
  addScalar(a: H, b: Sc): H;
  sub(a: H, b: H, alpha: Sc): H;
  subScalar(a: H, b: Sc): H;
  rsubScalar(a: H, b: Sc): H;
  mul(a: H, b: H): H;
  mulScalar(a: H, b: Sc): H;
  div(a: H, b: H): H;
  divScalar(a: H, b: Sc): H;
  divMode(a: H, b: H, mode: string): H;
  remainder(a: H, b: H): H;
  remainderScalar(a: H, b: Sc): H;
  pow(a: H, b: H): H;
  powScalar(a: H, b: Sc): H;
  matmul(a: H, b: H): H;
  maximum(a: H, b: H): H;
  minimum(a: H, b: H): H;
  clamp(a: H, lo: Sc | undefined, hi: Sc | undefined): H;
  clampTensor(a: H, lo: OH, hi: OH): H;
  lerp(a: H, b: H, w: Sc): H;
  add_(a: H, b: H, alpha: Sc): void;
  addScalar_(a: H, b: Sc): void;
  sub_(a: H, b: H, alpha: Sc): void;
  mul_(a: H, b: H): void;
  mulScalar_(a: H, b: Sc): void;
  div_(a: H, b: H): void;
  divScalar_(a: H, b: Sc): void;
  addcmul_(a: H, b: H, c: H, v: Sc): void;
  addcdiv_(a: H, b: H, c: H, v: Sc): void;
  lerp_(a: H, b: H, w: Sc): void;
  sqrt_(a: H): void;
  exp_(a: H): void;
  neg_(a: H): void;
  zero_(a: H): void;
  fill_(a: H, v: Sc): void;
  clamp_(a: H, lo: Sc | undefined, hi: Sc | undefined): void;
  allclose(a: H, b: H, rtol: number, atol: number): boolean;
  equal(a: H, b: H): boolean;

  sum(h: H, dims: Shape | undefined, keep: boolean, dtype: Code | undefined): H;
  mean(h: H, dims: Shape | undefined, keep: boolean): H;
  prod(h: H, dim: number | undefined, keep: boolean): H;
  var(h: H, dims: Shape | undefined, correction: number, keep: boolean): H;
  std(h: H, dims: Shape | undefined, correction: number, keep: boolean): H;
  amax(h: H, dims: Shape, keep: boolean): H;
  amin(h: H, dims: Shape, keep: boolean): H;
  maxAll(h: H): H;
  minAll(h: H): H;
  maxDim(h: H, dim: number, keep: boolean): [H, H];
  minDim(h: H, dim: number, keep: boolean): [H, H];
  argmax(h: H, dim: number | undefined, keep: boolean): H;
  argmin(h: H, dim: number | undefined, keep: boolean): H;
  topk(h: H, k: number, dim: number, largest: boolean, sorted: boolean): [H, H];
  sort(h: H, dim: number, descending: boolean): [H, H];
  argsort(h: H, dim: number, descending: boolean): H;
  cumsum(h: H, dim: number): H;
  logsumexp(h: H, dims: Shape, keep: boolean): H;
  norm(h: H, p: number, dims: Shape | undefined, keep: boolean): H;
  any(h: H, dim: number | undefined, keep: boolean): H;
  all(h: H, dim: number | undefined, keep: boolean): H;
  bincount(h: H, weights: OH, minlength: number): H;
  unique(h: H, sorted: boolean, inverse: boolean, counts: boolean): [H, H | null, H | null];

  convolution(
    x: H,
    w: H,
    b: OH,
    stride: Shape,
    padding: Shape,
    dilation: Shape,
    transposed: boolean,
    outputPadding: Shape,
    groups: number,
  ): H;
  linear(x: H, w: H, b: OH): H;
  instanceNorm(x: H, w: OH, b: OH, rm: OH, rv: OH, useInputStats: boolean, momentum: number, eps: number): H;
  batchNorm(x: H, w: OH, b: OH, rm: OH, rv: OH, training: boolean, momentum: number, eps: number): H;
  groupNorm(x: H, groups: number, w: OH, b: OH, eps: number): H;
  layerNorm(x: H, shape: Shape, w: OH, b: OH, eps: number): H;
  relu_(x: H): void;
  leakyRelu(x: H, slope: number): H;
  leakyRelu_(x: H, slope: number): void;
  gelu(x: H): H;
  dropout(x: H, p: number, train: boolean): H;
  featureDropout(x: H, p: number, train: boolean): H;
  maxPool(x: H, k: Shape, s: Shape, p: Shape, d: Shape, ceil: boolean): H;
  avgPool(x: H, k: Shape, s: Shape, p: Shape, ceil: boolean, countIncludePad: boolean): H;
  adaptiveAvgPool(x: H, out: Shape): H;
  interpolate(x: H, mode: string, size: Shape, scales: readonly number[] | undefined, alignCorners: boolean): H;
  gridSample(x: H, grid: H, interp: number, padding: number, alignCorners: boolean): H;
  affineGrid(theta: H, size: Shape, alignCorners: boolean): H;
  softmax(x: H, dim: number, dtype: Code | undefined): H;
  logSoftmax(x: H, dim: number, dtype: Code | undefined): H;
  crossEntropy(x: H, t: H, w: OH, reduction: string, ignoreIndex: number, smoothing: number): H;
  nllLoss(x: H, t: H, w: OH, reduction: string, ignoreIndex: number): H;
  mseLoss(a: H, b: H, reduction: string): H;
  l1Loss(a: H, b: H, reduction: string): H;
  bceWithLogits(x: H, y: H, w: OH, posWeight: OH, reduction: string): H;
}

function addonPath(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  // dist/src/native.js -> package root
  const candidates = [join(here, '..', '..', 'build', 'torch_node.node'), join(here, '..', 'build', 'torch_node.node')];
  const override = process.env.TORCH_NODE_ADDON;
  if (override) candidates.unshift(override);
  const found = candidates.find((p) => existsSync(p));
  if (!found) {
    throw new TorchError(
      'ERR_TORCH_LOAD',
      'The LibTorch addon is not built: run `make build` at the repository root (or `npm run build:addon` in packages/torch).',
    );
  }
  return found;
}

function load(): Native {
  const path = addonPath();
  try {
    return createRequire(import.meta.url)(path) as Native;
  } catch (e) {
    throw new TorchError(
      'ERR_TORCH_LOAD',
      `Could not load the LibTorch addon ${path}: ${(e as Error).message}. Rebuild it with \`make build\`; if LibTorch moved, set LIBTORCH to its folder.`,
      { cause: e },
    );
  }
}

export const native: Native = load();
