/** Adam and AdamW with PyTorch's update rule (bias-corrected moments, eps outside the sqrt). */
import { noGrad } from '../autograd.js';
import { zerosLike } from '../creation.js';
import { argError } from '../errors.js';
import type { Tensor } from '../tensor.js';
import { Optimizer } from './optimizer.js';

export interface AdamOptions {
  lr: number;
  betas?: readonly [number, number];
  eps?: number;
  weightDecay?: number;
}

export class Adam extends Optimizer<AdamOptions> {
  /** AdamW applies decoupled weight decay (p *= 1 - lr * wd); Adam adds wd * p to the gradient. */
  protected readonly decoupled: boolean = false;

  constructor(params: Iterable<Tensor>, options: AdamOptions) {
    if (!(options.lr >= 0)) throw argError(`Adam lr must be >= 0, got ${options.lr}`);
    super(params, options);
  }

  step(): void {
    const { lr, betas = [0.9, 0.999], eps = 1e-8, weightDecay = 0 } = this.options;
    const [b1, b2] = betas;
    this.stepCount++;
    const t = this.stepCount;
    const bc1 = 1 - b1 ** t;
    const bc2Sqrt = Math.sqrt(1 - b2 ** t);
    noGrad(() => {
      this.params.forEach((p, i) => {
        const g0 = p.grad;
        if (g0 === null) return;
        let g = g0;
        if (weightDecay !== 0) {
          if (this.decoupled) p.mul_(1 - lr * weightDecay);
          else g = g0.add(p, weightDecay);
        }
        const m = this.getState(i, 'exp_avg') ?? this.setState(i, 'exp_avg', zerosLike(p));
        const v = this.getState(i, 'exp_avg_sq') ?? this.setState(i, 'exp_avg_sq', zerosLike(p));
        m.mul_(b1).add_(g, 1 - b1);
        v.mul_(b2).addcmul_(g, g, 1 - b2);
        const denom = v.sqrt().div_(bc2Sqrt).add_(eps);
        p.addcdiv_(m, denom, -lr / bc1);
        denom.dispose();
        if (g !== g0) g.dispose();
        g0.dispose();
      });
    });
  }
}

export class AdamW extends Adam {
  protected override readonly decoupled: boolean = true;
  constructor(params: Iterable<Tensor>, options: AdamOptions) {
    super(params, { weightDecay: 1e-2, ...options });
  }
}
