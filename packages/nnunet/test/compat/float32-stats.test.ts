/** Float32 statistics equal NumPy 1.24's to the bit (fixture made by scripts/make_stats_fixture.py). */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { sumF32 } from '../../src/compat/float32-stats.js';
import { intensityStats } from '../../src/fingerprint/analyze.js';
import { FIXTURES } from '../helpers.js';

interface Case {
  k: number;
  n: number;
  sum: number;
  mean: number;
  std: number;
  median: number;
  p99_5: number;
  p00_5: number;
}
const { cases } = JSON.parse(readFileSync(join(FIXTURES, 'numpy_stats.json'), 'utf8')) as { cases: Case[] };

for (const c of cases) {
  test(`sum, mean, std, median and percentiles of ${c.n} float32 values equal NumPy's exactly`, () => {
    const a = new Float32Array(c.n);
    for (let i = 0; i < c.n; i++) a[i] = ((i * 7919 + c.k) % 1000) / 7 - 40;
    const s = intensityStats(a);
    assert.equal(sumF32(a), c.sum);
    assert.equal(s.mean, c.mean);
    assert.equal(s.sd, c.std);
    assert.equal(s.median, c.median);
    assert.equal(s.percentile_99_5, c.p99_5);
    assert.equal(s.percentile_00_5, c.p00_5);
  });
}

test('no foreground samples give NaN statistics like v1', () => {
  assert.ok(Object.values(intensityStats(new Float32Array(0))).every(Number.isNaN));
});
