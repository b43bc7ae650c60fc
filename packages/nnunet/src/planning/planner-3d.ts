/**
 * nnU-Net v1's 3-D planner, ExperimentPlanner3D_v21 (experiment_planning/
 * experiment_planner_baseline_3DUNet_v21.py with the plan_experiment of its base class): the
 * 3d_fullres stage and, for cases much larger than one patch, a 3d_lowres stage for the cascade.
 */

import { argmaxFirst, percentile, percentileColumns, roundHalfEven, sumInOrder } from '../compat/numpy.js';
import { PLANS_FILE_3D } from '../model/layout.js';
import type { StagePlan } from '../model/plans.js';
import type { DatasetProperties } from '../model/properties.js';
import { product } from '../util/shape.js';
import { type DatasetGeometry, ExperimentPlanner, type StageRequest, transpose } from './experiment-planner.js';
import {
  approxVramConsumption,
  REFERENCE_BASE_FEATURES_3D,
  REFERENCE_BATCH_SIZE_3D,
  VRAM_REFERENCE_3D,
} from './vram.js';

/** v1's ExperimentPlanner.unet_max_num_filters (= Generic_UNet.MAX_NUM_FILTERS_3D). */
export const MAX_NUM_FEATURES_3D = 320;
/** v1's v2.1 rule: an anisotropic axis takes this percentile of its spacings instead of the median. */
export const ANISOTROPIC_AXIS_SPACING_PERCENTILE = 10;
/** v1's v2.1 rule: added when the anisotropic axis would otherwise get no coarser than the others. */
export const ANISOTROPIC_SPACING_MARGIN = 1e-5;
/** v1's starting patch: this many mm along every axis, then clipped to the median shape. */
export const INITIAL_PATCH_EDGE_MM = 512;
/**
 * v1's how_much_of_a_patient_must_the_network_see_at_stage0: when the median case holds at least
 * this many full-resolution patches a low-resolution stage is planned, and it is coarsened until
 * its median case holds no more than this many of its own patches.
 */
export const CASCADE_CASE_TO_PATCH_RATIO = 4;
/** v1's step of the low-resolution spacing search: spacings grow by 1 % per iteration. */
export const LOWRES_SPACING_GROWTH = 1.01;
/** v1's low-resolution search grows only the axes more than this factor finer than the coarsest, while there are any. */
export const LOWRES_CATCH_UP_FACTOR = 2;
/** v1 keeps the low-resolution stage only if its median case has fewer than 1/this of the full-resolution voxels. */
export const LOWRES_MIN_VOXEL_REDUCTION = 2;

export class Planner3DV21 extends ExperimentPlanner {
  readonly name: string = 'ExperimentPlanner3D_v21';
  readonly plansFileName: string = PLANS_FILE_3D;
  readonly dataIdentifier: string = 'nnUNetData_plans_v2.1';
  readonly preprocessorName: string = 'GenericPreprocessor';
  readonly maxNumFeatures: number = MAX_NUM_FEATURES_3D;
  protected override readonly storesConvPerStage: boolean = true;

  /**
   * The median spacing per axis, except for datasets with one axis both much coarser (> 3x the
   * other spacings) and much shorter (3x fewer voxels) than the others, such as stacks of thick
   * slices: that axis takes its 10th-percentile spacing, to limit interpolation artefacts when
   * the few thick-slice cases are resampled, yet at least a hair coarser than the other axes.
   */
  override targetSpacing(fingerprint: DatasetProperties): number[] {
    const target = percentileColumns(fingerprint.all_spacings, this.targetSpacingPercentile);
    const targetSize = percentileColumns(fingerprint.all_sizes, this.targetSpacingPercentile);
    const worst = argmaxFirst(target);
    const others = [0, 1, 2].filter((i) => i !== worst);
    const otherSpacingMax = Math.max(...others.map((i) => target[i] as number));
    const otherSizeMin = Math.min(...others.map((i) => targetSize[i] as number));
    const anisotropicSpacing = (target[worst] as number) > this.anisotropyThreshold * otherSpacingMax;
    const anisotropicVoxels = (targetSize[worst] as number) * this.anisotropyThreshold < otherSizeMin;
    if (anisotropicSpacing && anisotropicVoxels) {
      let spacing = percentile(
        fingerprint.all_spacings.map((s) => s[worst] as number),
        ANISOTROPIC_AXIS_SPACING_PERCENTILE,
      );
      if (spacing < otherSpacingMax) spacing = Math.max(otherSpacingMax, spacing) + ANISOTROPIC_SPACING_MARGIN;
      target[worst] = spacing;
    }
    return target;
  }

  /**
   * The patch starts as a 512 mm cube (in voxels of `currentSpacing`) clipped to the median case,
   * then shrinks while the memory estimate exceeds the reference network's (scaled by 32/30 base
   * features); the batch size grows with the memory left over, but one batch may hold at most 5 %
   * of the dataset's voxels (and never less than 2 cases by that rule).
   */
  planStage(request: StageRequest): StagePlan {
    const spacing = request.currentSpacing;
    const median = request.originalSpacing.map((s, i) =>
      roundHalfEven((s / (spacing[i] as number)) * (request.originalShape[i] as number)),
    );
    const datasetVoxels = product(median) * request.numCases;
    const voxelsPerMm = spacing.map((s) => 1 / s);
    const meanVoxelsPerMm = sumInOrder(voxelsPerMm) / voxelsPerMm.length;
    const relative = voxelsPerMm.map((v) => v / meanVoxelsPerMm);
    const scale = (1 / Math.min(...relative)) * INITIAL_PATCH_EDGE_MM;
    const start = relative.map((v, i) => Math.min(roundHalfEven(v * scale), median[i] as number));

    const budget = (VRAM_REFERENCE_3D * this.baseNumFeatures) / REFERENCE_BASE_FEATURES_3D;
    const estimate = (t: { patchSize: number[]; poolKernels: number[][] }) =>
      approxVramConsumption(
        t.patchSize,
        t.poolKernels,
        this.baseNumFeatures,
        this.maxNumFeatures,
        request.numModalities,
        request.numClasses,
        this.convPerStage,
      );
    let topology = this.topology(spacing, start);
    let here = estimate(topology);
    while (here > budget) {
      topology = this.shrinkPatch(spacing, topology, median);
      here = estimate(topology);
    }
    const patch = topology.patchSize;
    const byMemory = Math.floor(Math.max(budget / here, 1) * REFERENCE_BATCH_SIZE_3D);
    const byDataset = Math.max(
      roundHalfEven((this.maxBatchDatasetFraction * datasetVoxels) / product(patch)),
      this.minBatchSize,
    );
    return {
      batch_size: Math.max(1, Math.min(byMemory, byDataset)),
      num_pool_per_axis: topology.numPoolPerAxis,
      patch_size: patch,
      median_patient_size_in_voxels: median,
      current_spacing: [...spacing],
      original_spacing: [...request.originalSpacing],
      do_dummy_2D_data_aug: Math.max(...patch) / (patch[0] as number) > this.anisotropyThreshold,
      pool_op_kernel_sizes: topology.poolKernels,
      conv_kernel_sizes: topology.convKernels,
    };
  }

  /**
   * 3d_fullres, preceded by 3d_lowres when the full-resolution patch covers less than 1/4 of the
   * median case: the low-resolution spacing grows by 1 % per step (first only the axes more than
   * 2x finer than the coarsest) until the median case holds at most 4 of that stage's patches.
   * The stage is kept only if it at least halves the median case's voxel count.
   */
  protected override planStages(geometry: DatasetGeometry): StagePlan[] {
    const [fullres] = super.planStages(geometry) as [StagePlan];
    const { targetSpacing, medianShape, transposeForward } = geometry;
    let patchVoxels = product(fullres.patch_size);
    if (product(medianShape) / patchVoxels < CASCADE_CASE_TO_PATCH_RATIO) return [fullres];

    const lowSpacing = [...targetSpacing];
    let caseVoxels = product(medianShape);
    let lowres: StagePlan | undefined;
    while (caseVoxels > CASCADE_CASE_TO_PATCH_RATIO * patchVoxels) {
      const coarsest = Math.max(...lowSpacing);
      const lagging = lowSpacing.map((s) => coarsest / s > LOWRES_CATCH_UP_FACTOR);
      const grow = lagging.some(Boolean) ? lagging : lagging.map(() => true);
      lowSpacing.forEach((s, i) => {
        if (grow[i]) lowSpacing[i] = s * LOWRES_SPACING_GROWTH;
      });
      caseVoxels = product(targetSpacing.map((t, i) => (t / (lowSpacing[i] as number)) * (medianShape[i] as number)));
      lowres = this.planStage({
        currentSpacing: transpose(lowSpacing, transposeForward),
        originalSpacing: fullres.current_spacing,
        originalShape: transpose(medianShape, transposeForward),
        numCases: geometry.numCases,
        numModalities: geometry.numModalities,
        numClasses: geometry.numClasses,
      });
      patchVoxels = product(lowres.patch_size);
    }
    if (
      lowres !== undefined &&
      LOWRES_MIN_VOXEL_REDUCTION * product(lowres.median_patient_size_in_voxels) <
        product(fullres.median_patient_size_in_voxels)
    ) {
      return [lowres, fullres];
    }
    return [fullres];
  }
}
