/**
 * NumPy .npz archives (a zip of .npy members), as nnU-Net v1 uses for softmax exports
 * (`np.savez_compressed(..., softmax=float16 array)`): written with DEFLATE, readable by
 * numpy.load; read back for ensembling. The zip container is io/zip.ts's.
 */
import { readFileSync } from 'node:fs';
import { NnunetError } from '../errors.js';
import { npyHeader } from './npy.js';
import { readZipBytes, writeZipFile } from './zip.js';

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
  // Level 1: softmax maps are large and compress nearly as well as at zlib's default.
  writeZipFile(
    path,
    members.map((m) => ({ name: `${m.name}.npy`, data: Buffer.concat([npyHeader(m.descr, m.shape), m.bytes]) })),
    1,
  );
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
  const zip = readZipBytes(buf, bad);
  const out = new Map<string, Buffer>();
  for (const entry of zip.entries.values()) {
    const raw = zip.read(entry);
    out.set(entry.name.replace(/\.npy$/, ''), Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength));
  }
  return out;
}
