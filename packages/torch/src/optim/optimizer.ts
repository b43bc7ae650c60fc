/** Base of the optimizers: parameter list, per-parameter state tensors, and a state dict. */
import { keep } from '../scope.js';
import type { Tensor } from '../tensor.js';

export abstract class Optimizer<O extends { lr: number }> {
  readonly params: Tensor[];
  options: O;
  /** Per-parameter state tensors by name (index in `params` -> name -> tensor). */
  protected readonly state = new Map<number, Map<string, Tensor>>();
  stepCount = 0;

  constructor(params: Iterable<Tensor>, options: O) {
    this.params = [...params];
    this.options = options;
  }

  get lr(): number {
    return this.options.lr;
  }
  set lr(v: number) {
    this.options = { ...this.options, lr: v };
  }

  /** Sets every gradient to none. */
  zeroGrad(): void {
    for (const p of this.params) p.grad = null;
  }

  protected getState(i: number, name: string): Tensor | undefined {
    return this.state.get(i)?.get(name);
  }
  protected setState(i: number, name: string, t: Tensor): Tensor {
    let m = this.state.get(i);
    if (m === undefined) {
      m = new Map();
      this.state.set(i, m);
    }
    const old = m.get(name);
    if (old !== undefined && old !== t) old.dispose();
    m.set(name, keep(t));
    return t;
  }

  /** Applies one update from the current gradients (parameters without a gradient are skipped). */
  abstract step(): void;

  /**
   * State as flat tensors keyed "state.<paramIndex>.<name>" plus JSON-able options and step
   * count, ready for a safetensors file; load it back with loadStateDict.
   */
  stateDict(): { tensors: Map<string, Tensor>; meta: { options: O; stepCount: number } } {
    const tensors = new Map<string, Tensor>();
    for (const [i, m] of this.state) for (const [n, t] of m) tensors.set(`state.${i}.${n}`, t);
    return { tensors, meta: { options: { ...this.options }, stepCount: this.stepCount } };
  }

  loadStateDict(s: { tensors: ReadonlyMap<string, Tensor>; meta: { options: O; stepCount: number } }): void {
    this.options = { ...s.meta.options };
    this.stepCount = s.meta.stepCount;
    for (const m of this.state.values()) for (const t of m.values()) t.dispose();
    this.state.clear();
    for (const [k, t] of s.tensors) {
      const match = /^state\.(\d+)\.(.+)$/.exec(k);
      if (match === null) continue;
      this.setState(Number(match[1]), match[2] as string, t.clone());
    }
  }

  dispose(): void {
    for (const m of this.state.values()) for (const t of m.values()) t.dispose();
    this.state.clear();
  }
}
