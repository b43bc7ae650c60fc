/**
 * Augmentation parameters of nnU-Net v1: `default_3D_augmentation_params` and
 * `default_2D_augmentation_params` (training/data_augmentation/default_data_augmentation.py), the
 * transforms that `get_moreDA_augmentation` adds with fixed values (data_augmentation_moreDA.py),
 * and the changes nnUNetTrainerV2.setup_DA_params makes to them.
 *
 * Axis order is the array order [Z, Y, X] (3-D) or [Y, X] (2-D). Angles are in radians, like v1's.
 * v1's `rotation_x` / `rotation_y` / `rotation_z` rotate about array axis 0 / 1 / 2 (`rotation_x`
 * turns the plane of axes 1 and 2, which is the in-plane rotation of dummy-2-D augmentation).
 */
import { NnunetError } from '../../errors.js';

/** A closed interval [low, high] from which a value is drawn uniformly. */
export type Range = readonly [number, number];

export const degrees = (d: number): number => (d / 360) * 2 * Math.PI;

/** Freezes an object and everything in it, so that no caller can change the shared defaults (v1 mutated its dicts). */
function deepFreeze<T>(o: T): T {
  if (o !== null && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}
/** The range [-d, d] degrees, in radians. */
export const symmetricDegrees = (d: number): Range => [degrees(-d), degrees(d)];

export interface ElasticParams {
  enabled: boolean;
  /** Magnitude of the smoothed displacement field, in voxels (v1 elastic_deform_alpha). */
  alpha: Range;
  /** Standard deviation of the Gaussian that smooths the field, in voxels (v1 elastic_deform_sigma). */
  sigma: Range;
  /** Probability per sample (v1 p_eldef). */
  probability: number;
}

export interface RotationParams {
  enabled: boolean;
  /** Angle ranges (radians) about array axes 0, 1, 2 (v1 rotation_x, rotation_y, rotation_z); 2-D uses axis 0 only. */
  axis0: Range;
  axis1: Range;
  axis2: Range;
  /** Probability that each axis gets an angle once the sample is rotated (v1 rotation_p_per_axis). */
  probabilityPerAxis: number;
  /** Probability per sample (v1 p_rot). */
  probability: number;
}

export interface ScalingParams {
  enabled: boolean;
  /**
   * Coordinate scale factors (v1 scale_range): the sampled region is `scale` times the patch, so
   * values below 1 zoom in (objects grow) and values above 1 zoom out. Half of the draws fall below
   * 1 and half above, as in v1.
   */
  range: Range;
  /** One factor per axis instead of one for all (v1 independent_scale_factor_for_each_axis). */
  independentPerAxis: boolean;
  /** Probability of independent factors when `independentPerAxis` (v1 p_independent_scale_per_axis). */
  probabilityIndependent: number;
  /** Probability per sample (v1 p_scale). */
  probability: number;
}

export interface GammaParams {
  enabled: boolean;
  /** Gamma exponent range (v1 gamma_range); half of the draws below 1, half above. */
  range: Range;
  /** Restore each channel's mean and standard deviation afterwards (v1 gamma_retain_stats). */
  retainStats: boolean;
  /** Probability per sample (v1 p_gamma). */
  probability: number;
}

export interface AdditiveBrightnessParams {
  enabled: boolean;
  /** Mean and standard deviation of the offset added to a channel. */
  mu: number;
  sigma: number;
  probabilityPerSample: number;
  probabilityPerChannel: number;
}

export interface AugmentationParams {
  /** Final patch size, spatial axes (v1 patch_size_for_spatialtransform); 3 values for 3-D, 2 for 2-D. */
  patchSize: readonly number[];
  /**
   * Dummy-2-D augmentation of 3-D patches (v1 dummy_2D, for anisotropic data): rotation, scaling
   * and elastic deformation act in the plane of axes 1 and 2 only (every slice of a sample alike),
   * and the low-resolution simulation leaves axis 0 alone.
   */
  dummy2D: boolean;
  elastic: ElasticParams;
  rotation: RotationParams;
  scaling: ScalingParams;
  /** Value of the segmentation outside the input (v1 border_val_seg = -1, later set to 0). */
  borderValueSeg: number;
  /**
   * Interpolation of the data in the spatial transform and of the upsampling in the
   * low-resolution simulation. v1 uses cubic B-splines (order 3); we use linear interpolation
   * (trilinear / bilinear) by default. 'cubic' is LibTorch's bicubic convolution (not a B-spline)
   * and exists for 2-D and dummy-2-D only.
   */
  dataInterpolation: 'linear' | 'cubic';

  /** Additive Gaussian noise (moreDA: GaussianNoiseTransform(p_per_sample=0.1), noise_variance (0, 0.1)). */
  noise: {
    probability: number;
    /** Range of the noise's standard deviation (v1 names it noise_variance but uses it as the std). */
    stdRange: Range;
  };
  /** Gaussian blur (moreDA: GaussianBlurTransform((0.5, 1.), different_sigma_per_channel=True, 0.2, 0.5)). */
  blur: {
    probability: number;
    probabilityPerChannel: number;
    /** Range of the Gaussian's standard deviation in voxels, drawn per channel. */
    sigmaRange: Range;
  };
  /** Multiplicative brightness per channel (moreDA: BrightnessMultiplicativeTransform((0.75, 1.25), p 0.15)). */
  brightness: { probability: number; multiplierRange: Range };
  /** Additive brightness (v1 do_additive_brightness and additive_brightness_*; off by default). */
  additiveBrightness: AdditiveBrightnessParams;
  /** Contrast per channel, clipped to the channel's range (moreDA: ContrastAugmentationTransform(p 0.15)). */
  contrast: { probability: number; factorRange: Range; preserveRange: boolean };
  /**
   * Low-resolution simulation (moreDA: SimulateLowResolutionTransform(zoom_range=(0.5, 1),
   * per_channel=True, p_per_channel=0.5, order_downsample=0, order_upsample=3, p_per_sample=0.25)):
   * a channel is resized to `zoom` times its size with nearest neighbours and back.
   */
  lowResolution: { probability: number; probabilityPerChannel: number; zoomRange: Range };
  /** Gamma on the inverted image (moreDA: GammaTransform(gamma_range, invert_image=True, p_per_sample=0.1)). */
  invertedGammaProbability: number;
  gamma: GammaParams;
  /** Mirroring along each allowed axis with probability 0.5 (v1 do_mirror, mirror_axes). */
  mirror: { enabled: boolean; axes: readonly number[] };
  /**
   * Per data channel: whether normalisation used the nonzero mask (v1
   * mask_was_used_for_normalization); those channels are set to 0 where the segmentation is < 0.
   */
  maskWasUsedForNormalization: readonly boolean[] | null;
}

/** v1 default_3D_augmentation_params with moreDA's fixed transforms; patchSize is to be filled in. */
export const DEFAULT_3D: AugmentationParams = deepFreeze({
  patchSize: [],
  dummy2D: false,
  elastic: { enabled: true, alpha: [0, 900], sigma: [9, 13], probability: 0.2 },
  rotation: {
    enabled: true,
    axis0: symmetricDegrees(15),
    axis1: symmetricDegrees(15),
    axis2: symmetricDegrees(15),
    probabilityPerAxis: 1,
    probability: 0.2,
  },
  scaling: {
    enabled: true,
    range: [0.85, 1.25],
    independentPerAxis: false,
    probabilityIndependent: 1,
    probability: 0.2,
  },
  borderValueSeg: -1,
  dataInterpolation: 'linear',
  noise: { probability: 0.1, stdRange: [0, 0.1] },
  blur: { probability: 0.2, probabilityPerChannel: 0.5, sigmaRange: [0.5, 1] },
  brightness: { probability: 0.15, multiplierRange: [0.75, 1.25] },
  additiveBrightness: { enabled: false, mu: 0, sigma: 0.1, probabilityPerSample: 0.15, probabilityPerChannel: 0.5 },
  contrast: { probability: 0.15, factorRange: [0.75, 1.25], preserveRange: true },
  lowResolution: { probability: 0.25, probabilityPerChannel: 0.5, zoomRange: [0.5, 1] },
  invertedGammaProbability: 0.1,
  gamma: { enabled: true, range: [0.7, 1.5], retainStats: true, probability: 0.3 },
  mirror: { enabled: true, axes: [0, 1, 2] },
  maskWasUsedForNormalization: null,
} satisfies AugmentationParams);

/** v1 default_2D_augmentation_params: elastic alpha (0, 200), in-plane rotation ±180°, mirror axes (0, 1). */
export const DEFAULT_2D: AugmentationParams = deepFreeze({
  ...DEFAULT_3D,
  elastic: { ...DEFAULT_3D.elastic, alpha: [0, 200], sigma: [9, 13] },
  // v1 writes the unused axes as (-0., 0.) degrees in radians: a negative zero below.
  rotation: {
    ...DEFAULT_3D.rotation,
    axis0: symmetricDegrees(180),
    axis1: symmetricDegrees(0),
    axis2: symmetricDegrees(0),
  },
  mirror: { enabled: true, axes: [0, 1] },
} satisfies AugmentationParams);

/** nnUNetTrainerV2: rotation range of 3-D training (v1 raised it from ±15° to ±30°). */
export const TRAINER_V2_ROTATION_3D = symmetricDegrees(30);
/** nnUNetTrainerV2: in-plane rotation of 2-D training when the patch is elongated (max/min side > 1.5). */
export const TRAINER_V2_ROTATION_2D_ELONGATED = symmetricDegrees(15);
/** Patch aspect ratio above which 2-D training rotates by ±15° only. */
export const ELONGATED_PATCH_ASPECT = 1.5;
/** nnUNetTrainerV2: scale range (v1 (0.85, 1.25) before). */
export const TRAINER_V2_SCALE_RANGE: Range = [0.7, 1.4];

/** get_patch_size caps each rotation at 90 degrees: beyond that the corner reach shrinks again. */
export const MAX_PATCH_ROTATION = degrees(90);

/**
 * v1's get_patch_size: the enlarged patch the loader cuts so that the final patch can still be
 * filled after the largest rotation about each axis (tried one axis at a time, each capped at
 * MAX_PATCH_ROTATION, corner vector only) and the strongest zoom-out (1 / min(scaleRange)),
 * truncated to whole voxels. A 2-D patch uses only the in-plane rotation `axis0`.
 */
export function getPatchSize(
  finalPatchSize: readonly number[],
  rotation: { axis0: Range; axis1: Range; axis2: Range },
  scaleRange: Range,
): number[] {
  if (finalPatchSize.length !== 2 && finalPatchSize.length !== 3) {
    throw new NnunetError(
      'ERR_ARGUMENT',
      `getPatchSize needs a 2-D or 3-D patch size, got [${finalPatchSize.join(', ')}].`,
    );
  }
  const largest = (r: Range): number => Math.min(MAX_PATCH_ROTATION, Math.max(Math.abs(r[0]), Math.abs(r[1])));
  const corner = [...finalPatchSize];
  let reach = [...corner];
  const widen = (rotated: readonly number[]): void => {
    reach = reach.map((s, i) => Math.max(s, Math.abs(rotated[i] as number)));
  };
  if (corner.length === 3) {
    widen(rowTimesMatrix(corner, rotationMatrix3d(largest(rotation.axis0), 0, 0)));
    widen(rowTimesMatrix(corner, rotationMatrix3d(0, largest(rotation.axis1), 0)));
    widen(rowTimesMatrix(corner, rotationMatrix3d(0, 0, largest(rotation.axis2))));
  } else {
    widen(rowTimesMatrix(corner, rotationMatrix2d(largest(rotation.axis0))));
  }
  const zoom = Math.min(...scaleRange);
  return reach.map((s) => Math.trunc(s / zoom));
}

/** A row vector times a matrix (v · M), summed in index order as NumPy's small dot products do. */
function rowTimesMatrix(v: readonly number[], m: readonly (readonly number[])[]): number[] {
  return (m[0] as readonly number[]).map((_, j) => {
    let s = 0;
    for (let k = 0; k < v.length; k++) s += (v[k] as number) * ((m[k] as readonly number[])[j] as number);
    return s;
  });
}

/**
 * v1's rotation matrix for angles about axes 0, 1, 2: Rx(a0) · Ry(a1) · Rz(a2) in batchgenerators'
 * convention (create_matrix_rotation_{x,y,z}_3d). v1 rotates coordinate row vectors, c' = c · R.
 */
export function rotationMatrix3d(a0: number, a1: number, a2: number): number[][] {
  const [c0, s0, c1, s1, c2, s2] = [Math.cos(a0), Math.sin(a0), Math.cos(a1), Math.sin(a1), Math.cos(a2), Math.sin(a2)];
  const rx = [
    [1, 0, 0],
    [0, c0, -s0],
    [0, s0, c0],
  ];
  const ry = [
    [c1, 0, s1],
    [0, 1, 0],
    [-s1, 0, c1],
  ];
  const rz = [
    [c2, -s2, 0],
    [s2, c2, 0],
    [0, 0, 1],
  ];
  return matMul(matMul(rx, ry), rz);
}

/** v1's 2-D rotation matrix (create_matrix_rotation_2d); coordinates rotate as c' = c · R. */
export function rotationMatrix2d(a: number): number[][] {
  return [
    [Math.cos(a), -Math.sin(a)],
    [Math.sin(a), Math.cos(a)],
  ];
}

/** The matrix product a · b. */
export function matMul(a: readonly (readonly number[])[], b: readonly (readonly number[])[]): number[][] {
  return a.map((row) => rowTimesMatrix(row, b));
}

export function transpose(a: readonly (readonly number[])[]): number[][] {
  return (a[0] as readonly number[]).map((_, j) => a.map((row) => row[j] as number));
}

export interface TrainerV2Setup {
  params: AugmentationParams;
  /** Patch size the training data loader cuts (v1 basic_generator_patch_size). */
  basicGeneratorPatchSize: number[];
}

/**
 * The augmentation of nnUNetTrainerV2 (setup_DA_params) for a plan's patch size:
 * - 3-D: v1's 3-D defaults with rotation ±30° about every axis; with dummy-2-D augmentation
 *   (plans' do_dummy_2D_data_aug) the 2-D defaults' in-plane rotation ±180° and elastic values;
 * - 2-D: v1's 2-D defaults, in-plane rotation ±15° when the patch is elongated (max/min > 1.5);
 * - then, for both: scale range (0.7, 1.4) and no elastic deformation.
 * The loader's patch size is computed before the scale range changes, with (0.85, 1.25), as in v1
 * (so a sample zoomed out beyond 1/0.85 reaches the constant border).
 */
export function trainerV2AugmentationParams(o: {
  patchSize: readonly number[];
  doDummy2DAug: boolean;
  /** Per data channel, whether normalisation used the nonzero mask (plans' use_mask_for_norm). */
  useMaskForNorm?: readonly boolean[] | null;
}): TrainerV2Setup {
  const threeD = o.patchSize.length === 3;
  if (!threeD && o.patchSize.length !== 2) {
    throw new NnunetError('ERR_ARGUMENT', `patchSize needs 2 or 3 values, got [${o.patchSize.join(', ')}].`);
  }
  let base: AugmentationParams;
  if (threeD) {
    base = {
      ...DEFAULT_3D,
      rotation: {
        ...DEFAULT_3D.rotation,
        axis0: TRAINER_V2_ROTATION_3D,
        axis1: TRAINER_V2_ROTATION_3D,
        axis2: TRAINER_V2_ROTATION_3D,
      },
    };
    if (o.doDummy2DAug) {
      base = {
        ...base,
        dummy2D: true,
        elastic: { ...base.elastic, alpha: DEFAULT_2D.elastic.alpha, sigma: DEFAULT_2D.elastic.sigma },
        rotation: { ...base.rotation, axis0: DEFAULT_2D.rotation.axis0 },
      };
    }
  } else {
    const elongated = Math.max(...o.patchSize) / Math.min(...o.patchSize) > ELONGATED_PATCH_ASPECT;
    base = elongated
      ? { ...DEFAULT_2D, rotation: { ...DEFAULT_2D.rotation, axis0: TRAINER_V2_ROTATION_2D_ELONGATED } }
      : { ...DEFAULT_2D };
  }
  const dummy = threeD && o.doDummy2DAug;
  const planeSize = dummy ? o.patchSize.slice(1) : o.patchSize;
  const planeBasic = getPatchSize(planeSize, base.rotation, base.scaling.range);
  const basicGeneratorPatchSize = dummy ? [o.patchSize[0] as number, ...planeBasic] : planeBasic;
  const params: AugmentationParams = {
    ...base,
    patchSize: [...o.patchSize],
    scaling: { ...base.scaling, range: TRAINER_V2_SCALE_RANGE },
    elastic: { ...base.elastic, enabled: false },
    maskWasUsedForNormalization: o.useMaskForNorm ?? null,
  };
  return { params, basicGeneratorPatchSize };
}

/**
 * The keys of v1's data_aug_params that the moreDA pipeline reads (as v1 names them; the shape of
 * a trainer's `data_aug_params` dict or of its JSON conversion).
 */
export interface V1DataAugParams {
  readonly patch_size_for_spatialtransform?: readonly number[];
  readonly dummy_2D: boolean;
  readonly do_elastic: boolean;
  readonly elastic_deform_alpha: readonly number[];
  readonly elastic_deform_sigma: readonly number[];
  readonly p_eldef: number;
  readonly do_rotation: boolean;
  readonly rotation_x: readonly number[];
  readonly rotation_y: readonly number[];
  readonly rotation_z: readonly number[];
  readonly rotation_p_per_axis: number;
  readonly p_rot: number;
  readonly do_scaling: boolean;
  readonly scale_range: readonly number[];
  readonly independent_scale_factor_for_each_axis: boolean;
  readonly p_independent_scale_per_axis: number;
  readonly p_scale: number;
  readonly do_gamma: boolean;
  readonly gamma_retain_stats: boolean;
  readonly gamma_range: readonly number[];
  readonly p_gamma: number;
  readonly do_mirror: boolean;
  readonly mirror_axes: readonly number[];
  /** Per modality: keys "0", "1", ... (v1's dict) or an array. */
  readonly mask_was_used_for_normalization: Readonly<Record<string, boolean>> | readonly boolean[] | null;
  readonly do_additive_brightness: boolean;
  readonly additive_brightness_mu: number;
  readonly additive_brightness_sigma: number;
  readonly additive_brightness_p_per_sample: number;
  readonly additive_brightness_p_per_channel: number;
}

/**
 * AugmentationParams from v1's data_aug_params (the transforms moreDA adds with fixed values keep
 * v1's values). `patchSize` overrides patch_size_for_spatialtransform.
 */
export function fromV1DataAugParams(v1: V1DataAugParams, patchSize?: readonly number[]): AugmentationParams {
  const patch = patchSize ?? v1.patch_size_for_spatialtransform;
  if (patch === undefined) {
    throw new NnunetError('ERR_ARGUMENT', 'fromV1DataAugParams needs patch_size_for_spatialtransform or a patchSize.');
  }
  const range = (name: string, r: readonly number[]): Range => {
    if (r.length !== 2)
      throw new NnunetError('ERR_ARGUMENT', `${name} must be a [low, high] pair, got [${r.join(', ')}].`);
    return [r[0] as number, r[1] as number];
  };
  const mask = v1.mask_was_used_for_normalization;
  let masked: boolean[] | null = null;
  if (Array.isArray(mask)) masked = [...(mask as readonly boolean[])];
  else if (mask !== null) {
    const dict = mask as Readonly<Record<string, boolean>>;
    const channels = Object.keys(dict).map(Number);
    masked = Array.from({ length: Math.max(-1, ...channels) + 1 }, (_, c) => dict[String(c)] === true);
  }
  return {
    ...DEFAULT_3D,
    patchSize: [...patch],
    dummy2D: v1.dummy_2D,
    elastic: {
      enabled: v1.do_elastic,
      alpha: range('elastic_deform_alpha', v1.elastic_deform_alpha),
      sigma: range('elastic_deform_sigma', v1.elastic_deform_sigma),
      probability: v1.p_eldef,
    },
    rotation: {
      enabled: v1.do_rotation,
      axis0: range('rotation_x', v1.rotation_x),
      axis1: range('rotation_y', v1.rotation_y),
      axis2: range('rotation_z', v1.rotation_z),
      probabilityPerAxis: v1.rotation_p_per_axis,
      probability: v1.p_rot,
    },
    scaling: {
      enabled: v1.do_scaling,
      range: range('scale_range', v1.scale_range),
      independentPerAxis: v1.independent_scale_factor_for_each_axis,
      probabilityIndependent: v1.p_independent_scale_per_axis,
      probability: v1.p_scale,
    },
    gamma: {
      enabled: v1.do_gamma,
      range: range('gamma_range', v1.gamma_range),
      retainStats: v1.gamma_retain_stats,
      probability: v1.p_gamma,
    },
    mirror: { enabled: v1.do_mirror, axes: [...v1.mirror_axes] },
    maskWasUsedForNormalization: masked,
    additiveBrightness: {
      enabled: v1.do_additive_brightness,
      mu: v1.additive_brightness_mu,
      sigma: v1.additive_brightness_sigma,
      probabilityPerSample: v1.additive_brightness_p_per_sample,
      probabilityPerChannel: v1.additive_brightness_p_per_channel,
    },
  };
}
