/**
 * Ensembling of saved softmax predictions, as nnU-Net v1's nnUNet_ensemble
 * (nnunet/inference/ensemble_predictions.py, merge_files) and the merge step of its model
 * selection: for every case, the CASE.npz softmax of each folder (float16, key "softmax") is
 * averaged the way np.mean averages float16 arrays, the argmax is pasted back into the uncropped
 * volume and written with the case's original geometry (CASE.json, or v1's CASE.pkl, beside the
 * .npz), optionally followed by a postprocessing.json. With --npz the averaged softmax is stored
 * as v1 stores it, and as our nnUNet_predict -z does: [K, ...original_size_of_raw_data], zeros
 * outside the crop box.
 *
 * Where we deliberately differ from v1: cases that cropping to the nonzero region made smaller
 * (crop_bbox narrower than the image). Their saved softmax covers the uncropped image, so v1's
 * merge sees a shape other than size_after_cropping and resamples the whole padded softmax down
 * to the cropped size before pasting it into the crop box, which squeezes and shifts the
 * segmentation. We cut the crop box out of each softmax instead (toCroppedGrid), so the
 * segmentation of a cropped case lines up with the image; uncropped cases are bit-identical to v1.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { NnunetError } from '../errors.js';
import { parseNpyHeader } from '../io/npy.js';
import { fromFloat16Bits, readNpzRaw, toFloat16Bits } from '../io/npz.js';
import { readPostprocessingJson } from '../postprocessing/connected-components.js';
import { applyPostprocessingToFolder } from '../postprocessing/determine.js';
import { writeJsonAtomic } from '../util/atomic.js';
import { product } from '../util/shape.js';
import { type PoolOptions, runPool } from '../util/worker-pool.js';
import { type ExportProperties, softmaxToSegmentation, writeSegmentation, writeSoftmaxNpz } from './export.js';
import { readV1CaseProperties } from './v1-model.js';

/** A softmax read from an .npz: float16 values widened to float32, C order over `shape` ([K, z, y, x]). */
export interface SoftmaxArray {
  values: Float32Array;
  shape: number[];
}

/** Elements converted per chunk, so float16 <-> float32 copies stay small next to the volume. */
const CHUNK = 1 << 20;

/** Reads the "softmax" array of a v1 .npz (float16, or float32) as float32 values. */
export function readSoftmaxNpz(path: string): SoftmaxArray {
  const member = readNpzRaw(path).get('softmax');
  if (member === undefined) {
    throw new NnunetError(
      'ERR_DATASET',
      `${path} has no "softmax" array; it was not written by nnUNet_predict -z or nnUNet_train --npz.`,
    );
  }
  const { descr, shape, dataOffset } = parseNpyHeader(member, path);
  const data = member.subarray(dataOffset);
  const n = product(shape);
  if (descr === '<f2') {
    if (data.length < 2 * n)
      throw new NnunetError('ERR_DATASET', `${path}: the softmax array is truncated; recreate the file.`);
    const bits = new Uint16Array(n);
    new Uint8Array(bits.buffer).set(data.subarray(0, 2 * n));
    const values = new Float32Array(n);
    for (let s = 0; s < n; s += CHUNK) values.set(fromFloat16Bits(bits.subarray(s, Math.min(n, s + CHUNK))), s);
    return { values, shape };
  }
  if (descr === '<f4') {
    if (data.length < 4 * n)
      throw new NnunetError('ERR_DATASET', `${path}: the softmax array is truncated; recreate the file.`);
    const values = new Float32Array(n);
    new Uint8Array(values.buffer).set(data.subarray(0, 4 * n));
    return { values, shape };
  }
  throw new NnunetError(
    'ERR_DATASET',
    `${path}: the softmax is stored as ${descr}; only float16 and float32 are supported.`,
  );
}

/**
 * np.mean over a stack of float16 arrays, bit for bit: NumPy sums float16 in float32, in stack
 * order, divides by the count in float32 and rounds the result to float16 (nearest, ties to even).
 * Inputs are float16 values held in float32 arrays; the result is too. Inputs are not modified.
 */
export function averageSoftmax(arrays: readonly Float32Array[]): Float32Array {
  const first = arrays[0];
  if (first === undefined) throw new NnunetError('ERR_ARGUMENT', 'averageSoftmax needs at least one array.');
  for (const a of arrays) {
    if (a.length !== first.length) {
      throw new NnunetError('ERR_ARGUMENT', `softmax arrays differ in size (${first.length} vs ${a.length} values).`);
    }
  }
  // Float32Array stores round every sum and quotient to float32, as NumPy's float32 accumulator does.
  const out = Float32Array.from(first);
  for (let k = 1; k < arrays.length; k++) {
    const a = arrays[k] as Float32Array;
    for (let i = 0; i < out.length; i++) out[i] = (out[i] as number) + (a[i] as number);
  }
  const count = arrays.length;
  for (let i = 0; i < out.length; i++) out[i] = (out[i] as number) / count;
  for (let s = 0; s < out.length; s += CHUNK) {
    const part = out.subarray(s, Math.min(out.length, s + CHUNK));
    part.set(fromFloat16Bits(toFloat16Bits(part)));
  }
  return out;
}

/**
 * The properties saved beside a case's softmax: CASE.json (written by our nnUNet_predict -z and
 * nnUNet_train --npz) or v1's CASE.pkl.
 */
export function readCaseProperties(folder: string, id: string): ExportProperties {
  const json = join(folder, `${id}.json`);
  if (existsSync(json)) {
    try {
      return JSON.parse(readFileSync(json, 'utf8')) as ExportProperties;
    } catch (e) {
      throw new NnunetError(
        'ERR_DATASET',
        `${json} is not valid JSON (${(e as Error).message}); recreate it by predicting again with -z.`,
        { cause: e },
      );
    }
  }
  const pkl = join(folder, `${id}.pkl`);
  if (existsSync(pkl)) return readV1CaseProperties(pkl) as unknown as ExportProperties;
  throw new NnunetError(
    'ERR_NOT_FOUND',
    `${json} does not exist: the properties of case ${id} must lie beside its .npz; predict the folder again with -z.`,
  );
}

/** One case of an ensemble. */
export interface MergeJob {
  id: string;
  /** The .npz of each member, in folder order. */
  npzFiles: string[];
  /** The folder whose CASE.json (properties) is used: the first one, as v1. */
  propertiesFolder: string;
  /** The segmentation to write (.nii.gz). */
  output: string;
  /** Also write the averaged softmax (output minus .nii.gz + .npz, uncropped grid) and its CASE.json. */
  storeNpz: boolean;
  /** false: keep an existing output (v1's model selection); true: always rewrite (nnUNet_ensemble). */
  override: boolean;
}

/**
 * Brings a softmax saved on the uncropped grid (v1 since 2023 pads it to original_size_of_raw_data
 * with zeros) back to the cropped grid (size_after_cropping) by cutting out the crop box; softmax
 * already on the cropped grid (ours, and v1 before) is returned as is. Other shapes are left for
 * the export to resample, as v1 does.
 */
export function toCroppedGrid(s: SoftmaxArray, props: ExportProperties): SoftmaxArray {
  const spatial = s.shape.slice(1);
  const cropped = props.size_after_cropping;
  const full = props.original_size_of_raw_data;
  const same = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((v, i) => v === b[i]);
  if (same(spatial, cropped) || !same(spatial, full) || spatial.length !== 3) return s;
  const bbox = props.crop_bbox ?? full.map((n) => [0, n] as [number, number]);
  // The box as v1 pastes it: start + cropped size, clipped to the volume.
  const start = bbox.map(([a]) => a);
  const size = cropped.map((n, d) => Math.min((start[d] as number) + n, full[d] as number) - (start[d] as number));
  if (!same(size, cropped)) return s;
  const [K, Z, Y, X] = [s.shape[0] as number, ...full] as [number, number, number, number];
  const [cz, cy, cx] = cropped as [number, number, number];
  const [z0, y0, x0] = start as [number, number, number];
  const out = new Float32Array(K * cz * cy * cx);
  let o = 0;
  for (let k = 0; k < K; k++)
    for (let z = 0; z < cz; z++)
      for (let y = 0; y < cy; y++) {
        const from = ((k * Z + z + z0) * Y + y + y0) * X + x0;
        out.set(s.values.subarray(from, from + cx), o);
        o += cx;
      }
  return { values: out, shape: [K, ...cropped] };
}

/** Averages one case's softmax and writes its segmentation; false when the output was kept. */
export async function mergeCase(job: MergeJob): Promise<boolean> {
  if (!job.override && existsSync(job.output)) return false;
  const props = readCaseProperties(job.propertiesFolder, job.id);
  const arrays: Float32Array[] = [];
  let shape: number[] | undefined;
  for (const f of job.npzFiles) {
    const s = toCroppedGrid(readSoftmaxNpz(f), props);
    if (shape === undefined) shape = s.shape;
    else if (s.shape.join(',') !== shape.join(',')) {
      throw new NnunetError(
        'ERR_DATASET',
        `The softmax of case ${job.id} has shape [${s.shape.join(', ')}] in ${f} but [${shape.join(', ')}] in ${job.npzFiles[0]}; ensemble only predictions of the same cases and classes.`,
      );
    }
    arrays.push(s.values);
  }
  const mean = averageSoftmax(arrays);
  // On the cropped grid, nothing is resampled (v1 passes order 3 for when it would be). With
  // keepSoftmax the mean comes back pasted into the uncropped volume, zeros around the crop box.
  const r = softmaxToSegmentation(mean, shape as number[], props, {
    order: 3,
    orderZ: 0,
    forceSeparateZ: null,
    keepSoftmax: job.storeNpz,
  });
  await writeSegmentation(r.segmentation, r.shape, props, job.output);
  if (job.storeNpz) {
    const stem = job.output.slice(0, -'.nii.gz'.length);
    if (r.softmax === undefined || r.softmaxShape === undefined) {
      // A bug, not a user error: keepSoftmax always returns the softmax.
      throw new Error(`softmaxToSegmentation returned no softmax for case ${job.id} despite keepSoftmax`);
    }
    // The float16 values of the mean, unchanged: the paste only adds zeros.
    writeSoftmaxNpz(`${stem}.npz`, r.softmax, r.softmaxShape);
    writeJsonAtomic(`${stem}.json`, props);
  }
  return true;
}

/** Runs merge jobs in worker threads. */
export function runMergeJobs(jobs: readonly MergeJob[], pool: PoolOptions = {}): Promise<boolean[]> {
  const o: PoolOptions = {};
  if (pool.workers !== undefined) o.workers = pool.workers;
  if (pool.onProgress !== undefined) o.onProgress = pool.onProgress;
  return runPool<MergeJob, boolean>(new URL('./merge-worker.js', import.meta.url), jobs, o);
}

/** Case ids (file names without .npz) of a folder's softmax files, sorted. */
export function npzCaseIds(folder: string): string[] {
  return readdirSync(folder)
    .filter((f) => f.endsWith('.npz') && !f.startsWith('.'))
    .map((f) => f.slice(0, -4))
    .sort();
}

export interface EnsembleOptions extends PoolOptions {
  /** A postprocessing.json to apply; the raw ensemble then goes to OUTPUT/not_postprocessed. */
  postprocessingFile?: string;
  /** Also write the averaged softmax as CASE.npz + CASE.json. */
  storeNpz?: boolean;
  /** Rewrite existing outputs (default true, as nnUNet_ensemble). */
  override?: boolean;
}

export interface EnsembleResult {
  /** The case ids merged. */
  cases: string[];
  /** Where the final segmentations are. */
  outputFolder: string;
  /** Where the unpostprocessed segmentations are (= outputFolder without postprocessing). */
  rawFolder: string;
}

function listIds(ids: readonly string[]): string {
  return ids.length > 5 ? `${ids.slice(0, 5).join(', ')} and ${ids.length - 5} more` : ids.join(', ');
}

/**
 * v1's merge (nnUNet_ensemble): every case that has an .npz in any of `folders` must have one in
 * all of them (with its CASE.json), else an NnunetError names the folder and cases before any work.
 */
export async function ensembleFolders(
  folders: readonly string[],
  outputFolder: string,
  options: EnsembleOptions = {},
): Promise<EnsembleResult> {
  if (folders.length === 0) throw new NnunetError('ERR_ARGUMENT', 'give at least one folder to ensemble.');
  for (const f of folders) {
    if (!existsSync(f) || !statSync(f).isDirectory()) {
      throw new NnunetError('ERR_NOT_FOUND', `The prediction folder ${f} does not exist; check the path.`);
    }
  }
  const perFolder = folders.map(npzCaseIds);
  const ids = [...new Set(perFolder.flat())].sort();
  if (ids.length === 0) {
    throw new NnunetError(
      'ERR_NOT_FOUND',
      `No softmax files (.npz) in ${folders.join(', ')}: predict with -z (--save_npz) to ensemble.`,
    );
  }
  for (const [k, f] of folders.entries()) {
    const have = new Set(perFolder[k]);
    const missing = ids.filter((id) => !have.has(id));
    if (missing.length > 0) {
      throw new NnunetError(
        'ERR_NOT_FOUND',
        `${f} has no softmax (.npz) for ${listIds(missing)}, which other folders have; every folder must be predicted with -z on the same cases.`,
      );
    }
    const noProps = ids.filter((id) => !existsSync(join(f, `${id}.json`)) && !existsSync(join(f, `${id}.pkl`)));
    if (noProps.length > 0) {
      throw new NnunetError(
        'ERR_NOT_FOUND',
        `${f} has no case properties (.json) for ${listIds(noProps)}; they are written beside the .npz by nnUNet_predict -z.`,
      );
    }
  }
  const pp = options.postprocessingFile !== undefined ? readPostprocessingJson(options.postprocessingFile) : null;
  const rawFolder = pp !== null ? join(outputFolder, 'not_postprocessed') : outputFolder;
  mkdirSync(rawFolder, { recursive: true });
  const pool: PoolOptions = {};
  if (options.workers !== undefined) pool.workers = options.workers;
  if (options.onProgress !== undefined) pool.onProgress = options.onProgress;
  await runMergeJobs(
    ids.map((id) => ({
      id,
      npzFiles: folders.map((f) => join(f, `${id}.npz`)),
      propertiesFolder: folders[0] as string,
      output: join(rawFolder, `${id}.nii.gz`),
      storeNpz: options.storeNpz === true,
      override: options.override ?? true,
    })),
    pool,
  );
  if (pp !== null) {
    await applyPostprocessingToFolder(rawFolder, outputFolder, pp, pool);
    copyFileSync(
      options.postprocessingFile as string,
      join(outputFolder, basename(options.postprocessingFile as string)),
    );
  }
  return { cases: ids, outputFolder, rawFolder };
}
