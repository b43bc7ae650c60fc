/** Process-wide settings: threads, seeds, devices, and live-memory counters. */
import { readFileSync } from 'node:fs';
import { argError } from './errors.js';
import { native } from './native.js';

/** Number of intra-op threads LibTorch uses on CPU (per process). */
export function setNumThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1) throw argError(`setNumThreads needs a positive integer, got ${n}`);
  native.setNumThreads(n);
}
export function getNumThreads(): number {
  return native.getNumThreads();
}
/** Seeds the global generators (CPU and CUDA), like torch.manual_seed. */
export function manualSeed(seed: number | bigint): void {
  native.manualSeed(seed);
}
export const version: string = native.torchVersion();

export const cuda = {
  isAvailable(): boolean {
    return native.cudaIsAvailable();
  },
  deviceCount(): number {
    return native.cudaDeviceCount();
  },
  synchronize(index = 0): void {
    native.cudaSynchronize(index);
  },
  /**
   * cuDNN's autotuner (torch.backends.cudnn.benchmark): times the convolution algorithms once per
   * input shape and keeps the fastest. nnU-Net turns it on for training (fixed patch sizes).
   */
  setCudnnBenchmark(on: boolean): void {
    native.setCudnnBenchmark(on);
  },
  cudnnBenchmark(): boolean {
    return native.cudnnBenchmark();
  },
  /** Makes device `index` the one 'cuda' means in this process (e.g. each data-parallel rank its own GPU). */
  setDevice(index: number): void {
    native.cudaSetDevice(index);
  },
};

/**
 * Live native tensor handles and the bytes of the distinct storages they reference (views share
 * their base's storage and count once). Handles freed by dispose() or GC leave both counters.
 */
export function memoryStats(): { liveTensors: number; liveBytes: number } {
  return { liveTensors: native.liveTensors(), liveBytes: native.liveBytes() };
}

/**
 * Records every LibTorch op that runs during fn (name, thread, start, duration, nesting) and
 * writes them to `path` as a Chrome trace (chrome://tracing, Perfetto) when fn returns or throws.
 * One recording at a time per process.
 */
export function profile<T>(path: string, fn: () => T): T {
  native.profileStart(path);
  try {
    const r = fn();
    if (r instanceof Promise) throw new TypeError('profile(path, fn): fn must be synchronous; it returned a Promise');
    return r;
  } finally {
    native.profileStop();
  }
}

/**
 * Whether this CPU computes bfloat16 dot products natively (x86 AVX-512 BF16 or AMX-BF16, read
 * from Linux's /proc/cpuinfo): there bf16 autocast roughly halves convolution time; elsewhere
 * oneDNN emulates bf16 and float32 is as fast or faster. False where the flags cannot be read.
 * (Parsed here because LibTorch 1.13 exposes no CPU-capability query and no npm package does
 * without a native build.)
 */
export function cpuHasNativeBf16(): boolean {
  if (process.platform !== 'linux') return false;
  try {
    const flags = /^flags\s*:(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.split(/\s+/) ?? [];
    return flags.includes('avx512_bf16') || flags.includes('amx_bf16');
  } catch {
    return false;
  }
}
