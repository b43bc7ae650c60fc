/** NumPy's legacy RandomState, values recorded from NumPy 1.24 (Debian's python3-numpy). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LegacyRandomState } from '../../src/compat/random-state.js';

test('RandomState(1234): permutation and choice without replacement give NumPy 1.24 values', () => {
  // np.random.RandomState(1234): permutation(10), then choice(100, 7, replace=False), then
  // choice(1000000, 5, replace=False), in this order on one generator.
  const r = new LegacyRandomState(1234);
  assert.deepEqual(Array.from(r.choiceWithoutReplacement(10, 10)), [7, 2, 9, 1, 0, 8, 4, 5, 6, 3]);
  assert.deepEqual(Array.from(r.choiceWithoutReplacement(100, 7)), [93, 72, 82, 64, 63, 55, 39]);
  assert.deepEqual(Array.from(r.choiceWithoutReplacement(1000000, 5)), [127556, 737407, 202957, 654117, 925259]);
});

test('interval(max) stays within [0, max] and covers it', () => {
  const r = new LegacyRandomState(7);
  const seen = new Set<number>();
  for (let i = 0; i < 2000; i++) {
    const v = r.interval(5);
    assert.ok(v >= 0 && v <= 5);
    seen.add(v);
  }
  assert.equal(seen.size, 6);
  assert.equal(r.interval(0), 0);
});
