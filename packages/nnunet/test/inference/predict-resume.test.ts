/**
 * nnUNet_predict under faults, with v1's trained 2d model of Task906_Tiny (fixtures/v1_models) and a
 * postprocessing.json that changes its outputs: a run killed with SIGKILL and rerun ends with every
 * case postprocessed exactly once and equal to an uninterrupted run; damaged and NaN inputs are
 * reported by name while the other cases are predicted (exit status 3); --nan_value predicts them
 * with a documented replacement; recorded raw outputs are postprocessed once, damaged outputs and
 * outputs the ledger does not vouch for are predicted again; an impossible -o is one sentence.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { LEDGER_FILE, type LedgerEntry } from '../../src/inference/output-folder.js';
import { type CaseAction, predictFolder } from '../../src/inference/predict.js';
import { readImage, writeImage } from '../../src/io/image.js';
import { trainerFolderPath } from '../../src/model/layout.js';
import { applyPostprocessing, readPostprocessingJson } from '../../src/postprocessing/connected-components.js';
import { sha256File } from '../../src/util/hash.js';
import { FIXTURES, PACKAGE_ROOT, tempDir } from '../helpers.js';

const V1 = join(FIXTURES, 'v1_models');
const INPUT = join(V1, 'Task906_Tiny', 'imagesTs');
const CLI = join(PACKAGE_ROOT, 'dist', 'src', 'cli', 'predict.js');
/** The two smallest test images; tiny_101 is predicted first. */
const CASES = ['tiny_101', 'tiny_103'];
/** Keep the largest component of each class: the untuned 2d model leaves many stray ones. */
const POSTPROCESSING = { for_which_classes: [1, 2], min_valid_object_sizes: 'None' };
/** The CLI's status when some cases could not be read and the others were predicted. */
const EXIT_SOME_CASES_FAILED = 3;

/** $RESULTS_FOLDER with v1's 2d model of Task906_Tiny and a postprocessing.json at its root. */
function modelSetup(): { env: NodeJS.ProcessEnv; trainer: string; ppFile: string } {
  const results = tempDir('nnunet-resume-results-');
  cpSync(join(V1, 'nnUNet', '2d'), join(results, 'nnUNet', '2d'), { recursive: true });
  const trainer = trainerFolderPath(results, '2d', 'Task906_Tiny');
  const ppFile = join(trainer, 'postprocessing.json');
  writeFileSync(ppFile, JSON.stringify(POSTPROCESSING));
  // One LibTorch thread everywhere, so that runs are comparable voxel for voxel.
  const env: NodeJS.ProcessEnv = { ...process.env, RESULTS_FOLDER: results, OMP_NUM_THREADS: '1' };
  delete env.nnUNet_raw_data_base;
  delete env.nnUNet_preprocessed;
  return { env, trainer, ppFile };
}

function inputOf(ids: readonly string[]): string {
  const dir = tempDir('nnunet-resume-input-');
  for (const id of ids) cpSync(join(INPUT, `${id}_0000.nii.gz`), join(dir, `${id}_0000.nii.gz`));
  return dir;
}

function cliArgs(input: string, output: string, ...more: string[]): string[] {
  return [CLI, '-i', input, '-o', output, '-t', '906', '-m', '2d', '--disable_tta', ...more];
}

function readLedgerCases(folder: string): Record<string, LedgerEntry> {
  const path = join(folder, LEDGER_FILE);
  if (!existsSync(path)) return {};
  return (JSON.parse(readFileSync(path, 'utf8')) as { cases: Record<string, LedgerEntry> }).cases;
}

async function labels(path: string): Promise<number[]> {
  return Array.from((await readImage(path)).data as Uint8Array);
}

/** Runs the CLI and kills it with SIGKILL once `ready(output)` holds; resolves with its exit signal. */
function runAndKill(
  args: string[],
  env: NodeJS.ProcessEnv,
  ready: () => boolean,
): Promise<{ signal: NodeJS.Signals | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const poll = setInterval(() => {
      if (ready()) {
        clearInterval(poll);
        child.kill('SIGKILL');
      }
    }, 5);
    child.on('error', reject);
    child.on('exit', (_code, signal) => {
      clearInterval(poll);
      resolve({ signal, stderr });
    });
  });
}

test('a run killed with SIGKILL after its first case and rerun: every case postprocessed exactly once, equal to an uninterrupted run', async () => {
  const { env, ppFile } = modelSetup();
  const input = inputOf(CASES);
  const ppSha = sha256File(ppFile);

  const reference = join(tempDir(), 'reference');
  const full = spawnSync(process.execPath, cliArgs(input, reference), { env, encoding: 'utf8' });
  assert.equal(full.status, 0, full.stderr);

  // Killed as soon as the first case is finished (its output written and recorded).
  const out = join(tempDir(), 'out');
  const first = CASES[0] as string;
  const killed = await runAndKill(
    cliArgs(input, out),
    env,
    () => existsSync(join(out, `${first}.nii.gz`)) && first in readLedgerCases(out),
  );
  assert.equal(killed.signal, 'SIGKILL', `the run ended before it was killed:\n${killed.stderr}`);
  const atKill = readLedgerCases(out);
  const finished = Object.keys(atKill);
  assert.ok(finished.length >= 1 && finished.length < CASES.length, `finished at the kill: ${finished}`);
  // The case written before the kill is already postprocessed (the old code postprocessed only at the end).
  assert.deepEqual(await labels(join(out, `${first}.nii.gz`)), await labels(join(reference, `${first}.nii.gz`)));

  const rerun = spawnSync(process.execPath, cliArgs(input, out), { env, encoding: 'utf8' });
  assert.equal(rerun.status, 0, rerun.stderr);
  for (const id of finished) {
    assert.match(rerun.stderr, new RegExp(`^${id}: finished output kept`, 'm'));
  }
  assert.doesNotMatch(rerun.stderr, /postprocessing the raw output/);
  assert.match(
    rerun.stdout,
    new RegExp(
      `^${CASES.length - finished.length} case\\(s\\) written to .* \\(${finished.length} finished case\\(s\\) kept\\)`,
    ),
  );

  const ledger = readLedgerCases(out);
  assert.deepEqual(Object.keys(ledger).sort(), CASES);
  for (const id of CASES) {
    const e = ledger[id] as LedgerEntry;
    assert.equal(e.postprocessing?.sha256, ppSha, `${id} is recorded as postprocessed with the model's file`);
    assert.equal(e.files[`${id}.nii.gz`], sha256File(join(out, `${id}.nii.gz`)));
    if (id in atKill) assert.deepEqual(e, atKill[id], `${id} was not touched again`);
    assert.deepEqual(await labels(join(out, `${id}.nii.gz`)), await labels(join(reference, `${id}.nii.gz`)), id);
  }
  // Postprocessed outputs are fixed points of the postprocessing; the raw outputs of this model are
  // not (its stray components are removed, see the last test), so this catches a raw output.
  const pp = readPostprocessingJson(ppFile);
  for (const id of CASES) {
    const v = await readImage(join(out, `${id}.nii.gz`));
    const again = applyPostprocessing(v.data as Uint8Array, v.shape, [...v.geometry.spacing].reverse(), pp).seg;
    assert.deepEqual(Array.from(again), Array.from(v.data as Uint8Array), `${id} is postprocessed`);
  }
});

test('a damaged input and a NaN input are named on stderr and skipped, the others predicted (exit 3); --nan_value replaces NaN and infinity', async () => {
  const { env } = modelSetup();
  const input = inputOf([]);
  cpSync(join(INPUT, 'tiny_103_0000.nii.gz'), join(input, 'good_0000.nii.gz'));
  // Sorted first, so a damaged case must not stop the ones after it.
  const gz = readFileSync(join(INPUT, 'tiny_101_0000.nii.gz'));
  writeFileSync(join(input, 'broken_0000.nii.gz'), gz.subarray(0, Math.floor(gz.length / 2)));
  const img = await readImage(join(INPUT, 'tiny_102_0000.nii.gz'));
  const withNaN = Float32Array.from(img.data as Int16Array);
  const zeroed = withNaN.slice();
  for (const i of [7, 300, 301]) {
    withNaN[i] = Number.NaN;
    zeroed[i] = 0;
  }
  withNaN[2000] = Number.POSITIVE_INFINITY;
  zeroed[2000] = 0;
  await writeImage({ ...img, dtype: 'float32', data: withNaN }, join(input, 'nan_0000.nii.gz'));

  const out = join(tempDir(), 'out');
  const r = spawnSync(process.execPath, cliArgs(input, out), { env, encoding: 'utf8' });
  assert.equal(r.status, EXIT_SOME_CASES_FAILED, r.stderr);
  assert.match(
    r.stderr,
    /^broken: not predicted: Cannot read image \S*broken_0000\.nii\.gz: the gzip data is truncated or corrupt .*; re-export or re-download it\.$/m,
  );
  assert.match(
    r.stderr,
    /^nan: not predicted: \S*nan_0000\.nii\.gz holds 4 NaN or infinite voxel\(s\) \(the first at z, y, x = 0, 0, 7\), .*nnUNet_predict --nan_value X\)\.$/m,
  );
  assert.match(r.stderr, /^nnUNet_predict: 2 case\(s\) could not be predicted \(broken, nan\)/m);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  assert.match(r.stdout, /^1 case\(s\) written to /);
  assert.ok(existsSync(join(out, 'good.nii.gz')));
  assert.ok(!existsSync(join(out, 'broken.nii.gz')) && !existsSync(join(out, 'nan.nii.gz')));
  assert.deepEqual(Object.keys(readLedgerCases(out)), ['good']);

  // With --nan_value 0 the NaN case is predicted as the same image with zeros there.
  await writeImage({ ...img, dtype: 'float32', data: zeroed }, join(input, 'zeroed_0000.nii.gz'));
  const again = spawnSync(process.execPath, cliArgs(input, out, '--nan_value', '0'), { env, encoding: 'utf8' });
  assert.equal(again.status, EXIT_SOME_CASES_FAILED, again.stderr);
  assert.match(again.stderr, /^good: finished output kept/m);
  assert.match(again.stderr, /^broken: not predicted: /m);
  assert.doesNotMatch(again.stderr, /^nan: not predicted/m);
  assert.deepEqual(await labels(join(out, 'nan.nii.gz')), await labels(join(out, 'zeroed.nii.gz')));
  assert.equal(readLedgerCases(out).nan?.nan_value, 0);

  const badValue = spawnSync(process.execPath, cliArgs(input, out, '--nan_value', 'nan'), { env, encoding: 'utf8' });
  assert.equal(badValue.status, 1);
  assert.equal(badValue.stderr, 'nnUNet_predict: --nan_value must be a finite number such as 0, got nan.\n');
});

test('an output folder that cannot be created is one sentence and exit 1, at once (no endless mkdir on /proc)', () => {
  const { env } = modelSetup();
  const input = inputOf(['tiny_103']);
  const file = join(tempDir(), 'a-file');
  writeFileSync(file, 'not a folder');
  for (const [output, why] of [
    [join(file, 'x', 'y'), `${file} is a file, not a folder`],
    ['/proc/self/x', '/proc/self/x cannot be created there \\(ENOENT\\)'],
  ] as const) {
    const r = spawnSync(process.execPath, cliArgs(input, output), { env, encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.signal, null, `${output}: still running after 60 s`);
    assert.equal(r.status, 1, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(
        `^nnUNet_predict: Cannot create the output folder ${output}: ${why}; choose another output folder \\(-o\\)\\.\\n$`,
      ),
    );
  }
  assert.ok(!existsSync('/proc/self/x'));
});

test('recorded raw outputs are postprocessed once; damaged outputs and outputs without a ledger entry are predicted again', async () => {
  const { trainer, ppFile } = modelSetup();
  const ids = ['tiny_101', 'tiny_103'];
  const [a, b] = ids as [string, string];
  const input = inputOf(ids);
  const out = join(tempDir(), 'out');
  const events: string[] = [];
  const onCase = (id: string, _i: number, _n: number, action: CaseAction, why?: string) =>
    events.push(`${id} ${action}${why !== undefined ? `: ${why}` : ''}`);
  const opts = { mirror: false, folds: ['0'], onCase };

  const first = await predictFolder(input, out, trainer, { ...opts, postprocessing: false });
  assert.equal(first.written.length, 2);
  const raw = { [a]: await readImage(join(out, `${a}.nii.gz`)), [b]: await readImage(join(out, `${b}.nii.gz`)) };
  const pp = readPostprocessingJson(ppFile);
  const want = (id: string) => {
    const v = raw[id] as NonNullable<(typeof raw)[string]>;
    return Array.from(applyPostprocessing(v.data as Uint8Array, v.shape, [...v.geometry.spacing].reverse(), pp).seg);
  };
  assert.notDeepEqual(want(a), Array.from(raw[a]?.data as Uint8Array));

  // b's output is truncated after it was recorded: it must be predicted, not kept or postprocessed.
  const bytes = readFileSync(join(out, `${b}.nii.gz`));
  writeFileSync(join(out, `${b}.nii.gz`), bytes.subarray(0, bytes.length - 20));
  events.length = 0;
  const second = await predictFolder(input, out, trainer, opts);
  assert.deepEqual(events, [`${a} postprocess`, `${b} predict: ${b}.nii.gz changed since it was written`]);
  assert.deepEqual(second.failed, []);
  assert.deepEqual(await labels(join(out, `${a}.nii.gz`)), want(a));
  assert.deepEqual(await labels(join(out, `${b}.nii.gz`)), want(b));
  const ledger = readLedgerCases(out);
  for (const id of ids) assert.equal(ledger[id]?.postprocessing?.sha256, sha256File(ppFile));

  // Postprocessed outputs are kept, never postprocessed a second time.
  events.length = 0;
  const third = await predictFolder(input, out, trainer, opts);
  assert.deepEqual(events, [`${a} keep`, `${b} keep`]);
  assert.deepEqual(third.kept, ids);

  // Outputs that no ledger vouches for (an older or interrupted run) are predicted again.
  // (b is left out from here on to keep the test short.)
  const onlyA = { ...opts, excludeCases: new Set([b]) };
  rmSync(join(out, LEDGER_FILE));
  events.length = 0;
  await predictFolder(input, out, trainer, onlyA);
  const unrecorded = `${LEDGER_FILE} does not record it as finished (written by an interrupted or older run)`;
  assert.deepEqual(events, [`${a} predict: ${unrecorded}`]);
  assert.deepEqual(await labels(join(out, `${a}.nii.gz`)), want(a));

  // A changed postprocessing.json: outputs made with the old one are predicted again with the new one.
  writeFileSync(ppFile, JSON.stringify({ for_which_classes: [], min_valid_object_sizes: 'None' }));
  events.length = 0;
  await predictFolder(input, out, trainer, onlyA);
  assert.equal(events.length, 1);
  assert.match(events[0] as string, new RegExp(`^${a} predict: it was written with the postprocessing of `));
  assert.deepEqual(await labels(join(out, `${a}.nii.gz`)), Array.from(raw[a]?.data as Uint8Array));
});
