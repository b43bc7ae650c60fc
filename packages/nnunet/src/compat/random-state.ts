/**
 * NumPy's legacy `np.random.RandomState` for the two calls nnU-Net v1's preprocessing makes:
 * seeding with an integer (MT19937 init_genrand) and `choice(n, k, replace=False)` (the first k
 * of a Fisher-Yates permutation drawn with rejection-sampled bounded integers). Reproducing it
 * makes our foreground class locations the same voxels v1 picks.
 */
export class LegacyRandomState {
  readonly #mt = new Uint32Array(624);
  #index = 624;

  constructor(seed: number) {
    const mt = this.#mt;
    mt[0] = seed >>> 0;
    for (let i = 1; i < 624; i++) {
      const prev = (mt[i - 1] as number) ^ ((mt[i - 1] as number) >>> 30);
      // 1812433253 * prev + i, in 32-bit arithmetic.
      mt[i] = (Math.imul(1812433253, prev) + i) >>> 0;
    }
  }

  #twist(): void {
    const mt = this.#mt;
    for (let i = 0; i < 624; i++) {
      const y = ((mt[i] as number) & 0x80000000) | ((mt[(i + 1) % 624] as number) & 0x7fffffff);
      let v = (mt[(i + 397) % 624] as number) ^ (y >>> 1);
      if (y & 1) v ^= 0x9908b0df;
      mt[i] = v >>> 0;
    }
    this.#index = 0;
  }

  /** Next raw 32-bit output (tempered). */
  nextUint32(): number {
    if (this.#index >= 624) this.#twist();
    let y = this.#mt[this.#index++] as number;
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  /** Uniform integer in [0, max] by masking and rejection (NumPy's random_interval, max < 2^32). */
  interval(max: number): number {
    if (max === 0) return 0;
    let mask = max;
    mask |= mask >>> 1;
    mask |= mask >>> 2;
    mask |= mask >>> 4;
    mask |= mask >>> 8;
    mask |= mask >>> 16;
    mask >>>= 0;
    let v: number;
    do {
      v = (this.nextUint32() & mask) >>> 0;
    } while (v > max);
    return v;
  }

  /** `permutation(n)[:k]`, i.e. `choice(n, k, replace=False)`: k distinct indices in [0, n). */
  choiceWithoutReplacement(n: number, k: number): Int32Array {
    const perm = new Int32Array(n);
    for (let i = 0; i < n; i++) perm[i] = i;
    for (let i = n - 1; i >= 1; i--) {
      const j = this.interval(i);
      const t = perm[i] as number;
      perm[i] = perm[j] as number;
      perm[j] = t;
    }
    return perm.subarray(0, k);
  }
}
