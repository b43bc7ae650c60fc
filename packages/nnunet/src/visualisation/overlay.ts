/**
 * Segmentation overlays as PNG (v1's nnunet/utilities/overlay_plots.py, nnUNet_plot_task_pngs):
 * for a 3-D image and its label map, the axial slice (first array axis, z) with the most
 * foreground voxels is drawn in grey, each label tinted with a fixed colour, one PNG per case
 * named CASE.png, rows = y (top to bottom), columns = x, no spacing correction (as v1).
 *
 * The colouring follows v1's generate_overlay: the slice is shifted to start at 0 and scaled to
 * [0, 255] by its maximum, `intensity` (v1: 0.6) times the label colour is added to labelled
 * pixels, and the result is scaled again so that its brightest channel is 255, then truncated to
 * 8 bits. One deliberate difference: v1 assigns colours in the order of the labels present in
 * the slice, so a label's colour changes between cases; here label k always gets colour k of v1's
 * colour cycle, which is the same whenever the slice holds all labels 0..K.
 */
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { NnunetError } from '../errors.js';
import { IMAGE_EXTENSIONS, imageExtension, readImage, type VoxelArray } from '../io/image.js';
import { readNpy } from '../io/npy.js';
import { ENV_PREPROCESSED, ENV_RAW_BASE, requireEnvFolder, resolveTaskName } from '../model/paths.js';
import { product } from '../util/shape.js';
import { writePngRgb } from './png.js';

/** v1's colour cycle (RRGGBB); entry 0 is the background and adds nothing. */
export const OVERLAY_COLORS: readonly string[] = [
  '000000',
  '4363d8',
  'f58231',
  '3cb44b',
  'e6194B',
  '911eb4',
  'ffe119',
  'bfef45',
  '42d4f4',
  'f032e6',
  '000075',
  '9A6324',
  '808000',
  '800000',
  '469990',
];
/** v1's overlay_intensity: the weight of the label colour added to the grey value. */
export const DEFAULT_OVERLAY_INTENSITY = 0.6;
/** v1's default preprocessed data identifier (data of plans v2.1). */
const DEFAULT_DATA_IDENTIFIER = 'nnUNetData_plans_v2.1';

export interface OverlayOptions {
  /** Weight of the label colour (default 0.6 as v1). */
  intensity?: number;
  /**
   * Grey-value range: 'minmax' (v1: the slice's minimum and maximum) or [low, high] percentiles
   * of the slice (e.g. [0.5, 99.5]) outside which values are clipped.
   */
  window?: 'minmax' | readonly [number, number];
  /** Enlarge the picture by this integer factor, each voxel a square of pixels (default 1, as v1). */
  scale?: number;
}

/** Nearest-neighbour enlargement of an RGB8 picture by an integer factor. */
export function enlargeRgb(rgb: Uint8Array, height: number, width: number, factor: number): Uint8Array {
  if (!Number.isInteger(factor) || factor < 1) {
    throw new NnunetError('ERR_ARGUMENT', `the overlay scale must be a positive integer, got ${factor}.`);
  }
  if (factor === 1) return rgb;
  const w = width * factor;
  const out = new Uint8Array(height * factor * w * 3);
  for (let y = 0; y < height * factor; y++) {
    const sy = Math.floor(y / factor);
    for (let x = 0; x < w; x++) {
      const s = (sy * width + Math.floor(x / factor)) * 3;
      const d = (y * w + x) * 3;
      out[d] = rgb[s] as number;
      out[d + 1] = rgb[s + 1] as number;
      out[d + 2] = rgb[s + 2] as number;
    }
  }
  return out;
}

/** Label k's RGB colour: entry k of the cycle (labels past its end wrap around, skipping black). */
export function labelColor(label: number): [number, number, number] {
  const n = OVERLAY_COLORS.length - 1;
  const hex = OVERLAY_COLORS[label <= 0 ? 0 : 1 + ((label - 1) % n)] as string;
  return [0, 2, 4].map((i) => Number.parseInt(hex.slice(i, i + 2), 16)) as [number, number, number];
}

const NO_TINT: readonly [number, number, number] = [0, 0, 0];

function valueAt(a: VoxelArray | ArrayLike<number>, i: number): number {
  return Number((a as ArrayLike<number | bigint>)[i]);
}

/**
 * Index along the first axis of the slice with the most non-zero voxels in `seg` (shape
 * [z, y, x]); the first such slice on ties, 0 when there is no foreground (numpy's argmax).
 */
export function mostForegroundSlice(seg: VoxelArray | ArrayLike<number>, shape: readonly number[]): number {
  const [z, y, x] = shape as [number, number, number];
  const plane = y * x;
  let best = 0;
  let bestCount = -1;
  for (let s = 0; s < z; s++) {
    let count = 0;
    for (let i = s * plane; i < (s + 1) * plane; i++) if (valueAt(seg, i) !== 0) count++;
    if (count > bestCount) {
      best = s;
      bestCount = count;
    }
  }
  return best;
}

/** numpy.percentile (linear interpolation) of sorted values. */
function percentile(sorted: Float64Array, q: number): number {
  const pos = (q / 100) * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return (sorted[lo] as number) + ((sorted[hi] as number) - (sorted[lo] as number)) * (pos - lo);
}

/**
 * The RGB overlay (height x width x 3 bytes, row-major) of one slice: `image` and `seg` hold
 * height * width values in row-major order.
 */
export function overlayRgb(
  image: VoxelArray | ArrayLike<number>,
  seg: VoxelArray | ArrayLike<number>,
  height: number,
  width: number,
  options: OverlayOptions = {},
): Uint8Array {
  const n = height * width;
  const intensity = options.intensity ?? DEFAULT_OVERLAY_INTENSITY;
  const grey = new Float64Array(n);
  for (let i = 0; i < n; i++) grey[i] = valueAt(image, i);
  if (options.window !== undefined && options.window !== 'minmax') {
    const sorted = Float64Array.from(grey).sort();
    const lo = percentile(sorted, options.window[0]);
    const hi = percentile(sorted, options.window[1]);
    for (let i = 0; i < n; i++) grey[i] = Math.min(Math.max(grey[i] as number, lo), hi);
  }
  let min = Number.POSITIVE_INFINITY;
  for (const v of grey) min = Math.min(min, v);
  let max = 0;
  for (let i = 0; i < n; i++) {
    grey[i] = (grey[i] as number) - min;
    max = Math.max(max, grey[i] as number);
  }
  const rgb = new Float64Array(n * 3);
  for (let i = 0; i < n; i++) {
    const g = max > 0 ? ((grey[i] as number) / max) * 255 : 0;
    const label = valueAt(seg, i);
    const c = label === 0 ? NO_TINT : labelColor(label);
    rgb[3 * i] = g + intensity * c[0];
    rgb[3 * i + 1] = g + intensity * c[1];
    rgb[3 * i + 2] = g + intensity * c[2];
  }
  let top = 0;
  for (const v of rgb) top = Math.max(top, v);
  const out = new Uint8Array(n * 3);
  if (top > 0) for (let i = 0; i < n * 3; i++) out[i] = Math.trunc(((rgb[i] as number) / top) * 255);
  return out;
}

/** Writes the overlay PNG of the most-foreground slice of a [z, y, x] image/label pair. */
export function writeOverlayPng(
  image: VoxelArray | ArrayLike<number>,
  seg: VoxelArray | ArrayLike<number>,
  shape: readonly number[],
  outPng: string,
  options: OverlayOptions = {},
): number {
  const dims = shape.length === 2 ? [1, ...shape] : [...shape];
  const [, y, x] = dims as [number, number, number];
  const slice = mostForegroundSlice(seg, dims);
  const plane = y * x;
  const at = (a: VoxelArray | ArrayLike<number>): Float64Array => {
    const s = new Float64Array(plane);
    for (let i = 0; i < plane; i++) s[i] = valueAt(a, slice * plane + i);
    return s;
  };
  const f = options.scale ?? 1;
  writePngRgb(outPng, enlargeRgb(overlayRgb(at(image), at(seg), y, x, options), y, x, f), x * f, y * f);
  return slice;
}

/**
 * v1's plot_overlay: reads a 3-D image and a label map of the same shape and writes `outPng`.
 * Returns the slice index drawn (first array axis).
 */
export async function plotOverlay(
  imagePath: string,
  segPath: string,
  outPng: string,
  options: OverlayOptions = {},
): Promise<{ slice: number }> {
  const image = await readImage(imagePath);
  const seg = await readImage(segPath);
  if (image.shape.join() !== seg.shape.join()) {
    throw new NnunetError(
      'ERR_DATASET',
      `${imagePath} (${image.shape.join(' x ')}) and ${segPath} (${seg.shape.join(' x ')}) do not have the same shape: they are not an image and its segmentation.`,
    );
  }
  if (image.shape.length !== 3 && image.shape.length !== 2) {
    throw new NnunetError(
      'ERR_DATASET',
      `${imagePath} has ${image.shape.length} dimensions: overlays are drawn for 2-D and 3-D images only.`,
    );
  }
  return { slice: writeOverlayPng(image.data, seg.data, image.shape, outPng, options) };
}

function stripImageExtension(name: string): string | undefined {
  const ext = imageExtension(name);
  return ext === undefined ? undefined : name.slice(0, -ext.length);
}

export interface FolderOverlayOptions extends OverlayOptions {
  /** Modality drawn: CASE_<modality 4 digits> (default 0). */
  modality?: number;
  onProgress?: (done: number, total: number) => void;
}

/**
 * Overlays of a prediction folder (CASE.nii.gz label maps) on the input images
 * (`imagesFolder`/CASE_0000.nii.gz): writes `outputFolder`/CASE.png and returns their paths.
 */
export async function plotPredictionOverlays(
  predictionFolder: string,
  imagesFolder: string,
  outputFolder: string,
  options: FolderOverlayOptions = {},
): Promise<string[]> {
  if (!existsSync(predictionFolder)) {
    throw new NnunetError('ERR_NOT_FOUND', `The prediction folder ${predictionFolder} does not exist.`);
  }
  const modality = String(options.modality ?? 0).padStart(4, '0');
  const cases = readdirSync(predictionFolder)
    .map((f) => ({ file: f, id: stripImageExtension(f) }))
    .filter((c): c is { file: string; id: string } => c.id !== undefined)
    .sort((a, b) => a.id.localeCompare(b.id));
  const pairs = cases.map((c) => {
    const ext = imageExtension(c.file) as string;
    const candidates = [ext, ...IMAGE_EXTENSIONS].map((e) => join(imagesFolder, `${c.id}_${modality}${e}`));
    const image = candidates.find((p) => existsSync(p));
    if (image === undefined) {
      throw new NnunetError(
        'ERR_NOT_FOUND',
        `No input image ${candidates[0]} for the prediction ${join(predictionFolder, c.file)}: give the folder of the images that were predicted.`,
      );
    }
    return { image, seg: join(predictionFolder, c.file), out: join(outputFolder, `${c.id}.png`) };
  });
  mkdirSync(outputFolder, { recursive: true });
  for (const [i, p] of pairs.entries()) {
    await plotOverlay(p.image, p.seg, p.out, options);
    options.onProgress?.(i + 1, pairs.length);
  }
  return pairs.map((p) => p.out);
}

export interface TaskOverlayOptions extends FolderOverlayOptions {
  /** Draw the raw data (imagesTr + labelsTr) instead of the preprocessed data (v1's --use_raw). */
  useRaw?: boolean;
  /** Preprocessed data identifier (default nnUNetData_plans_v2.1). */
  dataIdentifier?: string;
  env?: Readonly<Record<string, string | undefined>>;
}

/**
 * v1's generate_overlays_for_task: one PNG per training case of a task in `outputFolder`. By
 * default from the preprocessed data of the highest stage ($nnUNet_preprocessed/TASK/
 * <identifier>_stageN/CASE.npy: modality channel and the label channel, -1 shown as 0); with
 * `useRaw` from $nnUNet_raw_data_base/nnUNet_raw_data/TASK/imagesTr + labelsTr.
 */
export async function plotTaskOverlays(
  task: string,
  outputFolder: string,
  options: TaskOverlayOptions = {},
): Promise<string[]> {
  const env = options.env ?? process.env;
  const name = resolveTaskName(task, env);
  const modality = options.modality ?? 0;
  const outputs: string[] = [];
  if (options.useRaw) {
    const folder = join(requireEnvFolder(ENV_RAW_BASE, env), 'nnUNet_raw_data', name);
    const labels = join(folder, 'labelsTr');
    if (!existsSync(labels)) {
      throw new NnunetError('ERR_NOT_FOUND', `${labels} does not exist: ${name} has no raw training labels.`);
    }
    const ids = readdirSync(labels)
      .filter((f) => f.endsWith('.nii.gz'))
      .map((f) => f.slice(0, -'.nii.gz'.length))
      .sort();
    const pairs = ids.map((id) => ({
      image: join(folder, 'imagesTr', `${id}_${String(modality).padStart(4, '0')}.nii.gz`),
      seg: join(labels, `${id}.nii.gz`),
      out: join(outputFolder, `${id}.png`),
    }));
    const missing = pairs.find((p) => !existsSync(p.image));
    if (missing) {
      throw new NnunetError(
        'ERR_NOT_FOUND',
        `${missing.image} does not exist: modality ${modality} is missing for a training case of ${name} (check -modality_idx).`,
      );
    }
    mkdirSync(outputFolder, { recursive: true });
    for (const [i, p] of pairs.entries()) {
      await plotOverlay(p.image, p.seg, p.out, options);
      outputs.push(p.out);
      options.onProgress?.(i + 1, pairs.length);
    }
    return outputs;
  }
  const pre = join(requireEnvFolder(ENV_PREPROCESSED, env), name);
  const prefix = `${options.dataIdentifier ?? DEFAULT_DATA_IDENTIFIER}_stage`;
  const stages = existsSync(pre) ? readdirSync(pre).filter((f) => f.startsWith(prefix)) : [];
  stages.sort();
  const stage = stages[stages.length - 1];
  if (stage === undefined) {
    throw new NnunetError(
      'ERR_NOT_FOUND',
      `No preprocessed data (${join(pre, `${prefix}*`)}) for ${name}: run nnUNet_plan_and_preprocess first, or draw the raw data with --use_raw.`,
    );
  }
  const folder = join(pre, stage);
  const ids = readdirSync(folder)
    .filter((f) => f.endsWith('.npy'))
    .map((f) => f.slice(0, -4))
    .sort();
  mkdirSync(outputFolder, { recursive: true });
  for (const [i, id] of ids.entries()) {
    const path = join(folder, `${id}.npy`);
    const { data, shape } = readNpy(path);
    const [c, ...spatial] = shape as [number, ...number[]];
    if (modality >= c - 1) {
      throw new NnunetError(
        'ERR_ARGUMENT',
        `${path} has ${c - 1} modalit${c - 1 === 1 ? 'y' : 'ies'}: -modality_idx must be below ${c - 1}.`,
      );
    }
    const voxels = product(spatial);
    const image = (data as Float32Array).subarray(modality * voxels, (modality + 1) * voxels);
    const seg = Float32Array.from((data as Float32Array).subarray((c - 1) * voxels, c * voxels), (v) => Math.max(v, 0));
    const out = join(outputFolder, `${id}.png`);
    writeOverlayPng(image, seg, spatial, out, options);
    outputs.push(out);
    options.onProgress?.(i + 1, ids.length);
  }
  return outputs;
}
