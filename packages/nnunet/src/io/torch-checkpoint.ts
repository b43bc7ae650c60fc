/**
 * Reads PyTorch checkpoints (torch.save) without Python, as nnU-Net v1 writes them:
 * fold_N/model_final_checkpoint.model, model_best.model, model_latest.model. A dict with
 * 'epoch', 'state_dict' (parameter name -> tensor), 'optimizer_state_dict', 'lr_scheduler_state_dict',
 * 'plot_stuff', 'best_stuff' and 'amp_grad_scaler'.
 *
 * Two container formats exist:
 *  - zip (torch >= 1.6, the default): <archive>/data.pkl is the pickled object; each tensor storage
 *    is a persistent id ('storage', storage type, key, location, numel) whose bytes are the zip
 *    entry <archive>/data/<key>; <archive>/byteorder (newer torch) says 'little' or 'big'.
 *  - legacy: a run of pickles (magic number, protocol version, system info, the object, the list of
 *    storage keys) followed by each storage as an int64 element count and its bytes.
 * The pickles are read by the safe reader in pickle.ts: nothing is imported or executed.
 */
import { readFileSync } from 'node:fs';
import { type DType, type Tensor, tensor } from '@nnunet/torch';
import { NnunetError } from '../errors.js';
import { product } from '../util/shape.js';
import {
  type PickleKey,
  type PickleValue,
  readPickle,
  readPickleAt,
  TORCH_STORAGE_TYPES,
  TorchStorage,
  type TorchStorageType,
  TorchTensorRef,
} from './pickle.js';
import { METHOD_STORED, readZipBytes, type ZipBytes } from './zip.js';

/** One tensor of a checkpoint, copied out of its storage in C order. */
export interface CheckpointTensor {
  dtype: DType;
  shape: number[];
  /** float16/bfloat16 as raw 16-bit patterns (Uint16Array); bool as 0/1 bytes. */
  data: Float32Array | Float64Array | Uint16Array | BigInt64Array | Int32Array | Int16Array | Int8Array | Uint8Array;
}

export interface TorchCheckpoint {
  /** The top-level 'state_dict' (or 'network_weights'), names as saved (DP/DDP: 'module.' prefixes kept). */
  stateDict: Map<string, CheckpointTensor>;
  /** Every other top-level key (epoch, plot_stuff, optimizer_state_dict, amp_grad_scaler, ...); tensors stay TorchTensorRef. */
  other: Map<PickleKey, PickleValue>;
  format: 'zip' | 'legacy';
}

/** The little-endian pickle of the legacy format's magic number 0x1950a86a20f9469cfc6c. */
const LEGACY_MAGIC = Uint8Array.from([
  0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19,
]);
const ZIP_LOCAL = 0x04034b50;

/** Reads a checkpoint file; see readTorchCheckpointBytes. */
export function readTorchCheckpoint(path: string): TorchCheckpoint {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch {
    throw new NnunetError('ERR_NOT_FOUND', `${path} does not exist or cannot be read.`);
  }
  return readTorchCheckpointBytes(bytes, path);
}

/**
 * Parses a torch.save file held in memory. `source` names it in errors. The top-level object must
 * be a dict; its 'state_dict' values must be tensors.
 */
export function readTorchCheckpointBytes(bytes: Uint8Array, source = 'the checkpoint'): TorchCheckpoint {
  const fail = (why: string): never => {
    throw new NnunetError(
      'ERR_DATASET',
      `${source} is not a readable PyTorch checkpoint (${why}); use the model_*.model files nnU-Net v1 wrote, unchanged.`,
    );
  };
  let root: PickleValue;
  let format: TorchCheckpoint['format'];
  if (bytes.length >= 4 && new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true) === ZIP_LOCAL) {
    root = readZipCheckpoint(bytes, source, fail);
    format = 'zip';
  } else if (bytes.length >= LEGACY_MAGIC.length && LEGACY_MAGIC.every((b, i) => bytes[i] === b)) {
    root = readLegacyCheckpoint(bytes, source, fail);
    format = 'legacy';
  } else {
    return fail('it is neither a zip archive nor the legacy torch.save format');
  }
  if (!(root instanceof Map)) return fail('the saved object is not a dict');
  const sd = root.get('state_dict') ?? root.get('network_weights');
  if (!(sd instanceof Map)) return fail("it has no 'state_dict' dict");
  const stateDict = new Map<string, CheckpointTensor>();
  for (const [k, v] of sd) {
    if (typeof k !== 'string' || !(v instanceof TorchTensorRef)) fail(`state_dict entry ${String(k)} is not a tensor`);
    stateDict.set(k as string, tensorData(v as TorchTensorRef));
  }
  const other = new Map(root);
  other.delete(root.has('state_dict') ? 'state_dict' : 'network_weights');
  return { stateDict, other, format };
}

const ELEMENT_BYTES: Record<DType, number> = {
  float32: 4,
  float64: 8,
  float16: 2,
  bfloat16: 2,
  int64: 8,
  int32: 4,
  int16: 2,
  int8: 1,
  uint8: 1,
  bool: 1,
};

/** Copies a tensor view out of its storage into a C-ordered typed array. */
export function tensorData(ref: TorchTensorRef): CheckpointTensor {
  const dtype = ref.storage.dtype as DType;
  const es = ELEMENT_BYTES[dtype];
  const shape = [...ref.shape];
  const n = product(shape);
  const out = new Uint8Array(n * es);
  const src = ref.storage.bytes;
  const contiguous = isContiguous(shape, ref.stride);
  if (contiguous) {
    out.set(src.subarray(ref.offset * es, (ref.offset + n) * es));
  } else {
    const idx = new Array<number>(shape.length).fill(0);
    for (let i = 0; i < n; i++) {
      let e = ref.offset;
      for (let d = 0; d < shape.length; d++) e += (idx[d] as number) * (ref.stride[d] as number);
      out.set(src.subarray(e * es, (e + 1) * es), i * es);
      for (let d = shape.length - 1; d >= 0; d--) {
        idx[d] = (idx[d] as number) + 1;
        if ((idx[d] as number) < (shape[d] as number)) break;
        idx[d] = 0;
      }
    }
  }
  const buf = out.buffer;
  const data: CheckpointTensor['data'] =
    dtype === 'float32'
      ? new Float32Array(buf)
      : dtype === 'float64'
        ? new Float64Array(buf)
        : dtype === 'float16' || dtype === 'bfloat16'
          ? new Uint16Array(buf)
          : dtype === 'int64'
            ? new BigInt64Array(buf)
            : dtype === 'int32'
              ? new Int32Array(buf)
              : dtype === 'int16'
                ? new Int16Array(buf)
                : dtype === 'int8'
                  ? new Int8Array(buf)
                  : out;
  return { dtype, shape, data };
}

function isContiguous(shape: readonly number[], stride: readonly number[]): boolean {
  let expected = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    if ((shape[d] as number) !== 1 && stride[d] !== expected) return false;
    expected *= shape[d] as number;
  }
  return true;
}

/** @nnunet/torch tensors (CPU) for a state dict; the caller owns and disposes them. */
export function stateDictTensors(
  stateDict: ReadonlyMap<string, CheckpointTensor>,
  o: { stripPrefix?: string } = {},
): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  try {
    for (const [k, t] of stateDict) {
      const name = o.stripPrefix && k.startsWith(o.stripPrefix) ? k.slice(o.stripPrefix.length) : k;
      out.set(name, tensor(t.data, { shape: t.shape, dtype: t.dtype }));
    }
  } catch (e) {
    for (const t of out.values()) t.dispose();
    throw e;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Zip container

/**
 * The bytes of a member, which must be stored: torch.save never compresses, so a compressed member
 * means the archive was repacked, and refusing it means nothing is ever inflated to the (up to
 * 4 GiB) size it declares. Its CRC-32 is not checked: torch.save can be told to skip computing it
 * (torch.serialization.set_crc32_options), and torch.load does not check it either.
 */
function zipRead(zip: ZipBytes, name: string, fail: (why: string) => never): Uint8Array {
  const entry = zip.entries.get(name);
  if (entry === undefined) return fail(`the zip has no entry ${name}`);
  if (entry.method !== METHOD_STORED) {
    return fail(
      `the zip entry ${name} is compressed (method ${entry.method}), but torch.save never compresses: the archive was repacked; use the file exactly as PyTorch saved it`,
    );
  }
  return zip.read(entry, { checkCrc: false });
}

function storageFromPid(
  pid: PickleValue,
  fail: (why: string) => never,
): { type: TorchStorageType; key: string; location: string; numel: number } {
  if (!Array.isArray(pid) || pid.length < 5 || pid[0] !== 'storage') {
    return fail("a persistent id is not ('storage', type, key, location, numel)");
  }
  const [, type, key, location, numel] = pid as PickleValue[];
  const typeName =
    type !== null && typeof type === 'object' && 'module' in type && type.module === 'torch' ? type.name : undefined;
  if (typeName === undefined || !(typeName in TORCH_STORAGE_TYPES)) return fail('a storage has an unknown type');
  if (typeof key !== 'string' || typeof location !== 'string') return fail('a storage key or location is not a string');
  if (typeof numel !== 'number' || !Number.isSafeInteger(numel) || numel < 0) return fail('a storage size is invalid');
  return { type: typeName as TorchStorageType, key, location, numel };
}

function readZipCheckpoint(bytes: Uint8Array, source: string, fail: (why: string) => never): PickleValue {
  const zip = readZipBytes(bytes, fail);
  const pkl = [...zip.entries.keys()].find((n) => /^[^/]+\/data\.pkl$/.test(n));
  if (pkl === undefined) return fail('the zip has no <archive>/data.pkl');
  const prefix = pkl.slice(0, -'data.pkl'.length);
  if (zip.entries.has(`${prefix}byteorder`)) {
    const o = Buffer.from(zipRead(zip, `${prefix}byteorder`, fail)).toString('latin1');
    if (o !== 'little') fail(`its storages are ${o}-endian; only little-endian checkpoints are supported`);
  }
  const storages = new Map<string, TorchStorage>();
  const persistentLoad = (pid: PickleValue): PickleValue => {
    const s = storageFromPid(pid, fail);
    const known = storages.get(s.key);
    if (known) return known;
    const name = `${prefix}data/${s.key}`;
    if (!zip.entries.has(name)) return fail(`storage ${s.key} has no entry ${name}`);
    const info = TORCH_STORAGE_TYPES[s.type];
    const data = zipRead(zip, name, fail);
    if (data.length < s.numel * info.bytes)
      fail(`storage ${s.key} holds ${data.length} bytes, fewer than its ${s.numel} elements need`);
    const storage = new TorchStorage(info.dtype, s.key, s.location, s.numel, data);
    storages.set(s.key, storage);
    return storage;
  };
  const pickled = zipRead(zip, pkl, fail);
  return readPickle(pickled, { source: `${source} (${pkl})`, persistentLoad });
}

// ---------------------------------------------------------------------------------------------
// Legacy container

function readLegacyCheckpoint(bytes: Uint8Array, source: string, fail: (why: string) => never): PickleValue {
  let pos = 0;
  const next = (o: Parameters<typeof readPickleAt>[2] = {}): PickleValue => {
    const r = readPickleAt(bytes, pos, { source, ...o });
    pos = r.end;
    return r.value;
  };
  next(); // magic number
  const version = next();
  if (version !== 1001) fail(`legacy protocol version ${String(version)} is not 1001`);
  const info = next();
  if (info instanceof Map && info.get('little_endian') === false) fail('its storages are big-endian');
  // Storages are filled in once their bytes, which follow the pickles, have been read.
  const storages = new Map<string, TorchStorage>();
  const root = next({
    persistentLoad: (pid) => {
      const s = storageFromPid(pid, fail);
      if (Array.isArray(pid) && pid[5] !== null && pid[5] !== undefined)
        fail('storage views (view_metadata) are not supported');
      const known = storages.get(s.key);
      if (known) return known;
      const storage = new TorchStorage(
        TORCH_STORAGE_TYPES[s.type].dtype,
        s.key,
        s.location,
        s.numel,
        new Uint8Array(0),
      );
      storages.set(s.key, storage);
      return storage;
    },
  });
  const keys = next();
  if (!Array.isArray(keys)) return fail('the list of storage keys is missing');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (const k of keys as PickleValue[]) {
    if (pos + 8 > bytes.length) fail('the storage data are truncated');
    const numel = dv.getBigInt64(pos, true);
    pos += 8;
    const s = typeof k === 'string' ? storages.get(k) : undefined;
    if (s === undefined) return fail(`storage key ${String(k)} is listed but not used`);
    const size = ELEMENT_BYTES[s.dtype as DType];
    if (numel < 0n || numel * BigInt(size) > BigInt(bytes.length - pos)) fail(`storage ${s.key} is truncated`);
    if (Number(numel) !== s.numel) fail(`storage ${s.key} holds ${numel} elements but the pickle says ${s.numel}`);
    s.bytes = bytes.subarray(pos, pos + s.numel * size);
    pos += s.numel * size;
  }
  for (const s of storages.values())
    if (s.bytes.length < s.numel * ELEMENT_BYTES[s.dtype as DType]) fail(`storage ${s.key} has no data`);
  return root;
}
