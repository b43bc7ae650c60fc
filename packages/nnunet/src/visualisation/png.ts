import { deflateSync } from 'node:zlib';
import { NnunetError } from '../errors.js';
import { crc32Update } from '../io/zip.js';
import { writeFileAtomic } from '../util/atomic.js';

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const COLOR_TYPE_RGB = 2;
const BIT_DEPTH = 8;

function chunk(type: string, data: Uint8Array): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32Update(data, crc32Update(head.subarray(4, 8))), 0);
  return Buffer.concat([head, data, crc]);
}

/**
 * Encodes `rgb` (height x width x 3 bytes, rows top to bottom, C order) as a PNG file's bytes.
 */
export function encodePngRgb(rgb: Uint8Array, width: number, height: number): Buffer {
  if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0)) {
    throw new NnunetError('ERR_ARGUMENT', `A PNG needs a positive integer size, got ${width} x ${height}.`);
  }
  if (rgb.length !== width * height * 3) {
    throw new NnunetError(
      'ERR_ARGUMENT',
      `An RGB image of ${width} x ${height} needs ${width * height * 3} bytes, got ${rgb.length}.`,
    );
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = BIT_DEPTH;
  ihdr[9] = COLOR_TYPE_RGB;
  // compression 0 (deflate), filter method 0, no interlace: already zero
  const stride = width * 3;
  const raw = Buffer.alloc((stride + 1) * height);
  for (let y = 0; y < height; y++) {
    raw[y * (stride + 1)] = 0; // filter type None
    raw.set(rgb.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1);
  }
  return Buffer.concat([
    SIGNATURE,
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', new Uint8Array(0)),
  ]);
}

/** Writes an RGB PNG atomically (temporary file + rename). */
export function writePngRgb(path: string, rgb: Uint8Array, width: number, height: number): void {
  const bytes = encodePngRgb(rgb, width, height);
  writeFileAtomic(path, bytes);
}
