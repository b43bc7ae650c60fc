/** Spatial augmentation: v1's loader patch size, Gaussian kernels, rotation, scaling, borders, dummy 2-D. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Generator, rand, randint, randn, type Tensor, tensor, tidy, zeros } from '@nnunet/torch';
import {
  type AugmentationParams,
  AugmentationRandom,
  applySpatialTransform,
  createAugmentation,
  DEFAULT_3D,
  degrees,
  drawSpatialSample,
  fromV1DataAugParams,
  gaussianFilter,
  getPatchSize,
  rotationSampleMatrix,
  scaleMatrix,
  trainerV2AugmentationParams,
} from '../../src/training/augmentation/index.js';

const LINEAR = { borderValueSeg: -1, dataInterpolation: 'linear' } as const;

/** v1's 3-D defaults with every random transform off. */
function noAugmentation(patchSize: readonly number[]): AugmentationParams {
  return {
    ...DEFAULT_3D,
    patchSize,
    elastic: { ...DEFAULT_3D.elastic, probability: 0 },
    rotation: { ...DEFAULT_3D.rotation, probability: 0 },
    scaling: { ...DEFAULT_3D.scaling, probability: 0 },
    noise: { ...DEFAULT_3D.noise, probability: 0 },
    blur: { ...DEFAULT_3D.blur, probability: 0 },
    brightness: { ...DEFAULT_3D.brightness, probability: 0 },
    contrast: { ...DEFAULT_3D.contrast, probability: 0 },
    lowResolution: { ...DEFAULT_3D.lowResolution, probability: 0 },
    invertedGammaProbability: 0,
    gamma: { ...DEFAULT_3D.gamma, probability: 0 },
    mirror: { ...DEFAULT_3D.mirror, enabled: false },
  };
}

/** Flat C-order index of `idx` in `shape`. */
function flat(shape: readonly number[], idx: readonly number[]): number {
  return idx.reduce((acc, v, d) => acc * (shape[d] as number) + v, 0);
}

function allIndices(shape: readonly number[]): number[][] {
  const out: number[][] = [];
  const walk = (prefix: number[]): void => {
    if (prefix.length === shape.length) {
      out.push(prefix);
      return;
    }
    for (let i = 0; i < (shape[prefix.length] as number); i++) walk([...prefix, i]);
  };
  walk([]);
  return out;
}

test('getPatchSize equals v1 get_patch_size (values from a NumPy re-statement of v1)', () => {
  const d30 = [degrees(-30), degrees(30)] as const;
  const d15 = [degrees(-15), degrees(15)] as const;
  const d180 = [degrees(-180), degrees(180)] as const;
  const none = [0, 0] as const;
  const rot = (a0: readonly [number, number], a1 = none as readonly [number, number], a2 = a1) => ({
    axis0: a0,
    axis1: a1,
    axis2: a2,
  });
  assert.deepEqual(getPatchSize([40, 56, 40], rot(d30, d30, d30), [0.85, 1.25]), [73, 80, 64]);
  assert.deepEqual(getPatchSize([28, 256, 256], rot(d30, d30, d30), [0.85, 1.25]), [179, 411, 301]);
  assert.deepEqual(getPatchSize([256, 224], rot(d180), [0.85, 1.25]), [301, 301]);
  assert.deepEqual(getPatchSize([56, 40], rot(d180), [0.85, 1.25]), [65, 65]);
  assert.deepEqual(getPatchSize([256, 224], rot(d15), [0.85, 1.25]), [359, 263]);
});

test('trainerV2AugmentationParams: nnUNetTrainerV2.setup_DA_params', () => {
  const hippo = trainerV2AugmentationParams({ patchSize: [40, 56, 40], doDummy2DAug: false });
  assert.deepEqual(hippo.basicGeneratorPatchSize, [73, 80, 64]);
  assert.deepEqual(hippo.params.scaling.range, [0.7, 1.4]);
  assert.equal(hippo.params.elastic.enabled, false);
  assert.equal(hippo.params.rotation.axis1[1], (30 / 360) * 2 * Math.PI);
  assert.deepEqual(hippo.params.mirror.axes, [0, 1, 2]);
  const dummy = trainerV2AugmentationParams({ patchSize: [20, 160, 128], doDummy2DAug: true });
  assert.equal(dummy.params.dummy2D, true);
  assert.deepEqual(dummy.basicGeneratorPatchSize, [20, 188, 188]);
  assert.equal(dummy.params.rotation.axis0[1], Math.PI);
  const twoD = trainerV2AugmentationParams({ patchSize: [256, 224], doDummy2DAug: false });
  assert.deepEqual(twoD.basicGeneratorPatchSize, [301, 301]);
  assert.deepEqual(twoD.params.mirror.axes, [0, 1]);
  const elongated = trainerV2AugmentationParams({ patchSize: [512, 128], doDummy2DAug: false });
  assert.equal(elongated.params.rotation.axis0[1], (15 / 360) * 2 * Math.PI);
  // the shared defaults stay v1's (v1's trainer mutated its module-level dicts)
  assert.deepEqual(DEFAULT_3D.scaling.range, [0.85, 1.25]);
  assert.throws(() => {
    (DEFAULT_3D.scaling as { probability: number }).probability = 1;
  }, TypeError);
});

test('fromV1DataAugParams reads v1 data_aug_params (nnUNetTrainerV2, hippocampus 3d_fullres)', () => {
  const d = (x: number) => (x / 360) * 2 * Math.PI;
  // data_aug_params as nnUNetTrainerV2.setup_DA_params leaves them (v1 key names)
  const v1 = {
    patch_size_for_spatialtransform: [40, 56, 40],
    dummy_2D: false,
    do_elastic: false,
    elastic_deform_alpha: [0, 900],
    elastic_deform_sigma: [9, 13],
    p_eldef: 0.2,
    do_rotation: true,
    rotation_x: [d(-30), d(30)],
    rotation_y: [d(-30), d(30)],
    rotation_z: [d(-30), d(30)],
    rotation_p_per_axis: 1,
    p_rot: 0.2,
    do_scaling: true,
    scale_range: [0.7, 1.4],
    independent_scale_factor_for_each_axis: false,
    p_independent_scale_per_axis: 1,
    p_scale: 0.2,
    do_gamma: true,
    gamma_retain_stats: true,
    gamma_range: [0.7, 1.5],
    p_gamma: 0.3,
    do_mirror: true,
    mirror_axes: [0, 1, 2],
    mask_was_used_for_normalization: { '0': false },
    do_additive_brightness: false,
    additive_brightness_mu: 0,
    additive_brightness_sigma: 0.1,
    additive_brightness_p_per_sample: 0.15,
    additive_brightness_p_per_channel: 0.5,
  };
  const ours = trainerV2AugmentationParams({ patchSize: [40, 56, 40], doDummy2DAug: false, useMaskForNorm: [false] });
  assert.deepEqual(fromV1DataAugParams(v1), ours.params);
  assert.deepEqual(
    fromV1DataAugParams({ ...v1, mask_was_used_for_normalization: { '1': true, '0': false } })
      .maskWasUsedForNormalization,
    [false, true],
  );
});

test('gaussianFilter equals scipy.ndimage.gaussian_filter (reflect and constant borders)', () => {
  tidy(() => {
    const values: number[] = [];
    for (const [i, j, k] of allIndices([4, 5, 6]))
      values.push((((i as number) * 7 + (j as number) * 3 + (k as number) * 5) % 11) - 5);
    const x = tensor(values, { shape: [1, 1, 4, 5, 6], dtype: 'float64' });
    const cases = [
      [
        0.8,
        'reflect',
        [-1.729430540825979, -0.16711255484086765, -0.46913112904624005, -0.32140626043646603, -0.7416832474114471],
        26.49912020142769,
      ],
      // radius 8 > every size: the reflection repeats beyond the edges as in scipy
      [
        2.0,
        'reflect',
        [-0.07029842966492872, -0.03448630740426338, 0.04486439825934617, -0.007301925919602735, -0.15659255103012693],
        0.5680937443991181,
      ],
      [
        1.5,
        'constant',
        [
          -0.04419937665216418, -0.016346731060789828, 0.008893064610548458, -0.016879980678858125,
          -0.05119806757856789,
        ],
        0.13061849048458338,
      ],
    ] as const;
    for (const [sigma, border, picks, sumSq] of cases) {
      const y = gaussianFilter(x, sigma, border).toArray();
      [0, 7, 33, 64, 119].forEach((at, n) => {
        assert.ok(Math.abs((y[at] as number) - (picks[n] as number)) < 1e-12, `${sigma} ${border} voxel ${at}`);
      });
      const got = y.reduce((s, v) => s + v * v, 0);
      assert.ok(Math.abs(got - sumSq) < 1e-10, `${sigma} ${border} sum of squares ${got} vs ${sumSq}`);
    }
    const v2: number[] = [];
    for (const [i, j] of allIndices([6, 5])) v2.push((((i as number) * 3 + (j as number) * 5) % 7) - 3);
    const y2 = gaussianFilter(tensor(v2, { shape: [1, 1, 6, 5], dtype: 'float64' }), [0.6, 1.1], 'reflect').toArray();
    const want = [-1.058236196302046, 0.9879185891994453, -0.18663373294338587, -1.4402874923898752];
    [0, 4, 17, 29].forEach((at, n) => {
      assert.ok(Math.abs((y2[at] as number) - (want[n] as number)) < 1e-12);
    });
  });
});

test('a 90° rotation about axis 0 sends input offset (c0, c2, -c1) to output offset (c0, c1, c2), as v1 (c · Rx)', () => {
  tidy(() => {
    // even sizes everywhere: every output centre falls on an input voxel centre
    const inSize = [10, 12, 12];
    const out = [6, 8, 8];
    const data = randn([1, 1, ...inSize], { generator: new Generator(3) });
    const seg = randint(0, 4, [1, 1, ...inSize], { generator: new Generator(4) }).float();
    const sample = { matrix: rotationSampleMatrix([Math.PI / 2, 0, 0]), displacement: null };
    const r = applySpatialTransform(data, seg, out, [sample], LINEAR);
    const d = data.toArray();
    const s = seg.toArray();
    const rd = r.data.toArray();
    const rs = r.seg.toArray();
    const cIn = inSize.map((v) => (v - 1) / 2);
    const cOut = out.map((v) => (v - 1) / 2);
    // batchgenerators: input = centre_in + c · Rx(90°), Rx(90°) = [[1,0,0],[0,0,-1],[0,1,0]]
    for (const o of allIndices(out)) {
      const c = o.map((v, i) => v - (cOut[i] as number));
      const src = [
        (cIn[0] as number) + (c[0] as number),
        (cIn[1] as number) + (c[2] as number),
        (cIn[2] as number) - (c[1] as number),
      ];
      assert.ok(Math.abs((rd[flat(out, o)] as number) - (d[flat(inSize, src)] as number)) < 1e-4, `data at ${o}`);
      assert.equal(rs[flat(out, o)], s[flat(inSize, src)], `seg at ${o}`);
    }
    // and one marked voxel lands where expected: input (6, 8, 3) -> output (4, 6, 6)
    const marked = zeros([1, 1, ...inSize]);
    marked.select(0, 0).select(0, 0).select(0, 6).select(0, 8).select(0, 3).fill_(1);
    const m = applySpatialTransform(marked, seg, out, [sample], LINEAR).data.toArray();
    const at = m.indexOf(Math.max(...m));
    assert.equal(at, flat(out, [4, 6, 6]));
    assert.ok(Math.abs((m[at] as number) - 1) < 1e-5);
  });
});

test('a 90° rotation about axis 2 (v1 rotation_z) and in 2-D', () => {
  tidy(() => {
    const inSize = [8, 10, 10];
    const out = [6, 6, 6];
    const data = randn([1, 1, ...inSize], { generator: new Generator(5) });
    const seg = zeros([1, 1, ...inSize]);
    const r = applySpatialTransform(
      data,
      seg,
      out,
      [{ matrix: rotationSampleMatrix([0, 0, Math.PI / 2]), displacement: null }],
      LINEAR,
    );
    const d = data.toArray();
    const rd = r.data.toArray();
    // Rz(90°) = [[0,-1,0],[1,0,0],[0,0,1]]: c · Rz = (c1, -c0, c2)
    for (const o of allIndices(out)) {
      const c = o.map((v, i) => v - ((out[i] as number) - 1) / 2);
      const src = [
        ((inSize[0] as number) - 1) / 2 + (c[1] as number),
        ((inSize[1] as number) - 1) / 2 - (c[0] as number),
        ((inSize[2] as number) - 1) / 2 + (c[2] as number),
      ];
      assert.ok(Math.abs((rd[flat(out, o)] as number) - (d[flat(inSize, src)] as number)) < 1e-4);
    }
    // 2-D, R(90°) = [[0,-1],[1,0]]: c · R = (c1, -c0)
    const d2 = randn([1, 2, 10, 12], { generator: new Generator(6) });
    const r2 = applySpatialTransform(
      d2,
      zeros([1, 1, 10, 12]),
      [6, 8],
      [{ matrix: rotationSampleMatrix([Math.PI / 2]), displacement: null }],
      LINEAR,
    );
    const a2 = d2.toArray();
    const b2 = r2.data.toArray();
    for (const ch of [0, 1]) {
      for (const o of allIndices([6, 8])) {
        const c = [(o[0] as number) - 2.5, (o[1] as number) - 3.5];
        const src = [4.5 + (c[1] as number), 5.5 - (c[0] as number)];
        assert.ok(
          Math.abs((b2[flat([2, 6, 8], [ch, ...o])] as number) - (a2[flat([2, 10, 12], [ch, ...src])] as number)) <
            1e-4,
        );
      }
    }
  });
});

test('scaling coordinates by 0.5 (zoom 2) doubles a cube; by 2 halves it', () => {
  tidy(() => {
    const size = [16, 16, 16];
    const cube = zeros([1, 1, ...size]);
    cube.select(0, 0).select(0, 0).narrow(0, 6, 4).narrow(1, 6, 4).narrow(2, 6, 4).fill_(1);
    // linear interpolation blurs the edge: inside voxels read >= 0.75³ at corners, outside ones <= 0.25
    const count = (t: Tensor): number => t.gt(0.3).sum().item();
    assert.equal(count(cube), 64);
    const big = applySpatialTransform(cube, cube, size, [{ matrix: scaleMatrix(3, 0.5), displacement: null }], LINEAR);
    assert.equal(count(big.data), 8 ** 3);
    assert.equal(count(big.seg), 8 ** 3);
    assert.equal(big.seg.eq(-1).sum().item(), 0, 'zooming in never reaches the border');
    // centred: the enlarged cube spans voxels 4..11 on every axis
    assert.equal(big.seg.select(0, 0).narrow(1, 4, 8).narrow(2, 4, 8).narrow(3, 4, 8).sum().item(), 512);
    const small = applySpatialTransform(cube, cube, size, [{ matrix: scaleMatrix(3, 2), displacement: null }], LINEAR);
    assert.equal(count(small.seg), 2 ** 3);
    assert.ok(small.seg.eq(-1).sum().item() > 0, 'zooming out reaches the constant border');
  });
});

test('segmentation after random rotations and scalings: input labels only, -1 only outside the input', () => {
  tidy(() => {
    const params = {
      ...DEFAULT_3D,
      rotation: { ...DEFAULT_3D.rotation, probability: 1, axis0: [-1, 1], axis1: [-1, 1], axis2: [-1, 1] },
      scaling: { ...DEFAULT_3D.scaling, probability: 1, range: [0.7, 1.4] },
      elastic: { ...DEFAULT_3D.elastic, enabled: false },
    } as const;
    const rng = new AugmentationRandom(new Generator(11));
    const inSize = [20, 22, 18];
    const out = [12, 14, 12];
    const batch = 8;
    const seg = randint(1, 4, [batch, 1, ...inSize], { generator: new Generator(12) }).float(); // labels 1..3
    const ones = zeros([batch, 1, ...inSize]).add(1);
    const samples = Array.from({ length: batch }, () => drawSpatialSample(rng, params, out, 'float32', 'cpu'));
    const r = applySpatialTransform(ones, seg, out, samples, LINEAR);
    const labels = new Set(r.seg.toArray());
    for (const l of labels) assert.ok([1, 2, 3, -1].includes(l), `label ${l}`);
    assert.ok(labels.has(-1), 'zooming out by up to 1.4 reaches the border');
    // nearest outside <=> some axis more than half a voxel beyond the edge, where the linear
    // weight of the inside is below 0.5; nearest inside => every axis weight >= 0.5
    const border = r.seg.eq(-1);
    const inside = r.data;
    assert.ok(inside.maskedSelect(border).max().item() <= 0.5 + 1e-5);
    assert.ok(inside.maskedSelect(border.logicalNot()).min().item() >= 0.125 - 1e-5);
  });
});

test('elastic deformation: off gives the affine result; alpha 0 is the identity grid; on moves voxels', () => {
  tidy(() => {
    const size = [12, 12, 12];
    const data = randn([1, 1, ...size], { generator: new Generator(21) });
    const seg = randint(0, 3, [1, 1, ...size], { generator: new Generator(22) }).float();
    const base = {
      ...DEFAULT_3D,
      rotation: { ...DEFAULT_3D.rotation, enabled: false },
      scaling: { ...DEFAULT_3D.scaling, enabled: false },
    };
    const still = drawSpatialSample(
      new AugmentationRandom(new Generator(1)),
      { ...base, elastic: { ...base.elastic, probability: 1, alpha: [0, 0] } },
      size,
      'float32',
      'cpu',
    );
    assert.ok(still.displacement !== null);
    const same = applySpatialTransform(data, seg, size, [still], LINEAR);
    assert.ok(same.data.allclose(data, 1e-5, 1e-5));
    assert.ok(same.seg.equal(seg));
    const moved = drawSpatialSample(
      new AugmentationRandom(new Generator(2)),
      { ...base, elastic: { ...base.elastic, probability: 1, alpha: [900, 900], sigma: [3, 3] } },
      size,
      'float32',
      'cpu',
    );
    const warped = applySpatialTransform(data, seg, size, [moved], LINEAR);
    assert.ok(!warped.data.allclose(data, 1e-3, 1e-3));
    assert.ok(
      moved.displacement !== null && moved.displacement.abs().max().item() > 0.5,
      'voxels move by more than half a voxel',
    );
    for (const l of new Set(warped.seg.toArray())) assert.ok([0, 1, 2, -1].includes(l));
  });
});

test('dummy 2-D: slices are transformed alike and never mixed; low resolution leaves axis 0 alone', () => {
  tidy(() => {
    const patch = [6, 20, 20];
    const params = {
      ...noAugmentation(patch),
      dummy2D: true,
      rotation: { ...DEFAULT_3D.rotation, probability: 1, axis0: [-Math.PI, Math.PI] },
      scaling: { ...DEFAULT_3D.scaling, probability: 1, range: [0.7, 1.4] },
      lowResolution: { probability: 1, probabilityPerChannel: 1, zoomRange: [0.5, 0.5] },
    } as const;
    const aug = createAugmentation(params, { generator: new Generator(8) });
    // slice z holds the constant z + 1 in every voxel; seg holds label z % 3
    const batch = 4;
    const inSize = [6, 30, 30];
    const data = zeros([batch, 1, ...inSize]);
    const seg = zeros([batch, 1, ...inSize]);
    for (let z = 0; z < 6; z++) {
      data.narrow(2, z, 1).fill_(z + 1);
      seg.narrow(2, z, 1).fill_(z % 3);
    }
    const { data: d, seg: s } = aug(data, seg);
    assert.deepEqual(d.shape, [batch, 1, ...patch]);
    for (let z = 0; z < 6; z++) {
      const slice = d.narrow(2, z, 1);
      // rotation/scaling in-plane: values are z + 1 inside, 0 beyond the border, blends at the edge;
      // nothing from other slices, so every value lies in [0, z + 1]
      assert.ok(slice.max().item() <= z + 1 + 1e-4 && slice.min().item() >= -1e-4, `slice ${z}`);
      assert.ok(Math.abs(slice.max().item() - (z + 1)) < 1e-4, `slice ${z} keeps its value`);
      const labels = new Set(s.narrow(2, z, 1).toArray());
      for (const l of labels) assert.ok(l === z % 3 || l === 0, `slice ${z} label ${l}`);
    }
  });
});

test('one call mixes centre-cropped and transformed samples of a batch', () => {
  tidy(() => {
    const data = rand([3, 2, 9, 11, 10], { generator: new Generator(31) });
    const seg = randint(0, 2, [3, 1, 9, 11, 10], { generator: new Generator(32) }).float();
    const samples = [
      { matrix: null, displacement: null },
      { matrix: rotationSampleMatrix([0.3, -0.2, 0.1]), displacement: null },
      { matrix: null, displacement: null },
    ];
    const r = applySpatialTransform(data, seg, [5, 7, 6], samples, LINEAR);
    // v1 centre crop: lower bound (in - patch) // 2
    const crop = (t: Tensor, b: number) => t.select(0, b).narrow(1, 2, 5).narrow(2, 2, 7).narrow(3, 2, 6);
    assert.ok(r.data.select(0, 0).equal(crop(data, 0)));
    assert.ok(r.data.select(0, 2).equal(crop(data, 2)));
    assert.ok(r.seg.select(0, 2).equal(crop(seg, 2)));
    assert.ok(!r.data.select(0, 1).equal(crop(data, 1)));
  });
});
