/**
 * nnU-Net v1's own model and task files, read into this package's types:
 *   <trainer folder>/plans.pkl, nnUNetPlansv2.1_plans_{3D,2D}.pkl     -> Plans (same keys as plans.json)
 *   fold_N/<checkpoint>.model.pkl                                      -> V1ModelInfo (trainer, init args, plans)
 *   fold_N/<checkpoint>.model                                          -> weights (io/torch-checkpoint.ts)
 *   splits_final.pkl                                                   -> Split[]
 *   CASE.pkl beside a predicted CASE.npz                               -> the properties our CASE.json holds
 * and the facts v1 derives from the trainer class: whether its network is the one GenericUNet
 * builds (nnUNetTrainerV2's, or a Generic_UNet with other features, convolutions per stage or
 * kernels), the cascade's extra input channels, and the test-time mirror axes.
 * Everything goes through the safe pickle reader: nothing from the files is executed.
 */
import { NnunetError } from '../errors.js';
import { type PickleValue, type PlainValue, readPickleFile, toPlain } from '../io/pickle.js';
import type { Split } from '../model/configuration.js';
import type { Plans } from '../model/plans.js';
import type { CroppedProperties } from '../model/properties.js';
import { unetConfigFromPlans } from '../network/from-plans.js';
import type { GenericUNetConfig } from '../network/generic-unet.js';

/** What a v1 trainer class means for inference. */
export interface V1TrainerInfo {
  /** The v1 class name as stored in the model folder. */
  name: string;
  /** Our trainer with the same network and inference (nnUNetTrainerV2 or nnUNetTrainerV2CascadeFullRes). */
  equivalent: 'nnUNetTrainerV2' | 'nnUNetTrainerV2CascadeFullRes';
  /** false: trained without mirroring (data_aug_params do_mirror False), so no test-time mirroring. */
  mirroring: boolean;
  /** Convolutions per resolution stage when the class fixes it (nnUNetTrainerV2_3ConvPerStage: 3). */
  convPerStage?: number;
  /**
   * Features of the first stage when the class fixes it instead of taking the plans'
   * base_num_features (nnUNetTrainerV2_3ConvPerStage: 24, to save GPU memory).
   */
  baseNumFeatures?: number;
  /** Every convolution kernel is 3 on every axis, whatever the plans say (nnUNetTrainerV2_allConv3x3). */
  allConv3x3?: boolean;
  /** The cascade's full-resolution network also takes the one-hot low-resolution segmentation. */
  cascade: boolean;
}

/**
 * v1 trainers whose network (Generic_UNet with InstanceNorm, LeakyReLU 0.01, He init, plans'
 * kernels) and inference (softmax, mirror axes from data_aug_params) equal nnUNetTrainerV2's; they
 * differ only in training: data-parallel variants, loss, optimizer, learning rate, epochs,
 * augmentation strength, deep-supervision weighting, precision. Read from
 * nnunet/training/network_training/ of v1 (branch nnunetv1).
 */
const SAME_AS_V2 = [
  'nnUNetTrainer',
  'nnUNetTrainerCE',
  'nnUNetTrainerV2',
  'nnUNetTrainerV2_DP',
  'nnUNetTrainerV2_DDP',
  'nnUNetTrainerV2_fp32',
  'nnUNetTrainerV2_fp16',
  'nnUNetTrainerV2_copy1',
  'nnUNetTrainerV2_copy2',
  'nnUNetTrainerV2_copy3',
  'nnUNetTrainerV2_copy4',
  // data augmentation
  'nnUNetTrainerV2_DA2',
  'nnUNetTrainerV2_DA3',
  'nnUNetTrainerV2_DA5',
  'nnUNetTrainerV2_insaneDA',
  'nnUNetTrainerV2_independentScalePerAxis',
  // deep supervision (the state dict keeps every seg_outputs head either way)
  'nnUNetTrainerV2_noDeepSupervision',
  'nnUNetTrainerV2_softDeepSupervision',
  // loss
  'nnUNetTrainerV2_ForceBD',
  'nnUNetTrainerV2_ForceSD',
  'nnUNetTrainerV2_Loss_CE',
  'nnUNetTrainerV2_Loss_CEGDL',
  'nnUNetTrainerV2_Loss_Dice',
  'nnUNetTrainerV2_Loss_DicewithBG',
  'nnUNetTrainerV2_Loss_DiceCE_noSmooth',
  'nnUNetTrainerV2_Loss_DiceTopK10',
  'nnUNetTrainerV2_Loss_Dice_LR1en3',
  'nnUNetTrainerV2_Loss_DicewithBG_LR1en3',
  'nnUNetTrainerV2_Loss_Dice_squared',
  'nnUNetTrainerV2_Loss_MCC',
  'nnUNetTrainerV2_Loss_MCCnoBG',
  'nnUNetTrainerV2_Loss_TopK10',
  'nnUNetTrainerV2_SegLoss_Focal',
  'nnUNetTrainerV2_graduallyTransitionFromCEToDice',
  'nnUNetTrainerV2_fullEvals',
  // optimizer and learning rate
  'nnUNetTrainerV2_Adam',
  'nnUNetTrainerV2_Adam_ReduceOnPlateau',
  'nnUNetTrainerV2_Adam_nnUNetTrainerlr',
  'nnUNetTrainerV2_Ranger_lr1en2',
  'nnUNetTrainerV2_Ranger_lr3en3',
  'nnUNetTrainerV2_Ranger_lr3en4',
  'nnUNetTrainerV2_SGD_ReduceOnPlateau',
  'nnUNetTrainerV2_SGD_fixedSchedule',
  'nnUNetTrainerV2_SGD_fixedSchedule2',
  'nnUNetTrainerV2_SGD_lr1en1',
  'nnUNetTrainerV2_SGD_lr1en3',
  'nnUNetTrainerV2_cycleAtEnd',
  'nnUNetTrainerV2_cycleAtEnd2',
  'nnUNetTrainerV2_momentum09',
  'nnUNetTrainerV2_momentum095',
  'nnUNetTrainerV2_momentum098',
  'nnUNetTrainerV2_momentum09in2D',
  'nnUNetTrainerV2_reduceMomentumDuringTraining',
  'nnUNetTrainerV2_warmup',
] as const;

/**
 * Trainers that set data_aug_params do_mirror False. v1's nnUNet_predict then refuses test-time
 * mirroring (an assertion); here they predict without it, as with --disable_tta.
 */
const NO_MIRRORING = [
  'nnUNetTrainerV2_noMirroring',
  'nnUNetTrainerV2_noDataAugmentation',
  'nnUNetTrainerNoDA',
] as const;

/** Full-resolution cascade trainers: nnUNetTrainerV2's network with num_classes - 1 extra inputs. */
const CASCADE = [
  'nnUNetTrainerCascadeFullRes',
  'nnUNetTrainerV2CascadeFullRes',
  'nnUNetTrainerV2CascadeFullRes_noConnComp',
  'nnUNetTrainerV2CascadeFullRes_smallerBinStrel',
  'nnUNetTrainerV2CascadeFullRes_EducatedGuess',
  'nnUNetTrainerV2CascadeFullRes_EducatedGuess2',
  'nnUNetTrainerV2CascadeFullRes_EducatedGuess3',
  'nnUNetTrainerV2CascadeFullRes_lowerLR',
  'nnUNetTrainerV2CascadeFullRes_shorter',
  'nnUNetTrainerV2CascadeFullRes_shorter_lowerLR',
] as const;

/** nnUNetTrainerV2_3ConvPerStage's base_num_features, set in its initialize_network over the plans' value. */
export const V1_3CONV_BASE_NUM_FEATURES = 24;

const TRAINERS: ReadonlyMap<string, V1TrainerInfo> = (() => {
  const m = new Map<string, V1TrainerInfo>();
  for (const name of SAME_AS_V2) m.set(name, { name, equivalent: 'nnUNetTrainerV2', mirroring: true, cascade: false });
  for (const name of NO_MIRRORING)
    m.set(name, { name, equivalent: 'nnUNetTrainerV2', mirroring: false, cascade: false });
  for (const name of CASCADE) {
    m.set(name, { name, equivalent: 'nnUNetTrainerV2CascadeFullRes', mirroring: true, cascade: true });
  }
  // Generic_UNet with other arguments, from v1's nnUNet_variants/architectural_variants: the same
  // modules (conv, instance norm, leaky ReLU 0.01, heads without bias), other sizes.
  const variant = (name: string, extra: Partial<V1TrainerInfo>): void => {
    m.set(name, { name, equivalent: 'nnUNetTrainerV2', mirroring: true, cascade: false, ...extra });
  };
  // 3 convolutions per stage with base_num_features fixed at 24 (v1 overrides the plans' value).
  variant('nnUNetTrainerV2_3ConvPerStage', { convPerStage: 3, baseNumFeatures: V1_3CONV_BASE_NUM_FEATURES });
  // 3 convolutions per stage, the plans' base_num_features.
  variant('nnUNetTrainerV2_3ConvPerStageSameFilters', { convPerStage: 3 });
  // Every convolution kernel set to 3 (also along axes the plans give 1).
  variant('nnUNetTrainerV2_allConv3x3', { allConv3x3: true });
  return m;
})();

/**
 * Architectural variants of v1 whose network GenericUNet cannot build, with what differs; they
 * are refused by name (nnunet/training/network_training/nnUNet_variants/architectural_variants).
 */
const UNSUPPORTED_NETWORKS: ReadonlyMap<string, string> = new Map([
  ['nnUNetTrainerV2_BN', 'batch normalisation instead of instance normalisation'],
  ['nnUNetTrainerV2_GN', 'group normalisation instead of instance normalisation'],
  ['nnUNetTrainerV2_FRN', 'filter response normalisation and no nonlinearity'],
  ['nnUNetTrainerV2_NoNormalization', 'no normalisation layers'],
  ['nnUNetTrainerV2_NoNormalization_lr1en3', 'no normalisation layers'],
  ['nnUNetTrainerV2_GeLU', 'GELU instead of leaky ReLU'],
  ['nnUNetTrainerV2_Mish', 'Mish instead of leaky ReLU'],
  ['nnUNetTrainerV2_ReLU', 'ReLU instead of leaky ReLU'],
  ['nnUNetTrainerV2_LReLU_slope_2en1', 'leaky ReLU with slope 0.2 instead of 0.01'],
  ['nnUNetTrainerV2_ReLU_biasInSegOutput', 'ReLU and a bias in the segmentation heads'],
  ['nnUNetTrainerV2_lReLU_biasInSegOutput', 'a bias in the segmentation heads'],
  ['nnUNetTrainerV2_ReLU_convReLUIN', 'ReLU before the instance norm (conv, ReLU, norm)'],
  ['nnUNetTrainerV2_lReLU_convReLUIN', 'the leaky ReLU before the instance norm (conv, leaky ReLU, norm)'],
  ['nnUNetTrainerV2_ResencUNet', 'a residual-encoder U-Net instead of Generic_UNet'],
  ['nnUNetTrainerV2_ResencUNet_DA3', 'a residual-encoder U-Net instead of Generic_UNet'],
  ['nnUNetTrainerV2_ResencUNet_DA3_BN', 'a residual-encoder U-Net instead of Generic_UNet'],
  ['nnUNetTrainerV2_ResencUNet_SimonsInit', 'a residual-encoder U-Net instead of Generic_UNet'],
  ['nnUNetTrainerV2_ResencUNet_SimonsInit_DA5', 'a residual-encoder U-Net instead of Generic_UNet'],
]);

/** The v1 trainer classes whose models this package can run, sorted. */
export function supportedV1Trainers(): string[] {
  return [...TRAINERS.keys()].sort();
}

/** What `name` (a v1 trainer class) means for inference; an NnunetError naming it when unsupported. */
export function v1TrainerInfo(name: string, source: string): V1TrainerInfo {
  const info = TRAINERS.get(name);
  const reason = UNSUPPORTED_NETWORKS.get(name);
  if (reason !== undefined) {
    throw new NnunetError(
      'ERR_DATASET',
      `${source} was trained by the v1 trainer ${name}, whose network has ${reason}; only Generic_UNet with instance normalisation and leaky ReLU 0.01 (nnUNetTrainerV2's network) can be run here.`,
    );
  }
  if (info === undefined) {
    throw new NnunetError(
      'ERR_DATASET',
      `${source} was trained by the v1 trainer ${name}, whose network or inference differs from nnUNetTrainerV2's (e.g. other normalisation, nonlinearity, architecture or regions) and is not supported; supported are nnUNetTrainerV2, its training-only variants and the Generic_UNet size variants (${supportedV1Trainers().length} classes, see supportedV1Trainers()).`,
    );
  }
  return info;
}

/**
 * Test-time mirror axes v1 takes from the trainer's data_aug_params: every spatial axis, (0, 1, 2)
 * in 3-D (also with dummy 2-D augmentation) and (0, 1) in 2-D; none for trainers that did not mirror.
 */
export function v1MirrorAxes(trainer: V1TrainerInfo, patchDims: number): number[] {
  if (!trainer.mirroring) return [];
  return patchDims === 2 ? [0, 1] : [0, 1, 2];
}

/**
 * The network a v1 trainer built for plans stage `stage`, in inference mode (no deep supervision):
 * the plans' Generic_UNet with the trainer's overrides (features, convolutions per stage, kernels)
 * and, for the cascade, num_classes extra input channels (the one-hot low-resolution foreground).
 */
export function v1NetworkConfig(trainer: V1TrainerInfo, plans: Plans, stage: string): GenericUNetConfig {
  const config = unetConfigFromPlans(plans, stage, { deepSupervision: false });
  if (trainer.cascade) config.inputChannels += plans.num_classes;
  if (trainer.convPerStage !== undefined) config.convPerStage = trainer.convPerStage;
  if (trainer.baseNumFeatures !== undefined) config.baseNumFeatures = trainer.baseNumFeatures;
  if (trainer.allConv3x3) config.convKernelSizes = config.convKernelSizes.map((k) => k.map(() => 3));
  return config;
}

type PlainObject = { [key: string]: PlainValue };

function isObject(v: PlainValue | undefined): v is PlainObject {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/**
 * v1 plans (plans.pkl or nnUNetPlansv2.1_plans_3D/2D.pkl) as the Plans our plans.json holds: the
 * same keys, dict keys as strings ("0" for stage 0 and modality 0), numpy arrays and tuples as arrays.
 */
export function readV1Plans(path: string): Plans {
  return plansFromPickle(readPickleFile(path), path);
}

/** Plans from an unpickled v1 plans dict (also the 'plans' entry of a .model.pkl). */
export function plansFromPickle(value: PickleValue, source: string): Plans {
  const plain = toPlain(value, source);
  const required = [
    'num_modalities',
    'num_classes',
    'modalities',
    'normalization_schemes',
    'use_mask_for_norm',
    'base_num_features',
    'transpose_forward',
    'transpose_backward',
    'plans_per_stage',
  ];
  const missing = isObject(plain) ? required.filter((k) => !(k in plain)) : required;
  if (!isObject(plain) || missing.length > 0) {
    throw new NnunetError(
      'ERR_DATASET',
      `${source} is not an nnU-Net v1 plans file (missing ${missing.join(', ')}); use the plans.pkl of the trained model folder.`,
    );
  }
  const stages = plain.plans_per_stage;
  if (!isObject(stages) || Object.keys(stages).length === 0) {
    throw new NnunetError(
      'ERR_DATASET',
      `${source}: plans_per_stage is empty or not a dict; the plans file is damaged.`,
    );
  }
  for (const [k, s] of Object.entries(stages)) {
    if (!isObject(s) || !Array.isArray(s.patch_size) || !Array.isArray(s.num_pool_per_axis)) {
      throw new NnunetError(
        'ERR_DATASET',
        `${source}: plans_per_stage[${k}] has no patch_size / num_pool_per_axis; the plans file is damaged.`,
      );
    }
  }
  // v1 leaves num_stages out of some hand-edited plans; count them.
  if (typeof plain.num_stages !== 'number') plain.num_stages = Object.keys(stages).length;
  return plain as unknown as Plans;
}

/** v1 trainer __init__ arguments saved in .model.pkl ('init'), by name. */
export interface V1TrainerInit {
  plansFile: string;
  fold: number | string;
  outputFolder: string;
  datasetDirectory: string;
  batchDice: boolean;
  /** plans_per_stage key; null: the plans' only stage. */
  stage: number | null;
  unpackData: boolean;
  deterministic: boolean;
  fp16: boolean;
}

export interface V1ModelInfo {
  /** Trainer class name ('name'). */
  trainer: string;
  init: V1TrainerInit;
  /** The plans the network was built from ('plans'; v1 prefers them over plans.pkl). */
  plans: Plans | null;
}

/** Reads fold_N/<checkpoint>.model.pkl. Absolute paths in `init` are those of the training machine. */
export function readV1ModelInfo(path: string): V1ModelInfo {
  const v = readPickleFile(path);
  const bad = (why: string): never => {
    throw new NnunetError(
      'ERR_DATASET',
      `${path} is not an nnU-Net v1 model description (${why}); copy it unchanged from the trained model folder.`,
    );
  };
  if (!(v instanceof Map)) return bad('not a dict');
  const name = v.get('name');
  const init = v.get('init');
  if (typeof name !== 'string') return bad("no trainer 'name'");
  if (!Array.isArray(init) || init.length < 2) return bad("no 'init' arguments");
  const args = toPlain(init as PickleValue, path) as PlainValue[];
  const str = (i: number): string => (typeof args[i] === 'string' ? (args[i] as string) : '');
  const bool = (i: number, dflt: boolean): boolean => (typeof args[i] === 'boolean' ? (args[i] as boolean) : dflt);
  const fold = args[1];
  const stage = args[5];
  const plansValue = v.get('plans');
  return {
    trainer: name,
    init: {
      plansFile: str(0),
      fold: typeof fold === 'number' || typeof fold === 'string' ? fold : 0,
      outputFolder: str(2),
      datasetDirectory: str(3),
      batchDice: bool(4, true),
      stage: typeof stage === 'number' ? stage : null,
      unpackData: bool(6, true),
      deterministic: bool(7, true),
      fp16: bool(8, false),
    },
    plans: plansValue === undefined || plansValue === null ? null : plansFromPickle(plansValue, `${path} ('plans')`),
  };
}

/** The plans stage a v1 trainer used: `init` stage, or the only stage when it is None (v1's process_plans). */
export function v1Stage(plans: Plans, stage: number | null, source: string): string {
  const keys = Object.keys(plans.plans_per_stage);
  if (stage !== null) {
    if (!keys.includes(String(stage))) {
      throw new NnunetError(
        'ERR_DATASET',
        `${source}: the trainer used stage ${stage} but the plans have ${keys.join(', ')}.`,
      );
    }
    return String(stage);
  }
  if (keys.length !== 1) {
    throw new NnunetError(
      'ERR_DATASET',
      `${source}: the trainer names no stage but the plans have ${keys.length}; the model description is damaged.`,
    );
  }
  return keys[0] as string;
}

/** v1's splits_final.pkl: one {train, val} per fold, case identifiers as stored. */
export function readV1Splits(path: string): Split[] {
  const plain = toPlain(readPickleFile(path), path);
  const ok =
    Array.isArray(plain) &&
    plain.every(
      (s) =>
        isObject(s) &&
        Array.isArray(s.train) &&
        Array.isArray(s.val) &&
        [...s.train, ...s.val].every((x) => typeof x === 'string'),
    );
  if (!ok) {
    throw new NnunetError(
      'ERR_DATASET',
      `${path} is not a v1 split file (a list of {'train': ids, 'val': ids}); delete it to have the folds made again.`,
    );
  }
  return (plain as PlainObject[]).map((s) => ({ train: s.train as string[], val: s.val as string[] }));
}

/** The per-case properties v1 pickles (beside CASE.npz, and in its cropped and preprocessed folders). */
export type V1CaseProperties = CroppedProperties & {
  size_after_resampling?: number[];
  spacing_after_resampling?: number[];
};

/**
 * Reads a v1 CASE.pkl (properties) into the object our CASE.json holds: original_size_of_raw_data,
 * original_spacing, list_of_data_files, seg_file, itk_origin/spacing/direction, crop_bbox, classes,
 * size_after_cropping and, when present, size_after_resampling and spacing_after_resampling; other
 * keys (e.g. regions_class_order, class_locations) are kept as plain data. Axis order (z, y, x) for
 * sizes and spacings, ITK (x, y, z) for itk_*; paths are those of the machine that wrote it.
 */
export function readV1CaseProperties(path: string): V1CaseProperties {
  const plain = toPlain(readPickleFile(path), path);
  const numbers = (v: PlainValue | undefined): v is number[] =>
    Array.isArray(v) && v.every((x) => typeof x === 'number');
  const problems: string[] = [];
  if (!isObject(plain)) problems.push('not a dict');
  else {
    for (const k of [
      'original_size_of_raw_data',
      'original_spacing',
      'itk_origin',
      'itk_spacing',
      'itk_direction',
      'size_after_cropping',
    ]) {
      if (!numbers(plain[k])) problems.push(`${k} is missing or not numbers`);
    }
    const bbox = plain.crop_bbox;
    if (!Array.isArray(bbox) || !bbox.every((b) => numbers(b) && b.length === 2))
      problems.push('crop_bbox is not [[start, end], ...]');
  }
  if (problems.length > 0 || !isObject(plain)) {
    throw new NnunetError(
      'ERR_DATASET',
      `${path} is not a v1 case properties file (${problems.join('; ')}); use the .pkl v1 wrote beside the .npz.`,
    );
  }
  const files = plain.list_of_data_files;
  return {
    ...plain,
    list_of_data_files: Array.isArray(files) ? files.filter((f): f is string => typeof f === 'string') : [],
    seg_file: typeof plain.seg_file === 'string' ? plain.seg_file : null,
    classes: numbers(plain.classes) ? plain.classes : [],
  } as V1CaseProperties;
}
