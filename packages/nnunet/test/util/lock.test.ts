/**
 * Folder locks with real processes: a live holder (another process) is refused with a sentence
 * naming its PID and host; a dead holder's lock (a process that was SIGKILLed) is taken over; a
 * holder on another host is refused with the path to delete; release removes only our own lock;
 * of several processes taking over one dead lock at the same moment, exactly one gets it.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { acquireFolderLock, ownerIsDead, processStartTime, takeoverNote } from '../../src/util/lock.js';
import { PACKAGE_ROOT, tempDir } from '../helpers.js';

const MODULE = pathToFileURL(join(PACKAGE_ROOT, 'dist', 'src', 'util', 'lock.js')).href;

/** A child process that takes the lock, says so, and waits until killed. */
async function holder(folder: string) {
  const child = spawn(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `const { acquireFolderLock } = await import(${JSON.stringify(MODULE)});
       acquireFolderLock(${JSON.stringify(folder)}, { command: 'holder job', what: 'The test folder' });
       process.stdout.write('locked\\n'); setInterval(() => {}, 1000);`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
  return child;
}

test('a live holder is refused by name; a SIGKILLed one is taken over with a note', async () => {
  const folder = tempDir();
  const child = await holder(folder);
  try {
    assert.throws(() => acquireFolderLock(folder, { command: 'me', what: 'The test folder' }), {
      name: 'NnunetError',
      message: new RegExp(
        `^The test folder is in use by holder job \\(PID ${child.pid} on ${hostname()}, since .*\\); wait for it to finish\\.$`,
      ),
    });
  } finally {
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
  }
  const lock = acquireFolderLock(folder, { command: 'me', what: 'The test folder' });
  assert.equal(lock.tookOver?.pid, child.pid);
  assert.match(takeoverNote(lock) ?? '', new RegExp(`left by holder job \\(PID ${child.pid} on .*no longer running`));
  assert.equal(JSON.parse(readFileSync(lock.path, 'utf8')).pid, process.pid);
  lock.release();
  assert.ok(!existsSync(lock.path));
});

test('another host cannot be checked: refused with the file to delete; a reused PID counts as dead', () => {
  const folder = tempDir();
  const path = join(folder, '.nnunet.lock');
  const other = { host: 'node-17.cluster', pid: 4242, processStart: 1, since: '2026-01-01T00:00:00Z', command: 'job' };
  writeFileSync(path, JSON.stringify(other));
  assert.throws(
    () => acquireFolderLock(folder, { command: 'me', what: 'X' }),
    new RegExp(`^.*PID 4242 on node-17\\.cluster.*, or if that job is gone, delete ${path}\\.$`),
  );
  // Our own PID with another start time: the PID was reused, the holder is gone.
  const start = processStartTime(process.pid);
  assert.ok(start !== null, 'this test needs /proc');
  assert.equal(ownerIsDead({ ...other, host: hostname(), pid: process.pid, processStart: start }), false);
  assert.equal(ownerIsDead({ ...other, host: hostname(), pid: process.pid, processStart: start + 1 }), true);
  // release() leaves a lock that is no longer ours alone.
  const lock = acquireFolderLock(tempDir(), { command: 'me', what: 'Y' });
  writeFileSync(lock.path, JSON.stringify(other));
  lock.release();
  assert.ok(existsSync(lock.path));
});

test('several processes taking over one dead lock at once: exactly one wins each round', async () => {
  const dead = spawn(process.execPath, ['-e', '0']);
  await new Promise((r) => dead.once('exit', r));
  for (let round = 0; round < 4; round++) {
    const folder = tempDir();
    const path = join(folder, '.nnunet.lock');
    writeFileSync(
      path,
      JSON.stringify({ host: hostname(), pid: dead.pid, processStart: null, since: 'then', command: 'dead job' }),
    );
    const go = Date.now() + 1000;
    const racers = Array.from({ length: 4 }, () =>
      spawn(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          `const { acquireFolderLock } = await import(${JSON.stringify(MODULE)});
           while (Date.now() < ${go}) {}
           try { acquireFolderLock(${JSON.stringify(folder)}, { command: 'racer', what: 'F' }); process.stdout.write('won'); }
           catch (e) { process.stdout.write(e.name === 'NnunetError' ? 'refused' : 'bug: ' + e.stack); }
           setTimeout(() => {}, 60000);`,
        ],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      ),
    );
    const outcomes = await Promise.all(
      racers.map(
        (c) =>
          new Promise<string>((resolve) => {
            // Each racer holds on (a winner keeps its lock) until all have answered.
            c.stdout.once('data', (d) => resolve(String(d)));
            c.once('exit', () => resolve('exited without an answer'));
          }),
      ),
    );
    for (const c of racers) c.kill('SIGKILL');
    assert.deepEqual(
      outcomes.sort(),
      ['refused', 'refused', 'refused', 'won'],
      `round ${round}: ${outcomes.join(', ')}`,
    );
  }
});
