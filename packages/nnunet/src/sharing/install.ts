/**
 * Installing a model archive into $RESULTS_FOLDER/nnUNet (v1's nnUNet_install_pretrained_model_from_zip).
 *
 * v1's archives hold paths relative to $RESULTS_FOLDER/nnUNet: every file lies inside a model
 * folder `<configuration>/<TaskXXX_NAME>/<trainer>__<plans>/` or an ensemble folder
 * `ensembles/<TaskXXX_NAME>/<name>/`; archives whose entries start with `nnUNet/` (relative to
 * $RESULTS_FOLDER) are accepted too. Every entry name is checked before anything is written (no
 * absolute paths, drive letters, `..`, links, special files, duplicates, file/folder clashes, or
 * files outside such a folder), the sizes it declares are held to caps against zip bombs (total
 * bytes, and how many times an entry or the whole archive expands), files and folders a model
 * folder does not hold (isKnownModelPath) are refused, listed, unless explicitly allowed, every
 * local header is checked (no two entries may share data), and the whole archive is extracted and
 * CRC-checked into a staging folder inside $RESULTS_FOLDER. Then, like v1's unzip over what is there, the files are merged
 * into place one by one (each with a rename): files the archive does not contain are kept,
 * identical files are left alone, and an existing file with different bytes is replaced only when
 * asked (otherwise nothing changes). A failure half-way through the merge puts everything back.
 */
import {
  closeSync,
  copyFileSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readSync,
  renameSync,
  rmdirSync,
  rmSync,
  type Stats,
  statSync,
} from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';
import { NnunetError } from '../errors.js';
import { crc32Update, METHOD_DEFLATE, METHOD_STORED, type ZipEntry, ZipReader } from '../io/zip.js';
import { CONFIGURATIONS } from '../model/configuration.js';
import {
  BEST_CHECKPOINT,
  FINAL_CHECKPOINT,
  LATEST_CHECKPOINT,
  MODEL_PLANS_FILE,
  V1_CHECKPOINT_SUFFIX,
  V1_PLANS_FILE,
} from '../model/layout.js';
import { RESULTS_SUBFOLDER, taskIdOf } from '../model/paths.js';

/** Top-level folders of $RESULTS_FOLDER/nnUNet a model archive may write into. */
export const ARCHIVE_TOP_FOLDERS: readonly string[] = [...CONFIGURATIONS, 'ensembles'];
const ENSEMBLES = 'ensembles';
/** Depth of a model folder below $RESULTS_FOLDER/nnUNet: <configuration>/<task>/<trainer>__<plans>. */
const UNIT_DEPTH = 3;
/** Folders macOS adds to archives; they carry no model data and are skipped. */
const SKIPPED_TOP = '__MACOSX';
/** How many conflicting paths a refusal lists by name. */
const LISTED = 3;
/**
 * Caps on what an archive may unpack to, checked on the central directory before anything is
 * written (extraction never writes more than an entry declares). Model files are float weights,
 * JSON, pickles and images: they deflate two-fold at best, and even the largest published model
 * archives unpack to a few GiB; a zip bomb expands a thousand-fold, to terabytes.
 */
export const DEFAULT_MAX_INSTALL_BYTES = 32 * 1024 ** 3;
export const DEFAULT_MAX_COMPRESSION_RATIO = 100;
/** Entries (and archives) smaller than this may expand any number of times: a few MiB harm nobody. */
const RATIO_FLOOR_BYTES = 1024 ** 2;

/** Files a model folder holds directly (what nnUNet_export_model_to_zip writes, ours and v1's). */
const MODEL_FOLDER_FILES: readonly string[] = [MODEL_PLANS_FILE, V1_PLANS_FILE, 'postprocessing.json'];
/** Files an ensemble folder holds. */
const ENSEMBLE_FOLDER_FILES: readonly string[] = ['postprocessing.json'];
/** Fold folders: fold_0 ... fold_N and fold_all. */
const FOLD_FOLDER = /^fold_(?:\d+|all)$/;
/** Files v1 ships beside a fold's checkpoint. */
const FOLD_EXTRA_FILES: readonly string[] = ['debug.json', 'progress.png', 'network_architecture.pdf'];
const CHECKPOINT_NAMES = `(?:${[FINAL_CHECKPOINT, BEST_CHECKPOINT, LATEST_CHECKPOINT].join('|')})`;
/**
 * A fold's checkpoint files: ours, the set NAME.json with NAME.safetensors and
 * NAME.optimizer.safetensors; v1's NAME.model and NAME.model.pkl.
 */
const CHECKPOINT_FILE = new RegExp(
  `^${CHECKPOINT_NAMES}(?:(?:\\.optimizer)?\\.safetensors|\\.json|${V1_CHECKPOINT_SUFFIX.replace('.', '\\.')}(?:\\.pkl)?)$`,
);

/**
 * Whether the layout of a model archive knows this path (components below $RESULTS_FOLDER/nnUNet,
 * already known to lie in a model or ensemble folder): the files nnUNet_export_model_to_zip writes
 * and a fold's other checkpoints; for folders, the model, ensemble and fold folders.
 */
export function isKnownModelPath(parts: readonly string[], isDirectory: boolean): boolean {
  const inUnit = parts.slice(UNIT_DEPTH);
  if (inUnit.length === 0) return isDirectory;
  const [first, second, ...rest] = inUnit as [string, ...string[]];
  if (parts[0] === ENSEMBLES) return !isDirectory && inUnit.length === 1 && ENSEMBLE_FOLDER_FILES.includes(first);
  if (inUnit.length === 1) return isDirectory ? FOLD_FOLDER.test(first) : MODEL_FOLDER_FILES.includes(first);
  if (isDirectory || rest.length > 0 || second === undefined || !FOLD_FOLDER.test(first)) return false;
  return FOLD_EXTRA_FILES.includes(second) || CHECKPOINT_FILE.test(second);
}

export interface PlannedFile {
  entry: ZipEntry;
  /** Path components below $RESULTS_FOLDER/nnUNet. */
  parts: string[];
}

export interface InstallPlan {
  files: PlannedFile[];
  /** Directory entries inside model folders (path components below $RESULTS_FOLDER/nnUNet). */
  dirs: string[][];
  /** The model and ensemble folders the archive writes into, as '/'-joined paths below nnUNet/. */
  units: string[];
  /** Total uncompressed bytes. */
  bytes: number;
  /** Files and folders the model layout does not know, as '/'-joined paths below nnUNet/ (only when allowed). */
  unknown: string[];
}

/**
 * Why the leading components of an entry (below nnUNet/) are not a model or ensemble folder, or
 * undefined when they are (or may still become one: a folder entry shallower than a model folder).
 */
function layoutProblem(parts: readonly string[]): string | undefined {
  const [top, task, folder] = parts;
  if (task !== undefined && taskIdOf(task) === undefined) return `names the task folder "${task}", not TaskXXX_NAME`;
  if (folder !== undefined && top !== ENSEMBLES && !/^.+__.+$/.test(folder)) {
    return `names the model folder "${folder}", not <trainer>__<plans>`;
  }
  return undefined;
}

export interface InstallLimits {
  /** Most bytes the archive may unpack to (default DEFAULT_MAX_INSTALL_BYTES, 32 GiB). */
  maxBytes?: number;
  /** Most times an entry, or the whole archive, may expand (default DEFAULT_MAX_COMPRESSION_RATIO, 100). */
  maxRatio?: number;
  /**
   * Install files and folders the model layout does not know (see isKnownModelPath) too, instead of
   * refusing the archive; they are listed in the result.
   */
  allowUnknownFiles?: boolean;
}

function sizeText(bytes: number): string {
  const [unit, scale] =
    bytes >= 1024 ** 3 ? ['GiB', 1024 ** 3] : bytes >= 1024 ** 2 ? ['MiB', 1024 ** 2] : ['KiB', 1024];
  return `${(bytes / scale).toFixed(1)} ${unit}`;
}

/**
 * Checks every entry of an archive and maps it below $RESULTS_FOLDER/nnUNet; throws ERR_DATASET
 * naming the archive and the first offending entry. `archiveBytes` (the archive's size) lets the
 * expansion of the whole archive be capped too. Pure: touches no file.
 */
export function planInstall(
  zipPath: string,
  entries: readonly ZipEntry[],
  limits: InstallLimits = {},
  archiveBytes?: number,
): InstallPlan {
  const reject = (name: string, why: string): never => {
    throw new NnunetError(
      'ERR_DATASET',
      `${zipPath} was not installed: its entry "${name}" ${why}; nothing was written (use an archive made by nnUNet_export_model_to_zip).`,
    );
  };
  const layout = `<configuration>/<TaskXXX_NAME>/<trainer>__<plans>/ or ${ENSEMBLES}/<TaskXXX_NAME>/<name>/`;
  const files: PlannedFile[] = [];
  const dirs: string[][] = [];
  // Case-insensitive keys, so that two names cannot land on one path on macOS or Windows either.
  const fileKeys = new Map<string, string>();
  const dirKeys = new Map<string, string>();
  const allParts: { name: string; parts: string[] }[] = [];
  const maxBytes = limits.maxBytes ?? DEFAULT_MAX_INSTALL_BYTES;
  const maxRatio = limits.maxRatio ?? DEFAULT_MAX_COMPRESSION_RATIO;
  const unknown: { name: string; path: string }[] = [];
  let bytes = 0;
  for (const entry of entries) {
    const name = entry.name;
    if (name.includes('\0')) reject(name, 'contains a NUL character');
    if (name.includes('\\')) reject(name, 'contains a backslash (a Windows path separator)');
    if (name.startsWith('/')) reject(name, 'is an absolute path');
    if (/^[A-Za-z]:/.test(name)) reject(name, 'starts with a drive letter');
    if (entry.isSymlink) reject(name, 'is a symbolic link');
    if (entry.isSpecial) reject(name, 'is not a regular file or folder');
    if (entry.encrypted) reject(name, 'is encrypted');
    const parts = name.split('/');
    if (parts[parts.length - 1] === '') parts.pop();
    if (parts.length === 0) reject(name, 'has an empty name');
    for (const p of parts) {
      if (p === '' || p === '.' || p === '..') reject(name, `has the path component "${p}"`);
      if (p.includes(':')) reject(name, 'has a ":" in a path component');
    }
    if (parts[0] === SKIPPED_TOP) continue;
    // A leading nnUNet/ folder (entries relative to $RESULTS_FOLDER); a file named nnUNet is no such folder.
    if (parts[0] === RESULTS_SUBFOLDER && (entry.isDirectory || parts.length > 1)) parts.shift();
    if (parts.length === 0) continue;
    if (!ARCHIVE_TOP_FOLDERS.includes(parts[0] as string)) {
      reject(
        name,
        `is not inside ${ARCHIVE_TOP_FOLDERS.map((t) => `${t}/`).join(', ')} (the layout of $RESULTS_FOLDER/nnUNet), so this is not an nnU-Net model archive`,
      );
    }
    if (!entry.isDirectory && parts.length <= UNIT_DEPTH) {
      reject(name, `is a file outside a model folder (model files belong in ${layout})`);
    }
    const problem = layoutProblem(parts);
    if (problem !== undefined) reject(name, `${problem} (model files belong in ${layout})`);
    const key = parts.join('/').toLowerCase();
    allParts.push({ name, parts });
    if ((!entry.isDirectory || parts.length >= UNIT_DEPTH) && !isKnownModelPath(parts, entry.isDirectory)) {
      unknown.push({ name, path: parts.join('/') });
    }
    if (entry.isDirectory) {
      if (entry.size !== 0) reject(name, 'is a folder with data');
      if (!dirKeys.has(key)) dirKeys.set(key, name);
      if (parts.length >= UNIT_DEPTH) dirs.push(parts);
      continue;
    }
    if (entry.method !== METHOD_STORED && entry.method !== METHOD_DEFLATE) {
      reject(name, `uses compression method ${entry.method} (only stored and deflate are supported)`);
    }
    if (fileKeys.has(key)) reject(name, `appears twice (also as "${fileKeys.get(key)}")`);
    if (entry.size >= RATIO_FLOOR_BYTES && entry.size > maxRatio * Math.max(1, entry.compressedSize)) {
      reject(
        name,
        `would expand ${Math.round(entry.size / Math.max(1, entry.compressedSize))}-fold (${entry.compressedSize} bytes to ${entry.size}), more than the ${maxRatio}-fold any model file needs: this is a zip bomb or a damaged archive`,
      );
    }
    fileKeys.set(key, name);
    files.push({ entry, parts });
    bytes += entry.size;
  }
  const bomb = (why: string): never => {
    throw new NnunetError(
      'ERR_DATASET',
      `${zipPath} was not installed: ${why}; nothing was written (use an archive made by nnUNet_export_model_to_zip).`,
    );
  };
  if (bytes > maxBytes) {
    bomb(
      `it would unpack to ${sizeText(bytes)}, more than the limit of ${sizeText(maxBytes)} (a zip bomb or not a model archive)`,
    );
  }
  if (archiveBytes !== undefined && bytes >= RATIO_FLOOR_BYTES && bytes > maxRatio * Math.max(1, archiveBytes)) {
    bomb(
      `its ${sizeText(archiveBytes)} would unpack to ${sizeText(bytes)}, more than ${maxRatio} times as much (a zip bomb: entries that expand too much or share their data)`,
    );
  }
  if (files.length === 0) {
    throw new NnunetError('ERR_DATASET', `${zipPath} holds no model files: it is not an nnU-Net model archive.`);
  }
  // One path cannot be both a file and a folder: neither as a folder entry nor as the parent of another entry.
  for (const [key, name] of fileKeys) {
    const folder = dirKeys.get(key);
    if (folder !== undefined) reject(name, `is a file but the entry "${folder}" makes it a folder`);
  }
  for (const { name, parts } of allParts) {
    for (let d = 1; d < parts.length; d++) {
      const clash = fileKeys.get(parts.slice(0, d).join('/').toLowerCase());
      if (clash !== undefined) reject(clash, `is a file but also the folder of "${name}"`);
    }
  }
  if (unknown.length > 0 && limits.allowUnknownFiles !== true) {
    throw new NnunetError(
      'ERR_ARGUMENT',
      `${zipPath} was not installed: ${unknown.length === 1 ? 'its entry' : `${unknown.length} of its entries`} ${listed(unknown.map((u) => u.name))} ${unknown.length === 1 ? 'is' : 'are'} not part of an nnU-Net model (model folders hold ${MODEL_FOLDER_FILES.join(', ')} and fold_N/ folders with checkpoints, ${FOLD_EXTRA_FILES.join(', ')}); nothing was written (if you trust the archive, install these too with nnUNet_install_pretrained_model_from_zip --allow_unknown_files ${zipPath}).`,
    );
  }
  const units = [
    ...new Set([...files.map((f) => f.parts), ...dirs].map((p) => p.slice(0, UNIT_DEPTH).join('/'))),
  ].sort();
  return { files, dirs, units, bytes, unknown: [...new Set(unknown.map((u) => u.path))] };
}

export interface InstallOptions extends InstallLimits {
  /** $RESULTS_FOLDER (the archive goes into its nnUNet/ sub-folder). */
  resultsFolder: string;
  /** Replace existing files whose bytes differ from the archive's (default: refuse). */
  overwrite?: boolean;
  /** Called with uncompressed bytes extracted so far. */
  onProgress?: (done: number, total: number) => void;
}

export interface InstallResult {
  /** Absolute paths of the model (and ensemble) folders the archive was merged into. */
  installed: string[];
  /** Those among them in which at least one existing file was replaced. */
  replaced: string[];
  /** Absolute paths of the files written where none existed. */
  addedFiles: string[];
  /** Absolute paths of existing files replaced by the archive's different bytes. */
  replacedFiles: string[];
  /** Absolute paths of existing files identical to the archive's, left as they were. */
  unchangedFiles: string[];
  /** Absolute paths of files and folders installed that the model layout does not know (allowUnknownFiles). */
  unknownFiles: string[];
}

/** The path's stats, or undefined where nothing is (a missing path, or one below a file). */
function statOrUndefined(zipPath: string, path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw fsFailure(e, zipPath, path, 'checking');
  }
}

/** CRC-32 of a file (read in chunks). */
function fileCrc(path: string): number {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(1 << 20);
    let crc = 0;
    for (let pos = 0; ; ) {
      const n = readSync(fd, buf, 0, buf.length, pos);
      if (n === 0) return crc;
      crc = crc32Update(buf.subarray(0, n), crc);
      pos += n;
    }
  } finally {
    closeSync(fd);
  }
}

/** Whether two files of equal size have the same bytes (read in chunks). */
function sameBytes(a: string, b: string): boolean {
  const fa = openSync(a, 'r');
  try {
    const fb = openSync(b, 'r');
    try {
      const ba = Buffer.alloc(1 << 20);
      const bb = Buffer.alloc(1 << 20);
      for (let pos = 0; ; ) {
        const na = readSync(fa, ba, 0, ba.length, pos);
        let nb = 0;
        while (nb < na) {
          const n = readSync(fb, bb, nb, na - nb, pos + nb);
          if (n === 0) return false;
          nb += n;
        }
        if (na === 0) return readSync(fb, bb, 0, 1, pos) === 0;
        if (!ba.subarray(0, na).equals(bb.subarray(0, na))) return false;
        pos += na;
      }
    } finally {
      closeSync(fb);
    }
  } finally {
    closeSync(fa);
  }
}

function listed(paths: readonly string[]): string {
  const more = paths.length - LISTED;
  return `${paths.slice(0, LISTED).join(', ')}${more > 0 ? ` (and ${more} more)` : ''}`;
}

/** A file-system failure during the install as one sentence naming the path. */
function fsFailure(e: unknown, zipPath: string, path: string, doing = 'writing'): NnunetError {
  if (e instanceof NnunetError) return e;
  const code = (e as { code?: unknown }).code;
  return new NnunetError(
    'ERR_ARGUMENT',
    `${zipPath} was not installed: ${doing} ${path} failed (${typeof code === 'string' ? code : (e as Error).message}); nothing was changed (check free disk space and write permission in $RESULTS_FOLDER).`,
    { cause: e },
  );
}

/** Moves `from` onto `to` (replacing it atomically), copying first when they are on different file systems. */
function moveInto(from: string, to: string): void {
  try {
    renameSync(from, to);
  } catch (e) {
    if ((e as { code?: unknown }).code !== 'EXDEV') throw e;
    const tmp = `${to}.nnunet-install-${process.pid}`;
    try {
      copyFileSync(from, tmp);
      renameSync(tmp, to);
    } catch (e2) {
      rmSync(tmp, { force: true });
      throw e2;
    }
  }
}

/**
 * Installs a model archive into `resultsFolder`/nnUNet. All checks and the full extraction (with
 * CRC checks) happen in a staging folder first; then the files are merged into place. On any
 * refusal or failure nothing under nnUNet/ changes.
 */
export async function installModelFromZip(zipPath: string, options: InstallOptions): Promise<InstallResult> {
  const reader = await ZipReader.open(zipPath);
  const plan = planInstall(zipPath, reader.entries, options, reader.fileSize);
  await reader.checkLocalHeaders();
  const trained = join(options.resultsFolder, RESULTS_SUBFOLDER);
  const target = (parts: readonly string[]): string => join(trained, ...parts);
  const refuse = (why: string, fix: string): never => {
    throw new NnunetError('ERR_ARGUMENT', `${zipPath} was not installed because ${why}: ${fix}; nothing was changed.`);
  };

  // Existing paths of the wrong kind are never overwritten: a folder where the archive has a file,
  // or a file where it needs a folder.
  const wrongKind: string[] = [];
  const folders = new Set<string>();
  for (const parts of [...plan.files.map((f) => f.parts.slice(0, -1)), ...plan.dirs]) {
    for (let d = 1; d <= parts.length; d++) folders.add(target(parts.slice(0, d)));
  }
  folders.add(trained);
  for (const folder of [...folders].sort()) {
    const s = statOrUndefined(zipPath, folder);
    if (s !== undefined && !s.isDirectory()) wrongKind.push(`${folder} (a file where the archive has a folder)`);
  }
  // Existing files: a different size or CRC-32 is a conflict; the others are compared byte by
  // byte after extraction (to rule out a CRC collision) and left alone when identical.
  const crcOf = (path: string): number => {
    try {
      return fileCrc(path);
    } catch (e) {
      throw fsFailure(e, zipPath, path, 'reading');
    }
  };
  const existing = new Set<PlannedFile>();
  const sameCrc: PlannedFile[] = [];
  const conflicts: string[] = [];
  for (const f of plan.files) {
    const path = target(f.parts);
    const s = statOrUndefined(zipPath, path);
    if (s === undefined) continue;
    existing.add(f);
    if (!s.isFile()) wrongKind.push(`${path} (a folder where the archive has a file)`);
    else if (s.size !== f.entry.size || crcOf(path) !== f.entry.crc32) conflicts.push(path);
    else sameCrc.push(f);
  }
  if (wrongKind.length > 0) {
    refuse(
      `${wrongKind.length === 1 ? 'this path is' : 'these paths are'} in the way: ${listed(wrongKind)}`,
      'move or remove them first',
    );
  }
  const overwrite = options.overwrite === true;
  const refuseConflicts = (paths: readonly string[]): void => {
    if (paths.length === 0 || overwrite) return;
    refuse(
      `${paths.length === 1 ? 'this file already exists' : `${paths.length} files already exist`} with different contents: ${listed(paths)}`,
      `pass --overwrite_existing to replace ${paths.length === 1 ? 'it' : 'them'}, or move ${paths.length === 1 ? 'it' : 'them'} away first`,
    );
  };
  refuseConflicts(conflicts.sort()); // before extracting anything

  let staging: string;
  try {
    mkdirSync(options.resultsFolder, { recursive: true });
    staging = mkdtempSync(join(options.resultsFolder, '.nnunet-install-'));
  } catch (e) {
    throw fsFailure(e, zipPath, options.resultsFolder);
  }
  const stagingRoot = resolve(staging) + sep;
  const dest = (parts: readonly string[]): string => {
    const p = resolve(staging, ...parts);
    // planInstall already forbids this; the check keeps extraction safe on its own.
    if (!p.startsWith(stagingRoot)) throw new NnunetError('ERR_DATASET', `${zipPath}: ${parts.join('/')} escapes.`);
    return p;
  };
  const result: InstallResult = {
    installed: [],
    replaced: [],
    addedFiles: [],
    replacedFiles: [],
    unchangedFiles: [],
    unknownFiles: [],
  };
  // What the merge did, to undo it on failure.
  const createdFolders: string[] = [];
  const placed: { path: string; backup?: string }[] = [];
  try {
    let done = 0;
    for (const f of plan.files) {
      const path = dest(f.parts);
      mkdirSync(dirname(path), { recursive: true });
      await reader.extract(f.entry, path);
      done += f.entry.size;
      options.onProgress?.(done, plan.bytes);
    }
    // Existing files with the archive's size and CRC: identical ones stay, different ones conflict.
    const unchanged = new Set<PlannedFile>();
    for (const f of sameCrc) {
      let same: boolean;
      try {
        same = sameBytes(dest(f.parts), target(f.parts));
      } catch (e) {
        throw fsFailure(e, zipPath, target(f.parts), 'reading');
      }
      if (same) unchanged.add(f);
      else conflicts.push(target(f.parts));
    }
    refuseConflicts(conflicts.sort());

    const backups = join(staging, '.replaced');
    mkdirSync(backups);
    for (const folder of [...folders].sort()) {
      if (statOrUndefined(zipPath, folder) !== undefined) continue;
      try {
        mkdirSync(folder);
      } catch (e) {
        throw fsFailure(e, zipPath, folder);
      }
      createdFolders.push(folder);
    }
    for (const [i, f] of plan.files.entries()) {
      const path = target(f.parts);
      if (unchanged.has(f)) {
        result.unchangedFiles.push(path);
        continue;
      }
      try {
        const exists = existing.has(f);
        const step: { path: string; backup?: string } = { path };
        if (exists) {
          // Keep the old bytes until the install has succeeded (a hard link costs no copy).
          step.backup = join(backups, String(i));
          try {
            linkSync(path, step.backup);
          } catch {
            copyFileSync(path, step.backup);
          }
        }
        moveInto(dest(f.parts), path);
        placed.push(step);
        (exists ? result.replacedFiles : result.addedFiles).push(path);
      } catch (e) {
        throw fsFailure(e, zipPath, path);
      }
    }
  } catch (e) {
    // Undo in reverse order: restore replaced files, remove new ones and the folders made for them.
    for (const step of placed.reverse()) {
      try {
        if (step.backup !== undefined) renameSync(step.backup, step.path);
        else rmSync(step.path, { force: true });
      } catch {
        // best effort; the error below names the install that failed
      }
    }
    for (const folder of createdFolders.reverse()) {
      try {
        rmdirSync(folder);
      } catch {
        // not empty (someone else wrote there) or already gone
      }
    }
    rmSync(staging, { recursive: true, force: true });
    throw e;
  }
  rmSync(staging, { recursive: true, force: true });
  result.unknownFiles = plan.unknown.map((p) => target(p.split('/')));
  for (const unit of plan.units) {
    const folder = target(unit.split('/'));
    result.installed.push(folder);
    if (result.replacedFiles.some((p) => p.startsWith(folder + sep))) result.replaced.push(folder);
  }
  return result;
}
