/**
 * nnU-Net v2's folders, from its environment variables: nnUNet_raw (DatasetXXX_NAME raw datasets),
 * nnUNet_preprocessed and nnUNet_results (each with DatasetXXX_NAME folders). The names of datasets
 * and how an id finds its name, as v2 does it. Nothing here creates folders.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { NnunetError } from '../errors.js';
import type { Env } from './paths.js';

export const ENV_V2_RAW = 'nnUNet_raw';
export const ENV_V2_PREPROCESSED = 'nnUNet_preprocessed';
export const ENV_V2_RESULTS = 'nnUNet_results';

const PURPOSE = {
  [ENV_V2_RAW]: 'the folder of the raw datasets (DatasetXXX_NAME)',
  [ENV_V2_PREPROCESSED]: 'the folder for plans and preprocessed data',
  [ENV_V2_RESULTS]: 'the folder for trained models',
} as const;

/** The value of a required v2 folder variable, or one sentence saying how to set it. */
export function requireV2Folder(name: keyof typeof PURPOSE, env: Env = process.env): string {
  const v = env[name];
  if (!v)
    throw new NnunetError(
      'ERR_ENV',
      `The environment variable ${name} is not set: set it to ${PURPOSE[name]}, e.g. \`export ${name}=/data/${name}\`.`,
    );
  if (existsSync(v) && !statSync(v).isDirectory())
    throw new NnunetError('ERR_ENV', `${name}=${v} is a file, not a folder: point ${name} to ${PURPOSE[name]}.`);
  return v;
}

/** "Dataset004_Hippocampus" for (4, "Hippocampus"). */
export function datasetName(id: number, name: string): string {
  if (!Number.isInteger(id) || id < 1 || id > 999)
    throw new NnunetError('ERR_ARGUMENT', `Dataset id ${id} is out of range: use an integer from 1 to 999.`);
  return `Dataset${String(id).padStart(3, '0')}_${name}`;
}

/** The id of "DatasetXXX_NAME", or undefined when the name does not follow that pattern. */
export function datasetIdOf(name: string): number | undefined {
  const m = /^Dataset(\d{3})_.+$/.exec(name);
  return m ? Number(m[1]) : undefined;
}

/** Every DatasetXXX_* folder with this id under nnUNet_raw, nnUNet_preprocessed and nnUNet_results (distinct names). */
export function datasetsWithId(id: number, env: Env = process.env): string[] {
  const prefix = `Dataset${String(id).padStart(3, '0')}_`;
  const names = new Set<string>();
  for (const v of [ENV_V2_RAW, ENV_V2_PREPROCESSED, ENV_V2_RESULTS]) {
    const dir = env[v];
    if (!dir || !existsSync(dir)) continue;
    for (const d of readdirSync(dir)) if (d.startsWith(prefix) && statSync(join(dir, d)).isDirectory()) names.add(d);
  }
  return [...names].sort();
}
