/**
 * nnU-Net v1's folders, from the same environment variables:
 *   nnUNet_raw_data_base -> <base>/nnUNet_raw_data (raw tasks) and <base>/nnUNet_cropped_data
 *   nnUNet_preprocessed  -> plans and preprocessed data
 *   RESULTS_FOLDER       -> <results>/nnUNet (trained models)
 * Nothing here creates folders; commands that write create what they write into.
 */
import { type Dirent, existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { NnunetError } from '../errors.js';
import { CONFIGURATIONS } from './configuration.js';

export const ENV_RAW_BASE = 'nnUNet_raw_data_base';
export const ENV_PREPROCESSED = 'nnUNet_preprocessed';
export const ENV_RESULTS = 'RESULTS_FOLDER';
/** The sub-folder of RESULTS_FOLDER v1 writes its models to (v1's `my_output_identifier`). */
export const RESULTS_SUBFOLDER = 'nnUNet';

export interface NnunetPaths {
  rawDataBase?: string;
  rawData?: string;
  croppedData?: string;
  preprocessed?: string;
  results?: string;
  /** RESULTS_FOLDER/nnUNet */
  trainedModels?: string;
}

export type Env = Readonly<Record<string, string | undefined>>;

/** The folders defined by the environment (undefined where the variable is unset or empty). */
export function resolvePaths(env: Env = process.env): NnunetPaths {
  const out: NnunetPaths = {};
  const base = env[ENV_RAW_BASE];
  if (base) {
    out.rawDataBase = base;
    out.rawData = join(base, 'nnUNet_raw_data');
    out.croppedData = join(base, 'nnUNet_cropped_data');
  }
  const pre = env[ENV_PREPROCESSED];
  if (pre) out.preprocessed = pre;
  const res = env[ENV_RESULTS];
  if (res) {
    out.results = res;
    out.trainedModels = join(res, RESULTS_SUBFOLDER);
  }
  return out;
}

const PURPOSE: Record<string, string> = {
  [ENV_RAW_BASE]: 'the folder holding nnUNet_raw_data and nnUNet_cropped_data',
  [ENV_PREPROCESSED]: 'the folder for plans and preprocessed data',
  [ENV_RESULTS]: 'the folder for trained models',
};

/**
 * The value of a required variable; throws one sentence naming it and how to set it when it is
 * unset or points to something that is not a folder.
 */
export function requireEnvFolder(
  name: typeof ENV_RAW_BASE | typeof ENV_PREPROCESSED | typeof ENV_RESULTS,
  env: Env = process.env,
): string {
  const v = env[name];
  if (!v) {
    throw new NnunetError(
      'ERR_ENV',
      `The environment variable ${name} is not set: set it to ${PURPOSE[name]}, e.g. \`export ${name}=/data/nnUNet/${name === ENV_RESULTS ? 'results' : name}\`.`,
    );
  }
  if (existsSync(v) && !statSync(v).isDirectory()) {
    throw new NnunetError('ERR_ENV', `${name}=${v} is a file, not a folder: point ${name} to ${PURPOSE[name]}.`);
  }
  return v;
}

/** "Task004_Hippocampus" -> 4; undefined when the name does not follow TaskXXX_NAME. */
export function taskIdOf(name: string): number | undefined {
  const m = /^Task(\d{3})_.+/.exec(name);
  return m ? Number(m[1]) : undefined;
}

function subdirs(dir: string | undefined, prefix: string): string[] {
  if (dir === undefined || !existsSync(dir)) return [];
  // Task folders are often symbolic links to shared storage on clusters: follow them.
  const isFolder = (d: Dirent) =>
    d.isDirectory() ||
    (d.isSymbolicLink() && existsSync(join(dir, d.name)) && statSync(join(dir, d.name)).isDirectory());
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.name.startsWith(prefix) && isFolder(d))
    .map((d) => d.name);
}

/**
 * The full task name (TaskXXX_NAME) for an id given as 4, "4", "004" or a full name, found among
 * the raw, cropped, preprocessed and trained-model folders like v1 does. Fails when no folder or
 * more than one distinct name has that id.
 */
export function resolveTaskName(task: string | number, env: Env = process.env): string {
  const p = resolvePaths(env);
  let id: number;
  if (typeof task === 'number' || /^\d+$/.test(task)) {
    id = Number(task);
  } else {
    const fromName = taskIdOf(task);
    if (fromName === undefined) {
      throw new NnunetError(
        'ERR_ARGUMENT',
        `"${task}" is not a task: give its id (4, 004) or its full name (Task004_Hippocampus).`,
      );
    }
    id = fromName;
  }
  const prefix = `Task${String(id).padStart(3, '0')}_`;
  const candidates = new Set<string>([
    ...subdirs(p.rawData, prefix),
    ...subdirs(p.croppedData, prefix),
    ...subdirs(p.preprocessed, prefix),
    ...CONFIGURATIONS.flatMap((c) => subdirs(p.trainedModels && join(p.trainedModels, c), prefix)),
  ]);
  if (typeof task === 'string' && !/^\d+$/.test(task) && candidates.size === 0) return task;
  if (candidates.size === 1) return [...candidates][0] as string;
  const where = `${ENV_RAW_BASE}=${env[ENV_RAW_BASE] ?? '(unset)'}, ${ENV_PREPROCESSED}=${env[ENV_PREPROCESSED] ?? '(unset)'}, ${ENV_RESULTS}=${env[ENV_RESULTS] ?? '(unset)'}`;
  if (candidates.size === 0) {
    throw new NnunetError(
      'ERR_NOT_FOUND',
      `No task with id ${id} (${prefix}*) was found under ${where}: check the id or the environment variables.`,
    );
  }
  throw new NnunetError(
    'ERR_NOT_FOUND',
    `Task id ${id} matches several folders (${[...candidates].sort().join(', ')}) under ${where}: rename or remove all but one.`,
  );
}
