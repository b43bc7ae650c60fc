/** nnU-Net v1's training augmentation on @nnunet/torch tensors (CPU or CUDA). */

export { oneHot } from '../../inference/cascade-input.js';
export {
  applyRandomBinaryOperator_,
  BINARY_OPERATORS,
  type BinaryOperator,
  ballFootprint,
  binaryDilation,
  binaryErosion,
  binaryOperation,
  CASCADE_AUGMENTATION_AS_DOCUMENTED,
  CASCADE_AUGMENTATION_V1,
  type CascadeAugmentationParams,
  cascadeBatchTransform,
  labelComponents,
  moveSegAsOneHotToData,
  removeRandomConnectedComponent_,
} from './cascade.js';
export { type GaussianBorder, gaussianFilter, gaussianKernel1d } from './gaussian.js';
export {
  brightnessAdditive_,
  brightnessMultiplicative_,
  contrast_,
  gamma_,
  gaussianBlur_,
  gaussianNoise_,
} from './intensity.js';
export { maskOutside_, replaceLabel_ } from './labels.js';
export { resizeNearestCentred, simulateLowResolution_ } from './low-resolution.js';
export { MIRROR_PROBABILITY, mirror_ } from './mirror.js';
export {
  type AdditiveBrightnessParams,
  type AugmentationParams,
  DEFAULT_2D,
  DEFAULT_3D,
  degrees,
  ELONGATED_PATCH_ASPECT,
  type ElasticParams,
  fromV1DataAugParams,
  type GammaParams,
  getPatchSize,
  type Range,
  type RotationParams,
  type ScalingParams,
  TRAINER_V2_ROTATION_2D_ELONGATED,
  TRAINER_V2_ROTATION_3D,
  TRAINER_V2_SCALE_RANGE,
  type TrainerV2Setup,
  trainerV2AugmentationParams,
  type V1DataAugParams,
} from './params.js';
export { type Augmentation, createAugmentation, OUTSIDE_LABEL } from './pipeline.js';
export { AugmentationRandom } from './random.js';
export {
  applySpatialTransform,
  centerCrop,
  drawSpatialSample,
  rotationSampleMatrix,
  type SpatialOptions,
  type SpatialSample,
  scaleMatrix,
} from './spatial.js';
