/** Shared helpers for the nnunet tests. */
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

export function tempDir(prefix = 'nnunet-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}
