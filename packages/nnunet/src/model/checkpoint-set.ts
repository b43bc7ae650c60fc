/**
 * A checkpoint is a set of files (fold_N/NAME.json plus the weight files it names) that must never
 * be seen half old, half new. It is published in this order:
 *   1. every data file is written in full as FILE.next (fsynced, atomic);
 *   2. NAME.json.next, naming each file with its size and SHA-256, is written atomically: this one
 *      rename commits the new set;
 *   3. each FILE.next is renamed to FILE, then NAME.json.next to NAME.json.
 * A reader takes the committed set (NAME.json.next, each file from FILE.next or FILE, whichever
 * has the recorded hash) or else the published one (NAME.json and FILE), and accepts it only if
 * every size and hash agrees; the writer's next start finishes step 3 or drops an uncommitted set.
 * Checkpoints written before manifests existed (no `files` in the JSON) are read as they are.
 */
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
} from 'node:fs';
import { join } from 'node:path';
import { NnunetError } from '../errors.js';
import { writeFileAtomic } from '../util/atomic.js';
import { sha256 } from '../util/hash.js';

/** Size and SHA-256 (hex) of one file of a set. */
export interface SetFileRecord {
  bytes: number;
  sha256: string;
}

/** The manifest part of a checkpoint's JSON. */
export interface CheckpointManifest {
  files?: Record<string, SetFileRecord>;
  [key: string]: unknown;
}

/** A set as read: its JSON and the verified bytes of each file it names. */
export interface CheckpointSet {
  json: CheckpointManifest;
  files: Map<string, Buffer>;
  /** 'committed' when the set was read from a commit the writer had not finished publishing. */
  source: 'published' | 'committed';
}

const NEXT = '.next';

function byteLength(data: Uint8Array | readonly Uint8Array[]): number {
  return data instanceof Uint8Array ? data.length : data.reduce((n, p) => n + p.length, 0);
}

function fsyncFolder(folder: string): void {
  // Makes the renames durable; some file systems refuse fsync on folders, which is harmless.
  try {
    const fd = openSync(folder, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // not supported here
  }
}

/**
 * Writes the set `name` in `folder`: `files` (file name -> bytes, names beside NAME.json) and
 * `json` (the manifest is added to it). A file's bytes may come in parts (written one after the other). See the module comment for the order.
 */
export function writeCheckpointSet(
  folder: string,
  name: string,
  files: ReadonlyMap<string, Uint8Array | readonly Uint8Array[]>,
  json: Record<string, unknown>,
): void {
  const records: Record<string, SetFileRecord> = {};
  const jsonFile = `${name}.json`;
  try {
    for (const [file, bytes] of files) {
      writeFileAtomic(join(folder, file + NEXT), bytes);
      records[file] = { bytes: byteLength(bytes), sha256: sha256(bytes) };
    }
    writeFileAtomic(join(folder, jsonFile + NEXT), `${JSON.stringify({ ...json, files: records }, null, 1)}\n`);
    // The commit must be durable before any published file is replaced (a power loss in between
    // would otherwise leave new files under an old NAME.json with no commit to finish).
    fsyncFolder(folder);
  } catch (e) {
    // Not committed: the previous set stays as it was, without this save's files beside it.
    for (const file of Object.keys(records)) rmSync(join(folder, file + NEXT), { force: true });
    throw e;
  }
  publish(folder, jsonFile, Object.keys(records));
}

function publish(folder: string, jsonFile: string, files: readonly string[]): void {
  for (const file of files) {
    if (existsSync(join(folder, file + NEXT))) renameSync(join(folder, file + NEXT), join(folder, file));
  }
  renameSync(join(folder, jsonFile + NEXT), join(folder, jsonFile));
  fsyncFolder(folder);
}

function readJson(path: string): CheckpointManifest | null {
  try {
    const v = JSON.parse(readFileSync(path, 'utf8')) as unknown;
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as CheckpointManifest) : null;
  } catch {
    return null;
  }
}

function readIfMatches(path: string, rec: SetFileRecord): Buffer | null {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch {
    return null;
  }
  return bytes.length === rec.bytes && sha256(bytes) === rec.sha256 ? bytes : null;
}

/** The manifest's files, or those of them named in `only`. */
function wanted(files: Record<string, SetFileRecord>, only: readonly string[] | undefined): [string, SetFileRecord][] {
  return Object.entries(files).filter(([f]) => only === undefined || only.includes(f));
}

/** The committed-but-unpublished set, if its files (those in `only`) are all there. */
function readCommitted(folder: string, name: string, only?: readonly string[]): CheckpointSet | null {
  const json = readJson(join(folder, `${name}.json${NEXT}`));
  if (json === null || json.files === undefined) return null;
  const files = new Map<string, Buffer>();
  for (const [file, rec] of wanted(json.files, only)) {
    const bytes = readIfMatches(join(folder, file + NEXT), rec) ?? readIfMatches(join(folder, file), rec);
    if (bytes === null) return null;
    files.set(file, bytes);
  }
  return { json, files, source: 'committed' };
}

/** True when NAME.json or a commit of it exists (the set may still be unusable). */
export function checkpointSetExists(folder: string, name: string): boolean {
  return existsSync(join(folder, `${name}.json`)) || existsSync(join(folder, `${name}.json${NEXT}`));
}

/**
 * Reads and verifies the set `name` (with `only`, just those of its files: prediction needs the
 * weights, not the optimizer state an export leaves out). `legacyFiles` names the data files of a
 * JSON without a manifest (read unverified). Throws an NnunetError saying what is wrong when no
 * consistent set exists.
 */
export function readCheckpointSet(
  folder: string,
  name: string,
  legacyFiles: readonly string[] = [],
  o: { only?: readonly string[] } = {},
): CheckpointSet {
  // A writer may publish between the reads of a commit and of the published files, which then look
  // mixed for a moment: look again before calling the set damaged.
  for (let attempt = 0; ; attempt++) {
    try {
      return readSetOnce(folder, name, legacyFiles, o.only);
    } catch (e) {
      if (attempt >= 2 || (e as NnunetError).code !== 'ERR_DATASET') throw e;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
    }
  }
}

function readSetOnce(
  folder: string,
  name: string,
  legacyFiles: readonly string[],
  only: readonly string[] | undefined,
): CheckpointSet {
  const committed = readCommitted(folder, name, only);
  if (committed !== null) return committed;
  const jsonPath = join(folder, `${name}.json`);
  if (!existsSync(jsonPath))
    throw new NnunetError('ERR_NOT_FOUND', `${jsonPath} does not exist: there is no ${name} checkpoint.`);
  const json = readJson(jsonPath);
  if (json === null)
    throw new NnunetError('ERR_DATASET', `${jsonPath} is not valid JSON: the ${name} checkpoint is damaged.`);
  const files = new Map<string, Buffer>();
  if (json.files === undefined) {
    for (const file of legacyFiles) {
      const path = join(folder, file);
      if (!existsSync(path))
        throw new NnunetError('ERR_NOT_FOUND', `${path} is missing: the ${name} checkpoint is incomplete.`);
      files.set(file, readFileSync(path));
    }
    return { json, files, source: 'published' };
  }
  for (const [file, rec] of wanted(json.files, only)) {
    const path = join(folder, file);
    const bytes = readIfMatches(path, rec);
    if (bytes === null) {
      const why = existsSync(path)
        ? `does not match ${jsonPath} (size or SHA-256 differs: truncated, or from another save)`
        : 'is missing';
      throw new NnunetError('ERR_DATASET', `${path} ${why}: the ${name} checkpoint is incomplete or damaged.`);
    }
    files.set(file, bytes);
  }
  return { json, files, source: 'published' };
}

/**
 * Run by the writer before it writes again (it holds the folder's lock): finishes publishing
 * committed sets and removes `.next` files of uncommitted ones. Returns a note per action.
 */
export function recoverCheckpointSets(folder: string): string[] {
  if (!existsSync(folder)) return [];
  const notes: string[] = [];
  const entries = readdirSync(folder);
  const commits = entries.filter((f) => f.endsWith(`.json${NEXT}`));
  for (const commit of commits) {
    const name = commit.slice(0, -`.json${NEXT}`.length);
    const set = readCommitted(folder, name);
    if (set !== null) {
      publish(folder, `${name}.json`, Object.keys(set.json.files ?? {}));
      notes.push(`finished publishing the ${name} checkpoint that an interrupted save had committed`);
    } else {
      rmSync(join(folder, commit), { force: true });
      notes.push(`removed an unusable commit record ${join(folder, commit)}`);
    }
  }
  for (const f of readdirSync(folder)) {
    if (!f.endsWith(NEXT)) continue;
    rmSync(join(folder, f), { force: true });
    notes.push(`removed ${join(folder, f)}, left by a save that was interrupted before it committed`);
  }
  return notes;
}

/** Moves the set `name` into the folder `target` (created). Returns whether there was one. */
export function moveCheckpointSet(
  folder: string,
  name: string,
  target: string,
  legacyFiles: readonly string[] = [],
): boolean {
  if (!checkpointSetExists(folder, name)) return false;
  const json = readJson(join(folder, `${name}.json`));
  mkdirSync(target, { recursive: true });
  rmSync(join(folder, `${name}.json${NEXT}`), { force: true });
  // The JSON goes first: a set without its JSON is ignored, never half read.
  renameSync(join(folder, `${name}.json`), join(target, `${name}.json`));
  for (const file of new Set([...Object.keys(json?.files ?? {}), ...legacyFiles])) {
    if (existsSync(join(folder, file))) renameSync(join(folder, file), join(target, file));
  }
  fsyncFolder(folder);
  return true;
}
