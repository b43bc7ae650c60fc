/**
 * Whether this LibTorch computes bfloat16 convolutions correctly on this CPU. Not a given: Debian
 * 13's PyTorch 2.6 (oneDNN 3.7) returns wrong bf16 convolutions on an AVX512-BF16 CPU (errors as
 * large as the values; PyTorch itself gives the same numbers), while float32 is right. Callers
 * that would choose bf16 by default check this first, once per process (a few milliseconds).
 */
import { autocast } from './amp.js';
import { noGrad } from './autograd.js';
import { randn } from './creation.js';
import { conv3d, convTranspose3d } from './functional.js';
import { tidy } from './scope.js';
import { Generator, type Tensor } from './tensor.js';

let verdict: string | null | undefined;

/**
 * Null when bf16 autocast convolutions (a 3x3x3 convolution and a stride-2 transposed one) agree
 * with float32 on inputs exactly representable in bf16; else a sentence saying what differed.
 */
export function cpuBf16ConvolutionProblem(): string | null {
  if (verdict !== undefined) return verdict;
  verdict = noGrad(() =>
    tidy(() => {
      const g = new Generator(20261208);
      // Inputs rounded to bf16 first, so the float32 result is the exact reference up to the
      // bf16 rounding of the output and the accumulation order.
      const asBf16 = (t: Tensor) => t.to('bfloat16').float();
      const x = asBf16(randn([1, 8, 6, 7, 5], { generator: g }));
      const w = asBf16(randn([8, 8, 3, 3, 3], { generator: g }));
      const wt = asBf16(randn([8, 4, 3, 3, 3], { generator: g }));
      const checks: [string, () => Tensor][] = [
        ['3x3x3 convolution', () => conv3d(x, w, null, { padding: 1 })],
        ['stride-2 transposed convolution', () => convTranspose3d(x, wt, null, { stride: 2 })],
      ];
      for (const [what, op] of checks) {
        const reference = op();
        const low = autocast('cpu', op).float();
        const scale = reference.abs().max().item() as number;
        const error = low.sub(reference).abs().max().item() as number;
        // bf16 keeps 8 significant bits: a right result is within ~1 % of the largest value.
        if (!(error <= 0.02 * scale))
          return `this LibTorch's bfloat16 ${what} is wrong on this CPU (largest error ${error.toPrecision(3)} for values up to ${scale.toPrecision(3)})`;
      }
      return null;
    }),
  );
  return verdict;
}
