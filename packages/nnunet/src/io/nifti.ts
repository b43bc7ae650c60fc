/**
 * A NIfTI-1 decoder in TypeScript for the files nnU-Net meets (single-file .nii / .nii.gz with scalar voxels),
 * giving the numbers itk-wasm's reader gives: ITK 5.4.3's NiftiImageIO over its bundled nifti1_io, as built into
 * @itk-wasm/image-io 1.6.1. Output follows SimpleITK: geometry in LPS, spacing and origin in (x, y, z[, t]) order,
 * the direction row-major dim x dim, voxels in C order over (z, y, x) or (t, z, y, x).
 *
 * The rules reproduced, from reading those sources:
 * - Byte order: the header is swapped when sizeof_hdr (and so dim[0]) reads right only swapped.
 * - dim[]: dim[1] must be >= 1; dim[2..dim[0]] <= 0 count as 1; dimensions above the third that are 1 are
 *   dropped from the end (a 4-D file with one time point is 3-D). pixdim[1..dim[0]] that are 0 or not finite
 *   count as 1; a negative pixdim stays negative in the spacing.
 * - Spacing: pixdim times the unit's factor to mm (meter 1e3, micron 1e-3) and, for t, to seconds (ms 1e-3,
 *   us 1e-6); other units count as mm and s.
 * - scl_slope / scl_inter: non-finite values read as 0, a slope of 0 reads as 1; voxels are rescaled when the
 *   slope differs from 1 or the intercept from 0 by more than double epsilon. Integer voxels are then
 *   converted to float32 first; each value becomes float(double(v) * slope + inter) (double for float64 data).
 * - Geometry: without qform and sform codes, origin 0 and identity direction. Otherwise ITK picks a matrix:
 *   the qform (built from the quaternion as nifti1_io builds it, to the last float bit) when there is no sform;
 *   the sform when it is an orthonormal affine and the qform code is unknown or the sform code is SCANNER_ANAT;
 *   for two codes otherwise, the sform only when ITK finds both "very similar". The origin is the matrix's
 *   offset with x and y negated (RAS -> LPS), the direction its normalised columns with x and y negated;
 *   a 4-D image gets toffset as the t origin and an identity row and column for t.
 *
 * Every case whose outcome depends on something not reproduced bit for bit here -- NIfTI-2 or Analyze or
 * two-file headers, datatypes other than the ten scalar ones, vector and matrix intents, 1-D or more than
 * 4-D images, a data offset that is not a whole number >= 352, a bitpix that disagrees with the datatype,
 * rescaled 64-bit integers, an sform that is not certainly an orthonormal affine, a qform and an sform close
 * enough that ITK's SVD comparison decides -- is returned as a reason instead of a volume, and the caller reads
 * the file with itk-wasm.
 *
 * One deliberate difference: nifti1_io sets NaN and infinite float voxels to 0; they are kept here (and
 * rescaled like any value), so that checks can find them.
 */

export type NiftiVoxelType =
  | 'uint8'
  | 'int8'
  | 'uint16'
  | 'int16'
  | 'uint32'
  | 'int32'
  | 'uint64'
  | 'int64'
  | 'float32'
  | 'float64';

export type NiftiVoxelArray =
  | Uint8Array
  | Int8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | Int32Array
  | BigUint64Array
  | BigInt64Array
  | Float32Array
  | Float64Array;

/** The same fields as io/image.ts's Volume (kept apart so that the two modules do not import each other). */
export interface NiftiVolume {
  data: NiftiVoxelArray;
  shape: number[];
  dtype: NiftiVoxelType;
  geometry: { spacing: number[]; origin: number[]; direction: number[] };
}

/** A decoded volume, or why this file is left to itk-wasm. */
export type NiftiDecoding = { volume: NiftiVolume } | { fallback: string };

interface TypedArrayConstructor {
  readonly BYTES_PER_ELEMENT: number;
  new (length: number): NiftiVoxelArray;
  new (buffer: ArrayBuffer, byteOffset: number, length: number): NiftiVoxelArray;
}

interface Datatype {
  dtype: NiftiVoxelType;
  array: TypedArrayConstructor;
  /** Voxels that ITK converts to float32 before rescaling. */
  integer: boolean;
}

/** The NIfTI datatype codes of scalar voxels (nifti1.h) and how ITK reports them. */
const DATATYPES: ReadonlyMap<number, Datatype> = new Map<number, Datatype>([
  [2, { dtype: 'uint8', array: Uint8Array, integer: true }],
  [4, { dtype: 'int16', array: Int16Array, integer: true }],
  [8, { dtype: 'int32', array: Int32Array, integer: true }],
  [16, { dtype: 'float32', array: Float32Array, integer: false }],
  [64, { dtype: 'float64', array: Float64Array, integer: false }],
  [256, { dtype: 'int8', array: Int8Array, integer: true }],
  [512, { dtype: 'uint16', array: Uint16Array, integer: true }],
  [768, { dtype: 'uint32', array: Uint32Array, integer: true }],
  [1024, { dtype: 'int64', array: BigInt64Array, integer: true }],
  [1280, { dtype: 'uint64', array: BigUint64Array, integer: true }],
]);

/**
 * Intent codes ITK ignores for a scalar image (it reads these exactly like NIFTI_INTENT_NONE): the statistics
 * 2..24, ESTIMATE, LABEL and NEURONAME. Vector, matrix and other intents go to itk-wasm.
 */
function plainIntent(code: number): boolean {
  return code === 0 || (code >= 2 && code <= 24) || (code >= 1001 && code <= 1003);
}

/** Size of the NIfTI-1 header; the first voxel of a single file lies at least 4 bytes (the extension flag) later. */
const NIFTI1_HEADER_BYTES = 348;
const MIN_VOXEL_OFFSET = 352;

/** nifti1_io's xform codes: 0 is "unknown" (no matrix); SCANNER_ANAT is 1. */
const XFORM_SCANNER_ANAT = 1;

/** A 4 x 4 matrix, rows of numbers that hold float32 values (nifti1_io's mat44). */
type Mat44 = number[][];

/** Decodes a whole NIfTI-1 file (already gunzipped) the way itk-wasm reads it, or says why not. */
export function decodeNifti1(bytes: Uint8Array): NiftiDecoding {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fallback = (why: string): NiftiDecoding => ({ fallback: why });
  if (buf.length < MIN_VOXEL_OFFSET) return fallback('the file is shorter than a NIfTI-1 header');
  let le: boolean;
  if (buf.readInt32LE(0) === NIFTI1_HEADER_BYTES) le = true;
  else if (buf.readInt32BE(0) === NIFTI1_HEADER_BYTES) le = false;
  else return fallback('not a NIfTI-1 header (sizeof_hdr is not 348)');
  const i16 = (o: number) => (le ? buf.readInt16LE(o) : buf.readInt16BE(o));
  const f32 = (o: number) => (le ? buf.readFloatLE(o) : buf.readFloatBE(o));
  // nifti1_io replaces non-finite header floats (other than pixdim, srow) by 0.
  const fixed = (o: number) => {
    const v = f32(o);
    return Number.isFinite(v) ? v : 0;
  };

  if (buf.toString('latin1', 344, 348) !== 'n+1\0') {
    return fallback('the magic is not "n+1" (Analyze, two-file or a newer NIfTI)');
  }
  const dim0 = i16(40);
  if (dim0 < 1 || dim0 > 7) return fallback(`dim[0] is ${dim0}`);
  const type = DATATYPES.get(i16(70));
  if (type === undefined) return fallback(`datatype ${i16(70)} is not one of the ten scalar types`);
  const bytesPerVoxel = type.array.BYTES_PER_ELEMENT;
  if (i16(72) !== 8 * bytesPerVoxel) return fallback(`bitpix ${i16(72)} disagrees with datatype ${type.dtype}`);
  const intent = i16(68);
  if (!plainIntent(intent)) return fallback(`intent code ${intent}`);

  // dim[] and pixdim[] as nifti1_io repairs them.
  const dim = Array.from({ length: 8 }, (_, i) => i16(40 + 2 * i));
  if ((dim[1] as number) <= 0) return fallback('dim[1] is not positive');
  for (let i = 2; i <= 7; i++) {
    const d = dim[i] as number;
    if (i <= dim0 ? d <= 0 : d !== 0 && d !== 1) dim[i] = 1;
  }
  const pixdim = Array.from({ length: 8 }, (_, i) => f32(76 + 4 * i));
  for (let i = 1; i <= dim0; i++) {
    const p = pixdim[i] as number;
    if (p === 0 || !Number.isFinite(p)) pixdim[i] = 1;
  }
  // ITK drops trailing dimensions of size 1 above the third.
  let dims = dim0;
  while (dim[dims] === 1 && dims > 3) dims--;
  if (dims < 2 || dims > 4) return fallback(`a ${dims}-D image`);
  let voxels = 1;
  for (let i = 1; i <= dim0; i++) voxels *= dim[i] as number;

  const voxOffset = f32(108);
  if (!Number.isInteger(voxOffset) || voxOffset < MIN_VOXEL_OFFSET) return fallback(`vox_offset ${voxOffset}`);
  const dataBytes = voxels * bytesPerVoxel;
  if (buf.length < voxOffset + dataBytes) return fallback('the voxel data are incomplete');

  // Rescaling, as ITK decides it.
  let slope = fixed(112);
  const inter = fixed(116);
  if (Math.abs(slope) < Number.EPSILON) slope = 1;
  const rescale =
    Math.abs(slope) > Number.EPSILON && (Math.abs(slope - 1) > Number.EPSILON || Math.abs(inter) > Number.EPSILON);
  if (rescale && (type.dtype === 'int64' || type.dtype === 'uint64')) {
    return fallback('rescaled 64-bit integers (float conversion of values above 2^53)');
  }

  const geometry = itkGeometry(buf, dims, pixdim, i16, f32, fixed);
  if (typeof geometry === 'string') return fallback(geometry);

  const raw = readVoxels(buf, voxOffset, voxels, type.array, le);
  let data: NiftiVoxelArray = raw;
  let dtype = type.dtype;
  if (rescale) {
    // A Float32Array stores float(v * slope + inter) with one rounding from the double, as ITK's
    // static_cast<float> does.
    const src = raw as Exclude<NiftiVoxelArray, BigInt64Array | BigUint64Array>;
    if (type.integer) {
      const out = new Float32Array(voxels);
      for (let i = 0; i < voxels; i++) out[i] = Math.fround(src[i] as number) * slope + inter;
      data = out;
      dtype = 'float32';
    } else {
      for (let i = 0; i < voxels; i++) src[i] = (src[i] as number) * slope + inter;
    }
  }
  const shape = dim.slice(1, dims + 1).reverse();
  return { volume: { data, shape, dtype, geometry } };
}

/**
 * The voxel block as a new typed array in native (little-endian) order. Always a copy that owns its whole
 * ArrayBuffer: itk-wasm (writing) and transfers to worker threads use `data.buffer` and ignore byteOffset.
 */
function readVoxels(
  buf: Buffer,
  offset: number,
  voxels: number,
  Ctor: TypedArrayConstructor,
  littleEndian: boolean,
): NiftiVoxelArray {
  const size = Ctor.BYTES_PER_ELEMENT;
  const out = new Ctor(voxels);
  const outBytes = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  outBytes.set(buf.subarray(offset, offset + voxels * size));
  if (!littleEndian && size > 1) {
    const swap = Buffer.from(out.buffer, out.byteOffset, out.byteLength);
    if (size === 2) swap.swap16();
    else if (size === 4) swap.swap32();
    else swap.swap64();
  }
  return out;
}

const F32 = new Float32Array(1);
const F32_BITS = new Uint32Array(F32.buffer);

/** The float32 next to float32 value `f`, towards +infinity (`up`) or -infinity. */
function adjacentFloat(f: number, up: boolean): number {
  if (f === 0) {
    F32_BITS[0] = 1;
    return up ? (F32[0] as number) : -(F32[0] as number);
  }
  F32[0] = f;
  F32_BITS[0] = (F32_BITS[0] as number) + (f > 0 === up ? 1 : -1);
  return F32[0] as number;
}

/**
 * float(p * y) rounded once from the exact product, as nifti1_io gets it (it multiplies in long double, which
 * holds the 53 x 24-bit product exactly). Rounding through a double differs only when the double product lies
 * exactly halfway between two floats; then the answer needs the exact product, and undefined is returned.
 */
function floatOfProduct(p: number, y: number): number | undefined {
  const r = p * y;
  const f = Math.fround(r);
  if (f === r || !Number.isFinite(f)) return f;
  const g = adjacentFloat(f, r > f);
  return r - f === g - r ? undefined : f;
}

/**
 * nifti1_io's qform matrix from the quaternion (b, c, d), offsets, spacings and qfac, element for element:
 * the diagonal is computed in double and rounded to float, the other rotation terms are exact products
 * rounded once to float. Undefined in the (never seen) case floatOfProduct cannot settle.
 */
function quaternionToMatrix(
  qb: number,
  qc: number,
  qd: number,
  qx: number,
  qy: number,
  qz: number,
  dx: number,
  dy: number,
  dz: number,
  qfac: number,
): Mat44 | undefined {
  let b = qb;
  let c = qc;
  let d = qd;
  let a = 1 - (b * b + c * c + d * d);
  // nifti1_io compares with the long double 1e-7, which lies above the double 1e-7: hence <=.
  if (a <= 1e-7) {
    a = 1 / Math.sqrt(b * b + c * c + d * d);
    b *= a;
    c *= a;
    d *= a;
    a = 0;
  } else {
    a = Math.sqrt(a);
  }
  const xd = dx > 0 ? dx : 1;
  const yd = dy > 0 ? dy : 1;
  let zd = dz > 0 ? dz : 1;
  if (qfac < 0) zd = -zd;
  const m01 = floatOfProduct(2 * (b * c - a * d), yd);
  const m02 = floatOfProduct(2 * (b * d + a * c), zd);
  const m10 = floatOfProduct(2 * (b * c + a * d), xd);
  const m12 = floatOfProduct(2 * (c * d - a * b), zd);
  const m20 = floatOfProduct(2 * (b * d - a * c), xd);
  const m21 = floatOfProduct(2 * (c * d + a * b), yd);
  if (
    m01 === undefined ||
    m02 === undefined ||
    m10 === undefined ||
    m12 === undefined ||
    m20 === undefined ||
    m21 === undefined
  ) {
    return undefined;
  }
  return [
    [Math.fround((a * a + b * b - c * c - d * d) * xd), m01, m02, qx],
    [m10, Math.fround((a * a + c * c - b * b - d * d) * yd), m12, qy],
    [m20, m21, Math.fround((a * a + d * d - c * c - b * b) * zd), qz],
    [0, 0, 0, 1],
  ];
}

/** ITK's geometry of the image (see the file comment), or the reason it is left to itk-wasm. */
function itkGeometry(
  buf: Buffer,
  dims: number,
  pixdim: number[],
  i16: (o: number) => number,
  f32: (o: number) => number,
  fixed: (o: number) => number,
): NiftiVolume['geometry'] | string {
  const xyztUnits = buf[123] as number;
  const spacingScale = ({ 1: 1e3, 2: 1, 3: 1e-3 } as Record<number, number>)[xyztUnits & 0x07] ?? 1;
  const timingScale = ({ 8: 1, 16: 1e-3, 24: 1e-6 } as Record<number, number>)[xyztUnits & 0x38] ?? 1;
  const spacing = Array.from(
    { length: dims },
    (_, k) => (pixdim[k + 1] as number) * (k < 3 ? spacingScale : timingScale),
  );
  const origin = new Array<number>(dims).fill(0);
  const direction: number[] = Array.from({ length: dims * dims }, (_, i) => (i % (dims + 1) === 0 ? 1 : 0));

  const qcode = i16(252);
  const scode = i16(254);
  if (qcode <= 0 && scode <= 0) return { spacing, origin, direction };

  let q: Mat44 | undefined;
  if (qcode > 0) {
    q = quaternionToMatrix(
      fixed(256),
      fixed(260),
      fixed(264),
      fixed(268),
      fixed(272),
      fixed(276),
      pixdim[1] as number,
      pixdim[2] as number,
      pixdim[3] as number,
      (pixdim[0] as number) < 0 ? -1 : 1,
    );
    if (q === undefined) return 'a qform element needs the exact quaternion product';
  }
  let m: Mat44;
  if (scode <= 0) {
    // A qform alone: ITK's sform matrix is all zeros, never similar nor affine, so the qform is used.
    m = q as Mat44;
  } else {
    const s: Mat44 = [0, 1, 2].map((i) => [0, 1, 2, 3].map((j) => f32(280 + 16 * i + 4 * j)));
    s.push([0, 0, 0, 1]);
    if (!certainlyOrthonormalAffine(s)) return 'the sform is not certainly an orthonormal affine';
    if (q === undefined || scode === XFORM_SCANNER_ANAT || sameMatrix(s, q)) m = s;
    else if (certainlyDissimilar(s, q)) m = q;
    else return 'qform and sform nearly agree: ITK decides with an SVD comparison';
  }

  const row = (i: number) => m[i] as number[];
  origin[0] = -(row(0)[3] as number) * spacingScale;
  if (dims > 1) origin[1] = -(row(1)[3] as number) * spacingScale;
  if (dims > 2) origin[2] = (row(2)[3] as number) * spacingScale;
  if (dims > 3) origin[3] = fixed(136) * timingScale;
  const defined = Math.min(dims, 3);
  for (let axis = 0; axis < defined; axis++) {
    const v = new Array<number>(dims).fill(0);
    for (let i = 0; i < defined; i++) v[i] = (row(i)[axis] as number) * (i < 2 ? -1 : 1);
    let sum = 0;
    for (const x of v) sum += x * x;
    if (sum !== 0) {
      sum = Math.sqrt(sum);
      for (let i = 0; i < dims; i++) v[i] = (v[i] as number) / sum;
    }
    for (let i = 0; i < dims; i++) direction[i * dims + axis] = v[i] as number;
  }
  return { spacing, origin, direction };
}

/** True when the 3 x 4 parts of two matrices hold the same numbers. */
function sameMatrix(a: Mat44, b: Mat44): boolean {
  for (let i = 0; i < 3; i++) for (let j = 0; j < 4; j++) if (a[i]?.[j] !== b[i]?.[j]) return false;
  return true;
}

/** Rows 0..2, columns 0..2 of a matrix. */
function top3x3(m: Mat44): number[][] {
  return [0, 1, 2].map((i) => (m[i] as number[]).slice(0, 3));
}

/**
 * True when ITK certainly finds the sform "decomposable without skew": an invertible affine (bottom row
 * 0 0 0 1, which nifti1_io always sets; its 4 x 4 and 3 x 3 inverses agree within 1e-2) whose columns,
 * normalised, are orthonormal within 1e-4. False also where float rounding could tip ITK's decision: an
 * ill-conditioned matrix or an orthonormality error within 10% of the tolerance.
 */
function certainlyOrthonormalAffine(s: Mat44): boolean {
  const sv4 = singularValues(s);
  if (!((sv4[sv4.length - 1] as number) / (sv4[0] as number) > 1e-6)) return false;
  const a = top3x3(s);
  const sv3 = singularValues(a);
  const t = Math.hypot(s[0]?.[3] as number, s[1]?.[3] as number, s[2]?.[3] as number);
  if (!((1 + t) / (sv3[2] as number) < 1e6)) return false;
  const cols = [0, 1, 2].map((j) => {
    const c = a.map((r) => r[j] as number);
    const n = Math.hypot(...c);
    return c.map((x) => x / n);
  });
  let worst = 0;
  for (let i = 0; i < 3; i++) {
    for (let k = 0; k < 3; k++) {
      // (R R^T)[i][k] over the rows of the column-normalised matrix.
      let dot = 0;
      for (let j = 0; j < 3; j++) dot += (cols[j]?.[i] as number) * (cols[j]?.[k] as number);
      worst = Math.max(worst, Math.abs(dot - (i === k ? 1 : 0)));
    }
  }
  return worst < 0.9e-4;
}

/**
 * True when ITK's "very similar" test of an sform against a qform certainly fails, so that ITK uses the
 * qform: an offset differs by more than 1e-4 (a float subtraction, as ITK does it) or a singular value
 * (spacing) by clearly more than 1e-4.
 */
function certainlyDissimilar(s: Mat44, q: Mat44): boolean {
  for (let i = 0; i < 3; i++) {
    if (Math.abs(Math.fround((s[i]?.[3] as number) - (q[i]?.[3] as number))) > 1e-4) return true;
  }
  const ss = singularValues(top3x3(s));
  const qs = singularValues(top3x3(q));
  const margin = 1e-4 + 1e-5 + 1e-6 * Math.max(ss[0] as number, qs[0] as number);
  return ss.some((v, i) => Math.abs(v - (qs[i] as number)) > margin);
}

/** Singular values of a square matrix, largest first (square roots of the eigenvalues of M^T M). */
function singularValues(m: number[][]): number[] {
  const n = m.length;
  const mtm = Array.from({ length: n }, (_, i) =>
    Array.from({ length: n }, (_, j) => {
      let s = 0;
      for (let k = 0; k < n; k++) s += (m[k]?.[i] as number) * (m[k]?.[j] as number);
      return s;
    }),
  );
  return symmetricEigenvalues(mtm)
    .map((l) => Math.sqrt(Math.max(0, l)))
    .sort((x, y) => y - x);
}

/** Eigenvalues of a small symmetric matrix by cyclic Jacobi rotations. */
function symmetricEigenvalues(input: number[][]): number[] {
  const n = input.length;
  const a = input.map((r) => [...r]);
  const at = (i: number, j: number) => (a[i] as number[])[j] as number;
  const set = (i: number, j: number, v: number) => {
    (a[i] as number[])[j] = v;
  };
  for (let sweep = 0; sweep < 64; sweep++) {
    let off = 0;
    let diag = 0;
    for (let i = 0; i < n; i++) {
      diag += at(i, i) * at(i, i);
      for (let j = i + 1; j < n; j++) off += at(i, j) * at(i, j);
    }
    if (off <= 1e-32 * diag) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = at(p, q);
        if (apq === 0) continue;
        const theta = (at(q, q) - at(p, p)) / (2 * apq);
        const t = (theta >= 0 ? 1 : -1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = at(k, p);
          const akq = at(k, q);
          set(k, p, c * akp - s * akq);
          set(k, q, s * akp + c * akq);
        }
        for (let k = 0; k < n; k++) {
          const apk = at(p, k);
          const aqk = at(q, k);
          set(p, k, c * apk - s * aqk);
          set(q, k, s * apk + c * aqk);
        }
      }
    }
  }
  return Array.from({ length: n }, (_, i) => at(i, i));
}
