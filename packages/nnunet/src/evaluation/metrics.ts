/**
 * nnU-Net v1's segmentation metrics (nnunet/evaluation/metrics.py), as pure functions over
 * C-order label or mask arrays. Every metric keeps v1's name, formula and its handling of empty
 * and full masks: where v1 returns NaN for an undefined value, `nanForNonexisting = false` turns
 * that into 0 exactly where v1 does, including v1's "1 - x" metrics, which then become 1.
 */
import {
  averageSurfaceDistanceOf,
  averageSymmetricSurfaceDistanceOf,
  hausdorff95Of,
  hausdorffOf,
  type SurfaceDistancePair,
  surfaceDistances,
} from './surface-distance.js';

/** v1's ConfusionMatrix of a test (prediction) mask against a reference mask. */
export interface ConfusionCounts {
  tp: number;
  fp: number;
  tn: number;
  fn: number;
  /** Number of voxels. */
  size: number;
  /** Foreground voxels of the test mask (tp + fp). */
  nPred: number;
  /** Foreground voxels of the reference mask (tp + fn). */
  nRef: number;
  testEmpty: boolean;
  testFull: boolean;
  referenceEmpty: boolean;
  referenceFull: boolean;
}

/** Counts of two equally long masks (nonzero = foreground), as v1's ConfusionMatrix.compute. */
export function confusionCounts(test: ArrayLike<number>, reference: ArrayLike<number>): ConfusionCounts {
  if (test.length !== reference.length) {
    throw new RangeError(`test and reference masks differ in size (${test.length} vs ${reference.length} voxels)`);
  }
  let tp = 0;
  let fp = 0;
  let fn = 0;
  for (let i = 0; i < test.length; i++) {
    const t = test[i] !== 0;
    const r = reference[i] !== 0;
    if (t) {
      if (r) tp++;
      else fp++;
    } else if (r) fn++;
  }
  const size = test.length;
  const tn = size - tp - fp - fn;
  const nPred = tp + fp;
  const nRef = tp + fn;
  return {
    tp,
    fp,
    tn,
    fn,
    size,
    nPred,
    nRef,
    testEmpty: nPred === 0,
    testFull: nPred === size,
    referenceEmpty: nRef === 0,
    referenceFull: nRef === size,
  };
}

/**
 * Counts of one label, or of a group of labels taken as one region, in two label arrays (v1's
 * `test == label` and `reference == label` masks).
 */
export function confusionCountsOfLabel(
  test: ArrayLike<number>,
  reference: ArrayLike<number>,
  label: number | readonly number[],
): ConfusionCounts {
  const members = new Set(typeof label === 'number' ? [label] : label);
  const t = new Uint8Array(test.length);
  const r = new Uint8Array(reference.length);
  for (let i = 0; i < t.length; i++) t[i] = members.has(test[i] as number) ? 1 : 0;
  for (let i = 0; i < r.length; i++) r[i] = members.has(reference[i] as number) ? 1 : 0;
  return confusionCounts(t, r);
}

const undefinedValue = (nanForNonexisting: boolean): number => (nanForNonexisting ? Number.NaN : 0);

/** 2TP / (2TP + FP + FN); undefined when both masks are empty. */
export function dice(c: ConfusionCounts, nanForNonexisting = true): number {
  if (c.testEmpty && c.referenceEmpty) return undefinedValue(nanForNonexisting);
  return (2 * c.tp) / (2 * c.tp + c.fp + c.fn);
}

/** TP / (TP + FP + FN); undefined when both masks are empty. */
export function jaccard(c: ConfusionCounts, nanForNonexisting = true): number {
  if (c.testEmpty && c.referenceEmpty) return undefinedValue(nanForNonexisting);
  return c.tp / (c.tp + c.fp + c.fn);
}

/** TP / (TP + FP); undefined when the test mask is empty. */
export function precision(c: ConfusionCounts, nanForNonexisting = true): number {
  if (c.testEmpty) return undefinedValue(nanForNonexisting);
  return c.tp / (c.tp + c.fp);
}

/** Sensitivity, TP / (TP + FN); undefined when the reference is empty. */
export function recall(c: ConfusionCounts, nanForNonexisting = true): number {
  if (c.referenceEmpty) return undefinedValue(nanForNonexisting);
  return c.tp / (c.tp + c.fn);
}

/** Specificity (True Negative Rate), TN / (TN + FP); undefined when the reference fills the image. */
export function specificity(c: ConfusionCounts, nanForNonexisting = true): number {
  if (c.referenceFull) return undefinedValue(nanForNonexisting);
  return c.tn / (c.tn + c.fp);
}

/** (TP + TN) / size; always defined. */
export function accuracy(c: ConfusionCounts): number {
  return (c.tp + c.tn) / (c.tp + c.fp + c.tn + c.fn);
}

/** 1 - specificity (so 1, not 0, for a full reference when NaN is off, as in v1). */
export function falsePositiveRate(c: ConfusionCounts, nanForNonexisting = true): number {
  return 1 - specificity(c, nanForNonexisting);
}

/** FN / (FN + TN); undefined when the test mask fills the image. */
export function falseOmissionRate(c: ConfusionCounts, nanForNonexisting = true): number {
  if (c.testFull) return undefinedValue(nanForNonexisting);
  return c.fn / (c.fn + c.tn);
}

/** 1 - false omission rate. */
export function negativePredictiveValue(c: ConfusionCounts, nanForNonexisting = true): number {
  return 1 - falseOmissionRate(c, nanForNonexisting);
}

/** 1 - recall. */
export function falseNegativeRate(c: ConfusionCounts, nanForNonexisting = true): number {
  return 1 - recall(c, nanForNonexisting);
}

/** Specificity under v1's second name. */
export function trueNegativeRate(c: ConfusionCounts, nanForNonexisting = true): number {
  return specificity(c, nanForNonexisting);
}

/** 1 - precision. */
export function falseDiscoveryRate(c: ConfusionCounts, nanForNonexisting = true): number {
  return 1 - precision(c, nanForNonexisting);
}

/** TP + FP (an integer). */
export function totalPositivesTest(c: ConfusionCounts): number {
  return c.tp + c.fp;
}

/** TN + FN (an integer). */
export function totalNegativesTest(c: ConfusionCounts): number {
  return c.tn + c.fn;
}

/** TP + FN (an integer). */
export function totalPositivesReference(c: ConfusionCounts): number {
  return c.tp + c.fn;
}

/** TN + FP (an integer). */
export function totalNegativesReference(c: ConfusionCounts): number {
  return c.tn + c.fp;
}

/** v1's metric names, spelled as in its ALL_METRICS (including the lower-case "total Negatives Reference"). */
export const ALL_METRIC_NAMES = [
  'False Positive Rate',
  'Dice',
  'Jaccard',
  'Hausdorff Distance',
  'Hausdorff Distance 95',
  'Precision',
  'Recall',
  'Avg. Symmetric Surface Distance',
  'Avg. Surface Distance',
  'Accuracy',
  'False Omission Rate',
  'Negative Predictive Value',
  'False Negative Rate',
  'True Negative Rate',
  'False Discovery Rate',
  'Total Positives Test',
  'Total Negatives Test',
  'Total Positives Reference',
  'total Negatives Reference',
] as const;

export type MetricName = (typeof ALL_METRIC_NAMES)[number];

/** v1's Evaluator.default_metrics. */
export const DEFAULT_METRICS: readonly MetricName[] = [
  'False Positive Rate',
  'Dice',
  'Jaccard',
  'Precision',
  'Recall',
  'Accuracy',
  'False Omission Rate',
  'Negative Predictive Value',
  'False Negative Rate',
  'True Negative Rate',
  'False Discovery Rate',
  'Total Positives Test',
  'Total Positives Reference',
];

/** v1's Evaluator.default_advanced_metrics (HD, ASD and ASSD are commented out there). */
export const DEFAULT_ADVANCED_METRICS: readonly MetricName[] = ['Hausdorff Distance 95'];

/** Metrics whose value is a voxel count (a Python int in v1's summary.json, not a float). */
export const INTEGER_METRICS: ReadonlySet<string> = new Set<MetricName>([
  'Total Positives Test',
  'Total Negatives Test',
  'Total Positives Reference',
  'total Negatives Reference',
]);

type SurfaceMetricName =
  | 'Hausdorff Distance'
  | 'Hausdorff Distance 95'
  | 'Avg. Surface Distance'
  | 'Avg. Symmetric Surface Distance';

const SURFACE_METRICS: ReadonlySet<MetricName> = new Set<SurfaceMetricName>([
  'Hausdorff Distance',
  'Hausdorff Distance 95',
  'Avg. Surface Distance',
  'Avg. Symmetric Surface Distance',
]);

const COUNT_METRICS: Record<Exclude<MetricName, SurfaceMetricName>, (c: ConfusionCounts, nan: boolean) => number> = {
  'False Positive Rate': falsePositiveRate,
  Dice: dice,
  Jaccard: jaccard,
  Precision: precision,
  Recall: recall,
  Accuracy: accuracy,
  'False Omission Rate': falseOmissionRate,
  'Negative Predictive Value': negativePredictiveValue,
  'False Negative Rate': falseNegativeRate,
  'True Negative Rate': trueNegativeRate,
  'False Discovery Rate': falseDiscoveryRate,
  'Total Positives Test': totalPositivesTest,
  'Total Negatives Test': totalNegativesTest,
  'Total Positives Reference': totalPositivesReference,
  'total Negatives Reference': totalNegativesReference,
};

/**
 * The surface metrics of v1 (hausdorff_distance, hausdorff_distance_95, avg_surface_distance,
 * avg_surface_distance_symmetric), in mm: undefined (NaN, or 0 with `nanForNonexisting` false)
 * when either mask is empty or fills the whole image, as v1 checks before calling medpy.
 */
export interface SurfaceInputs {
  test: ArrayLike<number>;
  reference: ArrayLike<number>;
  /** Array shape, slowest axis first ((z, y, x) for volumes). */
  shape: readonly number[];
  /** Voxel spacing in mm in the order of `shape` ((z, y, x) for volumes). */
  spacing: readonly number[];
}

function surfaceUndefined(c: ConfusionCounts): boolean {
  return c.testEmpty || c.testFull || c.referenceEmpty || c.referenceFull;
}

/** A surface metric of two masks: NaN (or 0) when either mask is empty or full, as v1. */
function surfaceMetric(
  m: SurfaceInputs,
  nanForNonexisting: boolean,
  of: (pair: SurfaceDistancePair) => number,
): number {
  if (surfaceUndefined(confusionCounts(m.test, m.reference))) return undefinedValue(nanForNonexisting);
  return of(surfaceDistances(m.test, m.reference, m.shape, m.spacing));
}

/** Hausdorff Distance 95 (mm) of two masks. */
export function hausdorffDistance95(m: SurfaceInputs, nanForNonexisting = true): number {
  return surfaceMetric(m, nanForNonexisting, hausdorff95Of);
}

/** Hausdorff Distance (mm) of two masks. */
export function hausdorffDistance(m: SurfaceInputs, nanForNonexisting = true): number {
  return surfaceMetric(m, nanForNonexisting, hausdorffOf);
}

/** Avg. Surface Distance (mm): mean distance from the test border to the reference border. */
export function avgSurfaceDistance(m: SurfaceInputs, nanForNonexisting = true): number {
  return surfaceMetric(m, nanForNonexisting, averageSurfaceDistanceOf);
}

/** Avg. Symmetric Surface Distance (mm). */
export function avgSymmetricSurfaceDistance(m: SurfaceInputs, nanForNonexisting = true): number {
  return surfaceMetric(m, nanForNonexisting, averageSymmetricSurfaceDistanceOf);
}

/**
 * Several metrics of one mask pair at once (confusion counts and surface distances computed once),
 * in the order given. Keys are v1's metric names.
 */
export function computeMetrics(
  m: SurfaceInputs,
  metrics: readonly MetricName[],
  nanForNonexisting = true,
): Record<string, number> {
  const c = confusionCounts(m.test, m.reference);
  let pair: SurfaceDistancePair | undefined;
  const out: Record<string, number> = {};
  for (const name of metrics) {
    if (SURFACE_METRICS.has(name)) {
      if (surfaceUndefined(c)) {
        out[name] = undefinedValue(nanForNonexisting);
        continue;
      }
      pair ??= surfaceDistances(m.test, m.reference, m.shape, m.spacing);
      out[name] =
        name === 'Hausdorff Distance'
          ? hausdorffOf(pair)
          : name === 'Hausdorff Distance 95'
            ? hausdorff95Of(pair)
            : name === 'Avg. Surface Distance'
              ? averageSurfaceDistanceOf(pair)
              : averageSymmetricSurfaceDistanceOf(pair);
    } else {
      const f = COUNT_METRICS[name as keyof typeof COUNT_METRICS];
      out[name] = f(c, nanForNonexisting);
    }
  }
  return out;
}

/** Whether `name` is one of v1's metric names. */
export function isMetricName(name: string): name is MetricName {
  return (ALL_METRIC_NAMES as readonly string[]).includes(name);
}
