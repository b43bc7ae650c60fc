/**
 * The output folder of a prediction run: creating it (one sentence when that is impossible) and
 * the ledger that records, per case, what was written and which postprocessing was applied, so a
 * rerun after an interruption keeps exactly the finished cases, postprocesses exactly the raw
 * ones and predicts everything else again.
 *
 * prediction_ledger.json (in the output folder) maps case ids to entries:
 * ```
 * { "cases": { "CASE": { "files": { "CASE.nii.gz": "<sha256>", ... }, "shape": [z, y, x],
 *                        "postprocessing": { "file": ".../postprocessing.json", "sha256": "<sha256>" } | null,
 *                        "nan_value": null | number, "written": "<ISO time>" } } }
 * ```
 * An entry is added only after all of the case's files are in place (each written atomically), so
 * a run killed at any moment leaves either a recorded case whose files match their checksums, or
 * files that the ledger does not vouch for, which a rerun predicts again.
 */
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { NnunetError } from '../errors.js';
import { readImage, type Volume } from '../io/image.js';
import { writeJsonAtomic } from '../util/atomic.js';
import { sha256File } from '../util/hash.js';

/** The ledger's file name in the output folder. */
export const LEDGER_FILE = 'prediction_ledger.json';

const LEDGER_DESCRIPTION =
  "nnUNet_predict's record of the finished cases in this folder: a case counts as finished only while its files match these sha256 checksums; postprocessing names the postprocessing.json applied to the segmentation (null: the segmentation is raw).";

/** The postprocessing.json applied to a case, identified by its content. */
export interface AppliedPostprocessing {
  /** Where it was read from. */
  file: string;
  /** sha256 of its bytes: a changed file counts as another postprocessing. */
  sha256: string;
}

export interface LedgerEntry {
  /** Every file written for the case (segmentation, and with -z the .npz and properties .json): name -> sha256. */
  files: Record<string, string>;
  /** Shape (z, y, x) of the segmentation. */
  shape: number[];
  /** The postprocessing applied to the segmentation; null when it is the network's raw output. */
  postprocessing: AppliedPostprocessing | null;
  /** The value NaN and infinite input voxels were replaced by (--nan_value), or null when none was given. */
  nan_value: number | null;
  /** When the entry was written (ISO time). */
  written: string;
}

/**
 * Creates `folder` and its missing parents one level at a time. Node's recursive mkdirSync loops
 * forever where a parent exists but refuses new entries with ENOENT (/proc/self/x); here every
 * failure is one sentence naming the folder, and the walk up ends at the root.
 */
export function createOutputFolder(folder: string): void {
  const fail = (why: string, cause?: unknown) =>
    new NnunetError(
      'ERR_ARGUMENT',
      `Cannot create the output folder ${folder}: ${why}; choose another output folder (-o).`,
      cause === undefined ? undefined : { cause },
    );
  const missing: string[] = [];
  let p = resolve(folder);
  for (;;) {
    let isDirectory: boolean;
    try {
      isDirectory = statSync(p).isDirectory();
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      // ENOTDIR: a parent is a file; keep walking up to name it.
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw fail(`${p} cannot be examined (${code})`, e);
      const parent = dirname(p);
      if (parent === p) throw fail(`the root ${p} does not exist`);
      missing.push(p);
      p = parent;
      continue;
    }
    if (!isDirectory) throw fail(`${p} is a file, not a folder`);
    break;
  }
  for (const dir of missing.reverse()) {
    try {
      mkdirSync(dir);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      // Another process (a parallel --part_id job) may have created it meanwhile.
      if (err.code === 'EEXIST' && statSync(dir, { throwIfNoEntry: false })?.isDirectory()) continue;
      throw fail(`${dir} cannot be created there (${err.code ?? err.message})`, e);
    }
  }
}

function isEntry(v: unknown): v is LedgerEntry {
  if (v === null || typeof v !== 'object') return false;
  const e = v as Record<string, unknown>;
  const pp = e.postprocessing as Record<string, unknown> | null | undefined;
  return (
    e.files !== null &&
    typeof e.files === 'object' &&
    Object.values(e.files as object).every((h) => typeof h === 'string') &&
    Array.isArray(e.shape) &&
    e.shape.every((s) => Number.isInteger(s)) &&
    (pp === null || (typeof pp === 'object' && typeof pp?.file === 'string' && typeof pp?.sha256 === 'string'))
  );
}

/**
 * The ledger's entries (an empty map when there is none yet). A damaged ledger vouches for
 * nothing: its cases are predicted again, with a warning to `log`.
 */
export function readLedger(folder: string, log?: (line: string) => void): Map<string, LedgerEntry> {
  const path = join(folder, LEDGER_FILE);
  const out = new Map<string, LedgerEntry>();
  if (!existsSync(path)) return out;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    log?.(`warning: ${path} cannot be read (${(e as Error).message}); every case in ${folder} is predicted again.`);
    return out;
  }
  const cases = (raw as { cases?: unknown } | null)?.cases;
  if (cases === null || typeof cases !== 'object') return out;
  for (const [id, entry] of Object.entries(cases as Record<string, unknown>)) if (isEntry(entry)) out.set(id, entry);
  return out;
}

/**
 * Records `entry` for case `id`. The ledger is read again just before the write and written
 * atomically, so entries of a parallel job (--part_id) writing to the same folder are kept unless
 * both write within the same moment; a lost entry only means that case is predicted again.
 */
export function recordCase(folder: string, id: string, entry: LedgerEntry): void {
  const cases = Object.fromEntries(readLedger(folder));
  cases[id] = entry;
  const sorted = Object.fromEntries(Object.entries(cases).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  writeJsonAtomic(join(folder, LEDGER_FILE), { description: LEDGER_DESCRIPTION, cases: sorted });
}

/** The ledger entry for files just written to `folder`: their checksums are taken from the disk. */
export function ledgerEntry(
  folder: string,
  files: readonly string[],
  shape: readonly number[],
  postprocessing: AppliedPostprocessing | null,
  nanValue: number | null,
): LedgerEntry {
  return {
    files: Object.fromEntries(files.map((f) => [f, sha256File(join(folder, f))])),
    shape: [...shape],
    postprocessing,
    nan_value: nanValue,
    written: new Date().toISOString(),
  };
}

/**
 * Checks that the files an entry vouches for are still the ones written: present, with their
 * checksums, and the segmentation `segmentationFile` loads completely (gzip and voxel block) with
 * the recorded shape. Returns the loaded segmentation, or the reason it cannot be kept.
 */
export async function checkRecordedCase(
  folder: string,
  entry: LedgerEntry,
  segmentationFile: string,
): Promise<{ segmentation: Volume } | { problem: string }> {
  if (!(segmentationFile in entry.files)) return { problem: `the ledger does not list ${segmentationFile}` };
  for (const [name, sha] of Object.entries(entry.files)) {
    const path = join(folder, name);
    if (!existsSync(path)) return { problem: `${name} is missing` };
    if (sha256File(path) !== sha) return { problem: `${name} changed since it was written` };
  }
  let segmentation: Volume;
  try {
    segmentation = await readImage(join(folder, segmentationFile));
  } catch (e) {
    return { problem: (e as Error).message };
  }
  if (segmentation.shape.join() !== entry.shape.join())
    return { problem: `${segmentationFile} has shape (${segmentation.shape}) instead of (${entry.shape})` };
  return { segmentation };
}
