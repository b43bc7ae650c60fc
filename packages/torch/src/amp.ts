/** Mixed precision: autocast scopes and a gradient scaler (torch.autocast / torch.cuda.amp.GradScaler). */

import { noGrad } from './autograd.js';
import { DTYPE_CODES, type DType } from './dtype.js';
import { argError } from './errors.js';
import { stack } from './functional.js';
import { native } from './native.js';
import { tidy } from './scope.js';
import type { Tensor } from './tensor.js';

/**
 * Runs fn with autocast on for `device` ('cuda' defaults to float16, 'cpu' to bfloat16): ops
 * that benefit (convolutions, matmuls) run in the low-precision dtype, reductions stay float32.
 */
export function autocast<T>(
  device: 'cpu' | 'cuda',
  fn: () => T,
  options: { dtype?: DType; enabled?: boolean } = {},
): T {
  if (device !== 'cpu' && device !== 'cuda')
    throw argError(`autocast device must be 'cpu' or 'cuda', got ${String(device)}`);
  const dtype = options.dtype ?? (device === 'cuda' ? 'float16' : 'bfloat16');
  if (dtype !== 'float16' && dtype !== 'bfloat16')
    throw argError(`autocast dtype must be float16 or bfloat16, got ${dtype}`);
  const [cudaOn, cpuOn, gpuDtype, cpuDtype] = native.autocastState();
  const enabled = options.enabled ?? true;
  native.autocastSet(
    device === 'cuda' ? enabled : cudaOn !== 0,
    device === 'cpu' ? enabled : cpuOn !== 0,
    device === 'cuda' ? DTYPE_CODES[dtype] : gpuDtype,
    device === 'cpu' ? DTYPE_CODES[dtype] : cpuDtype,
  );
  native.autocastEnter();
  try {
    const r = fn();
    if (r instanceof Promise) throw new TypeError('autocast(fn): fn must be synchronous; it returned a Promise');
    return r;
  } finally {
    native.autocastExit();
    native.autocastSet(cudaOn !== 0, cpuOn !== 0, gpuDtype, cpuDtype);
  }
}

/**
 * Dynamic loss scaling for float16 training: scale the loss before backward, unscale and check
 * the gradients, skip the step on inf/NaN and shrink the scale, grow it after `growthInterval`
 * good steps. Same defaults as PyTorch (2^16, x2, x0.5, 2000).
 */
export class GradScaler {
  scale: number;
  readonly growthFactor: number;
  readonly backoffFactor: number;
  readonly growthInterval: number;
  readonly enabled: boolean;
  #growthTracker = 0;
  #unscaled = false;
  #foundInf = false;

  constructor(
    o: {
      initScale?: number;
      growthFactor?: number;
      backoffFactor?: number;
      growthInterval?: number;
      enabled?: boolean;
    } = {},
  ) {
    this.scale = o.initScale ?? 65536;
    this.growthFactor = o.growthFactor ?? 2;
    this.backoffFactor = o.backoffFactor ?? 0.5;
    this.growthInterval = o.growthInterval ?? 2000;
    this.enabled = o.enabled ?? true;
  }

  /** loss * scale (a new tensor). */
  scaleLoss(loss: Tensor): Tensor {
    return this.enabled ? loss.mul(this.scale) : loss.mul(1);
  }

  /**
   * Divides the gradients of `params` by the scale in place and records whether any is not finite
   * (one device-to-host read for all of them, not one per parameter).
   */
  unscale(params: Iterable<Tensor>): void {
    if (!this.enabled || this.#unscaled) return;
    const inv = 1 / this.scale;
    this.#foundInf = noGrad(() =>
      tidy(() => {
        const finite: Tensor[] = [];
        for (const p of params) {
          const g = p.grad;
          if (g === null) continue;
          finite.push(g.isfinite().all());
          g.mul_(inv);
        }
        return finite.length > 0 && stack(finite).all().item() === 0;
      }),
    );
    this.#unscaled = true;
  }

  /** Unscales if needed, then calls `stepFn` unless a gradient was inf/NaN. Returns whether it stepped. */
  step(params: Iterable<Tensor>, stepFn: () => void): boolean {
    if (!this.enabled) {
      stepFn();
      return true;
    }
    this.unscale(params);
    if (this.#foundInf) return false;
    stepFn();
    return true;
  }

  /** Adjusts the scale after a step. */
  update(): void {
    if (!this.enabled) return;
    if (this.#foundInf) {
      this.scale *= this.backoffFactor;
      this.#growthTracker = 0;
    } else if (++this.#growthTracker >= this.growthInterval) {
      this.scale *= this.growthFactor;
      this.#growthTracker = 0;
    }
    this.#unscaled = false;
    this.#foundInf = false;
  }

  get foundInf(): boolean {
    return this.#foundInf;
  }

  stateDict(): { scale: number; growthTracker: number } {
    return { scale: this.scale, growthTracker: this.#growthTracker };
  }
  loadStateDict(s: { scale: number; growthTracker: number }): void {
    this.scale = s.scale;
    this.#growthTracker = s.growthTracker;
  }
}
