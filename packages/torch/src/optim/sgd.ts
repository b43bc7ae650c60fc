/** SGD with momentum, dampening, Nesterov and L2 weight decay, with PyTorch's update rule. */
import { noGrad } from '../autograd.js';
import { argError } from '../errors.js';
import type { Tensor } from '../tensor.js';
import { Optimizer } from './optimizer.js';

export interface SGDOptions {
  lr: number;
  momentum?: number;
  dampening?: number;
  weightDecay?: number;
  nesterov?: boolean;
}

export class SGD extends Optimizer<SGDOptions> {
  constructor(params: Iterable<Tensor>, options: SGDOptions) {
    if (!(options.lr >= 0)) throw argError(`SGD lr must be >= 0, got ${options.lr}`);
    if (options.nesterov && (!(options.momentum ?? 0) || (options.dampening ?? 0) !== 0)) {
      throw argError('SGD nesterov needs momentum > 0 and dampening 0');
    }
    super(params, options);
  }

  step(): void {
    const { lr, momentum = 0, dampening = 0, weightDecay = 0, nesterov = false } = this.options;
    noGrad(() => {
      this.params.forEach((p, i) => {
        const g = p.grad;
        if (g === null) return;
        const temporaries: Tensor[] = [g];
        // d = g + wd * p
        let d = g;
        if (weightDecay !== 0) {
          d = g.add(p, weightDecay);
          temporaries.push(d);
        }
        if (momentum !== 0) {
          let buf = this.getState(i, 'momentum_buffer');
          if (buf === undefined) buf = this.setState(i, 'momentum_buffer', d.clone());
          else buf.mul_(momentum).add_(d, 1 - dampening);
          if (nesterov) {
            d = d.add(buf, momentum);
            temporaries.push(d);
          } else {
            d = buf;
          }
        }
        p.add_(d, -lr);
        for (const t of temporaries) t.dispose();
      });
    });
    this.stepCount++;
  }
}
