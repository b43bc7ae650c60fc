/**
 * The segmentations the 3d_lowres stage of the cascade leaves for the full-resolution stage, in
 * v1's place and format: $RESULTS_FOLDER/nnUNet/3d_lowres/TASK/TRAINER__PLANS/pred_next_stage/
 * CASE_segFromPrevStage.npz, one uint8 label map (key "data") on the grid of the full-resolution
 * stage's preprocessed data. For patch reads during training the map is unpacked once into a
 * CASE_segFromPrevStage.npy beside it (v1's loader reads such a file too when present).
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { NnunetError } from '../errors.js';
import { type NpyArray, parseNpyHeader, readNpyHeader, writeNpy } from '../io/npy.js';
import { readNpzRaw, writeNpz } from '../io/npz.js';
import { product } from '../util/shape.js';

/** v1's folder name, beside the lowres trainer's fold folders. */
export const PRED_NEXT_STAGE_FOLDER = 'pred_next_stage';
export const SEG_FROM_PREV_STAGE_SUFFIX = '_segFromPrevStage';

export function segFromPrevStagePath(folder: string, caseId: string): string {
  return join(folder, `${caseId}${SEG_FROM_PREV_STAGE_SUFFIX}.npz`);
}

/** Writes a label map as v1's np.savez_compressed(file, data=seg.astype(np.uint8)), atomically. */
export function writeSegFromPrevStage(path: string, seg: Uint8Array, shape: readonly number[]): void {
  if (seg.length !== product(shape))
    throw new NnunetError(
      'ERR_ARGUMENT',
      `Cannot write ${path}: ${seg.length} labels for shape [${shape.join(', ')}].`,
    );
  writeNpz(path, [{ name: 'data', descr: '|u1', shape, bytes: seg }]);
}

const INTEGER_DESCR: Record<string, (b: ArrayBuffer) => ArrayLike<number>> = {
  '|u1': (b) => new Uint8Array(b),
  '|i1': (b) => new Int8Array(b),
  '<u2': (b) => new Uint16Array(b),
  '<i2': (b) => new Int16Array(b),
  '<i4': (b) => new Int32Array(b),
  '<i8': (b) => Array.from(new BigInt64Array(b), Number),
};

/** Reads CASE_segFromPrevStage.npz (key "data", any small integer dtype) as uint8 labels. */
export function readSegFromPrevStage(path: string): { data: Uint8Array; shape: number[] } {
  const raw = readNpzRaw(path).get('data');
  const bad = (why: string): never => {
    throw new NnunetError(
      'ERR_DATASET',
      `${path} ${why}: delete it and rerun the 3d_lowres prediction for the next stage (nnUNet_train 3d_lowres ... -val).`,
    );
  };
  if (raw === undefined) return bad('has no "data" array');
  const { descr, shape, dataOffset } = parseNpyHeader(raw, path);
  const make = INTEGER_DESCR[descr];
  if (make === undefined) return bad(`holds an unsupported array (${descr})`);
  const n = product(shape);
  const bytes = raw.subarray(dataOffset);
  const width = descr === '<i8' ? 8 : descr.endsWith('4') ? 4 : descr.endsWith('2') ? 2 : 1;
  if (bytes.length < n * width) return bad('is truncated');
  const aligned = new ArrayBuffer(n * width);
  new Uint8Array(aligned).set(bytes.subarray(0, n * width));
  const values = make(aligned);
  const data = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const v = values[i] as number;
    if (v < 0 || v > 255) bad(`holds label ${v}, outside 0..255`);
    data[i] = v;
  }
  return { data, shape };
}

/** An unpacked previous-stage segmentation: a uint8 .npy and where its values start. */
export interface UnpackedPrevStage {
  file: string;
  dataOffset: number;
  shape: number[];
}

/**
 * The .npy beside CASE_segFromPrevStage.npz, written (atomically) when missing or not newer than
 * the .npz, so training reads patches from it without decompressing.
 */
export function unpackSegFromPrevStage(npzPath: string): UnpackedPrevStage {
  const npy = `${npzPath.replace(/\.npz$/, '')}.npy`;
  // Strictly newer: file times tick coarsely (a few ms), so an .npz rewritten in the same tick as
  // the unpacking must count as changed.
  const fresh = existsSync(npy) && existsSync(npzPath) && statSync(npy).mtimeMs > statSync(npzPath).mtimeMs;
  if (!fresh) {
    const { data, shape } = readSegFromPrevStage(npzPath);
    writeNpy(npy, data as NpyArray, shape);
  }
  const header = readNpyHeader(npy);
  if (header.descr !== '|u1')
    throw new NnunetError('ERR_DATASET', `${npy} is not a uint8 array: delete it, it is recreated from ${npzPath}.`);
  return { file: npy, dataOffset: header.dataOffset, shape: header.shape };
}
