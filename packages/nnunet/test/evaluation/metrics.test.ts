/** v1's metrics: hand-computed confusion matrices, empty/full masks, and a multi-label fixture. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  accuracy,
  computeMetrics,
  confusionCounts,
  confusionCountsOfLabel,
  DEFAULT_METRICS,
  dice,
  falseDiscoveryRate,
  falseNegativeRate,
  falseOmissionRate,
  falsePositiveRate,
  hausdorffDistance95,
  jaccard,
  type MetricName,
  negativePredictiveValue,
  precision,
  recall,
  specificity,
  totalPositivesReference,
  totalPositivesTest,
  trueNegativeRate,
} from '../../src/evaluation/metrics.js';
import { readNpy } from '../../src/io/npy.js';
import { product } from '../../src/util/shape.js';
import { FIXTURES } from '../helpers.js';

const u8 = (v: number[]) => Uint8Array.from(v);

test('confusion counts and every rate of a hand-made pair', () => {
  // test:      1 1 0 0 1 0 0 0
  // reference: 1 0 1 0 0 0 1 0   -> tp 1, fp 2, fn 2, tn 3
  const c = confusionCounts(u8([1, 1, 0, 0, 1, 0, 0, 0]), u8([1, 0, 1, 0, 0, 0, 1, 0]));
  assert.deepEqual(c, {
    tp: 1,
    fp: 2,
    tn: 3,
    fn: 2,
    size: 8,
    nPred: 3,
    nRef: 3,
    testEmpty: false,
    testFull: false,
    referenceEmpty: false,
    referenceFull: false,
  });
  assert.equal(dice(c), 2 / 6);
  assert.equal(jaccard(c), 1 / 5);
  assert.equal(precision(c), 1 / 3);
  assert.equal(recall(c), 1 / 3);
  assert.equal(specificity(c), 3 / 5);
  assert.equal(trueNegativeRate(c), 3 / 5);
  assert.equal(falsePositiveRate(c), 1 - 3 / 5);
  assert.equal(accuracy(c), 4 / 8);
  assert.equal(falseOmissionRate(c), 2 / 5);
  assert.equal(negativePredictiveValue(c), 1 - 2 / 5);
  assert.equal(falseNegativeRate(c), 1 - 1 / 3);
  assert.equal(falseDiscoveryRate(c), 1 - 1 / 3);
  assert.equal(totalPositivesTest(c), 3);
  assert.equal(totalPositivesReference(c), 3);
});

test('nonzero values of any kind count as foreground', () => {
  const c = confusionCounts(Float32Array.from([0.5, 0, -2]), Int16Array.from([7, 0, 0]));
  assert.deepEqual([c.tp, c.fp, c.fn, c.tn], [1, 1, 0, 1]);
});

test('counts per label and per group of labels', () => {
  const t = Uint8Array.from([0, 1, 2, 2, 1, 0]);
  const r = Uint8Array.from([1, 1, 2, 0, 0, 0]);
  const one = confusionCountsOfLabel(t, r, 1);
  assert.deepEqual([one.tp, one.fp, one.fn, one.tn, one.nPred, one.nRef], [1, 1, 1, 3, 2, 2]);
  const both = confusionCountsOfLabel(t, r, [1, 2]);
  assert.deepEqual([both.tp, both.fp, both.fn, both.tn], [2, 2, 1, 1]);
  const absent = confusionCountsOfLabel(t, r, 3);
  assert.ok(absent.testEmpty && absent.referenceEmpty && !absent.testFull);
});

test('empty reference: Dice 0, recall undefined; NaN or 0 exactly as v1 (1 - x metrics become 1)', () => {
  const c = confusionCounts(u8([1, 1, 0, 0]), u8([0, 0, 0, 0]));
  assert.equal(dice(c), 0);
  assert.equal(jaccard(c), 0);
  assert.equal(precision(c), 0);
  assert.ok(Number.isNaN(recall(c)));
  assert.ok(Number.isNaN(falseNegativeRate(c)));
  assert.equal(recall(c, false), 0);
  assert.equal(falseNegativeRate(c, false), 1);
  assert.equal(specificity(c), 2 / 4);
  assert.equal(falseDiscoveryRate(c), 1);
});

test('empty prediction: precision and FDR undefined, Dice 0', () => {
  const c = confusionCounts(u8([0, 0, 0, 0]), u8([0, 1, 1, 0]));
  assert.equal(dice(c), 0);
  assert.equal(recall(c), 0);
  assert.ok(Number.isNaN(precision(c)));
  assert.ok(Number.isNaN(falseDiscoveryRate(c)));
  assert.equal(precision(c, false), 0);
  assert.equal(falseDiscoveryRate(c, false), 1);
  assert.equal(falseOmissionRate(c), 2 / 4);
});

test('both empty: Dice and Jaccard NaN (0 without nan_for_nonexisting), accuracy 1', () => {
  const c = confusionCounts(u8([0, 0, 0]), u8([0, 0, 0]));
  assert.ok(Number.isNaN(dice(c)));
  assert.ok(Number.isNaN(jaccard(c)));
  assert.equal(dice(c, false), 0);
  assert.equal(jaccard(c, false), 0);
  assert.equal(accuracy(c), 1);
  assert.equal(specificity(c), 1);
  assert.equal(falseOmissionRate(c), 0);
});

test('full masks: specificity undefined for a full reference, false omission rate for a full prediction', () => {
  const fullRef = confusionCounts(u8([1, 0, 1]), u8([1, 1, 1]));
  assert.ok(Number.isNaN(specificity(fullRef)));
  assert.ok(Number.isNaN(falsePositiveRate(fullRef)));
  assert.equal(falsePositiveRate(fullRef, false), 1);
  const fullTest = confusionCounts(u8([1, 1, 1]), u8([1, 0, 0]));
  assert.ok(Number.isNaN(falseOmissionRate(fullTest)));
  assert.ok(Number.isNaN(negativePredictiveValue(fullTest)));
  assert.equal(negativePredictiveValue(fullTest, false), 1);
});

test('surface metrics are undefined for empty or full masks, before any distance is computed', () => {
  const shape = [1, 2, 2];
  const spacing = [1, 1, 1];
  const some = u8([1, 0, 0, 0]);
  for (const [t, r] of [
    [u8([0, 0, 0, 0]), some],
    [some, u8([0, 0, 0, 0])],
    [u8([1, 1, 1, 1]), some],
    [some, u8([1, 1, 1, 1])],
  ] as const) {
    assert.ok(Number.isNaN(hausdorffDistance95({ test: t, reference: r, shape, spacing })));
    assert.equal(hausdorffDistance95({ test: t, reference: r, shape, spacing }, false), 0);
  }
});

test('computeMetrics of a random 3-label pair equals the fixture (v1 formulas, scipy surface distances)', () => {
  const index = JSON.parse(readFileSync(join(FIXTURES, 'evaluation', 'index.json'), 'utf8'));
  const fx = index.multilabel as {
    shape: number[];
    spacing: number[];
    labels: Record<string, Record<string, number | null>>;
  };
  const { data } = readNpy(join(FIXTURES, 'evaluation', 'multilabel.npy'));
  const n = product(fx.shape);
  const testSeg = data.subarray(0, n);
  const refSeg = data.subarray(n);
  const names: MetricName[] = [...DEFAULT_METRICS, 'Hausdorff Distance 95'];
  for (const [label, expected] of Object.entries(fx.labels)) {
    const l = Number(label);
    const got = computeMetrics(
      {
        test: testSeg.map((v) => (v === l ? 1 : 0)),
        reference: refSeg.map((v) => (v === l ? 1 : 0)),
        shape: fx.shape,
        spacing: fx.spacing,
      },
      names,
    );
    assert.deepEqual(Object.keys(got).sort(), Object.keys(expected).sort());
    for (const [k, v] of Object.entries(expected)) {
      const g = got[k] as number;
      if (v === null) assert.ok(Number.isNaN(g), `label ${label} ${k}: expected NaN, got ${g}`);
      else assert.equal(g, v, `label ${label} ${k}`);
    }
  }
  // The fixture covers a label missing from the prediction and one missing from both.
  assert.equal(fx.labels['3']?.['Total Positives Test'], 0);
  assert.equal(fx.labels['4']?.Dice, null);
});
