/** Export: probabilities back onto the original grid and geometry; float16 .npz; NumPy's half rounding. */
import assert from 'node:assert/strict';
import { cpSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { cropTask } from '../../src/fingerprint/crop-task.js';
import { readImage, readNpy } from '../../src/index.js';
import {
  type ExportProperties,
  softmaxToSegmentation,
  writeSegmentation,
  writeSoftmaxNpz,
} from '../../src/inference/export.js';
import { fromFloat16Bits, readNpzRaw, toFloat16Bits } from '../../src/io/npz.js';
import { resampleDataOrSeg } from '../../src/preprocessing/resample.js';
import { product } from '../../src/util/shape.js';
import { FIXTURES, tempDir } from '../helpers.js';

/** [K, ...] one-hot probabilities of a label map. */
function oneHot(seg: ArrayLike<number>, K: number): Float32Array {
  const n = seg.length;
  const out = new Float32Array(K * n);
  for (let i = 0; i < n; i++) {
    const v = Math.max(0, seg[i] as number);
    out[v * n + i] = 1;
  }
  return out;
}

async function croppedSynct(
  id: string,
): Promise<{ props: ExportProperties; seg: Float32Array; shape: number[]; raw: string }> {
  const base = tempDir();
  const raw = join(base, 'nnUNet_raw_data', 'Task902_SynthCT');
  cpSync(join(FIXTURES, 'golden', 'Task902_SynthCT', 'raw'), raw, { recursive: true });
  const folder = await cropTask('Task902_SynthCT', { env: { nnUNet_raw_data_base: base }, workers: 2 });
  const props = JSON.parse(readFileSync(join(folder, `${id}.json`), 'utf8')) as ExportProperties;
  const { data, shape } = readNpy(join(folder, `${id}.npy`));
  const n = product(shape.slice(1));
  return { props, seg: (data as Float32Array).slice((shape[0]! - 1) * n), shape: shape.slice(1), raw };
}

test('a one-hot prediction on the cropped grid is written back as the original label file, with its geometry', async () => {
  const { props, seg, shape, raw } = await croppedSynct('synct_001');
  const out = softmaxToSegmentation(oneHot(seg, 3), [3, ...shape], props);
  const label = await readImage(join(raw, 'labelsTr', 'synct_001.nii.gz'));
  assert.deepEqual(out.shape, label.shape);
  assert.deepEqual(Array.from(out.segmentation), Array.from(label.data as Uint8Array));
  const path = join(tempDir(), 'synct_001.nii.gz');
  await writeSegmentation(out.segmentation, out.shape, props, path);
  const written = await readImage(path);
  assert.equal(written.dtype, 'uint8');
  assert.deepEqual(written.geometry, label.geometry);
  assert.deepEqual(Array.from(written.data as Uint8Array), Array.from(label.data as Uint8Array));
});

test('through the network spacing and back (anisotropic, separate z): the label map survives', async () => {
  const { props, seg, shape, raw } = await croppedSynct('synct_001');
  // To the 3-D plans spacing of this task (z 2.5 instead of 5 mm: twice the slices) and back.
  const target = [shape[0]! * 2, shape[1]!, shape[2]!];
  const down = resampleDataOrSeg(seg, [1, ...shape], target, { isSeg: true, order: 1, orderZ: 0, separateZAxis: 0 });
  const out = softmaxToSegmentation(oneHot(down, 3), [3, ...target], {
    ...props,
    spacing_after_resampling: [2.5, 0.7, 0.7],
  });
  const label = (await readImage(join(raw, 'labelsTr', 'synct_001.nii.gz'))).data as Uint8Array;
  let same = 0;
  for (let i = 0; i < label.length; i++) if (label[i] === out.segmentation[i]) same++;
  assert.ok(same / label.length > 0.999, `${same} of ${label.length} voxels agree`);
});

test('float16 conversion rounds like numpy astype(float16) and the .npz holds a "softmax" member', () => {
  // numpy: np.array([...], np.float32).astype(np.float16).view(np.uint16)
  const values = Float32Array.from([
    0.1,
    1 / 3,
    65519,
    65520,
    1e-5,
    -2.5e-8,
    6.1e-5,
    0.5,
    1.0009765625,
    1.00048828125,
    1.00146484375,
  ]);
  assert.deepEqual(
    Array.from(toFloat16Bits(values)),
    [11878, 13653, 31743, 31744, 168, 32768, 1023, 14336, 15361, 15360, 15362],
  );
  assert.deepEqual(Array.from(fromFloat16Bits(Uint16Array.from([15360, 14336, 32768, 31744]))), [
    1,
    0.5,
    -0,
    Number.POSITIVE_INFINITY,
  ]);
  const path = join(tempDir(), 'case.npz');
  writeSoftmaxNpz(path, Float32Array.from([0.25, 0.75, 1, 0]), [2, 1, 1, 2]);
  const members = readNpzRaw(path);
  const npy = members.get('softmax');
  assert.ok(npy);
  assert.match(
    npy.subarray(10, 80).toString('latin1'),
    /'descr': '<f2', 'fortran_order': False, 'shape': \(2, 1, 1, 2\)/,
  );
});
