/**
 * The Tensor class: a JS handle on one LibTorch tensor.
 *
 * Ownership rules (the same everywhere in this package):
 *  - every op returns a new Tensor owned by the caller (even views, which share storage);
 *  - no function disposes its inputs;
 *  - `dispose()` frees the handle at once and is idempotent; a GC finalizer is only a backstop;
 *  - `tidy(fn)` disposes every tensor created in `fn` except those returned.
 * In-place ops (names ending in `_`) modify `this` and return `this` (not a new handle).
 */
import { type AnyTypedArray, DTYPE_CODES, type DType, dtypeFromCode, TYPED_ARRAY } from './dtype.js';
import { argError, TorchError } from './errors.js';
import { type Handle, native } from './native.js';
import { type Disposable, setTensorPredicate, track } from './scope.js';

export type Device = 'cpu' | 'cuda' | `cuda:${number}`;
export type Scalar = number | bigint | boolean;
export type Shape = readonly number[];

native.setErrorFactory((kind: string, message: string) =>
  kind === 'TypeError'
    ? new TorchError('ERR_TORCH_ARGUMENT', message)
    : new TorchError(message.includes('after dispose()') ? 'ERR_TORCH_DISPOSED' : 'ERR_TORCH_NATIVE', message),
);

// ---------------------------------------------------------------- argument checks
// Checked in TypeScript so the message names the argument; LibTorch checks the values.

export function checkInt(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) throw argError(`${name} must be an integer, got ${String(v)}`);
  return v;
}

export function checkShape(name: string, v: unknown): Shape {
  if (!Array.isArray(v)) throw argError(`${name} must be an array of integers, got ${String(v)}`);
  for (const x of v) {
    if (typeof x !== 'number' || !Number.isInteger(x)) {
      throw argError(`${name} must be an array of integers, got [${v.join(', ')}]`);
    }
  }
  return v;
}

export function checkDType(name: string, v: unknown): number {
  const code = typeof v === 'string' ? DTYPE_CODES[v as DType] : undefined;
  if (code === undefined) {
    throw argError(`${name} must be one of ${Object.keys(DTYPE_CODES).join(', ')}; got ${String(v)}`);
  }
  return code;
}

export function checkDevice(name: string, v: unknown): Device {
  if (typeof v !== 'string' || !/^(cpu|cuda(:\d+)?)$/.test(v)) {
    throw argError(`${name} must be 'cpu', 'cuda' or 'cuda:N'; got ${String(v)}`);
  }
  return v as Device;
}

function checkScalar(name: string, v: unknown): Scalar {
  const t = typeof v;
  if (t !== 'number' && t !== 'bigint' && t !== 'boolean') throw argError(`${name} must be a number or a tensor`);
  return v as Scalar;
}

function handleOf(name: string, v: unknown): Handle {
  if (!(v instanceof Tensor)) throw argError(`${name} must be a Tensor`);
  return v.handle;
}

function handles(name: string, list: readonly Tensor[]): Handle[] {
  if (!Array.isArray(list)) throw argError(`${name} must be an array of tensors`);
  return list.map((t, i) => handleOf(`${name}[${i}]`, t));
}

function optHandle(name: string, v: Tensor | null | undefined): Handle | undefined {
  return v === null || v === undefined ? undefined : handleOf(name, v);
}

function dimsArg(name: string, dim: number | readonly number[] | undefined): Shape | undefined {
  if (dim === undefined) return undefined;
  return typeof dim === 'number' ? [checkInt(name, dim)] : checkShape(name, dim);
}

// ---------------------------------------------------------------- Tensor

/** torch.memory_format by name: row-major, or channels stored last for 4-D / 5-D tensors. */
export type MemoryFormat = 'contiguous' | 'channels_last' | 'channels_last_3d';

// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: the unary methods are declared by the interface below and installed on the prototype from one list
export class Tensor implements Disposable {
  #h: Handle | null;
  #shape: number[] | undefined;
  #dtype: DType | undefined;

  /** Wraps a native handle; internal. Use the creation functions (tensor, zeros, ...) instead. */
  constructor(handle: Handle) {
    this.#h = handle;
    track(this);
  }

  /** The native handle; throws if the tensor was disposed. */
  get handle(): Handle {
    const h = this.#h;
    if (h === null) throw new TorchError('ERR_TORCH_DISPOSED', 'tensor was used after dispose()');
    return h;
  }

  get isDisposed(): boolean {
    return this.#h === null;
  }

  /** Frees the native tensor now. Idempotent. */
  dispose(): void {
    const h = this.#h;
    if (h !== null) {
      this.#h = null;
      native.dispose(h);
    }
  }

  get shape(): readonly number[] {
    if (this.#shape === undefined) this.#shape = native.shape(this.handle);
    return this.#shape;
  }
  get ndim(): number {
    return this.shape.length;
  }
  get numel(): number {
    let n = 1;
    for (const s of this.shape) n *= s;
    return n;
  }
  get dtype(): DType {
    if (this.#dtype === undefined) this.#dtype = dtypeFromCode(native.dtype(this.handle));
    return this.#dtype;
  }
  get device(): Device {
    return native.device(this.handle) as Device;
  }
  size(dim: number): number {
    checkInt('dim', dim);
    const s = this.shape;
    const d = dim < 0 ? dim + s.length : dim;
    const v = s[d];
    if (v === undefined) throw argError(`dim ${dim} is out of range for a tensor with ${s.length} dimensions`);
    return v;
  }
  get strides(): number[] {
    return native.strides(this.handle);
  }
  /** Whether the elements lie densely in `format`'s order (default: row-major, torch.contiguous_format). */
  isContiguous(format: MemoryFormat = 'contiguous'): boolean {
    return format === 'contiguous' ? native.isContiguous(this.handle) : native.isContiguousAs(this.handle, format);
  }
  toString(): string {
    return `Tensor(shape=[${this.shape.join(', ')}], dtype=${this.dtype}, device=${this.device})`;
  }

  // ---- data out
  /** The single value of a one-element tensor, as a number (bool -> 0/1). */
  item(): number {
    const d = this.dtype;
    return d === 'int64' || d === 'int32' || d === 'int16' || d === 'int8' || d === 'uint8'
      ? native.itemInt(this.handle)
      : native.item(this.handle);
  }

  /** A copy of the values in C order (float16/bfloat16 as raw 16-bit patterns in a Uint16Array). */
  toTypedArray(): AnyTypedArray {
    const buf = native.toBytes(this.handle);
    return new TYPED_ARRAY[this.dtype](buf);
  }

  /** The values as plain numbers in C order (half types converted through float32). */
  toArray(): number[] {
    if (this.dtype === 'float16' || this.dtype === 'bfloat16') {
      const f = this.to('float32');
      try {
        return f.toArray();
      } finally {
        f.dispose();
      }
    }
    const a = this.toTypedArray();
    return a instanceof BigInt64Array ? Array.from(a, Number) : Array.from(a as ArrayLike<number>);
  }

  /**
   * Copies the values (C order) into `target`, whose byte length must equal the tensor's;
   * works with views on a SharedArrayBuffer, so a worker can hand a batch to another thread.
   */
  copyInto(target: ArrayBufferView): void {
    if (!ArrayBuffer.isView(target)) throw argError('target must be a TypedArray or DataView');
    native.copyIntoBytes(this.handle, new Uint8Array(target.buffer, target.byteOffset, target.byteLength));
  }

  // ---- conversion
  /** Converts device and/or dtype: t.to('cuda'), t.to('float16'), t.to({device, dtype}). */
  to(target: Device | DType | { device?: Device; dtype?: DType; copy?: boolean }): Tensor {
    let device: string = this.device;
    let dtype: DType = this.dtype;
    let copy = false;
    if (typeof target === 'string') {
      if (Object.hasOwn(DTYPE_CODES, target)) dtype = target as DType;
      else device = checkDevice('device', target);
    } else {
      if (target.device !== undefined) device = checkDevice('device', target.device);
      if (target.dtype !== undefined) {
        checkDType('dtype', target.dtype);
        dtype = target.dtype;
      }
      copy = target.copy ?? false;
    }
    return new Tensor(native.to(this.handle, device, DTYPE_CODES[dtype], copy));
  }
  cpu(): Tensor {
    return this.to('cpu');
  }
  cuda(index = 0): Tensor {
    return this.to(`cuda:${index}`);
  }
  float(): Tensor {
    return this.to('float32');
  }
  /**
   * The same values laid out densely in `format` (a view of this tensor when they already are):
   * 'channels_last' / 'channels_last_3d' keep the shape and store the channel dimension last.
   */
  contiguous(format: MemoryFormat = 'contiguous'): Tensor {
    return new Tensor(
      format === 'contiguous' ? native.contiguous(this.handle) : native.contiguousAs(this.handle, format),
    );
  }
  clone(): Tensor {
    return new Tensor(native.clone(this.handle));
  }
  /** A new handle on the same tensor (same storage and autograd identity). */
  alias(): Tensor {
    return new Tensor(native.alias(this.handle));
  }
  /**
   * Replaces this tensor's data with `src`'s (device and dtype may change) while keeping this
   * handle and its autograd identity, like PyTorch's `param.data = src`.
   */
  setData_(src: Tensor): this {
    native.setData(this.handle, handleOf('src', src));
    this.#shape = undefined;
    this.#dtype = undefined;
    return this;
  }
  copy_(src: Tensor): this {
    native.copy_(this.handle, handleOf('src', src));
    return this;
  }

  // ---- autograd
  get requiresGrad(): boolean {
    return native.requiresGrad(this.handle);
  }
  set requiresGrad(v: boolean) {
    native.setRequiresGrad(this.handle, v);
  }
  requiresGrad_(v = true): this {
    native.setRequiresGrad(this.handle, v);
    return this;
  }
  /** The accumulated gradient as a new handle (null when none); dispose it when done. */
  get grad(): Tensor | null {
    const g = native.grad(this.handle);
    return g === null ? null : new Tensor(g);
  }
  set grad(g: Tensor | null) {
    native.setGrad(this.handle, optHandle('grad', g));
  }
  get isLeaf(): boolean {
    return native.isLeaf(this.handle);
  }
  get hasGradFn(): boolean {
    return native.hasGradFn(this.handle);
  }
  retainGrad(): this {
    native.retainGrad(this.handle);
    return this;
  }
  detach(): Tensor {
    return new Tensor(native.detach(this.handle));
  }
  detach_(): this {
    native.detach_(this.handle);
    return this;
  }
  /** Backpropagates from this tensor (a scalar, or pass `gradient` of the same shape). */
  backward(gradient?: Tensor, options: { retainGraph?: boolean } = {}): void {
    native.backward(this.handle, optHandle('gradient', gradient), options.retainGraph ?? false);
  }

  // ---- views and indexing
  reshape(shape: Shape): Tensor {
    return new Tensor(native.reshape(this.handle, checkShape('shape', shape)));
  }
  view(shape: Shape): Tensor {
    return new Tensor(native.view(this.handle, checkShape('shape', shape)));
  }
  flatten(startDim = 0, endDim = -1): Tensor {
    const s = this.shape;
    const a = startDim < 0 ? startDim + s.length : startDim;
    const b = endDim < 0 ? endDim + s.length : endDim;
    if (s.length === 0) return this.reshape([1]);
    const mid = s.slice(a, b + 1).reduce((x, y) => x * y, 1);
    return this.reshape([...s.slice(0, a), mid, ...s.slice(b + 1)]);
  }
  permute(dims: Shape): Tensor {
    return new Tensor(native.permute(this.handle, checkShape('dims', dims)));
  }
  transpose(dim0: number, dim1: number): Tensor {
    return new Tensor(native.transpose(this.handle, checkInt('dim0', dim0), checkInt('dim1', dim1)));
  }
  squeeze(dim?: number): Tensor {
    return new Tensor(native.squeeze(this.handle, dim === undefined ? undefined : checkInt('dim', dim)));
  }
  unsqueeze(dim: number): Tensor {
    return new Tensor(native.unsqueeze(this.handle, checkInt('dim', dim)));
  }
  expand(shape: Shape): Tensor {
    return new Tensor(native.expand(this.handle, checkShape('shape', shape)));
  }
  repeat(repeats: Shape): Tensor {
    return new Tensor(native.repeat(this.handle, checkShape('repeats', repeats)));
  }
  flip(dims: Shape): Tensor {
    return new Tensor(native.flip(this.handle, checkShape('dims', dims)));
  }
  narrow(dim: number, start: number, length: number): Tensor {
    return new Tensor(
      native.narrow(this.handle, checkInt('dim', dim), checkInt('start', start), checkInt('length', length)),
    );
  }
  /** Python's t[..., start:end:step] along `dim` (end exclusive; undefined = to the end). */
  slice(dim: number, start?: number, end?: number, step = 1): Tensor {
    return new Tensor(
      native.slice(
        this.handle,
        checkInt('dim', dim),
        start === undefined ? undefined : checkInt('start', start),
        end === undefined ? undefined : checkInt('end', end),
        checkInt('step', step),
      ),
    );
  }
  select(dim: number, index: number): Tensor {
    return new Tensor(native.select(this.handle, checkInt('dim', dim), checkInt('index', index)));
  }
  indexSelect(dim: number, index: Tensor): Tensor {
    return new Tensor(native.indexSelect(this.handle, checkInt('dim', dim), handleOf('index', index)));
  }
  gather(dim: number, index: Tensor): Tensor {
    return new Tensor(native.gather(this.handle, checkInt('dim', dim), handleOf('index', index)));
  }
  scatter(dim: number, index: Tensor, src: Tensor): Tensor {
    return new Tensor(
      native.scatter(this.handle, checkInt('dim', dim), handleOf('index', index), handleOf('src', src)),
    );
  }
  scatterAdd(dim: number, index: Tensor, src: Tensor): Tensor {
    return new Tensor(
      native.scatterAdd(this.handle, checkInt('dim', dim), handleOf('index', index), handleOf('src', src)),
    );
  }
  maskedFill(mask: Tensor, value: Scalar): Tensor {
    return new Tensor(native.maskedFill(this.handle, handleOf('mask', mask), checkScalar('value', value)));
  }
  maskedFill_(mask: Tensor, value: Scalar): this {
    native.maskedFill_(this.handle, handleOf('mask', mask), checkScalar('value', value));
    return this;
  }
  maskedSelect(mask: Tensor): Tensor {
    return new Tensor(native.maskedSelect(this.handle, handleOf('mask', mask)));
  }
  nonzero(): Tensor {
    return new Tensor(native.nonzero(this.handle));
  }
  /** Advanced indexing t[i0, i1, ...] with index tensors (null = take the whole axis). */
  index(indices: readonly (Tensor | null)[]): Tensor {
    return new Tensor(
      native.indexTensor(
        this.handle,
        indices.map((t, i) => (t === null ? null : handleOf(`indices[${i}]`, t))),
      ),
    );
  }
  indexPut_(indices: readonly (Tensor | null)[], values: Tensor, accumulate = false): this {
    native.indexPut_(
      this.handle,
      indices.map((t, i) => (t === null ? null : handleOf(`indices[${i}]`, t))),
      handleOf('values', values),
      accumulate,
    );
    return this;
  }
  /** Splits into pieces of `size` (a number) or of the given sizes (an array) along `dim`. */
  split(size: number | Shape, dim = 0): Tensor[] {
    const hs =
      typeof size === 'number'
        ? native.split(this.handle, checkInt('size', size), checkInt('dim', dim))
        : native.splitWithSizes(this.handle, checkShape('size', size), checkInt('dim', dim));
    return hs.map((h) => new Tensor(h));
  }
  chunk(chunks: number, dim = 0): Tensor[] {
    return native.chunk(this.handle, checkInt('chunks', chunks), checkInt('dim', dim)).map((h) => new Tensor(h));
  }
  unbind(dim = 0): Tensor[] {
    return native.unbind(this.handle, checkInt('dim', dim)).map((h) => new Tensor(h));
  }
  tril(k = 0): Tensor {
    return new Tensor(native.tril(this.handle, checkInt('k', k)));
  }
  triu(k = 0): Tensor {
    return new Tensor(native.triu(this.handle, checkInt('k', k)));
  }
  roll(shifts: Shape, dims: Shape): Tensor {
    return new Tensor(native.roll(this.handle, checkShape('shifts', shifts), checkShape('dims', dims)));
  }

  // ---- arithmetic with a tensor or a scalar (broadcasting)
  add(other: Tensor | Scalar, alpha: Scalar = 1): Tensor {
    if (other instanceof Tensor) return new Tensor(native.add(this.handle, other.handle, checkScalar('alpha', alpha)));
    return new Tensor(native.addScalar(this.handle, mulScalarValue(checkScalar('other', other), alpha)));
  }
  sub(other: Tensor | Scalar, alpha: Scalar = 1): Tensor {
    if (other instanceof Tensor) return new Tensor(native.sub(this.handle, other.handle, checkScalar('alpha', alpha)));
    return new Tensor(native.subScalar(this.handle, mulScalarValue(checkScalar('other', other), alpha)));
  }
  /** other - this, for a scalar `other`. */
  rsub(other: Scalar): Tensor {
    return new Tensor(native.rsubScalar(this.handle, checkScalar('other', other)));
  }
  mul(other: Tensor | Scalar): Tensor {
    if (other instanceof Tensor) return new Tensor(native.mul(this.handle, other.handle));
    return new Tensor(native.mulScalar(this.handle, checkScalar('other', other)));
  }
  /** True division; `roundingMode` 'trunc' or 'floor' for integer-style division by a tensor. */
  div(other: Tensor | Scalar, roundingMode?: 'trunc' | 'floor'): Tensor {
    if (other instanceof Tensor) {
      return new Tensor(
        roundingMode === undefined
          ? native.div(this.handle, other.handle)
          : native.divMode(this.handle, other.handle, roundingMode),
      );
    }
    return new Tensor(native.divScalar(this.handle, checkScalar('other', other)));
  }
  remainder(other: Tensor | Scalar): Tensor {
    if (other instanceof Tensor) return new Tensor(native.remainder(this.handle, other.handle));
    return new Tensor(native.remainderScalar(this.handle, checkScalar('other', other)));
  }
  pow(exponent: Tensor | Scalar): Tensor {
    if (exponent instanceof Tensor) return new Tensor(native.pow(this.handle, exponent.handle));
    return new Tensor(native.powScalar(this.handle, checkScalar('exponent', exponent)));
  }
  matmul(other: Tensor): Tensor {
    return new Tensor(native.matmul(this.handle, handleOf('other', other)));
  }
  maximum(other: Tensor): Tensor {
    return new Tensor(native.maximum(this.handle, handleOf('other', other)));
  }
  minimum(other: Tensor): Tensor {
    return new Tensor(native.minimum(this.handle, handleOf('other', other)));
  }
  /** Clamps to [min, max] (either may be omitted); bounds may be scalars or tensors. */
  clamp(min?: Scalar | Tensor | null, max?: Scalar | Tensor | null): Tensor {
    if (min instanceof Tensor || max instanceof Tensor) {
      const lo = min instanceof Tensor ? min.handle : null;
      const hi = max instanceof Tensor ? max.handle : null;
      const bounded = native.clampTensor(this.handle, lo, hi);
      // A scalar bound beside a tensor bound is applied in a second pass.
      const loScalar = min instanceof Tensor ? undefined : (min ?? undefined);
      const hiScalar = max instanceof Tensor ? undefined : (max ?? undefined);
      if (loScalar === undefined && hiScalar === undefined) return new Tensor(bounded);
      const both = native.clamp(bounded, loScalar, hiScalar);
      native.dispose(bounded);
      return new Tensor(both);
    }
    return new Tensor(native.clamp(this.handle, min ?? undefined, max ?? undefined));
  }
  lerp(end: Tensor, weight: Scalar): Tensor {
    return new Tensor(native.lerp(this.handle, handleOf('end', end), checkScalar('weight', weight)));
  }

  // ---- in place (return this)
  add_(other: Tensor | Scalar, alpha: Scalar = 1): this {
    if (other instanceof Tensor) native.add_(this.handle, other.handle, checkScalar('alpha', alpha));
    else native.addScalar_(this.handle, mulScalarValue(checkScalar('other', other), alpha));
    return this;
  }
  sub_(other: Tensor | Scalar, alpha: Scalar = 1): this {
    if (other instanceof Tensor) native.sub_(this.handle, other.handle, checkScalar('alpha', alpha));
    else native.addScalar_(this.handle, mulScalarValue(checkScalar('other', other), alpha, -1));
    return this;
  }
  mul_(other: Tensor | Scalar): this {
    if (other instanceof Tensor) native.mul_(this.handle, other.handle);
    else native.mulScalar_(this.handle, checkScalar('other', other));
    return this;
  }
  div_(other: Tensor | Scalar): this {
    if (other instanceof Tensor) native.div_(this.handle, other.handle);
    else native.divScalar_(this.handle, checkScalar('other', other));
    return this;
  }
  /** this += value * t1 * t2 */
  addcmul_(t1: Tensor, t2: Tensor, value: Scalar = 1): this {
    native.addcmul_(this.handle, handleOf('tensor1', t1), handleOf('tensor2', t2), checkScalar('value', value));
    return this;
  }
  /** this += value * t1 / t2 */
  addcdiv_(t1: Tensor, t2: Tensor, value: Scalar = 1): this {
    native.addcdiv_(this.handle, handleOf('tensor1', t1), handleOf('tensor2', t2), checkScalar('value', value));
    return this;
  }
  lerp_(end: Tensor, weight: Scalar): this {
    native.lerp_(this.handle, handleOf('end', end), checkScalar('weight', weight));
    return this;
  }
  sqrt_(): this {
    native.sqrt_(this.handle);
    return this;
  }
  exp_(): this {
    native.exp_(this.handle);
    return this;
  }
  neg_(): this {
    native.neg_(this.handle);
    return this;
  }
  zero_(): this {
    native.zero_(this.handle);
    return this;
  }
  fill_(value: Scalar): this {
    native.fill_(this.handle, checkScalar('value', value));
    return this;
  }
  clamp_(min?: Scalar | null, max?: Scalar | null): this {
    native.clamp_(this.handle, min ?? undefined, max ?? undefined);
    return this;
  }
  uniform_(low = 0, high = 1, generator?: Generator): this {
    native.uniform_(this.handle, low, high, generator?.handle);
    return this;
  }
  normal_(mean = 0, std = 1, generator?: Generator): this {
    native.normal_(this.handle, mean, std, generator?.handle);
    return this;
  }

  // ---- comparisons (return bool tensors)
  eq(other: Tensor | Scalar): Tensor {
    return compare(this, other, native.eq, native.eqScalar);
  }
  ne(other: Tensor | Scalar): Tensor {
    return compare(this, other, native.ne, native.neScalar);
  }
  lt(other: Tensor | Scalar): Tensor {
    return compare(this, other, native.lt, native.ltScalar);
  }
  le(other: Tensor | Scalar): Tensor {
    return compare(this, other, native.le, native.leScalar);
  }
  gt(other: Tensor | Scalar): Tensor {
    return compare(this, other, native.gt, native.gtScalar);
  }
  ge(other: Tensor | Scalar): Tensor {
    return compare(this, other, native.ge, native.geScalar);
  }
  logicalAnd(other: Tensor): Tensor {
    return new Tensor(native.logicalAnd(this.handle, handleOf('other', other)));
  }
  logicalOr(other: Tensor): Tensor {
    return new Tensor(native.logicalOr(this.handle, handleOf('other', other)));
  }
  logicalXor(other: Tensor): Tensor {
    return new Tensor(native.logicalXor(this.handle, handleOf('other', other)));
  }
  allclose(other: Tensor, rtol = 1e-5, atol = 1e-8): boolean {
    return native.allclose(this.handle, handleOf('other', other), rtol, atol);
  }
  /** True when shapes and all values are equal. */
  equal(other: Tensor): boolean {
    return native.equal(this.handle, handleOf('other', other));
  }

  // ---- reductions; `dim` is one axis or a list, undefined = all
  sum(dim?: number | readonly number[], options: { keepdim?: boolean; dtype?: DType } = {}): Tensor {
    const dt = options.dtype === undefined ? undefined : checkDType('dtype', options.dtype);
    return new Tensor(native.sum(this.handle, dimsArg('dim', dim), options.keepdim ?? false, dt));
  }
  mean(dim?: number | readonly number[], keepdim = false): Tensor {
    return new Tensor(native.mean(this.handle, dimsArg('dim', dim), keepdim));
  }
  prod(dim?: number, keepdim = false): Tensor {
    return new Tensor(native.prod(this.handle, dim === undefined ? undefined : checkInt('dim', dim), keepdim));
  }
  /** Variance with Bessel's correction by default (correction = 1), like torch.var. */
  var(dim?: number | readonly number[], options: { correction?: number; keepdim?: boolean } = {}): Tensor {
    return new Tensor(native.var(this.handle, dimsArg('dim', dim), options.correction ?? 1, options.keepdim ?? false));
  }
  std(dim?: number | readonly number[], options: { correction?: number; keepdim?: boolean } = {}): Tensor {
    return new Tensor(native.std(this.handle, dimsArg('dim', dim), options.correction ?? 1, options.keepdim ?? false));
  }
  amax(dim: number | readonly number[] = [], keepdim = false): Tensor {
    return new Tensor(native.amax(this.handle, dimsArg('dim', dim) ?? [], keepdim));
  }
  amin(dim: number | readonly number[] = [], keepdim = false): Tensor {
    return new Tensor(native.amin(this.handle, dimsArg('dim', dim) ?? [], keepdim));
  }
  /** Maximum of all elements. */
  max(): Tensor {
    return new Tensor(native.maxAll(this.handle));
  }
  min(): Tensor {
    return new Tensor(native.minAll(this.handle));
  }
  /** Maximum along `dim`, with the indices where it is reached. */
  maxDim(dim: number, keepdim = false): { values: Tensor; indices: Tensor } {
    const [v, i] = native.maxDim(this.handle, checkInt('dim', dim), keepdim);
    return { values: new Tensor(v), indices: new Tensor(i) };
  }
  minDim(dim: number, keepdim = false): { values: Tensor; indices: Tensor } {
    const [v, i] = native.minDim(this.handle, checkInt('dim', dim), keepdim);
    return { values: new Tensor(v), indices: new Tensor(i) };
  }
  argmax(dim?: number, keepdim = false): Tensor {
    return new Tensor(native.argmax(this.handle, dim === undefined ? undefined : checkInt('dim', dim), keepdim));
  }
  argmin(dim?: number, keepdim = false): Tensor {
    return new Tensor(native.argmin(this.handle, dim === undefined ? undefined : checkInt('dim', dim), keepdim));
  }
  topk(k: number, dim = -1, largest = true, sorted = true): { values: Tensor; indices: Tensor } {
    const [v, i] = native.topk(this.handle, checkInt('k', k), checkInt('dim', dim), largest, sorted);
    return { values: new Tensor(v), indices: new Tensor(i) };
  }
  sort(dim = -1, descending = false): { values: Tensor; indices: Tensor } {
    const [v, i] = native.sort(this.handle, checkInt('dim', dim), descending);
    return { values: new Tensor(v), indices: new Tensor(i) };
  }
  argsort(dim = -1, descending = false): Tensor {
    return new Tensor(native.argsort(this.handle, checkInt('dim', dim), descending));
  }
  cumsum(dim: number): Tensor {
    return new Tensor(native.cumsum(this.handle, checkInt('dim', dim)));
  }
  logsumexp(dim: number | readonly number[], keepdim = false): Tensor {
    return new Tensor(native.logsumexp(this.handle, dimsArg('dim', dim) ?? [], keepdim));
  }
  /** p-norm over all elements or over `dim`. */
  norm(p = 2, dim?: number | readonly number[], keepdim = false): Tensor {
    return new Tensor(native.norm(this.handle, p, dimsArg('dim', dim), keepdim));
  }
  any(dim?: number, keepdim = false): Tensor {
    return new Tensor(native.any(this.handle, dim === undefined ? undefined : checkInt('dim', dim), keepdim));
  }
  all(dim?: number, keepdim = false): Tensor {
    return new Tensor(native.all(this.handle, dim === undefined ? undefined : checkInt('dim', dim), keepdim));
  }
  /** Counts of each non-negative integer value (1-D int tensor), optionally weighted. */
  bincount(weights?: Tensor, minlength = 0): Tensor {
    return new Tensor(native.bincount(this.handle, optHandle('weights', weights), checkInt('minlength', minlength)));
  }
  /** Sorted unique values, with their counts and the inverse mapping. */
  unique(): { values: Tensor; inverse: Tensor; counts: Tensor } {
    const [v, inv, c] = native.unique(this.handle, true, true, true);
    return { values: new Tensor(v), inverse: new Tensor(inv), counts: new Tensor(c) };
  }
  softmax(dim: number): Tensor {
    return new Tensor(native.softmax(this.handle, checkInt('dim', dim), undefined));
  }
  logSoftmax(dim: number): Tensor {
    return new Tensor(native.logSoftmax(this.handle, checkInt('dim', dim), undefined));
  }
}

// Elementwise unary ops, installed from one list rather than written out one by one.
const UNARY_OPS = [
  'neg',
  'exp',
  'log',
  'log1p',
  'sqrt',
  'rsqrt',
  'abs',
  'sign',
  'floor',
  'ceil',
  'round',
  'reciprocal',
  'sin',
  'cos',
  'tanh',
  'sigmoid',
  'relu',
  'logicalNot',
  'isnan',
  'isinf',
  'isfinite',
] as const;
type UnaryMethods = { [K in (typeof UNARY_OPS)[number]]: () => Tensor };
export interface Tensor extends UnaryMethods {}
for (const name of UNARY_OPS) {
  const fn = native[name] as (h: Handle) => Handle;
  Object.defineProperty(Tensor.prototype, name, {
    value: function (this: Tensor): Tensor {
      return new Tensor(fn(this.handle));
    },
    writable: true,
    configurable: true,
  });
}

function compare(
  a: Tensor,
  b: Tensor | Scalar,
  tt: (x: Handle, y: Handle) => Handle,
  ts: (x: Handle, y: Scalar) => Handle,
): Tensor {
  return new Tensor(b instanceof Tensor ? tt(a.handle, b.handle) : ts(a.handle, checkScalar('other', b)));
}

function mulScalarValue(v: Scalar, alpha: Scalar, sign = 1): Scalar {
  if (alpha === 1 && sign === 1) return v;
  if (typeof v === 'bigint' || typeof alpha === 'bigint') return BigInt(v) * BigInt(alpha) * BigInt(sign);
  return Number(v) * Number(alpha) * sign;
}

setTensorPredicate((v: unknown): v is Tensor => v instanceof Tensor);

// ---------------------------------------------------------------- random generators

/** A seedable CPU random generator (LibTorch's Philox/MT CPU generator), for reproducible sampling. */
export class Generator {
  readonly handle;
  constructor(seed: number | bigint = 0) {
    this.handle = native.createGenerator(seed);
  }
  manualSeed(seed: number | bigint): this {
    native.generatorSeed(this.handle, seed);
    return this;
  }
  /** The full generator state as a uint8 tensor (for checkpoints). */
  getState(): Tensor {
    return new Tensor(native.generatorState(this.handle));
  }
  setState(state: Tensor): this {
    native.generatorSetState(this.handle, handleOf('state', state));
    return this;
  }
}

export { handleOf, handles, optHandle };
