/**
 * A real full disk for tests: a small tmpfs mounted on a fresh folder (needs root, or a container
 * that allows mounts; otherwise the test is skipped with the reason), filled by a file until only
 * `leaveKiB` are free.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, ftruncateSync, openSync, readdirSync, rmdirSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { tempDir } from './helpers.js';

/** Name of the file that fills the disk (tests leave it in their listings). */
export const FILLER = 'filler.bin';

/**
 * Runs `fn` with a freshly mounted tmpfs of `sizeKiB` KiB, unmounting it afterwards whatever
 * happens. Skips the test (t.skip) where mounting is not permitted.
 */
export async function withSmallDisk(
  t: TestContext,
  fn: (dir: string) => Promise<void> | void,
  sizeKiB = 256,
): Promise<void> {
  const dir = tempDir('nnunet-full-disk-');
  const m = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeKiB}k`, 'tmpfs', dir], { encoding: 'utf8' });
  if (m.status !== 0) {
    rmdirSync(dir);
    t.skip(`cannot mount a small tmpfs to fill (${(m.stderr || m.error?.message || 'mount failed').trim()})`);
    return;
  }
  try {
    await fn(dir);
  } finally {
    const u = spawnSync('umount', [dir], { encoding: 'utf8' });
    if (u.status === 0) rmdirSync(dir);
  }
}

/**
 * Fills the file system of `dir` with FILLER until at most `leaveKiB` KiB are free (the last
 * write that does not fit is where the disk is full; then the filler is cut back).
 */
export function fillDisk(dir: string, leaveKiB = 0): void {
  const fd = openSync(join(dir, FILLER), 'w');
  const page = Buffer.alloc(4096, 7);
  let size = 0;
  try {
    for (;;) {
      try {
        size += writeSync(fd, page);
      } catch (e) {
        assert.equal((e as NodeJS.ErrnoException).code, 'ENOSPC');
        break;
      }
    }
  } finally {
    closeSync(fd);
  }
  if (leaveKiB > 0) {
    const cut = openSync(join(dir, FILLER), 'r+');
    try {
      // ftruncate frees whole pages of a tmpfs file.
      ftruncateSync(cut, Math.max(0, size - leaveKiB * 1024));
    } finally {
      closeSync(cut);
    }
  }
}

/** The names in `dir` other than the filler, sorted: what a test expects to find after a failed write. */
export function namesBeside(dir: string): string[] {
  return readdirSync(dir)
    .filter((n) => n !== FILLER)
    .sort();
}

/** Asserts a one-line ERR_WRITE full-disk sentence for `path`, with the size needed; returns the message. */
export function assertDiskFull(e: unknown, path: string): string {
  assert.ok(e instanceof Error, String(e));
  assert.equal((e as { code?: unknown }).code, 'ERR_WRITE', e.message);
  assert.ok(e.message.startsWith(`Cannot write ${path}: the disk is full (the file needs `), e.message);
  assert.match(e.message, / are free on that file system\); free some space and run the command again\.$/);
  assert.ok(!e.message.includes('\n'), 'one line');
  return e.message;
}
