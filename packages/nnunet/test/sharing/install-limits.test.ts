/**
 * nnUNet_install_pretrained_model_from_zip, run as the real command: archives that unpack to 1 GiB
 * of zeros (one entry, or a thousand entries each below the per-entry floor) are refused by the
 * expansion caps with nothing written; files a model folder does not hold are refused, listed,
 * unless --allow_unknown_files, while every checkpoint file of the layout (our sets, v1's .model
 * and .model.pkl) is accepted.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import * as zlib from 'node:zlib';
import { createInitialisedModel } from '../../src/inference/model-folder.js';
import { crc32Update, METHOD_DEFLATE, ZipReader, ZipWriter } from '../../src/io/zip.js';
import { DEFAULT_PLANS_IDENTIFIER, DEFAULT_TRAINER, trainerFolderPath } from '../../src/model/layout.js';
import type { Plans } from '../../src/model/plans.js';
import { exportModelToZip } from '../../src/sharing/export.js';
import { FIXTURES, PACKAGE_ROOT, tempDir } from '../helpers.js';

const CLI = join(PACKAGE_ROOT, 'dist', 'src', 'cli', 'install-pretrained-model-from-zip.js');
const MODEL = `3d_fullres/Task099_Tiny/${DEFAULT_TRAINER}__${DEFAULT_PLANS_IDENTIFIER}`;
const GIB = 1024 ** 3;

function install(zip: string, results: string, ...flags: string[]) {
  return spawnSync(process.execPath, [CLI, zip, ...flags], {
    env: { ...process.env, RESULTS_FOLDER: results },
    encoding: 'utf8',
  });
}

interface RawEntry {
  name: string;
  /** Uncompressed size and CRC-32. */
  size: number;
  crc: number;
  /** The deflated data, as parts written one after the other. */
  parts: readonly Buffer[];
}

/**
 * Writes a zip (deflate, no ZIP64) entry by entry from already deflated parts, so that an archive
 * that declares a gigabyte is written in milliseconds and takes a megabyte on disk.
 */
function writeRawZip(path: string, entries: readonly RawEntry[]): void {
  const fd = openSync(path, 'w');
  const central: Buffer[] = [];
  let offset = 0;
  const put = (b: Buffer) => {
    writeSync(fd, b);
    offset += b.length;
  };
  for (const e of entries) {
    const name = Buffer.from(e.name);
    const compressed = e.parts.reduce((n, p) => n + p.length, 0);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(METHOD_DEFLATE, 8);
    local.writeUInt32LE(e.crc, 14);
    local.writeUInt32LE(compressed, 18);
    local.writeUInt32LE(e.size, 22);
    local.writeUInt16LE(name.length, 26);
    const cen = Buffer.alloc(46);
    cen.writeUInt32LE(0x02014b50, 0);
    cen.writeUInt16LE(20, 4);
    cen.writeUInt16LE(20, 6);
    cen.writeUInt16LE(METHOD_DEFLATE, 10);
    cen.writeUInt32LE(e.crc, 16);
    cen.writeUInt32LE(compressed, 20);
    cen.writeUInt32LE(e.size, 24);
    cen.writeUInt16LE(name.length, 28);
    cen.writeUInt32LE(offset, 42);
    central.push(cen, name);
    put(local);
    put(name);
    for (const p of e.parts) put(p);
  }
  const cd = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  put(cd);
  put(end);
  closeSync(fd);
}

/**
 * An entry of `blocks` x `blockBytes` zeros as a deflate stream: the block deflated once and
 * sync-flushed (a non-final block that needs no earlier data), repeated, then an empty final block.
 */
function zerosEntry(name: string, blockBytes: number, blocks: number): RawEntry {
  const block = Buffer.alloc(blockBytes);
  const flushed = zlib.deflateRawSync(block, { finishFlush: zlib.constants.Z_SYNC_FLUSH });
  let crc = 0;
  for (let i = 0; i < blocks; i++) crc = crc32Update(block, crc);
  const parts = [...Array<Buffer>(blocks).fill(flushed), Buffer.from([0x03, 0x00])];
  return { name, size: blockBytes * blocks, crc, parts };
}

test('archives that unpack to 1 GiB of zeros are refused by the caps; nothing is written', async () => {
  const dir = tempDir();
  const results = join(dir, 'results');
  mkdirSync(results);
  const plans = Buffer.from('{}');
  const plansEntry: RawEntry = {
    name: `${MODEL}/plans.json`,
    size: plans.length,
    crc: crc32Update(plans),
    parts: [zlib.deflateRawSync(plans)],
  };
  // One entry: a 1 GiB "checkpoint" of zeros (about 1 MiB in the archive, a thousand-fold expansion).
  const one = join(dir, 'one.zip');
  writeRawZip(one, [plansEntry, zerosEntry(`${MODEL}/fold_0/model_final_checkpoint.safetensors`, 1024 ** 2, 1024)]);
  // The archive is well formed and declares what it unpacks to.
  const reader = await ZipReader.open(one);
  assert.equal(reader.entries[1]?.size, GIB);
  await reader.checkLocalHeaders();
  assert.ok(reader.fileSize < 2 * 1024 ** 2, `${reader.fileSize} bytes on disk`);
  const r1 = install(one, results);
  assert.equal(r1.status, 1, r1.stderr);
  assert.match(
    r1.stderr,
    /one\.zip was not installed: its entry ".*fold_0\/model_final_checkpoint\.safetensors" would expand \d{3,}-fold \(\d+ bytes to 1073741824\), more than the 100-fold any model file needs: this is a zip bomb or a damaged archive; nothing was written/,
  );
  assert.deepEqual(readdirSync(results), [], 'nothing extracted, not even a staging folder');

  // 1024 entries of 1 MiB less a byte: each is below the size from which one entry's expansion
  // counts, the archive as a whole still expands a thousand-fold.
  const entry = zerosEntry('', 1024 ** 2 - 1, 1);
  const many = join(dir, 'many.zip');
  writeRawZip(many, [
    plansEntry,
    ...Array.from({ length: 1024 }, (_, i) => ({
      ...entry,
      name: `${MODEL}/fold_${i}/model_final_checkpoint.safetensors`,
    })),
  ]);
  const r2 = install(many, results);
  assert.equal(r2.status, 1, r2.stderr);
  assert.match(
    r2.stderr,
    /many\.zip was not installed: its \d+\.\d MiB would unpack to 1024\.0 MiB, more than 100 times as much \(a zip bomb: entries that expand too much or share their data\); nothing was written/,
  );
  assert.deepEqual(readdirSync(results), []);
});

test('files a model folder does not hold are refused and listed unless --allow_unknown_files', async () => {
  const dir = tempDir();
  // A real model of ours, exported as nnUNet_export_model_to_zip does.
  const source = join(dir, 'source');
  const plans = JSON.parse(
    readFileSync(join(FIXTURES, 'golden', 'Task004_Hippocampus', 'nnUNetPlansv2.1_plans_3D.json'), 'utf8'),
  ) as Plans;
  plans.base_num_features = 4;
  const folder = trainerFolderPath(source, '3d_fullres', 'Task099_Tiny');
  createInitialisedModel(plans, folder, '3d_fullres', ['0'], { seed: 3 });
  writeFileSync(join(folder, 'postprocessing.json'), '{"for_which_classes": [], "min_valid_object_sizes": "{}"}');
  const exported = join(dir, 'exported.zip');
  await exportModelToZip({
    resultsFolder: source,
    task: 'Task099_Tiny',
    output: exported,
    configurations: ['3d_fullres'],
    folds: ['0'],
  });
  // The same archive plus checkpoint files of the layout, an unknown folder and an unknown file.
  const zip = join(dir, 'model.zip');
  const w = new ZipWriter(zip);
  const r = await ZipReader.open(exported);
  for (const e of r.entries) await w.addBuffer(e.name, await r.read(e));
  const known = [
    'fold_0/model_best.safetensors',
    'fold_0/model_best.optimizer.safetensors',
    'fold_0/model_best.json',
    'fold_0/model_latest.model',
    'fold_0/model_latest.model.pkl',
  ];
  for (const f of known) await w.addBuffer(`${MODEL}/${f}`, Buffer.from(f));
  await w.addBuffer(`${MODEL}/fold_0/validation_raw/`, Buffer.alloc(0));
  await w.addBuffer(`${MODEL}/fold_0/zeros.bin`, Buffer.alloc(4096));
  await w.close();

  const results = join(dir, 'results');
  mkdirSync(results);
  const refused = install(zip, results);
  assert.equal(refused.status, 1, refused.stderr);
  assert.match(
    refused.stderr,
    new RegExp(
      `model\\.zip was not installed: 2 of its entries ${MODEL}/fold_0/validation_raw/, ${MODEL}/fold_0/zeros\\.bin are not part of an nnU-Net model \\(.*\\); nothing was written \\(if you trust the archive, install these too with nnUNet_install_pretrained_model_from_zip --allow_unknown_files .*model\\.zip\\)\\.\\n$`,
    ),
  );
  assert.doesNotMatch(refused.stderr, /model_best|model_latest/, 'checkpoint names of the layout are known');
  assert.deepEqual(readdirSync(results), []);

  const allowed = install(zip, results, '--allow_unknown_files');
  assert.equal(allowed.status, 0, allowed.stderr);
  const fold = join(results, 'nnUNet', MODEL, 'fold_0');
  assert.match(
    allowed.stderr,
    new RegExp(
      `warning: installed 2 files that are not part of an nnU-Net model:\\n  ${fold}/validation_raw\\n  ${fold}/zeros\\.bin\\n`,
    ),
  );
  assert.equal(readFileSync(join(fold, 'zeros.bin')).length, 4096);
  for (const f of known) assert.equal(readFileSync(join(results, 'nnUNet', MODEL, f), 'utf8'), f);
  assert.ok(existsSync(join(fold, 'model_final_checkpoint.safetensors')));
});
