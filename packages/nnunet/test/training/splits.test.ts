/**
 * The cross-validation split against nnU-Net v1's own splits of the golden tasks, scikit-learn's
 * KFold for other case counts, and v1's random 80:20 fallback (scripts/make_training_fixtures.py).
 */
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseFold, type Split } from '../../src/model/configuration.js';
import {
  compareCodePoints,
  makeSplits,
  readOrCreateSplits,
  SPLITS_FILE,
  splitForFold,
  validateSplits,
} from '../../src/training/splits.js';
import { FIXTURES, tempDir } from '../helpers.js';

const GOLDEN = join(FIXTURES, 'golden');
const index = JSON.parse(readFileSync(join(FIXTURES, 'training', 'index.json'), 'utf8')) as {
  kfold: Record<string, number[][]>;
  kfold3Seed7n10: number[][];
  random8020: { n: number; fold: number; train: number[] }[];
};

function goldenCaseIds(task: string): string[] {
  const props = JSON.parse(readFileSync(join(GOLDEN, task, 'dataset_properties.json'), 'utf8')) as {
    size_reductions: Record<string, number>;
  };
  return Object.keys(props.size_reductions);
}

const ids = (n: number) => Array.from({ length: n }, (_, i) => `case_${String(i).padStart(3, '0')}`);

for (const task of ['Task004_Hippocampus', 'Task902_SynthCT']) {
  test(`makeSplits reproduces v1's splits_final of ${task} exactly`, () => {
    const text = readFileSync(join(GOLDEN, task, 'splits_final.json'), 'utf8');
    const golden = JSON.parse(text) as Split[];
    const caseIds = goldenCaseIds(task);
    // The input order must not matter: v1 sorts the identifiers first.
    const splits = makeSplits([...caseIds].reverse());
    assert.deepEqual(splits, golden);
    assert.equal(JSON.stringify(splits, null, 1), text.trimEnd());
  });
}

test('makeSplits equals scikit-learn KFold(5, shuffle, 12345) for many case counts', () => {
  for (const [n, vals] of Object.entries(index.kfold)) {
    const caseIds = ids(Number(n));
    const splits = makeSplits(caseIds);
    assert.equal(splits.length, 5);
    splits.forEach((s, k) => {
      const val = (vals[k] as number[]).map((i) => caseIds[i] as string);
      assert.deepEqual(s.val, val, `n=${n} fold ${k}`);
      assert.deepEqual(
        s.train,
        caseIds.filter((id) => !val.includes(id)),
      );
    });
  }
  const three = makeSplits(ids(10), 3, 7);
  assert.deepEqual(
    three.map((s) => s.val),
    index.kfold3Seed7n10.map((v) => v.map((i) => ids(10)[i])),
  );
});

test('makeSplits rejects too few cases and duplicate identifiers', () => {
  assert.throws(() => makeSplits(ids(4)), {
    code: 'ERR_DATASET',
    message: /at least 5 training cases, but there are 4/,
  });
  assert.throws(() => makeSplits(['a', 'b', 'c', 'd', 'a']), { code: 'ERR_ARGUMENT', message: /duplicate.*a/ });
});

test('identifiers sort by code point like np.sort', () => {
  assert.ok(compareCodePoints('\u{1F600}', '\uFFFF') > 0);
  assert.ok(compareCodePoints('case_10', 'case_9') < 0);
  assert.ok(compareCodePoints('Case', 'case') < 0);
  assert.ok(compareCodePoints('ab', 'abc') < 0);
  assert.equal(compareCodePoints('abc', 'abc'), 0);
});

test('readOrCreateSplits writes splits_final.json once and reads it back', () => {
  const dir = tempDir();
  const caseIds = goldenCaseIds('Task902_SynthCT');
  const first = readOrCreateSplits(dir, caseIds);
  assert.equal(first.created, true);
  assert.equal(first.path, join(dir, SPLITS_FILE));
  const golden = readFileSync(join(GOLDEN, 'Task902_SynthCT', 'splits_final.json'), 'utf8');
  assert.deepEqual(JSON.parse(readFileSync(first.path, 'utf8')), JSON.parse(golden));
  const second = readOrCreateSplits(dir, caseIds);
  assert.equal(second.created, false);
  assert.deepEqual(second.splits, first.splits);
});

test('readOrCreateSplits keeps a user split with any number of folds', () => {
  const dir = tempDir();
  const custom: Split[] = [
    { train: ['c', 'a'], val: ['b'] },
    { train: ['b'], val: ['c', 'a', 'd'] },
  ];
  writeFileSync(join(dir, SPLITS_FILE), JSON.stringify(custom));
  const r = readOrCreateSplits(dir, ['a', 'b', 'c', 'd']);
  assert.equal(r.created, false);
  assert.deepEqual(r.splits, custom);
  assert.deepEqual(splitForFold(r.splits, 0, ['a', 'b', 'c', 'd']), {
    train: ['a', 'c'],
    val: ['b'],
    source: 'splits',
  });
});

test('readOrCreateSplits names the file, fold and cases of a broken split', () => {
  const dir = tempDir();
  const path = join(dir, SPLITS_FILE);
  const caseIds = ['a', 'b', 'c', 'd'];
  const expectBroken = (content: string, message: RegExp) => {
    writeFileSync(path, content);
    assert.throws(
      () => readOrCreateSplits(dir, caseIds),
      (e: Error & { code?: string }) => {
        assert.equal(e.code, 'ERR_DATASET');
        assert.ok(e.message.startsWith(path), e.message);
        assert.match(e.message, message);
        return true;
      },
    );
  };
  expectBroken('{"train": [', /not valid JSON/);
  expectBroken('[]', /non-empty JSON list of folds/);
  expectBroken('[{"train": ["a"], "val": ["b"]}, {"train": ["a", "x", "y"], "val": ["b"]}]', /fold 1 "train".*x, y/);
  expectBroken('[{"train": ["a", "b"], "val": ["b", "c"]}]', /fold 0 has cases in both "train" and "val": b/);
  expectBroken('[{"train": ["a"], "val": []}]', /fold 0 has an empty "val" list/);
  expectBroken('[{"train": ["a", "a"], "val": ["b"]}]', /fold 0 lists a more than once in "train"/);
  expectBroken('[{"train": "a", "val": ["b"]}]', /fold 0 needs "train" as a list/);
  expectBroken('[["a"]]', /fold 0 is not an object/);
  assert.throws(() => validateSplits([{ train: ['a'], val: ['b'] }], ['a'], 'f.json'), /f\.json: fold 0 "val".*b/);
});

test('a split made for other data is refused, naming the cases and how to recreate it', () => {
  // The fault this guards against: a training on 9 of 16 preprocessed cases froze them into
  // splits_final.json; once the other 7 were preprocessed they were never trained or validated on.
  const dir = tempDir();
  const path = join(dir, SPLITS_FILE);
  const nine = ids(16).slice(0, 9);
  const first = readOrCreateSplits(dir, nine);
  assert.equal(first.created, true);
  const refused = (caseIds: string[], message: RegExp) =>
    assert.throws(
      () => readOrCreateSplits(dir, caseIds),
      (e: Error & { code?: string }) => {
        assert.equal(e.code, 'ERR_DATASET');
        assert.ok(e.message.startsWith(path), e.message);
        assert.match(e.message, message);
        assert.match(
          e.message,
          /delete it and nnUNet_train recreates the default split from the \d+ preprocessed cases/,
        );
        return true;
      },
    );
  // Existing cases that no fold names.
  refused(
    ids(16),
    /no fold names 7 of the 16 preprocessed cases \(case_009, case_010, case_011, case_012, case_013 and 2 more\)/,
  );
  // Cases the split names that do not exist (any fold, train or val).
  refused(nine.slice(1), /fold \d "(train|val)" names cases that are not among the preprocessed cases: case_000/);
  // Deleting the file, as the message says, recreates the split from all cases.
  rmSync(path);
  const all = readOrCreateSplits(dir, ids(16));
  assert.equal(all.created, true);
  assert.deepEqual(all.splits, makeSplits(ids(16)));
  // splitForFold refuses a listed fold with unknown cases too (a split not read through readOrCreateSplits).
  assert.throws(() => splitForFold(first.splits, 0, nine.slice(0, 4)), {
    code: 'ERR_DATASET',
    message:
      /Fold 0 of splits_final\.json names cases that are not among the preprocessed cases \(.*\): delete splits_final\.json/,
  });
});

test('readOrCreateSplits refuses to replace a v1 splits_final.pkl silently', () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'splits_final.pkl'), 'pickle');
  assert.throws(() => readOrCreateSplits(dir, ids(10)), {
    code: 'ERR_DATASET',
    message: /splits_final\.pkl.*python3 -c/,
  });
});

test("splitForFold: 'all', listed folds and v1's random 80:20 fallback", () => {
  const caseIds = ids(12);
  const splits = makeSplits(caseIds);
  const shuffled = [...caseIds].reverse();
  assert.deepEqual(splitForFold(splits, 'all', shuffled), { train: caseIds, val: caseIds, source: 'all' });
  assert.deepEqual(splitForFold(splits, 3, shuffled), { ...(splits[3] as Split), source: 'splits' });
  for (const { n, fold, train } of index.random8020) {
    const all = ids(n);
    const s = splitForFold(splits.slice(0, 5), fold, [...all].reverse());
    assert.equal(s.source, 'random');
    assert.deepEqual(
      s.train,
      train.map((i) => all[i]),
      `n=${n} fold ${fold}`,
    );
    assert.deepEqual(
      s.val,
      all.filter((id) => !s.train.includes(id)),
    );
  }
  assert.throws(() => splitForFold(splits, -1, caseIds), { code: 'ERR_ARGUMENT' });
});

test('parseFold', () => {
  assert.equal(parseFold('all'), 'all');
  assert.equal(parseFold('3'), 3);
  assert.throws(() => parseFold('-1'), { code: 'ERR_ARGUMENT' });
  assert.throws(() => parseFold('x'), { code: 'ERR_ARGUMENT' });
});
