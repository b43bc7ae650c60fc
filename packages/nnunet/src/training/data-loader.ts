/**
 * The training patch sampler of nnU-Net v1 (DataLoader3D and DataLoader2D of
 * nnunet/training/dataloading/dataset_loading.py, as nnUNetTrainer configures them).
 *
 * Per batch: B cases drawn uniformly with replacement; items with index < round(B * (1 - 0.33))
 * get a uniformly random patch position, the rest are centred on a foreground voxel (a class
 * drawn uniformly among the case's classes present in class_locations, then one of its sampled
 * voxels). Where a patch leaves the case it is padded with 0 (data) and -1 (segmentation). The 2-D
 * loader first draws a z-slice (for forced items one containing the drawn class) and cuts a (y, x)
 * patch from it. Every random choice comes from one RandomSource, drawn in v1's order, so a
 * LegacyRandomState seeded like NumPy reproduces v1's batches for the same seed.
 */
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { LegacyRandomState } from '../compat/random-state.js';
import { NnunetError } from '../errors.js';
import { readNpyHeader } from '../io/npy.js';
import { product } from '../util/shape.js';
import { type Block, fileReader, memoryReader, Scratch, type VolumeReader } from './data-loader-npy.js';
import { segFromPrevStagePath, unpackSegFromPrevStage } from './prev-stage.js';
import { compareCodePoints } from './splits.js';

/** nnUNetTrainer's oversample_foreground_percent: the share of each batch forced to show foreground. */
export const OVERSAMPLE_FOREGROUND_PERCENT = 0.33;
/** Padding of the image channels where a patch leaves the case (v1's pad_mode "constant"). */
export const DATA_PAD_VALUE = 0;
/** Padding of the segmentation where a patch leaves the case (the label ignored outside the nonzero mask). */
export const SEG_PAD_VALUE = -1;

/** Uniform random integers; LegacyRandomState (NumPy's RandomState) is one. */
export interface RandomSource {
  /** A uniform integer in [0, max]. */
  interval(max: number): number;
}

/** One preprocessed case, as the loader (and its worker threads) need it; structured-cloneable. */
export interface CaseRecord {
  key: string;
  /** CASE.npy: (C + 1, z, y, x) float32, channels then segmentation. */
  file: string;
  /** Byte offset of the array in `file`. */
  dataOffset: number;
  /** [C + 1, Z, Y, X] (a case stored as (C + 1, y, x) has Z = 1). */
  shape: [number, number, number, number];
  /**
   * Per class label ("1", "2", ...): the sampled voxels of CASE.json's class_locations, flat
   * (z, y, x) triples (over SharedArrayBuffers when read by loadDataset).
   */
  classLocations: Record<string, Int32Array>;
  /** The whole array, over a SharedArrayBuffer, when the dataset was loaded in memory. */
  array?: Float32Array;
  /**
   * The cascade's segmentation from the previous stage (unpacked CASE_segFromPrevStage.npy, uint8
   * (z, y, x) of the case's spatial shape): patches carry it as a second segmentation channel.
   */
  prevStage?: { file: string; dataOffset: number };
}

export interface LoadDatasetOptions {
  /** The cases to use, in this order (the fold's training keys); default: every case of the folder, sorted. */
  keys?: readonly string[];
  /**
   * Read every case into a SharedArrayBuffer once (loader workers then share it) instead of reading
   * each patch from its file.
   */
  inMemory?: boolean;
  /**
   * The cascade: the folder of CASE_segFromPrevStage.npz files (the 3d_lowres pred_next_stage);
   * each case's map is unpacked to .npy once and must have the case's spatial shape.
   */
  prevStageFolder?: string;
}

/** The case identifiers of a preprocessed stage folder (CASE.npy with CASE.json), sorted. */
export function listPreprocessedCases(folder: string): string[] {
  let names: string[];
  try {
    names = readdirSync(folder);
  } catch {
    throw new NnunetError(
      'ERR_NOT_FOUND',
      `${folder} does not exist: run nnUNet_plan_and_preprocess for this task and configuration first.`,
    );
  }
  const jsons = new Set(names.filter((n) => n.endsWith('.json')));
  return names
    .filter((n) => n.endsWith('.npy') && !n.includes('segFromPrevStage') && jsons.has(`${n.slice(0, -4)}.json`))
    .map((n) => n.slice(0, -4))
    .sort(compareCodePoints);
}

function readWhole(path: string, dataOffset: number, floats: number): Float32Array {
  const array = new Float32Array(new SharedArrayBuffer(floats * 4));
  const bytes = new Uint8Array(array.buffer);
  const fd = openSync(path, 'r');
  try {
    let done = 0;
    while (done < bytes.length) {
      const n = readSync(fd, bytes, done, bytes.length - done, dataOffset + done);
      if (n === 0) throw new NnunetError('ERR_DATASET', `${path} is truncated: delete it and rerun the preprocessing.`);
      done += n;
    }
  } finally {
    closeSync(fd);
  }
  return array;
}

/**
 * The cases of a preprocessed stage folder (v1's load_dataset): each CASE.npy's header and
 * CASE.json's class_locations, and with `inMemory` the arrays themselves.
 */
export function loadDataset(folder: string, options: LoadDatasetOptions = {}): CaseRecord[] {
  const keys = options.keys ?? listPreprocessedCases(folder);
  let channels: number | undefined;
  return keys.map((key) => {
    const file = join(folder, `${key}.npy`);
    const jsonFile = join(folder, `${key}.json`);
    if (!existsSync(file) || !existsSync(jsonFile))
      throw new NnunetError(
        'ERR_NOT_FOUND',
        `Case ${key} is missing from ${folder} (${key}.npy and ${key}.json): rerun nnUNet_plan_and_preprocess, or check the case list (splits_final.json).`,
      );
    const header = readNpyHeader(file);
    if (header.descr !== '<f4' || (header.shape.length !== 4 && header.shape.length !== 3))
      throw new NnunetError(
        'ERR_DATASET',
        `${file} holds a ${header.descr} array of shape (${header.shape}), not the preprocessed (C + 1, z, y, x) float32 case: rerun nnUNet_plan_and_preprocess.`,
      );
    const s = header.shape;
    const shape: CaseRecord['shape'] = s.length === 4 ? [s[0]!, s[1]!, s[2]!, s[3]!] : [s[0]!, 1, s[1]!, s[2]!];
    if (shape[0] < 2)
      throw new NnunetError('ERR_DATASET', `${file} has no segmentation channel: rerun nnUNet_plan_and_preprocess.`);
    if (channels !== undefined && shape[0] !== channels)
      throw new NnunetError(
        'ERR_DATASET',
        `${file} has ${shape[0] - 1} modalities where earlier cases have ${channels - 1}: rerun nnUNet_plan_and_preprocess.`,
      );
    channels = shape[0];
    let properties: { class_locations?: Record<string, number[][]> };
    try {
      properties = JSON.parse(readFileSync(jsonFile, 'utf8'));
    } catch {
      throw new NnunetError('ERR_DATASET', `${jsonFile} is not valid JSON: rerun nnUNet_plan_and_preprocess.`);
    }
    const locations = properties.class_locations;
    if (locations === undefined || locations === null || typeof locations !== 'object')
      throw new NnunetError(
        'ERR_DATASET',
        `${jsonFile} has no class_locations: rerun nnUNet_plan_and_preprocess to write them.`,
      );
    const classLocations: Record<string, Int32Array> = {};
    for (const [label, voxels] of Object.entries(locations)) {
      // Shared memory: worker threads receive the locations without a copy each.
      const flat = new Int32Array(new SharedArrayBuffer(voxels.length * 3 * 4));
      for (const [i, v] of voxels.entries()) flat.set(v.length === 3 ? v : [0, v[0] ?? 0, v[1] ?? 0], i * 3);
      classLocations[label] = flat;
    }
    const record: CaseRecord = { key, file, dataOffset: header.dataOffset, shape, classLocations };
    if (options.prevStageFolder !== undefined) {
      const npz = segFromPrevStagePath(options.prevStageFolder, key);
      if (!existsSync(npz))
        throw new NnunetError(
          'ERR_NOT_FOUND',
          `${npz} is missing: predict the next stage with every 3d_lowres fold of this task (nnUNet_train 3d_lowres TRAINER TASK FOLD, or -val to redo only the prediction).`,
        );
      const prev = unpackSegFromPrevStage(npz);
      const spatial = s.length === 4 ? shape.slice(1) : shape.slice(2);
      if (prev.shape.length !== spatial.length || prev.shape.some((v, d) => v !== spatial[d]))
        throw new NnunetError(
          'ERR_DATASET',
          `${npz} has shape (${prev.shape}) but ${file} is (${spatial}): the 3d_lowres predictions belong to other preprocessed data; rerun the 3d_lowres prediction for the next stage (nnUNet_train 3d_lowres ... -val).`,
        );
      record.prevStage = { file: prev.file, dataOffset: prev.dataOffset };
    }
    if (options.inMemory === true) record.array = readWhole(file, header.dataOffset, product(shape));
    return record;
  });
}

/** Python's round(): halves go to the even neighbour. */
function pythonRound(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d !== 0.5) return d < 0.5 ? f : f + 1;
  return f % 2 === 0 ? f : f + 1;
}
/** Python's // and % for integers. */
const floorDiv = (a: number, b: number): number => Math.floor(a / b);
const pyMod = (a: number, b: number): number => ((a % b) + b) % b;

function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * A 32-bit seed for batch `index` of the run seeded with `seed` (stream 0: the loader's draws,
 * stream 1: the batch transform's), so each batch is the same whichever worker makes it.
 */
export function deriveSeed(seed: number, index: number, stream = 0): number {
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff)
    throw new NnunetError('ERR_ARGUMENT', `seed must be an integer in [0, 2^32), got ${seed}.`);
  if (!Number.isSafeInteger(index) || index < 0)
    throw new NnunetError('ERR_ARGUMENT', `batch index must be a non-negative integer, got ${index}.`);
  const high = Math.floor(index / 2 ** 32);
  let h = mix32(seed ^ 0x9e3779b9);
  h = mix32(h ^ (index >>> 0));
  h = mix32(h ^ mix32(high + 0x632be5ab));
  return mix32(h ^ Math.imul(stream + 1, 0x27d4eb2f));
}

/** The generator of batch `index` in a run seeded with `seed` (what the batch producer uses). */
export function batchRandomState(seed: number, index: number): LegacyRandomState {
  return new LegacyRandomState(deriveSeed(seed, index, 0));
}

export interface DataLoaderOptions {
  /** 3: (z, y, x) patches (DataLoader3D); 2: (y, x) patches from one z-slice (DataLoader2D). */
  dim: 2 | 3;
  /** The patch cut from each case: basic_generator_patch_size for training, the plans patch for validation. */
  patchSize: readonly number[];
  /**
   * The network's patch (plans patch_size). patchSize - finalPatchSize is how far a patch may
   * reach past the case border, so that final patches also cover the border after augmentation.
   */
  finalPatchSize: readonly number[];
  batchSize: number;
  /** Default OVERSAMPLE_FOREGROUND_PERCENT. */
  oversampleForegroundPercent?: number;
  /** Extra padding allowance per axis (v1's pad_sides; nnUNetTrainer passes none). */
  padSides?: readonly number[] | null;
}

/**
 * A batch: data [B, C, ...patch] and seg [B, 1, ...patch] (cascade: [B, 2, ...patch], channel 1 the
 * previous stage's labels), float32 C order; keys[b] is item b's case.
 */
export interface LoaderBatch {
  data: Float32Array;
  dataShape: number[];
  seg: Float32Array;
  segShape: number[];
  keys: string[];
}

interface ForegroundClass {
  label: number;
  /** Flat (z, y, x) triples. */
  voxels: Int32Array;
}

/** A class's voxels grouped by z-slice: slices ascending, voxels of slice s at yx[2 * (starts[s] .. starts[s + 1])]. */
interface SliceIndex {
  slices: Int32Array;
  starts: Int32Array;
  yx: Int32Array;
}

function checkSizes(name: string, v: readonly number[], dim: number, min: number): number[] {
  if (v.length !== dim || !v.every((s) => Number.isInteger(s) && s >= min))
    throw new NnunetError('ERR_ARGUMENT', `${name} must be ${dim} integers >= ${min}, got [${v}].`);
  return [...v];
}

function groupBySlice(voxels: Int32Array): SliceIndex {
  const n = voxels.length / 3;
  const counts = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const z = voxels[3 * i] as number;
    counts.set(z, (counts.get(z) ?? 0) + 1);
  }
  const slices = Int32Array.from(counts.keys()).sort();
  const starts = new Int32Array(slices.length + 1);
  const at = new Map<number, number>();
  slices.forEach((z, s) => {
    at.set(z, starts[s] as number);
    starts[s + 1] = (starts[s] as number) + (counts.get(z) as number);
  });
  // Stable: voxels of one slice keep the order of class_locations, as v1's boolean indexing does.
  const yx = new Int32Array(2 * n);
  for (let i = 0; i < n; i++) {
    const z = voxels[3 * i] as number;
    const k = at.get(z) as number;
    at.set(z, k + 1);
    yx[2 * k] = voxels[3 * i + 1] as number;
    yx[2 * k + 1] = voxels[3 * i + 2] as number;
  }
  return { slices, starts, yx };
}

/**
 * Copies the (z, y, x) box of channel `c` starting at `start` (may lie partly outside the case)
 * into `dst[dstBase ..]` laid out as `patch`, with `pad` where the box leaves the case.
 */
function cropChannel(
  reader: VolumeReader,
  c: number,
  spatial: readonly number[],
  start: readonly number[],
  patch: readonly number[],
  dst: Float32Array,
  dstBase: number,
  pad: number,
): void {
  const [pz, py, px] = patch as [number, number, number];
  dst.fill(pad, dstBase, dstBase + pz * py * px);
  const lo = start.map((s) => Math.max(0, s));
  const hi = start.map((s, d) => Math.min(spatial[d] as number, s + (patch[d] as number)));
  if (lo.some((l, d) => l >= (hi[d] as number))) return;
  const [z0, y0, x0] = lo as [number, number, number];
  const [z1, y1, x1] = hi as [number, number, number];
  const [sz, sy, sx] = start as [number, number, number];
  const X = spatial[2] as number;
  const nx = x1 - x0;
  const block: Block = reader.read(c, z0, z1, y0, y1);
  const src = block.data;
  for (let z = z0; z < z1; z++) {
    for (let y = y0; y < y1; y++) {
      let s = block.base + (z - z0) * block.zStride + (y - y0) * X + x0;
      let d = dstBase + ((z - sz) * py + (y - sy)) * px + (x0 - sx);
      if (nx >= 32) dst.set(src.subarray(s, s + nx), d);
      else for (const end = s + nx; s < end; ) dst[d++] = src[s++] as number;
    }
  }
}

/**
 * Copies the (z, y, x) box at `start` of a uint8 (Z, Y, X) .npy into `dst[dstBase ..]` laid out as
 * `patch`, 0 where the box leaves the volume; one read per slice.
 */
function cropPrevStage(
  source: { file: string; dataOffset: number },
  spatial: readonly number[],
  start: readonly number[],
  patch: readonly number[],
  dst: Float32Array,
  dstBase: number,
  scratch: { buffer: Uint8Array },
): void {
  const [pz, py, px] = patch as [number, number, number];
  dst.fill(0, dstBase, dstBase + pz * py * px);
  const lo = start.map((s) => Math.max(0, s));
  const hi = start.map((s, d) => Math.min(spatial[d] as number, s + (patch[d] as number)));
  if (lo.some((l, d) => l >= (hi[d] as number))) return;
  const [z0, y0, x0] = lo as [number, number, number];
  const [z1, y1, x1] = hi as [number, number, number];
  const [sz, sy, sx] = start as [number, number, number];
  const [, Y, X] = spatial as [number, number, number];
  const rows = (y1 - y0) * X;
  if (scratch.buffer.length < rows) scratch.buffer = new Uint8Array(rows);
  const bytes = scratch.buffer;
  let fd: number;
  try {
    fd = openSync(source.file, 'r');
  } catch {
    throw new NnunetError(
      'ERR_NOT_FOUND',
      `${source.file} cannot be opened: it is unpacked again from its .npz when training starts.`,
    );
  }
  try {
    for (let z = z0; z < z1; z++) {
      const position = source.dataOffset + (z * Y + y0) * X;
      let done = 0;
      while (done < rows) {
        const n = readSync(fd, bytes, done, rows - done, position + done);
        if (n === 0) throw new NnunetError('ERR_DATASET', `${source.file} is truncated: delete it and train again.`);
        done += n;
      }
      for (let y = y0; y < y1; y++) {
        let s = (y - y0) * X + x0;
        let d = dstBase + ((z - sz) * py + (y - sy)) * px + (x0 - sx);
        for (const end = s + (x1 - x0); s < end; ) dst[d++] = bytes[s++] as number;
      }
    }
  } finally {
    closeSync(fd);
  }
}

/** v1's DataLoader3D / DataLoader2D over a list of cases. */
export class DataLoader {
  /** [B, C, ...patchSize]. */
  readonly dataShape: readonly number[];
  /** [B, 1, ...patchSize], or [B, 2, ...patchSize] with the previous stage's segmentation. */
  readonly segShape: readonly number[];
  /** Whether the cases carry a previous-stage segmentation (v1's has_prev_stage). */
  readonly hasPrevStage: boolean;
  readonly #cases: readonly CaseRecord[];
  readonly #dim: 2 | 3;
  readonly #patch: number[];
  readonly #needToPad: number[];
  readonly #batchSize: number;
  readonly #randomItems: number;
  readonly #channels: number;
  readonly #foreground: ForegroundClass[][];
  readonly #sliceIndex = new Map<string, SliceIndex>();
  readonly #scratch = new Scratch();
  readonly #bytes: { buffer: Uint8Array } = { buffer: new Uint8Array(0) };

  constructor(dataset: readonly CaseRecord[], options: DataLoaderOptions) {
    const dim = options.dim;
    if (dim !== 2 && dim !== 3) throw new NnunetError('ERR_ARGUMENT', `dim must be 2 or 3, got ${dim}.`);
    if (dataset.length === 0) throw new NnunetError('ERR_ARGUMENT', 'The data loader needs at least one case.');
    this.#patch = checkSizes('patchSize', options.patchSize, dim, 1);
    const final = checkSizes('finalPatchSize', options.finalPatchSize, dim, 1);
    const padSides = options.padSides == null ? null : checkSizes('padSides', options.padSides, dim, 0);
    this.#needToPad = this.#patch.map((p, d) => p - (final[d] as number) + (padSides?.[d] ?? 0));
    if (!Number.isInteger(options.batchSize) || options.batchSize < 1)
      throw new NnunetError('ERR_ARGUMENT', `batchSize must be a positive integer, got ${options.batchSize}.`);
    this.#batchSize = options.batchSize;
    const oversample = options.oversampleForegroundPercent ?? OVERSAMPLE_FOREGROUND_PERCENT;
    if (!(oversample >= 0 && oversample <= 1))
      throw new NnunetError('ERR_ARGUMENT', `oversampleForegroundPercent must lie in [0, 1], got ${oversample}.`);
    this.#randomItems = pythonRound(this.#batchSize * (1 - oversample));
    this.#dim = dim;
    this.#cases = dataset;
    const channels = (dataset[0] as CaseRecord).shape[0];
    for (const c of dataset)
      if (c.shape[0] !== channels)
        throw new NnunetError(
          'ERR_DATASET',
          `Case ${c.key} has ${c.shape[0] - 1} modalities where ${(dataset[0] as CaseRecord).key} has ${channels - 1}: rerun nnUNet_plan_and_preprocess.`,
        );
    this.#channels = channels - 1;
    const withPrev = dataset.filter((c) => c.prevStage !== undefined).length;
    if (withPrev !== 0 && withPrev !== dataset.length)
      throw new NnunetError(
        'ERR_DATASET',
        `${dataset.length - withPrev} of ${dataset.length} cases have no segmentation from the previous stage: load every case with the same prevStageFolder.`,
      );
    this.hasPrevStage = withPrev > 0;
    if (this.hasPrevStage && dim !== 3)
      throw new NnunetError('ERR_ARGUMENT', 'The cascade (previous-stage segmentations) exists for 3-D patches only.');
    this.dataShape = [this.#batchSize, this.#channels, ...this.#patch];
    this.segShape = [this.#batchSize, this.hasPrevStage ? 2 : 1, ...this.#patch];
    this.#foreground = dataset.map((c) =>
      Object.entries(c.classLocations)
        .map(([label, voxels]) => ({ label: Number(label), voxels }))
        .filter((f) => f.label > 0 && f.voxels.length > 0),
    );
  }

  /** Whether item `index` of a batch is centred on foreground (v1's get_do_oversample). */
  forcesForeground(index: number): boolean {
    return index >= this.#randomItems;
  }

  /**
   * The next batch from `rng`. With `out`, the arrays are written there (e.g. shared memory of the
   * batch producer) and must hold exactly prod(dataShape) and prod(segShape) values.
   */
  generateBatch(rng: RandomSource, out?: { data: Float32Array; seg: Float32Array }): LoaderBatch {
    const B = this.#batchSize;
    const n = this.#cases.length;
    const picks = Array.from({ length: B }, () => rng.interval(n - 1));
    const P = product(this.#patch);
    const S = this.hasPrevStage ? 2 : 1;
    const data = out?.data ?? new Float32Array(B * this.#channels * P);
    const seg = out?.seg ?? new Float32Array(B * S * P);
    if (data.length !== B * this.#channels * P || seg.length !== B * S * P)
      throw new NnunetError(
        'ERR_ARGUMENT',
        `generateBatch: out arrays must hold ${B * this.#channels * P} and ${B * S * P} values, got ${data.length} and ${seg.length}.`,
      );
    const keys = picks.map((p, j) => {
      this.#item(rng, p, this.forcesForeground(j), j, data, seg);
      return (this.#cases[p] as CaseRecord).key;
    });
    return { data, dataShape: [...this.dataShape], seg, segShape: [...this.segShape], keys };
  }

  #slicesOf(caseIndex: number, cls: ForegroundClass): SliceIndex {
    const id = `${caseIndex}:${cls.label}`;
    let index = this.#sliceIndex.get(id);
    if (index === undefined) {
      index = groupBySlice(cls.voxels);
      this.#sliceIndex.set(id, index);
    }
    return index;
  }

  #item(rng: RandomSource, caseIndex: number, force: boolean, j: number, data: Float32Array, seg: Float32Array): void {
    const rec = this.#cases[caseIndex] as CaseRecord;
    const [, Z, Y, X] = rec.shape;
    const patch = this.#patch;
    const foreground = force ? (this.#foreground[caseIndex] as ForegroundClass[]) : [];
    // 2-D: the slice first (for a forced item one holding the drawn class), then a (y, x) patch.
    let slice = 0;
    let center: number[] | null = null;
    let sliceVoxels: { yx: Int32Array; from: number; count: number } | null = null;
    let cls: ForegroundClass | null = null;
    if (foreground.length > 0) cls = foreground[rng.interval(foreground.length - 1)] as ForegroundClass;
    if (this.#dim === 2) {
      if (cls === null) slice = rng.interval(Z - 1);
      else {
        const index = this.#slicesOf(caseIndex, cls);
        const s = rng.interval(index.slices.length - 1);
        slice = index.slices[s] as number;
        const from = index.starts[s] as number;
        sliceVoxels = { yx: index.yx, from, count: (index.starts[s + 1] as number) - from };
      }
    }
    const spatial = this.#dim === 3 ? [Z, Y, X] : [Y, X];
    const needToPad = this.#needToPad.map((p, d) =>
      p + (spatial[d] as number) < (patch[d] as number) ? (patch[d] as number) - (spatial[d] as number) : p,
    );
    const lb = needToPad.map((p) => floorDiv(-p, 2));
    const ub = needToPad.map((p, d) => (spatial[d] as number) + floorDiv(p, 2) + pyMod(p, 2) - (patch[d] as number));
    if (cls !== null) {
      if (this.#dim === 3) {
        const v = 3 * rng.interval(cls.voxels.length / 3 - 1);
        center = [cls.voxels[v] as number, cls.voxels[v + 1] as number, cls.voxels[v + 2] as number];
      } else {
        const sv = sliceVoxels as NonNullable<typeof sliceVoxels>;
        const v = 2 * (sv.from + rng.interval(sv.count - 1));
        center = [sv.yx[v] as number, sv.yx[v + 1] as number];
      }
    }
    // Forced patches are only bounded below: v1 lets them reach past the upper bound and pads.
    const start =
      center === null
        ? lb.map((l, d) => l + rng.interval((ub[d] as number) - l))
        : lb.map((l, d) => Math.max(l, (center as number[])[d]! - Math.floor((patch[d] as number) / 2)));
    const start3 = this.#dim === 3 ? start : [slice, ...start];
    const patch3 = this.#dim === 3 ? patch : [1, ...patch];
    const P = product(this.#patch);
    const C = this.#channels;
    const reader =
      rec.array !== undefined
        ? memoryReader(rec.array, rec.shape)
        : fileReader(rec.file, rec.dataOffset, rec.shape, this.#scratch);
    try {
      const shape3 = [Z, Y, X];
      for (let c = 0; c < C; c++) cropChannel(reader, c, shape3, start3, patch3, data, (j * C + c) * P, DATA_PAD_VALUE);
      const S = this.hasPrevStage ? 2 : 1;
      cropChannel(reader, C, shape3, start3, patch3, seg, j * S * P, SEG_PAD_VALUE);
      // v1 pads the previous stage's labels with 0 (the target with -1). It also picks one of the
      // stored maps with np.random.choice(1), which draws no random number: the draws stay v1's.
      if (rec.prevStage !== undefined)
        cropPrevStage(rec.prevStage, shape3, start3, patch3, seg, (j * S + 1) * P, this.#bytes);
    } finally {
      reader.close();
    }
  }
}
