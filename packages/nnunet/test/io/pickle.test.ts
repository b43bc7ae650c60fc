import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { NnunetError } from '../../src/errors.js';
import { readNpzRaw } from '../../src/io/npz.js';
import {
  NdArray,
  type PickleValue,
  readPickle,
  readPickleFile,
  TorchStorage,
  TorchTensorRef,
  toPlain,
} from '../../src/io/pickle.js';
import { FIXTURES, tempDir } from '../helpers.js';

const DIR = join(FIXTURES, 'io', 'pickle');
const V1 = join(FIXTURES, 'v1_models');
const PLANS_3D = join(V1, 'nnUNet', '3d_fullres', 'Task906_Tiny', 'nnUNetTrainerV2__nnUNetPlansv2.1', 'plans.pkl');
const CHECKPOINT_3D = join(
  V1,
  'nnUNet',
  '3d_fullres',
  'Task906_Tiny',
  'nnUNetTrainerV2__nnUNetPlansv2.1',
  'fold_0',
  'model_final_checkpoint.model',
);

/** Bytes from a mix of byte values and latin-1 strings. */
function pk(...parts: (number | string)[]): Uint8Array {
  const out: number[] = [];
  for (const p of parts) {
    if (typeof p === 'number') out.push(p);
    else for (const c of Buffer.from(p, 'latin1')) out.push(c);
  }
  return Uint8Array.from(out);
}

function u32le(n: number): string {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b.toString('latin1');
}

/** A pickled numpy array: dtype `spec` (item size `elsize` in its state), shape (2^40,), raw `data`. */
function ndarrayPickle(spec: string, elsize: number, data: string): Uint8Array {
  const reconstruct = ['c', 'numpy.core.multiarray\n_reconstruct\n', 'c', 'numpy\nndarray\n', 'K', 0, 0x85];
  const dtype = ['c', 'numpy\ndtype\n', 'X', u32le(spec.length), spec, 0x89, 0x88, 0x87, 'R'];
  const dtypeState = ['(', 'K', 3, 'X', u32le(1), '<', 'N', 'N', 'N', 'J', u32le(elsize), 'J', u32le(0xffffffff)];
  return pk(
    0x80,
    2,
    ...reconstruct,
    'C',
    1,
    'b',
    0x87,
    'R',
    '(',
    'K',
    1,
    0x8a,
    6,
    '\0\0\0\0\0\x01', // shape (2^40,) as LONG1
    0x85,
    ...dtype,
    ...dtypeState,
    'K',
    0,
    't',
    'b',
    0x89,
    'C',
    data.length,
    data,
    't',
    'b',
    '.',
  );
}

/** torch._utils._rebuild_tensor_v2 over a 4-element storage: size (n, n), strides (stride, stride). */
function tensorPickle(n: number, stride: number): Uint8Array {
  const pid = ['(', 'X', u32le(7), 'storage', 'c', 'torch\nFloatStorage\n', 'X', u32le(1), '0', 'X', u32le(3), 'cpu'];
  return pk(
    0x80,
    2,
    'c',
    'torch._utils\n_rebuild_tensor_v2\n',
    '(',
    ...pid,
    'K',
    4,
    't',
    'Q',
    'K',
    0,
    'J',
    u32le(n),
    'J',
    u32le(n),
    0x86,
    'J',
    u32le(stride),
    'J',
    u32le(stride),
    0x86,
    0x89,
    ')',
    't',
    'R',
    '.',
  );
}

/** Asserts that reading fails with an NnunetError (never another exception type) and returns it. */
function rejects(bytes: Uint8Array, match?: RegExp, o: Parameters<typeof readPickle>[1] = {}): NnunetError {
  try {
    readPickle(bytes, { source: 'hostile.pkl', ...o });
  } catch (e) {
    assert.ok(e instanceof NnunetError, `expected an NnunetError, got ${(e as Error)?.stack ?? String(e)}`);
    if (match) assert.match(e.message, match);
    return e;
  }
  assert.fail('the hostile pickle was accepted');
}

/** A persistent-id resolver for data.pkl tests: storages without bytes (the reader only checks view bounds). */
function fakeStorages(pid: PickleValue): PickleValue {
  if (!Array.isArray(pid) || pid.length < 5 || typeof pid[4] !== 'number') {
    throw new NnunetError('ERR_DATASET', 'bad persistent id');
  }
  return new TorchStorage('float32', String(pid[2]), String(pid[3]), pid[4] as number, new Uint8Array(0));
}

test('values pickled by Python with protocols 2 to 5 read back as Python has them', () => {
  const expected = JSON.parse(readFileSync(join(DIR, 'values.json'), 'utf8')) as Record<string, unknown>;
  for (const p of [2, 3, 4, 5]) {
    const v = toPlain(readPickleFile(join(DIR, `values_p${p}.pkl`))) as Record<string, unknown[]>;
    // Python writes sets in hash order; the fixture lists them sorted.
    (v.set as number[]).sort((a, b) => a - b);
    (v.frozenset as string[]).sort();
    assert.deepStrictEqual(v, expected, `protocol ${p}`);
  }
});

test('native types: tuples are frozen, dicts keep key types and order, arrays keep dtype and shape', () => {
  const v = readPickleFile(join(DIR, 'values_p4.pkl'));
  assert.ok(v instanceof Map);
  const tuple = v.get('tuple');
  assert.ok(Array.isArray(tuple) && Object.isFrozen(tuple));
  assert.ok(Array.isArray(v.get('list')) && !Object.isFrozen(v.get('list')));
  const keys = v.get('int_keys');
  assert.ok(keys instanceof Map);
  assert.deepStrictEqual([...keys.keys()], [0, 1]);
  assert.deepStrictEqual([...(v.get('ordered') as Map<string, number>).keys()], ['b', 'a']);
  const shared = v.get('shared') as PickleValue[];
  assert.equal(shared[0], shared[1], 'memo references give the same object');
  const i8 = v.get('i8');
  assert.ok(i8 instanceof NdArray);
  assert.equal(i8.dtype.descr, '<i8');
  assert.deepStrictEqual(i8.shape, [3]);
  assert.deepStrictEqual(Array.from(i8.data as BigInt64Array), [12n, 14n, 14n]);
  const u = v.get('unicode_arr') as NdArray;
  assert.equal(u.dtype.descr, '<U8');
  assert.deepStrictEqual(u.data, ['tiny_000', 'a', 'ünï']);
  const f = v.get('fortran') as NdArray;
  assert.deepStrictEqual(
    Array.from(f.data as Float64Array),
    Array.from({ length: 12 }, (_, i) => i),
  );
  const be = v.get('big_endian') as NdArray;
  assert.equal(be.dtype.descr, '>f8');
  assert.deepStrictEqual(Array.from(be.data as Float64Array), [1, 2]);
  assert.deepStrictEqual(v.get('np_scalars'), [0.25, 1.5, -7, 9, true, 0.5, 250]);
});

test('floats and integers beyond double precision keep their values', () => {
  const v = readPickleFile(join(DIR, 'specials.pkl')) as PickleValue[];
  assert.equal(v[0], Number.POSITIVE_INFINITY);
  assert.equal(v[1], Number.NEGATIVE_INFINITY);
  assert.ok(Number.isNaN(v[2]));
  assert.ok(Object.is(v[3], -0));
  assert.equal(v[4], 2n ** 64n + 1n);
  assert.equal(v[5], -(2n ** 70n));
});

test('v1 files: plans.pkl and a checkpoint data.pkl', () => {
  const plans = toPlain(readPickleFile(PLANS_3D)) as Record<string, unknown>;
  const stage = (plans.plans_per_stage as Record<string, Record<string, unknown>>)['0'];
  assert.deepStrictEqual(stage?.patch_size, [12, 14, 14]);
  assert.deepStrictEqual(plans.modalities, { '0': 'MRI' });
  const pkl = readNpzRaw(CHECKPOINT_3D).get('model_final_checkpoint/data.pkl') as Buffer;
  const ck = readPickle(pkl, { persistentLoad: fakeStorages });
  assert.ok(ck instanceof Map);
  const sd = ck.get('state_dict') as Map<string, PickleValue>;
  assert.equal(sd.size, 26);
  const w = sd.get('conv_blocks_context.0.blocks.0.conv.weight');
  assert.ok(w instanceof TorchTensorRef);
  assert.deepStrictEqual(w.shape, [32, 1, 3, 3, 3]);
  assert.deepStrictEqual(w.stride, [27, 27, 9, 3, 1]);
  // A persistent id without a resolver is an error, not a silent null.
  rejects(pkl, /persistent id/);
});

test('a dict key "__proto__" stays data: an own property, the prototype untouched', () => {
  // {'__proto__': {'polluted': 1}, 'a': 1}, protocol 2
  const bytes = pk(0x80, 2, '}', '(', 'X', u32le(9), '__proto__', '}', 'X', u32le(8), 'polluted', 'K', 1, 's');
  const v = toPlain(readPickle(pk(...bytes, 'X', u32le(1), 'a', 'K', 1, 'u', '.')), 'evil.pkl') as Record<
    string,
    unknown
  >;
  assert.equal(Object.getPrototypeOf(v), Object.prototype);
  assert.equal(v.polluted, undefined);
  assert.ok(Object.hasOwn(v, '__proto__'));
  assert.deepStrictEqual(Object.keys(v), ['__proto__', 'a']);
  assert.deepStrictEqual(Object.getOwnPropertyDescriptor(v, '__proto__')?.value, { polluted: 1 });
  // The same object JSON.parse builds from the same text.
  assert.deepStrictEqual(v, JSON.parse('{"__proto__": {"polluted": 1}, "a": 1}'));
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

test('unknown globals are rejected by name, via GLOBAL and STACK_GLOBAL, and nothing runs', () => {
  const dir = tempDir('nnunet-pickle-');
  const marker = join(dir, 'pwned');
  const cmd = `touch ${marker}`;
  const viaGlobal = pk(0x80, 2, 'c', 'os\nsystem\n', 'X', u32le(cmd.length), cmd, 0x85, 'R', '.');
  const e1 = rejects(viaGlobal, /os\.system/);
  assert.match(e1.message, /hostile\.pkl/);
  const viaStack = pk(0x80, 4, 0x8c, 5, 'posix', 0x8c, 6, 'system', 0x93, 0x8c, cmd.length, cmd, 0x85, 'R', '.');
  rejects(viaStack, /posix\.system/);
  for (const [mod, name] of [
    ['builtins', 'eval'],
    ['builtins', 'exec'],
    ['builtins', 'getattr'],
    ['subprocess', 'Popen'],
    ['numpy', 'load'],
    ['torch', 'load'],
    ['torch._utils', '_rebuild_device_tensor_from_numpy'],
    ['nt', 'system'],
  ] as const) {
    rejects(pk(0x80, 2, 'c', `${mod}\n${name}\n`, ')', 'R', '.'), new RegExp(`${mod}.${name}`.replace(/\./g, '\\.')));
  }
  assert.equal(existsSync(marker), false);
  // Allowed names used for something else are refused too.
  rejects(
    pk(0x80, 2, 'c', '_codecs\nencode\n', 'X', u32le(2), 'ls', 'X', u32le(5), 'rot13', 0x86, 'R', '.'),
    /_codecs/,
  );
  rejects(
    pk(0x80, 2, 'c', 'numpy.core.multiarray\n_reconstruct\n', 'c', 'collections\nOrderedDict\n', 0x85, 'R', '.'),
    /_reconstruct/,
  );
  // Calling something that is not a global (a string), and BUILD on a plain list.
  rejects(pk(0x80, 2, 'X', u32le(2), 'os', ')', 'R', '.'), /REDUCE/);
  rejects(pk(0x80, 2, ']', '}', 'b', '.'), /BUILD/);
});

test('declared lengths beyond the input are rejected before anything is allocated', () => {
  const huge8 = Buffer.alloc(8);
  huge8.writeBigUInt64LE(1n << 62n);
  const h8 = huge8.toString('latin1');
  const started = performance.now();
  rejects(pk(0x80, 4, 0x8d, h8, '.'), /truncated|length/); // BINUNICODE8
  rejects(pk(0x80, 4, 0x8e, h8, '.'), /truncated|length/); // BINBYTES8
  rejects(pk(0x80, 5, 0x96, h8, '.'), /truncated|length/); // BYTEARRAY8
  rejects(pk(0x80, 3, 'B', u32le(0xffffffff), '.'), /truncated|length/); // BINBYTES
  rejects(pk(0x80, 2, 'X', u32le(0xfffffff0), 'abc', '.'), /truncated|length/); // BINUNICODE
  rejects(pk(0x80, 2, 0x8b, u32le(0x7fffffff), '.'), /LONG4/);
  rejects(pk(0x80, 2, 'T', u32le(0x7fffffff), 'x', '.'), /truncated|length/); // BINSTRING
  // numpy arrays whose shape asks for 2^40 values but whose data are 8 bytes, or none at all.
  rejects(ndarrayPickle('f8', 0xffffffff, '\0'.repeat(8)), /array data has 8 bytes/);
  rejects(ndarrayPickle('U0', 0, ''), /array data has 0 bytes/);
  // Tensor views far outside their storage, or repeating it 2^40 times with zero strides.
  rejects(tensorPickle(1 << 30, 1), /reaches past/, { persistentLoad: fakeStorages });
  rejects(tensorPickle(1 << 30, 0), /repeats elements/, { persistentLoad: fakeStorages });
  assert.ok(performance.now() - started < 2000, 'rejections are immediate');
});

test('nesting, self-reference and exponential sharing end in errors, not stack overflows', () => {
  rejects(pk(0x80, 2, '('.repeat(100_000), '.'), /nested MARKs/);
  // 100 000 lists nested by APPEND (no MARKs): the reader copes, the conversion refuses.
  const depth = 100_000;
  const nested = readPickle(pk(0x80, 2, ']'.repeat(depth), 'a'.repeat(depth - 1), '.'));
  assert.throws(
    () => toPlain(nested),
    (e: unknown) => e instanceof NnunetError && /deeper than/.test(e.message),
  );
  // A list that contains itself.
  const self = readPickle(pk(0x80, 2, ']', 'q', 0, 'h', 0, 'a', '.'));
  assert.throws(() => toPlain(self), NnunetError);
  // 60 levels of [x, x]: 2^60 nodes when expanded.
  let body = 'K\x01';
  for (let i = 0; i < 60; i++) body += `q${String.fromCharCode(i)}h${String.fromCharCode(i)}\x86`;
  const laughs = readPickle(pk(0x80, 2, body, '.'));
  assert.throws(
    () => toPlain(laughs, 'laughs.pkl', { maxNodes: 100_000 }),
    (e: unknown) => e instanceof NnunetError && /more than 100000 values/.test(e.message),
  );
});

test('stack misuse and unsupported opcodes are errors', () => {
  rejects(pk(), /truncated/);
  rejects(pk(0x80, 2), /truncated/);
  rejects(pk(0x80, 6, 'N', '.'), /protocol 6/);
  rejects(pk(0x80, 2, '0', '.'), /stack is empty/); // POP
  rejects(pk(0x80, 2, 'N', 'a', '.'), /stack is empty|list/); // APPEND without a list
  rejects(pk(0x80, 2, ']', 'N', 'N', 's', '.'), /dict/); // SETITEM on a list
  rejects(pk(0x80, 2, ')', 'N', 'a', '.'), /list/); // APPEND to a tuple
  rejects(pk(0x80, 2, ']', 'N', 'e', '.'), /MARK/); // APPENDS without MARK
  rejects(pk(0x80, 2, 'N', 'N', '.'), /STOP with 2/);
  rejects(pk(0x80, 2, '(', 'N', '.'), /open MARK/);
  rejects(pk(0x80, 2, 'h', 5, '.'), /memo entry 5/);
  rejects(pk(0x80, 2, 'N', 0x86, '.'), /stack is empty/); // TUPLE2 with one item
  rejects(pk(0x80, 2, 'N', '(', 0x85, '.'), /stack is empty/); // TUPLE1 may not reach under a MARK
  rejects(pk(0x80, 2, '}', ']', 'N', 's', '.'), /dict key/); // unhashable key
  rejects(pk(0x80, 2, 0xff), /opcode 0xff/);
  rejects(pk('(lp0\n.'), /opcode 0x28|MARK|STOP|opcode/); // protocol 0 text opcodes
  rejects(pk(0x80, 2, 'I', '1\n', '.'), /opcode 0x49/);
  rejects(pk(0x80, 5, 0x97, '.'), /out-of-band/);
  rejects(pk(0x80, 2, 'X', u32le(2), '\xff\xfe', '.'), /UTF-8/);
});

test('a checkpoint data.pkl and plans.pkl cut at every byte offset give an NnunetError', () => {
  const pkl = readNpzRaw(CHECKPOINT_3D).get('model_final_checkpoint/data.pkl') as Buffer;
  const plans = readFileSync(PLANS_3D);
  for (const whole of [pkl, plans]) {
    for (let n = 0; n < whole.length; n++) rejects(whole.subarray(0, n), undefined, { persistentLoad: fakeStorages });
    assert.ok(readPickle(whole, { persistentLoad: fakeStorages }) instanceof Map);
  }
});

test('randomly corrupted v1 pickles give a value or an NnunetError, never another exception', () => {
  const pkl = readNpzRaw(CHECKPOINT_3D).get('model_final_checkpoint/data.pkl') as Buffer;
  const plans = readFileSync(PLANS_3D);
  let seed = 12345;
  const rand = (n: number): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed % n;
  };
  let accepted = 0;
  for (const whole of [pkl, plans]) {
    for (let trial = 0; trial < 1500; trial++) {
      const b = Uint8Array.from(whole);
      const flips = 1 + rand(4);
      for (let f = 0; f < flips; f++) b[rand(b.length)] = rand(256);
      try {
        const v = readPickle(b, { persistentLoad: fakeStorages });
        toPlain(v instanceof Map ? ((v.get('plans_per_stage') ?? null) as PickleValue) : null);
        accepted++;
      } catch (e) {
        assert.ok(e instanceof NnunetError, `trial ${trial}: ${(e as Error)?.stack ?? String(e)}`);
      }
    }
  }
  // Some flips land in string payloads and leave a valid pickle: both outcomes were exercised.
  assert.ok(accepted > 0 && accepted < 3000);
});
