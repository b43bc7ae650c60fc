/** The one writer: all or nothing, one sentence on a real full disk, and stale temporaries cleaned up. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  copyFileAtomic,
  HOST_TAG,
  removeStaleTemporaries,
  temporaryName,
  writeFailure,
  writeFileAtomic,
} from '../../src/util/atomic.js';
import { assertDiskFull, fillDisk, namesBeside, withSmallDisk } from '../full-disk.js';
import { PACKAGE_ROOT, randomBytes, tempDir } from '../helpers.js';

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
    code: 'ERR_WRITE',
    message: /Cannot write .*missing\/x\.json \(ENOENT: the folder .*missing does not exist\); check that the folder/,
  });
  assert.deepEqual(readdirSync(dir).sort(), ['bytes.bin', 'summary.json']);
});

test('a full disk: one sentence with the size needed and the space left; the earlier file stays whole', async (t) => {
  await withSmallDisk(t, (dir) => {
    const path = join(dir, 'model_best.bin');
    const good = randomBytes(8 * 1024, 1);
    writeFileAtomic(path, good);
    const copy = join(dir, 'copy.bin');
    copyFileAtomic(path, copy);
    // 16 KiB left: the first write is short (continued), the next one fails with ENOSPC.
    fillDisk(dir, 16);
    const big = randomBytes(64 * 1024, 2);
    assert.throws(
      () => writeFileAtomic(path, [big.subarray(0, 1000), big.subarray(1000)]),
      (e: unknown) => {
        assert.match(assertDiskFull(e, path), /the file needs 64\.0 KiB, 16\.0 KiB are free on that file system/);
        return true;
      },
    );
    assert.ok(readFileSync(path).equals(good), 'the earlier file is intact');
    // A copy of a file larger than the space left fails the same way.
    const source = join(tempDir(), 'big.bin');
    writeFileSync(source, big);
    assert.throws(
      () => copyFileAtomic(source, copy),
      (e: unknown) => {
        assert.match(assertDiskFull(e, copy), /needs 64\.0 KiB/);
        return true;
      },
    );
    assert.ok(readFileSync(copy).equals(good), 'the earlier copy is intact');
    assert.deepEqual(namesBeside(dir), ['copy.bin', 'model_best.bin'], 'no temporary file is left');
    // Once there is room again, the same write succeeds.
    writeFileAtomic(join(dir, 'filler.bin'), '');
    writeFileAtomic(path, big);
    assert.ok(readFileSync(path).equals(big));
  });
});

test('quota, oversize and I/O errors are worded with the size; other errors name the code', () => {
  const dir = tempDir();
  const path = join(dir, 'x.npy');
  const err = (code: string) => Object.assign(new Error(`${code}: something, write`), { code });
  assert.match(
    writeFailure(path, err('EDQUOT'), 3 * 2 ** 20).message,
    /^Cannot write .*x\.npy: the disk quota is exceeded \(the file needs 3\.0 MiB, .* are free on that file system\); free some space within your quota/,
  );
  assert.match(
    writeFailure(path, err('EIO'), 512).message,
    /: an input\/output error occurred \(the file needs 512 bytes, /,
  );
  assert.match(
    writeFailure(path, err('EFBIG'), 5 * 2 ** 30).message,
    /larger than that file system allows \(the file needs 5\.0 GiB/,
  );
  assert.match(writeFailure(path, err('EROFS'), 1).message, /\(EROFS: the file system is read-only\); check that/);
  for (const code of ['EDQUOT', 'EIO', 'EROFS']) assert.equal(writeFailure(path, err(code), 1).code, 'ERR_WRITE');
});

test('removeStaleTemporaries removes what a killed writer of this host left, and keeps live and foreign ones', () => {
  const dir = tempDir();
  mkdirSync(join(dir, 'stage0'));
  // A real process that dies (SIGKILL) after writing half of a file under its temporary name.
  const atomic = join(PACKAGE_ROOT, 'dist', 'src', 'util', 'atomic.js');
  const script = `
    import { writeFileSync, mkdirSync } from 'node:fs';
    const { temporaryName } = await import(${JSON.stringify(atomic)});
    writeFileSync(temporaryName(${JSON.stringify(join(dir, 'case.npy'))}), 'half');
    writeFileSync(temporaryName(${JSON.stringify(join(dir, 'stage0', 'case.npy'))}), 'half');
    mkdirSync(temporaryName(${JSON.stringify(join(dir, 'Task004_Hippocampus'))}));
    process.kill(process.pid, 'SIGKILL');`;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(child.signal, 'SIGKILL', child.stderr);
  const dead = child.pid as number;
  const leftovers = readdirSync(dir).filter((n) => n.includes(`.tmp-${HOST_TAG}-${dead}-`));
  assert.equal(leftovers.length, 2, `the killed writer left its files: ${readdirSync(dir)}`);
  // A live writer (this process), another host's (cannot be checked) and an ordinary file.
  const live = temporaryName(join(dir, 'live.json'));
  writeFileSync(live, '{');
  const otherHost = `.x.json.tmp-${HOST_TAG === '00000000' ? '11111111' : '00000000'}-${dead}-0-1`;
  writeFileSync(join(dir, otherHost), '{');
  writeFileSync(join(dir, 'case.json'), '{}');

  const removed = removeStaleTemporaries(dir);
  assert.deepEqual(removed.sort(), leftovers.map((n) => join(dir, n)).sort());
  assert.deepEqual(readdirSync(dir).sort(), [live.slice(dir.length + 1), otherHost, 'case.json', 'stage0'].sort());
  assert.equal(readdirSync(join(dir, 'stage0')).length, 1, 'subfolders only with recursive');
  assert.equal(removeStaleTemporaries(dir, { recursive: true }).length, 1);
  assert.deepEqual(readdirSync(join(dir, 'stage0')), []);
  assert.deepEqual(removeStaleTemporaries(join(dir, 'missing')), []);
});
