import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { NnunetError } from '../../src/errors.js';
import { fromFloat16Bits } from '../../src/io/npz.js';
import { TorchTensorRef, toPlain } from '../../src/io/pickle.js';
import {
  type CheckpointTensor,
  readTorchCheckpoint,
  readTorchCheckpointBytes,
  stateDictTensors,
} from '../../src/io/torch-checkpoint.js';
import { FIXTURES } from '../helpers.js';

const DIR = join(FIXTURES, 'io', 'torch_checkpoint');
const V1_3D = join(
  FIXTURES,
  'v1_models',
  'nnUNet',
  '3d_fullres',
  'Task906_Tiny',
  'nnUNetTrainerV2__nnUNetPlansv2.1',
  'fold_0',
  'model_final_checkpoint.model',
);

interface Expected {
  dtype: string;
  shape: number[];
  values: number[];
}

function values(t: CheckpointTensor): number[] {
  if (t.dtype === 'float16') return Array.from(fromFloat16Bits(t.data as Uint16Array));
  if (t.data instanceof BigInt64Array) return Array.from(t.data, Number);
  return Array.from(t.data as ArrayLike<number>);
}

test('zip and legacy torch.save files give the tensors PyTorch saved, strided views included', () => {
  const expected = JSON.parse(readFileSync(join(DIR, 'small.json'), 'utf8')) as {
    epoch: number;
    tensors: Record<string, Expected>;
  };
  for (const [file, format] of [
    ['small_zip.pt', 'zip'],
    ['small_legacy.pt', 'legacy'],
  ] as const) {
    const ck = readTorchCheckpoint(join(DIR, file));
    assert.equal(ck.format, format);
    assert.deepStrictEqual([...ck.stateDict.keys()], Object.keys(expected.tensors), file);
    for (const [name, e] of Object.entries(expected.tensors)) {
      const t = ck.stateDict.get(name) as CheckpointTensor;
      assert.equal(t.dtype, e.dtype, `${file} ${name}`);
      assert.deepStrictEqual(t.shape, e.shape, `${file} ${name}`);
      assert.deepStrictEqual(values(t), e.values, `${file} ${name}`);
    }
    assert.equal(ck.other.get('epoch'), expected.epoch);
    assert.deepStrictEqual(toPlain(ck.other.get('plot_stuff') ?? null), [[0.5, 0.25], [], [0.125]]);
    // int64 beyond 2^32 survives exactly.
    assert.equal(((ck.stateDict.get('l') as CheckpointTensor).data as BigInt64Array)[3], 2n ** 40n);
  }
});

test('a state dict becomes @nnunet/torch tensors with the same values', () => {
  const ck = readTorchCheckpoint(join(DIR, 'small_zip.pt'));
  const tensors = stateDictTensors(ck.stateDict);
  try {
    const w = tensors.get('w_t');
    assert.ok(w);
    assert.deepStrictEqual(w.shape, [4, 3, 2]);
    assert.equal(w.dtype, 'float32');
    assert.deepStrictEqual(w.toArray(), values(ck.stateDict.get('w_t') as CheckpointTensor));
    assert.equal(tensors.get('h')?.dtype, 'float16');
    assert.equal(tensors.get('b')?.dtype, 'bool');
    assert.deepStrictEqual(tensors.get('scalar')?.shape, []);
  } finally {
    for (const t of tensors.values()) t.dispose();
  }
  const renamed = stateDictTensors(new Map([['module.x', ck.stateDict.get('d') as CheckpointTensor]]), {
    stripPrefix: 'module.',
  });
  assert.deepStrictEqual([...renamed.keys()], ['x']);
  for (const t of renamed.values()) t.dispose();
});

test("nnU-Net v1's checkpoint: 26 weights in v1's order with PyTorch's values, and the training record", () => {
  const summary = JSON.parse(readFileSync(join(DIR, 'v1_3d_summary.json'), 'utf8')) as {
    epoch: number;
    keys: string[];
    plot_stuff: unknown;
    best_stuff: unknown;
    tensors: { name: string; shape: number[]; sum: number; first: number[] }[];
  };
  const ck = readTorchCheckpoint(V1_3D);
  assert.equal(ck.format, 'zip');
  assert.deepStrictEqual(
    [...ck.stateDict.keys()],
    summary.tensors.map((t) => t.name),
  );
  for (const e of summary.tensors) {
    const t = ck.stateDict.get(e.name) as CheckpointTensor;
    assert.deepStrictEqual(t.shape, e.shape);
    const v = values(t);
    assert.deepStrictEqual(v.slice(0, e.first.length), e.first, e.name);
    const sum = v.reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(sum - e.sum) <= 1e-9 * Math.max(1, Math.abs(e.sum)), `${e.name}: ${sum} vs ${e.sum}`);
  }
  assert.deepStrictEqual(
    [...ck.other.keys()],
    summary.keys.filter((k) => k !== 'state_dict'),
  );
  assert.equal(ck.other.get('epoch'), summary.epoch);
  assert.deepStrictEqual(toPlain(ck.other.get('plot_stuff') ?? null), summary.plot_stuff);
  assert.deepStrictEqual(toPlain(ck.other.get('best_stuff') ?? null), summary.best_stuff);
  // The SGD momentum buffers stay lazy views.
  const opt = ck.other.get('optimizer_state_dict') as Map<string, Map<number, Map<string, unknown>>>;
  assert.ok(opt.get('state')?.get(0)?.get('momentum_buffer') instanceof TorchTensorRef);
});

test('truncated, foreign and damaged files are NnunetErrors', () => {
  const isNnunet = (e: unknown): boolean => e instanceof NnunetError;
  const whole = readFileSync(V1_3D);
  const cuts = [0, 1, 3, 4, 100, whole.length - 23, whole.length - 22, whole.length - 1];
  for (let n = 4099; n < whole.length; n += 40_009) cuts.push(n);
  for (const n of cuts) assert.throws(() => readTorchCheckpointBytes(whole.subarray(0, n), 'cut.model'), isNnunet);
  const legacy = readFileSync(join(DIR, 'small_legacy.pt'));
  for (let n = 0; n < legacy.length; n++) {
    assert.throws(() => readTorchCheckpointBytes(legacy.subarray(0, n), 'cut.pt'), isNnunet, `cut at ${n}`);
  }
  assert.throws(
    () => readTorchCheckpointBytes(Buffer.from('{"not": "a checkpoint"}'), 'x.json'),
    (e: unknown) => isNnunet(e) && /neither a zip archive nor the legacy/.test((e as Error).message),
  );
  // A zip without data.pkl (a v1 softmax .npz).
  const npz = join(FIXTURES, 'v1_models', 'pred_2d_notta', 'tiny_100.npz');
  assert.throws(
    () => readTorchCheckpoint(npz),
    (e: unknown) => isNnunet(e) && /data\.pkl/.test((e as Error).message),
  );
  // Corrupt the storage key inside data.pkl: the entry it names is missing.
  const broken = Buffer.from(whole);
  const at = broken.indexOf(Buffer.from('X\x01\x00\x00\x000q', 'latin1'));
  assert.ok(at > 0);
  broken[at + 5] = 'Z'.charCodeAt(0);
  assert.throws(
    () => readTorchCheckpointBytes(broken, 'broken.model'),
    (e: unknown) => isNnunet(e) && /storage Z has no entry/.test((e as Error).message),
  );
  assert.throws(() => readTorchCheckpoint(join(DIR, 'missing.pt')), isNnunet);
});

test('compressed zip entries are refused before anything is inflated (torch.save never compresses)', () => {
  const isNnunet = (e: unknown): boolean => e instanceof NnunetError;
  // small_zip.pt repacked by Python's zipfile with deflate.
  assert.throws(
    () => readTorchCheckpoint(join(DIR, 'small_deflated.pt')),
    (e: unknown) =>
      isNnunet(e) &&
      /small_deflated\.pt is not a readable PyTorch checkpoint \(the zip entry small_zip\/\S+ is compressed \(method 8\), but torch\.save never compresses/.test(
        (e as Error).message,
      ),
  );
  // A stored entry whose directory declares another size than it stores (a 4 GiB claim included).
  const whole = readFileSync(join(DIR, 'small_zip.pt'));
  const central = whole.indexOf(Buffer.from('PK\x01\x02', 'latin1'));
  assert.ok(central > 0);
  for (const size of [whole.readUInt32LE(central + 20) + 1, 0xfffffffe]) {
    const lying = Buffer.from(whole);
    lying.writeUInt32LE(size, central + 24);
    assert.throws(
      () => readTorchCheckpointBytes(lying, 'lying.pt'),
      (e: unknown) => isNnunet(e) && new RegExp(`declares ${size} bytes but stores`).test((e as Error).message),
    );
  }
  // The untouched file still reads.
  assert.equal(readTorchCheckpointBytes(whole, 'small_zip.pt').stateDict.size, 10);
});
