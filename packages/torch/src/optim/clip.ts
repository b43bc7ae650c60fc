/** Gradient clipping. */
import { noGrad } from '../autograd.js';
import { argError } from '../errors.js';
import { stack } from '../functional.js';
import type { Tensor } from '../tensor.js';

/**
 * Scales all gradients in place so their joint p-norm is at most maxNorm (torch.nn.utils.
 * clip_grad_norm_: coefficient maxNorm / (norm + 1e-6), clamped to 1). Returns the norm before
 * clipping.
 */
export function clipGradNorm_(params: Iterable<Tensor>, maxNorm: number, normType = 2): number {
  if (!(maxNorm > 0)) throw argError(`maxNorm must be > 0, got ${maxNorm}`);
  return noGrad(() => {
    const grads = [...params].map((p) => p.grad).filter((g): g is Tensor => g !== null);
    if (grads.length === 0) return 0;
    let total: number;
    if (normType === Number.POSITIVE_INFINITY) {
      total = Math.max(
        ...grads.map((g) => {
          const a = g.abs();
          const m = a.max();
          const v = m.item();
          a.dispose();
          m.dispose();
          return v;
        }),
      );
    } else {
      const norms = grads.map((g) => g.norm(normType));
      const st = stack(norms);
      const tn = st.norm(normType);
      total = tn.item();
      for (const n of norms) n.dispose();
      st.dispose();
      tn.dispose();
    }
    const coef = Math.min(maxNorm / (total + 1e-6), 1);
    for (const g of grads) {
      if (coef < 1) g.mul_(coef);
      g.dispose();
    }
    return total;
  });
}
