/**
 * Image I/O through itk-wasm, with SimpleITK's conventions so that numbers match nnU-Net v1:
 * geometry in LPS with spacing and origin in (x, y, z) order and the direction as a row-major
 * matrix; voxel arrays in C order with shape (z, y, x) (or (t, z, y, x) for 4-D images). This is
 * the only module that touches itk-wasm images. Common NIfTI files are decoded in TypeScript by
 * io/nifti.ts, with the numbers itk-wasm would give.
 */
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { readImageNode } from '@itk-wasm/image-io';
import { type Image, InterfaceTypes, runPipelineNode } from 'itk-wasm';
import { NnunetError } from '../errors.js';
import { writeFileAtomic } from '../util/atomic.js';
import { product } from '../util/shape.js';
import { decodeNifti1 } from './nifti.js';

/** The voxel types and arrays of a Volume (io/nifti.ts owns the list; itk-wasm's scalar types are the same). */
export type { NiftiVoxelArray as VoxelArray, NiftiVoxelType as VoxelType } from './nifti.js';

import type { NiftiVoxelArray as VoxelArray, NiftiVoxelType as VoxelType } from './nifti.js';

/** Physical placement of the voxel grid, in ITK/SimpleITK order and the LPS frame. */
export interface ImageGeometry {
  /** Voxel size in mm, (x, y, z[, t]). */
  spacing: number[];
  /** Position of the first voxel's centre in mm, (x, y, z[, t]). */
  origin: number[];
  /** Direction cosines, row-major, dim x dim (SimpleITK's GetDirection()). */
  direction: number[];
}

export interface Volume {
  /** Voxels in C order over `shape`. */
  data: VoxelArray;
  /** Array shape, slowest axis first: (z, y, x) or (t, z, y, x), i.e. the reverse of ITK's size. */
  shape: number[];
  dtype: VoxelType;
  geometry: ImageGeometry;
}

/** File name extensions this module reads and writes (NIfTI, NRRD, MetaImage). */
export const IMAGE_EXTENSIONS = ['.nii.gz', '.nii', '.nrrd', '.nhdr', '.mha', '.mhd'] as const;

export function imageExtension(path: string): string | undefined {
  const lower = path.toLowerCase();
  return IMAGE_EXTENSIONS.find((e) => lower.endsWith(e));
}

/** The other NIfTI spelling of a file (X.nii <-> X.nii.gz), which the NIfTI library may pick instead. */
function niftiTwin(path: string): string | undefined {
  if (path.endsWith('.nii.gz')) return path.slice(0, -3);
  if (path.endsWith('.nii')) return `${path}.gz`;
  return undefined;
}

export interface ReadImageOptions {
  /**
   * Internal: which reader decodes NIfTI files. 'auto' (the default) uses the TypeScript decoder of
   * io/nifti.ts and itk-wasm for the files it leaves out; 'itk-wasm' always uses itk-wasm (the tests
   * and the benchmark compare the two).
   */
  niftiReader?: 'auto' | 'itk-wasm';
}

/**
 * Reads an image file; 2-D, 3-D and 4-D scalar images are supported. NIfTI files are read once into
 * memory and checked (complete gzip stream, complete voxel block); the common ones are then decoded in
 * TypeScript with ITK's rules (io/nifti.ts), the others and every other format by itk-wasm.
 */
export async function readImage(path: string, options: ReadImageOptions = {}): Promise<Volume> {
  if (!existsSync(path)) {
    throw new NnunetError('ERR_NOT_FOUND', `Image file ${path} does not exist: check the path and the case name.`);
  }
  if (imageExtension(path) === undefined) {
    throw new NnunetError(
      'ERR_IMAGE_READ',
      `Cannot read ${path}: unsupported file type; use .nii.gz, .nii, .nrrd or .mha.`,
    );
  }
  const niftiBytes = path.endsWith('.nii') || path.endsWith('.nii.gz') ? await readCheckedNifti(path) : undefined;
  if (niftiBytes !== undefined && options.niftiReader !== 'itk-wasm') {
    const decoded = decodeNifti1(niftiBytes);
    if ('volume' in decoded) return decoded.volume;
  }
  // itk-wasm mounts the file's folder and the NIfTI library resolves X.nii.gz to X.nii when both
  // exist, so an ambiguous file is read from a private copy.
  const twin = niftiTwin(path);
  let readFrom = path;
  let scratch: string | undefined;
  if (twin !== undefined && existsSync(twin)) {
    scratch = mkdtempSync(join(tmpdir(), 'nnunet-read-'));
    readFrom = join(scratch, basename(path));
    copyFileSync(path, readFrom);
  }
  let image: Image;
  try {
    image = await readImageNode(readFrom);
  } catch (e) {
    throw new NnunetError(
      'ERR_IMAGE_READ',
      `Cannot read image ${path}: the file is damaged, truncated or not a ${imageExtension(path)} image (${shortReason(e)}); re-export or re-download it.`,
      { cause: e },
    );
  } finally {
    if (scratch !== undefined) rmSync(scratch, { recursive: true, force: true });
  }
  const volume = fromItk(image, path);
  // itk-wasm's reader turns NaN and infinite voxels into 0; keep them, so that they can be found.
  const rawFloats = niftiBytes === undefined ? undefined : nonFiniteRawFloats(niftiBytes);
  if (
    rawFloats !== undefined &&
    rawFloats.length === volume.data.length &&
    volume.data.constructor === rawFloats.constructor
  ) {
    volume.data = rawFloats;
  }
  return volume;
}

const gunzipAsync = promisify(gunzip);

/** Deflate's largest expansion (about 1032:1), to bound a size hint read from a damaged trailer. */
const DEFLATE_MAX_RATIO = 1032;

/**
 * One output chunk as large as the gzip trailer says the data are (ISIZE, the size mod 2^32 of the
 * last member; a wrong hint only means more chunks): with zlib's default 16 KiB chunks, async gunzip
 * is about 1.5x slower than gunzipSync; with one chunk it is as fast, without blocking the thread.
 */
function gunzipChunkSize(gz: Buffer): number {
  const isize = gz.length >= 18 ? gz.readUInt32LE(gz.length - 4) : 0;
  return Math.max(64 * 1024, Math.min(isize + 1, DEFLATE_MAX_RATIO * gz.length, 1 << 30));
}

/**
 * The bytes of a NIfTI file (gunzipped), checked: the NIfTI library zero-fills a truncated file
 * without complaint, so the gzip stream must be complete (CRC and length) and the voxel block must
 * be as large as the header says.
 */
async function readCheckedNifti(path: string): Promise<Buffer> {
  const damaged = (why: string): never => {
    throw new NnunetError('ERR_IMAGE_READ', `Cannot read image ${path}: ${why}; re-export or re-download it.`);
  };
  let bytes: Buffer = await readFile(path);
  if (path.endsWith('.gz')) {
    try {
      bytes = await gunzipAsync(bytes, { chunkSize: gunzipChunkSize(bytes) });
    } catch (e) {
      damaged(`the gzip data is truncated or corrupt (${shortReason(e)})`);
    }
  }
  const layout = niftiLayout(bytes);
  if (typeof layout === 'string') return damaged(layout);
  // A .nii with a separate .img (hdr/img pair) has no voxels inside; only single files are checked.
  if (bytes.length < layout.needed) {
    damaged(`the voxel data are incomplete (${bytes.length} of ${layout.needed} bytes)`);
  }
  return bytes;
}

interface NiftiLayout {
  le: boolean;
  hdr: number;
  voxOffset: number;
  voxels: number;
  /** Bytes the file must hold: the data offset plus the voxel block as bitpix sizes it. */
  needed: number;
}

/** Where a NIfTI-1 or NIfTI-2 header puts its voxels, or what is wrong with it. */
function niftiLayout(bytes: Buffer): NiftiLayout | string {
  if (bytes.length < 348) return 'the file is shorter than a NIfTI header';
  let le = true;
  let hdr = bytes.readInt32LE(0);
  if (hdr !== 348 && hdr !== 540) {
    le = false;
    hdr = bytes.readInt32BE(0);
  }
  const i16 = (o: number) => (le ? bytes.readInt16LE(o) : bytes.readInt16BE(o));
  const i64 = (o: number) => Number(le ? bytes.readBigInt64LE(o) : bytes.readBigInt64BE(o));
  let dims: number[];
  let bitpix: number;
  let voxOffset: number;
  if (hdr === 348) {
    dims = Array.from({ length: 8 }, (_, i) => i16(40 + 2 * i));
    bitpix = i16(72);
    voxOffset = le ? bytes.readFloatLE(108) : bytes.readFloatBE(108);
  } else if (hdr === 540) {
    if (bytes.length < 540) return 'the file is shorter than a NIfTI-2 header';
    dims = Array.from({ length: 8 }, (_, i) => i64(16 + 8 * i));
    bitpix = i16(14);
    voxOffset = i64(168);
  } else {
    return 'it does not start with a NIfTI-1 or NIfTI-2 header';
  }
  const nd = dims[0] as number;
  if (!(nd >= 1 && nd <= 7)) return `its header declares ${nd} dimensions`;
  let voxels = 1;
  for (let i = 1; i <= nd; i++) voxels *= Math.max(1, dims[i] as number);
  return { le, hdr, voxOffset, voxels, needed: Math.max(voxOffset, hdr + 4) + (voxels * bitpix) / 8 };
}

/**
 * The voxels of an unscaled little-endian float NIfTI file when some are NaN or infinite (itk-wasm
 * reads them as 0), else undefined.
 */
function nonFiniteRawFloats(bytes: Buffer): Float32Array | Float64Array | undefined {
  const layout = niftiLayout(bytes);
  if (typeof layout === 'string') return undefined;
  const { le, hdr, voxOffset, voxels } = layout;
  const datatype = hdr === 348 ? bytes.readInt16LE(70) : bytes.readInt16LE(12);
  const slope = hdr === 348 ? bytes.readFloatLE(112) : bytes.readDoubleLE(176);
  const inter = hdr === 348 ? bytes.readFloatLE(116) : bytes.readDoubleLE(184);
  const unscaled = Number.isNaN(slope) || slope === 0 || (slope === 1 && (inter === 0 || Number.isNaN(inter)));
  if (le && unscaled && (datatype === NIFTI_FLOAT32 || datatype === NIFTI_FLOAT64)) {
    const Ctor = datatype === NIFTI_FLOAT32 ? Float32Array : Float64Array;
    const start = Math.max(voxOffset, hdr + 4);
    const raw = new Ctor(voxels);
    new Uint8Array(raw.buffer).set(bytes.subarray(start, start + raw.byteLength));
    for (let i = 0; i < raw.length; i++) if (!Number.isFinite(raw[i] as number)) return raw;
  }
  return undefined;
}

/** NIfTI datatype codes of 32- and 64-bit floats. */
const NIFTI_FLOAT32 = 16;
const NIFTI_FLOAT64 = 64;

function shortReason(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split('\n')[0]?.slice(0, 160) ?? 'unknown error';
}

function fromItk(image: Image, path: string): Volume {
  const t = image.imageType;
  if (t.components !== 1) {
    throw new NnunetError(
      'ERR_IMAGE_READ',
      `Image ${path} has ${t.components} components per voxel; nnU-Net needs scalar images (one file per modality).`,
    );
  }
  const dim = t.dimension;
  const size = Array.from(image.size);
  const data = image.data as VoxelArray | null;
  const expected = product(size);
  if (data === null || data.length !== expected) {
    throw new NnunetError(
      'ERR_IMAGE_READ',
      `Image ${path} holds ${data?.length ?? 0} voxels but its header says ${expected}; the file is damaged.`,
    );
  }
  return {
    data,
    shape: size.slice().reverse(),
    dtype: t.componentType as VoxelType,
    geometry: {
      spacing: Array.from(image.spacing).slice(0, dim),
      origin: Array.from(image.origin).slice(0, dim),
      direction: Array.from(image.direction as Float64Array).slice(0, dim * dim),
    },
  };
}

function toItk(v: Volume): Image {
  const dim = v.shape.length;
  return {
    imageType: { dimension: dim, componentType: v.dtype, pixelType: 'Scalar', components: 1 },
    name: 'image',
    origin: [...v.geometry.origin],
    spacing: [...v.geometry.spacing],
    direction: Float64Array.from(v.geometry.direction),
    size: v.shape.slice().reverse(),
    metadata: new Map(),
    data: v.data,
  } as unknown as Image;
}

/** The itk-wasm writer pipeline of each extension this module writes. */
const WRITE_PIPELINE: Record<string, string> = {
  '.nii.gz': 'nifti-write-image',
  '.nii': 'nifti-write-image',
  '.nrrd': 'nrrd-write-image',
  '.nhdr': 'nrrd-write-image',
  '.mha': 'meta-write-image',
  '.mhd': 'meta-write-image',
};

/** The folder of @itk-wasm/image-io's WebAssembly pipelines (beside its entry module). */
let pipelineFolder: string | undefined;
function pipelinesOfImageIo(): string {
  pipelineFolder ??= join(dirname(createRequire(import.meta.url).resolve('@itk-wasm/image-io')), 'pipelines');
  return pipelineFolder;
}

/** The data file a header-only format (.mhd, .nhdr) refers to, as ITK names it. */
function detachedDataName(stem: string, ext: string, compress: boolean): string | undefined {
  if (ext === '.mhd') return `${stem}.${compress ? 'zraw' : 'raw'}`;
  if (ext === '.nhdr') return `${stem}.raw${compress ? '.gz' : ''}`;
  return undefined;
}

/**
 * The bytes of `volume` as the file `stem + ext`, encoded by itk-wasm in its in-memory file system
 * (nothing touches the disk): the file, and for .mhd/.nhdr the data file its header names.
 */
async function encodeImage(
  volume: Volume,
  stem: string,
  ext: string,
  compress: boolean,
): Promise<{ file: Uint8Array; data: Uint8Array | undefined }> {
  const file = `${stem}${ext}`;
  const data = detachedDataName(stem, ext, compress);
  const outputs = [file, ...(data === undefined ? [] : [data])].map((path) => ({
    type: InterfaceTypes.BinaryFile,
    data: { path, data: new Uint8Array() },
  }));
  const args = ['0', '0', file, '--memory-io', ...(compress ? ['--use-compression'] : [])];
  const {
    returnValue,
    stderr,
    outputs: got,
  } = await runPipelineNode(
    join(pipelinesOfImageIo(), WRITE_PIPELINE[ext] as string),
    args,
    [{ type: InterfaceTypes.JsonCompatible }, ...outputs],
    [{ type: InterfaceTypes.Image, data: toItk(volume) }],
  );
  if (returnValue !== 0 || got[0]?.data !== true) throw new Error(stderr.trim() || 'the writer could not write it');
  const bytes = got.slice(1).map((o) => (o.data as { data: Uint8Array }).data);
  const head = bytes[0];
  if (head === undefined || head.length === 0) throw new Error('the writer produced no bytes');
  if (data !== undefined) {
    // The header must name the data file we took from the writer's file system.
    const text = Buffer.from(head).toString('latin1');
    if (!text.includes(data)) throw new Error(`the header does not refer to ${data}`);
  }
  return { file: head, data: bytes[1] };
}

/**
 * Writes `volume` to `path` atomically: itk-wasm encodes the image in memory, and the bytes go
 * through the package's one writer (checked length, fsync, rename), so a full disk is one sentence
 * (ERR_WRITE) and never leaves a truncated image under `path`. For the header + data formats
 * (.mhd, .nhdr) the data file (X.raw) is written first, then the header.
 */
export async function writeImage(volume: Volume, path: string, options: { compress?: boolean } = {}): Promise<void> {
  const ext = imageExtension(path);
  if (ext === undefined) {
    throw new NnunetError(
      'ERR_IMAGE_WRITE',
      `Cannot write ${path}: unsupported file type; use .nii.gz, .nii, .nrrd or .mha.`,
    );
  }
  checkVolume(volume, path);
  const compress = options.compress ?? ext === '.nii.gz';
  const stem = basename(path).slice(0, -ext.length);
  let encoded: { file: Uint8Array; data: Uint8Array | undefined };
  try {
    encoded = await encodeImage(volume, stem, ext, compress);
  } catch (e) {
    throw new NnunetError(
      'ERR_IMAGE_WRITE',
      `Cannot write image ${path}: itk-wasm could not encode it as ${ext} (${shortReason(e)}); write it as .nii.gz instead.`,
      { cause: e },
    );
  }
  const dataName = detachedDataName(stem, ext, compress);
  if (encoded.data !== undefined && dataName !== undefined) {
    writeFileAtomic(join(dirname(path), dataName), encoded.data);
  }
  writeFileAtomic(path, encoded.file);
}

function checkVolume(v: Volume, path: string): void {
  const n = product(v.shape);
  const dim = v.shape.length;
  const bad = (why: string): never => {
    throw new NnunetError('ERR_ARGUMENT', `Cannot write image ${path}: ${why}.`);
  };
  if (dim < 2 || dim > 4) bad(`${dim}-D arrays are not supported`);
  if (v.data.length !== n) bad(`data holds ${v.data.length} voxels but shape [${v.shape.join(', ')}] needs ${n}`);
  if (
    v.geometry.spacing.length !== dim ||
    v.geometry.origin.length !== dim ||
    v.geometry.direction.length !== dim * dim
  ) {
    bad(`geometry must have ${dim} spacings, ${dim} origin values and a ${dim}x${dim} direction`);
  }
}
