/**
 * The arithmetic nnU-Net's commands use by default: bf16 autocast on CPUs that compute bf16
 * natively (v1 uses fp16 autocast on GPUs by default for the same reason), float32 elsewhere or
 * when the user asks for --fp32. The one place both nnUNet_train and nnUNet_predict decide it.
 */
import { cpuBf16ConvolutionProblem, cpuHasNativeBf16 } from '@nnunet/torch';

/**
 * Whether the default is bf16 here. A LibTorch whose bf16 convolutions are wrong on this CPU
 * (checked once per process) gets float32, and `warn` hears why.
 */
export function lowPrecisionOnCpu(
  device: 'cpu' | 'cuda',
  fp32Requested: boolean,
  warn: (line: string) => void = () => {},
): boolean {
  if (device !== 'cpu' || fp32Requested || !cpuHasNativeBf16()) return false;
  const problem = cpuBf16ConvolutionProblem();
  if (problem !== null) {
    warn(`${problem}, so this run computes in float32 (as with --fp32).`);
    return false;
  }
  return true;
}

/**
 * The arithmetic of a new training run when none is asked for: float16 autocast with loss scaling
 * on CUDA (v1's default there), bf16 on CPUs where lowPrecisionOnCpu says so, float32 elsewhere.
 */
export function defaultTrainingPrecision(
  device: 'cpu' | 'cuda',
  warn: (line: string) => void = () => {},
): 'float16' | 'bfloat16' | 'float32' {
  if (device === 'cuda') return 'float16';
  return lowPrecisionOnCpu(device, false, warn) ? 'bfloat16' : 'float32';
}
