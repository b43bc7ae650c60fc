/**
 * Installing a model archive into $RESULTS_FOLDER/nnUNet (v1's nnUNet_install_pretrained_model_from_zip).
 *
 * v1's archives hold paths relative to $RESULTS_FOLDER/nnUNet (`3d_fullres/Task004_Hippocampus/
 * nnUNetTrainerV2__nnUNetPlansv2.1/fold_0/...`, `ensembles/...`); archives whose entries start with
 * `nnUNet/` (relative to $RESULTS_FOLDER) are accepted too. Unlike v1, which extracts blindly and
 * overwrites, every entry name is checked before anything is written (no absolute paths, drive
 * letters, `..`, links, special files or duplicates), the whole archive is extracted and
 * CRC-checked into a staging folder inside $RESULTS_FOLDER, and only then is each model folder
 * moved into place with a rename. Existing model folders are replaced only when asked.
 */
import { existsSync, lstatSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';
import { NnunetError } from '../errors.js';
import { METHOD_DEFLATE, METHOD_STORED, type ZipEntry, ZipReader } from '../io/zip.js';
import { CONFIGURATIONS, RESULTS_SUBFOLDER } from '../paths.js';

/** Top-level folders of $RESULTS_FOLDER/nnUNet a model archive may write into. */
export const ARCHIVE_TOP_FOLDERS: readonly string[] = [...CONFIGURATIONS, 'ensembles'];
/** Depth of a model folder below $RESULTS_FOLDER/nnUNet: <configuration>/<task>/<trainer>__<plans>. */
const UNIT_DEPTH = 3;
/** Folders macOS adds to archives; they carry no model data and are skipped. */
const SKIPPED_TOP = '__MACOSX';

export interface PlannedFile {
  entry: ZipEntry;
  /** Path components below $RESULTS_FOLDER/nnUNet. */
  parts: string[];
}

export interface InstallPlan {
  files: PlannedFile[];
  /** Directory entries inside model folders (path components below $RESULTS_FOLDER/nnUNet). */
  dirs: string[][];
  /** The folders (or top-level files) that are moved into place, as '/'-joined paths below nnUNet/. */
  units: string[];
  /** Total uncompressed bytes. */
  bytes: number;
}

/**
 * Checks every entry of an archive and maps it below $RESULTS_FOLDER/nnUNet; throws ERR_DATASET
 * naming the archive and the first offending entry. Pure: touches no file.
 */
export function planInstall(zipPath: string, entries: readonly ZipEntry[]): InstallPlan {
  const reject = (name: string, why: string): never => {
    throw new NnunetError(
      'ERR_DATASET',
      `${zipPath} was not installed: its entry "${name}" ${why}; nothing was written (use an archive made by nnUNet_export_model_to_zip).`,
    );
  };
  const files: PlannedFile[] = [];
  const dirs: string[][] = [];
  const seen = new Map<string, string>();
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
    if (parts[0] === RESULTS_SUBFOLDER) parts.shift();
    if (parts.length === 0) continue;
    if (!ARCHIVE_TOP_FOLDERS.includes(parts[0] as string)) {
      reject(
        name,
        `is not inside ${ARCHIVE_TOP_FOLDERS.map((t) => `${t}/`).join(', ')} (the layout of $RESULTS_FOLDER/nnUNet), so this is not an nnU-Net model archive`,
      );
    }
    if (entry.isDirectory) {
      if (entry.size !== 0) reject(name, 'is a folder with data');
      if (parts.length >= UNIT_DEPTH) dirs.push(parts);
      continue;
    }
    if (entry.method !== METHOD_STORED && entry.method !== METHOD_DEFLATE) {
      reject(name, `uses compression method ${entry.method} (only stored and deflate are supported)`);
    }
    // Case-insensitive, so that two names cannot land on one file on macOS or Windows either.
    const key = parts.join('/').toLowerCase();
    if (seen.has(key)) reject(name, `appears twice (also as "${seen.get(key)}")`);
    seen.set(key, name);
    files.push({ entry, parts });
    bytes += entry.size;
  }
  if (files.length === 0) {
    throw new NnunetError('ERR_DATASET', `${zipPath} holds no model files: it is not an nnU-Net model archive.`);
  }
  // A file may not also be a folder of another entry.
  for (const f of files) {
    for (let d = 1; d < f.parts.length; d++) {
      const prefix = f.parts.slice(0, d).join('/').toLowerCase();
      const clash = seen.get(prefix);
      if (clash !== undefined) reject(clash, `is a file but also the folder of "${f.entry.name}"`);
    }
  }
  const units = [
    ...new Set([...files.map((f) => f.parts), ...dirs].map((p) => p.slice(0, UNIT_DEPTH).join('/'))),
  ].sort();
  return { files, dirs, units, bytes };
}

export interface InstallOptions {
  /** $RESULTS_FOLDER (the archive goes into its nnUNet/ sub-folder). */
  resultsFolder: string;
  /** Replace model folders that already exist (default: refuse). */
  overwrite?: boolean;
  /** Called with uncompressed bytes extracted so far. */
  onProgress?: (done: number, total: number) => void;
}

export interface InstallResult {
  /** Absolute paths of the installed model folders (and ensemble folders). */
  installed: string[];
  /** Those among them that replaced an existing folder. */
  replaced: string[];
}

function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Installs a model archive into `resultsFolder`/nnUNet. All checks and the full extraction (with
 * CRC checks) happen in a staging folder first; on any failure nothing under nnUNet/ changes.
 */
export async function installModelFromZip(zipPath: string, options: InstallOptions): Promise<InstallResult> {
  const reader = ZipReader.open(zipPath);
  const plan = planInstall(zipPath, reader.entries);
  const trained = join(options.resultsFolder, RESULTS_SUBFOLDER);
  const targets = plan.units.map((u) => join(trained, ...u.split('/')));
  const existing = targets.filter(exists);
  if (existing.length > 0 && options.overwrite !== true) {
    throw new NnunetError(
      'ERR_ARGUMENT',
      `${zipPath} was not installed because ${existing.length === 1 ? 'this model folder already exists' : 'these model folders already exist'}: ${existing.join(', ')}; pass --overwrite_existing to replace ${existing.length === 1 ? 'it' : 'them'}, or remove ${existing.length === 1 ? 'it' : 'them'} first.`,
    );
  }
  mkdirSync(options.resultsFolder, { recursive: true });
  const staging = mkdtempSync(join(options.resultsFolder, '.nnunet-install-'));
  const stagingRoot = resolve(staging) + sep;
  const installed: string[] = [];
  const replaced: string[] = [];
  const moved: { target: string; staged: string; old?: string }[] = [];
  try {
    const dest = (parts: readonly string[]): string => {
      const p = resolve(staging, ...parts);
      // planInstall already forbids this; the check keeps extraction safe on its own.
      if (!p.startsWith(stagingRoot)) throw new NnunetError('ERR_DATASET', `${zipPath}: ${parts.join('/')} escapes.`);
      return p;
    };
    for (const d of plan.dirs) mkdirSync(dest(d), { recursive: true });
    let done = 0;
    for (const f of plan.files) {
      const path = dest(f.parts);
      mkdirSync(dirname(path), { recursive: true });
      await reader.extract(f.entry, path);
      done += f.entry.size;
      options.onProgress?.(done, plan.bytes);
    }
    // Move each model folder into place; an existing one is first parked in the staging folder.
    for (const [i, unit] of plan.units.entries()) {
      const target = targets[i] as string;
      const staged = dest(unit.split('/'));
      mkdirSync(dirname(target), { recursive: true });
      const step: { target: string; staged: string; old?: string } = { target, staged };
      if (exists(target)) {
        step.old = join(staging, `.replaced-${i}`);
        renameSync(target, step.old);
        moved.push(step);
        replaced.push(target);
      } else {
        moved.push(step);
      }
      renameSync(staged, target);
      installed.push(target);
    }
  } catch (e) {
    // Undo in reverse order: take new folders out again and put replaced ones back.
    for (const step of moved.reverse()) {
      if (installed.includes(step.target)) rmSync(step.target, { recursive: true, force: true });
      if (step.old !== undefined && existsSync(step.old)) renameSync(step.old, step.target);
    }
    rmSync(staging, { recursive: true, force: true });
    throw e;
  }
  rmSync(staging, { recursive: true, force: true });
  return { installed, replaced };
}
