/**
 * Overlay PNGs: v1's colouring on hand-computed pixels, the most-foreground slice, and real files
 * (raw task, preprocessed task, prediction folder) decoded back with zlib.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { crc32, inflateSync } from 'node:zlib';
import { type Volume, writeImage } from '../../src/io/image.js';
import { writeNpy } from '../../src/io/npy.js';
import {
  labelColor,
  mostForegroundSlice,
  overlayRgb,
  plotOverlay,
  plotPredictionOverlays,
  plotTaskOverlays,
} from '../../src/visualisation/overlay.js';
import { encodePngRgb } from '../../src/visualisation/png.js';
import { PACKAGE_ROOT, tempDir } from '../helpers.js';

/** Decodes an 8-bit RGB, non-interlaced PNG with filter type 0 rows, checking every chunk's CRC. */
function decodePng(bytes: Buffer): { width: number; height: number; rgb: Uint8Array } {
  assert.ok(bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])));
  let p = 8;
  let width = 0;
  let height = 0;
  const idat: Buffer[] = [];
  const types: string[] = [];
  while (p < bytes.length) {
    const len = bytes.readUInt32BE(p);
    const type = bytes.subarray(p + 4, p + 8).toString('latin1');
    const data = bytes.subarray(p + 8, p + 8 + len);
    assert.equal(bytes.readUInt32BE(p + 8 + len), crc32(bytes.subarray(p + 4, p + 8 + len)), `CRC of ${type}`);
    types.push(type);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      assert.deepEqual(
        [...data.subarray(8)],
        [8, 2, 0, 0, 0],
        'bit depth 8, RGB, deflate, no filter method, no interlace',
      );
    }
    if (type === 'IDAT') idat.push(data);
    p += 12 + len;
  }
  assert.deepEqual(types, ['IHDR', 'IDAT', 'IEND']);
  const raw = inflateSync(Buffer.concat(idat));
  assert.equal(raw.length, height * (1 + 3 * width));
  const rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    assert.equal(raw[y * (1 + 3 * width)], 0, 'filter type None');
    rgb.set(raw.subarray(y * (1 + 3 * width) + 1, (y + 1) * (1 + 3 * width)), y * 3 * width);
  }
  return { width, height, rgb };
}

test("v1's colouring on a 2 x 2 slice (values computed by hand and with v1's numpy formula)", () => {
  // grey 0, 63.75, 127.5, 255; + 0.6 * colour for labels 1 (4363d8) and 2 (f58231); / 402 * 255, truncated.
  const rgb = overlayRgb([0, 50, 100, 200], [0, 1, 0, 2], 2, 2);
  assert.deepEqual([...rgb], [0, 0, 0, 65, 78, 122, 80, 80, 80, 255, 211, 180]);
  assert.deepEqual(labelColor(1), [0x43, 0x63, 0xd8]);
  assert.deepEqual(labelColor(15), labelColor(1), 'the cycle wraps past 14 labels, skipping black');
  // Constant image, no labels: black instead of v1's division by zero.
  assert.deepEqual([...overlayRgb([5, 5], [0, 0], 1, 2)], [0, 0, 0, 0, 0, 0]);
  // Percentile window: the outlier 1000 is clipped to the median (numpy's linear percentile 50 = 15).
  const w = overlayRgb([0, 10, 20, 1000], [0, 0, 0, 0], 2, 2, { window: [0, 50] });
  assert.deepEqual(
    [...w].filter((_, i) => i % 3 === 0),
    [0, 170, 255, 255],
  );
});

test('the slice with the most foreground is chosen, the first one on ties', () => {
  const seg = new Uint8Array(4 * 2 * 2);
  seg.set([1, 1, 1, 0], 4); // slice 1: 3 voxels
  seg.set([2, 1, 0, 0], 8); // slice 2: 2
  seg.set([1, 0, 3, 4], 12); // slice 3: 3
  assert.equal(mostForegroundSlice(seg, [4, 2, 2]), 1);
  assert.equal(mostForegroundSlice(new Uint8Array(8), [2, 2, 2]), 0);
});

test('encodePngRgb writes rows top to bottom', () => {
  const rgb = Uint8Array.from({ length: 3 * 2 * 3 }, (_, i) => i * 10);
  const d = decodePng(encodePngRgb(rgb, 3, 2));
  assert.equal(d.width, 3);
  assert.equal(d.height, 2);
  assert.deepEqual([...d.rgb], [...rgb]);
  assert.throws(() => encodePngRgb(rgb, 4, 2), /needs 24 bytes, got 18/);
});

const GEOMETRY = { spacing: [1, 1, 2], origin: [0, 0, 0], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] };
/** A 3 x 4 x 5 (z, y, x) case: image value 10 * x + y + 100 * z; labels only in slice z = 2. */
function syntheticCase(): { image: Volume; seg: Volume } {
  const shape = [3, 4, 5];
  const img = new Int16Array(60);
  const lab = new Uint8Array(60);
  for (let z = 0; z < 3; z++)
    for (let y = 0; y < 4; y++) for (let x = 0; x < 5; x++) img[z * 20 + y * 5 + x] = 10 * x + y + 100 * z;
  lab[2 * 20 + 0 * 5 + 0] = 1;
  lab[2 * 20 + 0 * 5 + 1] = 1;
  lab[2 * 20 + 3 * 5 + 4] = 2;
  lab[0 * 20 + 1 * 5 + 1] = 1; // one voxel in slice 0: fewer than slice 2
  return {
    image: { data: img, shape, dtype: 'int16', geometry: GEOMETRY },
    seg: { data: lab, shape, dtype: 'uint8', geometry: GEOMETRY },
  };
}

/** Expected pixel (y, x) of slice 2 of syntheticCase, by v1's formula. */
function expectedPixel(y: number, x: number): number[] {
  // Slice 2: values 200 + 10x + y, min 200, max 243 -> grey = (10x + y) / 43 * 255.
  const grey = (v: number) => ((v - 200) / 43) * 255;
  const px = (yy: number, xx: number): number[] => {
    const g = grey(200 + 10 * xx + yy);
    const label = yy === 0 && xx <= 1 ? 1 : yy === 3 && xx === 4 ? 2 : 0;
    const c = label === 1 ? [0x43, 0x63, 0xd8] : label === 2 ? [0xf5, 0x82, 0x31] : [0, 0, 0];
    return c.map((ci) => g + 0.6 * ci);
  };
  let top = 0;
  for (let yy = 0; yy < 4; yy++) for (let xx = 0; xx < 5; xx++) top = Math.max(top, ...px(yy, xx));
  return px(y, x).map((v) => Math.trunc((v / top) * 255));
}

test('plotOverlay on NIfTI files: slice 2, 5 x 4 pixels, colours as v1', async () => {
  const dir = tempDir();
  const { image, seg } = syntheticCase();
  await writeImage(image, join(dir, 'case_0000.nii.gz'));
  await writeImage(seg, join(dir, 'case.nii.gz'));
  const out = join(dir, 'case.png');
  const r = await plotOverlay(join(dir, 'case_0000.nii.gz'), join(dir, 'case.nii.gz'), out);
  assert.equal(r.slice, 2);
  const d = decodePng(readFileSync(out));
  assert.equal(d.width, 5);
  assert.equal(d.height, 4);
  for (let y = 0; y < 4; y++) {
    for (let x = 0; x < 5; x++) {
      assert.deepEqual([...d.rgb.subarray((y * 5 + x) * 3, (y * 5 + x) * 3 + 3)], expectedPixel(y, x), `(${y}, ${x})`);
    }
  }
  // By hand: label 1 on grey 0 -> 0.6 * (67, 99, 216) / 402 * 255 (402 = 255 + 0.6 * 245 at pixel (3, 4)).
  assert.deepEqual(expectedPixel(0, 0), [25, 37, 82]);
});

test('scale draws each voxel as a square of identical pixels', async () => {
  const dir = tempDir();
  const { image, seg } = syntheticCase();
  await writeImage(image, join(dir, 'case_0000.nii.gz'));
  await writeImage(seg, join(dir, 'case.nii.gz'));
  const out = join(dir, 'big.png');
  await plotOverlay(join(dir, 'case_0000.nii.gz'), join(dir, 'case.nii.gz'), out, { scale: 3 });
  const d = decodePng(readFileSync(out));
  assert.equal(d.width, 15);
  assert.equal(d.height, 12);
  for (let y = 0; y < 12; y++) {
    for (let x = 0; x < 15; x++) {
      const px = [...d.rgb.subarray((y * 15 + x) * 3, (y * 15 + x) * 3 + 3)];
      assert.deepEqual(px, expectedPixel(Math.floor(y / 3), Math.floor(x / 3)), `(${y}, ${x})`);
    }
  }
  await assert.rejects(
    plotOverlay(join(dir, 'case_0000.nii.gz'), join(dir, 'case.nii.gz'), out, { scale: 1.5 }),
    /scale must be a positive integer/,
  );
});

test('raw task, preprocessed task and prediction folder overlays: one CASE.png each', async () => {
  const base = tempDir();
  const env = {
    nnUNet_raw_data_base: join(base, 'raw'),
    nnUNet_preprocessed: join(base, 'pre'),
    RESULTS_FOLDER: join(base, 'results'),
  };
  const task = join(env.nnUNet_raw_data_base, 'nnUNet_raw_data', 'Task099_Tiny');
  mkdirSync(join(task, 'imagesTr'), { recursive: true });
  mkdirSync(join(task, 'labelsTr'), { recursive: true });
  const { image, seg } = syntheticCase();
  for (const id of ['tiny_001', 'tiny_002']) {
    await writeImage(image, join(task, 'imagesTr', `${id}_0000.nii.gz`));
    await writeImage(seg, join(task, 'labelsTr', `${id}.nii.gz`));
  }
  const rawOut = join(base, 'png_raw');
  const written = await plotTaskOverlays('99', rawOut, { env, useRaw: true });
  assert.deepEqual(written, [join(rawOut, 'tiny_001.png'), join(rawOut, 'tiny_002.png')]);
  const rawPng = decodePng(readFileSync(written[0] as string));

  await assert.rejects(
    plotTaskOverlays('Task099_Tiny', join(base, 'x'), { env }),
    /run nnUNet_plan_and_preprocess first, or draw the raw data with --use_raw/,
  );
  // Preprocessed: (C + 1, z, y, x) float32 with the label channel last; -1 (outside the crop) drawn as 0.
  const stage = join(env.nnUNet_preprocessed, 'Task099_Tiny', 'nnUNetData_plans_v2.1_stage0');
  mkdirSync(stage, { recursive: true });
  const data = new Float32Array(120);
  data.set(Float32Array.from(image.data as Int16Array), 0);
  data.set(
    Float32Array.from(seg.data as Uint8Array, (v, i) => (v === 0 && i < 20 ? -1 : v)),
    60,
  );
  writeNpy(join(stage, 'tiny_001.npy'), data, [2, 3, 4, 5]);
  const preOut = join(base, 'png_pre');
  assert.deepEqual(await plotTaskOverlays('Task099_Tiny', preOut, { env }), [join(preOut, 'tiny_001.png')]);
  assert.deepEqual([...decodePng(readFileSync(join(preOut, 'tiny_001.png'))).rgb], [...rawPng.rgb]);
  await assert.rejects(
    plotTaskOverlays('Task099_Tiny', preOut, { env, modality: 1 }),
    /has 1 modality: -modality_idx must be below 1/,
  );

  // A prediction folder against its input images.
  const pred = join(base, 'pred');
  mkdirSync(pred);
  await writeImage(seg, join(pred, 'tiny_001.nii.gz'));
  const predOut = join(base, 'png_pred');
  const p = await plotPredictionOverlays(pred, join(task, 'imagesTr'), predOut);
  assert.deepEqual(p, [join(predOut, 'tiny_001.png')]);
  assert.deepEqual([...decodePng(readFileSync(p[0] as string)).rgb], [...rawPng.rgb]);
  await assert.rejects(
    plotPredictionOverlays(pred, base, predOut),
    /No input image .*tiny_001_0000\.nii\.gz for the prediction/,
  );

  // The command.
  const cli = spawnSync(
    process.execPath,
    [join(PACKAGE_ROOT, 'dist', 'src', 'cli', 'plot-task-pngs.js'), '-t', '99', '-o', join(base, 'cli'), '--use_raw'],
    { env: { ...process.env, ...env }, encoding: 'utf8' },
  );
  assert.equal(cli.status, 0, cli.stderr);
  assert.match(cli.stdout, /2 PNG file\(s\) written to/);
  assert.deepEqual(readdirSync(join(base, 'cli')), ['tiny_001.png', 'tiny_002.png']);
  assert.ok(existsSync(join(base, 'cli', 'tiny_002.png')));
});
