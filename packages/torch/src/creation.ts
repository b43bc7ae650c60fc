/** Tensor creation: from JS data, constants, ranges and random values. */
import { type AnyTypedArray, DTYPE_CODES, type DType, dtypeOfTypedArray } from './dtype.js';
import { argError } from './errors.js';
import { native } from './native.js';
import {
  checkDevice,
  checkDType,
  checkInt,
  checkShape,
  type Device,
  Generator,
  type Scalar,
  type Shape,
  Tensor,
} from './tensor.js';

export interface CreateOptions {
  dtype?: DType;
  device?: Device;
  requiresGrad?: boolean;
}
export interface RandomOptions extends CreateOptions {
  generator?: Generator;
}

function resolve(o: CreateOptions, fallback: DType = 'float32'): { code: number; device: string } {
  return {
    code: checkDType('dtype', o.dtype ?? fallback),
    device: o.device === undefined ? 'cpu' : checkDevice('device', o.device),
  };
}

function finish(t: Tensor, o: CreateOptions): Tensor {
  if (o.requiresGrad) t.requiresGrad = true;
  return t;
}

function product(shape: Shape): number {
  let n = 1;
  for (const s of shape) n *= s;
  return n;
}

/**
 * A tensor holding a copy of `data` (C order). `data` is a TypedArray, whose element type is the
 * default dtype, or a plain array of numbers/booleans (float32, or bool for booleans, by default).
 * Values are converted to `dtype` like torch's casts (floats truncate towards zero to integers,
 * nonzero becomes true). A Uint16Array is read as raw 16-bit patterns when `dtype` is float16 or
 * bfloat16 and as unsigned integers otherwise. `shape` defaults to 1-D.
 */
export function tensor(
  data: AnyTypedArray | Uint16Array | readonly number[] | readonly boolean[] | number,
  options: CreateOptions & { shape?: Shape } = {},
): Tensor {
  if (typeof data === 'number') return scalarTensor(data, options);
  if (options.dtype !== undefined) checkDType('dtype', options.dtype);
  const device = options.device === undefined ? 'cpu' : checkDevice('device', options.device);
  const shape = options.shape === undefined ? [data.length] : checkShape('shape', options.shape);
  if (product(shape) !== data.length) {
    throw argError(`shape [${shape.join(', ')}] needs ${product(shape)} values but data has ${data.length}`);
  }
  // The bytes handed to LibTorch and the dtype they hold; a cast to `wanted` follows if needed.
  let source: ArrayBufferView;
  let sourceDtype: DType;
  let wanted: DType;
  if (Array.isArray(data)) {
    const values = data as readonly (number | boolean)[];
    wanted = options.dtype ?? (typeof values[0] === 'boolean' ? 'bool' : 'float32');
    if (wanted === 'int64') {
      source = BigInt64Array.from(values, (v) => BigInt(Math.trunc(Number(v))));
      sourceDtype = 'int64';
    } else {
      // float64 holds every JS number exactly; LibTorch's cast does the rest.
      source = Float64Array.from(values, Number);
      sourceDtype = 'float64';
    }
  } else if (data instanceof Uint16Array) {
    wanted = options.dtype ?? 'int32';
    if (wanted === 'float16' || wanted === 'bfloat16') {
      source = data;
      sourceDtype = wanted;
    } else {
      source = Int32Array.from(data);
      sourceDtype = 'int32';
    }
  } else {
    const typed = data as AnyTypedArray;
    source = typed;
    sourceDtype = dtypeOfTypedArray(typed) as DType;
    wanted = options.dtype ?? sourceDtype;
  }
  const t = new Tensor(native.fromBytes(source, shape, DTYPE_CODES[sourceDtype]));
  if (sourceDtype === wanted && device === 'cpu') return finish(t, options);
  const c = t.to({ dtype: wanted, device });
  t.dispose();
  return finish(c, options);
}

export function scalarTensor(value: Scalar, options: CreateOptions = {}): Tensor {
  const { code, device } = resolve(
    options,
    typeof value === 'boolean' ? 'bool' : typeof value === 'bigint' ? 'int64' : 'float32',
  );
  return finish(new Tensor(native.full([], value, code, device)), options);
}

/**
 * Zero-copy tensor over a TypedArray backed by a SharedArrayBuffer (for batches handed between
 * worker threads): the tensor keeps the buffer alive. With an ordinary ArrayBuffer, which can be
 * detached or transferred, the data are copied instead.
 */
export function fromShared(data: ArrayBufferView, shape: Shape, dtype: DType): Tensor {
  checkShape('shape', shape);
  const code = checkDType('dtype', dtype);
  if (!ArrayBuffer.isView(data)) throw argError('data must be a TypedArray or DataView');
  data = bytesOf(data);
  if (!(data.buffer instanceof SharedArrayBuffer)) return new Tensor(native.fromBytes(data, shape, code));
  return new Tensor(native.shareBytes(data, shape, code));
}

/** A Uint8Array over the same bytes as any ArrayBufferView (the native side reads TypedArrays). */
export function bytesOf(v: ArrayBufferView): Uint8Array {
  return v instanceof Uint8Array ? v : new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}

export function empty(shape: Shape, o: CreateOptions = {}): Tensor {
  const { code, device } = resolve(o);
  return finish(new Tensor(native.empty(checkShape('shape', shape), code, device)), o);
}
export function zeros(shape: Shape, o: CreateOptions = {}): Tensor {
  const { code, device } = resolve(o);
  return finish(new Tensor(native.zeros(checkShape('shape', shape), code, device)), o);
}
export function ones(shape: Shape, o: CreateOptions = {}): Tensor {
  const { code, device } = resolve(o);
  return finish(new Tensor(native.ones(checkShape('shape', shape), code, device)), o);
}
export function full(shape: Shape, value: Scalar, o: CreateOptions = {}): Tensor {
  const { code, device } = resolve(o);
  return finish(new Tensor(native.full(checkShape('shape', shape), value, code, device)), o);
}
export function zerosLike(t: Tensor, o: CreateOptions = {}): Tensor {
  return zeros(t.shape, { dtype: t.dtype, device: t.device, ...o });
}
export function onesLike(t: Tensor, o: CreateOptions = {}): Tensor {
  return ones(t.shape, { dtype: t.dtype, device: t.device, ...o });
}
export function fullLike(t: Tensor, value: Scalar, o: CreateOptions = {}): Tensor {
  return full(t.shape, value, { dtype: t.dtype, device: t.device, ...o });
}
/** Values start, start+step, ... below end (float32 unless dtype says otherwise, like torch for floats). */
export function arange(start: number, end?: number, step = 1, o: CreateOptions = {}): Tensor {
  const [a, b] = end === undefined ? [0, start] : [start, end];
  const allInt = Number.isInteger(a) && Number.isInteger(b) && Number.isInteger(step);
  const { code, device } = resolve(o, allInt ? 'int64' : 'float32');
  return finish(new Tensor(native.arange(a, b, step, code, device)), o);
}
export function linspace(start: number, end: number, steps: number, o: CreateOptions = {}): Tensor {
  const { code, device } = resolve(o);
  return finish(new Tensor(native.linspace(start, end, checkInt('steps', steps), code, device)), o);
}
export function eye(n: number, o: CreateOptions = {}): Tensor {
  const { code, device } = resolve(o);
  return finish(new Tensor(native.eye(checkInt('n', n), code, device)), o);
}
/** Uniform [0, 1). */
export function rand(shape: Shape, o: RandomOptions = {}): Tensor {
  const { code, device } = resolve(o);
  return finish(new Tensor(native.rand(checkShape('shape', shape), o.generator?.handle, code, device)), o);
}
/** Standard normal. */
export function randn(shape: Shape, o: RandomOptions = {}): Tensor {
  const { code, device } = resolve(o);
  return finish(new Tensor(native.randn(checkShape('shape', shape), o.generator?.handle, code, device)), o);
}
/** Integers in [low, high) (int64 by default). */
export function randint(low: number, high: number, shape: Shape, o: RandomOptions = {}): Tensor {
  const { code, device } = resolve(o, 'int64');
  return finish(
    new Tensor(
      native.randint(
        checkInt('low', low),
        checkInt('high', high),
        checkShape('shape', shape),
        o.generator?.handle,
        code,
        device,
      ),
    ),
    o,
  );
}
export function randperm(n: number, o: RandomOptions = {}): Tensor {
  const { code, device } = resolve(o, 'int64');
  return finish(new Tensor(native.randperm(checkInt('n', n), o.generator?.handle, code, device)), o);
}
export function bernoulli(probs: Tensor, generator?: Generator): Tensor {
  return new Tensor(native.bernoulli(probs.handle, generator?.handle));
}
export function multinomial(probs: Tensor, n: number, replacement = false, generator?: Generator): Tensor {
  return new Tensor(native.multinomial(probs.handle, checkInt('n', n), replacement, generator?.handle));
}

export { Generator };
