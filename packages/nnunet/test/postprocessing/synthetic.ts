/** Small synthetic label volumes for the postprocessing, ensembling and model-selection tests. */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { aggregateScores } from '../../src/evaluation/evaluator.js';
import { type Volume, writeImage } from '../../src/io/image.js';

/** A box [z0, z1) x [y0, y1) x [x0, x1) painted with `label`. */
export interface Box {
  label: number;
  z: [number, number];
  y: [number, number];
  x: [number, number];
}

export const SHAPE = [4, 8, 8] as const;
/** (x, y, z) spacing in mm: one voxel is 2 mm³. */
export const SPACING = [1, 1, 2] as const;

/** A (z, y, x) label array of `shape` with the boxes painted in order. */
export function paint(boxes: readonly Box[], shape: readonly number[] = SHAPE): Uint8Array {
  const [Z, Y, X] = shape as [number, number, number];
  const out = new Uint8Array(Z * Y * X);
  for (const b of boxes) {
    for (let z = b.z[0]; z < b.z[1]; z++)
      for (let y = b.y[0]; y < b.y[1]; y++) for (let x = b.x[0]; x < b.x[1]; x++) out[(z * Y + y) * X + x] = b.label;
  }
  return out;
}

export function labelVolume(data: Uint8Array, shape: readonly number[] = SHAPE, spacing = SPACING): Volume {
  return {
    data,
    shape: [...shape],
    dtype: 'uint8',
    geometry: { spacing: [...spacing], origin: [0, 0, 0], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] },
  };
}

/** Writes `folder/<name>.nii.gz` for each entry. */
export async function writeCases(folder: string, cases: Readonly<Record<string, Uint8Array>>): Promise<void> {
  mkdirSync(folder, { recursive: true });
  for (const [name, data] of Object.entries(cases)) await writeImage(labelVolume(data), join(folder, `${name}.nii.gz`));
}

/** Scores `predFolder` against `gtFolder` for `names` into predFolder/summary.json, as the validation does. */
export async function writeSummary(
  predFolder: string,
  gtFolder: string,
  names: readonly string[],
  labels: readonly number[],
): Promise<void> {
  await aggregateScores(
    names.map((n) => ({ test: join(predFolder, `${n}.nii.gz`), reference: join(gtFolder, `${n}.nii.gz`) })),
    labels,
    { workers: 1, jsonOutputFile: join(predFolder, 'summary.json') },
  );
}

/** v1's Dice of one case: 2 TP / (2 TP + FP + FN). */
export function dice(tp: number, fp: number, fn: number): number {
  return (2 * tp) / (2 * tp + fp + fn);
}

/** Class 1 (18 voxels) touching class 2 (12 voxels): one foreground component of 30 voxels. */
export const ORGAN_BOXES: readonly Box[] = [
  { label: 1, z: [0, 2], y: [0, 3], x: [0, 3] },
  { label: 2, z: [0, 2], y: [0, 3], x: [3, 5] },
];

/** A separate 4-voxel blob of `label` in the far corner (z 3, y 6-7) at x 0-1, or x 6-7 when `right`. */
export function blobBox(label: number, right = false): Box {
  return { label, z: [3, 4], y: [6, 8], x: right ? [6, 8] : [0, 2] };
}
