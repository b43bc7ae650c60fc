/** Process-wide settings: threads, seeds, devices, and live-memory counters. */
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
