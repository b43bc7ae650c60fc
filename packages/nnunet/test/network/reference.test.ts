/**
 * The forward pass against a plain functional rewrite of v1's Generic_UNet.forward that reads
 * the weights by their v1 state-dict names: checks the wiring that shapes alone cannot (skip
 * concatenated after the upsampled features, strides, paddings, kernel of each decoder level,
 * output order) and that every parameter takes part.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cat, dispose, F, Generator, memoryStats, noGrad, randn, type Tensor, tidy } from '@nnunet/torch';
import { GenericUNet, type GenericUNetConfig } from '../../src/network/generic-unet.js';

function referenceForward(net: GenericUNet, x: Tensor): Tensor[] {
  const c = net.config;
  const sd = net.stateDict();
  const used = new Set<string>();
  const get = (k: string): Tensor => {
    const t = sd.get(k);
    if (t === undefined) throw new Error(`no parameter ${k}`);
    used.add(k);
    return t;
  };
  const conv = c.spatialDims === 3 ? F.conv3d : F.conv2d;
  const convT = c.spatialDims === 3 ? F.convTranspose3d : F.convTranspose2d;
  const block = (prefix: string, h: Tensor, kernel: readonly number[], stride: readonly number[] | 1): Tensor => {
    const y = conv(h, get(`${prefix}.conv.weight`), get(`${prefix}.conv.bias`), {
      stride,
      padding: kernel.map((k) => (k === 3 ? 1 : 0)),
    });
    const z = F.instanceNorm(y, { weight: get(`${prefix}.instnorm.weight`), bias: get(`${prefix}.instnorm.bias`) });
    return F.leakyRelu(z, 0.01);
  };
  const n = c.poolOpKernelSizes.length;
  const pool = c.poolOpKernelSizes;
  const kernels = c.convKernelSizes;
  const skips: Tensor[] = [];
  let h = x;
  for (let d = 0; d < n; d++) {
    for (let i = 0; i < c.convPerStage; i++) {
      const stride = i === 0 && d > 0 ? (pool[d - 1] as number[]) : 1;
      h = block(`conv_blocks_context.${d}.blocks.${i}`, h, kernels[d] as number[], stride);
    }
    skips.push(h);
  }
  for (let i = 0; i < c.convPerStage - 1; i++) {
    h = block(
      `conv_blocks_context.${n}.0.blocks.${i}`,
      h,
      kernels[n] as number[],
      i === 0 ? (pool[n - 1] as number[]) : 1,
    );
  }
  h = block(`conv_blocks_context.${n}.1.blocks.0`, h, kernels[n] as number[], 1);
  const outs: Tensor[] = [];
  for (let u = 0; u < n; u++) {
    const up = convT(h, get(`tu.${u}.weight`), null, { stride: pool[n - 1 - u] as number[] });
    h = cat([up, skips[n - 1 - u] as Tensor], 1);
    for (let i = 0; i < c.convPerStage - 1; i++) {
      h = block(`conv_blocks_localization.${u}.0.blocks.${i}`, h, kernels[n - u] as number[], 1);
    }
    h = block(`conv_blocks_localization.${u}.1.blocks.0`, h, kernels[n - u] as number[], 1);
    outs.push(conv(h, get(`seg_outputs.${u}.weight`), null));
  }
  assert.deepEqual([...used].sort(), [...sd.keys()].sort(), 'the reference uses every parameter');
  return outs.reverse();
}

const configs: [string, GenericUNetConfig, number[]][] = [
  [
    '2-D, 2 convs per stage, feature cap reached',
    {
      spatialDims: 2,
      inputChannels: 2,
      numClasses: 3,
      baseNumFeatures: 4,
      maxNumFeatures: 12,
      convPerStage: 2,
      poolOpKernelSizes: [
        [2, 2],
        [2, 1],
        [2, 2],
      ],
      convKernelSizes: [
        [3, 3],
        [1, 3],
        [3, 3],
        [3, 1],
      ],
      deepSupervision: true,
    },
    [2, 2, 16, 12],
  ],
  [
    '3-D, 3 convs per stage, anisotropic pools',
    {
      spatialDims: 3,
      inputChannels: 1,
      numClasses: 2,
      baseNumFeatures: 3,
      maxNumFeatures: 320,
      convPerStage: 3,
      poolOpKernelSizes: [
        [1, 2, 2],
        [2, 2, 2],
      ],
      convKernelSizes: [
        [1, 3, 3],
        [3, 3, 3],
        [3, 3, 3],
      ],
      deepSupervision: true,
    },
    [1, 1, 4, 8, 12],
  ],
];

for (const [label, config, inputShape] of configs) {
  test(`forward equals a functional rewrite of v1's forward: ${label}`, () => {
    const net = new GenericUNet(config, { generator: new Generator(21) });
    const before = memoryStats().liveTensors;
    tidy(() =>
      noGrad(() => {
        const x = randn(inputShape, { generator: new Generator(22) });
        const ours = net.forwardDeepSupervision(x);
        const ref = referenceForward(net, x);
        assert.equal(ours.length, config.poolOpKernelSizes.length);
        ours.forEach((o, i) => {
          const r = ref[i] as Tensor;
          assert.deepEqual(o.shape, r.shape, `output ${i} shape`);
          const diff = o.sub(r).abs().max().item();
          assert.ok(diff < 1e-5, `output ${i} differs by ${diff}`);
        });
        dispose(ours);
      }),
    );
    assert.equal(memoryStats().liveTensors, before);
    net.dispose();
  });
}

test('input of the wrong rank, channel count or size is rejected with the expected shape', () => {
  const [, config] = configs[0] as (typeof configs)[0];
  const net = new GenericUNet(config);
  noGrad(() => {
    for (const shape of [
      [2, 16, 12],
      [1, 1, 16, 12],
      [1, 2, 16, 10],
    ]) {
      const x = randn(shape);
      assert.throws(() => net.forward(x), /input must be \[N, 2, \.\.\.2 spatial sizes, multiples of \[8, 4\]\]/);
      x.dispose();
    }
  });
  net.dispose();
});

test('gradients equal those of the functional rewrite (the in-place leaky ReLU keeps autograd exact)', () => {
  const [, config, inputShape] = configs[1] as (typeof configs)[1];
  const net = new GenericUNet(config, { generator: new Generator(31) });
  const gradsOf = (run: (x: Tensor) => Tensor[]): Map<string, Tensor> =>
    tidy(() => {
      net.zeroGrad();
      const gen = new Generator(32);
      const outs = run(randn(inputShape, { generator: gen }));
      const terms = outs.map((o) => o.mul(randn(o.shape, { generator: gen })).sum());
      terms
        .slice(1)
        .reduce((a: Tensor, t) => a.add(t), terms[0] as Tensor)
        .backward();
      return new Map(Array.from(net.namedParameters(), ([name, p]) => [name, p.grad as Tensor]));
    });
  const ours = gradsOf((x) => net.forwardDeepSupervision(x));
  const ref = gradsOf((x) => referenceForward(net, x));
  for (const [name, g] of ours) {
    const r = ref.get(name) as Tensor;
    const scale = Math.max(r.abs().max().item(), 1e-6);
    const diff = g.sub(r).abs().max().item();
    assert.ok(diff / scale < 1e-4, `${name}: gradients differ by ${diff} (scale ${scale})`);
  }
  dispose([...ours.values(), ...ref.values()]);
  net.zeroGrad();
  net.dispose();
});
