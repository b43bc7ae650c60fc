/**
 * The loader's enlarged patch and nnUNetTrainerV2's augmentation parameters against nnU-Net v1:
 * the expected values were printed by v1 itself (tag nnunetv1, batchgenerators, NumPy 1.24):
 * `nnUNetTrainerV2.setup_DA_params()` on a trainer given each plans stage, in a fresh process per
 * plans (v1 mutates its module-level parameter dicts), and `get_patch_size` called directly. v1's
 * data_aug_params dicts are kept verbatim below and read through fromV1DataAugParams, so the
 * comparison is with the parameters training actually uses (trainerV2AugmentationParams).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Plans } from '../../src/model/plans.js';
import {
  DEFAULT_2D,
  DEFAULT_3D,
  fromV1DataAugParams,
  getPatchSize,
  type Range,
  symmetricDegrees,
  trainerV2AugmentationParams,
  type V1DataAugParams,
} from '../../src/training/augmentation/params.js';
import { FIXTURES } from '../helpers.js';

/** v1's data_aug_params for the hippocampus 3d_fullres stage (num_threads left out: machine-dependent). */
/** Every key v1 prints; fromV1DataAugParams reads those the moreDA pipeline uses. */
type V1Dict = V1DataAugParams & Readonly<Record<string, unknown>>;

const V1_HIPPOCAMPUS_3D: V1Dict = {
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
const V1_SETUPS: Record<string, { basic: number[]; dummy: boolean; params: V1Dict }> = {
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

/** A symmetric range of `d` degrees in radians, as v1 writes it. */
const degreeRange = (d: number): Range => symmetricDegrees(d);
const noRotation: Range = [0, 0];

test('trainerV2AugmentationParams equals v1 setup_DA_params for both golden tasks, 3-D and 2-D plans', () => {
  for (const [file, expected] of Object.entries(V1_SETUPS)) {
    const plans = JSON.parse(readFileSync(join(FIXTURES, 'golden', file), 'utf8')) as Plans;
    const stage = plans.plans_per_stage['0'];
    assert.ok(stage !== undefined);
    const got = trainerV2AugmentationParams({
      patchSize: stage.patch_size,
      doDummy2DAug: stage.do_dummy_2D_data_aug,
      useMaskForNorm: Object.keys(plans.modalities).map((k) => plans.use_mask_for_norm[k] === true),
    });
    assert.deepEqual(got.basicGeneratorPatchSize, expected.basic, file);
    assert.equal(got.params.dummy2D, expected.dummy, file);
    // deepStrictEqual compares with Object.is: v1's -0.0 bounds must come out as -0 too.
    assert.deepEqual(got.params, fromV1DataAugParams(expected.params), file);
  }
});

test('trainerV2AugmentationParams on other patches: elongated 2-D rotates +-15 degrees, dummy 2-D keeps z', () => {
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
    const got = trainerV2AugmentationParams({ patchSize: patch, doDummy2DAug: dummy });
    assert.deepEqual(got.basicGeneratorPatchSize, basic, `[${patch}]`);
    assert.deepEqual(got.params.rotation.axis0, [-rot, rot]);
    assert.equal(got.params.dummy2D, dummy);
    assert.equal(got.params.maskWasUsedForNormalization, null);
  }
  // 2-D training never uses dummy 2-D augmentation, whatever the plans say.
  assert.equal(trainerV2AugmentationParams({ patchSize: [56, 40], doDummy2DAug: true }).params.dummy2D, false);
});

test('getPatchSize equals v1 get_patch_size for other rotation and scale ranges', () => {
  const about = (x: Range, y: Range, z: Range) => ({ axis0: x, axis1: y, axis2: z });
  const r15 = degreeRange(15);
  const r30 = degreeRange(30);
  assert.deepEqual(getPatchSize([40, 56, 40], about(r15, r15, r15), [0.85, 1.25]), [62, 75, 57]);
  assert.deepEqual(getPatchSize([40, 56, 40], about(r30, r30, r30), [0.7, 1.4]), [89, 97, 78]);
  assert.deepEqual(getPatchSize([128, 128, 128], about(r30, r30, r30), [0.85, 1.25]), [205, 205, 205]);
  assert.deepEqual(getPatchSize([112, 97], about(degreeRange(45), noRotation, noRotation), [0.9, 1.1]), [164, 107]);
  // Rotations beyond 90 degrees are capped at 90.
  assert.deepEqual(
    getPatchSize([30, 80, 50], about(degreeRange(120), degreeRange(5), degreeRange(60)), [1, 1]),
    [84, 80, 80],
  );
  assert.throws(() => getPatchSize([5], about(noRotation, noRotation, noRotation), [1, 1]), /2-D or 3-D/);
});

test('the default parameter sets are frozen (v1 mutates shared module dicts; ours cannot be changed)', () => {
  assert.throws(() => {
    (DEFAULT_3D.rotation.axis0 as unknown as number[])[1] = 99;
  }, TypeError);
  assert.throws(() => {
    (DEFAULT_3D.mirror.axes as number[]).push(7);
  }, TypeError);
  assert.deepEqual(DEFAULT_3D.rotation.axis0, degreeRange(15));
  assert.deepEqual(DEFAULT_2D.rotation.axis0, [-PI, PI]);
  assert.deepEqual(DEFAULT_2D.elastic.alpha, [0, 200]);
  assert.deepEqual(DEFAULT_2D.mirror.axes, [0, 1]);
});
