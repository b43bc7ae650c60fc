/**
 * ZIP archives: the one module through which the package reads and writes them.
 *
 * Model archives (sharing/: export, install, download) go through @zip.js/zip.js. It reads the
 * central directory with random access into the file, so an archive of many gigabytes is never held
 * in memory; it understands ZIP64 sizes, offsets and entry counts, UTF-8 and CP437 names and Unix
 * modes; while it streams a member out it checks the CRC-32, the size, the local header against the
 * central directory and overlaps with members already read; and it writes archives by streaming
 * files in, with ZIP64 records only where needed. Of the maintained libraries it is the one that
 * does all of this in a single package without dependencies: fflate writes no ZIP64 and reports
 * neither CRCs nor file modes, and yauzl checks no CRC-32 and only reads (yazl would be a second
 * package).
 *
 * .npz files and torch.save checkpoints are read whole into memory and must be read synchronously
 * (from synchronous code and inside worker threads): readZipBytes and writeZipFile serve them.
 */
import { closeSync, fstatSync, fsyncSync, openSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { dirname } from 'node:path';
import * as zlib from 'node:zlib';
import type { Entry, Reader, ZipWriter as ZipJsWriter, ZipWriterAddDataOptions } from '@zip.js/zip.js';
import { NnunetError } from '../errors.js';
import { commitTemporary, temporaryName, writeFailure, writeFileAtomic, writeFully } from '../util/atomic.js';

export const METHOD_STORED = 0;
export const METHOD_DEFLATE = 8;
/** "Version made by" host byte of Unix, whose external attributes carry st_mode in the upper 16 bits. */
const HOST_UNIX = 3;
const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;

/** zlib.crc32 needs Node 20.15 or 22.2; the table below serves older Node 20 releases. */
const nativeCrc32 = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;
const CRC_TABLE = Uint32Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

/** CRC-32 (the zip / zlib polynomial) of `bytes`, continuing from `previous` (the CRC of the bytes before them). */
export function crc32Update(bytes: Uint8Array, previous = 0): number {
  if (nativeCrc32 !== undefined) return nativeCrc32(bytes, previous) >>> 0;
  let c = ~previous;
  for (let i = 0; i < bytes.length; i++) c = (CRC_TABLE[(c ^ (bytes[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return ~c >>> 0;
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

/** Failures of the medium (full disk, quota, I/O): writeFailure words them with the space needed and left. */
function isSpaceError(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT' || code === 'EFBIG' || code === 'EIO';
}

/** The message of a zip.js failure, one of its ERR_* constants ('' for NnunetErrors and non-errors). */
function zipJsError(e: unknown): string {
  return e instanceof Error && !(e instanceof NnunetError) ? e.message : '';
}

type ZipJsLibrary = typeof import('@zip.js/zip.js');

interface ZipJs {
  lib: ZipJsLibrary;
  /**
   * Random access to a file for zip.js. Each read opens the file anew, so that no descriptor
   * outlives a call (a ZipReader needs no close) and file-system failures name the file.
   */
  fileReader(path: string, size: number, onError: (e: unknown) => NnunetError): Reader<string>;
}

let zipJsLoaded: Promise<ZipJs> | undefined;

/**
 * zip.js, loaded on first use: loading it takes tens of milliseconds, which the .npz and checkpoint
 * readers below (also run in worker threads) should not pay.
 */
function zipJs(): Promise<ZipJs> {
  zipJsLoaded ??= import('@zip.js/zip.js').then((lib) => {
    // Node has no Web Workers: (de)compression runs on this thread, through Node's zlib where it can.
    lib.configure({ useWebWorkers: false });
    class FileRangeReader extends lib.Reader<string> {
      readonly #path: string;
      readonly #onError: (e: unknown) => NnunetError;

      constructor(path: string, size: number, onError: (e: unknown) => NnunetError) {
        super(path);
        this.#path = path;
        this.#onError = onError;
        this.size = size;
      }

      override async readUint8Array(index: number, length: number): Promise<Uint8Array> {
        const out = new Uint8Array(Math.max(0, Math.min(length, this.size - index)));
        try {
          const file = await open(this.#path, 'r');
          try {
            let got = 0;
            while (got < out.length) {
              const { bytesRead } = await file.read(out, got, out.length - got, index + got);
              if (bytesRead === 0) break;
              got += bytesRead;
            }
            return out.subarray(0, got);
          } finally {
            await file.close();
          }
        } catch (e) {
          throw this.#onError(e);
        }
      }
    }
    return { lib, fileReader: (path, size, onError) => new FileRangeReader(path, size, onError) };
  });
  return zipJsLoaded;
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

function toZipEntry(e: Entry): ZipEntry {
  const host = e.versionMadeBy >> 8;
  const attributes = e.externalFileAttributes >>> 0;
  const unixMode = host === HOST_UNIX && attributes >>> 16 !== 0 ? attributes >>> 16 : undefined;
  const type = unixMode === undefined ? undefined : unixMode & S_IFMT;
  return {
    name: e.filename,
    method: e.compressionMethod,
    flags: e.rawBitFlag ?? 0,
    crc32: e.crc32 ?? 0,
    compressedSize: e.compressedSize,
    size: e.uncompressedSize,
    localHeaderOffset: e.offset,
    host,
    externalAttributes: attributes,
    mtime: e.lastModDate,
    isDirectory: e.filename.endsWith('/') || e.directory || type === S_IFDIR,
    unixMode,
    isSymlink: type === S_IFLNK,
    isSpecial: type !== undefined && type !== 0 && type !== S_IFREG && type !== S_IFDIR && type !== S_IFLNK,
    encrypted: e.encrypted,
  };
}

/** Reads the directory of a zip archive on open; members are streamed out on demand. */
export class ZipReader {
  readonly path: string;
  readonly entries: readonly ZipEntry[];
  /** Size of the archive file in bytes. */
  readonly fileSize: number;
  readonly #members: Map<ZipEntry, Entry>;
  readonly #lib: ZipJsLibrary;

  private constructor(path: string, fileSize: number, members: Map<ZipEntry, Entry>, lib: ZipJsLibrary) {
    this.path = path;
    this.fileSize = fileSize;
    this.#members = members;
    this.#lib = lib;
    this.entries = [...members.keys()];
  }

  /** Reads the central directory of `path`; throws ERR_DATASET naming the file when it is not a usable zip. */
  static async open(path: string): Promise<ZipReader> {
    let size: number;
    try {
      const fd = openSync(path, 'r');
      try {
        const stat = fstatSync(fd);
        if (stat.isDirectory()) {
          throw new NnunetError('ERR_ARGUMENT', `${path} is a folder, not a zip file: give the path of the .zip file.`);
        }
        size = stat.size;
      } finally {
        closeSync(fd);
      }
    } catch (e) {
      if ((e as { code?: unknown }).code === 'ENOENT') {
        throw new NnunetError('ERR_NOT_FOUND', `The zip file ${path} does not exist: check the path.`, { cause: e });
      }
      throw fsFailure(e, `Opening the zip file ${path}`, 'check the path and its permissions');
    }
    const { lib, fileReader } = await zipJs();
    const reader = fileReader(path, size, (e) =>
      fsFailure(e, `Reading the zip file ${path}`, 'check that the file is readable, or download or export it again'),
    );
    let entries: Entry[];
    try {
      // Names are left to the caller's checks (install names the offending entry in its own words).
      entries = await new lib.ZipReader(reader, { filenameValidation: 'tolerant' }).getEntries();
    } catch (e) {
      throw ZipReader.#unreadable(lib, path, e);
    }
    const members = new Map<ZipEntry, Entry>();
    for (const e of entries) members.set(toZipEntry(e), e);
    return new ZipReader(path, size, members, lib);
  }

  static #unreadable(lib: ZipJsLibrary, path: string, e: unknown, entry?: string): NnunetError {
    if (e instanceof NnunetError) return e;
    const why: Record<string, string> = {
      [lib.ERR_EOCDR_NOT_FOUND]: 'no end-of-central-directory record',
      [lib.ERR_EOCDR_LOCATOR_ZIP64_NOT_FOUND]: 'a damaged ZIP64 end record',
      [lib.ERR_CENTRAL_DIRECTORY_NOT_FOUND]: 'a damaged central directory',
      [lib.ERR_EXTRAFIELD_ZIP64_NOT_FOUND]: 'a damaged ZIP64 field',
      [lib.ERR_SPLIT_ZIP_FILE]: 'a multi-disk archive',
      [lib.ERR_LOCAL_FILE_HEADER_NOT_FOUND]: `a damaged local header for ${entry}`,
      [lib.ERR_ENTRY_DATA_OUT_OF_BOUNDS]: `a damaged local header for ${entry}: its data runs past the end of the file`,
    };
    const message = zipJsError(e);
    return new NnunetError(
      'ERR_DATASET',
      `${path} is not a readable zip archive (${why[message] ?? (message || String(e))}): download or export it again.`,
      { cause: e },
    );
  }

  #corrupt(entry: ZipEntry, why: string): NnunetError {
    return new NnunetError(
      'ERR_DATASET',
      `${this.path} is damaged: ${entry.name} ${why}; download or export the archive again.`,
    );
  }

  /** The member's decompressed bytes, checked; for small members (metadata, tests). */
  async read(entry: ZipEntry): Promise<Buffer> {
    const chunks: Buffer[] = [];
    await this.#stream(entry, (chunk) => {
      chunks.push(Buffer.from(chunk));
    });
    return Buffer.concat(chunks);
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
    try {
      await this.#stream(entry, (chunk) => {
        try {
          writeFully(fd, chunk, pos);
          pos += chunk.length;
        } catch (e) {
          if (isSpaceError(e)) throw writeFailure(dest, e, entry.size);
          throw fsFailure(e, `Writing ${dest} (from ${this.path})`, 'free disk space or choose a writable folder');
        }
      });
      // Flushed before the caller moves it into place, so that a crash leaves no short file there.
      fsyncSync(fd);
    } catch (e) {
      closeSync(fd);
      rmSync(dest, { force: true });
      throw isSpaceError(e) ? writeFailure(dest, e, entry.size) : e;
    }
    closeSync(fd);
  }

  /**
   * Checks, without reading any member's data, that each file's local header is where the central
   * directory says and agrees with it, that its data lies inside the archive, and that no two
   * entries share data (the overlapping-entry zip bomb). One small read per entry.
   */
  async checkLocalHeaders(): Promise<void> {
    for (const [entry, member] of this.#members) {
      if (member.directory) continue;
      try {
        await member.getData(new WritableStream(), { checkOverlappingEntryOnly: true });
      } catch (e) {
        throw this.#failure(entry, e);
      }
    }
  }

  /** A failure of zip.js on `entry` as one sentence naming the archive. */
  #failure(entry: ZipEntry, e: unknown): NnunetError {
    if (e instanceof NnunetError) return e;
    const message = zipJsError(e);
    if (message === this.#lib.ERR_INVALID_CRC32) return this.#corrupt(entry, 'fails its CRC-32 check');
    if (message === this.#lib.ERR_INVALID_UNCOMPRESSED_SIZE)
      return this.#corrupt(entry, 'decompresses to more bytes than recorded');
    if (message === this.#lib.ERR_INVALID_COMPRESSED_DATA) return this.#corrupt(entry, 'cannot be decompressed');
    if (message === this.#lib.ERR_ENCRYPTED) return this.#corrupt(entry, 'is encrypted, which is not supported');
    if (message === this.#lib.ERR_OVERLAPPING_ENTRY)
      return this.#corrupt(entry, 'shares its data with another entry (a zip bomb)');
    if (message === this.#lib.ERR_AMBIGUOUS_ARCHIVE) {
      const reason = (e as { reason?: unknown }).reason;
      return this.#corrupt(entry, `has a local header that contradicts the central directory (${String(reason)})`);
    }
    return ZipReader.#unreadable(this.#lib, this.path, e, entry.name);
  }

  /**
   * Passes the member's bytes to `sink` chunk by chunk. Never more bytes than the central directory
   * declares reach the sink, so that caps checked on declared sizes hold for what is written.
   */
  async #stream(entry: ZipEntry, sink: (chunk: Uint8Array) => void): Promise<void> {
    const member = this.#members.get(entry);
    if (member === undefined) throw new NnunetError('ERR_ARGUMENT', `${entry.name} is not an entry of ${this.path}.`);
    if (entry.encrypted) throw this.#corrupt(entry, 'is encrypted, which is not supported');
    if (entry.method !== METHOD_STORED && entry.method !== METHOD_DEFLATE) {
      throw this.#corrupt(entry, `uses compression method ${entry.method} (only stored and deflate are supported)`);
    }
    if (entry.method === METHOD_STORED && entry.compressedSize !== entry.size) {
      throw this.#corrupt(entry, 'has a stored size different from its size');
    }
    if (member.directory) return;
    let bytes = 0;
    const writable = new WritableStream<Uint8Array>({
      write: (chunk) => {
        bytes += chunk.length;
        if (bytes > entry.size) throw this.#corrupt(entry, 'decompresses to more bytes than recorded');
        sink(chunk);
      },
    });
    try {
      await member.getData(writable, { checkCrc32: true, checkOverlappingEntry: true });
    } catch (e) {
      throw this.#failure(entry, e);
    }
    if (bytes !== entry.size) throw this.#corrupt(entry, `has ${bytes} bytes instead of the recorded ${entry.size}`);
  }
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
 * Writes a zip archive to a temporary file beside `path` and renames it to `path` on `close()`, so a
 * crash or `abort()` never leaves a truncated archive under the final name. Entries are added one at
 * a time; files are streamed in (their CRC-32 and sizes follow the data in a data descriptor).
 */
export class ZipWriter {
  readonly path: string;
  readonly #tmp: string;
  readonly #fd: number;
  readonly #level: number;
  readonly #archive: WritableStream<Uint8Array>;
  readonly #forceZip64: boolean;
  /** Made on first use, once zip.js is loaded. */
  #zip: Promise<ZipJsWriter<unknown>> | undefined;
  readonly #names = new Set<string>();
  #pos = 0;
  #count = 0;
  #closed = false;

  constructor(path: string, options: ZipWriterOptions = {}) {
    this.path = path;
    this.#tmp = temporaryName(path);
    this.#level = options.level ?? 6;
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
    this.#forceZip64 = options.forceZip64 === true;
    this.#archive = new WritableStream<Uint8Array>({
      write: (chunk) => {
        try {
          writeFully(this.#fd, chunk, this.#pos);
          this.#pos += chunk.length;
        } catch (e) {
          // The final size is not known yet: the sentence gives the free space only.
          throw writeFailure(path, e, null);
        }
      },
    });
  }

  #writer(): Promise<ZipJsWriter<unknown>> {
    this.#zip ??= zipJs().then(
      ({ lib }) =>
        new lib.ZipWriter(this.#archive, {
          level: this.#level,
          // DOS times only, as Python's zipfile writes them: the extra timestamp field costs time per entry.
          extendedTimestamp: false,
          // zip64: false would forbid the ZIP64 records that large sizes or entry counts need: leave it unset.
          ...(this.#forceZip64 ? { zip64: true } : {}),
        }),
    );
    return this.#zip;
  }

  #claimName(name: string): void {
    if (this.#closed) throw new NnunetError('ERR_ARGUMENT', `The zip archive ${this.path} is already closed.`);
    if (name === '' || name.startsWith('/') || name.includes('\\') || name.split('/').includes('..')) {
      throw new NnunetError('ERR_ARGUMENT', `"${name}" is not a valid relative entry name for ${this.path}.`);
    }
    if (this.#names.has(name)) {
      throw new NnunetError('ERR_ARGUMENT', `${this.path} already has an entry named ${name}.`);
    }
    this.#names.add(name);
  }

  /** Streams the file at `source` into the archive as `name` ('/'-separated, relative). */
  async addFile(name: string, source: string, options: AddOptions = {}): Promise<void> {
    this.#claimName(name);
    let stat: ReturnType<typeof fstatSync>;
    try {
      const fd = openSync(source, 'r');
      try {
        stat = fstatSync(fd);
      } finally {
        closeSync(fd);
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
    const reader = (await zipJs()).fileReader(source, stat.size, (e) =>
      fsFailure(e, `Reading ${source} for the zip archive ${this.path}`, 'check that the file is readable'),
    );
    // A failure part-way leaves the archive unusable: the caller aborts it.
    await this.#add(name, reader, {
      level: options.method === METHOD_STORED ? 0 : this.#level,
      lastModDate: options.mtime ?? stat.mtime,
      unixMode: S_IFREG | (stat.mode & 0o777),
    });
  }

  /** Adds in-memory bytes as `name`; an empty `data` under a name ending in '/' is a folder entry. */
  async addBuffer(name: string, data: Uint8Array, options: AddOptions = {}): Promise<void> {
    this.#claimName(name);
    const folder = name.endsWith('/') && data.length === 0;
    const { lib } = await zipJs();
    await this.#add(name, folder ? null : new lib.Uint8ArrayReader(data), {
      level: options.method === METHOD_STORED ? 0 : this.#level,
      lastModDate: options.mtime ?? new Date(),
      // The bytes are in memory already: CRC-32 and sizes go into the local header, as for a seekable file.
      dataDescriptor: false,
      ...(folder ? { directory: true } : { unixMode: S_IFREG | 0o644 }),
    });
  }

  async #add(name: string, reader: Reader<unknown> | null, options: ZipWriterAddDataOptions): Promise<void> {
    try {
      await (await this.#writer()).add(name, reader, options);
    } catch (e) {
      throw fsFailure(e, `Writing ${name} into the zip archive ${this.path}`, 'free disk space or export again');
    }
    this.#count++;
  }

  /** Number of entries added so far. */
  get count(): number {
    return this.#count;
  }

  /** Writes the central directory and end records, flushes, and renames the archive into place. */
  async close(): Promise<void> {
    if (this.#closed) return;
    try {
      await (await this.#writer()).close();
      // commitTemporary closes the descriptor whatever happens.
      this.#closed = true;
      commitTemporary(this.#fd, this.#tmp, this.path, this.#pos);
    } catch (e) {
      this.abort();
      if (isSpaceError(e)) throw writeFailure(this.path, e, this.#pos);
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

// ---------------------------------------------------------------------------------------------
// Archives held in memory, read and written synchronously (.npz, torch.save checkpoints).
// Hand-written, as no library serves: zip.js and yauzl are async only; fflate's unzipSync checks no CRC-32 or size.

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const LOCAL_HEADER_SIZE = 30;
const CENTRAL_HEADER_SIZE = 46;
const EOCD_SIZE = 22;
const FLAG_ENCRYPTED = 0x0001;
const FLAG_UTF8 = 0x0800;
const U16_MAX = 0xffff;
const U32_MAX = 0xffffffff;

export interface ZipBytesEntry {
  name: string;
  method: number;
  crc32: number;
  compressedSize: number;
  size: number;
  /** Offset of the member's (compressed) data in the archive. */
  dataStart: number;
}

/** The directory of an archive held in memory, and checked access to its members. */
export interface ZipBytes {
  readonly entries: ReadonlyMap<string, ZipBytesEntry>;
  /**
   * The member's bytes (stored members are views into the archive, not copies). Sizes are always
   * checked and the CRC-32 unless `checkCrc` is false; deflated members never inflate past their
   * declared size.
   */
  read(entry: ZipBytesEntry, options?: { checkCrc?: boolean }): Uint8Array;
}

/**
 * Reads the central directory of the zip archive `bytes`. Every problem is passed to `fail` as a
 * short reason (the caller names the file): truncation, damaged records, ZIP64 (over 4 GiB),
 * encryption, multi-disk archives, duplicate names.
 */
export function readZipBytes(bytes: Uint8Array, fail: (why: string) => never): ZipBytes {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u16 = (p: number): number => (p + 2 <= bytes.length ? dv.getUint16(p, true) : fail('the zip is truncated'));
  const u32 = (p: number): number => (p + 4 <= bytes.length ? dv.getUint32(p, true) : fail('the zip is truncated'));
  // The end record is the last signature whose comment reaches exactly to the end of the data.
  let eocd = -1;
  for (let i = bytes.length - EOCD_SIZE; i >= Math.max(0, bytes.length - EOCD_SIZE - U16_MAX); i--) {
    if (dv.getUint32(i, true) === SIG_EOCD && i + EOCD_SIZE + dv.getUint16(i + 20, true) === bytes.length) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) return fail('no zip directory at the end: the file is truncated');
  if (u16(eocd + 4) !== 0 || u16(eocd + 6) !== 0) fail('multi-disk zip archives are not supported');
  const count = u16(eocd + 10);
  const cdSize = u32(eocd + 12);
  let p = u32(eocd + 16);
  if (count === U16_MAX || cdSize === U32_MAX || p === U32_MAX) fail('ZIP64 archives (over 4 GiB) are not supported');
  if (p + cdSize > eocd) fail('the zip directory is damaged');
  const entries = new Map<string, ZipBytesEntry>();
  for (let k = 0; k < count; k++) {
    if (u32(p) !== SIG_CENTRAL) fail('the zip directory is damaged');
    const flags = u16(p + 8);
    const method = u16(p + 10);
    const crc32 = u32(p + 16);
    const compressedSize = u32(p + 20);
    const size = u32(p + 24);
    const nameLength = u16(p + 28);
    const extraLength = u16(p + 30);
    const commentLength = u16(p + 32);
    const localOffset = u32(p + 42);
    if (p + CENTRAL_HEADER_SIZE + nameLength > eocd) fail('the zip directory is damaged');
    const nameBytes = bytes.subarray(p + CENTRAL_HEADER_SIZE, p + CENTRAL_HEADER_SIZE + nameLength);
    const name = Buffer.from(nameBytes).toString('utf8');
    if (compressedSize === U32_MAX || size === U32_MAX || localOffset === U32_MAX) {
      fail('ZIP64 archives (over 4 GiB) are not supported');
    }
    if (flags & FLAG_ENCRYPTED) fail(`the zip entry ${name} is encrypted`);
    if (entries.has(name)) fail(`the zip entry ${name} appears twice`);
    if (u32(localOffset) !== SIG_LOCAL) fail(`the zip entry ${name} is damaged`);
    const dataStart = localOffset + LOCAL_HEADER_SIZE + u16(localOffset + 26) + u16(localOffset + 28);
    if (dataStart + compressedSize > bytes.length) fail(`the zip entry ${name} reaches past the end of the file`);
    entries.set(name, { name, method, crc32, compressedSize, size, dataStart });
    p += CENTRAL_HEADER_SIZE + nameLength + extraLength + commentLength;
  }
  const read = (e: ZipBytesEntry, options: { checkCrc?: boolean } = {}): Uint8Array => {
    const data = bytes.subarray(e.dataStart, e.dataStart + e.compressedSize);
    let out: Uint8Array;
    if (e.method === METHOD_STORED) {
      if (e.compressedSize !== e.size)
        fail(`the zip entry ${e.name} declares ${e.size} bytes but stores ${e.compressedSize}`);
      out = data;
    } else if (e.method === METHOD_DEFLATE) {
      try {
        // One byte more than declared is enough to tell a member that inflates past its size.
        out = zlib.inflateRawSync(data, { maxOutputLength: e.size + 1 });
      } catch (err) {
        const tooLarge = (err as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE';
        return fail(
          tooLarge
            ? `the zip entry ${e.name} inflates to more than its declared ${e.size} bytes`
            : `the zip entry ${e.name} cannot be inflated (${(err as Error).message})`,
        );
      }
      if (out.length !== e.size) fail(`the zip entry ${e.name} holds ${out.length} bytes, its header says ${e.size}`);
    } else {
      return fail(
        `the zip entry ${e.name} uses compression method ${e.method} (only stored and deflate are supported)`,
      );
    }
    if (options.checkCrc !== false && crc32Update(out) !== e.crc32)
      fail(`the zip entry ${e.name} fails its CRC-32 check`);
    return out;
  };
  return { entries, read };
}

export interface ZipFileMember {
  /** '/'-separated relative name. */
  name: string;
  data: Uint8Array;
}

/**
 * Writes `members`, deflated at `level`, as a zip archive to `path` atomically (a temporary file
 * beside it, flushed, then renamed). Members and archive must stay under 4 GiB (no ZIP64).
 */
export function writeZipFile(path: string, members: readonly ZipFileMember[], level = 6): void {
  const parts: Uint8Array[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const m of members) {
    const name = Buffer.from(m.name, 'utf8');
    const flags = /[^\x20-\x7e]/.test(m.name) ? FLAG_UTF8 : 0;
    const crc = crc32Update(m.data);
    const body = zlib.deflateRawSync(m.data, { level });
    if (m.data.length >= U32_MAX || offset + body.length >= U32_MAX) {
      throw new NnunetError('ERR_ARGUMENT', `${path} would exceed 4 GiB, which this zip writer does not support.`);
    }
    const local = Buffer.alloc(LOCAL_HEADER_SIZE);
    local.writeUInt32LE(SIG_LOCAL, 0);
    local.writeUInt16LE(20, 4); // version needed: 2.0 (deflate)
    local.writeUInt16LE(flags, 6);
    local.writeUInt16LE(METHOD_DEFLATE, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(m.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    const cen = Buffer.alloc(CENTRAL_HEADER_SIZE);
    cen.writeUInt32LE(SIG_CENTRAL, 0);
    cen.writeUInt16LE(20, 4);
    cen.writeUInt16LE(20, 6);
    cen.writeUInt16LE(flags, 8);
    cen.writeUInt16LE(METHOD_DEFLATE, 10);
    cen.writeUInt32LE(crc, 16);
    cen.writeUInt32LE(body.length, 20);
    cen.writeUInt32LE(m.data.length, 24);
    cen.writeUInt16LE(name.length, 28);
    cen.writeUInt32LE(offset, 42);
    central.push(cen, name);
    parts.push(local, name, body);
    offset += local.length + name.length + body.length;
  }
  const cd = Buffer.concat(central);
  const end = Buffer.alloc(EOCD_SIZE);
  end.writeUInt32LE(SIG_EOCD, 0);
  end.writeUInt16LE(members.length, 8);
  end.writeUInt16LE(members.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  parts.push(cd, end);
  writeFileAtomic(path, parts);
}
