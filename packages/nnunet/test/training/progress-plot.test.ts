/** progress.png: a real PNG of the expected size, redrawn atomically. */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { renderProgressPng, writeProgressPng } from '../../src/training/progress-plot.js';
import { tempDir } from '../helpers.js';

const log = {
  trainLoss: [0.9, 0.5, 0.2, -0.1],
  valLoss: [1.0, 0.6, 0.3, 0.1],
  evalMetric: [0.1, 0.4, 0.6, 0.7],
  evalMetricEma: [0.1, 0.13, 0.177, 0.229],
};

test('renders a PNG 1440 pixels wide with the four series', async () => {
  const png = await renderProgressPng(log, 'fold 0');
  assert.deepEqual(Array.from(png.subarray(0, 8)), [137, 80, 78, 71, 13, 10, 26, 10], 'PNG signature');
  const width = Buffer.from(png).readUInt32BE(16);
  const height = Buffer.from(png).readUInt32BE(20);
  assert.equal(width, 1440);
  assert.ok(height > 600 && height < 1200, `height ${height}`);
  // More data draws more: the encoded image changes with the log.
  const other = await renderProgressPng({ ...log, trainLoss: [0.9, 0.9, 0.9, 0.9] }, 'fold 0');
  assert.notDeepEqual(Buffer.from(other), Buffer.from(png));
});

test('writes progress.png atomically (no temporary file left)', async () => {
  const dir = tempDir();
  await writeProgressPng(join(dir, 'progress.png'), log);
  assert.deepEqual(readdirSync(dir), ['progress.png']);
  assert.ok(readFileSync(join(dir, 'progress.png')).length > 10000);
});
