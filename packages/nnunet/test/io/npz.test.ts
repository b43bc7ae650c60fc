/** .npz reading: round trip, and damaged or hostile archives end in one NnunetError, never a crash. */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { readNpzRaw, writeNpz } from '../../src/io/npz.js';
import { tempDir } from '../helpers.js';

function zerosNpz(path: string, n: number): Buffer {
  writeNpz(path, [{ name: 'softmax', descr: '<f4', shape: [n], bytes: new Uint8Array(4 * n) }]);
  return readFileSync(path);
}

test('a member whose inflated size exceeds its declared size is refused without inflating it all', () => {
  const path = join(tempDir(), 'bomb.npz');
  const bytes = zerosNpz(path, 1 << 20); // 4 MiB of zeros, a few KiB compressed
  assert.ok(bytes.length < 64 * 1024);
  assert.equal(readNpzRaw(path).get('softmax')?.length, 128 + 4 * (1 << 20));
  const central = bytes.lastIndexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
  bytes.writeUInt32LE(100, central + 24); // the directory now claims 100 bytes
  writeFileSync(path, bytes);
  assert.throws(() => readNpzRaw(path), { name: 'NnunetError', message: /bomb\.npz is not a readable \.npz file/ });
});

test('truncated archives fail with an NnunetError at every cut', () => {
  const dir = tempDir();
  const whole = zerosNpz(join(dir, 'whole.npz'), 64);
  for (let cut = 0; cut < whole.length; cut += 7) {
    const path = join(dir, `cut${cut}.npz`);
    writeFileSync(path, whole.subarray(0, cut));
    assert.throws(() => readNpzRaw(path), { name: 'NnunetError' }, `cut at ${cut}`);
  }
});

test('a damaged byte anywhere leaves the values intact or is an NnunetError (CRC-32 checked)', () => {
  const dir = tempDir();
  const values = new Uint8Array(4 * 64).map((_, i) => (i * 37) % 251);
  writeNpz(join(dir, 'whole.npz'), [{ name: 'softmax', descr: '<f4', shape: [64], bytes: values }]);
  const whole = readFileSync(join(dir, 'whole.npz'));
  const expected = readNpzRaw(join(dir, 'whole.npz')).get('softmax');
  let refused = 0;
  for (let at = 0; at < whole.length; at++) {
    const path = join(dir, `flip${at}.npz`);
    const bytes = Buffer.from(whole);
    bytes[at] = (bytes[at] as number) ^ 0x10;
    writeFileSync(path, bytes);
    try {
      // A damaged name only renames the member.
      assert.deepEqual([...readNpzRaw(path).values()], [expected], `byte ${at}`);
    } catch (e) {
      assert.equal((e as Error).name, 'NnunetError', `byte ${at}: ${String(e)}`);
      refused++;
    }
  }
  assert.ok(refused > whole.length / 2);
});
