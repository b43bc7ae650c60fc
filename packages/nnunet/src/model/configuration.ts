/**
 * The words every stage shares for what is trained: a configuration (one of nnU-Net v1's four) and a
 * fold (a cross-validation fold index, or 'all'), with the parsers commands and library calls use.
 */
import { NnunetError } from '../errors.js';

export const CONFIGURATIONS = ['2d', '3d_lowres', '3d_fullres', '3d_cascade_fullres'] as const;
export type Configuration = (typeof CONFIGURATIONS)[number];

export function isConfiguration(text: string): text is Configuration {
  return (CONFIGURATIONS as readonly string[]).includes(text);
}

/** `text` as a Configuration; otherwise one sentence naming `what` (e.g. "-m") and the choices. */
export function parseConfiguration(text: string, what = 'the configuration'): Configuration {
  if (isConfiguration(text)) return text;
  throw new NnunetError('ERR_ARGUMENT', `${what} must be one of ${CONFIGURATIONS.join(', ')}, got "${text}".`);
}

/** A fold index, or 'all' (train on every case and validate on the same cases). */
export type Fold = number | 'all';

/** Parses a fold as v1's nnUNet_train does: 'all' or a non-negative integer (numbers pass through checked). */
export function parseFold(value: string | number): Fold {
  const text = String(value);
  if (text === 'all') return 'all';
  if (!/^\d+$/.test(text))
    throw new NnunetError('ERR_ARGUMENT', `fold must be 'all' or an integer >= 0, got '${text}'.`);
  return Number(text);
}

/** One fold's cases: the identifiers trained on and validated on (an entry of splits_final.json). */
export interface Split {
  train: string[];
  val: string[];
}
