/**
 * Whole-file writes that readers never see half done: the one writer of the package. The bytes go
 * to a temporary file beside the target, written in full (short writes are continued, and the
 * file's length is checked against the bytes given) and flushed to disk before it is renamed over
 * the target (a rename within one folder is atomic). On failure the temporary file is removed and
 * the target is left as it was; a full disk, an exceeded quota or an I/O error is one sentence
 * naming the file, the bytes it needed and the space left on its file system.
 *
 * Temporary names carry this host and the writer's PID, so that those of processes killed during a
 * write can be told from those of live writers and removed at the next start (removeStaleTemporaries).
 */
import { createHash } from 'node:crypto';
import {
  closeSync,
  type Dirent,
  fstatSync,
  fsyncSync,
  openSync,
  readdirSync,
  readSync,
  renameSync,
  rmSync,
  statfsSync,
  writeSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { threadId } from 'node:worker_threads';
import { NnunetError } from '../errors.js';

/** The first 8 hex digits of SHA-256 of the host name: short, and the same in every process of a host. */
export const HOST_TAG = createHash('sha256').update(hostname()).digest('hex').slice(0, 8);

/** `.NAME.tmp-HOST-PID-THREAD-SEQ`: hidden, so folder listings of outputs never see it. */
const TEMPORARY = /^\..+\.tmp-([0-9a-f]{8})-(\d+)-\d+-\d+$/;

let sequence = 0;

/**
 * A fresh temporary name beside `path` (same folder, so the final rename is atomic) that names
 * this host, process and thread: worker threads of one process never share one.
 */
export function temporaryName(path: string): string {
  return join(dirname(path), `.${basename(path)}.tmp-${HOST_TAG}-${process.pid}-${threadId}-${++sequence}`);
}

/** Bytes as a person reads them: "512 bytes", "3.5 KiB", "31.2 MiB", "1.4 GiB". */
export function formatBytes(n: number): string {
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

/** Bytes available to this user on the file system holding `folder`, or null where it cannot be asked. */
export function freeSpace(folder: string): number | null {
  try {
    const s = statfsSync(folder);
    return Number(s.bavail) * Number(s.bsize);
  } catch {
    return null;
  }
}

/** Errors of the medium rather than of the path: the message gives the size needed and the space left. */
const SPACE_REASONS: Record<string, [reason: string, fix: string]> = {
  ENOSPC: ['the disk is full', 'free some space and run the command again'],
  EDQUOT: ['the disk quota is exceeded', 'free some space within your quota and run the command again'],
  EFBIG: ['the file is larger than that file system allows', 'write to another file system'],
  EIO: ['an input/output error occurred', 'check the disk (or the network file system) and run the command again'],
};

const PATH_REASONS: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'the file system is read-only',
  EISDIR: 'a folder has that name',
  ENOTDIR: 'a part of the path is not a folder',
};

/**
 * A failed write of `path` as one user-facing sentence (ERR_WRITE). `bytes` is the size of the
 * whole file being written (null when unknown). NnunetErrors pass through unchanged.
 */
export function writeFailure(path: string, e: unknown, bytes: number | null): NnunetError {
  if (e instanceof NnunetError) return e;
  const code = String((e as { code?: unknown } | null)?.code ?? '');
  const space = SPACE_REASONS[code];
  if (space !== undefined) {
    const free = freeSpace(dirname(path));
    const needs = bytes === null ? '' : `the file needs ${formatBytes(bytes)}`;
    const left = free === null ? '' : `${formatBytes(free)} ${free === 1 ? 'is' : 'are'} free on that file system`;
    const detail = [needs, left].filter((s) => s !== '').join(', ');
    return new NnunetError(
      'ERR_WRITE',
      `Cannot write ${path}: ${space[0]}${detail === '' ? '' : ` (${detail})`}; ${space[1]}.`,
      { cause: e },
    );
  }
  const reason =
    code === 'ENOENT'
      ? `the folder ${dirname(path)} does not exist`
      : (PATH_REASONS[code] ?? (e instanceof Error ? (e.message.split('\n')[0] ?? code) : String(e)));
  return new NnunetError(
    'ERR_WRITE',
    `Cannot write ${path} (${code === '' ? 'error' : code}: ${reason}); check that the folder exists and is writable.`,
    { cause: e },
  );
}

/**
 * Writes all of `bytes` to `fd` at `position` (or the current offset when null), continuing short
 * writes. A write that makes no progress is a full disk: POSIX allows 0 only when nothing fits.
 */
export function writeFully(fd: number, bytes: Uint8Array, position: number | null = null): void {
  let off = 0;
  while (off < bytes.length) {
    const n = writeSync(fd, bytes, off, bytes.length - off, position === null ? null : position + off);
    if (n <= 0) throw Object.assign(new Error('the write made no progress'), { code: 'ENOSPC' });
    off += n;
  }
}

/**
 * Finishes a temporary file: checks that it holds exactly `bytes` bytes, flushes it to disk, closes
 * `fd` (in every case) and renames the file to `path`. On failure the temporary file is removed and
 * the error is thrown as it came (callers turn it into a sentence with writeFailure).
 */
export function commitTemporary(fd: number, tmp: string, path: string, bytes: number): void {
  try {
    try {
      const size = fstatSync(fd).size;
      if (size !== bytes)
        throw Object.assign(new Error(`the file holds ${size} of ${bytes} bytes after writing`), { code: 'EIO' });
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

/**
 * Writes `data` (text, bytes, or byte parts written one after the other, so large files need not be
 * joined first) to `path` atomically; a failure is one sentence naming the file (ERR_WRITE).
 */
export function writeFileAtomic(path: string, data: string | Uint8Array | readonly Uint8Array[]): void {
  const parts = typeof data === 'string' ? [Buffer.from(data)] : data instanceof Uint8Array ? [data] : data;
  let total = 0;
  for (const part of parts) total += part.length;
  const tmp = temporaryName(path);
  try {
    const fd = openSync(tmp, 'w');
    try {
      for (const part of parts) writeFully(fd, part);
    } catch (e) {
      closeSync(fd);
      throw e;
    }
    commitTemporary(fd, tmp, path, total);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw writeFailure(path, e, total);
  }
}

/** Writes `value` as JSON (one-space indent, trailing newline) atomically. */
export function writeJsonAtomic(path: string, value: unknown, indent = 1): void {
  writeFileAtomic(path, `${JSON.stringify(value, null, indent)}\n`);
}

/** Chunk size of copyFileAtomic: large enough for throughput, small enough to hold beside a training. */
const COPY_CHUNK = 8 << 20;

/**
 * Copies `source` to `target` atomically (temporary file, checked length, fsync, rename), in
 * chunks, so a large file is never held whole. A missing source is ERR_NOT_FOUND; a failed write
 * is ERR_WRITE and leaves any earlier `target` as it was.
 */
export function copyFileAtomic(source: string, target: string): void {
  let src: number;
  try {
    src = openSync(source, 'r');
  } catch (e) {
    throw new NnunetError(
      'ERR_NOT_FOUND',
      `Cannot copy ${source} to ${target}: ${source} cannot be read (${String((e as { code?: unknown }).code ?? e)}); check that it exists.`,
      { cause: e },
    );
  }
  const tmp = temporaryName(target);
  let size: number | null = null;
  try {
    size = fstatSync(src).size;
    const fd = openSync(tmp, 'w');
    let copied = 0;
    try {
      const buf = Buffer.allocUnsafe(Math.min(COPY_CHUNK, Math.max(1, size)));
      for (;;) {
        const n = readSync(src, buf, 0, buf.length, copied);
        if (n === 0) break;
        writeFully(fd, buf.subarray(0, n));
        copied += n;
      }
    } catch (e) {
      closeSync(fd);
      throw e;
    }
    commitTemporary(fd, tmp, target, copied);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw writeFailure(target, e, size);
  } finally {
    closeSync(src);
  }
}

/** True when `pid` names no process of this host (a process of another user still counts as alive). */
function processIsGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/**
 * Removes the temporary files (and folders) that writers on this host left in `folder` (and its
 * subfolders with `recursive`) when their process was killed mid-write. Temporaries of live
 * processes, and of other hosts (a shared file system: their PIDs cannot be checked from here),
 * are kept. A missing folder has none. Returns the removed paths. Call at the start of a command
 * that writes into `folder`.
 */
export function removeStaleTemporaries(folder: string, options: { recursive?: boolean } = {}): string[] {
  const removed: string[] = [];
  let entries: Dirent[];
  try {
    entries = readdirSync(folder, { withFileTypes: true });
  } catch {
    return removed;
  }
  for (const entry of entries) {
    const path = join(folder, entry.name);
    const m = TEMPORARY.exec(entry.name);
    if (m !== null && m[1] === HOST_TAG && processIsGone(Number(m[2]))) {
      try {
        rmSync(path, { recursive: true, force: true });
        removed.push(path);
      } catch {
        // Another process removed it first, or it is not ours to remove: leave it.
      }
    } else if (options.recursive === true && entry.isDirectory() && m === null) {
      removed.push(...removeStaleTemporaries(path, options));
    }
  }
  return removed;
}
