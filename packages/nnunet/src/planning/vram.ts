/**
 * v1's proxy for the GPU memory a Generic_UNet needs (Generic_UNet.compute_approx_vram_consumption
 * and its class constants in network_architecture/generic_UNet.py). It is not a byte count: it is
 * the number of feature-map voxels the network holds, which the planners compare against the value
 * of a reference network known to fit a GPU.
 */
import { product } from '../util/shape.js';

/** v1's Generic_UNet.use_this_for_batch_size_computation_3D: the estimate of the 3-D reference network (30 base features, batch 2) that fits the GPU. */
export const VRAM_REFERENCE_3D = 520000000;
/** v1's Generic_UNet.use_this_for_batch_size_computation_2D: the same for the 2-D reference network. */
export const VRAM_REFERENCE_2D = 19739648;
/** v1's Generic_UNet.DEFAULT_BATCH_SIZE_3D: the batch size the 3-D reference estimate was made for. */
export const REFERENCE_BATCH_SIZE_3D = 2;
/** v1's Generic_UNet.DEFAULT_BATCH_SIZE_2D: the batch size the 2-D reference estimate was made for. */
export const REFERENCE_BATCH_SIZE_2D = 50;
/** v1's Generic_UNet.BASE_NUM_FEATURES_3D: the base feature count of the 3-D reference network. */
export const REFERENCE_BASE_FEATURES_3D = 30;

/**
 * The estimate for one sample: for every resolution level, the voxels of its feature maps times
 * their channel count, counting (2 * convPerStage + 1) maps per level (encoder convs, decoder
 * convs, transposed conv) except at the bottleneck (convPerStage), plus input and output maps at
 * full resolution. Channels double per level up to `maxNumFeatures`. Map sizes are divided by the
 * pool kernel and truncated to integers at every level, as v1 does on its integer array. Deep
 * supervision is not counted (the planners never count it).
 *
 * `patchSize` and the kernels are per axis in the same order; the result is an integer.
 */
export function approxVramConsumption(
  patchSize: readonly number[],
  poolKernels: readonly (readonly number[])[],
  baseNumFeatures: number,
  maxNumFeatures: number,
  numModalities: number,
  numClasses: number,
  convPerStage: number,
): number {
  const mapSize = [...patchSize];
  const voxels = () => product(mapSize);
  let total = (convPerStage * 2 + 1) * voxels() * baseNumFeatures + numModalities * voxels() + numClasses * voxels();
  let features = baseNumFeatures;
  const levels = poolKernels.length;
  poolKernels.forEach((kernel, p) => {
    for (let i = 0; i < mapSize.length; i++) mapSize[i] = Math.trunc((mapSize[i] as number) / (kernel[i] as number));
    features = Math.min(features * 2, maxNumFeatures);
    const maps = p < levels - 1 ? convPerStage * 2 + 1 : convPerStage;
    total += maps * voxels() * features;
  });
  return total;
}
