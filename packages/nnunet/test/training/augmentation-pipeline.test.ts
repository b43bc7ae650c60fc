/** The whole augmentation: identity, segmentation handling, reproducibility, probabilities, memory, speed. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cuda, Generator, memoryStats, randint, randn, type Tensor, tidy } from '@nnunet/torch';
import { NnunetError } from '../../src/errors.js';
import {
  type AugmentationParams,
  AugmentationRandom,
  centerCrop,
  createAugmentation,
  DEFAULT_2D,
  DEFAULT_3D,
  drawSpatialSample,
  trainerV2AugmentationParams,
} from '../../src/training/augmentation/index.js';

/** `base` with every random transform off. */
function noAugmentation(base: AugmentationParams, patchSize: readonly number[]): AugmentationParams {
  return {
    ...base,
    patchSize,
    elastic: { ...base.elastic, probability: 0 },
    rotation: { ...base.rotation, probability: 0 },
    scaling: { ...base.scaling, probability: 0 },
    noise: { ...base.noise, probability: 0 },
    blur: { ...base.blur, probability: 0 },
    brightness: { ...base.brightness, probability: 0 },
    additiveBrightness: { ...base.additiveBrightness, probabilityPerSample: 0 },
    contrast: { ...base.contrast, probability: 0 },
    lowResolution: { ...base.lowResolution, probability: 0 },
    invertedGammaProbability: 0,
    gamma: { ...base.gamma, probability: 0 },
    mirror: { ...base.mirror, enabled: false },
  };
}

/** `base` with every random transform certain (elastic included). */
function everything(base: AugmentationParams): AugmentationParams {
  return {
    ...base,
    elastic: { ...base.elastic, enabled: true, probability: 1 },
    rotation: { ...base.rotation, probability: 1 },
    scaling: { ...base.scaling, probability: 1 },
    noise: { ...base.noise, probability: 1 },
    blur: { ...base.blur, probability: 1, probabilityPerChannel: 1 },
    brightness: { ...base.brightness, probability: 1 },
    additiveBrightness: {
      ...base.additiveBrightness,
      enabled: true,
      probabilityPerSample: 1,
      probabilityPerChannel: 1,
    },
    contrast: { ...base.contrast, probability: 1 },
    lowResolution: { ...base.lowResolution, probability: 1, probabilityPerChannel: 1 },
    invertedGammaProbability: 1,
    gamma: { ...base.gamma, probability: 1 },
  };
}

function batch(shape: readonly number[], labels: number, seed: number, segChannels = 1): { data: Tensor; seg: Tensor } {
  const g = new Generator(seed);
  const data = randn(shape, { generator: g });
  const seg = randint(-1, labels, [shape[0] as number, segChannels, ...shape.slice(2)], { generator: g }).float();
  return { data, seg };
}

test('all probabilities 0: the output is the centre crop of the input (3-D, 2-D, dummy 2-D), -1 labels become 0', () => {
  tidy(() => {
    const cases: [AugmentationParams, number[], number[]][] = [
      [DEFAULT_3D, [3, 2, 13, 15, 12], [8, 10, 9]],
      [DEFAULT_2D, [4, 1, 21, 17], [12, 16]],
      [{ ...DEFAULT_3D, dummy2D: true }, [2, 2, 6, 15, 14], [6, 10, 10]],
    ];
    for (const [base, shape, patch] of cases) {
      const { data, seg } = batch(shape, 3, 1);
      const segInt = seg.to('int64');
      const out = createAugmentation(noAugmentation(base, patch), { generator: new Generator(0) })(data, segInt);
      assert.ok(out.data.equal(centerCrop(data, patch, 0)), `data of ${shape}`);
      const wantSeg = centerCrop(segInt, patch, -1);
      assert.ok(out.seg.equal(wantSeg.maskedFill(wantSeg.eq(-1), 0)), `seg of ${shape}`);
      assert.equal(out.seg.dtype, 'int64');
      assert.ok(data.equal(batch(shape, 3, 1).data), 'the input is not modified');
    }
  });
});

test('everything on: shapes, finite data, labels from the input plus 0 (from -1) only', () => {
  tidy(() => {
    for (const [params, shape] of [
      [
        everything({ ...trainerV2AugmentationParams({ patchSize: [12, 14, 12], doDummy2DAug: false }).params }),
        [3, 2, 22, 24, 21],
      ],
      [
        everything(trainerV2AugmentationParams({ patchSize: [6, 16, 16], doDummy2DAug: true }).params),
        [3, 1, 6, 26, 26],
      ],
      [
        everything({
          ...trainerV2AugmentationParams({ patchSize: [20, 24], doDummy2DAug: false }).params,
          dataInterpolation: 'cubic',
        }),
        [3, 3, 34, 36],
      ],
    ] as const) {
      const g = new Generator(5);
      const data = randn([...shape], { generator: g });
      const seg = randint(1, 4, [shape[0], 1, ...shape.slice(2)], { generator: g }).float();
      const out = createAugmentation(params, { generator: new Generator(6) })(data, seg);
      assert.deepEqual(out.data.shape, [shape[0], shape[1], ...params.patchSize]);
      assert.deepEqual(out.seg.shape, [shape[0], 1, ...params.patchSize]);
      assert.ok(out.data.isfinite().all().item());
      for (const l of new Set(out.seg.toArray())) assert.ok([0, 1, 2, 3].includes(l), `label ${l}`);
    }
  });
});

test('mask_was_used_for_normalization: masked channels are 0 where the segmentation is -1', () => {
  tidy(() => {
    const { data, seg } = batch([2, 2, 8, 8, 8], 2, 7);
    const params = { ...noAugmentation(DEFAULT_3D, [8, 8, 8]), maskWasUsedForNormalization: [true, false] };
    const out = createAugmentation(params, { generator: new Generator(0) })(data, seg);
    const outside = seg.eq(-1).select(1, 0);
    assert.ok(outside.sum().item() > 0);
    assert.equal(out.data.select(1, 0).maskedSelect(outside).abs().sum().item(), 0);
    assert.ok(
      out.data
        .select(1, 0)
        .maskedSelect(outside.logicalNot())
        .equal(data.select(1, 0).maskedSelect(outside.logicalNot())),
    );
    assert.ok(out.data.select(1, 1).equal(data.select(1, 1)));
  });
});

test('a seeded generator reproduces the batches; another seed does not', () => {
  tidy(() => {
    const params = everything(trainerV2AugmentationParams({ patchSize: [10, 12, 10], doDummy2DAug: false }).params);
    const { data, seg } = batch([3, 1, 18, 20, 18], 3, 9);
    const a = createAugmentation(params, { generator: new Generator(42) });
    const b = createAugmentation(params, { generator: new Generator(42) });
    const c = createAugmentation(params, { generator: new Generator(43) });
    for (let i = 0; i < 3; i++) {
      const x = a(data, seg);
      const y = b(data, seg);
      const z = c(data, seg);
      assert.ok(x.data.equal(y.data) && x.seg.equal(y.seg), `call ${i} repeats`);
      assert.ok(!x.data.equal(z.data), `call ${i} differs with another seed`);
    }
  });
});

test('spatial probabilities as v1 over many draws: rotation 0.2, scaling 0.2, half of the scales below 1', () => {
  const { params } = trainerV2AugmentationParams({ patchSize: [40, 56, 40], doDummy2DAug: false });
  const rng = new AugmentationRandom(new Generator(17));
  const draws = 5000;
  let rotated = 0;
  let transformed = 0;
  let zoomIn = 0;
  let scaledOnly = 0;
  for (let i = 0; i < draws; i++) {
    const s = drawSpatialSample(rng, params, params.patchSize, 'float32', 'cpu');
    assert.equal(s.displacement, null, 'nnUNetTrainerV2 has no elastic deformation');
    if (s.matrix === null) continue;
    transformed++;
    const m = s.matrix;
    const offDiagonal = m.some((row, r) => row.some((v, c) => r !== c && Math.abs(v) > 1e-12));
    if (offDiagonal) rotated++;
    else {
      scaledOnly++;
      if ((m[0]?.[0] as number) < 1) zoomIn++;
    }
  }
  assert.ok(Math.abs(rotated / draws - 0.2) < 0.02, `rotated ${rotated / draws}`);
  assert.ok(Math.abs(transformed / draws - 0.36) < 0.02, `transformed ${transformed / draws} (1 - 0.8²)`);
  assert.ok(Math.abs(zoomIn / scaledOnly - 0.5) < 0.05, `zoom-in share ${zoomIn / scaledOnly}`);
});

test('no live tensors are left behind over 200 calls', () => {
  const params = everything(trainerV2AugmentationParams({ patchSize: [8, 10, 8], doDummy2DAug: false }).params);
  const aug = createAugmentation(params, { generator: new Generator(3) });
  const { data, seg } = batch([2, 2, 14, 16, 14], 3, 11);
  const warm = aug(data, seg);
  warm.data.dispose();
  warm.seg.dispose();
  const before = memoryStats();
  for (let i = 0; i < 200; i++) {
    const out = aug(data, seg);
    out.data.dispose();
    out.seg.dispose();
  }
  const after = memoryStats();
  assert.equal(after.liveTensors, before.liveTensors);
  assert.equal(after.liveBytes, before.liveBytes);
  data.dispose();
  seg.dispose();
});

test('bad parameters and batches are argument errors', () => {
  const isArg = (e: unknown) => e instanceof NnunetError && e.code === 'ERR_ARGUMENT';
  const g = { generator: new Generator(0) };
  assert.throws(() => createAugmentation({ ...DEFAULT_2D, patchSize: [8, 8], dummy2D: true }, g), isArg);
  assert.throws(
    () => createAugmentation({ ...DEFAULT_3D, patchSize: [8, 8, 8], dataInterpolation: 'cubic' }, g),
    isArg,
  );
  assert.throws(
    () => createAugmentation({ ...DEFAULT_2D, patchSize: [8, 8], mirror: { enabled: true, axes: [2] } }, g),
    isArg,
  );
  assert.throws(
    () => createAugmentation({ ...DEFAULT_3D, patchSize: [8, 8, 8], noise: { probability: 2, stdRange: [0, 1] } }, g),
    isArg,
  );
  const aug = createAugmentation({ ...DEFAULT_3D, patchSize: [4, 4, 4] }, g);
  tidy(() => {
    assert.throws(() => aug(randn([1, 1, 8, 8]), randn([1, 1, 8, 8])), isArg);
    assert.throws(() => aug(randn([1, 1, 8, 8, 8]), randn([1, 1, 8, 8, 7])), isArg);
    assert.throws(() => aug(randn([1, 1, 8, 8, 8]).to('int32'), randn([1, 1, 8, 8, 8])), isArg);
  });
});

test('CUDA gives the CPU result for the same seed', { skip: !cuda.isAvailable() && 'no CUDA device' }, () => {
  tidy(() => {
    const params = everything(trainerV2AugmentationParams({ patchSize: [12, 14, 12], doDummy2DAug: false }).params);
    const { data, seg } = batch([2, 2, 22, 24, 21], 3, 13);
    const cpu = createAugmentation(params, { generator: new Generator(1) })(data, seg);
    const gpu = createAugmentation(params, { generator: new Generator(1) })(data.to('cuda'), seg.to('cuda'));
    assert.equal(gpu.data.device, 'cuda:0');
    const d = gpu.data.cpu().sub(cpu.data).abs();
    assert.ok(d.max().item() < 1e-3, `max difference ${d.max().item()}`);
    // nearest sampling may round differently on a tie; allow a handful of voxels
    assert.ok(gpu.seg.cpu().ne(cpu.seg).sum().item() < 10);
  });
});

test('timing: nnUNetTrainerV2 augmentation of 7 x 1 x 73 x 80 x 64 (hippocampus 3d_fullres) on CPU', (t) => {
  const { params, basicGeneratorPatchSize } = trainerV2AugmentationParams({
    patchSize: [40, 56, 40],
    doDummy2DAug: false,
  });
  const { data, seg } = batch([7, 1, ...basicGeneratorPatchSize], 3, 15);
  const time = (p: AugmentationParams, reps: number): number => {
    const aug = createAugmentation(p, { generator: new Generator(2) });
    const run = () => {
      const o = aug(data, seg);
      o.data.dispose();
      o.seg.dispose();
    };
    run();
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) run();
    return (performance.now() - t0) / reps;
  };
  const typical = time(params, 10);
  const all = everything(params);
  const worst = time({ ...all, elastic: { ...all.elastic, enabled: false } }, 3);
  const elastic = time(all, 1);
  t.diagnostic(
    `7 x 1 x [${basicGeneratorPatchSize.join(', ')}] -> [40, 56, 40]: ${typical.toFixed(1)} ms per batch with v1's ` +
      `probabilities, ${worst.toFixed(1)} ms with every transform applied, ${elastic.toFixed(1)} ms with elastic deformation too`,
  );
  data.dispose();
  seg.dispose();
});
