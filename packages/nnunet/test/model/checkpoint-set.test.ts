/**
 * Checkpoint sets: a writer killed with SIGKILL at random moments of a save never leaves a mixed
 * set behind (a reader gets the old set or the new one, byte for byte), the next writer's recovery
 * finishes a committed save or drops an uncommitted one, and damaged sets are refused with a
 * sentence naming the file.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import {
  moveCheckpointSet,
  readCheckpointSet,
  recoverCheckpointSets,
  writeCheckpointSet,
} from '../../src/model/checkpoint-set.js';
import { PACKAGE_ROOT, randomBytes, tempDir } from '../helpers.js';

const MODULE = pathToFileURL(join(PACKAGE_ROOT, 'dist', 'src', 'model', 'checkpoint-set.js')).href;
const SIZE = 8 << 20;

/** Contents cycle through this many variants; neighbouring generations always differ. */
const VARIANTS = 5;

/** Generation g of a two-file set: its bytes are fixed by g, so a reader can tell which it got. */
const variants = new Map<number, Map<string, Buffer>>();
function generation(g: number): Map<string, Buffer> {
  const v = g % VARIANTS;
  const known = variants.get(v);
  if (known !== undefined) return known;
  const made = new Map([
    ['ck.safetensors', randomBytes(SIZE, 2 * v + 1)],
    ['ck.optimizer.safetensors', randomBytes(SIZE / 2, 2 * v + 2)],
  ]);
  variants.set(v, made);
  return made;
}

function generationOf(folder: string): number {
  const set = readCheckpointSet(folder, 'ck');
  const g = set.json.generation as number;
  for (const [name, bytes] of generation(g))
    assert.ok(set.files.get(name)?.equals(bytes), `${name} of generation ${g}`);
  return g;
}

/** A child that makes the variants, says ready, then saves generation after generation until killed. */
function writerScript(folder: string, first: number): string {
  return `
    const { writeCheckpointSet } = await import(${JSON.stringify(MODULE)});
    const rnd = (n, seed) => { const b = Buffer.alloc(n); let s = seed >>> 0; for (let i = 0; i < n; i++) { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; b[i] = s >>> 24; } return b; };
    const variants = [];
    for (let v = 0; v < ${VARIANTS}; v++)
      variants.push(new Map([['ck.safetensors', rnd(${SIZE}, 2 * v + 1)], ['ck.optimizer.safetensors', rnd(${SIZE / 2}, 2 * v + 2)]]));
    process.stdout.write('ready\\n');
    for (let g = ${first}; ; g++) writeCheckpointSet(${JSON.stringify(folder)}, 'ck', variants[g % ${VARIANTS}], { generation: g });`;
}

test('SIGKILL at random moments of saves: readers see a whole generation, recovery leaves no debris', {
  timeout: 120_000,
}, async () => {
  const folder = tempDir();
  writeCheckpointSet(folder, 'ck', generation(0), { generation: 0 });
  let seen = 0;
  const delays = [0, 15, 30, 50, 75, 100, 140, 190, 250, 320];
  for (const [k, delay] of delays.entries()) {
    const before = generationOf(folder);
    const child = spawn(process.execPath, ['--input-type=module', '-e', writerScript(folder, before + 1)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise((r) => child.once('exit', r));
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    await new Promise((r) => setTimeout(r, delay));
    child.kill('SIGKILL');
    await exited;
    // Before recovery: a consistent set, never older than before.
    const read = generationOf(folder);
    assert.ok(read >= before, `kill ${k}: generation went back from ${before} to ${read}`);
    recoverCheckpointSets(folder);
    const after = generationOf(folder);
    assert.equal(after, read, `kill ${k}: recovery changed the generation a reader saw`);
    assert.deepEqual(
      readdirSync(folder).filter((f) => f.endsWith('.next')),
      [],
      `kill ${k}: .next files remain after recovery`,
    );
    if (read > before) seen++;
  }
  assert.ok(seen > 0, 'no save completed in any run: the delays are too short to test anything');
});

test('a commit interrupted between its renames is finished by recovery; an uncommitted one is dropped', () => {
  const folder = tempDir();
  writeCheckpointSet(folder, 'ck', generation(1), { generation: 1 });
  // Committed (json.next written), first data file renamed, the rest not: a mixed state on disk.
  const g2 = generation(2);
  for (const [name, bytes] of g2) writeFileSync(join(folder, `${name}.next`), bytes);
  const manifest = {
    generation: 2,
    files: Object.fromEntries([...g2].map(([n, b]) => [n, { bytes: b.length, sha256: sha(b) }])),
  };
  writeFileSync(join(folder, 'ck.json.next'), JSON.stringify(manifest));
  rmSync(join(folder, 'ck.safetensors'));
  writeFileSync(join(folder, 'ck.safetensors'), g2.get('ck.safetensors') as Buffer);
  rmSync(join(folder, 'ck.safetensors.next'));
  assert.equal(generationOf(folder), 2, 'the committed set is what a reader takes');
  assert.deepEqual(recoverCheckpointSets(folder), [
    'finished publishing the ck checkpoint that an interrupted save had committed',
  ]);
  assert.equal(generationOf(folder), 2);
  assert.deepEqual(readdirSync(folder).sort(), ['ck.json', 'ck.optimizer.safetensors', 'ck.safetensors']);

  // Uncommitted: data .next files without a json.next are debris; the old set stays.
  for (const [name, bytes] of generation(3)) writeFileSync(join(folder, `${name}.next`), bytes);
  assert.equal(generationOf(folder), 2);
  assert.equal(recoverCheckpointSets(folder).length, 2);
  assert.deepEqual(readdirSync(folder).sort(), ['ck.json', 'ck.optimizer.safetensors', 'ck.safetensors']);
});

test('a truncated or swapped file is refused with a sentence naming it; moving takes the whole set', () => {
  const folder = tempDir();
  writeCheckpointSet(folder, 'ck', generation(4), { generation: 4 });
  truncateSync(join(folder, 'ck.optimizer.safetensors'), 1000);
  assert.throws(() => readCheckpointSet(folder, 'ck'), {
    name: 'NnunetError',
    message: new RegExp(
      `^${join(folder, 'ck.optimizer.safetensors')} does not match ${join(folder, 'ck.json')} \\(size or SHA-256 differs: truncated, or from another save\\): the ck checkpoint is incomplete or damaged\\.$`,
    ),
  });
  writeFileSync(join(folder, 'ck.optimizer.safetensors'), generation(5).get('ck.optimizer.safetensors') as Buffer);
  writeFileSync(join(folder, 'ck.safetensors'), generation(5).get('ck.safetensors') as Buffer);
  assert.throws(() => readCheckpointSet(folder, 'ck'), /does not match/);
  const aside = join(folder, 'earlier');
  assert.equal(moveCheckpointSet(folder, 'ck', aside), true);
  assert.deepEqual(readdirSync(folder), ['earlier']);
  assert.deepEqual(readdirSync(aside).sort(), ['ck.json', 'ck.optimizer.safetensors', 'ck.safetensors']);
});

function sha(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}
