/**
 * `make demo` at a tiny budget: the whole pipeline (convert, verify, plan, preprocess, train,
 * choose, predict held-out cases, evaluate, overlays) on 10 bundled hippocampus cases.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { runDemo } from '../../src/demo/hippocampus.js';
import { HIPPOCAMPUS, tempDir } from '../helpers.js';

test('the demo pipeline runs end to end at a tiny budget and reports Dice for both labels', {
  timeout: 600_000,
}, async () => {
  const ws = join(tempDir(), 'demo');
  const lines: string[] = [];
  const r = await runDemo({
    workspace: ws,
    source: HIPPOCAMPUS,
    testCases: 2,
    trainCases: 8,
    budget: { epochs: 1, itersPerEpoch: 2, valItersPerEpoch: 1, with2d: false },
    seed: 3,
    log: (l) => lines.push(l),
    quiet: true,
  });
  assert.deepEqual(Object.keys(r.dice).sort(), ['1', '2']);
  for (const d of Object.values(r.dice)) assert.ok(d >= 0 && d <= 1, `Dice ${d}`);
  const summary = JSON.parse(readFileSync(join(r.predictionFolder, 'summary.json'), 'utf8'));
  assert.equal(summary.results.all.length, 2);
  assert.equal(r.progressPlots.length, 1);
  assert.equal(r.overlays.length, 2);
  for (const p of [...r.progressPlots, ...r.overlays]) {
    assert.ok(existsSync(p), p);
    assert.deepEqual([...readFileSync(p).subarray(1, 4)], [0x50, 0x4e, 0x47], `${p} is a PNG`);
  }
  // Each step printed its command line, in the workflow's order.
  const commands = lines.filter((l) => l.includes('\n$ ')).map((l) => l.split('\n$ ')[1]?.split(' ')[0]);
  assert.deepEqual(commands, [
    'convert-decathlon-task',
    'plan-and-preprocess',
    'train',
    'find-best-configuration',
    'predict',
    'evaluate-folder',
  ]);
  // A folder the demo did not create is never wiped.
  const foreign = tempDir();
  writeFileSync(join(foreign, 'thesis.tex'), 'precious');
  await assert.rejects(
    () => runDemo({ workspace: foreign, source: HIPPOCAMPUS, testCases: 2, trainCases: 8, budget: r.budget, seed: 1 }),
    /is not a demo workspace/,
  );
  assert.equal(readFileSync(join(foreign, 'thesis.tex'), 'utf8'), 'precious');
});
