/**
 * --verify_dataset_integrity: every check nnU-Net v1 makes on a raw task, plus a few more, with
 * all problems collected and reported together. Each problem names the case, the file and a fix.
 */
import { existsSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { NnunetError } from '../errors.js';
import { runPool } from '../util/worker-pool.js';
import { caseIdOf, type DatasetJson, readDatasetJson } from './dataset-json.js';
import { type ImageGeometry, readImage, type Volume } from './image.js';
import { resolveNifti } from './nifti-path.js';

export interface CaseCheck {
  id: string;
  images: string[];
  label: string | null;
  /** Allowed label values (training cases only). */
  labels: number[];
}

export interface VerifyReport {
  problems: string[];
  warnings: string[];
}

/** np.isclose with its defaults (rtol 1e-5, atol 1e-8), elementwise, as v1 compares geometry. */
function allClose(a: readonly number[], b: readonly number[]): boolean {
  return (
    a.length === b.length && a.every((v, i) => Math.abs(v - (b[i] as number)) <= 1e-8 + 1e-5 * Math.abs(b[i] as number))
  );
}

/** Differences between two geometries, as readable phrases (empty when they agree). */
export function geometryDifferences(a: Volume, b: Volume): string[] {
  const out: string[] = [];
  const ga: ImageGeometry = a.geometry;
  const gb: ImageGeometry = b.geometry;
  if (a.shape.join() !== b.shape.join()) out.push(`size [${[...a.shape].reverse()}] vs [${[...b.shape].reverse()}]`);
  if (!allClose(ga.spacing, gb.spacing)) out.push(`spacing [${ga.spacing}] vs [${gb.spacing}]`);
  if (!allClose(ga.origin, gb.origin)) out.push(`origin [${ga.origin}] vs [${gb.origin}]`);
  if (!allClose(ga.direction, gb.direction))
    out.push(`direction [${ga.direction.map((v) => v.toFixed(4))}] vs [${gb.direction.map((v) => v.toFixed(4))}]`);
  return out;
}

function nonFiniteCount(v: Volume): number {
  const d = v.data;
  if (!(d instanceof Float32Array || d instanceof Float64Array)) return 0;
  let n = 0;
  for (let i = 0; i < d.length; i++) if (!Number.isFinite(d[i] as number)) n++;
  return n;
}

/**
 * Axis codes of a 3-D image in RAS terms, as nibabel's aff2axcodes gives them (e.g. "RAS", "LPS"):
 * for each array axis (x, y, z), the world axis its direction points along most.
 */
export function axisCodes(direction: readonly number[]): string {
  const letters = [
    ['L', 'R'],
    ['P', 'A'],
    ['I', 'S'],
  ];
  let out = '';
  for (let j = 0; j < 3; j++) {
    // ITK directions are LPS; RAS flips the first two world axes.
    const col = [0, 1, 2].map((i) => (i < 2 ? -1 : 1) * (direction[i * 3 + j] as number));
    let best = 0;
    for (let i = 1; i < 3; i++) if (Math.abs(col[i] as number) > Math.abs(col[best] as number)) best = i;
    out += (letters[best] as string[])[(col[best] as number) > 0 ? 1 : 0];
  }
  return out;
}

export interface CaseReport {
  problems: string[];
  /** Axis codes of the first image, when it could be read. */
  orientation?: string;
}

/** Checks one case's files (run in worker threads by verifyDatasetIntegrity). */
export async function checkCase(c: CaseCheck): Promise<CaseReport> {
  const problems: string[] = [];
  const images: (Volume | null)[] = [];
  for (const f of c.images) {
    try {
      const v = await readImage(f);
      if (v.shape.length !== 3)
        problems.push(
          `case ${c.id}: ${f} is ${v.shape.length}-D; nnU-Net needs one 3-D file per modality (split 4-D images with nnUNet_convert_decathlon_task).`,
        );
      const bad = nonFiniteCount(v);
      if (bad > 0)
        problems.push(
          `case ${c.id}: ${f} contains ${bad} NaN or infinite voxels; replace them (e.g. with 0) before training.`,
        );
      images.push(v);
    } catch (e) {
      problems.push(`case ${c.id}: ${(e as Error).message}`);
      images.push(null);
    }
  }
  const ref = images[0];
  images.forEach((v, m) => {
    if (m === 0 || v === null || ref === null || ref === undefined) return;
    const diff = geometryDifferences(v, ref);
    if (diff.length > 0) {
      problems.push(
        `case ${c.id}: ${c.images[m]} and ${c.images[0]} differ in ${diff.join('; ')}; co-register the modalities so they share one voxel grid.`,
      );
    }
  });
  if (c.label !== null) {
    try {
      const seg = await readImage(c.label);
      if (nonFiniteCount(seg) > 0)
        problems.push(
          `case ${c.id}: ${c.label} contains NaN or infinite values; labels must be integers listed in dataset.json.`,
        );
      if (ref) {
        const diff = geometryDifferences(seg, ref);
        if (diff.length > 0) {
          problems.push(
            `case ${c.id}: label ${c.label} and image ${c.images[0]} differ in ${diff.join('; ')}; resample the label onto the image grid (or fix its header).`,
          );
        }
      }
      const allowed = new Set(c.labels);
      const unexpected = new Set<number>();
      const d = seg.data as ArrayLike<number | bigint>;
      for (let i = 0; i < d.length; i++) {
        const v = Number(d[i]);
        if (!allowed.has(v)) unexpected.add(v);
      }
      if (unexpected.size > 0) {
        const vals = [...unexpected].sort((a, b) => a - b).slice(0, 10);
        problems.push(
          `case ${c.id}: ${c.label} contains label values ${vals.join(', ')} that dataset.json does not list (it lists ${c.labels.join(', ')}); fix the label file or add them to "labels".`,
        );
      }
    } catch (e) {
      problems.push(`case ${c.id}: ${(e as Error).message}`);
    }
  }
  const report: CaseReport = { problems };
  if (ref && ref.shape.length === 3) report.orientation = axisCodes(ref.geometry.direction);
  return report;
}

function modalityFile(dir: string, id: string, m: number): string {
  return resolveNifti(join(dir, `${id}_${String(m).padStart(4, '0')}.nii.gz`));
}

/** Files present in `dir` that no case accounts for. */
function unlisted(dir: string, expected: Set<string>): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter(
    (f) => !f.startsWith('.') && (f.endsWith('.nii.gz') || f.endsWith('.nii')) && !expected.has(f),
  );
}

export interface VerifyOptions {
  workers?: number;
  onProgress?: (done: number, total: number) => void;
}

/**
 * Verifies a raw task folder (imagesTr/, labelsTr/, imagesTs/, dataset.json). Throws one
 * NnunetError('ERR_DATASET') listing every problem found; returns warnings otherwise.
 */
export async function verifyDatasetIntegrity(folder: string, options: VerifyOptions = {}): Promise<VerifyReport> {
  const dataset: DatasetJson = readDatasetJson(join(folder, 'dataset.json'));
  const problems: string[] = [];
  const warnings: string[] = [];
  for (const sub of ['imagesTr', 'labelsTr']) {
    if (!existsSync(join(folder, sub)))
      problems.push(
        `${join(folder, sub)} does not exist: a raw task needs imagesTr/ and labelsTr/ beside dataset.json.`,
      );
  }
  const labels = [...dataset.labels.keys()];
  const jobs: CaseCheck[] = [];
  const expectedTr = new Set<string>();
  const expectedLabels = new Set<string>();
  const nMod = dataset.modalities.length;
  for (const t of dataset.training) {
    const id = caseIdOf(t.image);
    const images = Array.from({ length: nMod }, (_, m) => modalityFile(join(folder, 'imagesTr'), id, m));
    const label = resolveNifti(join(folder, 'labelsTr', `${id}.nii.gz`));
    for (const f of images) expectedTr.add(basename(f));
    expectedLabels.add(basename(label));
    const missing = [...images, label].filter((f) => !existsSync(f));
    if (missing.length > 0) {
      problems.push(
        `case ${id}: missing ${missing.join(', ')}; every training case needs ${nMod} image file(s) named ${id}_XXXX.nii.gz and a label ${id}.nii.gz.`,
      );
      continue;
    }
    jobs.push({ id, images, label, labels });
  }
  const expectedTs = new Set<string>();
  for (const t of dataset.test) {
    const id = caseIdOf(t);
    const images = Array.from({ length: nMod }, (_, m) => modalityFile(join(folder, 'imagesTs'), id, m));
    for (const f of images) expectedTs.add(basename(f));
    const missing = images.filter((f) => !existsSync(f));
    if (missing.length > 0) {
      problems.push(`test case ${id}: missing ${missing.join(', ')}; every test case needs ${nMod} image file(s).`);
      continue;
    }
    jobs.push({ id, images, label: null, labels });
  }
  for (const [dir, expected] of [
    ['imagesTr', expectedTr],
    ['labelsTr', expectedLabels],
    ['imagesTs', expectedTs],
  ] as const) {
    const extra = unlisted(join(folder, dir), expected);
    if (extra.length > 0) {
      problems.push(
        `${join(folder, dir)} holds ${extra.length} file(s) that dataset.json does not account for (${extra.slice(0, 5).join(', ')}${extra.length > 5 ? ', ...' : ''}); list them in dataset.json, fix their names (CASE_XXXX.nii.gz with one file per declared modality), or remove them.`,
      );
    }
  }
  const perCase = await runPool<CaseCheck, CaseReport>(new URL('./verify-worker.js', import.meta.url), jobs, options);
  for (const p of perCase) problems.push(...p.problems);
  const orientations = new Map<string, number>();
  for (const p of perCase)
    if (p.orientation) orientations.set(p.orientation, (orientations.get(p.orientation) ?? 0) + 1);
  if (orientations.size > 1) {
    const list = [...orientations].map(([o, n]) => `${o} (${n} cases)`).join(', ');
    warnings.push(
      `The images do not all share one axis order: ${list}. nnU-Net works better when they do; reorient them (e.g. with fslreorient2std).`,
    );
  }
  if (problems.length > 0) {
    throw new NnunetError(
      'ERR_DATASET',
      `${folder} failed the integrity check with ${problems.length} problem(s):\n  - ${problems.join('\n  - ')}`,
    );
  }
  return { problems, warnings };
}
