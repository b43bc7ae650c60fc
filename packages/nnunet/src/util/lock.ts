/**
 * Folder locks that also work on the network file systems of clusters: a lock is a file created
 * exclusively (O_CREAT|O_EXCL, atomic on NFSv3+ and Lustre, unlike flock on some mounts) that
 * says who holds it: host, PID, the process's start time and the command. A lock whose holder is
 * gone (same host, and the PID is dead or now belongs to another process; or an earlier run of the
 * same requeued Slurm job) is taken over with a note, by one process at a time under a guard file;
 * a live holder, or one on another host that cannot be checked, is a refusal naming it.
 */
import {
  closeSync,
  existsSync,
  fsyncSync,
  linkSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { NnunetError } from '../errors.js';
import { temporaryName } from './atomic.js';

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
  /** Under Slurm: the job id and its restart count (a requeued job keeps its id and counts up). */
  slurmJob?: { id: string; restart: number };
}

/** This process's Slurm job (SLURM_JOB_ID, SLURM_RESTART_COUNT), if any. */
function currentSlurmJob(): { id: string; restart: number } | undefined {
  const id = process.env.SLURM_JOB_ID;
  return id === undefined || id === '' ? undefined : { id, restart: Number(process.env.SLURM_RESTART_COUNT ?? 0) || 0 };
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

/**
 * True when the owner is known to be gone: same host, and its PID is dead or was reused; or an
 * earlier run of this very Slurm job (requeued after its node was lost: same job id, lower restart
 * count), whatever host it ran on.
 */
export function ownerIsDead(owner: LockOwner): boolean {
  const job = currentSlurmJob();
  if (owner.slurmJob !== undefined && job !== undefined && owner.slurmJob.id === job.id) {
    if (owner.slurmJob.restart < job.restart) return true;
  }
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

function sameOwner(a: LockOwner, b: LockOwner): boolean {
  return a.pid === b.pid && a.host === b.host && a.since === b.since;
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
      ...(typeof v.slurmJob?.id === 'string' && typeof v.slurmJob.restart === 'number'
        ? { slurmJob: { id: v.slurmJob.id, restart: v.slurmJob.restart } }
        : {}),
    };
  } catch {
    return null;
  }
}

/**
 * Creates the lock file with its whole content at once: the owner is written and synced to a
 * temporary file that is then hard-linked to `path` (link fails when `path` exists, also on NFS).
 * No other process can see a half-written lock and judge it unreadable, hence dead.
 */
function tryCreate(path: string, owner: LockOwner): boolean {
  const tmp = temporaryName(path);
  try {
    const fd = openSync(tmp, 'wx');
    try {
      const bytes = Buffer.from(`${JSON.stringify(owner)}\n`);
      let off = 0;
      while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    rmSync(tmp, { force: true });
    throw new NnunetError(
      'ERR_ARGUMENT',
      `Cannot write the lock file ${path} (${(e as Error).message}); check that ${dirname(path)} is writable.`,
      { cause: e },
    );
  }
  try {
    linkSync(tmp, path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw new NnunetError(
      'ERR_ARGUMENT',
      `Cannot create the lock file ${path} (${(e as Error).message}); check that ${dirname(path)} is writable.`,
      { cause: e },
    );
  } finally {
    rmSync(tmp, { force: true });
  }
}

function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** A takeover guard older than this was left by a process that died while taking over. */
const GUARD_STALE_MS = 10_000;

/**
 * Removes the lock file at `path` if it still holds `judged` (the holder found dead; null: an
 * unreadable file). Only one process at a time may do this, under a guard file created
 * exclusively: a lock is never moved or removed while a new holder may already own it. Returns
 * whether it removed the dead lock; either way the caller tries to create the lock again.
 */
function removeDeadLock(path: string, judged: LockOwner | null): boolean {
  const guard = `${path}.takeover`;
  try {
    closeSync(openSync(guard, 'wx'));
  } catch {
    try {
      if (Date.now() - statSync(guard).mtimeMs > GUARD_STALE_MS) rmSync(guard, { force: true });
    } catch {
      // the guard is gone already
    }
    pause(20 + Math.random() * 30);
    return false;
  }
  try {
    const now = readLockOwner(path);
    const still = judged === null ? now === null && existsSync(path) : now !== null && sameOwner(now, judged);
    if (still) rmSync(path, { force: true });
    return still;
  } finally {
    rmSync(guard, { force: true });
  }
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
  const job = currentSlurmJob();
  if (job !== undefined) owner.slurmJob = job;
  let tookOver: LockOwner | null = null;
  for (let attempt = 0; ; attempt++) {
    if (tryCreate(path, owner)) break;
    const current = readLockOwner(path);
    if (current === null && attempt === 0) {
      // Another process may be between create and write: look once more before judging the file.
      pause(200);
      continue;
    }
    if (current !== null && !ownerIsDead(current)) {
      const sameHost = current.host === hostname();
      throw new NnunetError(
        'ERR_ARGUMENT',
        `${o.what} is in use by ${describe(current)}; wait for it to finish${sameHost ? '' : `, or if that job is gone, delete ${path}`}.`,
      );
    }
    if (attempt > 50) {
      throw new NnunetError(
        'ERR_ARGUMENT',
        `Cannot take the lock ${path}: other processes keep taking it over; run one process per folder.`,
      );
    }
    if (removeDeadLock(path, current)) tookOver = current;
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
      if (now !== null && sameOwner(now, owner)) rmSync(path, { force: true });
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
