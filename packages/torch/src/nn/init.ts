/** Weight initialisation (torch.nn.init), in place under no-grad, with an optional generator. */
import { noGrad } from '../autograd.js';
import { argError } from '../errors.js';
import type { Generator, Tensor } from '../tensor.js';

/** fan_in and fan_out of a weight [out, in, ...kernel] (PyTorch's definition). */
export function fans(w: Tensor): { fanIn: number; fanOut: number } {
  if (w.ndim < 2)
    throw argError(`fan in/out need a tensor with at least 2 dimensions, got shape [${w.shape.join(', ')}]`);
  const receptive = w.shape.slice(2).reduce((a, b) => a * b, 1);
  return { fanIn: (w.shape[1] as number) * receptive, fanOut: (w.shape[0] as number) * receptive };
}

/** Gain of leaky_relu with negative slope a: sqrt(2 / (1 + a^2)). */
export function leakyReluGain(a: number): number {
  return Math.sqrt(2 / (1 + a * a));
}

export interface KaimingOptions {
  a?: number;
  mode?: 'fanIn' | 'fanOut';
  generator?: Generator;
}

/** He normal: N(0, gain / sqrt(fan)), with gain for leaky_relu(a). */
export function kaimingNormal_(w: Tensor, o: KaimingOptions = {}): Tensor {
  const f = fans(w);
  const std = leakyReluGain(o.a ?? 0) / Math.sqrt(o.mode === 'fanOut' ? f.fanOut : f.fanIn);
  return noGrad(() => w.normal_(0, std, o.generator));
}

/** He uniform: U(-b, b) with b = gain * sqrt(3 / fan). */
export function kaimingUniform_(w: Tensor, o: KaimingOptions = {}): Tensor {
  const f = fans(w);
  const bound = leakyReluGain(o.a ?? 0) * Math.sqrt(3 / (o.mode === 'fanOut' ? f.fanOut : f.fanIn));
  return noGrad(() => w.uniform_(-bound, bound, o.generator));
}

export function uniform_(w: Tensor, low: number, high: number, generator?: Generator): Tensor {
  return noGrad(() => w.uniform_(low, high, generator));
}
export function normal_(w: Tensor, mean: number, std: number, generator?: Generator): Tensor {
  return noGrad(() => w.normal_(mean, std, generator));
}
export function constant_(w: Tensor, v: number): Tensor {
  return noGrad(() => w.fill_(v));
}
export function zeros_(w: Tensor): Tensor {
  return noGrad(() => w.zero_());
}
