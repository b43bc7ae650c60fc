/** Gradient-mode scopes and functional gradients. */
import { native } from './native.js';
import { handles, Tensor } from './tensor.js';

function rejectAsync(result: unknown, name: string): void {
  if (result instanceof Promise) throw new TypeError(`${name}(fn): fn must be synchronous; it returned a Promise`);
}

/** Runs fn with gradient recording off (torch.no_grad). */
export function noGrad<T>(fn: () => T): T {
  const prev = native.isGradEnabled();
  native.setGradEnabled(false);
  try {
    const r = fn();
    rejectAsync(r, 'noGrad');
    return r;
  } finally {
    native.setGradEnabled(prev);
  }
}

/** Runs fn with gradient recording on, e.g. inside a noGrad scope (torch.enable_grad). */
export function enableGrad<T>(fn: () => T): T {
  const prev = native.isGradEnabled();
  native.setGradEnabled(true);
  try {
    const r = fn();
    rejectAsync(r, 'enableGrad');
    return r;
  } finally {
    native.setGradEnabled(prev);
  }
}

export function isGradEnabled(): boolean {
  return native.isGradEnabled();
}

/**
 * Runs fn in inference mode (torch.inference_mode): faster than noGrad, but tensors created
 * inside can never take part in autograd later.
 */
export function inferenceMode<T>(fn: () => T): T {
  const scope = native.inferenceEnter();
  try {
    const r = fn();
    rejectAsync(r, 'inferenceMode');
    return r;
  } finally {
    native.inferenceExit(scope);
  }
}

export function isInferenceMode(): boolean {
  return native.isInferenceMode();
}

/**
 * Gradients of `outputs` with respect to `inputs` (torch.autograd.grad), without touching .grad.
 * A null entry means the input does not influence the outputs.
 */
export function grad(
  outputs: readonly Tensor[],
  inputs: readonly Tensor[],
  options: { gradOutputs?: readonly Tensor[]; retainGraph?: boolean; createGraph?: boolean } = {},
): (Tensor | null)[] {
  const r = native.autogradGrad(
    handles('outputs', outputs),
    handles('inputs', inputs),
    options.gradOutputs === undefined ? undefined : handles('gradOutputs', options.gradOutputs),
    options.retainGraph ?? false,
    options.createGraph ?? false,
  );
  return r.map((h) => (h === null ? null : new Tensor(h)));
}
