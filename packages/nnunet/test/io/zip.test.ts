/** Zip reader/writer: round trips, archives written by Python's zipfile with ZIP64 records, damage detection. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import * as zlib from 'node:zlib';
import { inflateRawSync } from 'node:zlib';
import { NnunetError } from '../../src/errors.js';
import { crc32Update, METHOD_DEFLATE, METHOD_STORED, ZipReader, ZipWriter } from '../../src/io/zip.js';
import { FIXTURES, randomBytes, tempDir } from '../helpers.js';

const SHARING = join(FIXTURES, 'sharing');

/** Whether the archive ends in a ZIP64 end record (its locator sits right before the end record). */
function hasZip64EndRecord(path: string): boolean {
  const raw = readFileSync(path);
  return raw.readUInt32LE(raw.length - 22 - 20) === 0x07064b50;
}

test('a ZIP64 archive written by Python zipfile (force_zip64 + ZIP64 end record) reads back byte-identical', async () => {
  const expected = JSON.parse(readFileSync(join(SHARING, 'zip64.json'), 'utf8')) as {
    name: string;
    size: number;
    sha256: string;
  }[];
  const z = await ZipReader.open(join(SHARING, 'zip64.zip'));
  assert.equal(hasZip64EndRecord(join(SHARING, 'zip64.zip')), true);
  assert.deepEqual(
    z.entries.map((e) => e.name),
    expected.map((e) => e.name),
  );
  assert.deepEqual(
    z.entries.map((e) => e.method),
    [METHOD_DEFLATE, METHOD_STORED, METHOD_DEFLATE, METHOD_DEFLATE],
  );
  for (const [i, e] of z.entries.entries()) {
    const data = await z.read(e);
    assert.equal(data.length, expected[i]?.size);
    assert.equal(createHash('sha256').update(data).digest('hex'), expected[i]?.sha256, e.name);
  }
  assert.equal(z.entries[0]?.mtime.getFullYear(), 2021);
  assert.equal(z.entries[0]?.mtime.getSeconds(), 8);
});

test('ZIP64 extra fields in the central directory (saturated sizes and offsets, Python zipfile) read back', async () => {
  const expected = JSON.parse(readFileSync(join(SHARING, 'zip64.json'), 'utf8')) as { name: string; sha256: string }[];
  const raw = readFileSync(join(SHARING, 'zip64_central.zip'));
  const z = await ZipReader.open(join(SHARING, 'zip64_central.zip'));
  // The central record of random.bin stores 0xFFFFFFFF for both sizes and the offset.
  const cd = raw.lastIndexOf(Buffer.from('random.bin')) - 46;
  assert.equal(raw.readUInt32LE(cd), 0x02014b50);
  assert.deepEqual(
    [raw.readUInt32LE(cd + 20), raw.readUInt32LE(cd + 24), raw.readUInt32LE(cd + 42)],
    [0xffffffff, 0xffffffff, 0xffffffff],
  );
  const e = z.entries[1];
  assert.ok(e);
  assert.deepEqual([e.size, e.compressedSize, e.localHeaderOffset], [5000, 5000, 154]);
  for (const [i, entry] of z.entries.entries()) {
    const data = await z.read(entry);
    assert.equal(createHash('sha256').update(data).digest('hex'), expected[i]?.sha256, entry.name);
  }
});

test('writer round trip: deflate and stored, streamed files and buffers, UTF-8 names, extraction with CRC check', async () => {
  const dir = tempDir();
  const big = randomBytes(3_000_000, 1);
  const text = Buffer.from('nnU-Net '.repeat(100_000));
  writeFileSync(join(dir, 'big.bin'), big);
  writeFileSync(join(dir, 'text.txt'), text);
  writeFileSync(join(dir, 'empty'), Buffer.alloc(0));
  const path = join(dir, 'a.zip');
  const w = new ZipWriter(path);
  await w.addFile('models/big.bin', join(dir, 'big.bin'), { method: METHOD_STORED });
  await w.addFile('models/text.txt', join(dir, 'text.txt'));
  await w.addFile('empty', join(dir, 'empty'));
  await w.addBuffer('grüße/ü.json', Buffer.from('{"a": 1}'));
  await assert.rejects(w.addBuffer('models/text.txt', Buffer.alloc(1)), /already has an entry/);
  await assert.rejects(w.addBuffer('../x', Buffer.alloc(1)), /not a valid relative entry name/);
  assert.equal(existsSync(path), false, 'nothing under the final name before close');
  await w.close();
  const z = await ZipReader.open(path);
  assert.equal(hasZip64EndRecord(path), false);
  assert.deepEqual(
    z.entries.map((e) => [e.name, e.size, e.method]),
    [
      ['models/big.bin', big.length, METHOD_STORED],
      ['models/text.txt', text.length, METHOD_DEFLATE],
      ['empty', 0, METHOD_DEFLATE],
      ['grüße/ü.json', 8, METHOD_DEFLATE],
    ],
  );
  assert.ok((z.entries[1]?.compressedSize ?? 0) < text.length / 100, 'repetitive text deflates well');
  const out = join(dir, 'big.out');
  await z.extract(z.entries[0] as never, out);
  assert.ok(readFileSync(out).equals(big));
  assert.ok((await z.read(z.entries[1] as never)).equals(text));
  assert.equal((await z.read(z.entries[2] as never)).length, 0);
  assert.equal((await z.read(z.entries[3] as never)).toString(), '{"a": 1}');
  // A reader going by local headers finds each member's CRC and sizes next to its data: in the local
  // header of a buffer, in the data descriptor after a streamed file. Decode both by hand.
  const raw = readFileSync(path);
  for (const [i, expected] of [
    [1, text],
    [3, Buffer.from('{"a": 1}')],
  ] as const) {
    const e = z.entries[i];
    assert.ok(e);
    const off = e.localHeaderOffset;
    const start = off + 30 + raw.readUInt16LE(off + 26) + raw.readUInt16LE(off + 28);
    assert.ok(inflateRawSync(raw.subarray(start, start + e.compressedSize)).equals(expected), e.name);
    if ((raw.readUInt16LE(off + 6) & 0x0008) === 0) {
      assert.equal(raw.readUInt32LE(off + 14), e.crc32, e.name);
      assert.equal(raw.readUInt32LE(off + 18), e.compressedSize, e.name);
    } else {
      const d = start + e.compressedSize;
      assert.equal(raw.readUInt32LE(d), 0x08074b50, `${e.name}: data descriptor`);
      assert.equal(raw.readUInt32LE(d + 4), e.crc32, e.name);
      assert.equal(raw.readUInt32LE(d + 8), e.compressedSize, e.name);
    }
  }
});

test('forced ZIP64 records and more than 65535 entries read back', async () => {
  const dir = tempDir();
  const forced = join(dir, 'f.zip');
  const w = new ZipWriter(forced, { forceZip64: true });
  await w.addBuffer('a.txt', Buffer.from('hello'));
  writeFileSync(join(dir, 'b'), randomBytes(70_000, 2));
  await w.addFile('b.bin', join(dir, 'b'));
  await w.close();
  const z = await ZipReader.open(forced);
  assert.equal(hasZip64EndRecord(forced), true);
  assert.equal((await z.read(z.entries[0] as never)).toString(), 'hello');
  assert.ok((await z.read(z.entries[1] as never)).equals(randomBytes(70_000, 2)));

  const many = join(dir, 'many.zip');
  const m = new ZipWriter(many);
  // The fewest entries that need the ZIP64 end record; folder entries, the cheapest for zip.js to write.
  const N = 65_536;
  for (let i = 0; i < N - 1; i++) await m.addBuffer(`f/${i}/`, Buffer.alloc(0));
  await m.addBuffer(`f/${N - 1}`, Buffer.from(String(N - 1)));
  await m.close();
  const r = await ZipReader.open(many);
  assert.equal(hasZip64EndRecord(many), true, 'entry count past 65535 needs the ZIP64 end record');
  assert.equal(r.entries.length, N);
  assert.equal((await r.read(r.entries[N - 1] as never)).toString(), String(N - 1));
  assert.equal(readFileSync(many).readUInt16LE(readFileSync(many).length - 22 + 10), 0xffff);
});

test('a damaged member fails its CRC check and leaves no file; a truncated archive is refused', async () => {
  const dir = tempDir();
  const path = join(dir, 'a.zip');
  const w = new ZipWriter(path);
  const data = randomBytes(10_000, 3);
  await w.addBuffer('x.bin', data, { method: METHOD_STORED });
  await w.close();
  const bytes = readFileSync(path);
  const z0 = await ZipReader.open(path);
  const off = z0.entries[0]?.localHeaderOffset as number;
  const start = off + 30 + bytes.readUInt16LE(off + 26) + bytes.readUInt16LE(off + 28);
  bytes[start + 5000] = (bytes[start + 5000] as number) ^ 0xff;
  const bad = join(dir, 'bad.zip');
  writeFileSync(bad, bytes);
  const z = await ZipReader.open(bad);
  const out = join(dir, 'x.out');
  await assert.rejects(z.extract(z.entries[0] as never, out), /bad\.zip is damaged: x\.bin fails its CRC-32 check/);
  assert.equal(existsSync(out), false);
  writeFileSync(join(dir, 'cut.zip'), bytes.subarray(0, 4000));
  await assert.rejects(
    ZipReader.open(join(dir, 'cut.zip')),
    /cut\.zip is not a readable zip archive \(no end-of-central-directory/,
  );
  await assert.rejects(ZipReader.open(join(dir, 'missing.zip')), /missing\.zip does not exist/);
});

test('every truncation or damaged byte of an archive ends in one NnunetError naming the file', async () => {
  const dir = tempDir();
  const path = join(dir, 'a.zip');
  const w = new ZipWriter(path);
  await w.addBuffer('models/a.json', Buffer.from('{"a": 1}'.repeat(20)));
  await w.addBuffer('models/b.bin', randomBytes(300, 5), { method: METHOD_STORED });
  writeFileSync(join(dir, 'c.txt'), 'nnU-Net '.repeat(50));
  await w.addFile('models/c.txt', join(dir, 'c.txt'));
  await w.close();
  const whole = readFileSync(path);
  const readAll = async (file: string): Promise<void> => {
    const z = await ZipReader.open(file);
    for (const e of z.entries) await z.read(e);
  };
  await readAll(path);
  const variants: Buffer[] = [];
  for (let cut = 0; cut < whole.length; cut += 5) variants.push(whole.subarray(0, cut));
  for (let at = 0; at < whole.length; at += 3) {
    const b = Buffer.from(whole);
    b[at] = (b[at] as number) ^ 0x5a;
    variants.push(b);
  }
  let refused = 0;
  for (const [i, bytes] of variants.entries()) {
    const file = join(dir, `v${i}.zip`);
    writeFileSync(file, bytes);
    try {
      await readAll(file);
    } catch (e) {
      refused++;
      assert.ok(e instanceof NnunetError, `variant ${i}: ${String(e)}`);
      assert.ok(e.message.includes(file), `variant ${i}: ${e.message}`);
      assert.equal(e.message.split('\n').length, 1, `variant ${i}: one line`);
    }
  }
  assert.ok(refused > variants.length / 2, `${refused} of ${variants.length} refused`);
});

test('crc32Update continues a CRC across chunks', () => {
  // The standard check value of CRC-32 (ISO-HDLC): "123456789" -> 0xCBF43926.
  const check = Buffer.from('123456789');
  assert.equal(crc32Update(check), 0xcbf43926);
  for (let cut = 0; cut <= check.length; cut++) {
    assert.equal(crc32Update(check.subarray(cut), crc32Update(check.subarray(0, cut))), 0xcbf43926, `cut ${cut}`);
  }
  // Random data in uneven chunks (including empty ones) gives the CRC of the whole, which zlib confirms where
  // this Node has zlib.crc32, and Python's zlib.crc32 confirms for the fixture archives read above.
  const data = randomBytes(300_001, 7);
  const whole = crc32Update(data);
  let running = 0;
  let at = 0;
  for (const size of [0, 1, 2, 3, 1000, 65_536, 0, 7, 100_000]) {
    running = crc32Update(data.subarray(at, at + size), running);
    at += size;
  }
  running = crc32Update(data.subarray(at), running);
  assert.equal(running, whole);
  const native = (zlib as { crc32?: (d: Uint8Array, v?: number) => number }).crc32;
  if (native !== undefined) assert.equal(whole, native(data) >>> 0);
  assert.notEqual(crc32Update(Buffer.from('a'), 1), crc32Update(Buffer.from('a')), 'the previous value matters');
});

test('file-system failures of the writer and reader are one sentence naming the path (no raw ENOENT)', async () => {
  const dir = tempDir();
  const missing = join(dir, 'missing', 'dir', 'x.zip');
  assert.throws(
    () => new ZipWriter(missing),
    (e) => {
      assert.ok(e instanceof NnunetError);
      assert.equal(e.code, 'ERR_NOT_FOUND');
      assert.equal(
        e.message,
        `Creating the zip archive ${missing} failed (ENOENT: the folder ${join(dir, 'missing', 'dir')} does not exist): create the folder ${join(dir, 'missing', 'dir')} or choose another output path.`,
      );
      return true;
    },
  );
  assert.deepEqual(readdirSync(dir), [], 'nothing created');
  const path = join(dir, 'a.zip');
  const w = new ZipWriter(path);
  await assert.rejects(w.addFile('gone.bin', join(dir, 'gone.bin')), (e) => {
    assert.ok(e instanceof NnunetError);
    assert.match(e.message, /^Reading .*gone\.bin for the zip archive .*a\.zip failed \(ENOENT: it does not exist\)/);
    return true;
  });
  await assert.rejects(w.addFile('dir', dir), /is a folder, not a file/);
  // The failed names stay free and the writer keeps working.
  writeFileSync(join(dir, 'gone.bin'), 'back');
  await w.addFile('gone.bin', join(dir, 'gone.bin'));
  await w.close();
  const z = await ZipReader.open(path);
  assert.deepEqual(
    z.entries.map((e) => e.name),
    ['gone.bin'],
  );
  await assert.rejects(ZipReader.open(dir), /is a folder, not a zip file/);
  // Extracting onto an existing path names it.
  await assert.rejects(z.extract(z.entries[0] as never, join(dir, 'gone.bin')), (e) => {
    assert.ok(e instanceof NnunetError);
    assert.match(e.message, /^Creating .*gone\.bin for gone\.bin of .*a\.zip failed \(EEXIST: it already exists\)/);
    return true;
  });
  // A writer whose folder disappears before close names the archive and leaves nothing behind.
  const sub = join(dir, 'sub');
  mkdirSync(sub);
  const w2 = new ZipWriter(join(sub, 'b.zip'));
  await w2.addBuffer('x', Buffer.from('x'));
  rmSync(sub, { recursive: true });
  await assert.rejects(
    w2.close(),
    /^NnunetError: Finishing the zip archive .*b\.zip failed \(ENOENT: the folder .*sub no longer exists\)/,
  );
});
