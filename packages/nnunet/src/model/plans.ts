/**
 * The plans file (nnUNetPlansv2.1_plans_{3D,2D}.json) with nnU-Net v1's keys, as its planners
 * store them in their pickles. Per-axis values are (z, y, x) after `transpose_forward` (2-D patch
 * and kernels: (y, x)); spacings in mm; sizes in voxels.
 */
import { existsSync, readFileSync } from 'node:fs';
import { NnunetError } from '../errors.js';
import type { DatasetProperties } from './properties.js';

/** How the preprocessor normalises a modality (v1's determine_normalization_scheme). */
export type NormalizationScheme = 'CT' | 'noNorm' | 'nonCT';

/** One resolution stage: the network and patch for data resampled to `current_spacing`. */
export interface StagePlan {
  batch_size: number;
  num_pool_per_axis: number[];
  patch_size: number[];
  /** The median case shape at `current_spacing` (always three axes, also in 2-D plans). */
  median_patient_size_in_voxels: number[];
  current_spacing: number[];
  /** The full-resolution target spacing the stage was derived from. */
  original_spacing: number[];
  /** Rotate/scale in-plane only during 3-D augmentation (patch far flatter along z than in-plane). */
  do_dummy_2D_data_aug: boolean;
  pool_op_kernel_sizes: number[][];
  conv_kernel_sizes: number[][];
}

export interface Plans {
  num_stages: number;
  num_modalities: number;
  modalities: Record<string, string>;
  normalization_schemes: Record<string, NormalizationScheme>;
  dataset_properties: DatasetProperties;
  /** The cropped cases (absolute paths), sorted. */
  list_of_npz_files: string[];
  original_spacings: number[][];
  original_sizes: number[][];
  /** Absolute path of $nnUNet_preprocessed/TASK. */
  preprocessed_data_folder: string;
  /** Foreground classes only. */
  num_classes: number;
  all_classes: number[];
  base_num_features: number;
  use_mask_for_norm: Record<string, boolean>;
  /** Deprecated in v1 and always null. */
  keep_only_largest_region: null;
  min_region_size_per_class: null;
  min_size_per_class: null;
  transpose_forward: number[];
  transpose_backward: number[];
  data_identifier: string;
  /** Keyed "0", "1", ...: the lowest resolution first (with a cascade "0" is 3d_lowres, "1" 3d_fullres). */
  plans_per_stage: Record<string, StagePlan>;
  preprocessor_name: string;
  /** Present in 3-D plans only, as in v1. */
  conv_per_stage?: number;
}

/** Reads a plans JSON file written by the planners (planning/) (or converted from v1's pickle). */
export function readPlans(path: string): Plans {
  if (!existsSync(path))
    throw new NnunetError(
      'ERR_NOT_FOUND',
      `${path} does not exist: run nnUNet_plan_and_preprocess for this task first.`,
    );
  return JSON.parse(readFileSync(path, 'utf8')) as Plans;
}
