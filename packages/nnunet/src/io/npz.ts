/**
 * NumPy .npz archives (a zip of .npy members), as nnU-Net v1 uses for softmax exports
 * (`np.savez_compressed(..., softmax=float16 array)`): written with DEFLATE, readable by
 * numpy.load; read back for ensembling. Only what these files need: no zip64, no encryption.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { NnunetError } from '../errors.js';
import { npyHeader } from './npy.js';

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = (CRC_TABLE[(c ^ (bytes[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** float32 -> IEEE half bits, round to nearest even (like numpy's astype(float16)). */
export function toFloat16Bits(values: Float32Array): Uint16Array {
  const out = new Uint16Array(values.length);
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  for (let i = 0; i < values.length; i++) {
    f[0] = values[i] as number;
    const x = u[0] as number;
    const sign = (x >>> 16) & 0x8000;
    const exp = (x >>> 23) & 0xff;
    let mant = x & 0x7fffff;
    if (exp === 0xff) {
      out[i] = sign | 0x7c00 | (mant ? 0x200 : 0);
      continue;
    }
    let e = exp - 127 + 15;
    if (e >= 0x1f) {
      out[i] = sign | 0x7c00;
      continue;
    }
    if (e <= 0) {
      if (e < -10) {
        out[i] = sign;
        continue;
      }
      mant |= 0x800000;
      const shift = 14 - e;
      let h = mant >>> shift;
      const rem = mant & ((1 << shift) - 1);
      const half = 1 << (shift - 1);
      if (rem > half || (rem === half && h & 1)) h++;
      out[i] = sign | h;
      continue;
    }
    let h = (e << 10) | (mant >>> 13);
    const rem = mant & 0x1fff;
    if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++;
    e = h;
    out[i] = sign | e;
  }
  return out;
}

/** IEEE half bits -> float32 values. */
export function fromFloat16Bits(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) {
    const h = bits[i] as number;
    const s = h & 0x8000 ? -1 : 1;
    const e = (h >>> 10) & 0x1f;
    const m = h & 0x3ff;
    out[i] =
      e === 0
        ? s * m * 2 ** -24
        : e === 0x1f
          ? m
            ? Number.NaN
            : s * Number.POSITIVE_INFINITY
          : s * (1 + m / 1024) * 2 ** (e - 15);
  }
  return out;
}

export interface NpzMember {
  name: string;
  descr: string;
  shape: readonly number[];
  /** Raw little-endian element bytes. */
  bytes: Uint8Array;
}

/** Writes `members` as a deflated .npz to `path` atomically. */
export function writeNpz(path: string, members: readonly NpzMember[]): void {
  const parts: Uint8Array[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const m of members) {
    const name = Buffer.from(`${m.name}.npy`, 'utf8');
    const raw = Buffer.concat([npyHeader(m.descr, m.shape), m.bytes]);
    const crc = crc32(raw);
    const comp = deflateRawSync(raw, { level: 1 });
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0, 6);
    local.writeUInt16LE(8, 8); // deflate
    local.writeUInt32LE(0, 10); // time/date
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(comp.length, 18);
    local.writeUInt32LE(raw.length, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);
    const cen = Buffer.alloc(46);
    cen.writeUInt32LE(0x02014b50, 0);
    cen.writeUInt16LE(20, 4);
    cen.writeUInt16LE(20, 6);
    cen.writeUInt16LE(0, 8);
    cen.writeUInt16LE(8, 10);
    cen.writeUInt32LE(0, 12);
    cen.writeUInt32LE(crc, 16);
    cen.writeUInt32LE(comp.length, 20);
    cen.writeUInt32LE(raw.length, 24);
    cen.writeUInt16LE(name.length, 28);
    cen.writeUInt32LE(offset, 42);
    central.push(Buffer.concat([cen, name]));
    parts.push(local, name, comp);
    offset += local.length + name.length + comp.length;
  }
  const cd = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(members.length, 8);
  end.writeUInt16LE(members.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    const fd = openSync(tmp, 'w');
    try {
      for (const p of parts) writeSync(fd, p);
      writeSync(fd, cd);
      writeSync(fd, end);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/** Reads the members of an .npz (stored or deflated) as raw .npy bytes keyed by name without ".npy". */
export function readNpzRaw(path: string): Map<string, Buffer> {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch {
    throw new NnunetError('ERR_NOT_FOUND', `${path} does not exist.`);
  }
  const bad = (why: string): never => {
    throw new NnunetError('ERR_DATASET', `${path} is not a readable .npz file (${why}); recreate it.`);
  };
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 65557); i--) {
    if (buf.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) bad('no zip directory');
  try {
    return readMembers(buf, eocd, bad);
  } catch (e) {
    if (e instanceof NnunetError) throw e;
    // Offsets pointing outside the file (truncated or damaged archives).
    return bad((e as Error).message);
  }
}

function readMembers(buf: Buffer, eocd: number, bad: (why: string) => never): Map<string, Buffer> {
  const count = buf.readUInt16LE(eocd + 10);
  let p = buf.readUInt32LE(eocd + 16);
  const out = new Map<string, Buffer>();
  for (let k = 0; k < count; k++) {
    if (buf.readUInt32LE(p) !== 0x02014b50) bad('damaged zip directory');
    const method = buf.readUInt16LE(p + 10);
    const compSize = buf.readUInt32LE(p + 20);
    const size = buf.readUInt32LE(p + 24);
    const nameLen = buf.readUInt16LE(p + 28);
    const extraLen = buf.readUInt16LE(p + 30);
    const commentLen = buf.readUInt16LE(p + 32);
    const localOff = buf.readUInt32LE(p + 42);
    const name = buf.subarray(p + 46, p + 46 + nameLen).toString('utf8');
    const lNameLen = buf.readUInt16LE(localOff + 26);
    const lExtraLen = buf.readUInt16LE(localOff + 28);
    const start = localOff + 30 + lNameLen + lExtraLen;
    const data = buf.subarray(start, start + compSize);
    let raw: Buffer;
    if (method === 0) raw = Buffer.from(data);
    // Never inflate past the declared size (a small hostile member could expand to gigabytes).
    else if (method === 8) raw = inflateRawSync(data, { maxOutputLength: Math.max(1, size) });
    else return bad(`compression method ${method}`);
    if (raw.length !== size) bad(`member ${name} holds ${raw.length} bytes, its header says ${size}`);
    out.set(name.replace(/\.npy$/, ''), raw);
    p += 46 + nameLen + extraLen + commentLen;
  }
  return out;
}
