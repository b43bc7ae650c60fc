/** Training-side checks: gradients reach every parameter, finite, through all deep-supervision heads. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { F, Generator, randint, randn, type Tensor, tidy } from '@nnunet/torch';
import type { Plans } from '../../src/model/plans.js';
import { deepSupervisionLossWeights } from '../../src/network/deep-supervision.js';
import { unetConfigFromPlans } from '../../src/network/from-plans.js';
import { GenericUNet } from '../../src/network/generic-unet.js';
import { FIXTURES } from '../helpers.js';

const cases = [
  ['Task902_SynthCT', '3D', [2, 1, 8, 32, 32]],
  ['Task004_Hippocampus', '2D', [4, 1, 32, 24]],
] as const;

for (const [task, dims, inputShape] of cases) {
  test(`${task} ${dims}: a weighted deep-supervision loss gives every parameter a finite gradient`, () => {
    const plans = JSON.parse(
      readFileSync(join(FIXTURES, 'golden', task, `nnUNetPlansv2.1_plans_${dims}.json`), 'utf8'),
    ) as Plans;
    const net = new GenericUNet(unetConfigFromPlans(plans, '0'), { generator: new Generator(5) });
    const weights = deepSupervisionLossWeights(net.numPool);
    const gen = new Generator(6);
    const lossValue = tidy(() => {
      const outs = net.forwardDeepSupervision(randn([...inputShape], { generator: gen }));
      // every head enters the loss (the lowest one with a small weight) so that every parameter is reached
      const terms = outs.map((o, i) => {
        const target = randint(0, net.numClasses, [o.shape[0] as number, ...o.shape.slice(2)], { generator: gen });
        return F.crossEntropy(o, target).mul(Math.max(weights[i] as number, 0.01));
      });
      const loss = terms.slice(1).reduce((a: Tensor, t) => a.add(t), terms[0] as Tensor);
      loss.backward();
      return loss.item();
    });
    assert.ok(Number.isFinite(lossValue));
    for (const [name, p] of net.namedParameters()) {
      const g = p.grad;
      assert.ok(g !== null, `${name} has a gradient`);
      assert.deepEqual(g.shape, p.shape);
      assert.ok(g.isfinite().all().item(), `${name}: gradient is finite`);
      // conv biases before an instance norm get ~0 gradient (the norm removes the mean); weights must not
      if (name.endsWith('weight')) assert.ok(g.abs().max().item() > 0, `${name}: gradient is not zero`);
      g.dispose();
    }
    net.dispose();
  });
}
