/**
 * The only module that loads the native addon. Everything else sees it through `Native`, a typed
 * view of its exports: the TN_FN ops, declared in native-ops.generated.ts (written from the C++
 * registrations by scripts/gen-native.mjs), and the three functions below that memory.cc exports by
 * hand.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TorchError } from './errors.js';
import type { Handle } from './handle.js';
import type { NativeOps } from './native-ops.generated.js';

export type { GenHandle, Handle } from './handle.js';

/**
 * The exports written as raw N-API callbacks rather than TN_FN ops, so not generated: dispose
 * ignores anything that is not a live handle (it runs from finalizers and cleanup paths), setData
 * rebinds a handle's storage accounting, and setErrorFactory takes a JS callback.
 */
interface HandWrittenOps {
  dispose(h: Handle): void;
  setData(h: Handle, src: Handle): void;
  setErrorFactory(f: (kind: string, message: string) => Error): void;
}

/** The names of HandWrittenOps at run time (the type requires exactly its keys). */
export const handWrittenOpNames: readonly string[] = Object.keys({
  dispose: true,
  setData: true,
  setErrorFactory: true,
} satisfies Record<keyof HandWrittenOps, true>);

export interface Native extends NativeOps, HandWrittenOps {}

function addonPath(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  // dist/src/native.js -> package root
  const candidates = [join(here, '..', '..', 'build', 'torch_node.node'), join(here, '..', 'build', 'torch_node.node')];
  const override = process.env.TORCH_NODE_ADDON;
  if (override) candidates.unshift(override);
  const found = candidates.find((p) => existsSync(p));
  if (!found) {
    throw new TorchError(
      'ERR_TORCH_LOAD',
      'The LibTorch addon is not built: run `make build` at the repository root (or `npm run build:addon` in packages/torch).',
    );
  }
  return found;
}

function load(): Native {
  const path = addonPath();
  try {
    return createRequire(import.meta.url)(path) as Native;
  } catch (e) {
    throw new TorchError(
      'ERR_TORCH_LOAD',
      `Could not load the LibTorch addon ${path}: ${(e as Error).message}. Rebuild it with \`make build\`; if LibTorch moved, set LIBTORCH to its folder.`,
      { cause: e },
    );
  }
}

export const native: Native = load();
