/** Error reporting: argument checks, LibTorch errors, use after dispose, and recovery. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  cat,
  dispose,
  F,
  fromShared,
  memoryStats,
  ones,
  type Tensor,
  TorchError,
  tensor,
  tidy,
  where,
  zeros,
} from '../src/index.js';

/** Asserts that `fn` throws a TorchError with `code` whose message matches every pattern; returns it. */
function expectTorchError(fn: () => unknown, code: string, ...patterns: (RegExp | string)[]): TorchError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught !== undefined, 'expected a throw');
  assert.ok(caught instanceof TorchError, `expected a TorchError, got ${String(caught)}`);
  assert.equal(caught.name, 'TorchError');
  assert.equal(caught.code, code, `code of: ${caught.message}`);
  for (const p of patterns) {
    if (typeof p === 'string') assert.ok(caught.message.includes(p), `message "${caught.message}" lacks "${p}"`);
    else assert.match(caught.message, p);
  }
  return caught;
}
const ARG = 'ERR_TORCH_ARGUMENT';
const NATIVE = 'ERR_TORCH_NATIVE';
const DISPOSED = 'ERR_TORCH_DISPOSED';

test('TypeScript argument checks throw ERR_TORCH_ARGUMENT naming the argument', () => {
  tidy(() => {
    const x = zeros([2, 3]);
    expectTorchError(() => x.reshape(5 as unknown as number[]), ARG, /^shape must be an array of integers/, 'got 5');
    expectTorchError(() => x.reshape([2, 1.5]), ARG, /^shape must be/, '[2, 1.5]');
    expectTorchError(() => x.view('2,3' as unknown as number[]), ARG, /^shape /);
    expectTorchError(() => x.permute([1, Number.NaN]), ARG, /^dims /);
    expectTorchError(() => x.repeat(undefined as unknown as number[]), ARG, /^repeats /);
    expectTorchError(() => x.narrow(0, 0.5, 1), ARG, /^start must be an integer, got 0.5/);
    expectTorchError(() => x.narrow(0, 0, '1' as unknown as number), ARG, /^length /);
    expectTorchError(() => x.transpose(0, undefined as unknown as number), ARG, /^dim1 /);
    expectTorchError(() => x.slice(0, 0, 2, 0.5), ARG, /^step /);
    expectTorchError(() => x.size(2), ARG, /^dim 2 is out of range/);
    expectTorchError(() => x.add('1' as unknown as number), ARG, /^other must be a number or a tensor/);
    expectTorchError(() => x.add(x, 'a' as unknown as number), ARG, /^alpha /);
    expectTorchError(() => x.maskedFill(x.gt(0), {} as unknown as number), ARG, /^value /);
    expectTorchError(() => x.matmul([1] as unknown as Tensor), ARG, /^other must be a Tensor/);
    expectTorchError(() => x.gather(1, null as unknown as Tensor), ARG, /^index must be a Tensor/);
    expectTorchError(() => cat([x, 5 as unknown as Tensor]), ARG, /^tensors\[1\] must be a Tensor/);
    expectTorchError(() => x.index([null, 3 as unknown as Tensor]), ARG, /^indices\[1\] must be a Tensor/);
    expectTorchError(() => where(x.gt(0), x, 1), ARG, /^where: a and b must both be tensors or both be scalars/);
    expectTorchError(() => tensor([1, 2, 3], { shape: [2, 2] }), ARG, '[2, 2] needs 4 values but data has 3');
    expectTorchError(() => x.copyInto({} as Float32Array), ARG, /^target /);
    // Checked in C++ but still argument errors: byte counts that do not match.
    expectTorchError(() => x.copyInto(new Float32Array(5)), ARG, /^copyIntoBytes: /, '20 bytes', '24');
    expectTorchError(
      () => fromShared(new Float32Array(new SharedArrayBuffer(8)), [3], 'float32'),
      ARG,
      /^shareBytes: /,
      '8 bytes',
      '12',
    );
  });
});

test('bad dtype and device strings are argument errors', () => {
  tidy(() => {
    const dtypeList = 'uint8, int8, int16, int32, int64, float16, float32, float64, bool, bfloat16';
    for (const make of [
      () => zeros([2], { dtype: 'float' as never }),
      () => ones([2], { dtype: 'Float32' as never }),
      () => zeros([2]).to({ dtype: 'int128' as never }),
      () => zeros([2]).sum(undefined, { dtype: 'long' as never }),
      () => F.softmax(zeros([2]), 0, 'half' as never),
      () => fromShared(new Float32Array(1), [1], 'f32' as never),
    ]) {
      expectTorchError(make, ARG, /^dtype must be one of /, dtypeList);
    }
    for (const make of [
      () => zeros([2], { device: 'gpu' as never }),
      () => ones([2], { device: 'cuda:x' as never }),
      () => zeros([2]).to('tpu' as never),
      () => zeros([2]).to({ device: 'CPU' as never }),
      () => tensor(new Float32Array(1), { device: 'cuda0' as never }),
    ]) {
      expectTorchError(make, ARG, /^device must be 'cpu', 'cuda' or 'cuda:N'; got /);
    }
  });
});

test('functional ops check their input rank and per-axis options', () => {
  tidy(() => {
    const w = zeros([4, 2, 1, 1, 1]);
    expectTorchError(
      () => F.conv3d(zeros([1, 2, 3, 3]), w),
      ARG,
      /^conv3d expects a 5-D input/,
      'got shape [1, 2, 3, 3]',
    );
    expectTorchError(() => F.conv2d(zeros([2, 3, 3]), zeros([1, 2, 1, 1])), ARG, /^conv2d expects a 4-D input/);
    expectTorchError(() => F.maxPool3d(zeros([1, 1, 4, 4]), 2), ARG, /^maxPool3d expects a 5-D input/);
    expectTorchError(
      () => F.conv3d(zeros([1, 2, 3, 3, 3]), w, null, { stride: [1, 1] }),
      ARG,
      /^stride needs 3 values \(one per spatial axis\), got \[1, 1\]/,
    );
    expectTorchError(() => F.conv3d(zeros([1, 2, 3, 3, 3]), w, null, { groups: 1.5 }), ARG, /^groups /);
    expectTorchError(() => F.pad(zeros([3]), [1, 2, 3]), ARG, /^padding needs an even number of values, got 3/);
    expectTorchError(() => F.pad(zeros([3]), [1, 1], 'circular' as never), ARG, /^pad mode must be /, 'circular');
    expectTorchError(() => F.dropout(zeros([3]), 1.5), ARG, /dropout probability p must be in \[0, 1\], got 1.5/);
    expectTorchError(() => F.interpolate(zeros([4]), { size: 2 }), ARG, /^interpolate expects a 3-D, 4-D or 5-D/);
  });
});

test('LibTorch errors become ERR_TORCH_NATIVE prefixed with the op name', () => {
  tidy(() => {
    // conv3d with 3 input channels in the weight but 2 in the input: both shapes are named.
    const e = expectTorchError(
      () => F.conv3d(zeros([1, 2, 3, 3, 3]), zeros([4, 3, 1, 1, 1])),
      NATIVE,
      /^(conv3d|convolution): /,
      '[4, 3, 1, 1, 1]',
      '[1, 2, 3, 3, 3]',
    );
    assert.doesNotMatch(e.message, /\n$/, 'no trailing newline');
    // add with shapes that do not broadcast: the op and the mismatched sizes are named.
    expectTorchError(() => zeros([2, 3]).add(zeros([4])), NATIVE, /^add: /, /\(3\).*\(4\)/);
    expectTorchError(() => zeros([2, 3]).mul(zeros([2, 2])), NATIVE, /^mul: /);
    expectTorchError(() => zeros([2, 3]).matmul(zeros([4, 5])), NATIVE, /^matmul: /, '2x3', '4x5');
    expectTorchError(() => zeros([2, 3]).reshape([4, 2]), NATIVE, /^reshape: /, '[4, 2]', '6');
    expectTorchError(() => zeros([2, 3]).view([-1, 4]), NATIVE, /^view: /);
    expectTorchError(() => cat([zeros([2, 3]), zeros([2, 4])]), NATIVE, /^cat: /);
    expectTorchError(
      () => zeros([3]).item(),
      NATIVE,
      /^item: item\(\) needs a tensor with one element, got shape \[3\]/,
    );
    expectTorchError(() => zeros([2]).select(0, 5), NATIVE, /^select: /, '5');
    expectTorchError(() => zeros([2]).transpose(0, 3), NATIVE, /^transpose: /);
    expectTorchError(() => tensor(new Int32Array([1])).mean(), NATIVE, /^mean: /);
    expectTorchError(() => F.pad(zeros([3]), [1, 1], 'reflect'), NATIVE, /^padReflect: /);
  });
});

test('tensor() from a plain array checks its dtype string', () => {
  expectTorchError(() => tensor([1], { dtype: 'double' as never }), ARG, /^dtype must be one of /);
});

test('tensor() from a plain array checks its device string', () => {
  expectTorchError(() => tensor([1], { device: 'cuda0' as never }), ARG, /^device must be /);
});

// LibTorch's broadcast message names only the mismatched sizes, not the operands' shapes.
test('an add broadcast mismatch names both full shapes', () => {
  tidy(() => {
    expectTorchError(() => zeros([2, 3]).add(zeros([4])), NATIVE, /^add: /, '[2, 3]', '[4]');
  });
});

test('a tensor used after dispose() throws ERR_TORCH_DISPOSED; dispose() twice is harmless', () => {
  const x = ones([2, 2]);
  const y = ones([2, 2]);
  const v = y.view([4]);
  assert.equal(x.isDisposed, false);
  x.dispose();
  assert.equal(x.isDisposed, true);
  x.dispose(); // idempotent
  x.dispose();
  assert.equal(x.isDisposed, true);
  expectTorchError(() => x.shape, DISPOSED, 'after dispose()');
  expectTorchError(() => x.dtype, DISPOSED);
  expectTorchError(() => x.toArray(), DISPOSED);
  expectTorchError(() => x.add(1), DISPOSED);
  expectTorchError(() => x.exp(), DISPOSED);
  expectTorchError(() => x.add_(1), DISPOSED);
  // As an argument, alone or inside a list.
  expectTorchError(() => y.add(x), DISPOSED);
  const mask = y.gt(0);
  expectTorchError(() => where(mask, y, x), DISPOSED);
  expectTorchError(() => where(x, 1, 2), DISPOSED);
  mask.dispose();
  expectTorchError(() => cat([y, x]), DISPOSED);
  expectTorchError(() => y.copy_(x), DISPOSED);
  // The other tensors are unaffected, and a view outlives its disposed base.
  y.dispose();
  assert.deepEqual(v.toArray(), [1, 1, 1, 1]);
  v.dispose();
  expectTorchError(() => v.sum(), DISPOSED);

  // tidy disposes what it does not return; dispose() frees nested structures.
  let inner: Tensor | undefined;
  const kept = tidy(() => {
    inner = ones([3]);
    return inner.mul(2);
  });
  assert.ok(inner?.isDisposed);
  expectTorchError(() => inner?.sum(), DISPOSED);
  assert.deepEqual(kept.toArray(), [2, 2, 2]);
  const bag = { a: kept, list: [zeros([1]), zeros([2])] };
  dispose(bag);
  dispose(bag); // again: harmless
  assert.ok(kept.isDisposed && bag.list.every((t) => t.isDisposed));
});

test('errors never crash the process: many failing calls, then a working op', () => {
  const before = memoryStats().liveTensors;
  const a = ones([2, 3]);
  const b = ones([4]);
  const gone = ones([1]);
  gone.dispose();
  const failures: (() => unknown)[] = [
    () => a.add(b),
    () => a.matmul(a),
    () => a.reshape([7]),
    () => a.reshape(7 as unknown as number[]),
    () => a.select(2, 0),
    () => F.conv3d(a, a),
    () => F.conv3d(zeros([1, 2, 3, 3, 3]), zeros([4, 3, 1, 1, 1])),
    () => gone.add(1),
    () => a.add(gone),
    () => zeros([2], { dtype: 'nope' as never }),
    () => a.item(),
    () => cat([a, b]),
    () => a.gather(0, b),
    () => a.indexSelect(0, tensor([5], { dtype: 'int64' })),
  ];
  const codes = new Map<string, number>();
  for (let i = 0; i < failures.length * 20; i++) {
    const f = failures[i % failures.length] as () => unknown;
    tidy(() => {
      try {
        f();
        assert.fail(`failure ${i % failures.length} did not throw`);
      } catch (e) {
        assert.ok(e instanceof TorchError, `failure ${i % failures.length}: ${String(e)}`);
        codes.set(e.code, (codes.get(e.code) ?? 0) + 1);
      }
    });
  }
  assert.deepEqual([...codes.keys()].sort(), [ARG, DISPOSED, NATIVE]);
  // Still fully working afterwards.
  assert.equal(
    tidy(() => a.mul(3).sum().item()),
    18,
  );
  a.dispose();
  b.dispose();
  assert.equal(memoryStats().liveTensors, before, 'failed calls leak no tensor handles');
});
