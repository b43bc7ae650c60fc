/** Tensor creation, data in/out for every dtype, conversions, random sampling and shared memory. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  arange,
  type DType,
  eye,
  fromShared,
  full,
  Generator,
  linspace,
  ones,
  rand,
  randint,
  randn,
  randperm,
  scalarTensor,
  type Tensor,
  tensor,
  tidy,
  zeros,
} from '../src/index.js';
import { expectClose } from './helpers.js';

/** Runs `fn` on the tensor and disposes it afterwards. */
function using<R>(t: Tensor, fn: (t: Tensor) => R): R {
  try {
    return fn(t);
  } finally {
    t.dispose();
  }
}

/** Round trip of a TypedArray through a tensor: the values come back bit for bit. */
function roundTrip(data: ArrayLike<number | bigint>, dtype: DType | undefined, ctor: string): void {
  const t = tensor(data as never, dtype === undefined ? {} : { dtype });
  try {
    const back = t.toTypedArray();
    assert.equal(back.constructor.name, ctor, `${dtype}: array type`);
    assert.notEqual(back, data, `${dtype}: toTypedArray returns a copy`);
    assert.deepEqual(Array.from(back as ArrayLike<number>), Array.from(data as ArrayLike<number>), `${dtype}: values`);
    assert.deepEqual(t.shape, [data.length]);
  } finally {
    t.dispose();
  }
}

test('TypedArray round trips preserve every value exactly, for each dtype', () => {
  const f32 = new Float32Array([0, -0, 1.5, -2.25, 0.1, 3.4028234663852886e38, 1.401298464324817e-45, Number.NaN]);
  f32.set([Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY], 2);
  roundTrip(f32, undefined, 'Float32Array');
  roundTrip(
    new Float64Array([0, -0, 0.1, Math.PI, Number.MAX_VALUE, Number.MIN_VALUE, Number.NaN, -1e300]),
    undefined,
    'Float64Array',
  );
  roundTrip(new Int8Array([-128, -1, 0, 1, 127]), undefined, 'Int8Array');
  roundTrip(new Int16Array([-32768, -1, 0, 1, 32767]), undefined, 'Int16Array');
  roundTrip(new Int32Array([-2147483648, -1, 0, 1, 2147483647]), undefined, 'Int32Array');
  roundTrip(new Uint8Array([0, 1, 128, 255]), undefined, 'Uint8Array');
  roundTrip(new BigInt64Array([-(2n ** 63n), -1n, 0n, 2n ** 53n + 1n, 2n ** 63n - 1n]), undefined, 'BigInt64Array');
  roundTrip(new Uint8Array([0, 1, 1, 0]), 'bool', 'Uint8Array');
  // Half types travel as raw bit patterns: 1, -2, 65504 (max), 2^-24 (smallest subnormal), inf, -0, NaN.
  roundTrip(new Uint16Array([0x3c00, 0xc000, 0x7bff, 0x0001, 0x7c00, 0x8000, 0x7e00]), 'float16', 'Uint16Array');
  // bfloat16: 1, -2, max, smallest subnormal, inf, -0, NaN.
  roundTrip(new Uint16Array([0x3f80, 0xc000, 0x7f7f, 0x0001, 0x7f80, 0x8000, 0x7fc0]), 'bfloat16', 'Uint16Array');
});

test('dtype is implied by the TypedArray (Uint8Array may be bool) and shape defaults to 1-D', () => {
  const cases: [ArrayLike<number | bigint>, DType][] = [
    [new Float32Array(2), 'float32'],
    [new Float64Array(2), 'float64'],
    [new Int8Array(2), 'int8'],
    [new Int16Array(2), 'int16'],
    [new Int32Array(2), 'int32'],
    [new BigInt64Array(2), 'int64'],
    [new Uint8Array(2), 'uint8'],
  ];
  for (const [data, dtype] of cases) {
    using(tensor(data as never), (t) => {
      assert.equal(t.dtype, dtype);
      assert.deepEqual(t.shape, [2]);
    });
  }
  using(tensor(new Uint8Array([1, 0]), { dtype: 'bool' }), (t) => assert.equal(t.dtype, 'bool'));
  // A subarray starts at its own offset, not at the start of the buffer.
  using(tensor(new Float32Array([1, 2, 3, 4, 5]).subarray(1, 4), { shape: [3, 1] }), (t) => {
    assert.deepEqual(t.shape, [3, 1]);
    assert.deepEqual(t.toArray(), [2, 3, 4]);
  });
});

test('half types decode from raw bits to the right numbers', () => {
  using(tensor(new Uint16Array([0x3c00, 0xc000, 0x7bff, 0x0001, 0x7c00, 0x3555]), { dtype: 'float16' }), (t) => {
    assert.equal(t.dtype, 'float16');
    assert.deepEqual(t.toArray(), [1, -2, 65504, 2 ** -24, Number.POSITIVE_INFINITY, 0.333251953125]);
    assert.ok(Object.is(t.toArray()[0], 1));
  });
  using(tensor(new Uint16Array([0x3f80, 0xc000, 0x3eab, 0x7f80, 0x8000]), { dtype: 'bfloat16' }), (t) => {
    assert.equal(t.dtype, 'bfloat16');
    const a = t.toArray();
    assert.deepEqual(a.slice(0, 4), [1, -2, 0.333984375, Number.POSITIVE_INFINITY]);
    assert.ok(Object.is(a[4], -0), '0x8000 is -0');
  });
});

test('Float32Array converted to float16 and bfloat16 rounds to nearest even', () => {
  // float16: 1/3 -> 0x3555; 65520 overflows to inf; 1 + 2^-11 is a tie that rounds down to 1;
  // 1 + 3 * 2^-11 is a tie that rounds up to 1 + 2^-9; 1e-8 underflows to 0.
  using(tensor(new Float32Array([1 / 3, 65520, 1 + 2 ** -11, 1 + 3 * 2 ** -11, 1e-8]), { dtype: 'float16' }), (t) => {
    assert.equal(t.dtype, 'float16');
    assert.deepEqual(Array.from(t.toTypedArray() as Uint16Array), [0x3555, 0x7c00, 0x3c00, 0x3c02, 0x0000]);
    assert.deepEqual(t.toArray(), [0.333251953125, Number.POSITIVE_INFINITY, 1, 1 + 2 ** -9, 0]);
  });
  // bfloat16: 1/3 -> 0x3eab; ties 1 + 2^-8 -> 1 and 1 + 3 * 2^-8 -> 1 + 2^-6; -2.5 is exact.
  using(tensor(new Float32Array([1 / 3, 1 + 2 ** -8, 1 + 3 * 2 ** -8, -2.5]), { dtype: 'bfloat16' }), (t) => {
    assert.equal(t.dtype, 'bfloat16');
    assert.deepEqual(Array.from(t.toTypedArray() as Uint16Array), [0x3eab, 0x3f80, 0x3f82, 0xc020]);
    assert.deepEqual(t.toArray(), [0.333984375, 1, 1 + 2 ** -6, -2.5]);
  });
  // Plain arrays take the same route.
  using(tensor([1 / 3, 2], { dtype: 'float16' }), (t) => {
    assert.equal(t.dtype, 'float16');
    assert.deepEqual(t.toArray(), [0.333251953125, 2]);
  });
});

test('other TypedArrays convert to the requested dtype', () => {
  using(tensor(new Float64Array([0.1, -1.5]), { dtype: 'float32' }), (t) => {
    assert.equal(t.dtype, 'float32');
    assert.deepEqual(t.toArray(), [Math.fround(0.1), -1.5]);
  });
  using(tensor(new Int32Array([3, -4]), { dtype: 'float64' }), (t) => {
    assert.equal(t.dtype, 'float64');
    assert.deepEqual(Array.from(t.toTypedArray() as Float64Array), [3, -4]);
  });
  using(tensor(new Float32Array([2.9, -2.9]), { dtype: 'int32' }), (t) => {
    assert.equal(t.dtype, 'int32');
    assert.deepEqual(Array.from(t.toTypedArray() as Int32Array), [2, -2]);
  });
});

test('plain number and boolean arrays', () => {
  using(tensor([1, 2.5, -3, 4, 5, 6], { shape: [2, 3] }), (t) => {
    assert.equal(t.dtype, 'float32');
    assert.deepEqual(t.shape, [2, 3]);
    assert.deepEqual(t.toArray(), [1, 2.5, -3, 4, 5, 6]);
  });
  using(tensor([0.1, 1e-300], { dtype: 'float64' }), (t) => assert.deepEqual(t.toArray(), [0.1, 1e-300]));
  using(tensor([2 ** 40, -7], { dtype: 'int64' }), (t) => {
    assert.equal(t.dtype, 'int64');
    assert.deepEqual(Array.from(t.toTypedArray() as BigInt64Array), [2n ** 40n, -7n]);
  });
  using(tensor([-5, 100], { dtype: 'int8' }), (t) =>
    assert.deepEqual(Array.from(t.toTypedArray() as Int8Array), [-5, 100]),
  );
  using(tensor([true, false, true]), (t) => {
    assert.equal(t.dtype, 'bool');
    assert.deepEqual(t.toArray(), [1, 0, 1]);
  });
  assert.throws(() => tensor([1, 2, 3], { shape: [2, 2] }), { code: 'ERR_TORCH_ARGUMENT', message: /needs 4 values/ });
});

test('zeros, ones, full, scalar tensors', () => {
  tidy(() => {
    const z = zeros([2, 3]);
    assert.deepEqual(z.shape, [2, 3]);
    assert.equal(z.dtype, 'float32');
    assert.deepEqual(z.toArray(), [0, 0, 0, 0, 0, 0]);
    const o = ones([4], { dtype: 'int16' });
    assert.equal(o.dtype, 'int16');
    assert.deepEqual(o.toArray(), [1, 1, 1, 1]);
    const f = full([2, 2], 7.5, { dtype: 'float64' });
    assert.equal(f.dtype, 'float64');
    assert.deepEqual(f.toArray(), [7.5, 7.5, 7.5, 7.5]);
    const fi = full([3], -9, { dtype: 'int32' });
    assert.deepEqual(fi.toArray(), [-9, -9, -9]);
    const fb = full([2], true, { dtype: 'bool' });
    assert.deepEqual(fb.toArray(), [1, 1]);
    const e = zeros([0, 3]);
    assert.equal(e.numel, 0);
    assert.deepEqual(e.toArray(), []);

    const s = tensor(2.5);
    assert.deepEqual(s.shape, []);
    assert.equal(s.ndim, 0);
    assert.equal(s.numel, 1);
    assert.equal(s.item(), 2.5);
    assert.equal(scalarTensor(5n).dtype, 'int64');
    assert.equal(scalarTensor(true).dtype, 'bool');
  });
});

test('arange, linspace and eye', () => {
  tidy(() => {
    const a = arange(5);
    assert.equal(a.dtype, 'int64');
    assert.deepEqual(a.toArray(), [0, 1, 2, 3, 4]);
    assert.deepEqual(arange(2, 11, 3).toArray(), [2, 5, 8]);
    assert.deepEqual(arange(5, 0, -2).toArray(), [5, 3, 1]);
    const f = arange(0, 1, 0.25);
    assert.equal(f.dtype, 'float32');
    assert.deepEqual(f.toArray(), [0, 0.25, 0.5, 0.75]);
    assert.equal(arange(3, undefined, 1, { dtype: 'float64' }).dtype, 'float64');

    const l = linspace(-1, 1, 5);
    assert.equal(l.dtype, 'float32');
    assert.deepEqual(l.toArray(), [-1, -0.5, 0, 0.5, 1]);
    expectClose(linspace(0, 1, 4, { dtype: 'float64' }), [0, 1 / 3, 2 / 3, 1], { rtol: 1e-15 });
    assert.deepEqual(linspace(3, 3, 1).toArray(), [3]);

    const i = eye(3, { dtype: 'int32' });
    assert.deepEqual(i.shape, [3, 3]);
    assert.equal(i.dtype, 'int32');
    assert.deepEqual(i.toArray(), [1, 0, 0, 0, 1, 0, 0, 0, 1]);
  });
});

test('a Generator reproduces its samples for the same seed and differs for another', () => {
  tidy(() => {
    const draw = (seed: number) => {
      const g = new Generator(seed);
      return [
        rand([64], { generator: g }),
        randn([64], { generator: g }),
        randint(0, 1000, [64], { generator: g }),
        randperm(64, { generator: g }),
      ];
    };
    const a = draw(1234);
    const b = draw(1234);
    const c = draw(4321);
    for (let k = 0; k < a.length; k++) {
      const [x, y, z] = [a[k] as Tensor, b[k] as Tensor, c[k] as Tensor];
      assert.ok(x.equal(y), `sampler ${k}: same seed, same values`);
      assert.ok(!x.equal(z), `sampler ${k}: another seed, other values`);
    }
    // Successive draws from one generator differ; manualSeed restarts the sequence.
    const g = new Generator(7);
    const first = rand([16], { generator: g });
    const second = rand([16], { generator: g });
    assert.ok(!first.equal(second));
    g.manualSeed(7);
    assert.ok(rand([16], { generator: g }).equal(first));
    // getState / setState replays.
    const state = g.getState();
    const next = randn([16], { generator: g });
    g.setState(state);
    assert.ok(randn([16], { generator: g }).equal(next));
  });
});

test('rand is in [0, 1) and randn has mean ~0 and std ~1', () => {
  tidy(() => {
    const g = new Generator(2024);
    const u = rand([100_000], { generator: g });
    assert.equal(u.dtype, 'float32');
    assert.ok(u.min().item() >= 0);
    assert.ok(u.max().item() < 1);
    assert.ok(Math.abs(u.mean().item() - 0.5) < 0.01, `uniform mean ${u.mean().item()}`);
    const n = randn([100_000], { generator: g, dtype: 'float64' });
    assert.equal(n.dtype, 'float64');
    const values = n.toArray();
    const mean = values.reduce((s, v) => s + v, 0) / values.length;
    const sd = Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / (values.length - 1));
    assert.ok(Math.abs(mean) < 0.02, `normal mean ${mean}`);
    assert.ok(Math.abs(sd - 1) < 0.02, `normal std ${sd}`);
    expectClose(n.std(), sd, { rtol: 1e-9 });
  });
});

test('randint respects its bounds and randperm is a permutation', () => {
  tidy(() => {
    const g = new Generator(99);
    const r = randint(-3, 4, [20_000], { generator: g });
    assert.equal(r.dtype, 'int64');
    const counts = new Map<number, number>();
    for (const v of r.toArray()) counts.set(v, (counts.get(v) ?? 0) + 1);
    assert.deepEqual(
      [...counts.keys()].sort((x, y) => x - y),
      [-3, -2, -1, 0, 1, 2, 3],
    );
    for (const c of counts.values()) assert.ok(c > 2000, `each value about 1/7 of the draws, got ${c}`);
    assert.equal(randint(0, 10, [5], { generator: g, dtype: 'int32' }).dtype, 'int32');

    const p = randperm(1000, { generator: g });
    assert.equal(p.dtype, 'int64');
    const values = p.toArray();
    assert.deepEqual(
      [...values].sort((x, y) => x - y),
      Array.from({ length: 1000 }, (_, i) => i),
    );
    assert.notDeepEqual(
      values,
      Array.from({ length: 1000 }, (_, i) => i),
    );
  });
});

test('item, shape, dtype, device, ndim, numel, size', () => {
  tidy(() => {
    const t = zeros([2, 3, 4], { dtype: 'float64' });
    assert.deepEqual(t.shape, [2, 3, 4]);
    assert.equal(t.ndim, 3);
    assert.equal(t.numel, 24);
    assert.equal(t.dtype, 'float64');
    assert.equal(t.device, 'cpu');
    assert.equal(t.size(-1), 4);
    assert.equal(t.size(1), 3);
    assert.equal(String(t), 'Tensor(shape=[2, 3, 4], dtype=float64, device=cpu)');

    assert.equal(tensor([3.25]).item(), 3.25);
    assert.equal(tensor(new Int32Array([-7])).item(), -7);
    assert.equal(tensor(new BigInt64Array([2n ** 40n])).item(), 2 ** 40);
    assert.equal(tensor([true]).item(), 1);
    assert.equal(tensor(new Uint16Array([0x3555]), { dtype: 'float16' }).item(), 0.333251953125);
    assert.throws(() => tensor([1, 2]).item(), { code: 'ERR_TORCH_NATIVE', message: /one element/ });
  });
});

test('to(dtype) conversions', () => {
  tidy(() => {
    const x = tensor([1.7, -1.7, 2.5, -2.5, 0.9, -0.9], { dtype: 'float64' });
    // float -> int truncates toward zero.
    for (const d of ['int8', 'int16', 'int32', 'int64'] as const) {
      const i = x.to(d);
      assert.equal(i.dtype, d);
      assert.deepEqual(i.toArray(), [1, -1, 2, -2, 0, 0]);
    }
    // float -> float16 rounds to the nearest representable value.
    const third = tensor([1 / 3, 0.1, 70000], { dtype: 'float64' }).to('float16');
    assert.equal(third.dtype, 'float16');
    assert.deepEqual(third.toArray(), [0.333251953125, 0.0999755859375, Number.POSITIVE_INFINITY]);
    assert.deepEqual(Array.from(third.toTypedArray() as Uint16Array), [0x3555, 0x2e66, 0x7c00]);
    // float64 -> float32 rounds like Math.fround.
    assert.deepEqual(
      tensor([0.1, 1 / 3], { dtype: 'float64' })
        .to('float32')
        .toArray(),
      [Math.fround(0.1), Math.fround(1 / 3)],
    );
    // To and from bool.
    assert.deepEqual(tensor([0, -2, 0.5]).to('bool').toArray(), [0, 1, 1]);
    assert.deepEqual(tensor([true, false]).to('float32').toArray(), [1, 0]);
    // Integer narrowing wraps modulo 2^8.
    assert.deepEqual(
      tensor(new Int32Array([257, 255, -1]))
        .to('uint8')
        .toArray(),
      [1, 255, 255],
    );
    // Object form, same dtype, and copy.
    const y = tensor([1, 2]);
    const same = y.to({ dtype: 'float32', copy: true });
    same.fill_(9);
    assert.deepEqual(y.toArray(), [1, 2], 'copy: true gives independent storage');
    assert.equal(y.float().dtype, 'float32');
    assert.equal(y.to({ dtype: 'float64' }).dtype, 'float64');
    assert.equal(y.cpu().device, 'cpu');
  });
});

test('fromShared over a SharedArrayBuffer is zero-copy both ways', () => {
  const sab = new SharedArrayBuffer(6 * 4 + 8);
  const view = new Float32Array(sab, 8, 6);
  view.set([1, 2, 3, 4, 5, 6]);
  const t = fromShared(view, [2, 3], 'float32');
  try {
    assert.deepEqual(t.shape, [2, 3]);
    assert.deepEqual(t.toArray(), [1, 2, 3, 4, 5, 6]);
    view[4] = 50; // a write into the buffer is seen by the tensor
    assert.deepEqual(t.toArray(), [1, 2, 3, 4, 50, 6]);
    t.mul_(2); // and an in-place op on the tensor is seen in the buffer
    assert.deepEqual(Array.from(view), [2, 4, 6, 8, 100, 12]);
    assert.deepEqual(Array.from(new Float32Array(sab, 0, 2)), [0, 0], 'bytes before the view untouched');
  } finally {
    t.dispose();
  }
  // Raw bytes of a dtype other than the view's element type.
  const bytes = new Uint8Array(new SharedArrayBuffer(4));
  const i = fromShared(bytes, [2], 'int16');
  try {
    new Int16Array(bytes.buffer).set([-300, 7]);
    assert.deepEqual(i.toArray(), [-300, 7]);
  } finally {
    i.dispose();
  }
  assert.throws(() => fromShared(new Float32Array(new SharedArrayBuffer(16)), [5], 'float32'), {
    code: 'ERR_TORCH_ARGUMENT',
    message: /16 bytes/,
  });
});

test('fromShared over an ordinary ArrayBuffer copies', () => {
  const data = new Float64Array([1, 2, 3, 4]);
  const t = fromShared(data, [4], 'float64');
  try {
    data[0] = 100;
    assert.deepEqual(t.toArray(), [1, 2, 3, 4]);
    t.fill_(0);
    assert.deepEqual(Array.from(data), [100, 2, 3, 4]);
  } finally {
    t.dispose();
  }
});

test('copyInto copies C-order values into a TypedArray of the same byte length', () => {
  tidy(() => {
    const t = arange(6, undefined, 1, { dtype: 'float32' }).reshape([2, 3]);
    const target = new Float32Array(6);
    t.copyInto(target);
    assert.deepEqual(Array.from(target), [0, 1, 2, 3, 4, 5]);
    // A non-contiguous tensor is written in its logical (C) order.
    const tr = t.transpose(0, 1);
    assert.equal(tr.isContiguous(), false);
    tr.copyInto(target);
    assert.deepEqual(Array.from(target), [0, 3, 1, 4, 2, 5]);
    // Into a view on a SharedArrayBuffer, at an offset; the copy is a snapshot.
    const sab = new SharedArrayBuffer(8 + 6 * 4);
    const shared = new Float32Array(sab, 8, 6);
    t.copyInto(shared);
    assert.deepEqual(Array.from(shared), [0, 1, 2, 3, 4, 5]);
    t.fill_(-1);
    assert.deepEqual(Array.from(shared), [0, 1, 2, 3, 4, 5]);
    // Byte length is what counts: 6 float32 fit in 24 uint8.
    const bytes = new Uint8Array(24);
    t.copyInto(bytes);
    assert.deepEqual(Array.from(new Float32Array(bytes.buffer)), [-1, -1, -1, -1, -1, -1]);
    assert.throws(() => t.copyInto(new Float32Array(5)), { code: 'ERR_TORCH_ARGUMENT', message: /20 bytes/ });
    assert.throws(() => t.copyInto([] as unknown as Float32Array), { code: 'ERR_TORCH_ARGUMENT', message: /target/ });
  });
});

// ---------------------------------------------------------------- regressions found in review

test('a plain array converted to bool stores 0 and 1', () => {
  using(tensor([0, 2, -1], { dtype: 'bool' }), (t) => {
    assert.deepEqual(t.toArray(), [0, 1, 1]);
    assert.equal(
      tidy(() => t.sum().item()),
      2,
    );
  });
});

test('a plain array of fractions converts to int64 like to int32', () => {
  using(tensor([1.5, -1.5], { dtype: 'int32' }), (t) => assert.deepEqual(t.toArray(), [1, -1]));
  using(tensor([1.5, -1.5], { dtype: 'int64' }), (t) => assert.deepEqual(t.toArray(), [1, -1]));
});

test('copyInto accepts a DataView, as documented', () => {
  using(tensor([1, 2]), (t) => {
    const dv = new DataView(new ArrayBuffer(8));
    t.copyInto(dv);
    assert.deepEqual([dv.getFloat32(0, true), dv.getFloat32(4, true)], [1, 2]);
  });
});

test('a Uint16Array is raw half bits for float16/bfloat16 and unsigned integers otherwise', () => {
  using(tensor(new Uint16Array([1, 65535])), (t) => {
    assert.equal(t.dtype, 'int32');
    assert.deepEqual(t.toArray(), [1, 65535]);
  });
  using(tensor(new Uint16Array([1, 65535]), { dtype: 'float32' }), (t) => assert.deepEqual(t.toArray(), [1, 65535]));
  // 0x3c00 is 1.0 in IEEE half precision.
  using(tensor(new Uint16Array([0x3c00]), { dtype: 'float16' }), (t) => assert.deepEqual(t.toArray(), [1]));
});
