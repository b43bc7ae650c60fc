/**
 * Cropping to the nonzero region, as nnU-Net v1 does before analysing a dataset: the mask is the
 * union over modalities of voxels != 0 with enclosed holes filled, the arrays are cut to the mask's
 * bounding box, and background voxels outside the mask get the segmentation value -1.
 * Arrays are (z, y, x) in C order; the bounding box is half-open [start, end) per axis.
 */
import type { Volume, VoxelArray } from '../io/image.js';
import { product } from '../util/shape.js';

export type Box = [number, number][];

/** Voxels != 0 in any of the channels (each a (z, y, x) array of the same shape). */
export function nonzeroMask(channels: readonly ArrayLike<number>[], n: number): Uint8Array {
  const mask = new Uint8Array(n);
  for (const c of channels) {
    for (let i = 0; i < n; i++) if (c[i] !== 0) mask[i] = 1;
  }
  return mask;
}

/**
 * Fills enclosed holes in place (scipy.ndimage.binary_fill_holes with its default structuring
 * element): background voxels not connected to the array border through face neighbours become
 * foreground.
 */
export function fillHoles(mask: Uint8Array, shape: readonly number[]): Uint8Array {
  const [Z, Y, X] = shape as [number, number, number];
  const n = Z * Y * X;
  // 0 = foreground or unvisited background; reached background is marked 2.
  const queue = new Int32Array(n);
  let head = 0;
  let tail = 0;
  const push = (i: number) => {
    if (mask[i] === 0) {
      mask[i] = 2;
      queue[tail++] = i;
    }
  };
  for (let z = 0; z < Z; z++) {
    for (let y = 0; y < Y; y++) {
      for (let x = 0; x < X; x++) {
        if (z === 0 || z === Z - 1 || y === 0 || y === Y - 1 || x === 0 || x === X - 1) push((z * Y + y) * X + x);
      }
    }
  }
  const sy = X;
  const sz = X * Y;
  while (head < tail) {
    const i = queue[head++] as number;
    const x = i % X;
    const y = ((i - x) / X) % Y;
    const z = (i - x - y * X) / sz;
    if (x > 0) push(i - 1);
    if (x < X - 1) push(i + 1);
    if (y > 0) push(i - sy);
    if (y < Y - 1) push(i + sy);
    if (z > 0) push(i - sz);
    if (z < Z - 1) push(i + sz);
  }
  for (let i = 0; i < n; i++) mask[i] = mask[i] === 2 ? 0 : 1;
  return mask;
}

/** Bounding box of the nonzero voxels, or the whole array when the mask is empty. */
export function boundingBox(mask: Uint8Array, shape: readonly number[]): Box {
  const dims = shape.length;
  const lo = shape.map((s) => s);
  const hi = shape.map(() => -1);
  const strides = shape.map((_, d) => product(shape.slice(d + 1)));
  for (let i = 0; i < mask.length; i++) {
    if (mask[i] === 0) continue;
    let r = i;
    for (let d = 0; d < dims; d++) {
      const s = strides[d] as number;
      const c = Math.floor(r / s);
      r -= c * s;
      if (c < (lo[d] as number)) lo[d] = c;
      if (c > (hi[d] as number)) hi[d] = c;
    }
  }
  if ((hi[0] as number) < 0) return shape.map((s) => [0, s]);
  return lo.map((l, d) => [l, (hi[d] as number) + 1]);
}

/** Copies the box out of a (z, y, x) array into a new Float32Array. */
export function cropToBox(data: ArrayLike<number>, shape: readonly number[], box: Box): Float32Array {
  const [, Y, X] = shape as [number, number, number];
  const [[z0, z1], [y0, y1], [x0, x1]] = box as [[number, number], [number, number], [number, number]];
  const out = new Float32Array((z1 - z0) * (y1 - y0) * (x1 - x0));
  let o = 0;
  for (let z = z0; z < z1; z++) {
    for (let y = y0; y < y1; y++) {
      const row = (z * Y + y) * X;
      for (let x = x0; x < x1; x++) out[o++] = Number(data[row + x]);
    }
  }
  return out;
}

export interface CroppedCase {
  /** Image channels then the segmentation, each of `shape`, as one (C + 1, z, y, x) float32 array. */
  data: Float32Array;
  /** (C + 1, z, y, x) */
  shape: number[];
  bbox: Box;
  /** Sorted distinct values of the cropped segmentation, including -1 when present. */
  classes: number[];
}

/**
 * Crops the modalities of one case (and its segmentation, if any) to the filled nonzero mask.
 * Without a segmentation the last channel is 0 inside the mask and -1 outside, as in v1.
 */
export function cropCase(images: readonly Volume[], seg: Volume | null): CroppedCase {
  const shape = (images[0] as Volume).shape;
  const n = product(shape);
  const mask = fillHoles(
    nonzeroMask(
      images.map((v) => v.data as ArrayLike<number>),
      n,
    ),
    shape,
  );
  const bbox = boundingBox(mask, shape);
  const channels: Float32Array[] = images.map((v) => cropToBox(v.data as ArrayLike<number>, shape, bbox));
  const croppedMask = cropToBox(mask, shape, bbox);
  const segOut =
    seg === null
      ? new Float32Array(croppedMask.length)
      : cropToBox(seg.data as VoxelArray as ArrayLike<number>, shape, bbox);
  const present = new Set<number>();
  for (let i = 0; i < segOut.length; i++) {
    const v = segOut[i] === 0 && croppedMask[i] === 0 ? -1 : (segOut[i] as number);
    // v1 lists the classes before it resets values below -1 to 0.
    present.add(v);
    segOut[i] = v < -1 ? 0 : v;
  }
  const m = croppedMask.length;
  const data = new Float32Array(m * (channels.length + 1));
  channels.forEach((c, i) => {
    data.set(c, i * m);
  });
  data.set(segOut, channels.length * m);
  const cshape = bbox.map(([a, b]) => b - a);
  return { data, shape: [channels.length + 1, ...cshape], bbox, classes: [...present].sort((a, b) => a - b) };
}
