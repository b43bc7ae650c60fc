/**
 * The patch the training loader cuts before augmentation, and the augmentation parameters of
 * nnUNetTrainerV2 (v1's `get_patch_size`, `default_3D_augmentation_params`,
 * `default_2D_augmentation_params` and `nnUNetTrainerV2.setup_DA_params`).
 *
 * Rotating or shrinking a patch pulls in voxels from outside it, so the loader reads a larger
 * patch (`basic_generator_patch_size`) and the spatial transform crops the final patch from its
 * centre. Patch sizes are (z, y, x) for 3-D and (y, x) for 2-D, in voxels; angles are radians.
 */
import { NnunetError } from '../errors.js';

/** An interval [low, high]: the range a random augmentation parameter is drawn from. */
export type Range = [number, number];

/**
 * `-degrees .. +degrees` in radians, computed as v1 writes it (`d / 360 * 2 * pi`), so the values
 * are the same doubles (including v1's -0 for a zero range).
 */
export function degreeRange(degrees: number): Range {
  return [(-degrees / 360) * 2 * Math.PI, (degrees / 360) * 2 * Math.PI];
}

/** get_patch_size caps each rotation at 90 degrees: larger angles enlarge the patch no further. */
export const MAX_PATCH_ROTATION = (90 / 360) * 2 * Math.PI;
/** nnUNetTrainerV2's rotation range in 3-D (v1's default was 15 degrees). */
export const ROTATION_3D_DEGREES = 30;
/** In-plane rotation range of 2-D training and of dummy-2-D augmentation. */
export const ROTATION_2D_DEGREES = 180;
/** In-plane rotation range of 2-D training when the patch is elongated (see ELONGATED_2D_PATCH_RATIO). */
export const ROTATION_2D_ELONGATED_DEGREES = 15;
/** A 2-D patch whose longest side exceeds this many times its shortest only rotates by +-15 degrees. */
export const ELONGATED_2D_PATCH_RATIO = 1.5;
/** The default scale range, which also sets the patch enlargement (see setupDataAugmentation). */
export const DEFAULT_SCALE_RANGE: Range = [0.85, 1.25];
/** nnUNetTrainerV2's scale range for the spatial transform. */
export const V2_SCALE_RANGE: Range = [0.7, 1.4];

/** v1's data_aug_params (keys as v1 names them; `num_threads` is left to the batch producer). */
export interface DataAugmentationParams {
  selected_data_channels: number[] | null;
  selected_seg_channels: number[] | null;
  do_elastic: boolean;
  elastic_deform_alpha: Range;
  elastic_deform_sigma: Range;
  p_eldef: number;
  do_scaling: boolean;
  scale_range: Range;
  independent_scale_factor_for_each_axis: boolean;
  p_independent_scale_per_axis: number;
  p_scale: number;
  do_rotation: boolean;
  rotation_x: Range;
  rotation_y: Range;
  rotation_z: Range;
  rotation_p_per_axis: number;
  p_rot: number;
  random_crop: boolean;
  random_crop_dist_to_border: number | null;
  do_gamma: boolean;
  gamma_retain_stats: boolean;
  gamma_range: Range;
  p_gamma: number;
  do_mirror: boolean;
  /** Spatial axes (0 = first spatial axis) that may be flipped, in training and at test time. */
  mirror_axes: number[];
  /** Rotate and scale 3-D patches slice by slice (in-plane only), for strongly anisotropic data. */
  dummy_2D: boolean;
  /** Per modality (keys "0", "1", ...): normalised inside the nonzero mask only. */
  mask_was_used_for_normalization: Record<string, boolean> | null;
  border_mode_data: string;
  all_segmentation_labels: number[] | null;
  move_last_seg_chanel_to_data: boolean;
  cascade_do_cascade_augmentations: boolean;
  cascade_random_binary_transform_p: number;
  cascade_random_binary_transform_p_per_label: number;
  cascade_random_binary_transform_size: Range;
  cascade_remove_conn_comp_p: number;
  cascade_remove_conn_comp_max_size_percent_threshold: number;
  cascade_remove_conn_comp_fill_with_other_class_p: number;
  do_additive_brightness: boolean;
  additive_brightness_p_per_sample: number;
  additive_brightness_p_per_channel: number;
  additive_brightness_mu: number;
  additive_brightness_sigma: number;
  /** Batches each loader worker keeps ready (v1: per augmentation process). */
  num_cached_per_thread: number;
  /** The network's patch, cropped from the loader's larger patch by the spatial transform. */
  patch_size_for_spatialtransform?: number[];
}

/** v1's default_3D_augmentation_params (a fresh object on every call; v1 mutates a module global). */
export function default3DAugmentationParams(): DataAugmentationParams {
  return {
    selected_data_channels: null,
    selected_seg_channels: null,
    do_elastic: true,
    elastic_deform_alpha: [0, 900],
    elastic_deform_sigma: [9, 13],
    p_eldef: 0.2,
    do_scaling: true,
    scale_range: [...DEFAULT_SCALE_RANGE],
    independent_scale_factor_for_each_axis: false,
    p_independent_scale_per_axis: 1,
    p_scale: 0.2,
    do_rotation: true,
    rotation_x: degreeRange(15),
    rotation_y: degreeRange(15),
    rotation_z: degreeRange(15),
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
    mask_was_used_for_normalization: null,
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
    num_cached_per_thread: 1,
  };
}

/** v1's default_2D_augmentation_params: the 3-D set with 2-D elastic and in-plane rotation ranges. */
export function default2DAugmentationParams(): DataAugmentationParams {
  return {
    ...default3DAugmentationParams(),
    elastic_deform_alpha: [0, 200],
    elastic_deform_sigma: [9, 13],
    rotation_x: degreeRange(ROTATION_2D_DEGREES),
    rotation_y: degreeRange(0),
    rotation_z: degreeRange(0),
    dummy_2D: false,
    mirror_axes: [0, 1],
  };
}

function maxAbs(r: number | readonly number[]): number {
  return typeof r === 'number' ? r : Math.max(...r.map(Math.abs));
}

/** Row vector times matrix (`v @ m`), summed in index order. */
function vecMat(v: readonly number[], m: readonly (readonly number[])[]): number[] {
  return v.map((_, j) => {
    let s = 0;
    for (let i = 0; i < v.length; i++) s += (v[i] as number) * (m[i]?.[j] as number);
    return s;
  });
}

function matMul(a: readonly (readonly number[])[], b: readonly (readonly number[])[]): number[][] {
  return a.map((row) => vecMat(row, b));
}

/** batchgenerators' rotation matrices, composed as identity @ Rx @ Ry @ Rz. */
function rotation3d(ax: number, ay: number, az: number): number[][] {
  const rx = [
    [1, 0, 0],
    [0, Math.cos(ax), -Math.sin(ax)],
    [0, Math.sin(ax), Math.cos(ax)],
  ];
  const ry = [
    [Math.cos(ay), 0, Math.sin(ay)],
    [0, 1, 0],
    [-Math.sin(ay), 0, Math.cos(ay)],
  ];
  const rz = [
    [Math.cos(az), -Math.sin(az), 0],
    [Math.sin(az), Math.cos(az), 0],
    [0, 0, 1],
  ];
  const identity = [
    [1, 0, 0],
    [0, 1, 0],
    [0, 0, 1],
  ];
  return matMul(matMul(matMul(identity, rx), ry), rz);
}

/**
 * v1's get_patch_size: the patch to read so that `finalPatchSize` can still be filled after the
 * largest rotation about each axis (tried one axis at a time, each capped at 90 degrees, corner
 * vector only) and the strongest zoom-out (`1 / min(scaleRange)`), truncated to whole voxels.
 * For a 2-D patch only `rotX` (in-plane) is used.
 */
export function getPatchSize(
  finalPatchSize: readonly number[],
  rotX: number | readonly number[],
  rotY: number | readonly number[],
  rotZ: number | readonly number[],
  scaleRange: readonly number[],
): number[] {
  const ax = Math.min(MAX_PATCH_ROTATION, maxAbs(rotX));
  const ay = Math.min(MAX_PATCH_ROTATION, maxAbs(rotY));
  const az = Math.min(MAX_PATCH_ROTATION, maxAbs(rotZ));
  const coords = [...finalPatchSize];
  let shape = [...coords];
  const widen = (rotated: number[]): void => {
    shape = shape.map((s, i) => Math.max(s, Math.abs(rotated[i] as number)));
  };
  if (coords.length === 3) {
    widen(vecMat(coords, rotation3d(ax, 0, 0)));
    widen(vecMat(coords, rotation3d(0, ay, 0)));
    widen(vecMat(coords, rotation3d(0, 0, az)));
  } else if (coords.length === 2) {
    const c = Math.cos(ax);
    const s = Math.sin(ax);
    widen(
      vecMat(coords, [
        [c, -s],
        [s, c],
      ]),
    );
  } else {
    throw new NnunetError('ERR_ARGUMENT', `getPatchSize: the patch must have 2 or 3 axes, got [${finalPatchSize}].`);
  }
  const zoom = Math.min(...scaleRange);
  return shape.map((s) => Math.trunc(s / zoom));
}

export interface DataAugmentationSetup {
  /** The loader's patch (v1's basic_generator_patch_size): (z, y, x) or (y, x). */
  basicGeneratorPatchSize: number[];
  /** False for 2-D training, else the plans stage's do_dummy_2D_data_aug. */
  doDummy2DAug: boolean;
  params: DataAugmentationParams;
}

export interface DataAugmentationOptions {
  /** The plans stage's patch_size: (z, y, x) selects 3-D training, (y, x) 2-D. */
  patchSize: readonly number[];
  /** The plans stage's do_dummy_2D_data_aug (ignored for 2-D). */
  doDummy2DAug: boolean;
  /** The plans' use_mask_for_norm. */
  useMaskForNorm?: Record<string, boolean> | null;
}

/**
 * nnUNetTrainerV2.setup_DA_params. 3-D: rotations of +-30 degrees about every axis; with dummy 2-D
 * augmentation (anisotropic data) the in-plane rotation becomes +-180 degrees, the elastic ranges
 * the 2-D ones, and only the in-plane axes of the patch are enlarged. 2-D: +-180 degrees in-plane
 * (+-15 for elongated patches). Scaling is (0.7, 1.4), elastic deformation is off.
 *
 * The enlargement divides by min(DEFAULT_SCALE_RANGE) = 0.85, not by 0.7: v1 computes
 * basic_generator_patch_size before it switches scale_range to (0.7, 1.4). Kept, so that the
 * loader reads v1's patch size (hippocampus 3-D [40, 56, 40] -> [73, 80, 64]).
 */
export function setupDataAugmentation(options: DataAugmentationOptions): DataAugmentationSetup {
  const patch = [...options.patchSize];
  if (patch.length !== 2 && patch.length !== 3)
    throw new NnunetError('ERR_ARGUMENT', `setupDataAugmentation: patchSize must have 2 or 3 axes, got [${patch}].`);
  const threeD = patch.length === 3;
  let params: DataAugmentationParams;
  let doDummy2DAug = options.doDummy2DAug;
  if (threeD) {
    params = default3DAugmentationParams();
    params.rotation_x = degreeRange(ROTATION_3D_DEGREES);
    params.rotation_y = degreeRange(ROTATION_3D_DEGREES);
    params.rotation_z = degreeRange(ROTATION_3D_DEGREES);
    if (doDummy2DAug) {
      const twoD = default2DAugmentationParams();
      params.dummy_2D = true;
      params.elastic_deform_alpha = twoD.elastic_deform_alpha;
      params.elastic_deform_sigma = twoD.elastic_deform_sigma;
      params.rotation_x = twoD.rotation_x;
    }
  } else {
    doDummy2DAug = false;
    params = default2DAugmentationParams();
    if (Math.max(...patch) / Math.min(...patch) > ELONGATED_2D_PATCH_RATIO)
      params.rotation_x = degreeRange(ROTATION_2D_ELONGATED_DEGREES);
  }
  params.mask_was_used_for_normalization = options.useMaskForNorm ?? null;
  const enlarge = (p: readonly number[]): number[] =>
    getPatchSize(p, params.rotation_x, params.rotation_y, params.rotation_z, params.scale_range);
  const basicGeneratorPatchSize = doDummy2DAug ? [patch[0] as number, ...enlarge(patch.slice(1))] : enlarge(patch);
  params.scale_range = [...V2_SCALE_RANGE];
  params.do_elastic = false;
  params.selected_seg_channels = [0];
  params.patch_size_for_spatialtransform = patch;
  params.num_cached_per_thread = 2;
  return { basicGeneratorPatchSize, doDummy2DAug, params };
}
