/** writeFileAtomic: all or nothing, and one sentence when the folder is missing. */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { writeFileAtomic } from '../../src/util/atomic.js';
import { tempDir } from '../helpers.js';

test('replaces the file whole and leaves no temporary file; a missing folder is an NnunetError', () => {
  const dir = tempDir();
  const path = join(dir, 'summary.json');
  writeFileSync(path, 'old');
  writeFileAtomic(path, 'new text');
  writeFileAtomic(join(dir, 'bytes.bin'), Uint8Array.from([1, 2, 3]));
  assert.equal(readFileSync(path, 'utf8'), 'new text');
  assert.deepEqual([...readFileSync(join(dir, 'bytes.bin'))], [1, 2, 3]);
  assert.deepEqual(readdirSync(dir).sort(), ['bytes.bin', 'summary.json']);
  assert.throws(() => writeFileAtomic(join(dir, 'missing', 'x.json'), '{}'), {
    name: 'NnunetError',
    message: /Cannot write .*missing\/x\.json \(ENOENT.*check that the folder exists and is writable/,
  });
  assert.deepEqual(readdirSync(dir).sort(), ['bytes.bin', 'summary.json']);
});
