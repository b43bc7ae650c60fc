/**
 * safetensors files (https://huggingface.co/docs/safetensors): an 8-byte little-endian header
 * length N, N bytes of JSON {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__":
 * {string: string}}, then the raw little-endian tensor bytes. Like the reference writer, tensors
 * are laid out in the reference writer's dtype order then by name, and the header is padded with spaces to a
 * multiple of 8 bytes. Files are written to a temporary name and renamed, so a crash never leaves
 * a truncated file.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { fromShared } from './creation.js';
import { DTYPE_BYTES, type DType } from './dtype.js';
import { argError, TorchError } from './errors.js';
import { Tensor } from './tensor.js';

const TO_ST: Record<DType, string> = {
  float64: 'F64',
  float32: 'F32',
  float16: 'F16',
  bfloat16: 'BF16',
  int64: 'I64',
  int32: 'I32',
  int16: 'I16',
  int8: 'I8',
  uint8: 'U8',
  bool: 'BOOL',
};
const FROM_ST = new Map<string, DType>(Object.entries(TO_ST).map(([k, v]) => [v, k as DType]));
// The reference implementation lays tensors out by its dtype enum, last first, then by name;
// following it makes our files byte-identical to PyTorch users' for the same tensors.
const LAYOUT_RANK: Record<DType, number> = {
  bool: 0,
  uint8: 1,
  int8: 2,
  int16: 3,
  float16: 4,
  bfloat16: 5,
  int32: 6,
  float32: 7,
  float64: 8,
  int64: 9,
};

interface HeaderEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

/** Encodes tensors (and optional string metadata) into safetensors bytes. */
export function serialize(
  tensors: ReadonlyMap<string, Tensor> | Record<string, Tensor>,
  metadata?: Record<string, string>,
): Buffer {
  const entries: [string, Tensor][] = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  for (const [name, t] of entries) {
    if (!(t instanceof Tensor)) throw argError(`safetensors: "${name}" is not a Tensor`);
    if (name === '__metadata__') throw argError('safetensors: "__metadata__" is reserved and cannot name a tensor');
  }
  entries.sort(
    ([na, a]: [string, Tensor], [nb, b]: [string, Tensor]) =>
      LAYOUT_RANK[b.dtype] - LAYOUT_RANK[a.dtype] || (na < nb ? -1 : na > nb ? 1 : 0),
  );
  const header: Record<string, HeaderEntry | Record<string, string>> = {};
  if (metadata !== undefined && Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  const blobs: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of entries) {
    const a = t.toTypedArray();
    const bytes = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    header[name] = { dtype: TO_ST[t.dtype], shape: [...t.shape], data_offsets: [offset, offset + bytes.length] };
    offset += bytes.length;
    blobs.push(bytes);
  }
  let json = JSON.stringify(header);
  const pad = (8 - (Buffer.byteLength(json) % 8)) % 8;
  json += ' '.repeat(pad);
  const head = Buffer.from(json, 'utf8');
  const out = Buffer.allocUnsafe(8 + head.length + offset);
  out.writeBigUInt64LE(BigInt(head.length), 0);
  head.copy(out, 8);
  let pos = 8 + head.length;
  for (const b of blobs) {
    out.set(b, pos);
    pos += b.length;
  }
  return out;
}

/** Decodes safetensors bytes; `source` names the file in error messages. */
export function deserialize(
  bytes: Uint8Array,
  source = 'safetensors data',
): { tensors: Map<string, Tensor>; metadata: Record<string, string> } {
  const fail = (why: string): never => {
    throw new TorchError('ERR_TORCH_FORMAT', `${source} is not a valid safetensors file: ${why}`);
  };
  if (bytes.length < 8) fail('shorter than its 8-byte header length');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(view.getBigUint64(0, true));
  if (n > bytes.length - 8) fail(`header length ${n} exceeds the file size ${bytes.length}`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset + 8, n).toString('utf8')) as Record<string, unknown>;
  } catch (e) {
    return fail(`header is not JSON (${(e as Error).message})`);
  }
  const dataStart = 8 + n;
  const dataLength = bytes.length - dataStart;
  const tensors = new Map<string, Tensor>();
  let metadata: Record<string, string> = {};
  try {
    for (const [name, raw] of Object.entries(header)) {
      if (name === '__metadata__') {
        metadata = raw as Record<string, string>;
        continue;
      }
      const e = raw as Partial<HeaderEntry>;
      const dtype = FROM_ST.get(String(e.dtype));
      if (dtype === undefined) fail(`tensor "${name}" has unsupported dtype ${String(e.dtype)}`);
      const shape = e.shape;
      const off = e.data_offsets;
      if (!Array.isArray(shape) || !Array.isArray(off) || off.length !== 2)
        fail(`tensor "${name}" lacks shape or data_offsets`);
      const [b, en] = off as [number, number];
      const numel = (shape as number[]).reduce((x, y) => x * y, 1);
      if (!(b >= 0 && en <= dataLength && en - b === numel * DTYPE_BYTES[dtype as DType])) {
        fail(`tensor "${name}" has data_offsets [${b}, ${en}] that do not fit its shape or the file`);
      }
      // Copy into an aligned buffer: offsets in the file need not be aligned for the dtype.
      const copy = new Uint8Array(en - b);
      copy.set(bytes.subarray(dataStart + b, dataStart + en));
      tensors.set(name, fromBytesOf(copy, shape as number[], dtype as DType));
    }
  } catch (e) {
    for (const t of tensors.values()) t.dispose();
    throw e;
  }
  return { tensors, metadata };
}

function fromBytesOf(bytes: Uint8Array, shape: number[], dtype: DType): Tensor {
  return fromShared(bytes, shape, dtype);
}

/** Writes tensors to `path` atomically (temporary file, fsync, rename). */
export function save(
  path: string,
  tensors: ReadonlyMap<string, Tensor> | Record<string, Tensor>,
  metadata?: Record<string, string>,
): void {
  const data = serialize(tensors, metadata);
  const tmp = `${path}.tmp-${process.pid}-${Date.now()}`;
  try {
    const fd = openSync(tmp, 'w');
    try {
      writeSync(fd, data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {
      // the temporary file was never created
    }
    throw e;
  }
}

export function load(path: string): { tensors: Map<string, Tensor>; metadata: Record<string, string> } {
  return deserialize(readFileSync(path), path);
}
