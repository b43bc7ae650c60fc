/** nnU-Net v1's weight initialisation (network_architecture/initialization.py). */
import { Conv, type Generator, init, type Module } from '@nnunet/torch';

/**
 * InitWeights_He's neg_slope as nnUNetTrainerV2 passes it. The weights are drawn for a leaky ReLU
 * of this slope (gain sqrt(2 / (1 + 0.01^2))), which is also the slope the network uses.
 */
export const HE_INIT_NEGATIVE_SLOPE = 1e-2;

export interface HeInitOptions {
  /** Negative slope for the gain (default HE_INIT_NEGATIVE_SLOPE). */
  negativeSlope?: number;
  /** Draw from this generator instead of LibTorch's global one. */
  generator?: Generator;
}

/**
 * v1's InitWeights_He applied to every module: each convolution and transposed convolution gets
 * kaiming_normal_(a = negativeSlope, mode fan_in) weights and zero biases; other modules (instance
 * norms) are left as they are. Convolutions are visited in state-dict order, which is the order
 * torch's Module.apply visits them in v1, so one generator gives one reproducible network.
 * A transposed convolution's fan_in is taken from its weight's dim 1 (its output channels) times
 * the kernel volume, as PyTorch does.
 */
export function initWeightsHe(module: Module, options: HeInitOptions = {}): void {
  const a = options.negativeSlope ?? HE_INIT_NEGATIVE_SLOPE;
  for (const [, m] of module.namedModules()) {
    if (!(m instanceof Conv)) continue;
    init.kaimingNormal_(m.weight, { a, ...(options.generator ? { generator: options.generator } : {}) });
    if (m.bias !== null) init.zeros_(m.bias);
  }
}
