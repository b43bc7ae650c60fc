/**
 * Preprocessing of cropped cases for one plans stage (v1's GenericPreprocessor and
 * PreprocessorFor2D): transpose, resample to the stage's spacing (third-order splines for images,
 * per-label linear for the segmentation, the separate-z rule for anisotropic data), normalise,
 * and sample foreground class locations. Output per case: CASE.npy ((C + 1, z, y, x) float32,
 * channels then segmentation) and CASE.json (the cropped properties plus size_after_resampling,
 * spacing_after_resampling and class_locations).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { croppedCaseIds, readCroppedProperties } from '../fingerprint/analyze.js';
import { readNpy, writeNpy } from '../io/npy.js';
import type { Plans } from '../model/plans.js';
import type { CroppedProperties } from '../model/properties.js';
import { removeStaleTemporaries, writeJsonAtomic } from '../util/atomic.js';
import { product } from '../util/shape.js';
import { runPool } from '../util/worker-pool.js';
import { sampleClassLocations } from './class-locations.js';
import { markStageComplete, markStageStarted, type StageStatus } from './completion.js';
import { type CtIntensities, normalizeChannel } from './normalize.js';
import { resamplePatient } from './resample.js';

/** Which v1 preprocessor: the 2-D one keeps each case's own spacing along the first (slice) axis. */
export type PreprocessorKind = 'GenericPreprocessor' | 'PreprocessorFor2D';

export interface CaseJob {
  croppedFolder: string;
  id: string;
  outFolder: string;
  preprocessor: PreprocessorKind;
  /** Target spacing of the stage, (z, y, x) after transpose_forward. */
  targetSpacing: number[];
  transposeForward: number[];
  /** Per modality: 'CT', 'nonCT' or 'noNorm'. */
  schemes: string[];
  useMaskForNorm: boolean[];
  /** Per modality index (string), the fingerprint's foreground statistics (CT only). */
  intensities: Record<string, CtIntensities> | null;
  allClasses: number[];
  forceSeparateZ?: boolean | null;
}

/** Permutes the spatial axes of a (C, a, b, c) array: new axis k is old axis perm[k]. */
export function transposeSpatial(
  data: Float32Array,
  shape: readonly number[],
  perm: readonly number[],
): { data: Float32Array; shape: number[] } {
  if (perm[0] === 0 && perm[1] === 1 && perm[2] === 2) return { data, shape: [...shape] };
  const [C, ...sp] = shape as [number, number, number, number];
  const newSp = perm.map((p) => sp[p] as number);
  const oldStrides = [sp[1]! * sp[2]!, sp[2]!, 1];
  const s = perm.map((p) => oldStrides[p] as number);
  const n = sp[0]! * sp[1]! * sp[2]!;
  const out = new Float32Array(data.length);
  for (let c = 0; c < C; c++) {
    let o = c * n;
    for (let i = 0; i < newSp[0]!; i++)
      for (let j = 0; j < newSp[1]!; j++)
        for (let k = 0; k < newSp[2]!; k++) out[o++] = data[c * n + i * s[0]! + j * s[1]! + k * s[2]!] as number;
  }
  return { data: out, shape: [C, ...newSp] };
}

/** The settings of one preprocessing run, shared by all cases (everything of CaseJob but the files). */
export type PreprocessSettings = Omit<CaseJob, 'croppedFolder' | 'id' | 'outFolder'>;

export interface PreprocessedCase {
  /** (C + 1, z, y, x): channels then segmentation. */
  data: Float32Array;
  shape: number[];
  properties: CroppedProperties & { size_after_resampling: number[]; spacing_after_resampling: number[] };
}

/**
 * Transposes, resamples and normalises one cropped case held in memory ((C + 1, z, y, x), the last
 * channel the segmentation, -1 outside the nonzero mask). Used for training data and, with an
 * all-zero segmentation, for test cases (v1's preprocess_test_case).
 */
export function preprocessArrays(
  all: Float32Array,
  allShape: readonly number[],
  props: CroppedProperties,
  s: PreprocessSettings,
): PreprocessedCase {
  const t = transposeSpatial(all, allShape, s.transposeForward);
  const C = (t.shape[0] as number) - 1;
  const spatial = t.shape.slice(1);
  const n = product(spatial);
  const data = t.data.subarray(0, C * n);
  const seg = t.data.subarray(C * n);
  const originalSpacing = s.transposeForward.map((p) => props.original_spacing[p] as number);
  const target = [...s.targetSpacing];
  if (s.preprocessor === 'PreprocessorFor2D') {
    target[0] = originalSpacing[0] as number;
  } else {
    for (let i = 0; i < data.length; i++) if (Number.isNaN(data[i] as number)) data[i] = 0;
  }
  const r = resamplePatient(data, [C, ...spatial], seg, originalSpacing, target, {
    orderData: 3,
    orderSeg: 1,
    forceSeparateZ: s.forceSeparateZ ?? null,
    orderZData: 0,
    orderZSeg: 0,
    separateZAnisotropyThreshold: 3,
  });
  const newShape = r.shape;
  const m = product(newShape);
  const out = new Float32Array((C + 1) * m);
  out.set(r.data as Float32Array, 0);
  const newSeg = out.subarray(C * m);
  newSeg.set(r.seg as Float32Array);
  for (let i = 0; i < m; i++) if ((newSeg[i] as number) < -1) newSeg[i] = 0;
  for (let c = 0; c < C; c++) {
    normalizeChannel(
      out.subarray(c * m, (c + 1) * m),
      newSeg,
      s.schemes[c] as string,
      s.useMaskForNorm[c] === true,
      s.intensities?.[String(c)] ?? null,
    );
  }
  return {
    data: out,
    shape: [C + 1, ...newShape],
    properties: { ...props, size_after_resampling: newShape, spacing_after_resampling: target },
  };
}

export async function preprocessCase(job: CaseJob): Promise<void> {
  const props = readCroppedProperties(job.croppedFolder, job.id);
  const { data: all, shape: allShape } = readNpy(join(job.croppedFolder, `${job.id}.npy`));
  const r = preprocessArrays(all as Float32Array, allShape, props, job);
  const C = (r.shape[0] as number) - 1;
  const spatial = r.shape.slice(1);
  const m = product(spatial);
  const classLocations = sampleClassLocations(r.data.subarray(C * m), spatial, job.allClasses);
  writeNpy(join(job.outFolder, `${job.id}.npy`), r.data, r.shape);
  writeJsonAtomic(join(job.outFolder, `${job.id}.json`), { ...r.properties, class_locations: classLocations });
}

/** The preprocessing settings a plans file prescribes for one stage (shared by training data and test cases). */
export function settingsFromPlans(
  plans: Pick<
    Plans,
    | 'preprocessor_name'
    | 'transpose_forward'
    | 'modalities'
    | 'normalization_schemes'
    | 'use_mask_for_norm'
    | 'dataset_properties'
    | 'all_classes'
  >,
  targetSpacing: readonly number[],
): PreprocessSettings {
  const modalities = Object.keys(plans.modalities).length;
  return {
    preprocessor: plans.preprocessor_name as PreprocessorKind,
    targetSpacing: [...targetSpacing],
    transposeForward: plans.transpose_forward,
    schemes: Array.from({ length: modalities }, (_, m) => plans.normalization_schemes[String(m)] as string),
    useMaskForNorm: Array.from({ length: modalities }, (_, m) => plans.use_mask_for_norm[String(m)] === true),
    intensities: plans.dataset_properties.intensityproperties as Record<string, CtIntensities> | null,
    allClasses: plans.all_classes,
  };
}

export interface StageRun {
  /** Folder for this stage, e.g. $nnUNet_preprocessed/TASK/nnUNetData_plans_v2.1_stage0. */
  outFolder: string;
  targetSpacing: number[];
  workers: number;
}

export interface PreprocessOptions {
  preprocessor: PreprocessorKind;
  transposeForward: number[];
  schemes: string[];
  useMaskForNorm: boolean[];
  intensities: Record<string, CtIntensities> | null;
  allClasses: number[];
  forceSeparateZ?: boolean | null;
  onProgress?: (stage: number, done: number, total: number) => void;
}

/**
 * Preprocesses every cropped case for each stage, in worker threads. Each stage folder's record
 * (completion.ts) says "in progress" until all its cases are written and then lists them, so a run
 * that fails or is killed half-way never leaves a stage that looks complete.
 */
export async function preprocessStages(
  croppedFolder: string,
  stages: readonly StageRun[],
  o: PreprocessOptions,
): Promise<void> {
  const ids = croppedCaseIds(croppedFolder);
  // Every stage is "in progress" from here until its own cases are all written (see completion.ts):
  // a run stopped during the first stage leaves no later stage looking complete either.
  const started = stages.map((stage) => {
    mkdirSync(stage.outFolder, { recursive: true });
    // Every case is redone (nothing is skipped); what a killed earlier run left half-written goes.
    removeStaleTemporaries(stage.outFolder);
    return markStageStarted(stage.outFolder, ids);
  });
  for (const [s, stage] of stages.entries()) {
    const jobs: CaseJob[] = ids.map((id) => ({
      croppedFolder,
      id,
      outFolder: stage.outFolder,
      preprocessor: o.preprocessor,
      targetSpacing: stage.targetSpacing,
      transposeForward: o.transposeForward,
      schemes: o.schemes,
      useMaskForNorm: o.useMaskForNorm,
      intensities: o.intensities,
      allClasses: o.allClasses,
      ...(o.forceSeparateZ !== undefined ? { forceSeparateZ: o.forceSeparateZ } : {}),
    }));
    await runPool<CaseJob, void>(new URL('./preprocess-worker.js', import.meta.url), jobs, {
      workers: stage.workers,
      onProgress: (d, t) => o.onProgress?.(s, d, t),
    });
    markStageComplete(stage.outFolder, started[s] as StageStatus);
  }
}
