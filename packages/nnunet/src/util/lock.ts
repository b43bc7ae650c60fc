/**
 * Folder locks that also work on the network file systems of clusters: a lock is a file created
 * exclusively (O_CREAT|O_EXCL, atomic on NFSv3+ and Lustre, unlike flock on some mounts) that
 * says who holds it: host, PID, the process's start time and the command. A lock whose holder is
 * gone (same host, and the PID is dead or now belongs to another process) is taken over with a
 * note; a live holder, or one on another host that cannot be checked, is a refusal naming it.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { NnunetError } from '../errors.js';

/** What a lock file holds. */
export interface LockOwner {
  host: string;
  pid: number;
  /** The process's start time in clock ticks since boot (/proc/PID/stat), to tell a reused PID; null off Linux. */
  processStart: number | null;
  /** When the lock was taken (ISO time). */
  since: string;
  /** What holds it, e.g. "nnUNet_train 3d_fullres ... fold 0". */
  command: string;
}

export interface FolderLock {
  readonly path: string;
  readonly owner: LockOwner;
  /** The previous holder whose dead lock was taken over, if any. */
  readonly tookOver: LockOwner | null;
  /** Removes the lock file if it is still ours. Idempotent. */
  release(): void;
}

/** Field 22 of /proc/PID/stat (start time in ticks), or null where it cannot be read. */
export function processStartTime(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces: count fields after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const v = Number(rest[19]);
    return Number.isFinite(v) ? v : null;
  } catch {
    return null;
  }
}

/** True when the owner is known to be gone: same host, and its PID is dead or was reused. */
export function ownerIsDead(owner: LockOwner): boolean {
  if (owner.host !== hostname()) return false;
  try {
    process.kill(owner.pid, 0);
  } catch (e) {
    // EPERM: the process exists but belongs to another user.
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
  const start = processStartTime(owner.pid);
  return owner.processStart !== null && start !== null && start !== owner.processStart;
}

function describe(o: LockOwner): string {
  return `${o.command} (PID ${o.pid} on ${o.host}, since ${o.since})`;
}

/** The holder named by a lock file, or null when it is missing or not a lock record. */
export function readLockOwner(path: string): LockOwner | null {
  try {
    const v = JSON.parse(readFileSync(path, 'utf8')) as Partial<LockOwner>;
    if (typeof v.host !== 'string' || typeof v.pid !== 'number') return null;
    return {
      host: v.host,
      pid: v.pid,
      processStart: typeof v.processStart === 'number' ? v.processStart : null,
      since: String(v.since ?? '?'),
      command: String(v.command ?? '?'),
    };
  } catch {
    return null;
  }
}

function tryCreate(path: string, owner: LockOwner): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'wx');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw new NnunetError(
      'ERR_ARGUMENT',
      `Cannot create the lock file ${path} (${(e as Error).message}); check that ${dirname(path)} is writable.`,
      { cause: e },
    );
  }
  try {
    const bytes = Buffer.from(`${JSON.stringify(owner)}\n`);
    let off = 0;
    while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    rmSync(path, { force: true });
    throw new NnunetError('ERR_ARGUMENT', `Cannot write the lock file ${path} (${(e as Error).message}).`, {
      cause: e,
    });
  }
  closeSync(fd);
  return true;
}

const held = new Set<FolderLock>();
let exitHookInstalled = false;

/**
 * Takes the lock file `name` in `folder` for `command`, or throws one sentence naming the holder.
 * `what` names the thing locked for the message ("fold 0 of ...", "the preprocessed task ...").
 * The lock is released by release() or when the process exits normally.
 */
export function acquireFolderLock(folder: string, o: { name?: string; command: string; what: string }): FolderLock {
  const path = join(folder, o.name ?? '.nnunet.lock');
  const owner: LockOwner = {
    host: hostname(),
    pid: process.pid,
    processStart: processStartTime(process.pid),
    since: new Date().toISOString(),
    command: o.command,
  };
  let tookOver: LockOwner | null = null;
  for (let attempt = 0; ; attempt++) {
    if (tryCreate(path, owner)) break;
    const current = readLockOwner(path);
    if (current === null && attempt === 0) {
      // Another process may be between create and write: look once more before judging the file.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
      continue;
    }
    if (current !== null && !ownerIsDead(current)) {
      const sameHost = current.host === hostname();
      throw new NnunetError(
        'ERR_ARGUMENT',
        `${o.what} is in use by ${describe(current)}; wait for it to finish${sameHost ? '' : `, or if that job is gone, delete ${path}`}.`,
      );
    }
    if (attempt > 3) {
      throw new NnunetError(
        'ERR_ARGUMENT',
        `Cannot take the lock ${path}: other processes keep taking it over; run one process per folder.`,
      );
    }
    // Dead (or unreadable twice): move it aside under a unique name, so two processes taking it over
    // at once cannot both succeed; whoever's rename fails simply tries to create again.
    try {
      renameSync(path, join(folder, `${basename(path)}.stale-${process.pid}-${attempt}`));
      rmSync(join(folder, `${basename(path)}.stale-${process.pid}-${attempt}`), { force: true });
      tookOver = current;
    } catch {
      // someone else moved it first
    }
  }
  let released = false;
  const lock: FolderLock = {
    path,
    owner,
    tookOver,
    release() {
      if (released) return;
      released = true;
      held.delete(lock);
      const now = readLockOwner(path);
      if (now !== null && now.pid === owner.pid && now.host === owner.host && now.since === owner.since)
        rmSync(path, { force: true });
    },
  };
  held.add(lock);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const l of [...held]) l.release();
    });
  }
  return lock;
}

/** The note to log when a dead holder's lock was taken over. */
export function takeoverNote(lock: FolderLock): string | null {
  return lock.tookOver === null
    ? null
    : `took over the lock ${lock.path} left by ${describe(lock.tookOver)}, which is no longer running`;
}
