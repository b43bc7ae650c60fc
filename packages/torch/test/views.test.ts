/** Views, indexing, joining and in-place ops, checked against small JS reference loops. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { arange, cat, F, full, ones, stack, type Tensor, tensor, tidy, where, zeros } from '../src/index.js';

// ---------------------------------------------------------------- JS reference helpers

function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) s[i] = (s[i + 1] as number) * (shape[i + 1] as number);
  return s;
}
function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
function unravel(flat: number, shape: readonly number[]): number[] {
  const st = stridesOf(shape);
  return st.map((s, i) => Math.floor(flat / s) % (shape[i] as number));
}
function ravel(idx: readonly number[], shape: readonly number[]): number {
  const st = stridesOf(shape);
  return idx.reduce((acc, v, i) => acc + v * (st[i] as number), 0);
}
/** out[o] = data[map(o)] for every multi-index o of outShape. */
function build(outShape: readonly number[], at: (o: number[]) => number): number[] {
  return Array.from({ length: numel(outShape) }, (_, f) => at(unravel(f, outShape)));
}

function refPermute(data: number[], shape: number[], dims: number[]): { shape: number[]; data: number[] } {
  const outShape = dims.map((d) => shape[d] as number);
  const out = build(outShape, (o) => {
    const i = new Array<number>(shape.length);
    dims.forEach((d, k) => {
      i[d] = o[k] as number;
    });
    return data[ravel(i, shape)] as number;
  });
  return { shape: outShape, data: out };
}

type PadMode = 'constant' | 'reflect' | 'replicate';
/** F.pad reference: `pad` lists (before, after) pairs starting from the last axis. */
function refPad(data: number[], shape: number[], pad: number[], mode: PadMode, value = 0) {
  const nd = shape.length;
  const before = new Array<number>(nd).fill(0);
  const after = new Array<number>(nd).fill(0);
  for (let k = 0; k < pad.length / 2; k++) {
    before[nd - 1 - k] = pad[2 * k] as number;
    after[nd - 1 - k] = pad[2 * k + 1] as number;
  }
  const outShape = shape.map((s, d) => s + (before[d] as number) + (after[d] as number));
  const out = build(outShape, (o) => {
    const i: number[] = [];
    for (let d = 0; d < nd; d++) {
      const n = shape[d] as number;
      let j = (o[d] as number) - (before[d] as number);
      if (j < 0 || j >= n) {
        if (mode === 'constant') return value;
        if (mode === 'replicate') j = Math.min(Math.max(j, 0), n - 1);
        else j = j < 0 ? -j : 2 * (n - 1) - j;
      }
      i.push(j);
    }
    return data[ravel(i, shape)] as number;
  });
  return { shape: outShape, data: out };
}

/** A float tensor 0, 1, 2, ... of the given shape. */
function iota(shape: number[]): Tensor {
  return tidy(() => arange(numel(shape), undefined, 1, { dtype: 'float32' }).reshape(shape));
}
const range = (n: number) => Array.from({ length: n }, (_, i) => i);
const i64 = (values: number[], shape?: number[]) =>
  tensor(values, shape === undefined ? { dtype: 'int64' } : { dtype: 'int64', shape });
const bool = (values: number[], shape?: number[]) =>
  tensor(
    values.map((v) => v !== 0),
    shape === undefined ? {} : { shape },
  );

function expectTensor(t: Tensor, shape: readonly number[], values: readonly number[], what = 'tensor'): void {
  assert.deepEqual(t.shape, shape, `${what}: shape`);
  assert.deepEqual(t.toArray(), values, `${what}: values`);
}

// ---------------------------------------------------------------- views

test('reshape and view keep C order; view shares storage and needs contiguity', () => {
  tidy(() => {
    const x = iota([2, 3, 4]);
    expectTensor(x.reshape([4, 6]), [4, 6], range(24));
    expectTensor(x.reshape([-1, 2]), [12, 2], range(24));
    const v = x.view([6, 4]);
    expectTensor(v, [6, 4], range(24));
    v.fill_(1);
    assert.equal(x.sum().item(), 24, 'a view writes through to its base');
    const t = iota([3, 4]).transpose(0, 1);
    assert.throws(() => t.view([12]), { code: 'ERR_TORCH_NATIVE', message: /^view: / });
    expectTensor(t.reshape([12]), [12], [0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11]);
    assert.throws(() => x.reshape([5, 5]), { code: 'ERR_TORCH_NATIVE', message: /\[5, 5\].*24/ });
  });
});

test('flatten over all, leading, trailing and middle axes', () => {
  tidy(() => {
    const x = iota([2, 3, 4, 5]);
    expectTensor(x.flatten(), [120], range(120));
    assert.deepEqual(x.flatten(1).shape, [2, 60]);
    assert.deepEqual(x.flatten(0, 1).shape, [6, 4, 5]);
    assert.deepEqual(x.flatten(1, 2).shape, [2, 12, 5]);
    assert.deepEqual(x.flatten(-2).shape, [2, 3, 20]);
    assert.deepEqual(x.flatten(1, 2).toArray(), range(120));
    expectTensor(tensor(7).flatten(), [1], [7]);
  });
});

test('permute matches a JS index mapping for every order of a 2x3x4 tensor', () => {
  tidy(() => {
    const shape = [2, 3, 4];
    const x = iota(shape);
    const data = range(24);
    const orders = [
      [0, 1, 2],
      [0, 2, 1],
      [1, 0, 2],
      [1, 2, 0],
      [2, 0, 1],
      [2, 1, 0],
    ];
    for (const dims of orders) {
      const ref = refPermute(data, shape, dims);
      const p = x.permute(dims);
      expectTensor(p, ref.shape, ref.data, `permute [${dims}]`);
      assert.equal(p.isContiguous(), dims.join() === '0,1,2', `permute [${dims}] contiguity`);
      const c = p.contiguous();
      assert.ok(c.isContiguous());
      expectTensor(c, ref.shape, ref.data, `contiguous of permute [${dims}]`);
      assert.deepEqual(c.strides, stridesOf(ref.shape));
    }
    expectTensor(x.permute([-1, 0, 1]), [4, 2, 3], refPermute(data, shape, [2, 0, 1]).data);
    assert.deepEqual(x.permute([2, 0, 1]).strides, [1, 12, 4]);
  });
});

test('transpose is permute with two axes swapped', () => {
  tidy(() => {
    const shape = [2, 3, 4];
    const x = iota(shape);
    expectTensor(x.transpose(0, 2), [4, 3, 2], refPermute(range(24), shape, [2, 1, 0]).data);
    expectTensor(x.transpose(-1, -2), [2, 4, 3], refPermute(range(24), shape, [0, 2, 1]).data);
    assert.equal(x.transpose(1, 2).isContiguous(), false);
  });
});

test('squeeze and unsqueeze', () => {
  tidy(() => {
    const x = iota([1, 3, 1, 2]);
    expectTensor(x.squeeze(), [3, 2], range(6));
    assert.deepEqual(x.squeeze(0).shape, [3, 1, 2]);
    assert.deepEqual(x.squeeze(2).shape, [1, 3, 2]);
    assert.deepEqual(x.squeeze(1).shape, [1, 3, 1, 2], 'a non-1 axis is left alone');
    assert.deepEqual(x.squeeze(-2).shape, [1, 3, 2]);
    const y = iota([3]);
    expectTensor(y.unsqueeze(0), [1, 3], [0, 1, 2]);
    expectTensor(y.unsqueeze(1), [3, 1], [0, 1, 2]);
    assert.deepEqual(y.unsqueeze(-1).shape, [3, 1]);
  });
});

test('expand broadcasts without copying; repeat tiles', () => {
  tidy(() => {
    const col = iota([3, 1]);
    const e = col.expand([3, 4]);
    expectTensor(e, [3, 4], [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2]);
    assert.deepEqual(e.strides, [1, 0]);
    expectTensor(col.expand([2, -1, 2]), [2, 3, 2], [0, 0, 1, 1, 2, 2, 0, 0, 1, 1, 2, 2]);
    assert.throws(() => col.expand([2, 2]), { code: 'ERR_TORCH_NATIVE' });

    const x = iota([2, 3]);
    const shape = [2, 3];
    const r = x.repeat([2, 3]);
    const outShape = [4, 9];
    const ref = build(outShape, (o) => ravel([(o[0] as number) % 2, (o[1] as number) % 3], shape));
    expectTensor(r, outShape, ref);
    expectTensor(x.repeat([2, 1, 1]), [2, 2, 3], [...range(6), ...range(6)]);
  });
});

test('flip reverses the given axes', () => {
  tidy(() => {
    const shape = [2, 3, 4];
    const x = iota(shape);
    const ref = build(shape, (o) => ravel([1 - (o[0] as number), o[1] as number, 3 - (o[2] as number)], shape));
    expectTensor(x.flip([0, 2]), shape, ref);
    expectTensor(iota([5]).flip([0]), [5], [4, 3, 2, 1, 0]);
  });
});

test('narrow, slice with step, select', () => {
  tidy(() => {
    const x = iota([4, 5]);
    expectTensor(x.narrow(1, 1, 3), [4, 3], [1, 2, 3, 6, 7, 8, 11, 12, 13, 16, 17, 18]);
    expectTensor(
      x.narrow(0, 2, 2),
      [2, 5],
      range(10).map((v) => v + 10),
    );

    const v = iota([10]);
    expectTensor(v.slice(0, 1, 8, 3), [3], [1, 4, 7]);
    expectTensor(v.slice(0, undefined, undefined, 4), [3], [0, 4, 8]);
    expectTensor(v.slice(0, -3), [3], [7, 8, 9]);
    expectTensor(v.slice(0, 2, -5), [3], [2, 3, 4]);
    expectTensor(x.slice(1, 0, 5, 2), [4, 3], [0, 2, 4, 5, 7, 9, 10, 12, 14, 15, 17, 19]);
    const s = v.slice(0, 0, 10, 2);
    s.fill_(-1);
    expectTensor(v, [10], [-1, 1, -1, 3, -1, 5, -1, 7, -1, 9], 'slice is a view');

    const y = iota([2, 3, 4]);
    expectTensor(y.select(1, 2), [2, 4], [8, 9, 10, 11, 20, 21, 22, 23]);
    expectTensor(y.select(2, -1), [2, 3], [3, 7, 11, 15, 19, 23]);
    assert.throws(() => y.select(0, 2), { code: 'ERR_TORCH_NATIVE', message: /^select: / });
  });
});

test('indexSelect and gather', () => {
  tidy(() => {
    const shape = [3, 4];
    const x = iota(shape);
    const idx = [3, 0, 3];
    expectTensor(
      x.indexSelect(1, i64(idx)),
      [3, 3],
      build([3, 3], (o) => ravel([o[0] as number, idx[o[1] as number] as number], shape)),
    );
    expectTensor(x.indexSelect(0, i64([2, 2])), [2, 4], [8, 9, 10, 11, 8, 9, 10, 11]);

    // gather along 1: out[i][j] = x[i][index[i][j]]; along 0: out[i][j] = x[index[i][j]][j].
    const g1 = [
      [0, 3],
      [2, 2],
      [1, 0],
    ];
    const got1 = x.gather(1, i64(g1.flat(), [3, 2]));
    expectTensor(
      got1,
      [3, 2],
      build([3, 2], (o) => ravel([o[0] as number, g1[o[0] as number]?.[o[1] as number] as number], shape)),
    );
    const g0 = [
      [2, 0, 1, 2],
      [0, 0, 2, 1],
    ];
    expectTensor(
      x.gather(0, i64(g0.flat(), [2, 4])),
      [2, 4],
      build([2, 4], (o) => ravel([g0[o[0] as number]?.[o[1] as number] as number, o[1] as number], shape)),
    );
  });
});

test('scatter writes src at index positions into a copy', () => {
  tidy(() => {
    const x = zeros([3, 4]);
    const index = [
      [3, 1],
      [0, 2],
      [1, 3],
    ];
    const src = iota([3, 2]).add(1);
    const out = x.scatter(1, i64(index.flat(), [3, 2]), src);
    const ref = new Array<number>(12).fill(0);
    index.forEach((row, i) => {
      row.forEach((j, k) => {
        ref[i * 4 + j] = i * 2 + k + 1;
      });
    });
    expectTensor(out, [3, 4], ref);
    assert.equal(x.sum().item(), 0, 'scatter does not modify its input');
    const added = x.scatterAdd(1, i64([0, 0, 1, 1, 2, 2], [3, 2]), ones([3, 2]));
    expectTensor(added, [3, 4], [2, 0, 0, 0, 0, 2, 0, 0, 0, 0, 2, 0]);
  });
});

test('maskedFill, maskedFill_ and maskedSelect', () => {
  tidy(() => {
    const x = iota([2, 3]);
    const mask = bool([1, 0, 1, 0, 0, 1], [2, 3]);
    expectTensor(x.maskedFill(mask, -5), [2, 3], [-5, 1, -5, 3, 4, -5]);
    expectTensor(x, [2, 3], range(6), 'maskedFill leaves the input alone');
    // A broadcast mask [3] applies to every row.
    const rowMask = bool([0, 1, 0]);
    assert.equal(x.maskedFill_(rowMask, 9), x);
    expectTensor(x, [2, 3], [0, 9, 2, 3, 9, 5]);
    expectTensor(x.maskedSelect(mask), [3], [0, 2, 5]);
  });
});

test('where with tensors (broadcast) and with scalars', () => {
  tidy(() => {
    const cond = bool([1, 0, 0, 1], [2, 2]);
    const a = iota([2, 2]);
    const b = tensor([-1, -2]); // broadcast over rows
    expectTensor(where(cond, a, b), [2, 2], [0, -2, -1, 3]);
    expectTensor(F.where(cond, a, b), [2, 2], [0, -2, -1, 3]);
    expectTensor(where(cond, 1.5, -1.5), [2, 2], [1.5, -1.5, -1.5, 1.5]);
    const cmp = a.gt(1);
    expectTensor(where(cmp, a, zeros([1])), [2, 2], [0, 0, 2, 3]);
  });
});

test('index and indexPut_ with index tensors', () => {
  tidy(() => {
    const x = iota([3, 4]);
    // x[[0, 2, 2], [1, 3, 0]] picks pairs.
    expectTensor(x.index([i64([0, 2, 2]), i64([1, 3, 0])]), [3], [1, 11, 8]);
    // x[:, [3, 1]] with null for a whole axis.
    expectTensor(x.index([null, i64([3, 1])]), [3, 2], [3, 1, 7, 5, 11, 9]);
    // x[[1]] selects rows; a boolean mask selects elements.
    expectTensor(x.index([i64([1])]), [1, 4], [4, 5, 6, 7]);
    expectTensor(x.index([x.gt(8)]), [3], [9, 10, 11]);

    const y = zeros([3, 3]);
    assert.equal(y.indexPut_([i64([0, 1, 2]), i64([2, 1, 0])], tensor([1, 2, 3])), y);
    expectTensor(y, [3, 3], [0, 0, 1, 0, 2, 0, 3, 0, 0]);
    // accumulate adds repeated positions; without it a broadcast scalar-like value overwrites.
    y.indexPut_([i64([0, 0, 0]), i64([0, 0, 1])], tensor([5, 6, 7]), true);
    expectTensor(y, [3, 3], [11, 7, 1, 0, 2, 0, 3, 0, 0]);
    y.indexPut_([null, i64([2])], tensor([-1]));
    expectTensor(y, [3, 3], [11, 7, -1, 0, 2, -1, 3, 0, -1]);
  });
});

test('cat, stack, split (size and sizes), chunk, unbind', () => {
  tidy(() => {
    const a = iota([2, 3]);
    const b = iota([2, 3]).add(10);
    expectTensor(cat([a, b]), [4, 3], [0, 1, 2, 3, 4, 5, 10, 11, 12, 13, 14, 15]);
    expectTensor(cat([a, b], 1), [2, 6], [0, 1, 2, 10, 11, 12, 3, 4, 5, 13, 14, 15]);
    expectTensor(cat([a, b], -1), [2, 6], [0, 1, 2, 10, 11, 12, 3, 4, 5, 13, 14, 15]);
    expectTensor(stack([a, b]), [2, 2, 3], [0, 1, 2, 3, 4, 5, 10, 11, 12, 13, 14, 15]);
    expectTensor(stack([a, b], 2), [2, 3, 2], [0, 10, 1, 11, 2, 12, 3, 13, 4, 14, 5, 15]);
    assert.throws(() => cat([a, iota([2, 2])]), { code: 'ERR_TORCH_NATIVE' });

    const v = iota([7]);
    const parts = v.split(3);
    assert.equal(parts.length, 3);
    assert.deepEqual(
      parts.map((p) => p.toArray()),
      [[0, 1, 2], [3, 4, 5], [6]],
    );
    const sized = v.split([1, 4, 2]);
    assert.deepEqual(
      sized.map((p) => p.toArray()),
      [[0], [1, 2, 3, 4], [5, 6]],
    );
    assert.throws(() => v.split([1, 2]), { code: 'ERR_TORCH_NATIVE' });
    const cols = iota([2, 5]).split(2, 1);
    assert.deepEqual(
      cols.map((p) => p.shape),
      [
        [2, 2],
        [2, 2],
        [2, 1],
      ],
    );
    expectTensor(cols[2] as Tensor, [2, 1], [4, 9]);

    const ch = v.chunk(3);
    assert.deepEqual(
      ch.map((p) => p.toArray()),
      [[0, 1, 2], [3, 4, 5], [6]],
    );
    const ch2 = iota([2, 4]).chunk(2, 1);
    expectTensor(ch2[1] as Tensor, [2, 2], [2, 3, 6, 7]);

    const rows = a.unbind();
    assert.equal(rows.length, 2);
    expectTensor(rows[1] as Tensor, [3], [3, 4, 5]);
    const colsU = a.unbind(1);
    assert.equal(colsU.length, 3);
    expectTensor(colsU[2] as Tensor, [2], [2, 5]);
  });
});

test('F.pad constant, reflect and replicate over 1, 2 and 3 axes', () => {
  tidy(() => {
    const cases: { shape: number[]; pad: number[] }[] = [
      { shape: [2, 5], pad: [2, 1] },
      { shape: [1, 2, 3, 4], pad: [1, 2, 2, 1] },
      { shape: [1, 1, 3, 3, 4], pad: [1, 2, 0, 2, 2, 1] },
    ];
    for (const { shape, pad } of cases) {
      const x = iota(shape);
      const data = range(numel(shape));
      for (const mode of ['constant', 'reflect', 'replicate'] as const) {
        const ref = refPad(data, shape, pad, mode);
        expectTensor(F.pad(x, pad, mode), ref.shape, ref.data, `${mode} pad [${pad}] of [${shape}]`);
      }
      const ref = refPad(data, shape, pad, 'constant', -7.5);
      expectTensor(F.pad(x, pad, 'constant', -7.5), ref.shape, ref.data, `constant -7.5 pad [${pad}]`);
    }
    // Hand-checked 1-D examples.
    expectTensor(F.pad(iota([1, 4]), [2, 1], 'reflect'), [1, 7], [2, 1, 0, 1, 2, 3, 2]);
    expectTensor(F.pad(iota([1, 4]), [2, 1], 'replicate'), [1, 7], [0, 0, 0, 1, 2, 3, 3]);
    expectTensor(F.pad(iota([3]), [1, 2], 'constant', 9), [6], [9, 0, 1, 2, 9, 9]);
    // Negative constant padding crops.
    expectTensor(F.pad(iota([5]), [-1, -2]), [2], [1, 2]);
  });
});

test('clone is an independent copy; contiguous copies only when needed', () => {
  tidy(() => {
    const x = iota([2, 3]);
    const c = x.clone();
    expectTensor(c, [2, 3], range(6));
    c.fill_(0);
    expectTensor(x, [2, 3], range(6), 'clone does not share storage');
    x.add_(1);
    expectTensor(c, [2, 3], [0, 0, 0, 0, 0, 0]);

    const p = x.permute([1, 0]);
    assert.equal(p.isContiguous(), false);
    const pc = p.contiguous();
    assert.equal(pc.isContiguous(), true);
    expectTensor(pc, [3, 2], [1, 4, 2, 5, 3, 6]);
    pc.fill_(0);
    assert.equal(x.sum().item(), 21, 'contiguous of a non-contiguous tensor is a copy');
    const same = x.contiguous();
    same.fill_(0);
    assert.equal(x.sum().item(), 0, 'contiguous of a contiguous tensor is the same storage');
  });
});

test('in-place ops return this and modify the values', () => {
  tidy(() => {
    const x = tensor([1, 2, 3, 4]);
    const alias = x.view([2, 2]); // in-place changes must show through a view
    const two = tensor([2, 2, 2, 2]);
    assert.equal(x.add_(two), x);
    assert.deepEqual(alias.toArray(), [3, 4, 5, 6]);
    assert.equal(x.add_(1), x);
    assert.deepEqual(x.toArray(), [4, 5, 6, 7]);
    x.add_(two, 0.5);
    assert.deepEqual(x.toArray(), [5, 6, 7, 8]);
    assert.equal(x.sub_(two), x);
    assert.deepEqual(x.toArray(), [3, 4, 5, 6]);
    x.sub_(1, 2);
    assert.deepEqual(x.toArray(), [1, 2, 3, 4]);
    assert.equal(x.mul_(tensor([1, -1, 2, 0.5])), x);
    assert.deepEqual(x.toArray(), [1, -2, 6, 2]);
    assert.equal(x.mul_(3), x);
    assert.deepEqual(x.toArray(), [3, -6, 18, 6]);
    assert.equal(x.div_(tensor([3, 3, 6, 4])), x);
    assert.deepEqual(x.toArray(), [1, -2, 3, 1.5]);
    assert.equal(x.div_(2), x);
    assert.deepEqual(alias.toArray(), [0.5, -1, 1.5, 0.75]);
    assert.equal(x.clamp_(-0.5, 1), x);
    assert.deepEqual(x.toArray(), [0.5, -0.5, 1, 0.75]);
    x.clamp_(0.6);
    assert.deepEqual(x.toArray(), [0.6000000238418579, 0.6000000238418579, 1, 0.75]);
    x.clamp_(null, 0.7);
    assert.deepEqual(x.toArray(), [0.6000000238418579, 0.6000000238418579, 0.699999988079071, 0.699999988079071]);
    assert.equal(x.copy_(tensor([9, 8, 7, 6])), x);
    assert.deepEqual(alias.toArray(), [9, 8, 7, 6]);
    // copy_ broadcasts and converts dtype.
    x.copy_(tensor(new Int32Array([5])));
    assert.deepEqual(x.toArray(), [5, 5, 5, 5]);
    assert.equal(x.dtype, 'float32');
    assert.equal(x.zero_(), x);
    assert.deepEqual(alias.toArray(), [0, 0, 0, 0]);
    assert.equal(x.fill_(2.5), x);
    assert.deepEqual(x.toArray(), [2.5, 2.5, 2.5, 2.5]);
    // this += value * t1 * t2 and this += value * t1 / t2
    const t1 = tensor([1, 2, 3, 4]);
    const t2 = tensor([2, 4, 8, 16]);
    assert.equal(x.addcmul_(t1, t2, 0.5), x);
    assert.deepEqual(x.toArray(), [3.5, 6.5, 14.5, 34.5]);
    x.addcmul_(t1, t2);
    assert.deepEqual(x.toArray(), [5.5, 14.5, 38.5, 98.5]);
    assert.equal(x.addcdiv_(t1, t2, 2), x);
    assert.deepEqual(x.toArray(), [6.5, 15.5, 39.25, 99]);
    x.addcdiv_(t2, t1);
    assert.deepEqual(alias.toArray(), [8.5, 17.5, 41.91666793823242, 103]);
    // A shape mismatch is rejected and leaves the tensor as it was.
    assert.throws(() => x.add_(ones([3])), { code: 'ERR_TORCH_NATIVE' });
    assert.deepEqual(x.toArray(), [8.5, 17.5, 41.91666793823242, 103]);
    const f = full([2], 1, { dtype: 'int32' });
    f.add_(2).mul_(3);
    assert.deepEqual(f.toArray(), [9, 9]);
  });
});
