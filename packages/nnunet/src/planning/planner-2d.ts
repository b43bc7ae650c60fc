/**
 * nnU-Net v1's 2-D planner, ExperimentPlanner2D_v21 (experiment_planning/
 * experiment_planner_baseline_2DUNet_v21.py on top of ExperimentPlanner2D): one stage whose
 * network sees in-plane slices, i.e. the last two axes after the transpose. The target spacing is
 * the plain median (the v2.1 anisotropy rule is 3-D only).
 */

import { roundHalfEven } from '../compat/numpy.js';
import { PLANS_FILE_2D } from '../model/layout.js';
import type { StagePlan } from '../model/plans.js';
import { product } from '../util/shape.js';
import { ExperimentPlanner, type StageRequest } from './experiment-planner.js';
import { approxVramConsumption, REFERENCE_BATCH_SIZE_2D, VRAM_REFERENCE_2D } from './vram.js';

/** v1's ExperimentPlanner2D.unet_max_num_filters. */
export const MAX_NUM_FEATURES_2D = 512;
/**
 * v1's 2-D v2.1 planner estimates the initial patch's memory as if the network had 30 base
 * features (the v1 configuration); the estimates while shrinking use the real 32.
 */
export const FIRST_ESTIMATE_BASE_FEATURES_2D = 30;
/** v1 plans 2-D batches in pairs: the budget is that of 2 samples, the batch 2 * floor(budget / estimate). */
export const BATCH_SIZE_STEP_2D = 2;

export class Planner2DV21 extends ExperimentPlanner {
  readonly name: string = 'ExperimentPlanner2D_v21';
  readonly plansFileName: string = PLANS_FILE_2D;
  readonly dataIdentifier: string = 'nnUNetData_plans_v2.1_2D';
  readonly preprocessorName: string = 'PreprocessorFor2D';
  readonly maxNumFeatures: number = MAX_NUM_FEATURES_2D;

  /**
   * The patch starts as the median slice (in-plane median shape) and shrinks while the memory
   * estimate exceeds the reference 2-D network's; the batch size fills the budget in pairs, capped
   * at 5 % of the dataset's voxels (which may bring it down to 1).
   */
  planStage(request: StageRequest): StagePlan {
    const median = request.originalSpacing.map((s, i) =>
      roundHalfEven((s / (request.currentSpacing[i] as number)) * (request.originalShape[i] as number)),
    );
    const datasetVoxels = product(median) * request.numCases;
    const spacing = request.currentSpacing.slice(1);
    const medianSlice = median.slice(1);
    const budget = (VRAM_REFERENCE_2D * REFERENCE_BATCH_SIZE_2D) / BATCH_SIZE_STEP_2D;
    const estimate = (t: { patchSize: number[]; poolKernels: number[][] }, baseNumFeatures: number) =>
      approxVramConsumption(
        t.patchSize,
        t.poolKernels,
        baseNumFeatures,
        this.maxNumFeatures,
        request.numModalities,
        request.numClasses,
        this.convPerStage,
      );
    let topology = this.topology(spacing, medianSlice);
    let here = estimate(topology, FIRST_ESTIMATE_BASE_FEATURES_2D);
    while (here > budget) {
      topology = this.shrinkPatch(spacing, topology, medianSlice);
      here = estimate(topology, this.baseNumFeatures);
    }
    const patch = topology.patchSize;
    // At least 2, since the loop leaves here <= budget.
    const byMemory = Math.floor(budget / here) * BATCH_SIZE_STEP_2D;
    const byDataset = roundHalfEven((this.maxBatchDatasetFraction * datasetVoxels) / product(patch));
    return {
      batch_size: Math.max(1, Math.min(byMemory, byDataset)),
      num_pool_per_axis: topology.numPoolPerAxis,
      patch_size: patch,
      median_patient_size_in_voxels: median,
      current_spacing: [...request.currentSpacing],
      original_spacing: [...request.originalSpacing],
      pool_op_kernel_sizes: topology.poolKernels,
      conv_kernel_sizes: topology.convKernels,
      do_dummy_2D_data_aug: false,
    };
  }
}
