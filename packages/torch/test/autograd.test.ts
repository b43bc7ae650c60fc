/** Autograd: gradients against central finite differences, gradient-mode scopes, functional grad. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  enableGrad,
  F,
  Generator,
  grad,
  inferenceMode,
  isGradEnabled,
  isInferenceMode,
  noGrad,
  randn,
  type Tensor,
  tensor,
  tidy,
} from '../src/index.js';
import { expectClose } from './helpers.js';

/**
 * Checks d f(x) / d x from backward against (f(x + h e_i) - f(x - h e_i)) / 2h for every element
 * of a small float64 input.
 */
function gradcheck(name: string, f: (x: Tensor) => Tensor, shape: number[], seed: number): void {
  tidy(() => {
    const x = randn(shape, { dtype: 'float64', generator: new Generator(seed) }).requiresGrad_();
    f(x).backward();
    const analytic = x.grad!.toArray();
    const base = x.detach().toArray();
    const h = 1e-6;
    const numeric = base.map((_, i) =>
      tidy(() => {
        const plus = Float64Array.from(base);
        const minus = Float64Array.from(base);
        plus[i] = (plus[i] as number) + h;
        minus[i] = (minus[i] as number) - h;
        const fp = noGrad(() => f(tensorOf(plus, shape)).item());
        const fm = noGrad(() => f(tensorOf(minus, shape)).item());
        return (fp - fm) / (2 * h);
      }),
    );
    expectClose(analytic, numeric, { rtol: 1e-5, atol: 1e-7, what: `${name} gradient` });
  });
}

const tensorOf = (a: Float64Array, shape: number[]) => tensor(a, { shape });

const w3 = () => randn([2, 2, 3, 3, 3], { dtype: 'float64', generator: new Generator(7) });

test('conv3d + instance norm + leaky ReLU gradient equals finite differences', () => {
  gradcheck(
    'conv block',
    (x) => {
      const y = F.leakyRelu(F.instanceNorm(F.conv3d(x, w3(), null, { padding: 1 })), 0.01);
      return y.mul(y).sum();
    },
    [1, 2, 3, 3, 3],
    1,
  );
});

test('softmax + cross-entropy gradient equals finite differences', () => {
  const target = tensor([0, 2, 1, 2], { dtype: 'int64' });
  gradcheck('cross entropy', (x) => F.crossEntropy(x, target), [4, 3], 2);
});

test('grid sampling (trilinear) gradient w.r.t. the image equals finite differences', () => {
  const grid = randn([1, 2, 2, 2, 3], { dtype: 'float64', generator: new Generator(3) }).mul(0.6);
  gradcheck('gridSample', (x) => F.gridSample(x, grid, { alignCorners: false }).pow(2).sum(), [1, 1, 3, 3, 3], 4);
  grid.dispose();
});

test('elementwise chain (exp, log, sqrt, sigmoid, pow, div) gradient equals finite differences', () => {
  gradcheck('chain', (x) => x.sigmoid().add(1).log().mul(x.exp().add(1).sqrt()).div(x.pow(2).add(2)).sum(), [5], 5);
});

test('backward accumulates into .grad and respects an explicit output gradient', () => {
  tidy(() => {
    const x = tensor([1, 2, 3], { dtype: 'float64', requiresGrad: true });
    const y = x.mul(x); // dy/dx = 2x
    y.backward(tensor([1, 10, 100], { dtype: 'float64' }), { retainGraph: true });
    assert.deepEqual(x.grad!.toArray(), [2, 40, 600]);
    y.backward(tensor([1, 1, 1], { dtype: 'float64' }));
    assert.deepEqual(x.grad!.toArray(), [4, 44, 606]);
    x.grad = null;
    assert.equal(x.grad, null);
    assert.ok(x.isLeaf);
    assert.ok(!y.isLeaf && y.hasGradFn);
  });
});

test('noGrad and enableGrad scopes control recording and restore the previous mode', () => {
  tidy(() => {
    const x = tensor([1, 2], { requiresGrad: true });
    assert.equal(isGradEnabled(), true);
    const y = noGrad(() => {
      assert.equal(isGradEnabled(), false);
      const inner = enableGrad(() => x.mul(2));
      assert.equal(inner.requiresGrad, true);
      return x.mul(2);
    });
    assert.equal(y.requiresGrad, false);
    assert.equal(isGradEnabled(), true);
    assert.throws(() =>
      noGrad(() => {
        throw new Error('boom');
      }),
    );
    assert.equal(isGradEnabled(), true, 'mode restored after a throw');
  });
});

test('inferenceMode produces tensors outside autograd and nests', () => {
  tidy(() => {
    const x = tensor([1, 2], { requiresGrad: true });
    const y = inferenceMode(() => {
      assert.equal(isInferenceMode(), true);
      inferenceMode(() => assert.equal(isInferenceMode(), true));
      assert.equal(isInferenceMode(), true);
      return x.mul(3);
    });
    assert.equal(isInferenceMode(), false);
    assert.equal(y.requiresGrad, false);
    assert.deepEqual(y.toArray(), [3, 6]);
  });
});

test('functional grad gives d(out)/d(in) without touching .grad, null for unused inputs', () => {
  tidy(() => {
    const a = tensor([1, 2, 3], { dtype: 'float64', requiresGrad: true });
    const b = tensor([4, 5, 6], { dtype: 'float64', requiresGrad: true });
    const unused = tensor([0], { dtype: 'float64', requiresGrad: true });
    const out = a.mul(b).sum();
    const [ga, gb] = grad([out], [a, b], { retainGraph: true });
    assert.deepEqual(ga!.toArray(), [4, 5, 6]);
    assert.deepEqual(gb!.toArray(), [1, 2, 3]);
    assert.equal(a.grad, null);
    assert.throws(() => grad([out], [unused]), /not have been used|appears to not have been used/);
  });
});

test('detach cuts the graph', () => {
  tidy(() => {
    const x = tensor([2], { requiresGrad: true });
    const y = x.mul(x).detach().mul(x); // only the last factor is differentiated
    y.backward(tensor([1]));
    assert.deepEqual(x.grad!.toArray(), [4]);
  });
});
