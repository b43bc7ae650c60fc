/**
 * The loader's enlarged patch and nnUNetTrainerV2's augmentation parameters against nnU-Net v1:
 * the expected values were printed by v1 itself (tag nnunetv1, batchgenerators, NumPy 1.24):
 * `nnUNetTrainerV2.setup_DA_params()` on a trainer given each plans stage, in a fresh process per
 * plans (v1 mutates its module-level parameter dicts), and `get_patch_size` called directly.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Plans } from '../../src/model/plans.js';
import {
  type DataAugmentationParams,
  default2DAugmentationParams,
  default3DAugmentationParams,
  degreeRange,
  getPatchSize,
  setupDataAugmentation,
} from '../../src/training/patch-size.js';
import { FIXTURES } from '../helpers.js';

/** v1's data_aug_params for the hippocampus 3d_fullres stage (num_threads left out: machine-dependent). */
const V1_HIPPOCAMPUS_3D: DataAugmentationParams = {
  selected_data_channels: null,
  selected_seg_channels: [0],
  do_elastic: false,
  elastic_deform_alpha: [0, 900],
  elastic_deform_sigma: [9, 13],
  p_eldef: 0.2,
  do_scaling: true,
  scale_range: [0.7, 1.4],
  independent_scale_factor_for_each_axis: false,
  p_independent_scale_per_axis: 1,
  p_scale: 0.2,
  do_rotation: true,
  rotation_x: [-0.5235987755982988, 0.5235987755982988],
  rotation_y: [-0.5235987755982988, 0.5235987755982988],
  rotation_z: [-0.5235987755982988, 0.5235987755982988],
  rotation_p_per_axis: 1,
  p_rot: 0.2,
  random_crop: false,
  random_crop_dist_to_border: null,
  do_gamma: true,
  gamma_retain_stats: true,
  gamma_range: [0.7, 1.5],
  p_gamma: 0.3,
  do_mirror: true,
  mirror_axes: [0, 1, 2],
  dummy_2D: false,
  mask_was_used_for_normalization: { '0': false },
  border_mode_data: 'constant',
  all_segmentation_labels: null,
  move_last_seg_chanel_to_data: false,
  cascade_do_cascade_augmentations: false,
  cascade_random_binary_transform_p: 0.4,
  cascade_random_binary_transform_p_per_label: 1,
  cascade_random_binary_transform_size: [1, 8],
  cascade_remove_conn_comp_p: 0.2,
  cascade_remove_conn_comp_max_size_percent_threshold: 0.15,
  cascade_remove_conn_comp_fill_with_other_class_p: 0,
  do_additive_brightness: false,
  additive_brightness_p_per_sample: 0.15,
  additive_brightness_p_per_channel: 0.5,
  additive_brightness_mu: 0,
  additive_brightness_sigma: 0.1,
  num_cached_per_thread: 2,
  patch_size_for_spatialtransform: [40, 56, 40],
};

const PI = Math.PI; // 3.141592653589793, as v1 prints it
/** v1's 2-D rotation ranges: +-pi in-plane, and -0.0 .. 0.0 (a negative zero, as v1 computes it) otherwise. */
const V1_2D = {
  elastic_deform_alpha: [0, 200] as [number, number],
  rotation_x: [-PI, PI] as [number, number],
  rotation_y: [-0, 0] as [number, number],
  rotation_z: [-0, 0] as [number, number],
  mirror_axes: [0, 1],
};

/** Per golden plans file: v1's basic_generator_patch_size, do_dummy_2D_aug and data_aug_params. */
const V1_SETUPS: Record<string, { basic: number[]; dummy: boolean; params: DataAugmentationParams }> = {
  'Task004_Hippocampus/nnUNetPlansv2.1_plans_3D.json': { basic: [73, 80, 64], dummy: false, params: V1_HIPPOCAMPUS_3D },
  'Task004_Hippocampus/nnUNetPlansv2.1_plans_2D.json': {
    basic: [65, 65],
    dummy: false,
    params: { ...V1_HIPPOCAMPUS_3D, ...V1_2D, patch_size_for_spatialtransform: [56, 40] },
  },
  'Task902_SynthCT/nnUNetPlansv2.1_plans_3D.json': {
    basic: [28, 131, 131],
    dummy: true,
    params: {
      ...V1_HIPPOCAMPUS_3D,
      elastic_deform_alpha: [0, 200],
      rotation_x: [-PI, PI],
      dummy_2D: true,
      patch_size_for_spatialtransform: [28, 112, 112],
    },
  },
  'Task902_SynthCT/nnUNetPlansv2.1_plans_2D.json': {
    basic: [131, 131],
    dummy: false,
    params: { ...V1_HIPPOCAMPUS_3D, ...V1_2D, patch_size_for_spatialtransform: [112, 112] },
  },
};

test('setupDataAugmentation equals v1 setup_DA_params for both golden tasks, 3-D and 2-D plans', () => {
  for (const [file, expected] of Object.entries(V1_SETUPS)) {
    const plans = JSON.parse(readFileSync(join(FIXTURES, 'golden', file), 'utf8')) as Plans;
    const stage = plans.plans_per_stage['0'];
    assert.ok(stage !== undefined);
    const got = setupDataAugmentation({
      patchSize: stage.patch_size,
      doDummy2DAug: stage.do_dummy_2D_data_aug,
      useMaskForNorm: plans.use_mask_for_norm,
    });
    assert.deepEqual(got.basicGeneratorPatchSize, expected.basic, file);
    assert.equal(got.doDummy2DAug, expected.dummy, file);
    // deepStrictEqual compares with Object.is: v1's -0.0 bounds must come out as -0 too.
    assert.deepEqual(got.params, expected.params, file);
  }
});

test('setupDataAugmentation on other patches: elongated 2-D rotates +-15 degrees, dummy 2-D keeps z', () => {
  // [patch, do_dummy_2D_data_aug, v1's basic_generator_patch_size, v1's rotation_x upper bound]
  const cases: [number[], boolean, number[], number][] = [
    [[128, 64], false, [164, 75], 0.2617993877991494],
    [[256, 224], false, [301, 301], PI],
    [[64, 160, 160], false, [159, 257, 200], 0.5235987755982988],
    [[48, 192, 160], false, [161, 289, 191], 0.5235987755982988],
    [[96, 160, 128], false, [191, 238, 186], 0.5235987755982988],
    [[20, 192, 160], true, [20, 225, 225], PI],
    [[10, 256, 256], true, [10, 301, 301], PI],
  ];
  for (const [patch, dummy, basic, rot] of cases) {
    const got = setupDataAugmentation({ patchSize: patch, doDummy2DAug: dummy });
    assert.deepEqual(got.basicGeneratorPatchSize, basic, `[${patch}]`);
    assert.deepEqual(got.params.rotation_x, [-rot, rot]);
    assert.equal(got.params.dummy_2D, dummy);
    assert.equal(got.params.mask_was_used_for_normalization, null);
  }
  // 2-D training never uses dummy 2-D augmentation, whatever the plans say.
  assert.equal(setupDataAugmentation({ patchSize: [56, 40], doDummy2DAug: true }).doDummy2DAug, false);
});

test('getPatchSize equals v1 get_patch_size for other rotation and scale ranges', () => {
  assert.deepEqual(
    getPatchSize([40, 56, 40], degreeRange(15), degreeRange(15), degreeRange(15), [0.85, 1.25]),
    [62, 75, 57],
  );
  assert.deepEqual(
    getPatchSize([40, 56, 40], degreeRange(30), degreeRange(30), degreeRange(30), [0.7, 1.4]),
    [89, 97, 78],
  );
  assert.deepEqual(
    getPatchSize([128, 128, 128], degreeRange(30), degreeRange(30), degreeRange(30), [0.85, 1.25]),
    [205, 205, 205],
  );
  assert.deepEqual(getPatchSize([112, 97], degreeRange(45), 0, 0, [0.9, 1.1]), [164, 107]);
  // Rotations beyond 90 degrees are capped at 90.
  assert.deepEqual(getPatchSize([30, 80, 50], degreeRange(120), degreeRange(5), degreeRange(60), [1, 1]), [84, 80, 80]);
  assert.throws(() => getPatchSize([5], 0, 0, 0, [1, 1]), /2 or 3 axes/);
});

test('default parameter sets are fresh objects (v1 mutates shared module dicts)', () => {
  const a = default3DAugmentationParams();
  a.rotation_x[1] = 99;
  a.mirror_axes.push(7);
  assert.deepEqual(default3DAugmentationParams().rotation_x, degreeRange(15));
  assert.deepEqual(default3DAugmentationParams().mirror_axes, [0, 1, 2]);
  const d2 = default2DAugmentationParams();
  assert.deepEqual(d2.rotation_x, [-PI, PI]);
  assert.deepEqual(d2.elastic_deform_alpha, [0, 200]);
  assert.deepEqual(d2.mirror_axes, [0, 1]);
});
