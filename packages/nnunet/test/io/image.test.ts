/** Image I/O: geometry and values against files written by nibabel; round trips; bad files. */
import assert from 'node:assert/strict';
import { copyFileSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { NnunetError, readImage, split4d, type Volume, writeImage } from '../../src/index.js';
import { expectClose, FIXTURES, tempDir } from '../helpers.js';

interface Expected {
  dtype: string;
  shape_zyx: number[];
  spacing: number[];
  origin: number[];
  direction: number[];
  values: number[];
}
const IO = join(FIXTURES, 'io');
const expected = JSON.parse(readFileSync(join(IO, 'expected.json'), 'utf8')) as Record<string, Expected>;

function checkAgainst(v: Volume, e: Expected, what: string): void {
  assert.equal(v.dtype, e.dtype, `${what} dtype`);
  assert.deepEqual(v.shape, e.shape_zyx, `${what} shape (z, y, x)`);
  // NIfTI stores spacing as float32 and the qform as quaternions: agree to float32 precision.
  expectClose(v.geometry.spacing, e.spacing, { atol: 1e-6, what: `${what} spacing` });
  expectClose(v.geometry.origin, e.origin, { atol: 1e-5, what: `${what} origin` });
  expectClose(v.geometry.direction, e.direction, { atol: 1e-6, what: `${what} direction` });
  assert.deepEqual(Array.from(v.data as ArrayLike<number>), e.values, `${what} values`);
}

const regular = (n: string) => !n.startsWith('four_d') && !n.startsWith('nonfinite');

for (const name of Object.keys(expected).filter(regular)) {
  test(`reads ${name} with nibabel's values and SimpleITK's geometry`, async () => {
    checkAgainst(await readImage(join(IO, name)), expected[name] as Expected, name);
  });
}

test('reads a 4-D image as (t, z, y, x); split4d gives 3-D volumes with the spatial geometry', async () => {
  const e = expected['four_d.nii.gz'] as Expected;
  const v = await readImage(join(IO, 'four_d.nii.gz'));
  assert.deepEqual(v.shape, e.shape_zyx);
  assert.equal(v.geometry.spacing.length, 4);
  const parts = split4d(v);
  assert.equal(parts.length, 2);
  const n = (e.values.length / 2) | 0;
  parts.forEach((p, t) => {
    checkAgainst(
      p,
      { ...e, shape_zyx: e.shape_zyx.slice(1), values: e.values.slice(t * n, (t + 1) * n) },
      `volume ${t}`,
    );
  });
});

test('write then read preserves data and geometry exactly, for every dtype and an oblique direction', async () => {
  const dir = tempDir();
  for (const name of Object.keys(expected).filter(regular)) {
    const v = await readImage(join(IO, name));
    for (const ext of ['.nii.gz', '.nii', '.nrrd', '.mha']) {
      const out = join(dir, `${name.replace(/\.nii(\.gz)?$/, '')}${ext}`);
      await writeImage(v, out);
      const back = await readImage(out);
      assert.equal(back.dtype, v.dtype, `${name} -> ${ext} dtype`);
      assert.deepEqual(back.shape, v.shape);
      assert.deepEqual(
        Array.from(back.data as ArrayLike<number>),
        Array.from(v.data as ArrayLike<number>),
        `${name} -> ${ext} values`,
      );
      // Our own writes round-trip geometry to float32 precision or better.
      expectClose(back.geometry.spacing, v.geometry.spacing, { atol: 1e-6, what: `${name} -> ${ext} spacing` });
      expectClose(back.geometry.origin, v.geometry.origin, { atol: 1e-5, what: `${name} -> ${ext} origin` });
      expectClose(back.geometry.direction, v.geometry.direction, { atol: 1e-6, what: `${name} -> ${ext} direction` });
    }
  }
  assert.ok(
    readdirSync(dir).every((f) => !f.includes('.tmp-')),
    'no temporary files left',
  );
});

test('NaN and infinite voxels are read as such (not zeroed), so checks can find them', async () => {
  const e = expected['nonfinite_float32.nii.gz'] as unknown as { shape_zyx: number[]; values: string[] };
  const v = await readImage(join(IO, 'nonfinite_float32.nii.gz'));
  assert.deepEqual(v.shape, e.shape_zyx);
  const fromPython = (t: string) =>
    t === 'nan'
      ? Number.NaN
      : t === 'inf'
        ? Number.POSITIVE_INFINITY
        : t === '-inf'
          ? Number.NEGATIVE_INFINITY
          : Number(t);
  assert.deepEqual(Array.from(v.data as Float32Array), e.values.map(fromPython));
});

test('X.nii.gz is read even when X.nii sits beside it (the NIfTI library would pick X.nii)', async () => {
  const dir = tempDir();
  copyFileSync(join(IO, 'oblique_float32.nii.gz'), join(dir, 'case.nii.gz'));
  copyFileSync(join(IO, 'oblique_float32.nii'), join(dir, 'case.nii'));
  const gz = await readImage(join(dir, 'case.nii.gz'));
  const plain = await readImage(join(dir, 'case.nii'));
  assert.deepEqual(Array.from(gz.data as Float32Array), (expected['oblique_float32.nii.gz'] as Expected).values);
  assert.deepEqual(Array.from(plain.data as Float32Array), (expected['oblique_float32.nii'] as Expected).values);
});

test('a truncated .nii.gz, a missing file and an unknown extension are one-sentence errors naming the file', async () => {
  const dir = tempDir();
  const bytes = readFileSync(join(IO, 'float64.nii.gz'));
  const truncated = join(dir, 'truncated.nii.gz');
  writeFileSync(truncated, bytes.subarray(0, Math.floor(bytes.length / 2)));
  // A complete gzip stream around an incomplete NIfTI: caught by the size check.
  const plain = readFileSync(join(IO, 'oblique_float32.nii'));
  const short = join(dir, 'short.nii');
  writeFileSync(short, plain.subarray(0, plain.length - 8));
  const cases: [string, string][] = [
    [truncated, 'ERR_IMAGE_READ'],
    [short, 'ERR_IMAGE_READ'],
    [join(dir, 'missing.nii.gz'), 'ERR_NOT_FOUND'],
    [join(IO, 'expected.json'), 'ERR_IMAGE_READ'],
  ];
  for (const [path, code] of cases) {
    await assert.rejects(readImage(path), (e: unknown) => {
      assert.ok(e instanceof NnunetError, String(e));
      assert.equal(e.code, code);
      assert.ok(e.message.includes(path), e.message);
      assert.ok(!e.message.trimEnd().includes('\n'), 'one line');
      return true;
    });
  }
});

test('writing refuses inconsistent volumes and leaves nothing behind', async () => {
  const dir = tempDir();
  const v: Volume = {
    data: new Float32Array(5),
    shape: [2, 2, 2],
    dtype: 'float32',
    geometry: { spacing: [1, 1, 1], origin: [0, 0, 0], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] },
  };
  await assert.rejects(writeImage(v, join(dir, 'bad.nii.gz')), { code: 'ERR_ARGUMENT' });
  await assert.rejects(writeImage({ ...v, data: new Float32Array(8) }, join(dir, 'nofolder', 'x.nii.gz')), {
    code: 'ERR_WRITE',
    message: /nofolder\/x\.nii\.gz \(ENOENT: the folder .*nofolder does not exist\)/,
  });
  assert.deepEqual(readdirSync(dir), []);
});
