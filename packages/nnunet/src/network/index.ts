/** The U-Net of nnU-Net v1 (Generic_UNet as nnUNetTrainerV2 builds it) and its configuration. */
export { deepSupervisionLossWeights, deepSupervisionScales } from './deep-supervision.js';
export {
  DEFAULT_CONV_PER_STAGE,
  type PlansForNetwork,
  type UNetFromPlansOptions,
  unetConfigFromPlans,
} from './from-plans.js';
export {
  ConvNormNonlin,
  FEATURE_MULTIPLIER_PER_STAGE,
  GenericUNet,
  type GenericUNetConfig,
  INSTANCE_NORM_EPS,
  LEAKY_RELU_SLOPE,
  MAX_NUM_FEATURES_2D,
  MAX_NUM_FEATURES_3D,
  ModuleList,
  StackedConvLayers,
} from './generic-unet.js';
export { HE_INIT_NEGATIVE_SLOPE, type HeInitOptions, initWeightsHe } from './init.js';
