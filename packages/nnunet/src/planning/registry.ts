/**
 * Planners by nnU-Net v1 class name, as -pl3d / -pl2d name them. A variant is a small subclass of
 * a registered planner (override a constant or a method) registered under its own name.
 */
import { NnunetError } from '../errors.js';
import type { ExperimentPlanner } from './experiment-planner.js';
import { Planner2DV21 } from './planner-2d.js';
import { Planner3DV21 } from './planner-3d.js';

const PLANNERS = new Map<string, () => ExperimentPlanner>([
  ['ExperimentPlanner3D_v21', () => new Planner3DV21()],
  ['ExperimentPlanner2D_v21', () => new Planner2DV21()],
]);

/** Registers a planner under v1-style class `name` (replacing one of that name). */
export function registerPlanner(name: string, create: () => ExperimentPlanner): void {
  PLANNERS.set(name, create);
}

/** The registered planner names, sorted. */
export function knownPlanners(): string[] {
  return [...PLANNERS.keys()].sort();
}

/** A new planner of class `name`; an unknown name is an ERR_ARGUMENT naming the known ones. */
export function getPlanner(name: string): ExperimentPlanner {
  const create = PLANNERS.get(name);
  if (create === undefined) {
    throw new NnunetError(
      'ERR_ARGUMENT',
      `Unknown experiment planner ${JSON.stringify(name)}: use one of ${knownPlanners().join(', ')}.`,
    );
  }
  return create();
}
