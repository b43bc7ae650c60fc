/**
 * Architecture parity with nnU-Net v1.7.0: for the stage-0 plans of both golden tasks (3-D and
 * 2-D) the network has v1's parameter count, v1's state-dict keys and shapes in v1's order, and
 * v1's deep-supervision output shapes for one planned patch
 * (test/fixtures/golden/<task>/network_{3D,2D}_stage0.json).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { dispose, Generator, memoryStats, noGrad, randn, type Tensor, tidy } from '@nnunet/torch';
import type { Plans } from '../../src/model/plans.js';
import { unetConfigFromPlans } from '../../src/network/from-plans.js';
import { GenericUNet } from '../../src/network/generic-unet.js';
import { FIXTURES } from '../helpers.js';

interface GoldenNetwork {
  plans_stage: string;
  num_parameters: number;
  state_dict: { name: string; shape: number[] }[];
  deep_supervision_output_shapes: number[][];
}

const GOLDEN = join(FIXTURES, 'golden');
const readJson = <T>(path: string): T => JSON.parse(readFileSync(path, 'utf8')) as T;

for (const task of ['Task004_Hippocampus', 'Task902_SynthCT']) {
  for (const dims of ['3D', '2D']) {
    const plans = readJson<Plans>(join(GOLDEN, task, `nnUNetPlansv2.1_plans_${dims}.json`));
    const golden = readJson<GoldenNetwork>(join(GOLDEN, task, `network_${dims}_stage0.json`));

    test(`${task} ${dims}: parameter count and ordered state dict equal v1's`, () => {
      const net = new GenericUNet(unetConfigFromPlans(plans, golden.plans_stage), { generator: new Generator(0) });
      try {
        assert.equal(net.numParameters(), golden.num_parameters);
        const ours = net.getStateDictInV1Order().map(([name, t]) => ({ name, shape: [...t.shape] }));
        assert.deepEqual(
          ours.map((e) => e.shape),
          golden.state_dict.map((e) => e.shape),
        );
        assert.deepEqual(ours, golden.state_dict);
        assert.deepEqual(
          [...net.stateDict().keys()],
          golden.state_dict.map((e) => e.name),
        );
      } finally {
        net.dispose();
      }
    });

    test(`${task} ${dims}: deep-supervision output shapes for one planned patch equal v1's`, () => {
      const net = new GenericUNet(unetConfigFromPlans(plans, golden.plans_stage), { generator: new Generator(0) });
      const patch = plans.plans_per_stage[golden.plans_stage]?.patch_size ?? [];
      const before = memoryStats().liveTensors;
      const shapes = tidy(() =>
        noGrad(() => {
          const outs = net.forwardDeepSupervision(randn([1, plans.num_modalities, ...patch]));
          for (const o of outs) assert.ok(o.isfinite().all().item(), 'outputs are finite');
          return outs.map((o) => [...o.shape]);
        }),
      );
      assert.deepEqual(shapes, golden.deep_supervision_output_shapes);
      assert.equal(memoryStats().liveTensors, before, 'the forward pass leaves no tensor behind');
      net.dispose();
    });
  }
}

test('forward follows the deepSupervision flag; forwardLogits equals the first deep-supervision output', () => {
  const plans = readJson<Plans>(join(GOLDEN, 'Task004_Hippocampus', 'nnUNetPlansv2.1_plans_2D.json'));
  const net = new GenericUNet(unetConfigFromPlans(plans, '0'), { generator: new Generator(3) });
  tidy(() =>
    noGrad(() => {
      const x = randn([2, 1, 56, 40], { generator: new Generator(4) });
      const all = net.forward(x) as Tensor[];
      assert.ok(Array.isArray(all));
      assert.equal(all.length, 3);
      net.deepSupervision = false;
      const only = net.forward(x);
      assert.ok(!Array.isArray(only));
      assert.deepEqual(only.shape, [2, 3, 56, 40]);
      assert.ok(only.equal(all[0] as Tensor), 'same logits with and without deep supervision');
      assert.ok(net.forwardLogits(x).equal(only));
      dispose(all);
    }),
  );
  net.dispose();
});
