/**
 * Checks of a case's input images before prediction. NaN and infinite voxels survive cropping and
 * normalisation and turn the network's output into noise (an all-NaN image gave thousands of
 * foreground voxels), so they are refused, or replaced by a value the user chose (--nan_value).
 */
import { NnunetError } from '../errors.js';
import type { Volume } from '../io/image.js';

/** The number of NaN or infinite voxels and the index of the first (C order), or null when all are finite. */
export function nonFiniteVoxels(data: ArrayLike<number | bigint>): { count: number; first: number } | null {
  if (!(data instanceof Float32Array || data instanceof Float64Array)) return null;
  let count = 0;
  let first = -1;
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i] as number)) {
      if (count === 0) first = i;
      count++;
    }
  }
  return count === 0 ? null : { count, first };
}

/** (z, y, x) of a C-order index into `shape`. */
function position(index: number, shape: readonly number[]): number[] {
  const out: number[] = [];
  let rest = index;
  for (let d = shape.length - 1; d >= 0; d--) {
    const s = shape[d] as number;
    out.unshift(rest % s);
    rest = Math.floor(rest / s);
  }
  return out;
}

/**
 * Checks the images of one case (one per modality, in the model's order; `names` say where they
 * come from, e.g. their files): each is 3-D, all share one voxel grid, and none holds NaN or
 * infinite voxels unless `nanValue` is given, in which case those voxels are replaced by it.
 * Returns the images to predict (inputs are never modified: a replaced image is a copy).
 */
export function checkCaseImages(
  images: readonly Volume[],
  names: readonly string[],
  o: { nanValue?: number } = {},
): Volume[] {
  const first = images[0];
  if (first === undefined) throw new NnunetError('ERR_ARGUMENT', 'A case needs at least one image.');
  const out: Volume[] = [];
  for (const [m, v] of images.entries()) {
    const name = names[m] ?? `image ${m}`;
    if (v.shape.length !== 3) {
      throw new NnunetError(
        'ERR_DATASET',
        `${name} is ${v.shape.length}-D: nnU-Net predicts one 3-D image per modality (split 4-D files with nnUNet_convert_decathlon_task).`,
      );
    }
    if (v.shape.join() !== first.shape.join()) {
      throw new NnunetError(
        'ERR_DATASET',
        `${name} has shape [${v.shape}] but ${names[0] ?? 'image 0'} has [${first.shape}]: all modalities of a case must share one voxel grid.`,
      );
    }
    const bad = nonFiniteVoxels(v.data);
    if (bad === null) {
      out.push(v);
    } else if (o.nanValue === undefined) {
      throw new NnunetError(
        'ERR_DATASET',
        `${name} holds ${bad.count} NaN or infinite voxel(s) (the first at z, y, x = ${position(bad.first, v.shape).join(', ')}), which would make the segmentation meaningless; fix the image, or predict with them replaced by a value X (nnUNet_predict --nan_value X).`,
      );
    } else {
      const data = (v.data as Float32Array | Float64Array).slice();
      for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i] as number)) data[i] = o.nanValue;
      out.push({ ...v, data });
    }
  }
  return out;
}
