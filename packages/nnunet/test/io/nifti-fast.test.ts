/**
 * The TypeScript NIfTI decoder (io/nifti.ts) against itk-wasm's reader: every bundled NIfTI file and
 * synthetic files with varied headers must give the same Volume, bit for bit (dtype, shape, voxels,
 * spacing, origin and direction, signed zeros included); files it does not cover must go to itk-wasm.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { gunzipSync, gzipSync } from 'node:zlib';
import { NnunetError, readImage, type Volume, type VoxelArray } from '../../src/index.js';
import { decodeNifti1 } from '../../src/io/nifti.js';
import { FIXTURES, HIPPOCAMPUS, tempDir } from '../helpers.js';

function niftiFilesUnder(folder: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(folder)) {
    const p = join(folder, name);
    if (statSync(p).isDirectory()) out.push(...niftiFilesUnder(p));
    else if (name.endsWith('.nii') || name.endsWith('.nii.gz')) out.push(p);
  }
  return out.sort();
}

function fileBytes(path: string): Buffer {
  const b = readFileSync(path);
  return path.endsWith('.gz') ? gunzipSync(b) : b;
}

function bytesOf(a: VoxelArray): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

/** Index of the first voxel whose bytes differ, or -1. */
function firstDifference(a: VoxelArray, b: VoxelArray): number {
  const x = bytesOf(a);
  const y = bytesOf(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return Math.floor(i / a.BYTES_PER_ELEMENT);
  return x.length === y.length ? -1 : Math.min(x.length, y.length);
}

function assertSameVolume(got: Volume, want: Volume, what: string): void {
  assert.equal(got.dtype, want.dtype, `${what}: dtype`);
  assert.deepEqual(got.shape, want.shape, `${what}: shape`);
  assert.equal(got.data.constructor, want.data.constructor, `${what}: array type`);
  const at = firstDifference(got.data, want.data);
  assert.equal(at, -1, `${what}: voxel ${at} is ${got.data[at]}, itk-wasm has ${want.data[at]}`);
  // deepStrictEqual compares numbers with Object.is: -0 and 0 differ, as they do in ITK's output.
  assert.deepStrictEqual(got.geometry.spacing, want.geometry.spacing, `${what}: spacing`);
  assert.deepStrictEqual(got.geometry.origin, want.geometry.origin, `${what}: origin`);
  assert.deepStrictEqual(got.geometry.direction, want.geometry.direction, `${what}: direction`);
}

const viaItk = (path: string) => readImage(path, { niftiReader: 'itk-wasm' });

async function settle(p: Promise<Volume>): Promise<Volume | Error> {
  try {
    return await p;
  } catch (e) {
    return e as Error;
  }
}

test('every bundled NIfTI file (test fixtures, Task04_Hippocampus images and labels) decodes to itk-wasm exactly', async () => {
  const files = [
    ...niftiFilesUnder(FIXTURES),
    ...niftiFilesUnder(join(HIPPOCAMPUS, 'imagesTr')),
    ...niftiFilesUnder(join(HIPPOCAMPUS, 'labelsTr')),
  ];
  assert.ok(files.length >= 55 + 64, `found ${files.length} files`);
  for (const f of files) {
    const decoded = decodeNifti1(fileBytes(f));
    assert.ok('volume' in decoded, `${f} left to itk-wasm: ${'fallback' in decoded ? decoded.fallback : ''}`);
    const fast = await readImage(f);
    // The voxels own their whole ArrayBuffer: itk-wasm's writer and worker transfers ignore byteOffset.
    assert.ok(fast.data.byteOffset === 0 && fast.data.buffer.byteLength === fast.data.byteLength, `${f}: a view`);
    assertSameVolume(fast, await viaItk(f), f);
  }
});

// ---- synthetic files ----

interface Spec {
  datatype: number;
  /** dim[0..7]; unset entries are 0. */
  dim: number[];
  values: number[] | bigint[];
  bitpix?: number;
  pixdim?: number[];
  le?: boolean;
  slope?: number;
  inter?: number;
  qcode?: number;
  scode?: number;
  quatern?: [number, number, number];
  qoffset?: [number, number, number];
  srow?: number[];
  xyzt?: number;
  toffset?: number;
  intent?: number;
  voxOffset?: number;
  extension?: Buffer;
  magic?: string;
}

/** Bytes per voxel and a writer, by NIfTI datatype code. */
const WRITERS: Record<number, [number, (b: Buffer, o: number, v: number | bigint, le: boolean) => void]> = {
  2: [1, (b, o, v) => b.writeUInt8(Number(v), o)],
  256: [1, (b, o, v) => b.writeInt8(Number(v), o)],
  4: [2, (b, o, v, le) => (le ? b.writeInt16LE(Number(v), o) : b.writeInt16BE(Number(v), o))],
  512: [2, (b, o, v, le) => (le ? b.writeUInt16LE(Number(v), o) : b.writeUInt16BE(Number(v), o))],
  8: [4, (b, o, v, le) => (le ? b.writeInt32LE(Number(v), o) : b.writeInt32BE(Number(v), o))],
  768: [4, (b, o, v, le) => (le ? b.writeUInt32LE(Number(v), o) : b.writeUInt32BE(Number(v), o))],
  1024: [8, (b, o, v, le) => (le ? b.writeBigInt64LE(BigInt(v), o) : b.writeBigInt64BE(BigInt(v), o))],
  1280: [8, (b, o, v, le) => (le ? b.writeBigUInt64LE(BigInt(v), o) : b.writeBigUInt64BE(BigInt(v), o))],
  16: [4, (b, o, v, le) => (le ? b.writeFloatLE(Number(v), o) : b.writeFloatBE(Number(v), o))],
  64: [8, (b, o, v, le) => (le ? b.writeDoubleLE(Number(v), o) : b.writeDoubleBE(Number(v), o))],
  // complex64 and RGB24 (written as raw bytes: 8 and 3 per voxel)
  32: [8, (b, o, v, le) => (le ? b.writeFloatLE(Number(v), o) : b.writeFloatBE(Number(v), o))],
  128: [3, (b, o, v) => b.writeUInt8(Number(v) & 255, o)],
};

/** A single-file NIfTI-1 image with the given header fields (nothing here comes from the code under test). */
function niftiFile(s: Spec): Buffer {
  const le = s.le ?? true;
  const offset = s.voxOffset ?? 352;
  const [size, write] = WRITERS[s.datatype] as [
    number,
    (b: Buffer, o: number, v: number | bigint, le: boolean) => void,
  ];
  const b = Buffer.alloc(offset + s.values.length * size);
  const i16 = (o: number, v: number) => (le ? b.writeInt16LE(v, o) : b.writeInt16BE(v, o));
  const i32 = (o: number, v: number) => (le ? b.writeInt32LE(v, o) : b.writeInt32BE(v, o));
  const f32 = (o: number, v: number) => (le ? b.writeFloatLE(v, o) : b.writeFloatBE(v, o));
  i32(0, 348);
  for (let i = 0; i < 8; i++) i16(40 + 2 * i, s.dim[i] ?? 0);
  i16(68, s.intent ?? 0);
  i16(70, s.datatype);
  i16(72, s.bitpix ?? 8 * size);
  const pixdim = s.pixdim ?? [1, 1, 1, 1, 1, 1, 1, 1];
  for (let i = 0; i < 8; i++) f32(76 + 4 * i, pixdim[i] ?? 1);
  f32(108, offset);
  f32(112, s.slope ?? 1);
  f32(116, s.inter ?? 0);
  b[123] = s.xyzt ?? 2;
  f32(136, s.toffset ?? 0);
  i16(252, s.qcode ?? 0);
  i16(254, s.scode ?? 0);
  (s.quatern ?? [0, 0, 0]).forEach((v, i) => {
    f32(256 + 4 * i, v);
  });
  (s.qoffset ?? [0, 0, 0]).forEach((v, i) => {
    f32(268 + 4 * i, v);
  });
  (s.srow ?? new Array(12).fill(0)).forEach((v, i) => {
    f32(280 + 4 * i, v);
  });
  b.write(s.magic ?? 'n+1\0', 344, 'latin1');
  if (s.extension !== undefined) {
    b[348] = 1;
    i32(352, s.extension.length + 8);
    i32(356, 6);
    s.extension.copy(b, 360);
  }
  for (let i = 0; i < s.values.length; i++) write(b, offset + i * size, s.values[i] as number | bigint, le);
  return b;
}

/** Deterministic pseudo-random numbers in [0, 1). */
function uniform(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return x / 2 ** 32;
  };
}

const RANGES: Record<number, [number, number]> = {
  2: [0, 255],
  256: [-128, 127],
  4: [-32768, 32767],
  512: [0, 65535],
  8: [-2147483648, 2147483647],
  768: [0, 4294967295],
};

function valuesFor(datatype: number, n: number, seed: number): number[] | bigint[] {
  const r = uniform(seed);
  if (datatype === 1024) return Array.from({ length: n }, () => BigInt(Math.floor((r() - 0.5) * 2 ** 52)) * 1024n + 7n);
  if (datatype === 1280) return Array.from({ length: n }, () => BigInt(Math.floor(r() * 2 ** 52)) * 4096n + 3n);
  const range = RANGES[datatype];
  if (range !== undefined)
    return Array.from({ length: n }, () => Math.floor(range[0] + r() * (range[1] - range[0] + 1)));
  return Array.from({ length: n }, () => (r() - 0.5) * 2000);
}

/** srow_x, srow_y, srow_z of a rotation (unit quaternion b, c, d) times the spacings, plus offsets. */
function srowOf(quat: [number, number, number], spacing: number[], offset: number[], qfac = 1): number[] {
  const [b, c, d] = quat;
  const a = Math.sqrt(Math.max(0, 1 - (b * b + c * c + d * d)));
  const r = [
    [a * a + b * b - c * c - d * d, 2 * (b * c - a * d), 2 * (b * d + a * c)],
    [2 * (b * c + a * d), a * a + c * c - b * b - d * d, 2 * (c * d - a * b)],
    [2 * (b * d - a * c), 2 * (c * d + a * b), a * a + d * d - c * c - b * b],
  ];
  const out: number[] = [];
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 3; j++) out.push((r[i]?.[j] as number) * (spacing[j] as number) * (j === 2 ? qfac : 1));
    out.push(offset[i] as number);
  }
  return out;
}

const QUAT: [number, number, number] = [0.1, -0.2, 0.3];
const SPACING = [0.8, 1.25, 2.5];
const OFFSET = [-90.5, 12.25, 33];
const OBLIQUE = {
  pixdim: [1, ...SPACING, 1, 1, 1, 1],
  qcode: 1,
  scode: 1,
  quatern: QUAT,
  qoffset: OFFSET as [number, number, number],
  srow: srowOf(QUAT, SPACING, OFFSET),
};
const DIM = [3, 5, 4, 3, 1, 1, 1, 1];
const N = 60;

interface Case {
  name: string;
  spec: Spec;
  /** Whether the TypeScript decoder takes it (else itk-wasm reads it). */
  fast: boolean;
  gz?: boolean;
}

function cases(): Case[] {
  const out: Case[] = [];
  // Every scalar datatype, both byte orders, as .nii.gz and .nii.
  for (const datatype of [2, 256, 4, 512, 8, 768, 1024, 1280, 16, 64]) {
    for (const le of [true, false]) {
      for (const gz of [true, false]) {
        out.push({
          name: `datatype ${datatype} ${le ? 'LE' : 'BE'}${gz ? ' gz' : ''}`,
          spec: { ...OBLIQUE, datatype, le, dim: DIM, values: valuesFor(datatype, N, datatype + (le ? 1 : 2)) },
          fast: true,
          gz,
        });
      }
    }
  }
  // Scaling: integers become float32; float voxels stay in their type; ITK's slope 0 -> 1 and NaN -> 0.
  const scaled: [string, number, number, number, boolean?][] = [
    ['int16 slope 0.5 inter -3', 4, 0.5, -3],
    ['uint8 slope 2', 2, 2, 0],
    ['int8 inter 100', 256, 1, 100],
    ['uint16 slope 0.001 inter 1024', 512, 0.001, 1024],
    ['int32 slope 1.5 inter 0.25', 8, 1.5, 0.25],
    ['uint32 slope 3.3 inter -7', 768, 3.3, -7],
    ['float32 slope 1.5 inter 0.25', 16, 1.5, 0.25],
    ['float64 slope 2.5 inter -1', 64, 2.5, -1],
    ['int16 slope 0 inter 5 (ITK applies the intercept)', 4, 0, 5],
    ['int16 slope NaN inter 5', 4, Number.NaN, 5],
    ['int16 slope 1 inter 1e-30 (below double epsilon: unscaled)', 4, 1, 1e-30],
    ['int16 slope 2^-52 (not above epsilon: unscaled)', 4, 2 ** -52, 3],
    ['int16 slope -2', 4, -2, 0],
    ['int16 slope 1 inter NaN', 4, 1, Number.NaN],
    ['int64 slope 2 (left to itk-wasm)', 1024, 2, 0, false],
  ];
  for (const [name, datatype, slope, inter, fast] of scaled) {
    for (const le of [true, false]) {
      out.push({
        name: `${name} ${le ? 'LE' : 'BE'}`,
        spec: { ...OBLIQUE, datatype, le, slope, inter, dim: DIM, values: valuesFor(datatype, N, 7) },
        fast: fast ?? true,
      });
    }
  }
  const f32 = (extra: Partial<Spec>): Spec => ({ datatype: 16, dim: DIM, values: valuesFor(16, N, 11), ...extra });
  const geometry: [string, Partial<Spec>, boolean][] = [
    ['no qform, no sform', { pixdim: [1, ...SPACING, 1, 1, 1, 1] }, true],
    ['qform only', { ...OBLIQUE, scode: 0 }, true],
    ['qform only, qfac -1', { ...OBLIQUE, pixdim: [-1, ...SPACING, 1, 1, 1, 1], scode: 0 }, true],
    ['qform only, code 2', { ...OBLIQUE, qcode: 2, scode: 0 }, true],
    ['qform only, 180-degree rotation (a = 0)', { ...OBLIQUE, scode: 0, quatern: [0, 0, 1] }, true],
    ['qform only, b^2+c^2+d^2 just below 1', { ...OBLIQUE, scode: 0, quatern: [0.6, 0.48, 0.64] }, true],
    ['qform only, identity rotation', { ...OBLIQUE, scode: 0, quatern: [0, 0, 0] }, true],
    ['qform only, negative and zero pixdim', { ...OBLIQUE, scode: 0, pixdim: [1, -0.8, 0, 2.5, 1, 1, 1, 1] }, true],
    [
      'qform only, non-finite quaternion and offset',
      { ...OBLIQUE, scode: 0, quatern: [Number.NaN, 0.2, 0.1], qoffset: [Number.POSITIVE_INFINITY, 1, 2] },
      true,
    ],
    ['sform only (code 2, oblique)', { ...OBLIQUE, qcode: 0, scode: 2 }, true],
    [
      'sform only (code 4, qfac-like mirror)',
      { ...OBLIQUE, qcode: 0, scode: 4, srow: srowOf(QUAT, SPACING, OFFSET, -1) },
      true,
    ],
    ['sform code 1 and a different qform', { ...OBLIQUE, quatern: [0.3, 0.1, -0.2], qoffset: [1, 2, 3] }, true],
    ['sform code 2, qform with other offsets (qform wins)', { ...OBLIQUE, scode: 2, qoffset: [1, 2, 3] }, true],
    [
      'sform code 2, qform with other spacing (qform wins)',
      { ...OBLIQUE, scode: 2, srow: srowOf(QUAT, [1.6, 1.25, 2.5], OFFSET) },
      true,
    ],
    [
      'sform code 2 equal to the qform (identity rotation)',
      { ...OBLIQUE, scode: 2, quatern: [0, 0, 0], srow: [0.8, 0, 0, -90.5, 0, 1.25, 0, 12.25, 0, 0, 2.5, 33] },
      true,
    ],
    ['sform code 2 nearly equal to the qform (ITK decides by SVD)', { ...OBLIQUE, scode: 2 }, false],
    [
      'sheared sform with a qform',
      { ...OBLIQUE, scode: 2, srow: [0.8, 0.3, 0, 1, 0, 1.25, 0, 2, 0, 0, 2.5, 3] },
      false,
    ],
    ['units: meters', { ...OBLIQUE, xyzt: 1, pixdim: [1, 0.0008, 0.00125, 0.0025, 1, 1, 1, 1] }, true],
    ['units: microns', { ...OBLIQUE, xyzt: 3, pixdim: [1, 800, 1250, 2500, 1, 1, 1, 1] }, true],
    ['units: unknown code 5', { ...OBLIQUE, xyzt: 5 }, true],
    ['intent LABEL', { ...OBLIQUE, intent: 1002 }, true],
    ['intent TTEST', { ...OBLIQUE, intent: 3 }, true],
    ['intent VECTOR (left to itk-wasm)', { ...OBLIQUE, intent: 1007 }, false],
    [
      'an extension before the voxels',
      { ...OBLIQUE, voxOffset: 384, extension: Buffer.from('a comment, padded to 24 b') },
      true,
    ],
    ['padding before the voxels', { ...OBLIQUE, voxOffset: 400 }, true],
  ];
  for (const [name, extra, fast] of geometry) {
    for (const le of [true, false])
      out.push({ name: `${name} ${le ? 'LE' : 'BE'}`, spec: f32({ ...extra, le }), fast });
  }
  const shapes: [string, number[], number, boolean][] = [
    ['4-D (t = 2)', [4, 5, 4, 3, 2, 1, 1, 1], 120, true],
    ['4-D with one time point (3-D)', [4, 5, 4, 3, 1, 1, 1, 1], 60, true],
    ['dim[0] 5 with singleton t and u (3-D)', [5, 5, 4, 3, 1, 1, 1, 1], 60, true],
    ['3-D with one slice', [3, 5, 4, 1, 1, 1, 1, 1], 20, true],
    ['2-D', [2, 5, 4, 0, 0, 0, 0, 0], 20, true],
    ['dim[2] 0 (read as 1)', [3, 5, 0, 3, 1, 1, 1, 1], 15, true],
    ['1-D (left to itk-wasm)', [1, 20, 1, 1, 1, 1, 1, 1], 20, false],
  ];
  for (const [name, dim, n, fast] of shapes) {
    const fourD = {
      ...OBLIQUE,
      pixdim: [1, ...SPACING, 250, 1, 1, 1],
      xyzt: 2 | 16,
      toffset: 12.5,
    };
    out.push({ name, spec: f32({ ...fourD, dim, values: valuesFor(16, n, 5) }), fast });
    out.push({ name: `${name}, no qform/sform`, spec: f32({ dim, values: valuesFor(16, n, 5), xyzt: 24 }), fast });
  }
  out.push({
    name: 'complex64 (left to itk-wasm)',
    spec: f32({ datatype: 32, values: valuesFor(16, 2 * N, 3) }),
    fast: false,
  });
  out.push({
    name: 'bitpix disagreeing with the datatype',
    spec: f32({ ...OBLIQUE, bitpix: 16, values: valuesFor(16, 2 * N, 3) }),
    fast: false,
  });
  return out;
}

test('synthetic headers (dtypes, byte orders, scaling, qform/sform, units, shapes) read as itk-wasm reads them', async () => {
  const dir = tempDir();
  let fast = 0;
  const all = cases();
  for (const [i, c] of all.entries()) {
    const bytes = niftiFile(c.spec);
    const path = join(dir, `case${i}${c.gz === false ? '.nii' : '.nii.gz'}`);
    writeFileSync(path, c.gz === false ? bytes : gzipSync(bytes));
    const decoded = decodeNifti1(bytes);
    assert.equal('volume' in decoded, c.fast, `${c.name}: ${'fallback' in decoded ? decoded.fallback : 'decoded'}`);
    if (c.fast) fast++;
    const got = await settle(readImage(path));
    const want = await settle(viaItk(path));
    if (want instanceof Error) {
      assert.ok(!c.fast, `${c.name}: itk-wasm cannot read it (${want.message})`);
      assert.equal(got instanceof Error ? got.message : 'read', want.message, c.name);
    } else {
      assert.ok(!(got instanceof Error), `${c.name}: ${got}`);
      assertSameVolume(got as Volume, want, c.name);
    }
  }
  assert.ok(fast >= 100 && all.length - fast >= 8, `${fast} fast of ${all.length}`);
});

test('independent values: scaled int16 is float32(float(v) * slope + inter), an unrotated qform gives LPS by sign flips', async () => {
  const values = [-32768, -1, 0, 1, 12345, 32767];
  const spec: Spec = {
    datatype: 4,
    dim: [3, 3, 2, 1, 1, 1, 1, 1],
    values,
    slope: 0.1,
    inter: -3,
    pixdim: [1, 0.5, 0.75, 2, 1, 1, 1, 1],
    qcode: 1,
    qoffset: [10, -20, 30],
  };
  const decoded = decodeNifti1(niftiFile(spec));
  assert.ok('volume' in decoded);
  const v = decoded.volume;
  assert.equal(v.dtype, 'float32');
  assert.deepEqual(v.shape, [1, 2, 3]);
  const slope = Math.fround(0.1);
  assert.deepEqual(
    Array.from(v.data as Float32Array),
    values.map((x) => Math.fround(x * slope - 3)),
  );
  assert.deepStrictEqual(v.geometry.spacing, [0.5, 0.75, 2]);
  assert.deepStrictEqual(v.geometry.origin, [-10, 20, 30]);
  // Columns of diag(0.5, 0.75, 2) with x and y negated (0 * -1 is -0), normalised; row-major.
  assert.deepStrictEqual(v.geometry.direction, [-1, -0, -0, -0, -1, -0, 0, 0, 1]);
});

test('NaN and infinite voxels are kept in every byte order and when rescaled (nifti1_io would zero them)', async () => {
  const dir = tempDir();
  const values = [1.5, Number.NaN, -2, Number.POSITIVE_INFINITY, 0, Number.NEGATIVE_INFINITY];
  for (const [name, extra] of [
    ['float32 LE', { datatype: 16, le: true }],
    ['float32 BE', { datatype: 16, le: false }],
    ['float64 BE', { datatype: 64, le: false }],
    ['float32 scaled', { datatype: 16, slope: 2, inter: 1 }],
  ] as [string, Partial<Spec>][]) {
    const spec: Spec = { datatype: 16, dim: [3, 3, 2, 1, 1, 1, 1, 1], values, ...OBLIQUE, ...extra };
    const path = join(dir, `${name.replace(/ /g, '_')}.nii.gz`);
    writeFileSync(path, gzipSync(niftiFile(spec)));
    const got = Array.from((await readImage(path)).data as Float32Array);
    const slope = extra.slope ?? 1;
    const inter = extra.inter ?? 0;
    assert.deepEqual(
      got,
      values.map((x) => x * slope + inter),
      name,
    );
    // itk-wasm agrees on every finite voxel.
    const itk = Array.from((await viaItk(path)).data as Float32Array);
    got.forEach((x, i) => {
      if (Number.isFinite(values[i] as number)) assert.equal(itk[i], x, `${name} voxel ${i}`);
    });
  }
});

test('damaged NIfTI files give the same one-sentence errors whichever reader would decode them', async () => {
  const dir = tempDir();
  const good = niftiFile({ ...OBLIQUE, datatype: 16, dim: DIM, values: valuesFor(16, N, 1) });
  const gz = gzipSync(good);
  const files: [string, Buffer][] = [
    ['truncated.nii.gz', gz.subarray(0, gz.length - 20)],
    ['short.nii', good.subarray(0, good.length - 8)],
    ['short-header.nii', good.subarray(0, 200)],
    ['empty.nii.gz', Buffer.alloc(0)],
    ['not-gzip.nii.gz', good],
    ['bad-dims.nii', Buffer.concat([good.subarray(0, 40), Buffer.from([9, 0]), good.subarray(42)])],
  ];
  for (const [name, bytes] of files) {
    const path = join(dir, name);
    writeFileSync(path, bytes);
    const messages: string[] = [];
    for (const niftiReader of ['auto', 'itk-wasm'] as const) {
      await assert.rejects(readImage(path, { niftiReader }), (e: unknown) => {
        assert.ok(e instanceof NnunetError, String(e));
        assert.equal(e.code, 'ERR_IMAGE_READ');
        assert.ok(e.message.includes(path) && !e.message.includes('\n'), e.message);
        messages.push(e.message);
        return true;
      });
    }
    assert.equal(messages[0], messages[1], name);
  }
});
