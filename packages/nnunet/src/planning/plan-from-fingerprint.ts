/**
 * The planning step as library functions: plans from an existing fingerprint
 * (dataset_properties.json) without touching any image, and the plans file written atomically
 * into $nnUNet_preprocessed/TASK under v1's name (nnUNetPlansv2.1_plans_3D.json / _2D.json).
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { NnunetError } from '../errors.js';
import { croppedCaseIds } from '../fingerprint/analyze.js';
import type { Plans } from '../model/plans.js';
import type { DatasetProperties } from '../model/properties.js';
import { writeJsonAtomic } from '../util/atomic.js';
import { getPlanner } from './registry.js';

export interface PlanFromFingerprintOptions {
  /** The cropped-data folder ($nnUNet_raw_data_base/nnUNet_cropped_data/TASK). */
  croppedFolder: string;
  /** The task's preprocessed folder ($nnUNet_preprocessed/TASK). */
  preprocessedFolder: string;
  /** The cropped cases; default: the fingerprint's cases (the keys of size_reductions). */
  caseIds?: readonly string[];
}

/**
 * Plans of planner `plannerName` (v1 class name, e.g. "ExperimentPlanner3D_v21") for a dataset
 * fingerprint, in v1's plans structure. Pure: reads and writes nothing.
 */
export function planFromFingerprint(
  plannerName: string,
  fingerprint: DatasetProperties,
  options: PlanFromFingerprintOptions,
): Plans {
  return getPlanner(plannerName).plan({
    fingerprint,
    caseIds: options.caseIds ?? Object.keys(fingerprint.size_reductions),
    croppedFolder: options.croppedFolder,
    preprocessedFolder: options.preprocessedFolder,
  });
}

/** The file name planner `plannerName` writes its plans to. */
export function plansFileName(plannerName: string): string {
  return getPlanner(plannerName).plansFileName;
}

/** Writes `plans` atomically as `folder/<plansFileName(plannerName)>`; returns the path. */
export function writePlans(plans: Plans, folder: string, plannerName: string): string {
  const path = join(folder, plansFileName(plannerName));
  mkdirSync(folder, { recursive: true });
  writeJsonAtomic(path, plans);
  return path;
}

/**
 * v1's plan_experiment for one task: reads croppedFolder/dataset_properties.json, takes the cases
 * from the cropped files there, plans and writes the plans file into `preprocessedFolder`.
 */
export function planTask(
  plannerName: string,
  croppedFolder: string,
  preprocessedFolder: string,
): { plans: Plans; path: string } {
  const fingerprintPath = join(croppedFolder, 'dataset_properties.json');
  if (!existsSync(fingerprintPath)) {
    throw new NnunetError(
      'ERR_NOT_FOUND',
      `${fingerprintPath} does not exist: crop and fingerprint the task first (nnUNet_plan_and_preprocess does both).`,
    );
  }
  const fingerprint = JSON.parse(readFileSync(fingerprintPath, 'utf8')) as DatasetProperties;
  const plans = planFromFingerprint(plannerName, fingerprint, {
    croppedFolder,
    preprocessedFolder,
    caseIds: croppedCaseIds(croppedFolder),
  });
  return { plans, path: writePlans(plans, preprocessedFolder, plannerName) };
}
