/**
 * A safe reader for Python pickles (protocols 2-5) as nnU-Net v1 writes them: plans.pkl,
 * splits_final.pkl, the per-case property .pkl files, fold_N/<checkpoint>.model.pkl and the
 * data.pkl inside PyTorch checkpoints.
 *
 * Unpickling normally imports modules and calls whatever the file names. This reader never does:
 * it is a small stack machine that knows only the opcodes of the binary protocols, and every
 * global the file names must be on an allow-list (collections.OrderedDict, set/frozenset, NumPy's
 * array, dtype and scalar reconstructors, the latin-1 bytes helper of protocol 2 and PyTorch's
 * tensor rebuilders), each mapped to a builder written here. Anything else is an NnunetError
 * naming the global and the file. Lengths declared in the stream are checked against the bytes
 * that remain before anything is allocated; truncated input, stack underflow and runaway nesting
 * are errors as well.
 *
 * Python values map to JS as: None -> null, bool -> boolean, int -> number (bigint beyond 2^53),
 * float -> number, str -> string, bytes/bytearray -> Uint8Array, list -> array, tuple -> frozen
 * array, dict/OrderedDict -> Map (insertion order kept), set/frozenset -> Set, numpy arrays ->
 * NdArray, numpy scalars -> number/bigint/boolean/string, torch tensors -> TorchTensorRef.
 */
import { readFileSync } from 'node:fs';
import { NnunetError } from '../errors.js';
import { product } from '../util/shape.js';
import { fromFloat16Bits } from './npz.js';

/** Keys a pickled dict may have here (Python's hashable scalars). */
export type PickleKey = string | number | bigint | boolean | null;

export type PickleValue =
  | PickleKey
  | Uint8Array
  | readonly PickleValue[]
  | Map<PickleKey, PickleValue>
  | Set<PickleKey>
  | NdArray
  | NpDType
  | TorchStorage
  | TorchTensorRef
  | PyGlobal;

/** A numpy element type: `descr` as numpy writes it ('<f8', '|u1', '|b1', '<U8', '|O'). */
export class NpDType {
  /** Kind letter: f, i, u, b, U, S, O. */
  kind: string;
  /** Bytes per element (for U: 4 per character). */
  itemsize: number;
  /** '<', '>' or '|' (byte order does not apply). */
  byteorder: string;
  constructor(kind: string, itemsize: number, byteorder: string) {
    this.kind = kind;
    this.itemsize = itemsize;
    this.byteorder = byteorder;
  }
  get descr(): string {
    return this.kind === 'O'
      ? '|O'
      : `${this.byteorder}${this.kind}${this.kind === 'U' ? this.itemsize / 4 : this.itemsize}`;
  }
}

export type NdData =
  | Float64Array
  | Float32Array
  | Int8Array
  | Int16Array
  | Int32Array
  | BigInt64Array
  | Uint8Array
  | Uint16Array
  | Uint32Array
  | BigUint64Array
  | string[]
  | Uint8Array[]
  | PickleValue[];

/**
 * A numpy ndarray, always in C order (Fortran-ordered data are reordered on reading). float16
 * arrays are widened to Float32Array; bool arrays hold 0/1 in a Uint8Array; U arrays hold JS
 * strings (trailing NULs removed), S arrays Uint8Arrays, object arrays the unpickled values.
 */
export class NdArray {
  dtype: NpDType;
  shape: number[];
  data: NdData;
  constructor(dtype: NpDType, shape: number[], data: NdData) {
    this.dtype = dtype;
    this.shape = shape;
    this.data = data;
  }
}

/** torch storage element types by the legacy storage class names torch.save still writes. */
export const TORCH_STORAGE_TYPES = {
  FloatStorage: { dtype: 'float32', bytes: 4 },
  DoubleStorage: { dtype: 'float64', bytes: 8 },
  HalfStorage: { dtype: 'float16', bytes: 2 },
  BFloat16Storage: { dtype: 'bfloat16', bytes: 2 },
  LongStorage: { dtype: 'int64', bytes: 8 },
  IntStorage: { dtype: 'int32', bytes: 4 },
  ShortStorage: { dtype: 'int16', bytes: 2 },
  CharStorage: { dtype: 'int8', bytes: 1 },
  ByteStorage: { dtype: 'uint8', bytes: 1 },
  BoolStorage: { dtype: 'bool', bytes: 1 },
} as const;
export type TorchStorageType = keyof typeof TORCH_STORAGE_TYPES;
export type TorchDType = (typeof TORCH_STORAGE_TYPES)[TorchStorageType]['dtype'];

/** A storage a checkpoint's persistent id resolved to: raw little-endian element bytes. */
export class TorchStorage {
  constructor(
    readonly dtype: TorchDType,
    readonly key: string,
    readonly location: string,
    readonly numel: number,
    public bytes: Uint8Array,
  ) {}
}

/** What torch._utils._rebuild_tensor_v2 describes: a strided view into a storage. */
export class TorchTensorRef {
  constructor(
    readonly storage: TorchStorage,
    readonly offset: number,
    readonly shape: readonly number[],
    readonly stride: readonly number[],
    readonly requiresGrad: boolean,
  ) {}
}

/** A module-level name the pickle refers to (an allow-listed class or function). */
export class PyGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
  get qualified(): string {
    return `${this.module}.${this.name}`;
  }
}

export interface ReadPickleOptions {
  /** Names the input in error messages (the file path). */
  source?: string;
  /**
   * Resolves a persistent id (PyTorch: ('storage', storage type, key, location, numel)). Without
   * it a persistent id is an error.
   */
  persistentLoad?: (pid: PickleValue) => PickleValue;
  /** Most MARKs open at once (default 1000). */
  maxNesting?: number;
}

/** Nesting depth of MARK groups beyond which a stream is treated as hostile. */
export const DEFAULT_MAX_NESTING = 1000;

type Builder = (args: readonly PickleValue[], fail: (why: string) => never) => PickleValue;

/** Allow-listed globals: module.name -> builder (call via REDUCE/NEWOBJ) or null (a type token only). */
const NUMPY_CORE = ['numpy.core.multiarray', 'numpy._core.multiarray'];
const NUMPY_NUMERIC = ['numpy.core.numeric', 'numpy._core.numeric'];

function allowList(): Map<string, Builder | null> {
  const m = new Map<string, Builder | null>();
  m.set('collections.OrderedDict', buildOrderedDict);
  for (const b of ['builtins', '__builtin__']) {
    m.set(`${b}.set`, buildSet);
    m.set(`${b}.frozenset`, buildSet);
    m.set(`${b}.bytearray`, buildBytearray);
    // Protocol 2 writes b'' as bytes().
    m.set(`${b}.bytes`, buildBytearray);
  }
  m.set('_codecs.encode', buildCodecsEncode);
  for (const mod of NUMPY_CORE) {
    m.set(`${mod}._reconstruct`, buildReconstruct);
    m.set(`${mod}.scalar`, buildScalar);
  }
  for (const mod of NUMPY_NUMERIC) m.set(`${mod}._frombuffer`, buildFromBuffer);
  m.set('numpy.ndarray', null);
  m.set('numpy.dtype', buildDType);
  m.set('torch._utils._rebuild_tensor_v2', buildTorchTensor);
  m.set('torch._utils._rebuild_tensor', buildTorchTensor);
  m.set('torch._utils._rebuild_parameter', buildTorchParameter);
  for (const s of Object.keys(TORCH_STORAGE_TYPES)) m.set(`torch.${s}`, null);
  return m;
}
const ALLOWED = allowList();

/** The allow-listed globals (module.name), for documentation and tests. */
export function allowedPickleGlobals(): string[] {
  return [...ALLOWED.keys()];
}

/** Reads a pickle file (see readPickle). */
export function readPickleFile(path: string, options: Omit<ReadPickleOptions, 'source'> = {}): PickleValue {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch {
    throw new NnunetError('ERR_NOT_FOUND', `${path} does not exist or cannot be read.`);
  }
  return readPickle(bytes, { ...options, source: path });
}

const TEXT = new TextDecoder('utf-8', { fatal: true });

/** Unpickles `bytes` without executing anything (see the module comment); bytes after STOP are ignored, as Python does. */
export function readPickle(bytes: Uint8Array, options: ReadPickleOptions = {}): PickleValue {
  return readPickleAt(bytes, 0, options).value;
}

/**
 * Unpickles the pickle that starts at byte `start` of `bytes` and returns its value and the
 * offset just after its STOP opcode (files such as PyTorch's legacy format hold several pickles
 * in a row).
 */
export function readPickleAt(
  bytes: Uint8Array,
  start: number,
  options: ReadPickleOptions = {},
): { value: PickleValue; end: number } {
  const source = options.source ?? 'the pickle data';
  const maxNesting = options.maxNesting ?? DEFAULT_MAX_NESTING;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = start;
  let opPos = start;
  const fail = (why: string): never => {
    throw new NnunetError(
      'ERR_DATASET',
      `${source} is not a pickle this reader accepts (byte ${opPos}: ${why}); re-create the file with nnU-Net.`,
    );
  };
  const need = (n: number): void => {
    if (n < 0 || !Number.isFinite(n) || pos + n > bytes.length) {
      fail(
        `needs ${n} more byte(s) but only ${bytes.length - pos} remain: the file is truncated or a length is corrupt`,
      );
    }
  };
  const u8 = (): number => {
    need(1);
    return bytes[pos++] as number;
  };
  const u16 = (): number => {
    need(2);
    const v = view.getUint16(pos, true);
    pos += 2;
    return v;
  };
  const u32 = (): number => {
    need(4);
    const v = view.getUint32(pos, true);
    pos += 4;
    return v;
  };
  const i32 = (): number => {
    need(4);
    const v = view.getInt32(pos, true);
    pos += 4;
    return v;
  };
  const u64 = (): number => {
    need(8);
    const v = view.getBigUint64(pos, true);
    pos += 8;
    // Any length above the remaining input is rejected by take(); clamp to keep it a number.
    return v > BigInt(bytes.length) ? Number.POSITIVE_INFINITY : Number(v);
  };
  const take = (n: number): Uint8Array => {
    need(n);
    const out = bytes.subarray(pos, pos + n);
    pos += n;
    return out;
  };
  const utf8 = (b: Uint8Array): string => {
    try {
      return TEXT.decode(b);
    } catch {
      return fail('a string is not valid UTF-8');
    }
  };
  const line = (): string => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) fail('a text argument has no terminating newline');
    const s = Buffer.from(bytes.subarray(pos, end)).toString('latin1');
    pos = end + 1;
    return s;
  };

  const stack: PickleValue[] = [];
  const marks: number[] = [];
  const memo = new Map<number, PickleValue>();
  const pop = (): PickleValue => {
    const floor = marks.length > 0 ? (marks[marks.length - 1] as number) : 0;
    if (stack.length <= floor) fail('the stack is empty');
    return stack.pop() as PickleValue;
  };
  const top = (): PickleValue => {
    const floor = marks.length > 0 ? (marks[marks.length - 1] as number) : 0;
    if (stack.length <= floor) fail('the stack is empty');
    return stack[stack.length - 1] as PickleValue;
  };
  const popMark = (): PickleValue[] => {
    const m = marks.pop();
    if (m === undefined) fail('no MARK to pop to');
    return stack.splice(m as number);
  };
  const asList = (v: PickleValue, op: string): PickleValue[] => {
    if (!Array.isArray(v) || Object.isFrozen(v)) fail(`${op} needs a list on the stack`);
    return v as PickleValue[];
  };
  const asDict = (v: PickleValue, op: string): Map<PickleKey, PickleValue> => {
    if (!(v instanceof Map)) fail(`${op} needs a dict on the stack`);
    return v as Map<PickleKey, PickleValue>;
  };
  const asKey = (v: PickleValue): PickleKey => {
    if (
      v === null ||
      typeof v === 'string' ||
      typeof v === 'number' ||
      typeof v === 'bigint' ||
      typeof v === 'boolean'
    ) {
      return v;
    }
    return fail('a dict key or set element is not a str, int, float, bool or None');
  };
  const tuple = (items: PickleValue[]): PickleValue => Object.freeze(items);
  const setItems = (d: Map<PickleKey, PickleValue>, items: PickleValue[]): void => {
    if (items.length % 2 !== 0) fail('SETITEMS has an odd number of items');
    for (let i = 0; i < items.length; i += 2) d.set(asKey(items[i] as PickleValue), items[i + 1] as PickleValue);
  };
  const global = (module: string, name: string): PickleValue => {
    const q = `${module}.${name}`;
    if (!ALLOWED.has(q)) {
      throw new NnunetError(
        'ERR_DATASET',
        `${source} refers to the Python global ${q}, which this reader does not allow (it never imports or calls code from a pickle); only nnU-Net v1's own files are supported.`,
      );
    }
    return new PyGlobal(module, name);
  };
  const call = (callable: PickleValue, args: PickleValue, op: string): PickleValue => {
    if (!(callable instanceof PyGlobal)) return fail(`${op} on something that is not an allowed class or function`);
    const b = ALLOWED.get(callable.qualified);
    if (!b) return fail(`${callable.qualified} cannot be called`);
    if (!Array.isArray(args)) return fail(`${op} arguments are not a tuple`);
    return b(args as PickleValue[], fail);
  };

  for (;;) {
    opPos = pos;
    const op = u8();
    switch (op) {
      case 0x80: {
        // PROTO
        const p = u8();
        if (p < 2 || p > 5) fail(`protocol ${p} is not supported (2 to 5 are)`);
        break;
      }
      case 0x95: // FRAME: the frame length only helps buffered readers.
        u64();
        break;
      case 0x2e: {
        // STOP
        if (stack.length !== 1 || marks.length !== 0) {
          fail(`STOP with ${stack.length} value(s) on the stack and ${marks.length} open MARK(s)`);
        }
        return { value: stack[0] as PickleValue, end: pos };
      }
      case 0x28: // MARK
        if (marks.length >= maxNesting) fail(`more than ${maxNesting} nested MARKs`);
        marks.push(stack.length);
        break;
      case 0x30: // POP
        pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4a: // BININT
        stack.push(i32());
        break;
      case 0x4b: // BININT1
        stack.push(u8());
        break;
      case 0x4d: // BININT2
        stack.push(u16());
        break;
      case 0x8a: // LONG1
        stack.push(decodeLong(take(u8())));
        break;
      case 0x8b: {
        // LONG4
        const n = i32();
        if (n < 0 || n > MAX_LONG_BYTES) fail(`LONG4 declares ${n} bytes (at most ${MAX_LONG_BYTES} are accepted)`);
        stack.push(decodeLong(take(n)));
        break;
      }
      case 0x47: {
        // BINFLOAT (big-endian double)
        need(8);
        stack.push(view.getFloat64(pos, false));
        pos += 8;
        break;
      }
      case 0x58: // BINUNICODE
        stack.push(utf8(take(u32())));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(utf8(take(u8())));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(utf8(take(u64())));
        break;
      case 0x54: {
        // BINSTRING (Python 2 str): read as latin-1 text
        const n = i32();
        if (n < 0) fail('BINSTRING has a negative length');
        stack.push(Buffer.from(take(n)).toString('latin1'));
        break;
      }
      case 0x55: // SHORT_BINSTRING
        stack.push(Buffer.from(take(u8())).toString('latin1'));
        break;
      case 0x42: // BINBYTES
        stack.push(Uint8Array.from(take(u32())));
        break;
      case 0x43: // SHORT_BINBYTES
        stack.push(Uint8Array.from(take(u8())));
        break;
      case 0x8e: // BINBYTES8
      case 0x96: // BYTEARRAY8
        stack.push(Uint8Array.from(take(u64())));
        break;
      case 0x97: // NEXT_BUFFER
      case 0x98: // READONLY_BUFFER
        fail('out-of-band buffers (protocol 5 buffer_callback) are not supported');
        break;
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x6c: // LIST
        stack.push(popMark());
        break;
      case 0x61: {
        // APPEND
        const v = pop();
        asList(top(), 'APPEND').push(v);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark();
        const list = asList(top(), 'APPENDS');
        for (const v of items) list.push(v);
        break;
      }
      case 0x29: // EMPTY_TUPLE
        stack.push(tuple([]));
        break;
      case 0x74: // TUPLE
        stack.push(tuple(popMark()));
        break;
      case 0x85: // TUPLE1
        stack.push(tuple([pop()]));
        break;
      case 0x86: {
        // TUPLE2
        const b = pop();
        const a = pop();
        stack.push(tuple([a, b]));
        break;
      }
      case 0x87: {
        // TUPLE3
        const c = pop();
        const b = pop();
        const a = pop();
        stack.push(tuple([a, b, c]));
        break;
      }
      case 0x7d: // EMPTY_DICT
        stack.push(new Map());
        break;
      case 0x64: {
        // DICT
        const d = new Map<PickleKey, PickleValue>();
        setItems(d, popMark());
        stack.push(d);
        break;
      }
      case 0x73: {
        // SETITEM
        const v = pop();
        const k = pop();
        asDict(top(), 'SETITEM').set(asKey(k), v);
        break;
      }
      case 0x75: {
        // SETITEMS
        const items = popMark();
        setItems(asDict(top(), 'SETITEMS'), items);
        break;
      }
      case 0x8f: // EMPTY_SET
        stack.push(new Set());
        break;
      case 0x90: {
        // ADDITEMS
        const items = popMark();
        const s = top();
        if (!(s instanceof Set) || Object.isFrozen(s)) fail('ADDITEMS needs a set on the stack');
        for (const v of items) (s as Set<PickleKey>).add(asKey(v));
        break;
      }
      case 0x91: {
        // FROZENSET
        const s = new Set<PickleKey>();
        for (const v of popMark()) s.add(asKey(v));
        stack.push(Object.freeze(s));
        break;
      }
      case 0x63: {
        // GLOBAL "module\nname\n"
        const module = line();
        const name = line();
        stack.push(global(module, name));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail('STACK_GLOBAL needs two strings');
        stack.push(global(module as string, name as string));
        break;
      }
      case 0x52: {
        // REDUCE
        const args = pop();
        const callable = pop();
        stack.push(call(callable, args, 'REDUCE'));
        break;
      }
      case 0x81: {
        // NEWOBJ
        const args = pop();
        const cls = pop();
        stack.push(call(cls, args, 'NEWOBJ'));
        break;
      }
      case 0x92: {
        // NEWOBJ_EX
        const kwargs = pop();
        const args = pop();
        const cls = pop();
        if (!(kwargs instanceof Map) || kwargs.size > 0) fail('NEWOBJ_EX with keyword arguments is not supported');
        stack.push(call(cls, args, 'NEWOBJ_EX'));
        break;
      }
      case 0x62: {
        // BUILD
        const state = pop();
        applyState(top(), state, fail);
        break;
      }
      case 0x71: // BINPUT
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x68: // BINGET
      case 0x6a: {
        // LONG_BINGET
        const i = op === 0x68 ? u8() : u32();
        if (!memo.has(i)) fail(`memo entry ${i} is read before it is written`);
        stack.push(memo.get(i) as PickleValue);
        break;
      }
      case 0x51: {
        // BINPERSID
        const pid = pop();
        if (!options.persistentLoad) fail('a persistent id appears but the caller resolves none');
        stack.push((options.persistentLoad as (p: PickleValue) => PickleValue)(pid));
        break;
      }
      default:
        fail(
          `opcode 0x${op.toString(16).padStart(2, '0')} is not supported (only the binary opcodes of protocols 2 to 5 are)`,
        );
    }
  }
}

/** Longest LONG4 integer accepted (Python ints in nnU-Net's files are a few bytes). */
const MAX_LONG_BYTES = 4096;

/** Two's-complement little-endian integer (LONG1/LONG4 payload). */
function decodeLong(b: Uint8Array): number | bigint {
  if (b.length === 0) return 0;
  let v = BigInt(`0x${Buffer.from(b).reverse().toString('hex')}`);
  if ((b[b.length - 1] as number) & 0x80) v -= 1n << BigInt(8 * b.length);
  return intValue(v);
}

function intValue(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

function isTuple(v: PickleValue): v is readonly PickleValue[] {
  return Array.isArray(v);
}

function asInt(v: PickleValue, what: string, fail: (why: string) => never): number {
  if (typeof v === 'number' && Number.isSafeInteger(v)) return v;
  return fail(`${what} is not an integer`);
}

function asBytes(v: PickleValue, what: string, fail: (why: string) => never): Uint8Array {
  if (v instanceof Uint8Array) return v;
  // Python 2 str (BINSTRING) and protocol-2 latin-1 text carry bytes as code points 0-255.
  if (typeof v === 'string') return Uint8Array.from(Buffer.from(v, 'latin1'));
  return fail(`${what} is not bytes`);
}

function asShape(v: PickleValue, fail: (why: string) => never): number[] {
  if (!isTuple(v)) return fail('an array shape is not a tuple');
  if (v.length > 32) fail('an array has more than 32 dimensions');
  return v.map((d) => {
    const n = asInt(d, 'an array dimension', fail);
    if (n < 0) fail('an array dimension is negative');
    return n;
  });
}

function buildOrderedDict(args: readonly PickleValue[], fail: (why: string) => never): PickleValue {
  const d = new Map<PickleKey, PickleValue>();
  if (args.length === 0) return d;
  const items = args[0] as PickleValue;
  if (args.length !== 1 || !Array.isArray(items)) return fail('OrderedDict takes one list of pairs');
  for (const pair of items as PickleValue[]) {
    if (!Array.isArray(pair) || pair.length !== 2) fail('an OrderedDict item is not a pair');
    const [k, v] = pair as PickleValue[];
    if (!(k === null || ['string', 'number', 'bigint', 'boolean'].includes(typeof k)))
      fail('a dict key is not a scalar');
    d.set(k as PickleKey, v as PickleValue);
  }
  return d;
}

function buildSet(args: readonly PickleValue[], fail: (why: string) => never): PickleValue {
  const s = new Set<PickleKey>();
  if (args.length === 0) return s;
  const items = args[0] as PickleValue;
  if (args.length !== 1 || !Array.isArray(items)) return fail('set() takes one list');
  for (const v of items as PickleValue[]) {
    if (!(v === null || ['string', 'number', 'bigint', 'boolean'].includes(typeof v)))
      fail('a set element is not a scalar');
    s.add(v as PickleKey);
  }
  return s;
}

function buildBytearray(args: readonly PickleValue[], fail: (why: string) => never): PickleValue {
  if (args.length === 0) return new Uint8Array(0);
  // Protocol 2: bytearray(latin-1 text, 'latin-1'); later protocols: bytearray(bytes).
  return Uint8Array.from(asBytes(args[0] as PickleValue, 'bytearray() data', fail));
}

function buildCodecsEncode(args: readonly PickleValue[], fail: (why: string) => never): PickleValue {
  const [text, encoding] = args;
  if (typeof text !== 'string' || (encoding !== 'latin1' && encoding !== 'latin-1')) {
    return fail("_codecs.encode is only accepted as protocol 2 writes bytes (text, 'latin1')");
  }
  for (let i = 0; i < text.length; i++)
    if (text.charCodeAt(i) > 255) fail('latin-1 bytes text has a code point above 255');
  return Uint8Array.from(Buffer.from(text, 'latin1'));
}

const DTYPE_PATTERN = /^([<>|=]?)([fiubUSO])(\d*)$/;
const NUMERIC_SIZES: Record<string, readonly number[]> = {
  f: [2, 4, 8],
  i: [1, 2, 4, 8],
  u: [1, 2, 4, 8],
  b: [1],
  O: [4, 8],
};

function buildDType(args: readonly PickleValue[], fail: (why: string) => never): PickleValue {
  const spec = args[0];
  if (typeof spec !== 'string') return fail('numpy.dtype takes a type string');
  const m = DTYPE_PATTERN.exec(spec);
  if (m === null) return fail(`numpy dtype '${spec}' is not supported (numbers, bool, str, bytes and objects are)`);
  const kind = m[2] as string;
  const size = m[3] === '' ? (kind === 'b' ? 1 : kind === 'O' ? 8 : 0) : Number(m[3]);
  if (kind in NUMERIC_SIZES && !(NUMERIC_SIZES[kind] as readonly number[]).includes(size)) {
    return fail(`numpy dtype '${spec}' is not supported`);
  }
  const itemsize = kind === 'U' ? size * 4 : size;
  const order = kind === 'b' || kind === 'O' || kind === 'S' || size === 1 ? '|' : m[1] === '>' ? '>' : '<';
  return new NpDType(kind, itemsize, order);
}

/** BUILD: numpy dtype and ndarray state; dict attributes (e.g. a torch state_dict's _metadata) are dropped. */
function applyState(obj: PickleValue, state: PickleValue, fail: (why: string) => never): void {
  if (obj instanceof NpDType) {
    // (version, byteorder, subarray, names, fields, elsize, alignment, flags[, metadata])
    if (!isTuple(state) || state.length < 8) fail('numpy dtype state is not the expected tuple');
    const [, order, sub, names, fields, elsize] = state;
    if (sub !== null || names !== null || fields !== null)
      fail('structured and sub-array numpy dtypes are not supported');
    if (typeof order !== 'string' || !['<', '>', '|', '='].includes(order)) fail('numpy dtype byte order is invalid');
    if (obj.byteorder !== '|') obj.byteorder = order === '>' ? '>' : '<';
    if (obj.kind === 'U' || obj.kind === 'S') {
      const e = asInt(elsize as PickleValue, 'dtype item size', fail);
      if (e < 0 || (obj.kind === 'U' && e % 4 !== 0)) fail('numpy dtype item size is invalid');
      obj.itemsize = e;
    }
    return;
  }
  if (obj instanceof NdArray) {
    // (version, shape, dtype, is_fortran, raw data or list of objects)
    if (!isTuple(state) || state.length !== 5) fail('numpy array state is not the expected tuple');
    const [, shapeV, dtype, fortran, raw] = state;
    if (!(dtype instanceof NpDType)) fail('numpy array state has no dtype');
    const shape = asShape(shapeV as PickleValue, fail);
    const filled = decodeArray(dtype, shape, raw as PickleValue, fortran === true, fail);
    obj.dtype = filled.dtype;
    obj.shape = filled.shape;
    obj.data = filled.data;
    return;
  }
  if (obj instanceof Map) {
    const dictState = isTuple(state) && state.length === 2 ? state[0] : state;
    if (dictState !== null && !(dictState instanceof Map)) fail('BUILD on a dict with a state that is not a dict');
    return;
  }
  fail('BUILD on an object that has no state to set');
}

function buildReconstruct(args: readonly PickleValue[], fail: (why: string) => never): PickleValue {
  const cls = args[0];
  if (!(cls instanceof PyGlobal) || cls.qualified !== 'numpy.ndarray')
    return fail('_reconstruct is only accepted for numpy.ndarray');
  // numpy builds an empty int8 array here; BUILD fills in shape, dtype and data.
  return new NdArray(new NpDType('i', 1, '|'), [0], new Int8Array(0));
}

function buildFromBuffer(args: readonly PickleValue[], fail: (why: string) => never): PickleValue {
  const [buf, dtype, shapeV, order] = args;
  if (!(dtype instanceof NpDType)) return fail('_frombuffer has no dtype');
  const shape = asShape(shapeV as PickleValue, fail);
  return decodeArray(dtype, shape, asBytes(buf as PickleValue, '_frombuffer data', fail), order === 'F', fail);
}

function buildScalar(args: readonly PickleValue[], fail: (why: string) => never): PickleValue {
  const [dtype, raw] = args;
  if (!(dtype instanceof NpDType)) return fail('numpy scalar has no dtype');
  if (dtype.kind === 'O') return raw as PickleValue;
  const a = decodeArray(dtype, [], asBytes(raw as PickleValue, 'numpy scalar data', fail), false, fail);
  return scalarAt(a, 0);
}

/** Element i of an array as a plain JS value (bool as boolean, int64 as number when exact). */
export function scalarAt(a: NdArray, i: number): PickleValue {
  const v = a.data[i];
  if (a.dtype.kind === 'b') return v === 1;
  if (typeof v === 'bigint') return intValue(v);
  return v as PickleValue;
}

function decodeArray(
  dtype: NpDType,
  shape: number[],
  raw: PickleValue,
  fortran: boolean,
  fail: (why: string) => never,
): NdArray {
  let count = 1;
  for (const d of shape) count *= d;
  if (!Number.isSafeInteger(count)) return fail('an array shape is too large');
  if (dtype.kind === 'O') {
    if (!Array.isArray(raw) || raw.length !== count) return fail('an object array does not hold one value per element');
    return reorder(new NdArray(dtype, shape, [...(raw as PickleValue[])]), fortran);
  }
  const bytes = asBytes(raw, 'array data', fail);
  // Compare before allocating: a hostile shape cannot make us allocate more than the input holds.
  if (dtype.itemsize === 0 ? count !== 0 : bytes.length / dtype.itemsize !== count) {
    fail(
      `array data has ${bytes.length} bytes but shape [${shape.join(', ')}] of ${dtype.descr} needs ${count * dtype.itemsize}`,
    );
  }
  const n = count;
  const size = dtype.itemsize;
  const little = dtype.byteorder !== '>';
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let data: NdData;
  switch (`${dtype.kind}${dtype.kind === 'U' || dtype.kind === 'S' ? '' : size}`) {
    case 'f8':
      data = Float64Array.from({ length: n }, (_, i) => dv.getFloat64(i * 8, little));
      break;
    case 'f4':
      data = Float32Array.from({ length: n }, (_, i) => dv.getFloat32(i * 4, little));
      break;
    case 'f2':
      data = fromFloat16Bits(Uint16Array.from({ length: n }, (_, i) => dv.getUint16(i * 2, little)));
      break;
    case 'i8':
      data = BigInt64Array.from({ length: n }, (_, i) => dv.getBigInt64(i * 8, little));
      break;
    case 'i4':
      data = Int32Array.from({ length: n }, (_, i) => dv.getInt32(i * 4, little));
      break;
    case 'i2':
      data = Int16Array.from({ length: n }, (_, i) => dv.getInt16(i * 2, little));
      break;
    case 'i1':
      data = Int8Array.from({ length: n }, (_, i) => dv.getInt8(i));
      break;
    case 'u8':
      data = BigUint64Array.from({ length: n }, (_, i) => dv.getBigUint64(i * 8, little));
      break;
    case 'u4':
      data = Uint32Array.from({ length: n }, (_, i) => dv.getUint32(i * 4, little));
      break;
    case 'u2':
      data = Uint16Array.from({ length: n }, (_, i) => dv.getUint16(i * 2, little));
      break;
    case 'u1':
      data = Uint8Array.from(bytes);
      break;
    case 'b1':
      data = Uint8Array.from(bytes, (b) => (b ? 1 : 0));
      break;
    case 'U':
      data = Array.from({ length: n }, (_, i) => {
        let s = '';
        for (let c = 0; c < size / 4; c++) {
          const cp = dv.getUint32(i * size + c * 4, little);
          if (cp === 0) break;
          if (cp > 0x10ffff) fail('a numpy str element holds an invalid code point');
          s += String.fromCodePoint(cp);
        }
        return s;
      });
      break;
    case 'S':
      data = Array.from({ length: n }, (_, i) => {
        const e = bytes.subarray(i * size, (i + 1) * size);
        let end = e.length;
        while (end > 0 && e[end - 1] === 0) end--;
        return Uint8Array.from(e.subarray(0, end));
      });
      break;
    default:
      return fail(`numpy dtype ${dtype.descr} is not supported`);
  }
  return reorder(new NdArray(dtype, shape, data), fortran);
}

/** Reorders Fortran-ordered elements into C order (in place on the NdArray). */
function reorder(a: NdArray, fortran: boolean): NdArray {
  if (!fortran || a.shape.length < 2) return a;
  const shape = a.shape;
  const n = a.data.length;
  const src = a.data as ArrayLike<unknown>;
  const out: unknown[] = new Array(n);
  const idx = new Array<number>(shape.length).fill(0);
  for (let c = 0; c < n; c++) {
    // c walks C order; f is the same element's Fortran offset.
    let f = 0;
    let stride = 1;
    for (let d = 0; d < shape.length; d++) {
      f += (idx[d] as number) * stride;
      stride *= shape[d] as number;
    }
    out[c] = src[f];
    for (let d = shape.length - 1; d >= 0; d--) {
      idx[d] = (idx[d] as number) + 1;
      if ((idx[d] as number) < (shape[d] as number)) break;
      idx[d] = 0;
    }
  }
  const data = a.data;
  if (Array.isArray(data)) a.data = out as PickleValue[];
  else {
    const Ctor = data.constructor as new (values: unknown[]) => NdData;
    a.data = new Ctor(out);
  }
  return a;
}

function buildTorchTensor(args: readonly PickleValue[], fail: (why: string) => never): PickleValue {
  const [storage, offsetV, sizeV, strideV, requiresGrad] = args;
  if (!(storage instanceof TorchStorage)) return fail('a tensor is rebuilt from something that is not a storage');
  const offset = asInt(offsetV as PickleValue, 'tensor storage offset', fail);
  const shape = asShape(sizeV as PickleValue, fail);
  const stride = asShape(strideV as PickleValue, fail);
  if (stride.length !== shape.length) fail('tensor size and stride differ in length');
  // The highest element the view touches must lie inside the storage.
  let last = offset;
  let empty = false;
  for (let d = 0; d < shape.length; d++) {
    if (shape[d] === 0) empty = true;
    last += ((shape[d] as number) - 1) * (stride[d] as number);
  }
  // Views with more elements than their storage (zero strides, as expand() makes) are refused: a
  // hostile file could otherwise declare a huge shape over a tiny storage.
  const count = product(shape);
  if (offset < 0 || (!empty && (last >= storage.numel || count > storage.numel))) {
    fail(
      `a tensor view (offset ${offset}, size [${shape.join(', ')}]) reaches past, or repeats elements of, its storage of ${storage.numel} elements`,
    );
  }
  return new TorchTensorRef(storage, offset, shape, stride, requiresGrad === true);
}

function buildTorchParameter(args: readonly PickleValue[], fail: (why: string) => never): PickleValue {
  const [data] = args;
  if (!(data instanceof TorchTensorRef)) return fail('a parameter is rebuilt from something that is not a tensor');
  return data;
}

// ---------------------------------------------------------------------------------------------
// Converting unpickled values to plain JSON-like data.

export interface ToPlainOptions {
  /** Most nodes visited (guards against memo-shared structures that expand exponentially). */
  maxNodes?: number;
  /** Deepest nesting (guards against self-referencing lists). */
  maxDepth?: number;
}

export type PlainValue = null | boolean | number | string | PlainValue[] | { [key: string]: PlainValue };

/**
 * JSON-like copy of an unpickled value, the way nnU-Net's JSON files hold the same data: dict keys
 * as strings (json.dumps turns 0 into "0"), tuples and sets as arrays, numpy arrays as nested
 * arrays (numpy bytes elements as latin-1 strings), ints beyond 2^53 as (inexact) numbers, bytes
 * as arrays of byte values. A "__proto__" key is an own property, never the prototype. Tensors,
 * storages and bare globals cannot be converted (an NnunetError naming `source`).
 */
export function toPlain(value: PickleValue, source = 'the pickle data', options: ToPlainOptions = {}): PlainValue {
  const maxNodes = options.maxNodes ?? 10_000_000;
  const maxDepth = options.maxDepth ?? 200;
  let nodes = 0;
  const fail = (why: string): never => {
    throw new NnunetError('ERR_DATASET', `${source}: ${why}; the file does not hold the data nnU-Net expects there.`);
  };
  const keyString = (k: PickleKey): string => {
    if (k === null) return 'null';
    if (typeof k === 'boolean') return k ? 'true' : 'false';
    return String(k);
  };
  const walk = (v: PickleValue, depth: number): PlainValue => {
    if (++nodes > maxNodes) fail(`the data have more than ${maxNodes} values`);
    if (depth > maxDepth) fail(`the data nest deeper than ${maxDepth} levels`);
    if (v === null || typeof v === 'boolean' || typeof v === 'number' || typeof v === 'string') return v;
    if (v === undefined) return fail('a value is missing');
    if (typeof v === 'bigint') return Number(v);
    if (v instanceof Uint8Array) return Array.from(v);
    if (Array.isArray(v)) return v.map((x) => walk(x, depth + 1));
    if (v instanceof Map) {
      const o: { [key: string]: PlainValue } = {};
      for (const [k, x] of v) {
        const key = keyString(k);
        const value = walk(x, depth + 1);
        // Assigning "__proto__" would replace the object's prototype; make it an own property, as JSON.parse does.
        if (key === '__proto__') {
          Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
        } else {
          o[key] = value;
        }
      }
      return o;
    }
    if (v instanceof Set) return [...v].map((x) => walk(x, depth + 1));
    if (v instanceof NdArray) return ndarrayToNested(v, (x) => walk(x, depth + 1), fail);
    return fail(`a ${v.constructor.name} cannot be converted to plain data`);
  };
  return walk(value, 0);
}

function ndarrayToNested(a: NdArray, walk: (v: PickleValue) => PlainValue, fail: (why: string) => never): PlainValue {
  const flat: PlainValue[] = [];
  for (let i = 0; i < a.data.length; i++) {
    const v = scalarAt(a, i);
    flat.push(v instanceof Uint8Array ? Buffer.from(v).toString('latin1') : walk(v));
  }
  if (a.shape.length === 0) return flat[0] ?? fail('an empty 0-d array');
  const build = (dim: number, offset: number): PlainValue[] => {
    const n = a.shape[dim] as number;
    if (dim === a.shape.length - 1) return flat.slice(offset, offset + n);
    const inner = product(a.shape.slice(dim + 1));
    return Array.from({ length: n }, (_, i) => build(dim + 1, offset + i * inner));
  };
  return build(0, 0);
}
