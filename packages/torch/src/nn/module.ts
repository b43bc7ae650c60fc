/**
 * Module: a tree of named parameters, buffers and sub-modules with a flat state dict whose keys
 * follow PyTorch's dotted naming ("encoder.0.conv.weight").
 */
import { noGrad } from '../autograd.js';
import type { DType } from '../dtype.js';
import { argError } from '../errors.js';
import { keep } from '../scope.js';
import type { Device, MemoryFormat, Tensor } from '../tensor.js';

export abstract class Module {
  training = true;
  readonly #params = new Map<string, Tensor>();
  readonly #buffers = new Map<string, Tensor>();
  readonly #children = new Map<string, Module>();

  /** Registers a trainable tensor (it is kept out of tidy scopes and gets requiresGrad). */
  protected registerParameter(name: string, t: Tensor): Tensor {
    this.#checkName(name);
    keep(t);
    if (!t.requiresGrad) t.requiresGrad = true;
    this.#params.set(name, t);
    return t;
  }
  /** Registers non-trainable state that belongs in the state dict (e.g. running statistics). */
  protected registerBuffer(name: string, t: Tensor): Tensor {
    this.#checkName(name);
    keep(t);
    this.#buffers.set(name, t);
    return t;
  }
  protected registerModule<M extends Module>(name: string, m: M): M {
    this.#checkName(name);
    this.#children.set(name, m);
    return m;
  }
  #checkName(name: string): void {
    if (name === '' || name.includes('.'))
      throw argError(`module member name must be non-empty without dots, got "${name}"`);
    if (this.#params.has(name) || this.#buffers.has(name) || this.#children.has(name)) {
      throw argError(`module member "${name}" is registered twice`);
    }
  }

  *namedParameters(prefix = ''): Generator<[string, Tensor]> {
    for (const [n, p] of this.#params) yield [prefix + n, p];
    for (const [n, c] of this.#children) yield* c.namedParameters(`${prefix}${n}.`);
  }
  *namedBuffers(prefix = ''): Generator<[string, Tensor]> {
    for (const [n, b] of this.#buffers) yield [prefix + n, b];
    for (const [n, c] of this.#children) yield* c.namedBuffers(`${prefix}${n}.`);
  }
  *namedModules(prefix = ''): Generator<[string, Module]> {
    yield [prefix.replace(/\.$/, ''), this];
    for (const [n, c] of this.#children) yield* c.namedModules(`${prefix}${n}.`);
  }
  parameters(): Tensor[] {
    return Array.from(this.namedParameters(), ([, p]) => p);
  }
  children(): Module[] {
    return [...this.#children.values()];
  }
  numParameters(): number {
    return this.parameters().reduce((n, p) => n + p.numel, 0);
  }

  /** Parameters and buffers by dotted name (the tensors themselves, not copies). */
  stateDict(): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    for (const [n, p] of this.namedParameters()) out.set(n, p);
    for (const [n, b] of this.namedBuffers()) out.set(n, b);
    return out;
  }

  /**
   * Copies values from `state` into this module's tensors. Strict mode (default) requires the
   * same keys and shapes and names every difference in the error.
   */
  loadStateDict(state: ReadonlyMap<string, Tensor>, strict = true): void {
    const own = this.stateDict();
    const problems: string[] = [];
    for (const [k, t] of own) {
      const src = state.get(k);
      if (src === undefined) {
        if (strict) problems.push(`missing key "${k}"`);
        continue;
      }
      if (src.shape.join(',') !== t.shape.join(',')) {
        problems.push(`"${k}" has shape [${src.shape.join(', ')}] but the module expects [${t.shape.join(', ')}]`);
      }
    }
    if (strict) for (const k of state.keys()) if (!own.has(k)) problems.push(`unexpected key "${k}"`);
    if (problems.length > 0) throw argError(`loadStateDict: ${problems.join('; ')}`);
    noGrad(() => {
      for (const [k, t] of own) {
        const src = state.get(k);
        if (src !== undefined) t.copy_(src);
      }
    });
  }

  train(on = true): this {
    for (const [, m] of this.namedModules()) m.training = on;
    return this;
  }
  eval(): this {
    return this.train(false);
  }

  /** Sets every parameter's gradient to none (PyTorch's zero_grad(set_to_none=True)). */
  zeroGrad(): void {
    for (const p of this.parameters()) p.grad = null;
  }

  /** Moves or casts every parameter and buffer in place; the Tensor objects keep their identity. */
  to(target: Device | DType): this {
    noGrad(() => {
      for (const [, t] of this.stateDict()) {
        const moved = t.to(target);
        t.setData_(moved);
        moved.dispose();
      }
    });
    return this;
  }

  /**
   * Stores every 4-D or 5-D parameter and buffer (convolution weights) in `format` in place, like
   * torch's module.to(memory_format=...); other tensors keep their layout.
   */
  toMemoryFormat(format: MemoryFormat): this {
    noGrad(() => {
      for (const [, t] of this.stateDict()) {
        if (t.ndim !== 4 && t.ndim !== 5) continue;
        const laid = t.contiguous(format);
        t.setData_(laid);
        laid.dispose();
      }
    });
    return this;
  }

  /** Frees every parameter and buffer. */
  dispose(): void {
    for (const [, t] of this.stateDict()) t.dispose();
  }
}
