/**
 * What nnU-Net v1's experiment planners share (ExperimentPlanner in
 * experiment_planning/experiment_planner_baseline_3DUNet.py): the target spacing, the transpose
 * that puts the coarsest axis first, the median case shape, normalisation choices, and the plans
 * dictionary around the per-stage plans. A concrete planner (3-D, 2-D, a variant) supplies the
 * stage computation and its identifiers; it is a small subclass found through the registry in
 * planners.ts.
 *
 * Axis order: the fingerprint's spacings and sizes are (z, y, x); stage values are in that order
 * permuted by `transpose_forward` (the identity unless an axis other than z is the coarsest).
 */
import { resolve } from 'node:path';
import { argmaxFirst, argsortLast, medianColumns, percentileColumns } from '../compat/numpy.js';
import { NnunetError } from '../errors.js';
import { useNonzeroMaskForNorm } from '../fingerprint/analyze.js';
import type { NormalizationScheme, Plans, StagePlan } from '../model/plans.js';
import type { DatasetProperties } from '../model/properties.js';
import { poolAndConvProps, type Topology } from './topology.js';

/** v1's ExperimentPlanner.unet_max_numpool: 999, i.e. no cap on poolings per axis. */
export const UNCAPPED_NUM_POOL = 999;
/** v1's ExperimentPlanner.unet_min_batch_size. */
export const MIN_BATCH_SIZE = 2;
/** v1's ExperimentPlanner.unet_featuremap_min_edge_length: the bottleneck keeps at least this many voxels per axis. */
export const MIN_FEATURE_MAP_EDGE = 4;
/** v1's ExperimentPlanner.target_spacing_percentile: the target spacing is the median spacing per axis. */
export const TARGET_SPACING_PERCENTILE = 50;
/** v1's ExperimentPlanner.anisotropy_threshold: an axis this many times coarser (or shorter) than the others is anisotropic. */
export const ANISOTROPY_THRESHOLD = 3;
/** v1's ExperimentPlanner.conv_per_stage: convolutions per resolution level. */
export const CONV_PER_STAGE = 2;
/** v1's ExperimentPlanner.batch_size_covers_max_percent_of_dataset: one batch may hold at most 5 % of the dataset's voxels. */
export const MAX_BATCH_DATASET_FRACTION = 0.05;
/** v1's v2.1 planners' unet_base_num_features (32 rather than 30 because mixed precision is faster with multiples of 8). */
export const BASE_NUM_FEATURES_V21 = 32;

/** The arguments of one stage computation (v1's get_properties_for_stage), transposed. */
export interface StageRequest {
  /** The spacing this stage's data are resampled to (mm). */
  currentSpacing: readonly number[];
  /** The full-resolution target spacing (mm). */
  originalSpacing: readonly number[];
  /** The median case shape at `originalSpacing` (voxels, not rounded). */
  originalShape: readonly number[];
  numCases: number;
  numModalities: number;
  /** Classes including background. */
  numClasses: number;
}

/** Dataset-level quantities every stage is derived from (untransposed, (z, y, x)). */
export interface DatasetGeometry {
  targetSpacing: number[];
  /** The median case shape after resampling to `targetSpacing` (voxels, not rounded). */
  medianShape: number[];
  transposeForward: number[];
  numCases: number;
  numModalities: number;
  numClasses: number;
}

export interface PlanningInput {
  fingerprint: DatasetProperties;
  /** The cropped cases' ids (v1 counts and lists the cropped files). */
  caseIds: readonly string[];
  /** Where the cropped cases are; list_of_npz_files names `<croppedFolder>/<id>.npy`. */
  croppedFolder: string;
  /** $nnUNet_preprocessed/TASK; stored as preprocessed_data_folder. */
  preprocessedFolder: string;
}

/** `values` permuted by `order` (numpy's `values[order]`). */
export function transpose(values: readonly number[], order: readonly number[]): number[] {
  return order.map((i) => values[i] as number);
}

export abstract class ExperimentPlanner {
  /** v1's class name, the key in the registry and what -pl3d / -pl2d accept. */
  abstract readonly name: string;
  /** The plans file this planner writes into $nnUNet_preprocessed/TASK. */
  abstract readonly plansFileName: string;
  abstract readonly dataIdentifier: string;
  abstract readonly preprocessorName: string;
  /** Channel cap of the deepest levels (v1's unet_max_num_filters). */
  abstract readonly maxNumFeatures: number;
  readonly baseNumFeatures: number = BASE_NUM_FEATURES_V21;
  readonly maxNumPool: number = UNCAPPED_NUM_POOL;
  readonly minBatchSize: number = MIN_BATCH_SIZE;
  readonly minFeatureMapEdge: number = MIN_FEATURE_MAP_EDGE;
  readonly targetSpacingPercentile: number = TARGET_SPACING_PERCENTILE;
  readonly anisotropyThreshold: number = ANISOTROPY_THRESHOLD;
  readonly convPerStage: number = CONV_PER_STAGE;
  readonly maxBatchDatasetFraction: number = MAX_BATCH_DATASET_FRACTION;
  /** Whether the plans carry conv_per_stage (v1's 3-D plans do, its 2-D plans do not). */
  protected readonly storesConvPerStage: boolean = false;

  /** One stage's network, patch and batch size (v1's get_properties_for_stage). */
  abstract planStage(request: StageRequest): StagePlan;

  /** The full-resolution target spacing, (z, y, x) in mm: the median per axis. */
  targetSpacing(fingerprint: DatasetProperties): number[] {
    return percentileColumns(fingerprint.all_spacings, this.targetSpacingPercentile);
  }

  /**
   * The stages, lowest resolution first. The default is the full-resolution stage alone; the 3-D
   * planner adds a low-resolution one for large cases.
   */
  protected planStages(geometry: DatasetGeometry): StagePlan[] {
    const spacing = transpose(geometry.targetSpacing, geometry.transposeForward);
    return [
      this.planStage({
        currentSpacing: spacing,
        originalSpacing: spacing,
        originalShape: transpose(geometry.medianShape, geometry.transposeForward),
        numCases: geometry.numCases,
        numModalities: geometry.numModalities,
        numClasses: geometry.numClasses,
      }),
    ];
  }

  /** The topology for `patch`, with the planner's feature-map and pooling limits. */
  protected topology(spacing: readonly number[], patch: readonly number[]): Topology {
    return poolAndConvProps(spacing, patch, this.minFeatureMapEdge, this.maxNumPool);
  }

  /**
   * One step of v1's patch shrinking while the memory estimate is over budget: the axis where the
   * patch is largest relative to the median shape loses one multiple of its divisor (the divisor
   * the smaller patch would have), then the topology is recomputed for the new patch.
   */
  protected shrinkPatch(spacing: readonly number[], current: Topology, medianShape: readonly number[]): Topology {
    const shape = [...current.patchSize];
    const axis = argsortLast(shape.map((s, i) => s / (medianShape[i] as number)));
    const probe = [...shape];
    probe[axis] = (probe[axis] as number) - (current.mustBeDivisibleBy[axis] as number);
    shape[axis] = (shape[axis] as number) - (this.topology(spacing, probe).mustBeDivisibleBy[axis] as number);
    if ((shape[axis] as number) < 1) {
      throw new NnunetError(
        'ERR_DATASET',
        `${this.name} found no patch that fits the memory budget (too many classes or modalities for this network).`,
      );
    }
    return this.topology(spacing, shape);
  }

  /** Plans from a fingerprint, in v1's plans structure (no file is read or written). */
  plan(input: PlanningInput): Plans {
    const fp = input.fingerprint;
    checkFingerprint(fp, input.caseIds);
    const modalityNames = Object.keys(fp.modalities)
      .sort((a, b) => Number(a) - Number(b))
      .map((k) => fp.modalities[k] as string);
    const target = this.targetSpacing(fp);
    const newShapes = fp.all_spacings.map((spacing, c) =>
      spacing.map((s, i) => (s / (target[i] as number)) * ((fp.all_sizes[c] as number[])[i] as number)),
    );
    // The coarsest axis goes first, so that 2-D slices are cut across it.
    const coarsest = argmaxFirst(target);
    const transposeForward = [coarsest, ...[0, 1, 2].filter((i) => i !== coarsest)];
    const transposeBackward = [0, 1, 2].map((i) => transposeForward.indexOf(i));
    const stages = this.planStages({
      targetSpacing: target,
      medianShape: medianColumns(newShapes),
      transposeForward,
      numCases: input.caseIds.length,
      numModalities: modalityNames.length,
      numClasses: fp.all_classes.length + 1,
    });
    const croppedFolder = resolve(input.croppedFolder);
    const plans: Plans = {
      num_stages: stages.length,
      num_modalities: modalityNames.length,
      modalities: { ...fp.modalities },
      normalization_schemes: Object.fromEntries(modalityNames.map((m, i) => [String(i), normalizationScheme(m)])),
      dataset_properties: structuredClone(fp),
      list_of_npz_files: input.caseIds.map((id) => `${croppedFolder}/${id}.npy`).sort(),
      original_spacings: structuredClone(fp.all_spacings),
      original_sizes: structuredClone(fp.all_sizes),
      preprocessed_data_folder: resolve(input.preprocessedFolder),
      num_classes: fp.all_classes.length,
      all_classes: [...fp.all_classes],
      base_num_features: this.baseNumFeatures,
      use_mask_for_norm: useNonzeroMaskForNorm(modalityNames, fp.size_reductions),
      keep_only_largest_region: null,
      min_region_size_per_class: null,
      min_size_per_class: null,
      transpose_forward: transposeForward,
      transpose_backward: transposeBackward,
      data_identifier: this.dataIdentifier,
      plans_per_stage: Object.fromEntries(stages.map((s, i) => [String(i), s])),
      preprocessor_name: this.preprocessorName,
    };
    if (this.storesConvPerStage) plans.conv_per_stage = this.convPerStage;
    return plans;
  }
}

/** v1's determine_normalization_scheme: exactly "CT"/"ct" is CT, "noNorm" is none, anything else z-scored. */
export function normalizationScheme(modality: string): NormalizationScheme {
  if (modality === 'CT' || modality === 'ct') return 'CT';
  if (modality === 'noNorm') return 'noNorm';
  return 'nonCT';
}

function checkFingerprint(fp: DatasetProperties, caseIds: readonly string[]): void {
  const problem = (what: string) =>
    new NnunetError(
      'ERR_DATASET',
      `dataset_properties.json ${what}: rerun the fingerprint step (nnUNet_plan_and_preprocess) to rebuild it.`,
    );
  if (fp.all_spacings.length === 0) throw problem('lists no cases');
  if (fp.all_spacings.length !== fp.all_sizes.length)
    throw problem(`lists ${fp.all_spacings.length} spacings but ${fp.all_sizes.length} sizes`);
  for (const [c, s] of fp.all_spacings.entries()) {
    const size = fp.all_sizes[c] as number[];
    if (s.length !== 3 || size.length !== 3) throw problem(`has a case (number ${c + 1}) without three axes`);
    if (!s.every((v) => v > 0) || !size.every((v) => v > 0))
      throw problem(`has a case (number ${c + 1}) with a non-positive spacing or size`);
  }
  if (Object.keys(fp.modalities).length === 0) throw problem('names no modality');
  if (caseIds.length !== fp.all_sizes.length)
    throw problem(`describes ${fp.all_sizes.length} cases but ${caseIds.length} cropped cases were given`);
}
