/**
 * The network configuration of one plans stage, as nnU-Net v1's nnUNetTrainer.process_plans reads
 * it and nnUNetTrainerV2.initialize_network passes it to Generic_UNet.
 */
import { NnunetError } from '../errors.js';
import type { Plans, StagePlan } from '../model/plans.js';
import { type GenericUNetConfig, MAX_NUM_FEATURES_2D, MAX_NUM_FEATURES_3D } from './generic-unet.js';

/** v1's default when a plans file has no conv_per_stage (2-D plans never have one). */
export const DEFAULT_CONV_PER_STAGE = 2;

export interface UNetFromPlansOptions {
  /** Default true (training); inference switches it off. */
  deepSupervision?: boolean;
  /** Default: 320 for 3-D, 480 for 2-D (Generic_UNet's caps). */
  maxNumFeatures?: number;
}

/** The plans fields this reads; v1 plans without the kernel lists (old files) are accepted too. */
export type PlansForNetwork = Pick<Plans, 'num_modalities' | 'num_classes' | 'base_num_features' | 'conv_per_stage'> & {
  plans_per_stage: Record<
    string,
    Pick<StagePlan, 'patch_size' | 'num_pool_per_axis'> &
      Partial<Pick<StagePlan, 'pool_op_kernel_sizes' | 'conv_kernel_sizes'>>
  >;
};

/**
 * The GenericUNet configuration for plans stage `stageKey` ("0", "1", ... as in plans_per_stage;
 * may be left out when the plans have a single stage, as in v1): input channels = num_modalities,
 * classes = num_classes + 1 (background), base features, conv_per_stage (default 2), the stage's
 * pool and conv kernels, 2-D or 3-D from the length of its patch size. Plans written before v1
 * stored the kernels get v1's fallback: pool kernels of 2 from num_pool_per_axis (axes with fewer
 * pools join late) and 3x3(x3) convs.
 */
export function unetConfigFromPlans(
  plans: PlansForNetwork,
  stageKey?: string | number,
  options: UNetFromPlansOptions = {},
): GenericUNetConfig {
  const keys = Object.keys(plans.plans_per_stage);
  let key: string;
  if (stageKey === undefined) {
    if (keys.length !== 1) {
      throw new NnunetError(
        'ERR_ARGUMENT',
        `the plans have ${keys.length} stages (${keys.join(', ')}); name the stage to build the network for`,
      );
    }
    key = keys[0] as string;
  } else {
    key = String(stageKey);
  }
  const stage = plans.plans_per_stage[key];
  if (stage === undefined) {
    throw new NnunetError(
      'ERR_ARGUMENT',
      `the plans have no stage "${key}" (stages: ${keys.join(', ')}); pick one of those`,
    );
  }
  const dims = stage.patch_size.length;
  if (dims !== 2 && dims !== 3) {
    throw new NnunetError(
      'ERR_ARGUMENT',
      `plans stage "${key}" has patch size [${stage.patch_size.join(', ')}]; a network needs 2 or 3 axes`,
    );
  }
  const poolsPerAxis = stage.num_pool_per_axis;
  const maxPools = Math.max(...poolsPerAxis);
  const pool =
    stage.pool_op_kernel_sizes ??
    Array.from({ length: maxPools }, (_, i) => poolsPerAxis.map((p) => (maxPools - p <= i ? 2 : 1)));
  const conv = stage.conv_kernel_sizes ?? Array.from({ length: maxPools + 1 }, () => poolsPerAxis.map(() => 3));
  return {
    spatialDims: dims,
    inputChannels: plans.num_modalities,
    numClasses: plans.num_classes + 1,
    baseNumFeatures: plans.base_num_features,
    maxNumFeatures: options.maxNumFeatures ?? (dims === 3 ? MAX_NUM_FEATURES_3D : MAX_NUM_FEATURES_2D),
    convPerStage: plans.conv_per_stage ?? DEFAULT_CONV_PER_STAGE,
    poolOpKernelSizes: pool.map((k) => [...k]),
    convKernelSizes: conv.map((k) => [...k]),
    deepSupervision: options.deepSupervision ?? true,
  };
}
