/**
 * safetensors files (https://huggingface.co/docs/safetensors): an 8-byte little-endian header
 * length N, N bytes of JSON {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__":
 * {string: string}}, then the raw little-endian tensor bytes. Like the reference writer, tensors
 * are laid out in the reference writer's dtype order then by name, and the header is padded with spaces to a
 * multiple of 8 bytes. `serializeParts` gives the file as byte parts (header, then each tensor's
 * bytes, no joined copy) for an application's own atomic writer; `save` writes them to a temporary
 * name, checks the length, fsyncs and renames, so a crash or a full disk never leaves a truncated
 * file under the final name.
 */
import { createHash } from 'node:crypto';
import {
  closeSync,
  fstatSync,
  fsyncSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statfsSync,
  writeSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { threadId } from 'node:worker_threads';
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

/**
 * Encodes tensors (and optional string metadata) as the parts of a safetensors file, in file
 * order: the 8-byte length and JSON header, then each tensor's bytes (views of the copies read
 * from the tensors, not joined into one buffer). Writing the parts one after the other gives the file.
 */
export function serializeParts(
  tensors: ReadonlyMap<string, Tensor> | Record<string, Tensor>,
  metadata?: Record<string, string>,
): Uint8Array[] {
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
  const head = Buffer.alloc(8 + Buffer.byteLength(json));
  head.writeBigUInt64LE(BigInt(head.length - 8), 0);
  head.write(json, 8, 'utf8');
  return [head, ...blobs];
}

/** Encodes tensors (and optional string metadata) into safetensors bytes (one buffer). */
export function serialize(
  tensors: ReadonlyMap<string, Tensor> | Record<string, Tensor>,
  metadata?: Record<string, string>,
): Buffer {
  return Buffer.concat(serializeParts(tensors, metadata));
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

/** Failures of the medium, worded with the size needed and the space left. */
const SPACE_REASONS: Record<string, [reason: string, fix: string]> = {
  ENOSPC: ['the disk is full', 'free some space and run the command again'],
  EDQUOT: ['the disk quota is exceeded', 'free some space within your quota and run the command again'],
  EFBIG: ['the file is larger than that file system allows', 'write to another file system'],
  EIO: ['an input/output error occurred', 'check the disk (or the network file system) and run the command again'],
};

/** Bytes as a person reads them: "512 bytes", "3.5 KiB", "31.2 MiB", "1.4 GiB". */
function formatBytes(n: number): string {
  if (n < 1024) return `${n} byte${n === 1 ? '' : 's'}`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(1)} ${units[u]}`;
}

/** A failed save as one sentence naming the file (and, for a full disk, the space needed and left). */
function saveFailure(path: string, e: unknown, bytes: number): TorchError {
  const code = String((e as { code?: unknown } | null)?.code ?? '');
  const space = SPACE_REASONS[code];
  let message: string;
  if (space !== undefined) {
    let free = '';
    try {
      const s = statfsSync(dirname(path));
      free = `, ${formatBytes(Number(s.bavail) * Number(s.bsize))} are free on that file system`;
    } catch {
      // The folder cannot be asked: give the size alone.
    }
    message = `Cannot write ${path}: ${space[0]} (the file needs ${formatBytes(bytes)}${free}); ${space[1]}.`;
  } else {
    const reason = code === 'ENOENT' ? `the folder ${dirname(path)} does not exist` : (e as Error).message;
    message = `Cannot write ${path} (${code || 'error'}: ${reason}); check that the folder exists and is writable.`;
  }
  return new TorchError('ERR_TORCH_ARGUMENT', message, { cause: e });
}

let sequence = 0;

/**
 * Writes tensors to `path` atomically: a temporary file beside it (hidden, named after the host,
 * PID and thread, `.NAME.tmp-HOST-PID-THREAD-SEQ`, so that a cleaner can tell a killed writer's
 * leftovers from a live one's), every byte written (short writes continued), its length checked,
 * fsynced, then renamed. A failure removes the temporary file, keeps any earlier `path`, and is a
 * TorchError of one sentence; its `cause` is the file-system error (e.g. code ENOSPC).
 * This package cannot use an application's writer, hence this small checked loop of its own.
 */
export function save(
  path: string,
  tensors: ReadonlyMap<string, Tensor> | Record<string, Tensor>,
  metadata?: Record<string, string>,
): void {
  const parts = serializeParts(tensors, metadata);
  const total = parts.reduce((n, p) => n + p.length, 0);
  const host = createHash('sha256').update(hostname()).digest('hex').slice(0, 8);
  const tmp = join(dirname(path), `.${basename(path)}.tmp-${host}-${process.pid}-${threadId}-${++sequence}`);
  try {
    const fd = openSync(tmp, 'w');
    try {
      for (const part of parts) {
        let off = 0;
        while (off < part.length) {
          const n = writeSync(fd, part, off, part.length - off);
          // POSIX returns 0 for a regular file only when nothing more fits.
          if (n <= 0) throw Object.assign(new Error('the write made no progress'), { code: 'ENOSPC' });
          off += n;
        }
      }
      const size = fstatSync(fd).size;
      if (size !== total)
        throw Object.assign(new Error(`the file holds ${size} of ${total} bytes after writing`), { code: 'EIO' });
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw saveFailure(path, e, total);
  }
}

export function load(path: string): { tensors: Map<string, Tensor>; metadata: Record<string, string> } {
  return deserialize(readFileSync(path), path);
}
