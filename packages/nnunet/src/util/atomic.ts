/**
 * Whole-file writes that readers never see half done: the bytes go to a temporary file beside the
 * target, written in full (short writes are continued) and flushed to disk before it is renamed
 * over it (a rename within one folder is atomic). On failure the temporary file is removed and the
 * target is left as it was.
 */
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { threadId } from 'node:worker_threads';
import { NnunetError } from '../errors.js';

let sequence = 0;

/**
 * Writes `data` (text, bytes, or byte parts written one after the other, so large files need not be
 * joined first) to `path` atomically; a failure is one sentence naming the file.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array | readonly Uint8Array[]): void {
  // pid + thread + counter: worker threads of one process never share a temporary name.
  const tmp = `${path}.tmp-${process.pid}-${threadId}-${++sequence}`;
  const parts = typeof data === 'string' ? [Buffer.from(data)] : data instanceof Uint8Array ? [data] : data;
  try {
    const fd = openSync(tmp, 'w');
    try {
      for (const part of parts) {
        let off = 0;
        while (off < part.length) off += writeSync(fd, part, off, part.length - off);
      }
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw new NnunetError(
      'ERR_DATASET',
      `Cannot write ${path} (${(e as Error).message}); check that the folder exists and is writable.`,
      { cause: e },
    );
  }
}

/** Writes `value` as JSON (one-space indent, trailing newline) atomically. */
export function writeJsonAtomic(path: string, value: unknown): void {
  writeFileAtomic(path, `${JSON.stringify(value, null, 1)}\n`);
}
