/**
 * Parity with nnU-Net v1 (the acceptance): v1's own model folders (Task906_Tiny, trained by
 * nnUNetTrainerV2 v1.7.0) predicted by our predictFolder and by the nnUNet_predict command give the
 * softmax and segmentations v1's nnUNet_predict wrote (fixtures: test/fixtures/v1_models, see its
 * README.md).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { predictFolder } from '../../src/inference/predict.js';
import { readV1CaseProperties } from '../../src/inference/v1-model.js';
import { readImage } from '../../src/io/image.js';
import { fromFloat16Bits, readNpzRaw } from '../../src/io/npz.js';
import { trainerFolderPath } from '../../src/model/layout.js';
import { FIXTURES, PACKAGE_ROOT, tempDir } from '../helpers.js';

const V1 = join(FIXTURES, 'v1_models');
const INPUT = join(V1, 'Task906_Tiny', 'imagesTs');
const CASES = ['tiny_100', 'tiny_101', 'tiny_102', 'tiny_103'];
/**
 * With mirroring (8 passes per tile in 3-D) two cases keep the test short: tiny_101, whose
 * zero border is cropped away, and tiny_103.
 */
const MIRROR_CASES = ['tiny_101', 'tiny_103'];
/** v1 stores float16: half a unit in the last place near 1 is 2^-12; allow a little float32 noise on top. */
const SOFTMAX_TOLERANCE = 1e-3;

/** A model-results layout ($RESULTS_FOLDER/nnUNet/<cfg>/Task906_Tiny/...) copied from the fixtures. */
function resultsCopy(): string {
  const dir = tempDir('nnunet-v1-results-');
  cpSync(join(V1, 'nnUNet'), join(dir, 'nnUNet'), { recursive: true });
  return dir;
}

/** An input folder holding only `ids`. */
function inputOf(ids: readonly string[]): string {
  const dir = tempDir('nnunet-v1-input-');
  for (const id of ids) cpSync(join(INPUT, `${id}_0000.nii.gz`), join(dir, `${id}_0000.nii.gz`));
  return dir;
}

function readSoftmax(path: string): { shape: number[]; data: Float32Array } {
  const raw = readNpzRaw(path).get('softmax');
  assert.ok(raw, `${path} has a 'softmax' member`);
  const headerLen = raw.readUInt16LE(8);
  const header = raw.subarray(10, 10 + headerLen).toString('latin1');
  assert.match(header, /'descr': '<f2'/);
  assert.match(header, /'fortran_order': False/);
  const shape = (/'shape': \(([^)]*)\)/.exec(header)?.[1] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map(Number);
  const body = raw.subarray(10 + headerLen);
  const bits = new Uint16Array(body.length / 2);
  for (let i = 0; i < bits.length; i++) bits[i] = body.readUInt16LE(2 * i);
  return { shape, data: fromFloat16Bits(bits) };
}

interface Parity {
  maxAbs: number;
  segDifferences: number;
  tieDifferences: number;
  voxels: number;
}

/**
 * Compares our CASE.npz / CASE.nii.gz in `ours` with v1's in `reference`. v1's softmax covers the
 * uncropped image (zero outside crop_bbox); ours may cover the crop box only (size_after_cropping)
 * or the whole image, and is compared where it is defined.
 */
async function compareCase(ours: string, reference: string, id: string): Promise<Parity> {
  const props = readV1CaseProperties(join(reference, `${id}.pkl`));
  const ref = readSoftmax(join(reference, `${id}.npz`));
  const mine = readSoftmax(join(ours, `${id}.npz`));
  const [K, Z, Y, X] = ref.shape as [number, number, number, number];
  assert.deepStrictEqual(ref.shape.slice(1), props.original_size_of_raw_data);
  const full = mine.shape.slice(1).join() === ref.shape.slice(1).join();
  if (!full) assert.deepStrictEqual(mine.shape, [K, ...props.size_after_cropping], `${id}: npz shape`);
  const box = full
    ? [
        [0, Z],
        [0, Y],
        [0, X],
      ]
    : props.crop_bbox;
  const [[z0], [y0], [x0]] = box as [[number, number], [number, number], [number, number]];
  const [cz, cy, cx] = mine.shape.slice(1) as [number, number, number];
  let maxAbs = 0;
  for (let k = 0; k < K; k++) {
    for (let z = 0; z < cz; z++) {
      for (let y = 0; y < cy; y++) {
        for (let x = 0; x < cx; x++) {
          const a = mine.data[((k * cz + z) * cy + y) * cx + x] as number;
          const b = ref.data[((k * Z + z + z0) * Y + y + y0) * X + x + x0] as number;
          maxAbs = Math.max(maxAbs, Math.abs(a - b));
        }
      }
    }
  }
  const seg = await readImage(join(ours, `${id}.nii.gz`));
  const refSeg = await readImage(join(reference, `${id}.nii.gz`));
  assert.deepStrictEqual(seg.shape, refSeg.shape);
  for (const g of ['origin', 'spacing', 'direction'] as const) {
    seg.geometry[g].forEach((v, i) => {
      assert.ok(Math.abs(v - (refSeg.geometry[g][i] as number)) < 1e-5, `${id}: ${g}`);
    });
  }
  // Voxels where v1's own top two probabilities tie (within the float16 tolerance) may go either way.
  const n = Z * Y * X;
  let segDifferences = 0;
  let tieDifferences = 0;
  for (let i = 0; i < n; i++) {
    if (seg.data[i] === refSeg.data[i]) continue;
    const p = Array.from({ length: K }, (_, k) => ref.data[k * n + i] as number).sort((a, b) => b - a);
    if ((p[0] as number) - (p[1] as number) <= SOFTMAX_TOLERANCE) tieDifferences++;
    else segDifferences++;
  }
  return { maxAbs, segDifferences, tieDifferences, voxels: n };
}

async function checkFolder(
  t: TestContext,
  ours: string,
  reference: string,
  label: string,
  ids: readonly string[] = CASES,
): Promise<void> {
  let worst = 0;
  for (const id of ids) {
    const r = await compareCase(ours, reference, id);
    t.diagnostic(
      `${label} ${id}: max |softmax - v1| = ${r.maxAbs.toExponential(3)}, segmentation differences ${r.segDifferences} (+${r.tieDifferences} at ties)`,
    );
    assert.ok(r.maxAbs < SOFTMAX_TOLERANCE, `${label} ${id}: max abs softmax difference ${r.maxAbs}`);
    assert.equal(r.segDifferences, 0, `${label} ${id}: segmentation differs outside ties`);
    worst = Math.max(worst, r.maxAbs);
  }
  t.diagnostic(`${label}: worst max abs softmax difference ${worst.toExponential(3)}`);
}

for (const [configuration, tta] of [
  ['3d_fullres', false],
  ['3d_fullres', true],
  ['2d', false],
  ['2d', true],
] as const) {
  const label = `${configuration} ${tta ? 'with' : 'without'} mirroring`;
  test(`v1 ${label}: predictFolder with v1's checkpoint matches v1's nnUNet_predict`, async (t) => {
    const results = resultsCopy();
    const out = tempDir('nnunet-v1-pred-');
    const ids = tta ? MIRROR_CASES : CASES;
    const input = inputOf(ids);
    try {
      const folder = trainerFolderPath(results, configuration, 'Task906_Tiny');
      const { written } = await predictFolder(input, out, folder, { folds: ['0'], saveNpz: true, mirror: tta });
      assert.equal(written.length, ids.length);
      await checkFolder(t, out, join(V1, `pred_${configuration}_${tta ? 'tta' : 'notta'}`), label, ids);
    } finally {
      for (const d of [results, out, input]) rmSync(d, { recursive: true, force: true });
    }
  });
}

test('bf16 prediction (the CLI default on CPUs with native bf16) agrees with v1 on >= 99.9 % of voxels', async (t) => {
  const results = resultsCopy();
  const out = tempDir('nnunet-v1-bf16-');
  const input = inputOf(MIRROR_CASES);
  try {
    const folder = trainerFolderPath(results, '3d_fullres', 'Task906_Tiny');
    await predictFolder(input, out, folder, { folds: ['0'], saveNpz: true, cpuPrecision: 'bfloat16' });
    let voxels = 0;
    let differ = 0;
    for (const id of MIRROR_CASES) {
      const r = await compareCase(out, join(V1, 'pred_3d_fullres_tta'), id);
      t.diagnostic(
        `${id}: max |softmax - v1| ${r.maxAbs.toExponential(3)}, ${r.segDifferences + r.tieDifferences} of ${r.voxels} voxels differ`,
      );
      assert.ok(r.maxAbs < 0.05, `${id}: bf16 softmax within 0.05 of v1's float32 (${r.maxAbs})`);
      voxels += r.voxels;
      differ += r.segDifferences + r.tieDifferences;
    }
    assert.ok(differ / voxels <= 1e-3, `${differ} of ${voxels} voxels differ`);
  } finally {
    for (const d of [results, out, input]) rmSync(d, { recursive: true, force: true });
  }
});

test('nnUNet_predict -t 906 -m 3d_fullres -f 0 -z --disable_tta --fp32 runs a v1 model folder like v1', async (t) => {
  const results = resultsCopy();
  const out = tempDir('nnunet-v1-cli-');
  try {
    // One LibTorch thread: tiles this small gain nothing from more, and test machines are shared.
    const env: NodeJS.ProcessEnv = { ...process.env, RESULTS_FOLDER: results, OMP_NUM_THREADS: '1' };
    delete env.nnUNet_raw_data_base;
    delete env.nnUNet_preprocessed;
    const r = spawnSync(
      process.execPath,
      [
        join(PACKAGE_ROOT, 'dist', 'src', 'cli', 'predict.js'),
        '-i',
        INPUT,
        '-o',
        out,
        '-t',
        '906',
        '-m',
        '3d_fullres',
        '-f',
        '0',
        '-z',
        '--disable_tta',
        '--fp32',
      ],
      { env, encoding: 'utf8' },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /4 case\(s\) written/);
    await checkFolder(t, out, join(V1, 'pred_3d_fullres_notta'), 'CLI 3d_fullres without mirroring');
  } finally {
    rmSync(results, { recursive: true, force: true });
    rmSync(out, { recursive: true, force: true });
  }
});
