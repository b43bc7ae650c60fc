/**
 * The planner rules on synthetic fingerprints: hand-derived expectations, plus full stage plans
 * from test/fixtures/planning/planner_cases.json, which scripts/make_planning_fixture.py computes
 * with an independent NumPy re-statement of v1's planner formulas.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Plans, StagePlan } from '../../src/model/plans.js';
import type { DatasetProperties } from '../../src/model/properties.js';
import { planFromFingerprint } from '../../src/planning/plan-from-fingerprint.js';
import { getPlanner } from '../../src/planning/registry.js';
import { product } from '../../src/util/shape.js';
import { FIXTURES } from '../helpers.js';

interface ExpectedPlans {
  target_spacing: number[];
  num_stages: number;
  plans_per_stage: Record<string, StagePlan>;
  transpose_forward: number[];
  transpose_backward: number[];
  normalization_schemes: Record<string, string>;
  use_mask_for_norm: Record<string, boolean>;
}
interface FixtureCase {
  name: string;
  fingerprint: DatasetProperties;
  plans_3d: ExpectedPlans;
  plans_2d: ExpectedPlans;
}

const FIXTURE = JSON.parse(readFileSync(join(FIXTURES, 'planning', 'planner_cases.json'), 'utf8')) as {
  numpy: string;
  cases: FixtureCase[];
};
const byName = (name: string): FixtureCase => {
  const c = FIXTURE.cases.find((x) => x.name === name);
  assert.ok(c, `fixture case ${name}`);
  return c;
};
const PLANNER = { '3d': 'ExperimentPlanner3D_v21', '2d': 'ExperimentPlanner2D_v21' } as const;
const plan = (kind: '3d' | '2d', fp: DatasetProperties): Plans =>
  planFromFingerprint(PLANNER[kind], fp, { croppedFolder: '/cropped', preprocessedFolder: '/preprocessed' });
const stage = (p: Plans, key: string): StagePlan => {
  const s = p.plans_per_stage[key];
  assert.ok(s, `stage ${key}`);
  return s;
};

function fingerprint(spacings: number[][], sizes: number[][], modalities = ['MRI']): DatasetProperties {
  return {
    all_sizes: sizes,
    all_spacings: spacings,
    all_classes: [1],
    modalities: Object.fromEntries(modalities.map((m, i) => [String(i), m])),
    intensityproperties: null,
    size_reductions: Object.fromEntries(sizes.map((_, i) => [`case_${i}`, 1])),
  };
}

for (const c of FIXTURE.cases) {
  for (const kind of ['3d', '2d'] as const) {
    test(`${c.name} (${kind}): plans equal the NumPy re-statement of v1's formulas`, () => {
      const want = kind === '3d' ? c.plans_3d : c.plans_2d;
      const ours = plan(kind, c.fingerprint);
      assert.deepEqual(getPlanner(PLANNER[kind]).targetSpacing(c.fingerprint), want.target_spacing);
      assert.equal(ours.num_stages, want.num_stages);
      assert.deepEqual(ours.plans_per_stage, want.plans_per_stage);
      assert.deepEqual(ours.transpose_forward, want.transpose_forward);
      assert.deepEqual(ours.transpose_backward, want.transpose_backward);
      assert.deepEqual(ours.normalization_schemes, want.normalization_schemes);
      assert.deepEqual(ours.use_mask_for_norm, want.use_mask_for_norm);
    });
  }
}

test('thick slices: z takes its 10th-percentile spacing and pools late with 1-wide kernels', () => {
  const fp = byName('thick_slices').fingerprint;
  // z spacings sorted: 3, 4, 4.5, 5 x5, 6, 8; index 0.9 -> 4 - (4 - 3) * 0.1 = 3.9 (median would be 5).
  const target = getPlanner(PLANNER['3d']).targetSpacing(fp);
  assert.equal(target[0], 3.9);
  const s = stage(plan('3d', fp), '0');
  assert.deepEqual(s.current_spacing, [3.9, 0.75, 0.75]);
  assert.deepEqual(s.pool_op_kernel_sizes.slice(0, 3), [
    [1, 2, 2],
    [1, 2, 2],
    [2, 2, 2],
  ]);
  assert.deepEqual(s.conv_kernel_sizes.slice(0, 3), [
    [1, 3, 3],
    [1, 3, 3],
    [3, 3, 3],
  ]);
  assert.equal(s.do_dummy_2D_data_aug, Math.max(...s.patch_size) / (s.patch_size[0] as number) > 3);
  assert.equal(s.do_dummy_2D_data_aug, true);
  // The 2-D planner keeps the median spacing.
  assert.deepEqual(stage(plan('2d', fp), '0').current_spacing, [5, 0.75, 0.75]);
});

test('the anisotropy rule needs both a coarse and a short axis', () => {
  // Same spacings, but as many slices as in-plane voxels: the median z spacing stays.
  assert.equal(getPlanner(PLANNER['3d']).targetSpacing(byName('coarse_z_many_slices').fingerprint)[0], 5);
  // Short but not coarse enough (3.0 is not > 3 * 1.0).
  const notCoarse = fingerprint(Array(5).fill([3, 1, 1]), Array(5).fill([20, 300, 300]));
  assert.equal(getPlanner(PLANNER['3d']).targetSpacing(notCoarse)[0], 3);
});

test('a 10th percentile finer than in-plane is lifted just above the in-plane spacing', () => {
  const target = getPlanner(PLANNER['3d']).targetSpacing(byName('thick_slices_clamped').fingerprint);
  assert.deepEqual(target, [0.8 + 1e-5, 0.8, 0.8]);
});

test('a coarse x axis is transposed to the front and the stage values are in transposed order', () => {
  const fp = byName('coarse_x').fingerprint;
  for (const kind of ['3d', '2d'] as const) {
    const p = plan(kind, fp);
    assert.deepEqual(p.transpose_forward, [2, 0, 1]);
    assert.deepEqual(p.transpose_backward, [1, 2, 0]);
    assert.equal(stage(p, '0').current_spacing[0], kind === '3d' ? 3.8 : 4);
  }
  // x sizes 40..50 (median 45): the transposed median shape starts with the short axis.
  const s = stage(plan('3d', fp), '0');
  assert.ok((s.median_patient_size_in_voxels[0] as number) < 60);
  assert.deepEqual(s.pool_op_kernel_sizes[0], [1, 2, 2]);
});

test('a cascade stage appears when the full-res patch covers less than a quarter of the median case', () => {
  for (const name of ['large_isotropic', 'large_abdomen']) {
    const p = plan('3d', byName(name).fingerprint);
    assert.equal(p.num_stages, 2, name);
    const low = stage(p, '0');
    const full = stage(p, '1');
    assert.ok(product(full.median_patient_size_in_voxels) / product(full.patch_size) >= 4, name);
    assert.ok(low.current_spacing.every((v, i) => v > (full.current_spacing[i] as number)) || name === 'large_abdomen');
    assert.deepEqual(low.original_spacing, full.current_spacing);
    // The low-res stage stops once its median case holds at most 4 of its patches, and is kept
    // only because it halves the voxel count.
    assert.ok(product(low.median_patient_size_in_voxels) <= 4.1 * product(low.patch_size), name);
    assert.ok(2 * product(low.median_patient_size_in_voxels) < product(full.median_patient_size_in_voxels), name);
  }
  // The abdomen's in-plane axes (more than 2x finer than z) are coarsened more than z.
  const abdomen = stage(plan('3d', byName('large_abdomen').fingerprint), '0');
  const [z, y] = abdomen.current_spacing as [number, number];
  assert.ok(y / 0.7799999713897705 > z / 2.5);
  // 2-D plans never have a low-res stage.
  assert.equal(plan('2d', byName('large_isotropic').fingerprint).num_stages, 1);
});

test('no cascade stage when the patch covers a quarter or more of the median case', () => {
  const p = plan('3d', byName('medium_isotropic').fingerprint);
  assert.equal(p.num_stages, 1);
  const s = stage(p, '0');
  assert.ok(product(s.median_patient_size_in_voxels) / product(s.patch_size) < 4);
});

test('Liver-like plans reproduce a v1 log (MIC-DKFZ/nnUNet issue #856)', () => {
  // A v1 user's printed plans for Task003_Liver: full-res median [482, 512, 512] at
  // [1, 0.76757812, 0.76757812]; the low-res stage at [2.473119, 1.89831205, 1.89831205] with
  // median [195, 207, 207]; patch [128, 128, 128] with 5 poolings per axis in both stages.
  const fp = fingerprint(Array(5).fill([1, 0.76757812, 0.76757812]), Array(5).fill([482, 512, 512]), ['CT']);
  const p = plan('3d', fp);
  assert.equal(p.num_stages, 2);
  const low = stage(p, '0');
  const full = stage(p, '1');
  assert.deepEqual(full.median_patient_size_in_voxels, [482, 512, 512]);
  assert.deepEqual(low.median_patient_size_in_voxels, [195, 207, 207]);
  for (const s of [low, full]) {
    assert.deepEqual(s.patch_size, [128, 128, 128]);
    assert.deepEqual(s.num_pool_per_axis, [5, 5, 5]);
  }
  [2.473119, 1.89831205, 1.89831205].forEach((v, i) => {
    assert.ok(Math.abs((low.current_spacing[i] as number) - v) < 5e-8, `spacing ${i}`);
  });
});

test('ties in the shrinking loop go to the last tied axis, as np.argsort(...)[-1] does', () => {
  // Median [207, 149, 149]: y and x tie at every shrink; taking the first would give [160, 112, 128].
  assert.deepEqual(stage(plan('3d', byName('tied_axes').fingerprint), '0').patch_size, [160, 128, 112]);
});

test('the 5 % voxel cap binds the batch size of small datasets', () => {
  // 60 cases of 64^3, patch 64^3: round(0.05 * 60) = 3, far below what memory allows.
  assert.equal(stage(plan('3d', byName('small_cases_60').fingerprint), '0').batch_size, 3);
  // 3 cases: round(0.15) = 0, lifted to the 3-D minimum of 2.
  const tiny = stage(plan('3d', byName('tiny_3_cases').fingerprint), '0');
  assert.deepEqual(tiny.patch_size, [64, 64, 64]);
  assert.equal(tiny.batch_size, 2);
  // 2-D has no minimum of 2 from the cap: one 4-slice case gives round(0.05 * 4) = 0 -> 1.
  assert.equal(stage(plan('2d', byName('one_flat_case').fingerprint), '0').batch_size, 1);
});

test('2-D planner: patch is the padded median slice and the batch fills the budget in pairs or hits the cap', () => {
  const hippocampusLike = fingerprint(Array(200).fill([1, 1, 1]), Array(200).fill([36, 50, 35]));
  const s = stage(plan('2d', hippocampusLike), '0');
  assert.deepEqual(s.patch_size, [56, 40]);
  assert.deepEqual(s.num_pool_per_axis, [3, 3]);
  // round(0.05 * 200 * 36 * 50 * 35 / (56 * 40)) = round(281.25)
  assert.equal(s.batch_size, 281);
  assert.equal(s.do_dummy_2D_data_aug, false);
  // Slices too large for the budget: the patch shrinks below the padded median slice and the
  // memory-bound batch is even.
  const big = stage(plan('2d', byName('big_slices').fingerprint), '0');
  assert.equal(big.batch_size % 2, 0);
  assert.ok(product(big.patch_size) < product(big.median_patient_size_in_voxels.slice(1)));
});

test('normalisation: CT by name, noNorm kept, nonzero mask only for heavily cropped non-CT data', () => {
  const p = plan('3d', byName('multimodal_cropped').fingerprint);
  assert.deepEqual(p.normalization_schemes, { '0': 'nonCT', '1': 'CT', '2': 'noNorm', '3': 'nonCT' });
  assert.deepEqual(p.use_mask_for_norm, { '0': true, '1': false, '2': true, '3': true });
  assert.equal(p.num_modalities, 4);
  assert.equal(p.num_classes, 3);
});
