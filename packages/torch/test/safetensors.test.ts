/** safetensors: byte compatibility with an independent writer, round trips, atomic save, bad files. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  ftruncateSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Conv, type DType, dispose, randn, safetensors, TorchError, tensor } from '../src/index.js';
import { FIXTURES } from './helpers.js';

const PY_FILE = join(FIXTURES, 'python_written.safetensors');

test('reads every dtype from a file written by the fixture generator (PyTorch values)', () => {
  const { tensors, metadata } = safetensors.load(PY_FILE);
  assert.deepEqual(metadata, { format: 'pt' });
  const expect: Record<string, [DType, number[], number[]]> = {
    f64: ['float64', [2], [1.5, -2.25]],
    f32: ['float32', [2, 3], [0, 1 / 3, 2 / 3, 1, 4 / 3, 5 / 3]],
    f16: ['float16', [3], [0.5, -1, 65504]],
    bf16: ['bfloat16', [2], [1, -3.5]],
    i64: ['int64', [2], [-(2 ** 40), 7]],
    i32: ['int32', [2, 2], [1, -2, 3, -4]],
    i16: ['int16', [2], [-300, 300]],
    i8: ['int8', [2], [-128, 127]],
    u8: ['uint8', [3], [0, 255, 17]],
    b: ['bool', [3], [1, 0, 1]],
    scalar: ['float32', [], [3.25]],
    empty: ['float32', [0, 3], []],
  };
  assert.deepEqual([...tensors.keys()].sort(), Object.keys(expect).sort());
  for (const [name, [dtype, shape, values]] of Object.entries(expect)) {
    const t = tensors.get(name)!;
    assert.equal(t.dtype, dtype, name);
    assert.deepEqual(t.shape, shape, name);
    const got = t.toArray();
    values.forEach((v, i) => {
      assert.ok(Math.abs((got[i] as number) - v) <= Math.abs(v) * 1e-7, `${name}[${i}]`);
    });
  }
  // Writing the same tensors again gives the same bytes as the independent writer.
  const ours = safetensors.serialize(tensors, metadata);
  assert.ok(Buffer.compare(ours, readFileSync(PY_FILE)) === 0, 'byte-identical to the reference layout');
  dispose([...tensors.values()]);
});

test('a module state dict round-trips through save/load, and load restores it into a fresh module', () => {
  const dir = mkdtempSync(join(tmpdir(), 'st-'));
  const path = join(dir, 'model.safetensors');
  const a = new Conv(3, 2, 4, 3);
  const b = new Conv(3, 2, 4, 3);
  safetensors.save(path, a.stateDict(), { epoch: '3' });
  assert.deepEqual(readdirSync(dir), ['model.safetensors'], 'no temporary file left behind');
  const { tensors, metadata } = safetensors.load(path);
  assert.equal(metadata.epoch, '3');
  assert.ok(!a.weight.equal(b.weight));
  b.loadStateDict(tensors);
  assert.ok(a.weight.equal(b.weight) && a.bias!.equal(b.bias!));
  dispose([...tensors.values()]);
  a.dispose();
  b.dispose();
});

test('header is 8-byte aligned JSON with data_offsets in order', () => {
  const t = { x: randn([3, 5]), y: tensor([1, 2, 3], { dtype: 'int16' }) };
  const bytes = safetensors.serialize(t);
  const n = Number(bytes.readBigUInt64LE(0));
  assert.equal((8 + n) % 8, 0);
  const header = JSON.parse(bytes.subarray(8, 8 + n).toString()) as Record<string, { data_offsets: number[] }>;
  assert.deepEqual(header.x!.data_offsets, [0, 60]);
  assert.deepEqual(header.y!.data_offsets, [60, 66]);
  assert.equal(bytes.length, 8 + n + 66);
  dispose(t);
});

test('malformed files fail with ERR_TORCH_FORMAT naming the file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'st-bad-'));
  const good = safetensors.serialize({ x: tensor([1, 2, 3]) });
  const cases: [string, Buffer][] = [
    ['short.safetensors', Buffer.from([1, 2, 3])],
    ['huge-header.safetensors', Buffer.concat([Buffer.from([255, 255, 255, 255, 0, 0, 0, 0]), Buffer.alloc(8)])],
    ['truncated.safetensors', good.subarray(0, good.length - 4)],
    ['not-json.safetensors', Buffer.concat([Buffer.from([8, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('{{{{{{{{')])],
  ];
  for (const [name, bytes] of cases) {
    const p = join(dir, name);
    writeFileSync(p, bytes);
    assert.throws(
      () => safetensors.load(p),
      (e: unknown) => e instanceof TorchError && e.code === 'ERR_TORCH_FORMAT' && e.message.includes(p),
      name,
    );
  }
  assert.ok(existsSync(join(dir, 'truncated.safetensors')));
});

test('serializeParts is the file in parts: header, then each tensor as a view, no joined copy', () => {
  const t = { x: randn([3, 5]), y: tensor([1, 2, 3], { dtype: 'int16' }) };
  const parts = safetensors.serializeParts(t, { epoch: '1' });
  assert.equal(parts.length, 3);
  assert.ok(Buffer.concat(parts).equals(safetensors.serialize(t, { epoch: '1' })));
  assert.deepEqual(
    parts.slice(1).map((p) => p.length),
    [60, 6],
  );
  dispose(t);
});

test('save on a full disk: one sentence with the size needed, the earlier file intact, no temporary', (t) => {
  // A real full disk: a 256 KiB tmpfs (needs root or a container that allows mounts).
  const dir = mkdtempSync(join(tmpdir(), 'st-full-'));
  const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', dir], { encoding: 'utf8' });
  if (m.status !== 0) {
    rmdirSync(dir);
    t.skip(`cannot mount a small tmpfs to fill (${(m.stderr || m.error?.message || 'mount failed').trim()})`);
    return;
  }
  const created = [randn([16]), randn([64, 256])];
  try {
    const path = join(dir, 'model_best.safetensors');
    safetensors.save(path, { w: created[0]! });
    const good = readFileSync(path);
    // Fill the disk, then free 16 KiB: the 64 KiB save gets a short write, then ENOSPC.
    const fd = openSync(join(dir, 'filler'), 'w');
    let size = 0;
    const page = Buffer.alloc(4096, 1);
    try {
      for (;;) size += writeSync(fd, page);
    } catch (e) {
      assert.equal((e as NodeJS.ErrnoException).code, 'ENOSPC');
    }
    ftruncateSync(fd, size - 16 * 1024);
    closeSync(fd);
    assert.throws(
      () => safetensors.save(path, { w: created[1]! }),
      (e: unknown) => {
        assert.ok(e instanceof TorchError, String(e));
        assert.match(
          e.message,
          /^Cannot write .*model_best\.safetensors: the disk is full \(the file needs 64\.1 KiB, 16\.0 KiB are free on that file system\); free some space and run the command again\.$/,
        );
        assert.equal((e.cause as NodeJS.ErrnoException).code, 'ENOSPC');
        return true;
      },
    );
    assert.ok(readFileSync(path).equals(good), 'the earlier file is intact');
    assert.deepEqual(readdirSync(dir).sort(), ['filler', 'model_best.safetensors'], 'no temporary file');
  } finally {
    dispose(created);
    if (spawnSync('umount', [dir]).status === 0) rmdirSync(dir);
  }
});
