/** Elementwise math, comparisons and reductions against JS reference computations. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { F, Generator, rand, randint, randn, type Tensor, tensor, tidy } from '../src/index.js';
import { expectClose } from './helpers.js';

// ---------------------------------------------------------------- JS reference helpers

function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) s[i] = (s[i + 1] as number) * (shape[i + 1] as number);
  return s;
}
function unravel(flat: number, shape: readonly number[]): number[] {
  return stridesOf(shape).map((s, i) => Math.floor(flat / s) % (shape[i] as number));
}
function ravel(idx: readonly number[], shape: readonly number[]): number {
  const st = stridesOf(shape);
  return idx.reduce((acc, v, i) => acc + v * (st[i] as number), 0);
}
const numel = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** Elementwise f(a, b) with NumPy broadcasting. */
function refBroadcast(
  a: number[],
  aShape: number[],
  b: number[],
  bShape: number[],
  f: (x: number, y: number) => number,
): { shape: number[]; data: number[] } {
  const nd = Math.max(aShape.length, bShape.length);
  const pa = [...new Array<number>(nd - aShape.length).fill(1), ...aShape];
  const pb = [...new Array<number>(nd - bShape.length).fill(1), ...bShape];
  const shape = pa.map((s, i) => Math.max(s, pb[i] as number));
  const data = Array.from({ length: numel(shape) }, (_, k) => {
    const o = unravel(k, shape);
    const ia = o.map((v, i) => (pa[i] === 1 ? 0 : v));
    const ib = o.map((v, i) => (pb[i] === 1 ? 0 : v));
    return f(a[ravel(ia, pa)] as number, b[ravel(ib, pb)] as number);
  });
  return { shape, data };
}

/** Reduces `dims` of a C-order array with `f` over the values of each output position (in order). */
function refReduce(
  data: number[],
  shape: number[],
  dims: number[],
  keepdim: boolean,
  f: (values: number[]) => number,
): { shape: number[]; data: number[] } {
  const ds = new Set(dims.map((d) => (d < 0 ? d + shape.length : d)));
  const kept = shape.map((s, i) => (ds.has(i) ? 1 : s));
  const groups: number[][] = Array.from({ length: numel(kept) }, () => []);
  for (let k = 0; k < data.length; k++) {
    const o = unravel(k, shape).map((v, i) => (ds.has(i) ? 0 : v));
    groups[ravel(o, kept)]?.push(data[k] as number);
  }
  const outShape = keepdim ? kept : shape.filter((_, i) => !ds.has(i));
  return { shape: outShape, data: groups.map(f) };
}

const sum = (v: number[]) => v.reduce((a, b) => a + b, 0);
const mean = (v: number[]) => sum(v) / v.length;
const variance = (c: number) => (v: number[]) => {
  const m = mean(v);
  return sum(v.map((x) => (x - m) ** 2)) / (v.length - c);
};
const argOf = (better: (a: number, b: number) => boolean) => (v: number[]) => {
  let best = 0;
  for (let i = 1; i < v.length; i++) if (better(v[i] as number, v[best] as number)) best = i;
  return best;
};

function expectRef(t: Tensor, ref: { shape: number[]; data: number[] }, opts: { rtol?: number; what?: string } = {}) {
  assert.deepEqual(t.shape, ref.shape, `${opts.what ?? 'tensor'}: shape`);
  expectClose(t, ref.data, { rtol: opts.rtol ?? 1e-5, atol: 1e-6, what: opts.what ?? 'tensor' });
}

// ---------------------------------------------------------------- elementwise

test('broadcasting arithmetic [2,1,3] with [4,1] gives [2,4,3]', () => {
  tidy(() => {
    const g = new Generator(1);
    const a = randn([2, 1, 3], { generator: g, dtype: 'float64' });
    const b = rand([4, 1], { generator: g, dtype: 'float64' }).add(0.5);
    const av = a.toArray();
    const bv = b.toArray();
    const ops: [string, (x: Tensor, y: Tensor) => Tensor, (x: number, y: number) => number][] = [
      ['add', (x, y) => x.add(y), (x, y) => x + y],
      ['add alpha', (x, y) => x.add(y, 3), (x, y) => x + 3 * y],
      ['sub', (x, y) => x.sub(y), (x, y) => x - y],
      ['sub alpha', (x, y) => x.sub(y, 0.5), (x, y) => x - 0.5 * y],
      ['mul', (x, y) => x.mul(y), (x, y) => x * y],
      ['div', (x, y) => x.div(y), (x, y) => x / y],
      ['pow', (x, y) => x.abs().pow(y), (x, y) => Math.abs(x) ** y],
      ['maximum', (x, y) => x.maximum(y), Math.max],
      ['minimum', (x, y) => x.minimum(y), Math.min],
    ];
    for (const [name, op, ref] of ops) {
      expectRef(op(a, b), refBroadcast(av, [2, 1, 3], bv, [4, 1], ref), { rtol: 1e-12, what: name });
    }
    // The other order broadcasts the same way.
    expectRef(
      b.sub(a),
      refBroadcast(bv, [4, 1], av, [2, 1, 3], (x, y) => x - y),
      { rtol: 1e-12, what: 'b - a' },
    );
  });
});

test('tensor-scalar arithmetic', () => {
  tidy(() => {
    const x = tensor([-3.5, -1, 0, 2, 7.25]);
    const xv = x.toArray();
    const cases: [string, Tensor, (v: number) => number][] = [
      ['add', x.add(2.5), (v) => v + 2.5],
      ['add alpha', x.add(2, -3), (v) => v - 6],
      ['sub', x.sub(1), (v) => v - 1],
      ['rsub', x.rsub(10), (v) => 10 - v],
      ['mul', x.mul(-4), (v) => v * -4],
      ['div', x.div(4), (v) => v / 4],
      ['pow', x.pow(2), (v) => v ** 2],
      ['remainder', x.remainder(3), (v) => v - 3 * Math.floor(v / 3)], // Python's sign-of-divisor modulo
      ['neg', x.neg(), (v) => -v],
    ];
    for (const [name, t, f] of cases) expectClose(t, xv.map(f), { what: name });
    // Integer tensors keep their dtype with integer scalars; true division gives floats.
    const i = tensor(new Int32Array([7, -7, 4]));
    assert.equal(i.add(1).dtype, 'int32');
    assert.deepEqual(i.mul(3).toArray(), [21, -21, 12]);
    const d = i.div(2);
    assert.equal(d.dtype, 'float32');
    assert.deepEqual(d.toArray(), [3.5, -3.5, 2]);
    assert.deepEqual(i.div(tensor(new Int32Array([2, 2, 3])), 'trunc').toArray(), [3, -3, 1]);
    assert.deepEqual(i.div(tensor(new Int32Array([2, 2, 3])), 'floor').toArray(), [3, -4, 1]);
    assert.deepEqual(i.remainder(3).toArray(), [1, 2, 1]);
    assert.deepEqual(
      tensor(new BigInt64Array([2n ** 40n]))
        .add(1n)
        .toArray(),
      [2 ** 40 + 1],
    );
  });
});

test('unary functions match Math.* on float64 and float32 data', () => {
  tidy(() => {
    const g = new Generator(7);
    const x64 = randn([500], { generator: g, dtype: 'float64' }).mul(3);
    const pos64 = rand([500], { generator: g, dtype: 'float64' }).mul(10).add(0.01);
    const round = (v: number) => {
      const r = Math.round(v);
      return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r; // half to even
    };
    const cases: [string, (t: Tensor) => Tensor, (v: number) => number, boolean][] = [
      ['exp', (t) => t.exp(), Math.exp, false],
      ['log', (t) => t.log(), Math.log, true],
      ['log1p', (t) => t.log1p(), Math.log1p, true],
      ['sqrt', (t) => t.sqrt(), Math.sqrt, true],
      ['rsqrt', (t) => t.rsqrt(), (v) => 1 / Math.sqrt(v), true],
      ['reciprocal', (t) => t.reciprocal(), (v) => 1 / v, true],
      ['abs', (t) => t.abs(), Math.abs, false],
      ['sign', (t) => t.sign(), Math.sign, false],
      ['floor', (t) => t.floor(), Math.floor, false],
      ['ceil', (t) => t.ceil(), Math.ceil, false],
      ['round', (t) => t.round(), round, false],
      ['sin', (t) => t.sin(), Math.sin, false],
      ['cos', (t) => t.cos(), Math.cos, false],
      ['tanh', (t) => t.tanh(), Math.tanh, false],
      ['sigmoid', (t) => t.sigmoid(), (v) => 1 / (1 + Math.exp(-v)), false],
      ['F.sigmoid', (t) => F.sigmoid(t), (v) => 1 / (1 + Math.exp(-v)), false],
      ['relu', (t) => t.relu(), (v) => Math.max(v, 0), false],
      ['F.relu', (t) => F.relu(t), (v) => Math.max(v, 0), false],
      ['clamp', (t) => t.clamp(-1, 2), (v) => Math.min(Math.max(v, -1), 2), false],
      ['clamp min', (t) => t.clamp(0.5), (v) => Math.max(v, 0.5), false],
      ['clamp max', (t) => t.clamp(null, 0.5), (v) => Math.min(v, 0.5), false],
      ['pow 3', (t) => t.pow(3), (v) => v ** 3, false],
      ['pow 0.5', (t) => t.pow(0.5), Math.sqrt, true],
    ];
    for (const [name, op, f, positive] of cases) {
      const x = positive ? pos64 : x64;
      expectClose(op(x), x.toArray().map(f), { rtol: 1e-12, atol: 1e-14, what: `${name} float64` });
      const x32 = x.to('float32');
      const r32 = op(x32);
      assert.equal(r32.dtype, 'float32', `${name} keeps float32`);
      expectClose(r32, x32.toArray().map(f), { rtol: 2e-6, atol: 1e-6, what: `${name} float32` });
    }
    // Tensor bounds for clamp.
    const lo = tensor([0, 1, 2]);
    expectClose(tensor([-1, 5, 1]).clamp(lo, tensor([1, 3, 4])), [0, 3, 2]);
    expectClose(tensor([-1, 5, 1]).clamp(lo), [0, 5, 2]);
    // Special values.
    const special = tensor([0, -1, Number.POSITIVE_INFINITY, Number.NaN]);
    assert.deepEqual(special.log().toArray().slice(0, 3), [
      Number.NEGATIVE_INFINITY,
      Number.NaN,
      Number.POSITIVE_INFINITY,
    ]);
    assert.deepEqual(special.isnan().toArray(), [0, 0, 0, 1]);
    assert.deepEqual(special.isinf().toArray(), [0, 0, 1, 0]);
    assert.deepEqual(special.isfinite().toArray(), [1, 1, 0, 0]);
  });
});

test('comparisons and logical ops return bool tensors', () => {
  tidy(() => {
    const g = new Generator(3);
    const a = randint(0, 4, [3, 4], { generator: g, dtype: 'int32' });
    const b = randint(0, 4, [4], { generator: g, dtype: 'int32' });
    const av = a.toArray();
    const bv = b.toArray();
    const ops: [string, Tensor, Tensor, (x: number, y: number) => boolean][] = [
      ['eq', a.eq(b), a.eq(2), (x, y) => x === y],
      ['ne', a.ne(b), a.ne(2), (x, y) => x !== y],
      ['lt', a.lt(b), a.lt(2), (x, y) => x < y],
      ['le', a.le(b), a.le(2), (x, y) => x <= y],
      ['gt', a.gt(b), a.gt(2), (x, y) => x > y],
      ['ge', a.ge(b), a.ge(2), (x, y) => x >= y],
    ];
    for (const [name, tt, ts, f] of ops) {
      assert.equal(tt.dtype, 'bool', name);
      const ref = refBroadcast(av, [3, 4], bv, [4], (x, y) => Number(f(x, y)));
      assert.deepEqual(tt.shape, ref.shape, name);
      assert.deepEqual(tt.toArray(), ref.data, `${name} tensor`);
      assert.deepEqual(
        ts.toArray(),
        av.map((x) => Number(f(x, 2))),
        `${name} scalar`,
      );
    }
    const p = tensor([true, true, false, false]);
    const q = tensor([true, false, true, false]);
    assert.deepEqual(p.logicalAnd(q).toArray(), [1, 0, 0, 0]);
    assert.deepEqual(p.logicalOr(q).toArray(), [1, 1, 1, 0]);
    assert.deepEqual(p.logicalXor(q).toArray(), [0, 1, 1, 0]);
    assert.deepEqual(p.logicalNot().toArray(), [0, 0, 1, 1]);
    assert.equal(p.logicalAnd(q).dtype, 'bool');
    // Non-bool inputs count non-zero as true.
    assert.deepEqual(
      tensor([0, 2, -1])
        .logicalAnd(tensor([1, 0, 3]))
        .toArray(),
      [0, 0, 1],
    );
    assert.ok(tensor([1, 2]).equal(tensor([1, 2])));
    assert.ok(!tensor([1, 2]).equal(tensor([1, 3])));
    assert.ok(tensor([1, 2]).allclose(tensor([1, 2 + 1e-7])));
    assert.ok(!tensor([1, 2]).allclose(tensor([1, 2.01])));
  });
});

// ---------------------------------------------------------------- reductions

test('sum, mean, var and std over dims with keepdim (correction 0 and 1)', () => {
  tidy(() => {
    const shape = [3, 4, 5];
    const x = randn(shape, { generator: new Generator(11), dtype: 'float64' });
    const xv = x.toArray();
    const dimsList: number[][] = [[0], [1], [2], [-1], [0, 2], [1, 2], [0, 1, 2]];
    for (const dims of dimsList) {
      for (const keepdim of [false, true]) {
        const what = `dims [${dims}] keepdim ${keepdim}`;
        expectRef(x.sum(dims, { keepdim }), refReduce(xv, shape, dims, keepdim, sum), {
          rtol: 1e-12,
          what: `sum ${what}`,
        });
        expectRef(x.mean(dims, keepdim), refReduce(xv, shape, dims, keepdim, mean), {
          rtol: 1e-12,
          what: `mean ${what}`,
        });
        for (const correction of [0, 1]) {
          const v = refReduce(xv, shape, dims, keepdim, variance(correction));
          expectRef(x.var(dims, { correction, keepdim }), v, { rtol: 1e-10, what: `var c${correction} ${what}` });
          const s = { shape: v.shape, data: v.data.map(Math.sqrt) };
          expectRef(x.std(dims, { correction, keepdim }), s, { rtol: 1e-10, what: `std c${correction} ${what}` });
        }
      }
    }
    // Single-number dim and whole-tensor reductions; var defaults to correction 1.
    expectRef(x.sum(1), refReduce(xv, shape, [1], false, sum), { rtol: 1e-12 });
    expectClose(x.sum(), sum(xv), { rtol: 1e-12 });
    expectClose(x.mean(), mean(xv), { rtol: 1e-12 });
    expectClose(x.var(), variance(1)(xv), { rtol: 1e-10 });
    expectClose(x.std(undefined, { correction: 0 }), Math.sqrt(variance(0)(xv)), { rtol: 1e-10 });
    assert.deepEqual(x.sum().shape, []);
    // Integer sums are int64; dtype option.
    const ints = tensor(new Int8Array([100, 100, 100]));
    assert.equal(ints.sum().dtype, 'int64');
    assert.equal(ints.sum().item(), 300);
    assert.equal(ints.sum(undefined, { dtype: 'float64' }).dtype, 'float64');
    assert.equal(tensor([true, true, false]).sum().item(), 2);
  });
});

test('max, min, amax, amin, argmax, argmin, maxDim, minDim', () => {
  tidy(() => {
    const shape = [4, 3, 5];
    const x = randn(shape, { generator: new Generator(5) });
    const xv = x.toArray();
    expectClose(x.max(), Math.max(...xv));
    expectClose(x.min(), Math.min(...xv));
    assert.deepEqual(x.max().shape, []);
    for (const dims of [[0], [2], [-2], [0, 2]]) {
      for (const keepdim of [false, true]) {
        const what = `[${dims}] keepdim ${keepdim}`;
        expectRef(
          x.amax(dims, keepdim),
          refReduce(xv, shape, dims, keepdim, (v) => Math.max(...v)),
          { what },
        );
        expectRef(
          x.amin(dims, keepdim),
          refReduce(xv, shape, dims, keepdim, (v) => Math.min(...v)),
          { what },
        );
      }
    }
    for (const dim of [0, 1, 2, -1]) {
      for (const keepdim of [false, true]) {
        const what = `dim ${dim} keepdim ${keepdim}`;
        const am = refReduce(
          xv,
          shape,
          [dim],
          keepdim,
          argOf((a, b) => a > b),
        );
        const an = refReduce(
          xv,
          shape,
          [dim],
          keepdim,
          argOf((a, b) => a < b),
        );
        const amT = x.argmax(dim, keepdim);
        assert.equal(amT.dtype, 'int64');
        expectRef(amT, am, { what: `argmax ${what}` });
        expectRef(x.argmin(dim, keepdim), an, { what: `argmin ${what}` });
        const mx = x.maxDim(dim, keepdim);
        expectRef(
          mx.values,
          refReduce(xv, shape, [dim], keepdim, (v) => Math.max(...v)),
          { what: `maxDim ${what}` },
        );
        expectRef(mx.indices, am, { what: `maxDim indices ${what}` });
        const mn = x.minDim(dim, keepdim);
        expectRef(
          mn.values,
          refReduce(xv, shape, [dim], keepdim, (v) => Math.min(...v)),
          { what: `minDim ${what}` },
        );
        expectRef(mn.indices, an, { what: `minDim indices ${what}` });
      }
    }
    // Without dim, argmax indexes the flattened tensor.
    assert.equal(x.argmax().item(), xv.indexOf(Math.max(...xv)));
    assert.equal(x.argmin().item(), xv.indexOf(Math.min(...xv)));
  });
});

test('topk, sort (ascending and descending) and argsort', () => {
  tidy(() => {
    const rows = 6;
    const cols = 9;
    const x = randn([rows, cols], { generator: new Generator(21), dtype: 'float64' });
    const xv = x.toArray();
    const rowOf = (r: number) => xv.slice(r * cols, (r + 1) * cols);
    const order = (v: number[], desc: boolean) =>
      v
        .map((_, i) => i)
        .sort((i, j) => (desc ? (v[j] as number) - (v[i] as number) : (v[i] as number) - (v[j] as number)));

    for (const desc of [false, true]) {
      const s = x.sort(-1, desc);
      const idx = x.argsort(1, desc);
      const refIdx = Array.from({ length: rows }, (_, r) => order(rowOf(r), desc)).flat();
      const refVals = refIdx.map((j, k) => xv[Math.floor(k / cols) * cols + j] as number);
      assert.deepEqual(s.values.shape, [rows, cols]);
      assert.deepEqual(s.values.toArray(), refVals, `sort values desc=${desc}`);
      assert.deepEqual(s.indices.toArray(), refIdx, `sort indices desc=${desc}`);
      assert.deepEqual(idx.toArray(), refIdx, `argsort desc=${desc}`);
    }
    // Along the first axis.
    const col0 = Array.from({ length: rows }, (_, r) => xv[r * cols] as number);
    assert.deepEqual(
      x.sort(0).values.select(1, 0).toArray(),
      [...col0].sort((a, b) => a - b),
    );

    for (const largest of [true, false]) {
      const k = 3;
      const t = x.topk(k, 1, largest);
      assert.deepEqual(t.values.shape, [rows, k]);
      const refIdx = Array.from({ length: rows }, (_, r) => order(rowOf(r), largest).slice(0, k));
      assert.deepEqual(t.indices.toArray(), refIdx.flat(), `topk indices largest=${largest}`);
      assert.deepEqual(
        t.values.toArray(),
        refIdx.flatMap((ix, r) => ix.map((j) => xv[r * cols + j] as number)),
        `topk values largest=${largest}`,
      );
    }
    const t0 = tensor([3, 1, 4, 1, 5, 9, 2, 6]).topk(2, 0);
    assert.deepEqual(t0.values.toArray(), [9, 6]);
    assert.deepEqual(t0.indices.toArray(), [5, 7]);
  });
});

test('cumsum, norm, any, all', () => {
  tidy(() => {
    const shape = [3, 4];
    const x = randn(shape, { generator: new Generator(8), dtype: 'float64' });
    const xv = x.toArray();
    const cs0 = xv.map((_, k) => {
      const [r, c] = unravel(k, shape) as [number, number];
      let s = 0;
      for (let i = 0; i <= r; i++) s += xv[i * 4 + c] as number;
      return s;
    });
    const cs1 = xv.map((_, k) => {
      const [r, c] = unravel(k, shape) as [number, number];
      let s = 0;
      for (let j = 0; j <= c; j++) s += xv[r * 4 + j] as number;
      return s;
    });
    expectRef(x.cumsum(0), { shape, data: cs0 }, { rtol: 1e-12 });
    expectRef(x.cumsum(1), { shape, data: cs1 }, { rtol: 1e-12 });
    expectRef(x.cumsum(-1), { shape, data: cs1 }, { rtol: 1e-12 });
    assert.deepEqual(
      tensor(new Int32Array([1, 2, 3]))
        .cumsum(0)
        .toArray(),
      [1, 3, 6],
    );

    expectClose(x.norm(), Math.sqrt(sum(xv.map((v) => v * v))), { rtol: 1e-12 });
    expectClose(x.norm(1), sum(xv.map(Math.abs)), { rtol: 1e-12 });
    expectClose(x.norm(3), sum(xv.map((v) => Math.abs(v) ** 3)) ** (1 / 3), { rtol: 1e-10 });
    expectRef(
      x.norm(2, 1, true),
      refReduce(xv, shape, [1], true, (v) => Math.sqrt(sum(v.map((e) => e * e)))),
      { rtol: 1e-12 },
    );
    expectRef(
      x.norm(1, [0]),
      refReduce(xv, shape, [0], false, (v) => sum(v.map(Math.abs))),
      { rtol: 1e-12 },
    );
    assert.equal(tensor([3, 4]).norm().item(), 5);

    const b = tensor([1, 0, 0, 1, 1, 1], { shape: [2, 3] });
    const any = b.any();
    assert.equal(any.dtype, 'bool');
    assert.equal(any.item(), 1);
    assert.equal(b.all().item(), 0);
    assert.deepEqual(b.any(1).toArray(), [1, 1]);
    assert.deepEqual(b.all(1).toArray(), [0, 1]);
    assert.deepEqual(b.all(0).toArray(), [1, 0, 0]);
    assert.deepEqual(b.any(0, true).shape, [1, 3]);
    assert.equal(tensor([0, 0]).any().item(), 0);
    assert.equal(tensor([true, true]).all().item(), 1);
  });
});

test('bincount with weights and minlength', () => {
  tidy(() => {
    const g = new Generator(4);
    const x = randint(0, 6, [200], { generator: g });
    const xv = x.toArray();
    const counts = new Array<number>(Math.max(...xv) + 1).fill(0);
    for (const v of xv) counts[v] = (counts[v] as number) + 1;
    const c = x.bincount();
    assert.equal(c.dtype, 'int64');
    assert.deepEqual(c.toArray(), counts);
    const padded = x.bincount(undefined, 10);
    assert.deepEqual(padded.toArray(), [...counts, ...new Array<number>(10 - counts.length).fill(0)]);
    // minlength smaller than the natural length changes nothing.
    assert.deepEqual(x.bincount(undefined, 2).toArray(), counts);

    const w = rand([200], { generator: g, dtype: 'float64' });
    const wv = w.toArray();
    const ws = new Array<number>(counts.length).fill(0);
    xv.forEach((v, i) => {
      ws[v] = (ws[v] as number) + (wv[i] as number);
    });
    const weighted = x.bincount(w);
    assert.equal(weighted.dtype, 'float64');
    expectClose(weighted, ws, { rtol: 1e-12 });
    expectClose(
      tensor([1, 1, 3], { dtype: 'int64' }).bincount(tensor([0.5, 0.25, 2], { dtype: 'float64' }), 6),
      [0, 0.75, 0, 2, 0, 0],
    );
  });
});

test('unique returns sorted values, inverse indices and counts', () => {
  tidy(() => {
    const x = randint(-5, 5, [300], { generator: new Generator(6) });
    const xv = x.toArray();
    const values = [...new Set(xv)].sort((a, b) => a - b);
    const u = x.unique();
    assert.deepEqual(u.values.toArray(), values);
    assert.deepEqual(
      u.counts.toArray(),
      values.map((v) => xv.filter((e) => e === v).length),
    );
    assert.deepEqual(
      u.inverse.toArray(),
      xv.map((v) => values.indexOf(v)),
    );
    // The inverse reconstructs the input.
    assert.ok(u.values.indexSelect(0, u.inverse).equal(x));

    const f = tensor([2.5, -1, 2.5, 0, -1, 2.5], { shape: [2, 3] });
    const uf = f.unique();
    assert.deepEqual(uf.values.toArray(), [-1, 0, 2.5]);
    assert.deepEqual(uf.counts.toArray(), [2, 1, 3]);
    assert.deepEqual(uf.inverse.shape, [2, 3]);
    assert.deepEqual(uf.inverse.toArray(), [2, 0, 2, 1, 0, 2]);
  });
});

test('softmax and logSoftmax: rows sum to 1 and match a JS reference', () => {
  tidy(() => {
    const shape = [5, 7];
    const x = randn(shape, { generator: new Generator(13), dtype: 'float64' }).mul(4);
    const xv = x.toArray();
    const softRow = (v: number[]) => {
      const m = Math.max(...v);
      const e = v.map((a) => Math.exp(a - m));
      const s = sum(e);
      return e.map((a) => a / s);
    };
    const rowsRef = Array.from({ length: 5 }, (_, r) => softRow(xv.slice(r * 7, r * 7 + 7))).flat();
    for (const s of [x.softmax(1), x.softmax(-1), F.softmax(x, 1)]) {
      expectRef(s, { shape, data: rowsRef }, { rtol: 1e-12 });
      expectClose(s.sum(1), new Array<number>(5).fill(1), { rtol: 1e-12 });
    }
    for (const l of [x.logSoftmax(1), F.logSoftmax(x, -1)]) {
      expectRef(l, { shape, data: rowsRef.map(Math.log) }, { rtol: 1e-10 });
      expectClose(l.exp().sum(1), new Array<number>(5).fill(1), { rtol: 1e-12 });
    }
    // Along the first axis, columns sum to 1.
    expectClose(x.softmax(0).sum(0), new Array<number>(7).fill(1), { rtol: 1e-12 });
    // float32 input, softmax computed in float64 when asked.
    const x32 = x.to('float32');
    const s32 = F.softmax(x32, 1, 'float64');
    assert.equal(s32.dtype, 'float64');
    expectClose(s32.sum(1), new Array<number>(5).fill(1), { rtol: 1e-12 });
    expectClose(x32.softmax(1), rowsRef, { rtol: 1e-4, atol: 1e-6 });
    // Large logits do not overflow.
    expectClose(tensor([1000, 1000]).softmax(0), [0.5, 0.5]);
  });
});

// Regression: a scalar bound was dropped when the other bound was a tensor.
test('clamp with a tensor bound and a scalar bound applies both', () => {
  tidy(() => {
    const x = tensor([0, 5, 10]);
    expectClose(x.clamp(tensor([1, 1, 1]), 2), [1, 2, 2]);
    expectClose(x.clamp(3, tensor([8, 8, 8])), [3, 5, 8]);
  });
});
