/**
 * The arithmetic nnU-Net's commands use by default: bf16 autocast on CPUs that compute bf16
 * natively (v1 uses fp16 autocast on GPUs by default for the same reason), float32 elsewhere or
 * when the user asks for --fp32. The one place both nnUNet_train and nnUNet_predict decide it.
 */
import { cpuHasNativeBf16 } from '@nnunet/torch';

export function lowPrecisionOnCpu(device: 'cpu' | 'cuda', fp32Requested: boolean): boolean {
  return device === 'cpu' && !fp32Requested && cpuHasNativeBf16();
}
