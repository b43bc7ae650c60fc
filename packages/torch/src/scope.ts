/**
 * Tensor lifetime scopes. Every tensor created while a `tidy` scope is open is registered with
 * the innermost scope; when the scope closes, every registered tensor that is not part of the
 * returned value (or marked with `keep`) is disposed. Returned tensors move to the parent scope.
 */

export interface Disposable {
  dispose(): void;
  readonly isDisposed: boolean;
}

const stack: Set<Disposable>[] = [];
const kept = new WeakSet<Disposable>();

export function track(t: Disposable): void {
  const top = stack[stack.length - 1];
  if (top !== undefined) top.add(t);
}

/** Exempts a tensor from every open and future tidy scope; it must be disposed by hand. */
export function keep<T extends Disposable>(t: T): T {
  kept.add(t);
  for (const s of stack) s.delete(t);
  return t;
}

/** Tensors found in a returned value: a tensor, or arrays / plain objects / Maps containing tensors. */
function collect(value: unknown, out: Set<Disposable>, isTensor: (v: unknown) => v is Disposable, depth = 0): void {
  if (depth > 8 || value === null || typeof value !== 'object') return;
  if (isTensor(value)) {
    out.add(value);
    return;
  }
  if (Array.isArray(value)) {
    for (const v of value) collect(v, out, isTensor, depth + 1);
  } else if (value instanceof Map) {
    for (const v of value.values()) collect(v, out, isTensor, depth + 1);
  } else if (Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value)) collect(v, out, isTensor, depth + 1);
  }
}

let isTensorFn: (v: unknown) => v is Disposable = (_v: unknown): _v is Disposable => false;
export function setTensorPredicate(fn: (v: unknown) => v is Disposable): void {
  isTensorFn = fn;
}

/**
 * Runs `fn` in a scope and disposes every tensor it created except those it returns.
 * Synchronous only: a function returning a Promise is rejected, because tensors created after
 * an await would escape the scope.
 */
export function tidy<T>(fn: () => T): T {
  const scope = new Set<Disposable>();
  stack.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    stack.pop();
    for (const t of scope) t.dispose();
    throw e;
  }
  stack.pop();
  if (result instanceof Promise) {
    for (const t of scope) t.dispose();
    throw new TypeError('tidy(fn): fn must be synchronous; it returned a Promise');
  }
  const returned = new Set<Disposable>();
  collect(result, returned, isTensorFn);
  const parent = stack[stack.length - 1];
  for (const t of scope) {
    if (returned.has(t)) {
      if (parent !== undefined && !kept.has(t)) parent.add(t);
    } else if (!kept.has(t)) {
      t.dispose();
    }
  }
  return result;
}

/** Disposes every tensor found in `value` (a tensor, or arrays / objects / Maps of them). */
export function dispose(value: unknown): void {
  const found = new Set<Disposable>();
  collect(value, found, isTensorFn);
  for (const t of found) t.dispose();
}
