/** Shared test helpers. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { keep, safetensors, type Tensor } from '../src/index.js';

/** Asserts |actual - expected| <= atol + rtol * |expected| elementwise (numbers, arrays or tensors). */
export function expectClose(
  actual: number | ArrayLike<number> | Tensor,
  expected: number | ArrayLike<number> | Tensor,
  { rtol = 1e-5, atol = 1e-6, what = 'value' }: { rtol?: number; atol?: number; what?: string } = {},
): void {
  const toArr = (v: number | ArrayLike<number> | Tensor): number[] =>
    typeof v === 'number' ? [v] : 'toArray' in v ? (v as Tensor).toArray() : Array.from(v as ArrayLike<number>);
  if (typeof actual === 'object' && 'shape' in actual && typeof expected === 'object' && 'shape' in expected) {
    assert.deepEqual(actual.shape, expected.shape, `${what}: shape`);
  }
  const a = toArr(actual);
  const e = toArr(expected);
  assert.equal(a.length, e.length, `${what}: length ${a.length} vs expected ${e.length}`);
  let worst = -1;
  let worstErr = 0;
  for (let i = 0; i < a.length; i++) {
    const ai = a[i] as number;
    const ei = e[i] as number;
    if (Number.isNaN(ei) && Number.isNaN(ai)) continue;
    const err = Math.abs(ai - ei) - (atol + rtol * Math.abs(ei));
    if (!(err <= 0) && (worst < 0 || err > worstErr)) {
      worst = i;
      worstErr = err;
    }
  }
  if (worst >= 0) {
    assert.fail(`${what}: element ${worst} is ${a[worst]}, expected ${e[worst]} (rtol ${rtol}, atol ${atol})`);
  }
}

const here = dirname(fileURLToPath(import.meta.url));
/** packages/torch/fixtures (tests run from dist/test). */
export const FIXTURES = join(here, '..', '..', 'fixtures');

let cache: Map<string, Tensor> | undefined;
/** A tensor from the PyTorch-generated fixture file (scripts/make_fixtures.py). */
export function fixture(name: string): Tensor {
  if (cache === undefined) {
    // Loaded once per test file and shared, so exempt from the tests' tidy scopes.
    cache = safetensors.load(join(FIXTURES, 'ops.safetensors')).tensors;
    for (const t of cache.values()) keep(t);
  }
  const t = cache.get(name);
  if (t === undefined) throw new Error(`fixture "${name}" is missing: rerun scripts/make_fixtures.py`);
  return t;
}

export function fixtureJson<T>(name: string): T {
  return JSON.parse(readFileSync(join(FIXTURES, name), 'utf8')) as T;
}
