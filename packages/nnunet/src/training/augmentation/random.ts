/**
 * Every random draw of the augmentation comes from one @nnunet/torch Generator, so a seeded
 * generator makes a run reproducible. Scalars (probabilities, angles, factors) are read from the
 * generator a block at a time; noise fields are drawn on the CPU with it and then moved to the
 * data's device (the Generator is a CPU generator).
 */
import { type Device, type DType, type Generator, rand, randn, type Shape, type Tensor } from '@nnunet/torch';
import type { Range } from './params.js';

/** Scalars read from the generator per refill; one call into LibTorch serves this many draws. */
const SCALAR_BLOCK = 256;

export class AugmentationRandom {
  readonly generator: Generator;
  #block: Float64Array = new Float64Array(0);
  #next = 0;

  constructor(generator: Generator) {
    this.generator = generator;
  }

  /** Uniform in [0, 1). */
  random(): number {
    if (this.#next >= this.#block.length) {
      const t = rand([SCALAR_BLOCK], { dtype: 'float64', generator: this.generator });
      try {
        this.#block = t.toTypedArray() as Float64Array;
      } finally {
        t.dispose();
      }
      this.#next = 0;
    }
    return this.#block[this.#next++] as number;
  }

  /** Uniform between low and high; `low` itself when they are equal (batchgenerators' `uniform`). */
  uniform(low: number, high: number): number {
    if (low === high) return low;
    return low + (high - low) * this.random();
  }

  uniformIn(r: Range): number {
    return this.uniform(r[0], r[1]);
  }

  /** True with probability p (v1: `np.random.uniform() < p`). */
  chance(p: number): boolean {
    return this.random() < p;
  }

  /**
   * v1's draw for scale, contrast and gamma factors: when the range starts below 1, half of the
   * draws are uniform in [low, 1) and half in [max(low, 1), high).
   */
  aroundOne(r: Range): number {
    if (this.random() < 0.5 && r[0] < 1) return this.uniform(r[0], 1);
    return this.uniform(Math.max(r[0], 1), r[1]);
  }

  /** Normal(mean, std) by Box-Muller from two uniforms. */
  normal(mean: number, std: number): number {
    const u = 1 - this.random(); // (0, 1]: log stays finite
    const v = this.random();
    return mean + std * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** Standard-normal tensor of `shape` on `device`. */
  randn(shape: Shape, dtype: DType, device: Device): Tensor {
    return onDevice(randn(shape, { dtype, generator: this.generator }), device);
  }

  /** Uniform [0, 1) tensor of `shape` on `device`. */
  rand(shape: Shape, dtype: DType, device: Device): Tensor {
    return onDevice(rand(shape, { dtype, generator: this.generator }), device);
  }
}

function onDevice(t: Tensor, device: Device): Tensor {
  if (device === 'cpu') return t;
  const moved = t.to(device);
  t.dispose();
  return moved;
}
