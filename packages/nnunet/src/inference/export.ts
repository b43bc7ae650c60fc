/**
 * From a predicted softmax (at the network's spacing and orientation) back to a segmentation on
 * the original image grid, as nnU-Net v1's save_segmentation_nifti_from_softmax does: transpose
 * back, resample the probabilities to the cropped original shape (linear, with the separate-z
 * rule), paste them into the uncropped volume, argmax, and write with exactly the input image's
 * geometry as uint8. Resampling runs class by class, so peak memory stays near one class volume
 * plus the running argmax (unless the full probabilities are kept for an .npz export).
 */
import { NnunetError } from '../errors.js';
import { type Volume, writeImage } from '../io/image.js';
import { toFloat16Bits, writeNpz } from '../io/npz.js';
import { transposeSpatial } from '../preprocessing/preprocess.js';
import { doSeparateZ, lowResAxis, resampleDataOrSeg } from '../preprocessing/resample.js';
import { product } from '../util/shape.js';

/** The per-case properties the export needs (written by cropping and preprocessing). */
export interface ExportProperties {
  original_size_of_raw_data: number[];
  size_after_cropping: number[];
  original_spacing: number[];
  spacing_after_resampling?: number[];
  crop_bbox: [number, number][] | null;
  itk_spacing: number[];
  itk_origin: number[];
  itk_direction: number[];
  [key: string]: unknown;
}

export interface ExportOptions {
  /** Interpolation order of the probabilities (v1: 1). */
  order?: number;
  /** Order along the low-resolution axis when resampling separately (v1: 0). */
  orderZ?: number;
  /** null: decide from the spacings like v1; true/false: force. */
  forceSeparateZ?: boolean | null;
  /**
   * Keep the probabilities (for an .npz export) on the original uncropped grid, zero outside the
   * crop box, as nnU-Net v1.7 writes them.
   */
  keepSoftmax?: boolean;
  /** v1's transpose_backward of the plans (identity when omitted). */
  transposeBackward?: readonly number[];
}

export interface ExportResult {
  /** Label map on the original (uncropped) grid, (z, y, x). */
  segmentation: Uint8Array;
  shape: number[];
  /** [K, ...shape] probabilities on the original grid when keepSoftmax (v1's .npz grid). */
  softmax?: Float32Array;
  /** Shape of `softmax`: [K, ...original_size_of_raw_data]. */
  softmaxShape?: number[];
}

/** v1's choice of the separate-z axis for the export: original spacing first, then the target spacing. */
export function exportSeparateZAxis(props: ExportProperties, force: boolean | null): number | null {
  let axes: number[] | null = null;
  if (force === null) {
    if (doSeparateZ(props.original_spacing)) axes = lowResAxis(props.original_spacing);
    else if (props.spacing_after_resampling && doSeparateZ(props.spacing_after_resampling)) {
      axes = lowResAxis(props.spacing_after_resampling);
    }
  } else if (force) {
    axes = lowResAxis(props.original_spacing);
  }
  return axes !== null && axes.length === 1 ? (axes[0] as number) : null;
}

/**
 * `softmax`: [K, z, y, x] probabilities in the network's orientation. Returns the argmax label map
 * on the original grid (and the probabilities there when asked).
 */
export function softmaxToSegmentation(
  softmax: Float32Array,
  shape: readonly number[],
  props: ExportProperties,
  o: ExportOptions = {},
): ExportResult {
  let probs = softmax;
  let pshape = [...shape];
  const tb = o.transposeBackward;
  if (tb && !(tb[0] === 0 && tb[1] === 1 && tb[2] === 2)) {
    const t = transposeSpatial(probs, pshape, tb);
    probs = t.data;
    pshape = t.shape;
  }
  const K = pshape[0] as number;
  const cropped = props.size_after_cropping;
  const full = props.original_size_of_raw_data;
  const nIn = product(pshape.slice(1));
  const nCrop = product(cropped);
  const nFull = product(full);
  const needsResampling = pshape.slice(1).some((s, i) => s !== cropped[i]);
  const axis = needsResampling ? exportSeparateZAxis(props, o.forceSeparateZ ?? null) : null;
  const bbox = props.crop_bbox ?? full.map((s) => [0, s] as [number, number]);
  // v1 clips the box to the volume when pasting.
  const box = bbox.map(([a], d) => [a, Math.min(a + (cropped[d] as number), full[d] as number)] as [number, number]);
  const best = new Float32Array(nCrop).fill(Number.NEGATIVE_INFINITY);
  const arg = new Uint8Array(nCrop);
  const kept = o.keepSoftmax ? new Float32Array(K * nFull) : undefined;
  for (let k = 0; k < K; k++) {
    const channel = probs.subarray(k * nIn, (k + 1) * nIn);
    const resampled = needsResampling
      ? resampleDataOrSeg(channel, [1, ...pshape.slice(1)], cropped, {
          isSeg: false,
          order: o.order ?? 1,
          orderZ: o.orderZ ?? 0,
          separateZAxis: axis,
        })
      : channel;
    // A running argmax with strict '>' keeps the first maximal class, like numpy's argmax.
    for (let i = 0; i < nCrop; i++) {
      const v = resampled[i] as number;
      if (v > (best[i] as number)) {
        best[i] = v;
        arg[i] = k;
      }
    }
    if (kept) paste(resampled, cropped, kept.subarray(k * nFull, (k + 1) * nFull), full, box);
  }
  const segmentation = new Uint8Array(nFull);
  paste(arg, cropped, segmentation, full, box);
  const out: ExportResult = { segmentation, shape: [...full] };
  if (kept) {
    out.softmax = kept;
    out.softmaxShape = [K, ...full];
  }
  return out;
}

/** Copies a (z, y, x) block of shape `srcShape` into `dst` (shape `full`) over the box. */
function paste(
  src: ArrayLike<number>,
  srcShape: readonly number[],
  dst: { [i: number]: number },
  full: readonly number[],
  box: readonly [number, number][],
): void {
  const [, sy, sx] = srcShape as [number, number, number];
  const [, fy, fx] = full as [number, number, number];
  const [[z0, z1], [y0, y1], [x0, x1]] = box as [[number, number], [number, number], [number, number]];
  for (let z = z0; z < z1; z++) {
    for (let y = y0; y < y1; y++) {
      const s = ((z - z0) * sy + (y - y0)) * sx;
      const d = (z * fy + y) * fx;
      for (let x = x0; x < x1; x++) dst[d + x] = src[s + x - x0] as number;
    }
  }
}

/** Writes a label map with the geometry recorded for the case's input images (itk_* properties). */
export async function writeSegmentation(
  segmentation: Uint8Array,
  shape: readonly number[],
  props: ExportProperties,
  path: string,
): Promise<void> {
  if (segmentation.length !== product(shape)) {
    throw new NnunetError('ERR_ARGUMENT', `Cannot write ${path}: the segmentation does not match its shape.`);
  }
  const volume: Volume = {
    data: segmentation,
    shape: [...shape],
    dtype: 'uint8',
    geometry: { spacing: [...props.itk_spacing], origin: [...props.itk_origin], direction: [...props.itk_direction] },
  };
  await writeImage(volume, path);
}

/** v1's softmax export: `softmax` as float16 in an .npz (key "softmax"), shape [K, ...original_size_of_raw_data]. */
export function writeSoftmaxNpz(path: string, softmax: Float32Array, shape: readonly number[]): void {
  const bits = toFloat16Bits(softmax);
  writeNpz(path, [{ name: 'softmax', descr: '<f2', shape, bytes: new Uint8Array(bits.buffer) }]);
}
