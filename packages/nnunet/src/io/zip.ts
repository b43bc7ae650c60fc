/**
 * ZIP archives for sharing trained models (what nnU-Net v1 exchanges with Python's zipfile):
 * a reader over the central directory (stored and DEFLATE members, ZIP64 sizes, offsets and
 * entry counts, UTF-8 and CP437 names) that streams each member to disk and checks its CRC-32 and
 * size, and a writer that streams files into the archive and switches to ZIP64 records only where
 * a size, an offset or the entry count needs them. Neither loads whole members into memory
 * except where asked to (`read`, `addBuffer`). No encryption, no multi-disk archives.
 */
import {
  closeSync,
  createReadStream,
  fstatSync,
  fsyncSync,
  openSync,
  readSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { dirname } from 'node:path';
import { Readable, Transform, type TransformCallback, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createDeflateRaw, createInflateRaw, deflateRawSync } from 'node:zlib';
import { NnunetError } from '../errors.js';
import { crc32 } from './npz.js';

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_EOCD64 = 0x06064b50;
const SIG_EOCD64_LOCATOR = 0x07064b50;
const EXTRA_ZIP64 = 0x0001;
const LOCAL_HEADER_SIZE = 30;
const CENTRAL_HEADER_SIZE = 46;
const EOCD_SIZE = 22;
const EOCD64_SIZE = 56;
const LOCATOR_SIZE = 20;
/** A 32-bit size or offset field holding this value means "see the ZIP64 extra field". */
const U32_MAX = 0xffffffff;
/** A 16-bit entry count holding this value means "see the ZIP64 end record". */
const U16_MAX = 0xffff;
/** The longest archive comment, which bounds the search for the end record. */
const MAX_COMMENT = 0xffff;
/** General-purpose flag bits. */
const FLAG_ENCRYPTED = 0x0001;
const FLAG_UTF8 = 0x0800;
export const METHOD_STORED = 0;
export const METHOD_DEFLATE = 8;
/** "Version made by" host byte of Unix, whose external attributes carry st_mode in the upper 16 bits. */
const HOST_UNIX = 3;
const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;
/** Version needed to extract: 2.0 (deflate) and 4.5 (ZIP64). */
const VERSION_DEFAULT = 20;
const VERSION_ZIP64 = 45;
/**
 * Files at least this large get ZIP64 sizes in their local header already, because DEFLATE can
 * grow incompressible data slightly past 4 GiB and the header is written before the data.
 */
const ZIP64_LOCAL_THRESHOLD = 0xfff00000;

/** The upper half of code page 437, the name encoding of entries without the UTF-8 flag. */
const CP437_HIGH =
  'ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜ¢£¥₧ƒáíóúñÑªº¿⌐¬½¼¡«»░▒▓│┤╡╢╖╕╣║╗╝╜╛┐└┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀αßΓπΣσµτΦΘΩδ∞φε∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■\u00a0';

function decodeCp437(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += b < 0x80 ? String.fromCharCode(b) : (CP437_HIGH[b - 0x80] as string);
  return s;
}

/** The CRC-32 polynomial, bit-reflected (bit 31 is the coefficient of x^0). */
const CRC_POLY = 0xedb88320;
const X_POW_0 = 0x80000000;

/** Product of two polynomials modulo the CRC-32 polynomial, both in the reflected bit order. */
function mulModPoly(a: number, b: number): number {
  let product = 0;
  let factor = b >>> 0;
  for (let bit = X_POW_0; bit !== 0; bit >>>= 1) {
    if ((a & bit) !== 0) product ^= factor;
    factor = factor & 1 ? (factor >>> 1) ^ CRC_POLY : factor >>> 1;
  }
  return product >>> 0;
}

/** X_POW_2K[k] = x^(2^k) modulo the polynomial. */
const X_POW_2K = (() => {
  const t = new Uint32Array(64);
  let p = X_POW_0 >>> 1; // x^1
  for (let k = 0; k < t.length; k++) {
    t[k] = p;
    p = mulModPoly(p, p);
  }
  return t;
})();

/** x^(8 * bytes) modulo the polynomial: the effect of appending `bytes` zero bytes to a CRC register. */
function shiftForBytes(bytes: number): number {
  let p = X_POW_0;
  let n = bytes;
  for (let k = 3; n > 0; k++, n = Math.floor(n / 2)) {
    if (n % 2 === 1) p = mulModPoly(X_POW_2K[k] as number, p);
  }
  return p;
}

/**
 * CRC-32 (the zip / zlib polynomial) of `bytes`, continuing from `previous` (the CRC of the bytes
 * before them). The CRC of a concatenation is the CRC of the tail XOR the earlier CRC shifted past
 * the tail's length, so the table-based crc32 of npz.ts serves for streaming too (zlib.crc32 needs
 * Node 20.15).
 */
export function crc32Update(bytes: Uint8Array, previous = 0): number {
  const tail = crc32(bytes);
  if (previous === 0) return tail;
  return (mulModPoly(shiftForBytes(bytes.length), previous >>> 0) ^ tail) >>> 0;
}

/** Short reasons for the file-system error codes a user can act on. */
const FS_REASONS: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOSPC: 'the disk is full',
  EDQUOT: 'the disk quota is exceeded',
  EROFS: 'the file system is read-only',
  EISDIR: 'it is a folder',
  ENOTDIR: 'a part of the path is not a folder',
  EEXIST: 'it already exists',
  EIO: 'an input/output error',
};

/**
 * A file-system failure as one sentence: "`what` failed (CODE: reason): `fix`." Errors that are
 * already NnunetErrors pass through unchanged.
 */
function fsFailure(e: unknown, what: string, fix: string, missing?: string): NnunetError {
  if (e instanceof NnunetError) return e;
  const code = (e as { code?: unknown }).code;
  const c = typeof code === 'string' ? code : '';
  const reason =
    c === 'ENOENT' ? (missing ?? 'it does not exist') : (FS_REASONS[c] ?? (e as Error).message ?? String(e));
  return new NnunetError(
    c === 'ENOENT' || c === 'ENOTDIR' ? 'ERR_NOT_FOUND' : 'ERR_ARGUMENT',
    `${what} failed (${c === '' ? 'error' : c}: ${reason}): ${fix}.`,
    { cause: e },
  );
}

export interface ZipEntry {
  /** The name as stored: '/'-separated, directories end in '/'. */
  name: string;
  /** 0 stored, 8 deflate (others are listed but cannot be extracted). */
  method: number;
  flags: number;
  crc32: number;
  compressedSize: number;
  /** Uncompressed size in bytes. */
  size: number;
  localHeaderOffset: number;
  /** Host system byte of "version made by" (0 MS-DOS, 3 Unix, ...). */
  host: number;
  externalAttributes: number;
  mtime: Date;
  isDirectory: boolean;
  /** Unix st_mode when the archive was made on Unix and recorded one. */
  unixMode: number | undefined;
  /** A symbolic link (Unix mode S_IFLNK): its data is the link target. */
  isSymlink: boolean;
  /** Neither a regular file, a directory nor a link by its Unix mode (device, FIFO, socket). */
  isSpecial: boolean;
  encrypted: boolean;
}

function dosDateTime(date: Date): { time: number; date: number } {
  const y = date.getFullYear();
  if (y < 1980) return { time: 0, date: (1 << 5) | 1 };
  return {
    time: (date.getHours() << 11) | (date.getMinutes() << 5) | (date.getSeconds() >> 1),
    date: ((Math.min(y, 2107) - 1980) << 9) | ((date.getMonth() + 1) << 5) | date.getDate(),
  };
}

function fromDos(time: number, date: number): Date {
  return new Date(
    ((date >> 9) & 0x7f) + 1980,
    Math.max(((date >> 5) & 0xf) - 1, 0),
    Math.max(date & 0x1f, 1),
    (time >> 11) & 0x1f,
    (time >> 5) & 0x3f,
    (time & 0x1f) * 2,
  );
}

function readU64(buf: Buffer, at: number, what: () => never): number {
  const v = buf.readBigUInt64LE(at);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) what();
  return Number(v);
}

/** A counting, CRC-computing pass-through that fails as soon as more bytes arrive than expected. */
class CrcCounter extends Transform {
  crc = 0;
  bytes = 0;
  readonly #limit: number;
  readonly #onOverflow: () => Error;
  constructor(limit: number, onOverflow: () => Error) {
    super();
    this.#limit = limit;
    this.#onOverflow = onOverflow;
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.#limit) {
      done(this.#onOverflow());
      return;
    }
    this.crc = crc32Update(chunk, this.crc);
    done(null, chunk);
  }
}

/** Reads the directory of a zip archive on open; members are streamed out on demand. */
export class ZipReader {
  readonly path: string;
  readonly entries: readonly ZipEntry[];
  /** Whether the archive has a ZIP64 end record. */
  readonly zip64: boolean;
  readonly #fileSize: number;

  private constructor(path: string, entries: ZipEntry[], zip64: boolean, fileSize: number) {
    this.path = path;
    this.entries = entries;
    this.zip64 = zip64;
    this.#fileSize = fileSize;
  }

  /** Reads the central directory of `path`; throws ERR_DATASET naming the file when it is not a usable zip. */
  static open(path: string): ZipReader {
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (e) {
      if ((e as { code?: unknown }).code === 'ENOENT') {
        throw new NnunetError('ERR_NOT_FOUND', `The zip file ${path} does not exist: check the path.`, { cause: e });
      }
      throw fsFailure(e, `Opening the zip file ${path}`, 'check the path and its permissions');
    }
    try {
      if (fstatSync(fd).isDirectory()) {
        throw new NnunetError('ERR_ARGUMENT', `${path} is a folder, not a zip file: give the path of the .zip file.`);
      }
      return ZipReader.#parse(path, fd);
    } catch (e) {
      throw fsFailure(
        e,
        `Reading the zip file ${path}`,
        'check that the file is readable, or download or export it again',
      );
    } finally {
      closeSync(fd);
    }
  }

  static #parse(path: string, fd: number): ZipReader {
    const bad = (why: string): never => {
      throw new NnunetError(
        'ERR_DATASET',
        `${path} is not a readable zip archive (${why}): download or export it again.`,
      );
    };
    const fileSize = fstatSync(fd).size;
    const readAt = (at: number, length: number): Buffer => {
      if (at < 0 || at + length > fileSize) bad('a record points past the end of the file');
      const b = Buffer.alloc(length);
      let got = 0;
      while (got < length) {
        const n = readSync(fd, b, got, length - got, at + got);
        if (n === 0) bad('the file ended early');
        got += n;
      }
      return b;
    };
    if (fileSize < EOCD_SIZE) bad('too short to be a zip file');
    const tailLength = Math.min(fileSize, EOCD_SIZE + MAX_COMMENT + LOCATOR_SIZE + EOCD64_SIZE);
    const tailStart = fileSize - tailLength;
    const tail = readAt(tailStart, tailLength);
    // The end record is the last signature whose comment length reaches exactly to the end of the file.
    let eocd = -1;
    for (let i = tail.length - EOCD_SIZE; i >= 0; i--) {
      if (tail.readUInt32LE(i) === SIG_EOCD && i + EOCD_SIZE + tail.readUInt16LE(i + 20) === tail.length) {
        eocd = i;
        break;
      }
    }
    if (eocd < 0) bad('no end-of-central-directory record');
    if (tail.readUInt16LE(eocd + 4) !== 0 || tail.readUInt16LE(eocd + 6) !== 0) bad('a multi-disk archive');
    let count = tail.readUInt16LE(eocd + 10);
    let cdSize = tail.readUInt32LE(eocd + 12);
    let cdOffset = tail.readUInt32LE(eocd + 16);
    let zip64 = false;
    const locatorAt = eocd - LOCATOR_SIZE;
    if (locatorAt >= 0 && tail.readUInt32LE(locatorAt) === SIG_EOCD64_LOCATOR) {
      zip64 = true;
      const recordAt = readU64(tail, locatorAt + 8, () => bad('a ZIP64 offset beyond 2^53'));
      const rec = readAt(recordAt, EOCD64_SIZE);
      if (rec.readUInt32LE(0) !== SIG_EOCD64) bad('a damaged ZIP64 end record');
      const tooBig = (): never => bad('a ZIP64 field beyond 2^53');
      count = readU64(rec, 32, tooBig);
      cdSize = readU64(rec, 40, tooBig);
      cdOffset = readU64(rec, 48, tooBig);
    } else if (count === U16_MAX || cdSize === U32_MAX || cdOffset === U32_MAX) {
      bad('ZIP64 values without a ZIP64 end record');
    }
    const cd = readAt(cdOffset, cdSize);
    const entries: ZipEntry[] = [];
    let p = 0;
    for (let k = 0; k < count; k++) {
      if (p + CENTRAL_HEADER_SIZE > cd.length || cd.readUInt32LE(p) !== SIG_CENTRAL) bad('a damaged central directory');
      const madeBy = cd.readUInt16LE(p + 4);
      const flags = cd.readUInt16LE(p + 8);
      const method = cd.readUInt16LE(p + 10);
      const time = cd.readUInt16LE(p + 12);
      const date = cd.readUInt16LE(p + 14);
      const crc = cd.readUInt32LE(p + 16);
      let compressedSize = cd.readUInt32LE(p + 20);
      let size = cd.readUInt32LE(p + 24);
      const nameLength = cd.readUInt16LE(p + 28);
      const extraLength = cd.readUInt16LE(p + 30);
      const commentLength = cd.readUInt16LE(p + 32);
      const externalAttributes = cd.readUInt32LE(p + 38);
      let localHeaderOffset = cd.readUInt32LE(p + 42);
      const end = p + CENTRAL_HEADER_SIZE + nameLength + extraLength + commentLength;
      if (end > cd.length) bad('a damaged central directory');
      const nameBytes = cd.subarray(p + CENTRAL_HEADER_SIZE, p + CENTRAL_HEADER_SIZE + nameLength);
      const name = flags & FLAG_UTF8 ? nameBytes.toString('utf8') : decodeCp437(nameBytes);
      // ZIP64 extra: only the fields whose 32-bit value is saturated, in this order.
      let e = p + CENTRAL_HEADER_SIZE + nameLength;
      const extraEnd = e + extraLength;
      while (e + 4 <= extraEnd) {
        const id = cd.readUInt16LE(e);
        const len = cd.readUInt16LE(e + 2);
        if (id === EXTRA_ZIP64) {
          let q = e + 4;
          const take = (): number => {
            if (q + 8 > e + 4 + len) bad(`a short ZIP64 field for ${name}`);
            const v = readU64(cd, q, () => bad('a ZIP64 field beyond 2^53'));
            q += 8;
            return v;
          };
          if (size === U32_MAX) size = take();
          if (compressedSize === U32_MAX) compressedSize = take();
          if (localHeaderOffset === U32_MAX) localHeaderOffset = take();
        }
        e += 4 + len;
      }
      const host = madeBy >> 8;
      const unixMode = host === HOST_UNIX && externalAttributes >>> 16 !== 0 ? externalAttributes >>> 16 : undefined;
      const type = unixMode === undefined ? undefined : unixMode & S_IFMT;
      entries.push({
        name,
        method,
        flags,
        crc32: crc,
        compressedSize,
        size,
        localHeaderOffset,
        host,
        externalAttributes,
        mtime: fromDos(time, date),
        isDirectory: name.endsWith('/') || type === S_IFDIR,
        unixMode,
        isSymlink: type === S_IFLNK,
        isSpecial: type !== undefined && type !== 0 && type !== S_IFREG && type !== S_IFDIR && type !== S_IFLNK,
        encrypted: (flags & FLAG_ENCRYPTED) !== 0,
      });
      p = end;
    }
    // Where each member's data starts, from its local header (whose name/extra lengths may differ).
    const reader = new ZipReader(path, entries, zip64, fileSize);
    for (const entry of entries) {
      const h = readAt(entry.localHeaderOffset, LOCAL_HEADER_SIZE);
      if (h.readUInt32LE(0) !== SIG_LOCAL) bad(`a damaged local header for ${entry.name}`);
      const start = entry.localHeaderOffset + LOCAL_HEADER_SIZE + h.readUInt16LE(26) + h.readUInt16LE(28);
      if (start + entry.compressedSize > fileSize) bad(`the data of ${entry.name} runs past the end of the file`);
      reader.#dataStart.set(entry, start);
    }
    return reader;
  }

  readonly #dataStart = new Map<ZipEntry, number>();

  #corrupt(entry: ZipEntry, why: string): NnunetError {
    return new NnunetError(
      'ERR_DATASET',
      `${this.path} is damaged: ${entry.name} ${why}; download or export the archive again.`,
    );
  }

  /** The member's decompressed bytes, checked; for small members (metadata, tests). */
  async read(entry: ZipEntry): Promise<Buffer> {
    const chunks: Buffer[] = [];
    await this.#stream(
      entry,
      new Writable({
        write(chunk: Buffer, _e, done) {
          chunks.push(chunk);
          done();
        },
      }),
    );
    return Buffer.concat(chunks);
  }

  /** Decompresses the member and checks its CRC-32 and size without writing anything. */
  async verify(entry: ZipEntry): Promise<void> {
    await this.#stream(
      entry,
      new Writable({
        write(_chunk, _e, done) {
          done();
        },
      }),
    );
  }

  /**
   * Streams the member into a new file `dest` (which must not exist), checking its CRC-32 and size;
   * on any failure the partial file is removed.
   */
  async extract(entry: ZipEntry, dest: string): Promise<void> {
    let fd: number;
    try {
      fd = openSync(dest, 'wx');
    } catch (e) {
      throw fsFailure(
        e,
        `Creating ${dest} for ${entry.name} of ${this.path}`,
        'check that its folder exists and is writable',
      );
    }
    let pos = 0;
    const sink = new Writable({
      write(chunk: Buffer, _e, done) {
        try {
          let off = 0;
          while (off < chunk.length) off += writeSync(fd, chunk, off, chunk.length - off, pos + off);
          pos += chunk.length;
          done();
        } catch (e) {
          done(e as Error);
        }
      },
    });
    try {
      await this.#stream(entry, sink);
      closeSync(fd);
    } catch (e) {
      closeSync(fd);
      rmSync(dest, { force: true });
      throw fsFailure(e, `Writing ${dest} (from ${this.path})`, 'free disk space or choose a writable folder');
    }
  }

  async #stream(entry: ZipEntry, sink: Writable): Promise<void> {
    if (entry.encrypted) throw this.#corrupt(entry, 'is encrypted, which is not supported');
    if (entry.method !== METHOD_STORED && entry.method !== METHOD_DEFLATE) {
      throw this.#corrupt(entry, `uses compression method ${entry.method} (only stored and deflate are supported)`);
    }
    if (entry.method === METHOD_STORED && entry.compressedSize !== entry.size) {
      throw this.#corrupt(entry, 'has a stored size different from its size');
    }
    const start = this.#dataStart.get(entry);
    if (start === undefined) throw new NnunetError('ERR_ARGUMENT', `${entry.name} is not an entry of ${this.path}.`);
    const counter = new CrcCounter(entry.size, () => this.#corrupt(entry, 'decompresses to more bytes than recorded'));
    const source =
      entry.compressedSize === 0
        ? Readable.from([])
        : createReadStream(this.path, { start, end: start + entry.compressedSize - 1, highWaterMark: 1 << 20 });
    try {
      if (entry.method === METHOD_DEFLATE) await pipeline(source, createInflateRaw(), counter, sink);
      else await pipeline(source, counter, sink);
    } catch (e) {
      if (e instanceof NnunetError) throw e;
      const code = (e as { code?: string }).code ?? '';
      if (code.startsWith('Z_') || code === 'ERR_STREAM_PREMATURE_CLOSE') {
        throw this.#corrupt(entry, `cannot be decompressed (${(e as Error).message})`);
      }
      if (sink.errored !== null) throw e; // the sink's own failure; its caller names the file
      throw fsFailure(
        e,
        `Reading ${entry.name} from ${this.path}`,
        'check that the file is readable, or download or export it again',
      );
    }
    if (counter.bytes !== entry.size) {
      throw this.#corrupt(entry, `has ${counter.bytes} bytes instead of the recorded ${entry.size}`);
    }
    if (counter.crc !== entry.crc32) throw this.#corrupt(entry, 'fails its CRC-32 check');
  }

  /** Size of the archive file in bytes. */
  get fileSize(): number {
    return this.#fileSize;
  }
}

interface WrittenEntry {
  name: Buffer;
  utf8: boolean;
  method: number;
  crc: number;
  compressedSize: number;
  size: number;
  offset: number;
  dos: { time: number; date: number };
  mode: number;
}

export interface ZipWriterOptions {
  /** DEFLATE level 0-9 (default 6, zlib's and Python zipfile's default). */
  level?: number;
  /** Write ZIP64 records even where nothing needs them (for tests; like Python's force_zip64). */
  forceZip64?: boolean;
}

export interface AddOptions {
  /** METHOD_DEFLATE (default) or METHOD_STORED. */
  method?: number;
  /** Modification time recorded for the entry (default: the file's, or now). */
  mtime?: Date;
}

/**
 * Writes a zip archive to `<path>.tmp-<pid>` and renames it to `path` on `close()`, so a crash or
 * `abort()` never leaves a truncated archive under the final name. Entries are added one at a time.
 */
export class ZipWriter {
  readonly path: string;
  readonly #tmp: string;
  readonly #fd: number;
  readonly #level: number;
  readonly #force64: boolean;
  readonly #entries: WrittenEntry[] = [];
  readonly #names = new Set<string>();
  #pos = 0;
  #closed = false;

  constructor(path: string, options: ZipWriterOptions = {}) {
    this.path = path;
    this.#tmp = `${path}.tmp-${process.pid}`;
    this.#level = options.level ?? 6;
    this.#force64 = options.forceZip64 === true;
    try {
      this.#fd = openSync(this.#tmp, 'w');
    } catch (e) {
      throw fsFailure(
        e,
        `Creating the zip archive ${path}`,
        `create the folder ${dirname(path)} or choose another output path`,
        `the folder ${dirname(path)} does not exist`,
      );
    }
  }

  #write(b: Uint8Array, at = this.#pos): void {
    let off = 0;
    while (off < b.length) off += writeSync(this.#fd, b, off, b.length - off, at + off);
    if (at === this.#pos) this.#pos += b.length;
  }

  #checkName(name: string): Buffer {
    if (this.#closed) throw new NnunetError('ERR_ARGUMENT', `The zip archive ${this.path} is already closed.`);
    if (name === '' || name.startsWith('/') || name.includes('\\') || name.split('/').includes('..')) {
      throw new NnunetError('ERR_ARGUMENT', `"${name}" is not a valid relative entry name for ${this.path}.`);
    }
    if (this.#names.has(name)) {
      throw new NnunetError('ERR_ARGUMENT', `${this.path} already has an entry named ${name}.`);
    }
    this.#names.add(name);
    return Buffer.from(name, 'utf8');
  }

  /** Writes the local header; sizes and CRC are patched in after the data (returns the header offset). */
  #localHeader(name: Buffer, method: number, dos: { time: number; date: number }, zip64: boolean): number {
    const at = this.#pos;
    const h = Buffer.alloc(LOCAL_HEADER_SIZE);
    h.writeUInt32LE(SIG_LOCAL, 0);
    h.writeUInt16LE(zip64 ? VERSION_ZIP64 : VERSION_DEFAULT, 4);
    h.writeUInt16LE(/[^\x20-\x7e]/.test(name.toString('utf8')) ? FLAG_UTF8 : 0, 6);
    h.writeUInt16LE(method, 8);
    h.writeUInt16LE(dos.time, 10);
    h.writeUInt16LE(dos.date, 12);
    h.writeUInt16LE(name.length, 26);
    h.writeUInt16LE(zip64 ? 20 : 0, 28);
    this.#write(h);
    this.#write(name);
    if (zip64) {
      const x = Buffer.alloc(20);
      x.writeUInt16LE(EXTRA_ZIP64, 0);
      x.writeUInt16LE(16, 2);
      this.#write(x);
    }
    return at;
  }

  #patchLocal(at: number, nameLength: number, zip64: boolean, crc: number, compressed: number, size: number): void {
    const f = Buffer.alloc(12);
    f.writeUInt32LE(crc, 0);
    if (zip64) {
      f.writeUInt32LE(U32_MAX, 4);
      f.writeUInt32LE(U32_MAX, 8);
      const x = Buffer.alloc(16);
      x.writeBigUInt64LE(BigInt(size), 0);
      x.writeBigUInt64LE(BigInt(compressed), 8);
      this.#write(x, at + LOCAL_HEADER_SIZE + nameLength + 4);
    } else {
      if (compressed >= U32_MAX || size >= U32_MAX) {
        throw new NnunetError('ERR_ARGUMENT', `An entry of ${this.path} grew past 4 GiB while being written.`);
      }
      f.writeUInt32LE(compressed, 4);
      f.writeUInt32LE(size, 8);
    }
    this.#write(f, at + 14);
  }

  /** Streams the file at `source` into the archive as `name` ('/'-separated, relative). */
  async addFile(name: string, source: string, options: AddOptions = {}): Promise<void> {
    const nameBytes = this.#checkName(name);
    const method = options.method ?? METHOD_DEFLATE;
    let stat: ReturnType<typeof fstatSync>;
    try {
      const sfd = openSync(source, 'r');
      try {
        stat = fstatSync(sfd);
      } finally {
        closeSync(sfd);
      }
    } catch (e) {
      this.#names.delete(name);
      throw fsFailure(
        e,
        `Reading ${source} for the zip archive ${this.path}`,
        'check that the file exists and is readable',
      );
    }
    if (stat.isDirectory()) {
      this.#names.delete(name);
      throw new NnunetError(
        'ERR_ARGUMENT',
        `${source} is a folder, not a file: only files can be added to ${this.path}.`,
      );
    }
    const dos = dosDateTime(options.mtime ?? stat.mtime);
    const zip64Local = this.#force64 || stat.size >= ZIP64_LOCAL_THRESHOLD;
    let at: number;
    try {
      at = this.#localHeader(nameBytes, method, dos, zip64Local);
    } catch (e) {
      throw fsFailure(e, `Writing the zip archive ${this.path}`, 'free disk space or choose another output path');
    }
    const dataStart = this.#pos;
    const counter = new CrcCounter(Number.MAX_SAFE_INTEGER, () => new Error('unreachable'));
    const sink = new Writable({
      write: (chunk: Buffer, _e, done) => {
        try {
          this.#write(chunk);
          done();
        } catch (e) {
          done(e as Error);
        }
      },
    });
    const input = createReadStream(source, { highWaterMark: 1 << 20 });
    try {
      if (method === METHOD_DEFLATE) await pipeline(input, counter, createDeflateRaw({ level: this.#level }), sink);
      else await pipeline(input, counter, sink);
    } catch (e) {
      // The archive is unusable after a partial member: the caller aborts it.
      if (sink.errored !== null) {
        throw fsFailure(e, `Writing the zip archive ${this.path}`, 'free disk space or choose another output path');
      }
      throw fsFailure(e, `Reading ${source} for the zip archive ${this.path}`, 'check that the file is readable');
    }
    const compressed = this.#pos - dataStart;
    try {
      this.#patchLocal(at, nameBytes.length, zip64Local, counter.crc, compressed, counter.bytes);
    } catch (e) {
      throw fsFailure(e, `Writing the zip archive ${this.path}`, 'free disk space or choose another output path');
    }
    this.#entries.push({
      name: nameBytes,
      utf8: /[^\x20-\x7e]/.test(name),
      method,
      crc: counter.crc,
      compressedSize: compressed,
      size: counter.bytes,
      offset: at,
      dos,
      mode: S_IFREG | (stat.mode & 0o777),
    });
  }

  /** Adds in-memory bytes as `name`. */
  addBuffer(name: string, data: Uint8Array, options: AddOptions = {}): void {
    const nameBytes = this.#checkName(name);
    const method = options.method ?? METHOD_DEFLATE;
    const dos = dosDateTime(options.mtime ?? new Date());
    const zip64Local = this.#force64 || data.length >= ZIP64_LOCAL_THRESHOLD;
    const body = method === METHOD_DEFLATE ? deflateRawSync(data, { level: this.#level }) : data;
    const crc = crc32Update(data);
    let at: number;
    try {
      at = this.#localHeader(nameBytes, method, dos, zip64Local);
      this.#write(body);
      this.#patchLocal(at, nameBytes.length, zip64Local, crc, body.length, data.length);
    } catch (e) {
      throw fsFailure(e, `Writing the zip archive ${this.path}`, 'free disk space or choose another output path');
    }
    this.#entries.push({
      name: nameBytes,
      utf8: /[^\x20-\x7e]/.test(name),
      method,
      crc,
      compressedSize: body.length,
      size: data.length,
      offset: at,
      dos,
      mode: S_IFREG | 0o644,
    });
  }

  /** Number of entries added so far. */
  get count(): number {
    return this.#entries.length;
  }

  /** Writes the central directory and end records, flushes, and renames the archive into place. */
  close(): void {
    if (this.#closed) return;
    try {
      const cdStart = this.#pos;
      for (const e of this.#entries) {
        const big = {
          size: this.#force64 || e.size >= U32_MAX,
          compressed: this.#force64 || e.compressedSize >= U32_MAX,
          offset: this.#force64 || e.offset >= U32_MAX,
        };
        const extra: Buffer[] = [];
        if (big.size || big.compressed || big.offset) {
          const fields = [big.size && e.size, big.compressed && e.compressedSize, big.offset && e.offset].filter(
            (v): v is number => v !== false,
          );
          const x = Buffer.alloc(4 + 8 * fields.length);
          x.writeUInt16LE(EXTRA_ZIP64, 0);
          x.writeUInt16LE(8 * fields.length, 2);
          fields.forEach((v, i) => {
            x.writeBigUInt64LE(BigInt(v), 4 + 8 * i);
          });
          extra.push(x);
        }
        const zip64 = extra.length > 0;
        const extraBytes = Buffer.concat(extra);
        const h = Buffer.alloc(CENTRAL_HEADER_SIZE);
        h.writeUInt32LE(SIG_CENTRAL, 0);
        h.writeUInt16LE((HOST_UNIX << 8) | (zip64 ? VERSION_ZIP64 : VERSION_DEFAULT), 4);
        h.writeUInt16LE(zip64 ? VERSION_ZIP64 : VERSION_DEFAULT, 6);
        h.writeUInt16LE(e.utf8 ? FLAG_UTF8 : 0, 8);
        h.writeUInt16LE(e.method, 10);
        h.writeUInt16LE(e.dos.time, 12);
        h.writeUInt16LE(e.dos.date, 14);
        h.writeUInt32LE(e.crc, 16);
        h.writeUInt32LE(big.compressed ? U32_MAX : e.compressedSize, 20);
        h.writeUInt32LE(big.size ? U32_MAX : e.size, 24);
        h.writeUInt16LE(e.name.length, 28);
        h.writeUInt16LE(extraBytes.length, 30);
        h.writeUInt32LE((e.mode << 16) >>> 0, 38);
        h.writeUInt32LE(big.offset ? U32_MAX : e.offset, 42);
        this.#write(h);
        this.#write(e.name);
        this.#write(extraBytes);
      }
      const cdSize = this.#pos - cdStart;
      const count = this.#entries.length;
      const need64 = this.#force64 || count >= U16_MAX || cdSize >= U32_MAX || cdStart >= U32_MAX;
      if (need64) {
        const recordAt = this.#pos;
        const r = Buffer.alloc(EOCD64_SIZE);
        r.writeUInt32LE(SIG_EOCD64, 0);
        r.writeBigUInt64LE(BigInt(EOCD64_SIZE - 12), 4);
        r.writeUInt16LE((HOST_UNIX << 8) | VERSION_ZIP64, 12);
        r.writeUInt16LE(VERSION_ZIP64, 14);
        r.writeBigUInt64LE(BigInt(count), 24);
        r.writeBigUInt64LE(BigInt(count), 32);
        r.writeBigUInt64LE(BigInt(cdSize), 40);
        r.writeBigUInt64LE(BigInt(cdStart), 48);
        this.#write(r);
        const l = Buffer.alloc(LOCATOR_SIZE);
        l.writeUInt32LE(SIG_EOCD64_LOCATOR, 0);
        l.writeBigUInt64LE(BigInt(recordAt), 8);
        l.writeUInt32LE(1, 16);
        this.#write(l);
      }
      const end = Buffer.alloc(EOCD_SIZE);
      end.writeUInt32LE(SIG_EOCD, 0);
      end.writeUInt16LE(need64 ? U16_MAX : count, 8);
      end.writeUInt16LE(need64 ? U16_MAX : count, 10);
      end.writeUInt32LE(need64 ? U32_MAX : cdSize, 12);
      end.writeUInt32LE(need64 ? U32_MAX : cdStart, 16);
      this.#write(end);
      fsyncSync(this.#fd);
      closeSync(this.#fd);
      this.#closed = true;
      renameSync(this.#tmp, this.path);
    } catch (e) {
      this.abort();
      throw fsFailure(
        e,
        `Finishing the zip archive ${this.path}`,
        'free disk space or choose another output path',
        `the folder ${dirname(this.path)} no longer exists`,
      );
    }
  }

  /** Discards the archive being written. */
  abort(): void {
    if (!this.#closed) {
      this.#closed = true;
      try {
        closeSync(this.#fd);
      } catch {
        // already closed
      }
    }
    rmSync(this.#tmp, { force: true });
  }
}
