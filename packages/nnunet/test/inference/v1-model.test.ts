import assert from 'node:assert/strict';
import { cpSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tensor } from '@nnunet/torch';
import { NnunetError } from '../../src/errors.js';
import { loadAndCropCase } from '../../src/fingerprint/crop-task.js';
import { loadNetwork, readModelPlans } from '../../src/inference/model-folder.js';
import {
  readV1CaseProperties,
  readV1ModelInfo,
  readV1Plans,
  readV1Splits,
  supportedV1Trainers,
  V1_3CONV_BASE_NUM_FEATURES,
  v1MirrorAxes,
  v1NetworkConfig,
  v1TrainerInfo,
} from '../../src/inference/v1-model.js';
import { readNpy } from '../../src/io/npy.js';
import { availableFolds } from '../../src/model/layout.js';
import { readPostprocessingJson } from '../../src/postprocessing/connected-components.js';
import { makeSplits } from '../../src/training/splits.js';
import { product } from '../../src/util/shape.js';
import { FIXTURES, tempDir } from '../helpers.js';

const V1 = join(FIXTURES, 'v1_models');
const folder = (cfg: string, trainer = 'nnUNetTrainerV2'): string =>
  join(V1, 'nnUNet', cfg, 'Task906_Tiny', `${trainer}__nnUNetPlansv2.1`);

test('v1 plans.pkl reads as the plans JSON Python writes, with the keys of our plans.json', () => {
  for (const [cfg, json, pre] of [
    ['3d_fullres', 'plans_3d.json', 'nnUNetPlansv2.1_plans_3D.pkl'],
    ['2d', 'plans_2d.json', 'nnUNetPlansv2.1_plans_2D.pkl'],
  ] as const) {
    const plans = readV1Plans(join(folder(cfg), 'plans.pkl'));
    assert.deepStrictEqual(plans, JSON.parse(readFileSync(join(V1, json), 'utf8')));
    // The trainer's copy equals the planner's file in the preprocessed folder.
    assert.deepStrictEqual(readV1Plans(join(V1, 'preprocessed', 'Task906_Tiny', pre)), plans);
    // readModelPlans falls back to plans.pkl when the folder has no plans.json.
    assert.deepStrictEqual(readModelPlans(folder(cfg)), plans);
  }
  const ours = JSON.parse(
    readFileSync(join(FIXTURES, 'golden', 'Task004_Hippocampus', 'nnUNetPlansv2.1_plans_3D.json'), 'utf8'),
  ) as Record<string, Record<string, unknown>>;
  const v1 = readV1Plans(join(folder('3d_fullres'), 'plans.pkl'));
  assert.deepStrictEqual(Object.keys(v1).sort(), Object.keys(ours).sort());
  assert.deepStrictEqual(
    Object.keys(v1.plans_per_stage['0'] ?? {}).sort(),
    Object.keys(ours.plans_per_stage?.['0'] ?? {}).sort(),
  );
  assert.deepStrictEqual(v1.plans_per_stage['0']?.patch_size, [12, 14, 14]);
  assert.deepStrictEqual(v1.normalization_schemes, { '0': 'nonCT' });
  assert.deepStrictEqual(v1.use_mask_for_norm, { '0': false });
});

test('v1 .model.pkl: trainer, init arguments and the plans the network was built from', () => {
  const i3 = readV1ModelInfo(join(folder('3d_fullres'), 'fold_0', 'model_final_checkpoint.model.pkl'));
  assert.equal(i3.trainer, 'nnUNetTrainerV2');
  assert.equal(i3.init.fold, 0);
  assert.equal(i3.init.stage, 0);
  assert.equal(i3.init.batchDice, false);
  assert.equal(i3.init.fp16, true);
  assert.match(i3.init.plansFile, /nnUNetPlansv2\.1_plans_3D\.pkl$/);
  assert.deepStrictEqual(i3.plans, readV1Plans(join(folder('3d_fullres'), 'plans.pkl')));
  const i2 = readV1ModelInfo(join(folder('2d'), 'fold_0', 'model_final_checkpoint.model.pkl'));
  assert.equal(i2.init.batchDice, true);
  assert.match(i2.init.plansFile, /_plans_2D\.pkl$/);
});

test('v1 splits_final.pkl equals the folds our makeSplits draws for the same cases', () => {
  const splits = readV1Splits(join(V1, 'preprocessed', 'Task906_Tiny', 'splits_final.pkl'));
  assert.equal(splits.length, 5);
  assert.deepStrictEqual(splits[0], {
    train: ['tiny_001', 'tiny_002', 'tiny_003', 'tiny_004', 'tiny_005', 'tiny_006', 'tiny_008', 'tiny_009'],
    val: ['tiny_000', 'tiny_007'],
  });
  const ids = Array.from({ length: 10 }, (_, i) => `tiny_00${i}`);
  assert.deepStrictEqual(makeSplits(ids), splits);
  assert.throws(
    () => readV1Splits(join(folder('2d'), 'plans.pkl')),
    (e: unknown) => e instanceof NnunetError && /not a v1 split file/.test(e.message),
  );
});

test('v1 case .pkl properties equal what our cropping records for the same image', async () => {
  const props = readV1CaseProperties(join(V1, 'pred_3d_fullres_tta', 'tiny_101.pkl'));
  assert.deepStrictEqual(props.crop_bbox, [
    [0, 18],
    [0, 22],
    [2, 19],
  ]);
  assert.deepStrictEqual(props.size_after_cropping, [18, 22, 17]);
  assert.deepStrictEqual(props.original_size_of_raw_data, [18, 23, 19]);
  assert.deepStrictEqual(props.size_after_resampling, [18, 22, 17]);
  assert.equal(props.seg_file, null);
  const image = join(V1, 'Task906_Tiny', 'imagesTs', 'tiny_101_0000.nii.gz');
  const { properties: ours } = await loadAndCropCase({ id: 'tiny_101', images: [image], seg: null });
  for (const k of [
    'original_size_of_raw_data',
    'original_spacing',
    'itk_origin',
    'itk_spacing',
    'itk_direction',
    'crop_bbox',
    'classes',
    'size_after_cropping',
  ]) {
    assert.deepEqual(ours[k], props[k], k);
  }
  assert.throws(
    () => readV1CaseProperties(join(folder('2d'), 'plans.pkl')),
    (e: unknown) => e instanceof NnunetError && /not a v1 case properties file/.test(e.message),
  );
});

test('v1 trainers: training-only variants map onto nnUNetTrainerV2, others are refused by name', () => {
  const supported = supportedV1Trainers();
  for (const t of ['nnUNetTrainerV2', 'nnUNetTrainerV2_DP', 'nnUNetTrainerV2_DDP', 'nnUNetTrainerV2_Loss_Dice']) {
    assert.ok(supported.includes(t), t);
    assert.equal(v1TrainerInfo(t, 'x').equivalent, 'nnUNetTrainerV2');
  }
  const cascade = v1TrainerInfo('nnUNetTrainerV2CascadeFullRes', 'x');
  assert.equal(cascade.equivalent, 'nnUNetTrainerV2CascadeFullRes');
  assert.ok(cascade.cascade);
  assert.deepStrictEqual(v1MirrorAxes(v1TrainerInfo('nnUNetTrainerV2', 'x'), 3), [0, 1, 2]);
  assert.deepStrictEqual(v1MirrorAxes(v1TrainerInfo('nnUNetTrainerV2', 'x'), 2), [0, 1]);
  assert.deepStrictEqual(v1MirrorAxes(v1TrainerInfo('nnUNetTrainerV2_noMirroring', 'x'), 3), []);
  assert.deepStrictEqual(v1MirrorAxes(v1TrainerInfo('nnUNetTrainerV2_noDataAugmentation', 'x'), 2), []);
  for (const bad of ['nnUNetTrainerV2_BN', 'nnUNetTrainerV2_ResencUNet', 'nnUNetTrainerV2BraTSRegions', 'MyTrainer']) {
    assert.throws(
      () => v1TrainerInfo(bad, 'the/model/folder'),
      (e: unknown) => e instanceof NnunetError && e.message.includes(bad) && e.message.includes('the/model/folder'),
    );
  }
  // Architectural variants with other modules are refused with what differs.
  for (const [bad, why] of [
    ['nnUNetTrainerV2_ReLU', /ReLU instead of leaky ReLU/],
    ['nnUNetTrainerV2_LReLU_slope_2en1', /slope 0\.2/],
    ['nnUNetTrainerV2_lReLU_biasInSegOutput', /bias in the segmentation heads/],
    ['nnUNetTrainerV2_lReLU_convReLUIN', /before the instance norm/],
    ['nnUNetTrainerV2_GN', /group normalisation/],
    ['nnUNetTrainerV2_NoNormalization_lr1en3', /no normalisation/],
    ['nnUNetTrainerV2_ResencUNet_SimonsInit_DA5', /residual-encoder/],
  ] as const) {
    assert.ok(!supported.includes(bad), bad);
    assert.throws(
      () => v1TrainerInfo(bad, 'the/model/folder'),
      (e: unknown) => e instanceof NnunetError && e.message.includes(bad) && why.test(e.message),
    );
  }
});

test("v1 architectural variants that keep Generic_UNet: their networks override the plans as v1's classes do", () => {
  // Hippocampus-like 3-D plans: base 32, 2 convolutions, a kernel of 1 along z in the first stage.
  const plans = JSON.parse(readFileSync(join(V1, 'plans_3d.json'), 'utf8')) as ReturnType<typeof readV1Plans>;
  const stage = plans.plans_per_stage['0'];
  assert.ok(stage);
  stage.conv_kernel_sizes = [
    [1, 3, 3],
    [3, 3, 3],
  ];
  assert.equal(plans.base_num_features, 32);
  const cfg = (t: string) => v1NetworkConfig(v1TrainerInfo(t, 'x'), plans, '0');
  const v2 = cfg('nnUNetTrainerV2');
  assert.deepStrictEqual([v2.baseNumFeatures, v2.convPerStage, v2.inputChannels], [32, 2, 1]);
  assert.deepStrictEqual(v2.convKernelSizes, stage.conv_kernel_sizes);
  assert.equal(v2.deepSupervision, false);
  // nnUNetTrainerV2_3ConvPerStage sets base_num_features = 24 in initialize_network, over the plans' 32.
  assert.equal(V1_3CONV_BASE_NUM_FEATURES, 24);
  const three = cfg('nnUNetTrainerV2_3ConvPerStage');
  assert.deepStrictEqual([three.baseNumFeatures, three.convPerStage], [24, 3]);
  // ...SameFilters keeps the plans' features.
  const same = cfg('nnUNetTrainerV2_3ConvPerStageSameFilters');
  assert.deepStrictEqual([same.baseNumFeatures, same.convPerStage], [32, 3]);
  // allConv3x3 replaces every kernel by 3; pooling is left alone.
  const all3 = cfg('nnUNetTrainerV2_allConv3x3');
  assert.deepStrictEqual(all3.convKernelSizes, [
    [3, 3, 3],
    [3, 3, 3],
  ]);
  assert.deepStrictEqual(all3.poolOpKernelSizes, v2.poolOpKernelSizes);
  assert.equal(all3.baseNumFeatures, 32);
  // The cascade reads the image plus the one-hot classes of the low-resolution stage.
  assert.equal(cfg('nnUNetTrainerV2CascadeFullRes').inputChannels, 1 + plans.num_classes);
});

test('a v1 model folder loads into GenericUNet: folds, stage, epoch, mirror axes and parameter counts', () => {
  for (const [cfg, params, axes] of [
    ['3d_fullres', 294_592, [0, 1, 2]],
    ['2d', 101_504, [0, 1]],
  ] as const) {
    assert.deepStrictEqual(availableFolds(folder(cfg)), ['0']);
    const { net, meta, plans } = loadNetwork(folder(cfg), '0');
    try {
      assert.equal(meta.stage, '0');
      assert.equal(meta.epoch, 2);
      assert.equal(meta.configuration, cfg);
      assert.equal(meta.trainer, 'nnUNetTrainerV2');
      assert.deepStrictEqual(meta.mirror_axes, axes);
      assert.equal(plans.num_classes, 2);
      assert.equal(
        net.parameters().reduce((a, p) => a + p.numel, 0),
        params,
      );
    } finally {
      net.dispose();
    }
  }
});

test("a DataParallel run's checkpoint ('module.' keys, legacy container) loads the same weights", () => {
  const plain = loadNetwork(folder('2d'), '0');
  const dp = loadNetwork(folder('2d', 'nnUNetTrainerV2_DP'), '0');
  try {
    assert.equal(dp.meta.trainer, 'nnUNetTrainerV2_DP');
    const a = plain.net.stateDict();
    const b = dp.net.stateDict();
    assert.deepStrictEqual([...b.keys()], [...a.keys()]);
    for (const [k, t] of a) assert.deepStrictEqual(b.get(k)?.toArray(), t.toArray(), k);
  } finally {
    plain.net.dispose();
    dp.net.dispose();
  }
});

test('without .model.pkl the trainer comes from the folder name: unsupported ones are refused, noMirroring does not mirror', () => {
  const dir = tempDir('nnunet-v1-');
  try {
    const bn = join(dir, 'nnUNet', '2d', 'Task906_Tiny', 'nnUNetTrainerV2_BN__nnUNetPlansv2.1');
    cpSync(folder('2d'), bn, { recursive: true });
    // Without .model.pkl the trainer comes from the folder name.
    rmSync(join(bn, 'fold_0', 'model_final_checkpoint.model.pkl'));
    assert.throws(
      () => loadNetwork(bn, '0'),
      (e: unknown) => e instanceof NnunetError && /nnUNetTrainerV2_BN/.test(e.message),
    );
    assert.throws(
      () => loadNetwork(bn, '1'),
      (e: unknown) => e instanceof NnunetError && e.code === 'ERR_NOT_FOUND',
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("3ConvPerStage and cascade networks of v1 give v1's Generic_UNet logits", () => {
  const variants = join(V1, 'variants');
  const inputs = JSON.parse(readFileSync(join(variants, 'inputs.json'), 'utf8')) as Record<
    string,
    { trainer: string; input_shape: number[] }
  >;
  for (const [cfg, { trainer, input_shape }] of Object.entries(inputs)) {
    const { net, meta, plans } = loadNetwork(
      join(variants, 'nnUNet', cfg, 'Task906_Tiny', `${trainer}__nnUNetPlansv2.1`),
      '0',
    );
    const n = product(input_shape);
    // The generator's input: 2 sin(0.37 i) in float64, stored as float32.
    const x = tensor(
      Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37) * 2),
      { shape: input_shape },
    );
    try {
      assert.equal(meta.trainer, trainer);
      assert.equal(meta.configuration, cfg);
      assert.equal(meta.cascade, cfg === '3d_cascade_fullres');
      // The cascade network reads the image plus num_classes - 1 one-hot channels.
      assert.equal(net.config.inputChannels, input_shape[1]);
      assert.equal(net.config.convPerStage, cfg === '2d' ? 3 : 2);
      // 3ConvPerStage: the plans say 32 features, v1's trainer built (and saved) 24.
      assert.equal(plans.base_num_features, cfg === '2d' ? 32 : 4);
      assert.equal(net.config.baseNumFeatures, cfg === '2d' ? 24 : 4);
      const y = net.forwardLogits(x);
      const expected = readNpy(join(variants, `logits_${cfg}.npy`));
      assert.deepStrictEqual(y.shape, expected.shape);
      const got = y.toArray();
      y.dispose();
      let maxAbs = 0;
      got.forEach((v, i) => {
        maxAbs = Math.max(maxAbs, Math.abs(v - (expected.data[i] as number)));
      });
      assert.ok(maxAbs < 1e-4, `${trainer}: max abs logit difference ${maxAbs}`);
    } finally {
      x.dispose();
      net.dispose();
    }
  }
});

test('a v1 cascade checkpoint is a 3d_cascade_fullres model by its trainer, whatever its folder is called', () => {
  const dir = tempDir('nnunet-v1-cascade-');
  try {
    const src = join(V1, 'variants', 'nnUNet', '3d_cascade_fullres', 'Task906_Tiny');
    const name = 'nnUNetTrainerV2CascadeFullRes__nnUNetPlansv2.1';
    // Under a 3d_fullres folder, and outside the results layout altogether.
    for (const where of [join(dir, 'nnUNet', '3d_fullres', 'Task906_Tiny', name), join(dir, 'loose', name)]) {
      cpSync(join(src, name), where, { recursive: true });
      const { net, meta } = loadNetwork(where, '0');
      net.dispose();
      assert.equal(meta.cascade, true, where);
      assert.equal(meta.configuration, '3d_cascade_fullres', where);
    }
    // Not a cascade trainer: the folder decides, as before.
    const plain = join(dir, 'nnUNet', '3d_fullres', 'Task906_Tiny', 'nnUNetTrainerV2__nnUNetPlansv2.1');
    cpSync(folder('3d_fullres'), plain, { recursive: true });
    const { net, meta } = loadNetwork(plain, '0');
    net.dispose();
    assert.equal(meta.configuration, '3d_fullres');
    assert.equal(meta.cascade, false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("v1's postprocessing.json (Python json, 'None' sizes) is read by our postprocessing", () => {
  const pp3 = readPostprocessingJson(join(folder('3d_fullres'), 'fold_0', 'postprocessing.json'));
  assert.deepStrictEqual(pp3.for_which_classes, []);
  const pp2 = readPostprocessingJson(join(folder('2d'), 'fold_0', 'postprocessing.json'));
  assert.deepStrictEqual(pp2.for_which_classes, [1]);
  assert.equal(pp2.min_valid_object_sizes, null);
});
