/** InitWeights_He(1e-2): kaiming-normal conv and transposed-conv weights, zero biases. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Conv, Generator, InstanceNorm, init, noGrad, tidy } from '@nnunet/torch';
import type { Plans } from '../../src/model/plans.js';
import { unetConfigFromPlans } from '../../src/network/from-plans.js';
import { GenericUNet } from '../../src/network/generic-unet.js';
import { HE_INIT_NEGATIVE_SLOPE, initWeightsHe } from '../../src/network/init.js';
import { product } from '../../src/util/shape.js';
import { FIXTURES } from '../helpers.js';

const plans = JSON.parse(
  readFileSync(join(FIXTURES, 'golden', 'Task902_SynthCT', 'nnUNetPlansv2.1_plans_3D.json'), 'utf8'),
) as Plans;
const config = unetConfigFromPlans(plans, '0');

test('conv and transposed-conv weights have std sqrt(2 / (1 + 0.01^2) / fan_in) and mean 0; biases are 0', () => {
  const net = new GenericUNet(config, { generator: new Generator(7) });
  let convs = 0;
  tidy(() =>
    noGrad(() => {
      for (const [name, m] of net.namedModules()) {
        if (m instanceof Conv) {
          convs++;
          const w = m.weight;
          // fan_in: weight dim 1 times the kernel volume (for transposed convs: their output channels)
          const fanIn = (w.shape[1] as number) * product(w.shape.slice(2));
          const expected = Math.sqrt(2 / (1 + HE_INIT_NEGATIVE_SLOPE ** 2) / fanIn);
          const n = w.numel;
          const std = w.std().item();
          const mean = w.mean().item();
          // The sample std of n normal draws has a relative standard error of 1/sqrt(2n); allow 5 of them.
          const relTol = 5 / Math.sqrt(2 * n);
          assert.ok(Math.abs(std / expected - 1) < relTol, `${name}: std ${std}, expected ${expected} (n = ${n})`);
          assert.ok(Math.abs(mean) < (5 * expected) / Math.sqrt(n), `${name}: mean ${mean}`);
          if (m.bias !== null) assert.equal(m.bias.abs().max().item(), 0, `${name}: bias is zero`);
        } else if (m instanceof InstanceNorm) {
          assert.ok(m.weight?.eq(1).all().item(), `${name}: norm weight 1`);
          assert.ok(m.bias?.eq(0).all().item(), `${name}: norm bias 0`);
        }
      }
    }),
  );
  // 2 per stage (5 stages) + 2 per decoder level (4) + 4 transposed + 4 heads
  assert.equal(convs, 26);
  net.dispose();
});

test('the tolerance separates He init from PyTorch default conv init', () => {
  const conv = new Conv(3, 64, 64, 3, { generator: new Generator(1) });
  const expected = Math.sqrt(2 / (1 + 0.01 ** 2) / (64 * 27));
  tidy(() => {
    const before = conv.weight.std().item();
    assert.ok(Math.abs(before / expected - 1) > 0.5, 'default init differs clearly');
    initWeightsHe(conv, { generator: new Generator(1) });
    assert.ok(Math.abs(conv.weight.std().item() / expected - 1) < 0.01);
    assert.equal(conv.bias?.abs().max().item(), 0);
  });
  conv.dispose();
});

test('one generator seed gives one network; another seed another', () => {
  const a = new GenericUNet(config, { generator: new Generator(11) });
  const b = new GenericUNet(config, { generator: new Generator(11) });
  const c = new GenericUNet(config, { generator: new Generator(12) });
  const sa = a.getStateDictInV1Order();
  const sb = b.getStateDictInV1Order();
  const sc = c.getStateDictInV1Order();
  assert.equal(sa.length, sb.length);
  sa.forEach(([name, t], i) => {
    const [nameB, tb] = sb[i]!;
    assert.equal(nameB, name);
    assert.ok(t.equal(tb), `${name} equal for equal seeds`);
  });
  assert.ok(!sa[0]![1].equal(sc[0]![1]), 'different seeds differ');
  for (const n of [a, b, c]) n.dispose();
});

test('kaiming fan_in of a transposed conv weight [in, out, k...] is out * k-volume, as in PyTorch', () => {
  const t = new Conv(3, 320, 256, [1, 2, 2], { transposed: true, stride: [1, 2, 2], bias: false });
  assert.deepEqual(t.weight.shape, [320, 256, 1, 2, 2]);
  assert.equal(init.fans(t.weight).fanIn, 256 * 4);
  t.dispose();
});
