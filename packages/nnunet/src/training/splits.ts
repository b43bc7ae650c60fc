/**
 * The cross-validation split of nnUNetTrainerV2.do_split: five folds drawn by scikit-learn's
 * `KFold(n_splits=5, shuffle=True, random_state=12345)` over the sorted case identifiers, stored
 * once per task as `splits_final.json` in the preprocessed task folder (v1 stores the same lists
 * in `splits_final.pkl`) so that every fold and every configuration trains on the same split.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LegacyRandomState } from '../compat/random-state.js';
import { NnunetError } from '../errors.js';
import type { Fold, Split } from '../model/configuration.js';
import { writeFileAtomic } from '../util/atomic.js';

/** Number of cross-validation folds of nnU-Net v1. */
export const NUM_FOLDS = 5;
/** Seed of v1's KFold shuffle (`random_state=12345`). */
export const SPLIT_SEED = 12345;
/**
 * Share of the cases trained on when a fold beyond the split file is requested: v1 then draws a
 * random 80:20 split seeded with SPLIT_SEED + fold.
 */
export const RANDOM_SPLIT_TRAIN_FRACTION = 0.8;
/** File name of the split in the preprocessed task folder (v1: splits_final.pkl). */
export const SPLITS_FILE = 'splits_final.json';
/** v1's pickled split, which we do not read. */
export const V1_SPLITS_FILE = 'splits_final.pkl';

/** How splitForFold found the fold's cases. */
export type SplitSource =
  | 'splits' // the fold's entry in the split file
  | 'all' // fold 'all': every case, for training and validation
  | 'random'; // fold beyond the split file: v1's seeded random 80:20 split

export interface FoldSplit extends Split {
  source: SplitSource;
}

/** Orders strings by Unicode code point, as NumPy sorts string arrays (JS's default sort uses UTF-16 units). */
export function compareCodePoints(a: string, b: string): number {
  const ia = a[Symbol.iterator]();
  const ib = b[Symbol.iterator]();
  for (;;) {
    const x = ia.next();
    const y = ib.next();
    if (x.done || y.done) return x.done && y.done ? 0 : x.done ? -1 : 1;
    const cx = x.value.codePointAt(0) as number;
    const cy = y.value.codePointAt(0) as number;
    if (cx !== cy) return cx - cy;
  }
}

function sortedIds(ids: readonly string[]): string[] {
  return [...ids].sort(compareCodePoints);
}

function listIds(ids: readonly string[], max = 5): string {
  const shown = ids.slice(0, max).join(', ');
  return ids.length > max ? `${shown} and ${ids.length - max} more` : shown;
}

function checkCaseIds(what: string, caseIds: readonly string[]): void {
  const seen = new Set<string>();
  const dup: string[] = [];
  for (const id of caseIds) {
    if (typeof id !== 'string' || id.length === 0) {
      throw new NnunetError('ERR_ARGUMENT', `${what}: case identifiers must be non-empty strings, got ${String(id)}.`);
    }
    if (seen.has(id)) dup.push(id);
    seen.add(id);
  }
  if (dup.length > 0) throw new NnunetError('ERR_ARGUMENT', `${what}: duplicate case identifiers ${listIds(dup)}.`);
}

/**
 * The five folds v1 creates for these cases (nnUNetTrainerV2.do_split): the identifiers are sorted
 * (code point order, like np.sort), the indices 0..n-1 are shuffled with NumPy's legacy
 * `RandomState(seed).shuffle` (what KFold's `check_random_state(12345).shuffle` does), and fold k
 * validates on the k-th consecutive chunk of the shuffled indices, the first n % folds chunks one
 * longer. `train` and `val` list identifiers in sorted order (KFold returns sorted indices).
 */
export function makeSplits(
  caseIds: readonly string[],
  numFolds: number = NUM_FOLDS,
  seed: number = SPLIT_SEED,
): Split[] {
  checkCaseIds('makeSplits', caseIds);
  if (!Number.isInteger(numFolds) || numFolds < 2) {
    throw new NnunetError('ERR_ARGUMENT', `makeSplits: numFolds must be an integer >= 2, got ${numFolds}.`);
  }
  const n = caseIds.length;
  if (n < numFolds) {
    throw new NnunetError(
      'ERR_DATASET',
      `A ${numFolds}-fold cross-validation needs at least ${numFolds} training cases, but there are ${n}; add cases or train with fold 'all'.`,
    );
  }
  const keys = sortedIds(caseIds);
  // The legacy shuffle is the same Fisher-Yates pass as permutation(n).
  const order = new LegacyRandomState(seed).choiceWithoutReplacement(n, n);
  const splits: Split[] = [];
  let start = 0;
  for (let k = 0; k < numFolds; k++) {
    const size = Math.floor(n / numFolds) + (k < n % numFolds ? 1 : 0);
    const isVal = new Uint8Array(n);
    for (let i = start; i < start + size; i++) isVal[order[i] as number] = 1;
    start += size;
    const train: string[] = [];
    const val: string[] = [];
    keys.forEach((key, i) => {
      (isVal[i] ? val : train).push(key);
    });
    splits.push({ train, val });
  }
  return splits;
}

/**
 * Checks a split read from `file` against the preprocessed cases and returns it typed: a non-empty
 * list of folds, each with a non-empty `train` and a non-empty `val` list of distinct case
 * identifiers that all exist, no case in both lists of a fold, and every preprocessed case named
 * by some fold (unlike v1, which trained silently on whatever an outdated split listed). Any number
 * of folds is accepted, as in v1 (folds beyond the list get v1's random 80:20 split, see
 * splitForFold). Throws ERR_DATASET naming the file, the fold and the offending identifiers.
 */
export function validateSplits(value: unknown, caseIds: readonly string[], file: string): Split[] {
  const bad = (why: string) =>
    new NnunetError('ERR_DATASET', `${file}: ${why}; fix the file or delete it to have the default split recreated.`);
  // A split made for other data, e.g. frozen by a training on a preprocessing run that had not finished.
  const stale = (why: string) =>
    new NnunetError(
      'ERR_DATASET',
      `${file}: ${why}, so it was made for other data; delete it and nnUNet_train recreates the default split from the ${caseIds.length} preprocessed cases (folds trained on the old split must then be trained again), or fix the file.`,
    );
  if (!Array.isArray(value) || value.length === 0) {
    throw bad('expected a non-empty JSON list of folds like [{"train": [...], "val": [...]}, ...]');
  }
  const known = new Set(caseIds);
  const named = new Set<string>();
  const splits = value.map((fold: unknown, k): Split => {
    if (fold === null || typeof fold !== 'object' || Array.isArray(fold)) {
      throw bad(`fold ${k} is not an object with "train" and "val" lists`);
    }
    const lists: Record<'train' | 'val', string[]> = { train: [], val: [] };
    for (const key of ['train', 'val'] as const) {
      const ids: unknown = (fold as Record<string, unknown>)[key];
      if (!Array.isArray(ids) || ids.some((id) => typeof id !== 'string')) {
        throw bad(`fold ${k} needs "${key}" as a list of case identifiers (strings)`);
      }
      if (ids.length === 0) throw bad(`fold ${k} has an empty "${key}" list`);
      const seen = new Set<string>();
      const dup = ids.filter((id: string) => seen.has(id) || !seen.add(id));
      if (dup.length > 0) throw bad(`fold ${k} lists ${listIds(dup)} more than once in "${key}"`);
      const unknown = ids.filter((id: string) => !known.has(id));
      if (unknown.length > 0) {
        throw stale(`fold ${k} "${key}" names cases that are not among the preprocessed cases: ${listIds(unknown)}`);
      }
      lists[key] = [...(ids as string[])];
      for (const id of lists[key]) named.add(id);
    }
    const inTrain = new Set(lists.train);
    const both = lists.val.filter((id) => inTrain.has(id));
    if (both.length > 0) throw bad(`fold ${k} has cases in both "train" and "val": ${listIds(both)}`);
    return lists;
  });
  const left = sortedIds(caseIds.filter((id) => !named.has(id)));
  if (left.length > 0) {
    throw stale(`no fold names ${left.length} of the ${caseIds.length} preprocessed cases (${listIds(left)})`);
  }
  return splits;
}

export interface SplitsFile {
  splits: Split[];
  path: string;
  /** True when the file did not exist and was written now. */
  created: boolean;
}

/**
 * The split of a preprocessed task folder (`$nnUNet_preprocessed/TaskXXX_Name`): reads and
 * validates `splits_final.json` when present (written by us or by a user, any number of folds),
 * otherwise creates the default five folds from `caseIds` (the preprocessed cases of the stage
 * being trained) and writes the file atomically. Concurrent trainings of several folds may race to
 * create it; they write identical content and the rename keeps the file whole.
 * A v1 `splits_final.pkl` without the JSON is an error, since it may hold a custom split.
 */
export function readOrCreateSplits(preprocessedTaskFolder: string, caseIds: readonly string[]): SplitsFile {
  checkCaseIds('readOrCreateSplits', caseIds);
  const path = join(preprocessedTaskFolder, SPLITS_FILE);
  if (existsSync(path)) {
    let value: unknown;
    try {
      value = JSON.parse(readFileSync(path, 'utf8'));
    } catch (e) {
      throw new NnunetError(
        'ERR_DATASET',
        `${path} is not valid JSON (${(e as Error).message}); fix it or delete it to have the default split recreated.`,
        { cause: e },
      );
    }
    return { splits: validateSplits(value, caseIds, path), path, created: false };
  }
  const pkl = join(preprocessedTaskFolder, V1_SPLITS_FILE);
  if (existsSync(pkl)) {
    throw new NnunetError(
      'ERR_DATASET',
      `${pkl} is nnU-Net v1's pickled split, which is not read; convert it once with: python3 -c "import pickle, json; ` +
        `json.dump([{k: [str(i) for i in f[k]] for k in ('train', 'val')} for f in pickle.load(open('${pkl}', 'rb'))], ` +
        `open('${path}', 'w'), indent=1)"`,
    );
  }
  const splits = makeSplits(caseIds);
  writeFileAtomic(path, `${JSON.stringify(splits, null, 1)}\n`);
  return { splits, path, created: true };
}

/**
 * The cases fold `fold` trains and validates on (nnUNetTrainerV2.do_split), both sorted:
 * - 'all': every case of `caseIds` for training and the same cases for validation;
 * - a fold listed in `splits`: its lists;
 * - a fold beyond `splits`: v1's fallback, a random 80:20 split of the sorted `caseIds`:
 *   `RandomState(12345 + fold).choice(n, int(n * 0.8), replace=False)` picks the training cases.
 */
export function splitForFold(splits: readonly Split[], fold: Fold, caseIds: readonly string[]): FoldSplit {
  if (fold === 'all') {
    const all = sortedIds(caseIds);
    return { train: all, val: [...all], source: 'all' };
  }
  if (!Number.isInteger(fold) || fold < 0) {
    throw new NnunetError('ERR_ARGUMENT', `fold must be 'all' or an integer >= 0, got ${String(fold)}.`);
  }
  const entry = splits[fold];
  if (entry !== undefined) {
    const known = new Set(caseIds);
    const unknown = [...entry.train, ...entry.val].filter((id) => !known.has(id));
    if (unknown.length > 0) {
      throw new NnunetError(
        'ERR_DATASET',
        `Fold ${fold} of ${SPLITS_FILE} names cases that are not among the preprocessed cases (${listIds(unknown)}): delete ${SPLITS_FILE} in the preprocessed task folder to have the default split recreated, or finish the preprocessing (nnUNet_plan_and_preprocess).`,
      );
    }
    return { train: sortedIds(entry.train), val: sortedIds(entry.val), source: 'splits' };
  }
  const keys = sortedIds(caseIds);
  const n = keys.length;
  const numTrain = Math.trunc(n * RANDOM_SPLIT_TRAIN_FRACTION);
  const picked = new LegacyRandomState(SPLIT_SEED + fold).choiceWithoutReplacement(n, numTrain);
  const isTrain = new Uint8Array(n);
  for (const i of picked) isTrain[i] = 1;
  return {
    train: keys.filter((_, i) => isTrain[i] === 1),
    val: keys.filter((_, i) => isTrain[i] === 0),
    source: 'random',
  };
}
