/**
 * NumPy .npy files (format version 1.0): C-order arrays readable by numpy.load. Used for the
 * cropped and preprocessed cases ([C + 1, z, y, x] float32, channels then segmentation).
 */
import { closeSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { NnunetError } from '../errors.js';
import { writeFileAtomic } from '../util/atomic.js';
import { product } from '../util/shape.js';

export type NpyArray =
  | Float32Array
  | Float64Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array;

const DESCR = new Map<
  string,
  { new (buffer: ArrayBuffer, offset?: number, length?: number): NpyArray; BYTES_PER_ELEMENT: number }
>([
  ['<f4', Float32Array],
  ['<f8', Float64Array],
  ['|i1', Int8Array],
  ['|u1', Uint8Array],
  ['<i2', Int16Array],
  ['<u2', Uint16Array],
  ['<i4', Int32Array],
  ['<u4', Uint32Array],
]);

function descrOf(a: NpyArray): string {
  for (const [d, ctor] of DESCR) if (a instanceof ctor) return d;
  throw new NnunetError('ERR_ARGUMENT', 'unsupported array type for .npy');
}

const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]); // \x93NUMPY

/** The .npy header for an array: magic, version 1.0, length, and the dict padded to 64 bytes. */
export function npyHeader(descr: string, shape: readonly number[]): Buffer {
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const total = MAGIC.length + 4 + dict.length + 1;
  dict += `${' '.repeat((64 - (total % 64)) % 64)}\n`;
  const head = Buffer.alloc(MAGIC.length + 4);
  MAGIC.copy(head, 0);
  head[6] = 1;
  head[7] = 0;
  head.writeUInt16LE(dict.length, 8);
  return Buffer.concat([head, Buffer.from(dict, 'latin1')]);
}

/** Writes `data` with `shape` to `path` atomically (temporary file, fsync, rename). */
export function writeNpy(path: string, data: NpyArray, shape: readonly number[]): void {
  const n = product(shape);
  if (n !== data.length)
    throw new NnunetError(
      'ERR_ARGUMENT',
      `Cannot write ${path}: shape [${shape.join(', ')}] needs ${n} values, got ${data.length}.`,
    );
  // Header and data as two parts: the (possibly large) array is written from its own buffer, not copied.
  writeFileAtomic(path, [
    npyHeader(descrOf(data), shape),
    new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
  ]);
}

export interface NpyHeader {
  descr: string;
  shape: number[];
  /** Byte offset of the data in the file. */
  dataOffset: number;
}

/**
 * Parses the header at the start of .npy bytes (a file, or a member of an .npz: `path` then names
 * the archive in errors). C order only.
 */
export function parseNpyHeader(buf: Buffer, path: string): NpyHeader {
  const bad = (why: string): never => {
    throw new NnunetError(
      'ERR_DATASET',
      `${path} is not a readable .npy file (${why}): delete it and rerun the step that wrote it.`,
    );
  };
  if (buf.length < 10 || !buf.subarray(0, 6).equals(MAGIC)) bad('no NumPy magic');
  const major = buf[6];
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  if (buf.length < start + headerLen) bad('truncated header');
  const dict = buf.subarray(start, start + headerLen).toString('latin1');
  const descr = /'descr':\s*'([^']+)'/.exec(dict)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(dict)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(dict)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) bad('malformed header');
  if (fortran === 'True') bad('Fortran order is not supported');
  const shape = (shapeText as string)
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map(Number);
  return { descr: descr as string, shape, dataOffset: start + headerLen };
}

/** Reads a whole .npy file. */
export function readNpy(path: string): { data: NpyArray; shape: number[] } {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch {
    throw new NnunetError('ERR_NOT_FOUND', `${path} does not exist: run the step that creates it first.`);
  }
  const h = parseNpyHeader(buf, path);
  const ctor = DESCR.get(h.descr);
  if (ctor === undefined)
    throw new NnunetError('ERR_DATASET', `${path} holds dtype ${h.descr}, which is not supported.`);
  const n = product(h.shape);
  if (buf.length - h.dataOffset < n * ctor.BYTES_PER_ELEMENT) {
    throw new NnunetError('ERR_DATASET', `${path} is truncated: delete it and rerun the step that wrote it.`);
  }
  // Copy into an aligned buffer (the header length only guarantees 16- or 64-byte alignment).
  const out = new ArrayBuffer(n * ctor.BYTES_PER_ELEMENT);
  new Uint8Array(out).set(buf.subarray(h.dataOffset, h.dataOffset + out.byteLength));
  return { data: new ctor(out), shape: h.shape };
}

/** Reads only the header of a .npy file (shape and dtype), e.g. to plan patch reads. */
export function readNpyHeader(path: string): NpyHeader {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(4096);
    const n = readSync(fd, buf, 0, buf.length, 0);
    return parseNpyHeader(buf.subarray(0, n), path);
  } finally {
    closeSync(fd);
  }
}

/**
 * Why the .npy file at `path` would not load (missing, unreadable header, unsupported dtype, or a
 * size other than header + shape x dtype: truncated or padded), or null when it is complete.
 * Reads only the header: used to redo outputs of an interrupted earlier run instead of skipping them.
 */
export function npyFileProblem(path: string): string | null {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return 'it does not exist';
  }
  try {
    const buf = Buffer.alloc(4096);
    const n = readSync(fd, buf, 0, buf.length, 0);
    const h = parseNpyHeader(buf.subarray(0, n), path);
    const ctor = DESCR.get(h.descr);
    if (ctor === undefined) return `it holds the unsupported dtype ${h.descr}`;
    const expected = h.dataOffset + product(h.shape) * ctor.BYTES_PER_ELEMENT;
    const size = fstatSync(fd).size;
    return size === expected ? null : `it has ${size} bytes where its header needs ${expected}`;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  } finally {
    closeSync(fd);
  }
}
