/** Element types, with LibTorch's ScalarType codes (c10/core/ScalarType.h). */
export const DTYPE_CODES = {
  uint8: 0,
  int8: 1,
  int16: 2,
  int32: 3,
  int64: 4,
  float16: 5,
  float32: 6,
  float64: 7,
  bool: 11,
  bfloat16: 15,
} as const;

export type DType = keyof typeof DTYPE_CODES;

const CODE_TO_DTYPE = new Map<number, DType>(Object.entries(DTYPE_CODES).map(([k, v]) => [v, k as DType]));

export const DTYPE_BYTES: Record<DType, number> = {
  uint8: 1,
  int8: 1,
  int16: 2,
  int32: 4,
  int64: 8,
  float16: 2,
  float32: 4,
  float64: 8,
  bool: 1,
  bfloat16: 2,
};

/**
 * The TypedArray that holds each dtype's raw values. float16 and bfloat16 have no JS array type
 * in Node 20, so their raw 16-bit patterns travel in a Uint16Array; bool travels as Uint8Array (0/1).
 */
export interface TypedArrayFor {
  uint8: Uint8Array;
  int8: Int8Array;
  int16: Int16Array;
  int32: Int32Array;
  int64: BigInt64Array;
  float16: Uint16Array;
  float32: Float32Array;
  float64: Float64Array;
  bool: Uint8Array;
  bfloat16: Uint16Array;
}

export type AnyTypedArray = TypedArrayFor[DType];

type ArrayCtor = {
  new (buffer: ArrayBufferLike, byteOffset?: number, length?: number): AnyTypedArray;
  BYTES_PER_ELEMENT: number;
};

export const TYPED_ARRAY: Record<DType, ArrayCtor> = {
  uint8: Uint8Array,
  int8: Int8Array,
  int16: Int16Array,
  int32: Int32Array,
  int64: BigInt64Array,
  float16: Uint16Array,
  float32: Float32Array,
  float64: Float64Array,
  bool: Uint8Array,
  bfloat16: Uint16Array,
};

export function isDType(x: unknown): x is DType {
  return typeof x === 'string' && Object.hasOwn(DTYPE_CODES, x);
}

export function dtypeFromCode(code: number): DType {
  const d = CODE_TO_DTYPE.get(code);
  if (d === undefined) throw new Error(`unsupported LibTorch scalar type code ${code}`);
  return d;
}

export function isFloating(d: DType): boolean {
  return d === 'float16' || d === 'float32' || d === 'float64' || d === 'bfloat16';
}

/** The dtype a TypedArray holds when none is given (Uint16Array is ambiguous and needs one). */
export function dtypeOfTypedArray(a: ArrayBufferView): DType | undefined {
  if (a instanceof Float32Array) return 'float32';
  if (a instanceof Float64Array) return 'float64';
  if (a instanceof Int32Array) return 'int32';
  if (a instanceof BigInt64Array) return 'int64';
  if (a instanceof Int16Array) return 'int16';
  if (a instanceof Int8Array) return 'int8';
  if (a instanceof Uint8Array) return 'uint8';
  return undefined;
}
