/** Intensity augmentation: noise, blur, brightness, contrast, gamma, low resolution, mirroring. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Generator, randint, randn, type Tensor, tensor, tidy, zeros } from '@nnunet/torch';
import { roundHalfEven } from '../../src/compat/numpy.js';
import {
  AugmentationRandom,
  brightnessAdditive_,
  brightnessMultiplicative_,
  contrast_,
  DEFAULT_3D,
  gamma_,
  gaussianBlur_,
  gaussianKernel1d,
  gaussianNoise_,
  mirror_,
  resizeNearestCentred,
  simulateLowResolution_,
} from '../../src/training/augmentation/index.js';

const rngOf = (seed: number) => new AugmentationRandom(new Generator(seed));

/** Per-(sample, channel) statistic of x [B, C, ...]: a [B * C] array. */
function perChannel(x: Tensor, stat: (v: Tensor) => Tensor): number[] {
  return stat(x.flatten(2)).flatten().toArray();
}
const meanOf = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;

test('Gaussian noise: one std per sample, uniform in [0, 0.1]; applied with its probability', () => {
  tidy(() => {
    const x = zeros([400, 1, 12, 12, 12]);
    gaussianNoise_(x, rngOf(1), { probability: 1, stdRange: [0, 0.1] });
    const stds = perChannel(x, (v) => v.std(2));
    assert.ok(Math.max(...stds) < 0.1 * 1.1, `max std ${Math.max(...stds)}`);
    assert.ok(Math.abs(meanOf(stds) - 0.05) < 0.006, `mean std ${meanOf(stds)} (uniform in [0, 0.1] has mean 0.05)`);
    assert.ok(stds.filter((s) => s < 0.05).length > 150 && stds.filter((s) => s > 0.05).length > 150);
    const y = zeros([1000, 1, 2, 2, 2]);
    gaussianNoise_(y, rngOf(2), DEFAULT_3D.noise);
    const hit = perChannel(y, (v) => v.abs().amax(2)).filter((m) => m > 0).length / 1000;
    assert.ok(Math.abs(hit - 0.1) < 0.03, `fraction with noise ${hit} (v1 p_per_sample 0.1)`);
  });
});

test('Gaussian blur: each chosen channel gets a sigma in [0.5, 1]; channel probability 0.5', () => {
  tidy(() => {
    const size = 24;
    const x = randn([60, 2, size, size, size], { generator: new Generator(3) });
    const before = perChannel(x, (v) => v.var(2));
    gaussianBlur_(x, rngOf(4), { probability: 1, probabilityPerChannel: 0.5, sigmaRange: [0.5, 1] });
    const after = perChannel(x, (v) => v.var(2));
    // white noise of variance s² through a separable kernel w keeps variance s² (Σ w²)³ (borders aside)
    const gain = (sigma: number) => gaussianKernel1d(sigma).reduce((a, w) => a + w * w, 0) ** 3;
    let blurred = 0;
    after.forEach((v, i) => {
      const ratio = v / (before[i] as number);
      if (ratio > 0.999) return; // untouched channel
      blurred++;
      assert.ok(ratio > gain(1) * 0.9 && ratio < gain(0.5) * 1.1, `variance ratio ${ratio}`);
    });
    assert.ok(Math.abs(blurred / after.length - 0.5) < 0.12, `blurred fraction ${blurred / after.length}`);
  });
});

test('multiplicative brightness: factors in [0.75, 1.25] per channel, mean 1', () => {
  tidy(() => {
    const x = zeros([500, 2, 2, 2, 2]).add(1);
    brightnessMultiplicative_(x, rngOf(5), { probability: 1, multiplierRange: [0.75, 1.25] });
    const f = perChannel(x, (v) => v.mean(2));
    assert.ok(Math.min(...f) >= 0.75 && Math.max(...f) <= 1.25);
    assert.ok(Math.abs(meanOf(f) - 1) < 0.01, `mean factor ${meanOf(f)}`);
    const spread = perChannel(x, (v) => v.amax(2).sub(v.amin(2)));
    assert.ok(Math.max(...spread) < 1e-6, 'one factor for the whole channel');
    const y = zeros([1000, 1, 2, 2]).add(1);
    brightnessMultiplicative_(y, rngOf(6), DEFAULT_3D.brightness);
    const hit = perChannel(y, (v) => v.mean(2)).filter((m) => m !== 1).length / 1000;
    assert.ok(Math.abs(hit - 0.15) < 0.035, `fraction ${hit} (v1 p_per_sample 0.15)`);
  });
});

test('additive brightness: N(mu, sigma) per chosen channel', () => {
  tidy(() => {
    const x = zeros([2000, 1, 2, 2]);
    brightnessAdditive_(x, rngOf(7), {
      enabled: true,
      mu: 0.5,
      sigma: 0.1,
      probabilityPerSample: 1,
      probabilityPerChannel: 1,
    });
    const v = perChannel(x, (t) => t.mean(2));
    const m = meanOf(v);
    const sd = Math.sqrt(meanOf(v.map((a) => (a - m) ** 2)));
    assert.ok(Math.abs(m - 0.5) < 0.01 && Math.abs(sd - 0.1) < 0.01, `mean ${m} std ${sd}`);
  });
});

test('contrast: deviations from the mean scaled by a factor in [0.75, 1.25], clipped to the old range', () => {
  tidy(() => {
    const x = randn([300, 1, 8, 8, 8], { generator: new Generator(8) });
    const before = x.clone();
    contrast_(x, rngOf(9), { probability: 1, factorRange: [0.75, 1.25], preserveRange: true });
    const mins = perChannel(before, (v) => v.amin(2));
    const maxs = perChannel(before, (v) => v.amax(2));
    const newMins = perChannel(x, (v) => v.amin(2));
    const newMaxs = perChannel(x, (v) => v.amax(2));
    newMins.forEach((m, i) => {
      assert.ok(m >= (mins[i] as number) - 1e-5 && (newMaxs[i] as number) <= (maxs[i] as number) + 1e-5);
    });
    // the factor: ratio of standard deviations (exact when nothing is clipped, i.e. factor <= 1)
    const std0 = perChannel(before, (v) => v.std(2));
    const ratio = perChannel(x, (v) => v.std(2)).map((s, i) => s / (std0[i] as number));
    assert.ok(Math.min(...ratio) >= 0.75 - 1e-4 && Math.max(...ratio) <= 1.25 + 1e-4);
    const below = ratio.filter((r) => r < 0.9999).length / ratio.length;
    assert.ok(Math.abs(below - 0.5) < 0.1, `share of factors below 1: ${below} (v1 draws half below 1)`);
    // factors below 1 keep the mean exactly
    const m0 = perChannel(before, (v) => v.mean(2));
    const m1 = perChannel(x, (v) => v.mean(2));
    ratio.forEach((r, i) => {
      if (r < 1) assert.ok(Math.abs((m1[i] as number) - (m0[i] as number)) < 1e-4);
    });
  });
});

test('gamma with retain_stats keeps each channel mean and std (inverted and plain); the values change', () => {
  tidy(() => {
    for (const invert of [false, true]) {
      const x = randn([20, 3, 6, 7, 8], { generator: new Generator(10) })
        .mul(2)
        .add(1);
      const before = x.clone();
      gamma_(x, rngOf(11), { range: [0.7, 1.5], retainStats: true, probability: 1, invert });
      const m0 = perChannel(before, (v) => v.mean(2));
      const s0 = perChannel(before, (v) => v.std(2, { correction: 0 }));
      const m1 = perChannel(x, (v) => v.mean(2));
      const s1 = perChannel(x, (v) => v.std(2, { correction: 0 }));
      m0.forEach((m, i) => {
        assert.ok(Math.abs((m1[i] as number) - m) < 1e-4, `mean ${m1[i]} vs ${m}`);
        assert.ok(Math.abs((s1[i] as number) - (s0[i] as number)) < 1e-4 * (s0[i] as number));
      });
      const changed = perChannel(x.sub(before).abs(), (v) => v.amax(2)).filter((d) => d > 1e-3).length;
      assert.ok(changed > 50, `${changed} of 60 channels changed`);
    }
    // without retain_stats the channel's [min, max] is kept (gamma maps [0, 1] onto itself)
    const y = randn([5, 1, 4, 4, 4], { generator: new Generator(12) });
    const ranges = [perChannel(y, (v) => v.amin(2)), perChannel(y, (v) => v.amax(2))];
    gamma_(y, rngOf(13), { range: [0.7, 1.5], retainStats: false, probability: 1, invert: false });
    perChannel(y, (v) => v.amin(2)).forEach((m, i) => {
      assert.ok(Math.abs(m - (ranges[0]?.[i] as number)) < 1e-5);
    });
    perChannel(y, (v) => v.amax(2)).forEach((m, i) => {
      assert.ok(Math.abs(m - (ranges[1]?.[i] as number)) < 1e-5);
    });
  });
});

test('low resolution: nearest down with centred voxels, linear up; target sizes round half to even', () => {
  tidy(() => {
    assert.deepEqual([0.5, 1.5, 2.5, 3.49, 6.5].map(roundHalfEven), [0, 2, 2, 3, 6]);
    // 9 -> 3 voxels: each low-resolution voxel takes the centre of its three (1, 4, 7), not the
    // first (F.interpolate's nearest: 0, 3, 6)
    const ramp = tensor([0, 1, 2, 3, 4, 5, 6, 7, 8], { shape: [1, 1, 1, 9] });
    assert.deepEqual(resizeNearestCentred(ramp, [1, 3]).toArray(), [1, 4, 7]);
    // a channel becomes piecewise smooth but keeps its size and range; probability per channel 0.5
    const x = randn([200, 2, 16, 16, 16], { generator: new Generator(14) });
    const before = x.clone();
    simulateLowResolution_(
      x,
      rngOf(15),
      { probability: 1, probabilityPerChannel: 0.5, zoomRange: [0.5, 1] },
      [],
      'linear',
    );
    const changed = perChannel(x.sub(before).abs(), (v) => v.amax(2)).map((d) => d > 1e-6);
    const share = changed.filter(Boolean).length / changed.length;
    assert.ok(Math.abs(share - 0.5) < 0.08, `changed share ${share}`);
    const var0 = perChannel(before, (v) => v.var(2));
    perChannel(x, (v) => v.var(2)).forEach((v, i) => {
      if (changed[i]) assert.ok(v < (var0[i] as number), 'lower resolution smooths white noise');
    });
    // 2-D with cubic upsampling
    const y = randn([4, 1, 20, 20], { generator: new Generator(16) });
    simulateLowResolution_(
      y,
      rngOf(17),
      { probability: 1, probabilityPerChannel: 1, zoomRange: [0.5, 0.5] },
      [],
      'cubic',
    );
    assert.ok(y.isfinite().all().item());
  });
});

test('mirroring flips data and seg together, each axis with probability 0.5', () => {
  tidy(() => {
    const batch = 400;
    const seg = randint(0, 5, [batch, 1, 3, 4, 5], { generator: new Generator(18) }).float();
    const data = seg.mul(10).add(1);
    const original = seg.clone();
    mirror_(data, seg, rngOf(19), [0, 1, 2]);
    assert.ok(data.equal(seg.mul(10).add(1)), 'data and seg flipped alike');
    const counts = [0, 0, 0];
    for (let b = 0; b < batch; b++) {
      const got = seg.select(0, b);
      const src = original.select(0, b);
      let found = false;
      for (let mask = 0; mask < 8 && !found; mask++) {
        const dims = [1, 2, 3].filter((_, i) => mask & (1 << i));
        const want = dims.length === 0 ? src : src.flip(dims);
        if (got.equal(want)) {
          found = true;
          dims.forEach((d) => {
            counts[d - 1] = (counts[d - 1] as number) + 1;
          });
        }
      }
      assert.ok(found, `sample ${b} is a mirrored copy`);
    }
    for (const c of counts) assert.ok(Math.abs(c / batch - 0.5) < 0.08, `flip share ${c / batch}`);
    // only the allowed axes flip
    const s2 = randint(0, 5, [50, 1, 3, 4, 5], { generator: new Generator(20) }).float();
    const o2 = s2.clone();
    mirror_(s2.clone(), s2, rngOf(21), [1]);
    for (let b = 0; b < 50; b++) {
      const got = s2.select(0, b);
      const src = o2.select(0, b);
      assert.ok(got.equal(src) || got.equal(src.flip([2])));
    }
  });
});
