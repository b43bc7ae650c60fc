/**
 * Block reads from preprocessed cases ((C + 1, z, y, x) float32 .npy), either from a whole array
 * in memory or by offset reads from the file, so a patch costs the bytes it covers (v1 memory-maps
 * the unpacked .npy for the same reason; the OS page cache serves repeated reads).
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { NnunetError } from '../errors.js';

/**
 * A block of one channel: the value at (z, y, x) is `data[base + (z - z0) * zStride + (y - y0) * X + x]`
 * for z in [z0, z1), y in [y0, y1) and every x. `data` may be scratch memory, valid until the next read.
 */
export interface Block {
  data: Float32Array;
  base: number;
  zStride: number;
}

/** Reads blocks of the channels of one case. */
export interface VolumeReader {
  /** Rows [y0, y1) of slices [z0, z1) of channel `c`, every column. */
  read(c: number, z0: number, z1: number, y0: number, y1: number): Block;
  /** Releases the file, if any. */
  close(): void;
}

/** [C + 1, Z, Y, X] as numbers (a case stored with one slice axis fewer counts as one slice). */
type Shape4 = readonly [number, number, number, number];

/** Reader over a whole case held in memory: blocks are views, nothing is copied. */
export function memoryReader(array: Float32Array, shape: Shape4): VolumeReader {
  const [, Z, Y, X] = shape;
  return {
    read: (c, z0, _z1, y0) => ({ data: array, base: ((c * Z + z0) * Y + y0) * X, zStride: Y * X }),
    close: () => {},
  };
}

/** A growable, 4-byte-aligned scratch buffer shared by the reads of one loader. */
export class Scratch {
  #buffer = new ArrayBuffer(0);
  #floats = new Float32Array(0);
  #bytes = new Uint8Array(0);

  /** At least `n` floats, as a Float32Array and as the Uint8Array over the same bytes. */
  get(n: number): { floats: Float32Array; bytes: Uint8Array } {
    if (this.#floats.length < n) {
      this.#buffer = new ArrayBuffer(Math.max(n, 2 * this.#floats.length) * 4);
      this.#floats = new Float32Array(this.#buffer);
      this.#bytes = new Uint8Array(this.#buffer);
    }
    return { floats: this.#floats, bytes: this.#bytes };
  }
}

/**
 * Reader by offset reads from a little-endian float32 C-order .npy whose data start at
 * `dataOffset`: one read per slice, or one for all slices when the rows span the whole slice.
 */
export function fileReader(path: string, dataOffset: number, shape: Shape4, scratch: Scratch): VolumeReader {
  const [, Z, Y, X] = shape;
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    throw new NnunetError('ERR_NOT_FOUND', `${path} cannot be opened: rerun the preprocessing that wrote it.`);
  }
  const readAt = (bytes: Uint8Array, at: number, length: number, position: number): void => {
    let done = 0;
    while (done < length) {
      const n = readSync(fd, bytes, at + done, length - done, position + done);
      if (n === 0)
        throw new NnunetError(
          'ERR_DATASET',
          `${path} is truncated: delete it and rerun the preprocessing that wrote it.`,
        );
      done += n;
    }
  };
  return {
    read(c, z0, z1, y0, y1) {
      const rows = (y1 - y0) * X;
      const nz = z1 - z0;
      const { floats, bytes } = scratch.get(nz * rows);
      const offsetOf = (z: number): number => dataOffset + 4 * ((c * Z + z) * Y + y0) * X;
      if (y0 === 0 && y1 === Y) readAt(bytes, 0, 4 * nz * rows, offsetOf(z0));
      else for (let z = z0; z < z1; z++) readAt(bytes, 4 * (z - z0) * rows, 4 * rows, offsetOf(z));
      return { data: floats, base: 0, zStride: rows };
    },
    close() {
      closeSync(fd);
    },
  };
}
