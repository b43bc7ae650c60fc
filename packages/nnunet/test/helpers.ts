/** Shared helpers for the nnunet tests. */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
/** packages/nnunet (tests run from dist/test/...). */
export const PACKAGE_ROOT = join(here.slice(0, here.lastIndexOf('/dist/')));
export const FIXTURES = join(PACKAGE_ROOT, 'test', 'fixtures');
/** The bundled 32-case MSD hippocampus subset at the repository root. */
export const HIPPOCAMPUS = join(PACKAGE_ROOT, '..', '..', 'data', 'Task04_Hippocampus');

/** The process environment with v1's three folders under `root` (raw, pre, results). */
export function folderEnv(root: string): NodeJS.ProcessEnv & {
  nnUNet_raw_data_base: string;
  nnUNet_preprocessed: string;
  RESULTS_FOLDER: string;
} {
  return {
    ...process.env,
    nnUNet_raw_data_base: join(root, 'raw'),
    nnUNet_preprocessed: join(root, 'pre'),
    RESULTS_FOLDER: join(root, 'results'),
  };
}

export function tempDir(prefix = 'nnunet-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Asserts |a - e| <= atol + rtol |e| everywhere; returns the largest |a - e| and the count of identical values. */
export function expectClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  { rtol = 0, atol = 1e-6, what = 'value' }: { rtol?: number; atol?: number; what?: string } = {},
): { maxAbs: number; identical: number } {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let maxAbs = 0;
  let identical = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i] as number;
    const e = expected[i] as number;
    const d = Math.abs(a - e);
    if (a === e) identical++;
    if (!(d <= atol + rtol * Math.abs(e))) assert.fail(`${what}: element ${i} is ${a}, expected ${e}`);
    if (d > maxAbs) maxAbs = d;
  }
  return { maxAbs, identical };
}

/** Incompressible bytes from a seed (a linear congruential generator's high bytes). */
export function randomBytes(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    b[i] = s >>> 24;
  }
  return b;
}
