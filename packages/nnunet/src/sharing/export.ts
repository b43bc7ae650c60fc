/**
 * Exporting the trained models of a task to a zip archive for sharing (v1's
 * nnUNet_export_model_to_zip / export_pretrained_model). Entry names are relative to
 * $RESULTS_FOLDER/nnUNet as in v1's archives, so v1's installer and ours both put them back in
 * the same place: `<configuration>/<task>/<trainer>__<plans>/...` and
 * `ensembles/<task>/<ensemble>/postprocessing.json`.
 *
 * Per model folder the archive holds what prediction needs: plans.json (this version) and/or
 * plans.pkl (v1), postprocessing.json, and per fold the final checkpoint —
 * model_final_checkpoint.safetensors + .json (this version) and/or model_final_checkpoint.model +
 * .model.pkl (v1) — plus debug.json, progress.png and network_architecture.pdf where present, as
 * v1 ships them. Optimizer state and other checkpoints are left out.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { NnunetError } from '../errors.js';
import { ZipWriter } from '../io/zip.js';
import { CONFIGURATIONS, parseConfiguration } from '../model/configuration.js';
import {
  DEFAULT_CASCADE_TRAINER,
  DEFAULT_PLANS_IDENTIFIER,
  DEFAULT_TRAINER,
  trainerFolderPath,
} from '../model/layout.js';
import { RESULTS_SUBFOLDER } from '../model/paths.js';

/** v1's default folds of an export. */
export const DEFAULT_EXPORT_FOLDS: readonly string[] = ['0', '1', '2', '3', '4'];
/** The final checkpoint of a fold in this version's format and in v1's. */
const CHECKPOINT_OURS = ['model_final_checkpoint.safetensors', 'model_final_checkpoint.json'] as const;
const CHECKPOINT_V1 = ['model_final_checkpoint.model', 'model_final_checkpoint.model.pkl'] as const;
/** Per-fold files v1 ships beside the checkpoint when they exist. */
const FOLD_EXTRAS = ['debug.json', 'progress.png', 'network_architecture.pdf'] as const;

export interface ExportOptions {
  /** $RESULTS_FOLDER. */
  resultsFolder: string;
  /** Full task name, TaskXXX_NAME. */
  task: string;
  /** The .zip to write (atomically). */
  output: string;
  /** Configurations to export (default all four, as v1). */
  configurations?: readonly string[];
  trainer?: string;
  /** Trainer of 3d_cascade_fullres. */
  cascadeTrainer?: string;
  plansIdentifier?: string;
  /** Folds, '0'..'4' or 'all' (default 0 1 2 3 4). */
  folds?: readonly string[];
  /**
   * v1's strict mode (default on): every requested configuration must exist and have a
   * postprocessing.json. Requested folds must exist either way, as in v1.
   */
  strict?: boolean;
  /** Where warnings go (skipped configurations, missing postprocessing.json). */
  log?: (line: string) => void;
  /** DEFLATE level (default 6). */
  level?: number;
}

export interface ExportResult {
  /** Archive entry names in the order written. */
  entries: string[];
  /** Model folders exported. */
  folders: string[];
}

interface Member {
  name: string;
  path: string;
}

function isFile(path: string): boolean {
  return existsSync(path) && statSync(path).isFile();
}

/** The ensembles of v1's naming `ensemble_<cfg>__<trainer>__<plans>--<cfg>__<trainer>__<plans>` that fit the export. */
function validEnsemble(name: string, configurations: readonly string[], trainers: readonly string[], plans: string) {
  if (!name.startsWith('ensemble_')) return false;
  const members = name.slice('ensemble_'.length).split('--');
  if (members.length !== 2) return false;
  return members.every((m) => {
    const [c, tr, p, ...rest] = m.split('__');
    return rest.length === 0 && configurations.includes(c ?? '') && trainers.includes(tr ?? '') && p === plans;
  });
}

/** Lists the archive's members after checking that everything requested is there (nothing is written). */
export function collectExport(options: ExportOptions): { members: Member[]; folders: string[] } {
  const configurations = options.configurations ?? CONFIGURATIONS;
  const trainer = options.trainer ?? DEFAULT_TRAINER;
  const cascadeTrainer = options.cascadeTrainer ?? DEFAULT_CASCADE_TRAINER;
  const plans = options.plansIdentifier ?? DEFAULT_PLANS_IDENTIFIER;
  const folds = options.folds ?? DEFAULT_EXPORT_FOLDS;
  const strict = options.strict !== false;
  const log = options.log ?? (() => {});
  const trained = join(options.resultsFolder, RESULTS_SUBFOLDER);
  const members: Member[] = [];
  const folders: string[] = [];
  const add = (...parts: string[]): void => {
    members.push({ name: parts.join('/'), path: join(trained, ...parts) });
  };
  for (const configuration of configurations) {
    const tr = configuration === '3d_cascade_fullres' ? cascadeTrainer : trainer;
    const folder = trainerFolderPath(
      options.resultsFolder,
      parseConfiguration(configuration, '-m'),
      options.task,
      tr,
      plans,
    );
    const rel = [configuration, options.task, `${tr}__${plans}`];
    if (!existsSync(folder)) {
      if (strict) {
        throw new NnunetError(
          'ERR_NOT_FOUND',
          `${options.task} has no ${configuration} model (${folder} does not exist): list the trained configurations with -m (e.g. -m 3d_fullres), check -tr/-pl, or pass --disable_strict to skip missing ones.`,
        );
      }
      log(`${options.task} has no ${configuration} model (${folder}); skipped.`);
      continue;
    }
    const hasOurs = isFile(join(folder, 'plans.json'));
    const hasV1 = isFile(join(folder, 'plans.pkl'));
    if (!hasOurs && !hasV1) {
      throw new NnunetError(
        'ERR_NOT_FOUND',
        `${folder} has neither plans.json nor plans.pkl: it is not a trained model folder (train it, or leave ${configuration} out of -m).`,
      );
    }
    for (const fold of folds) {
      const foldDir = `fold_${fold}`;
      const fd = join(folder, foldDir);
      if (!existsSync(fd)) {
        throw new NnunetError(
          'ERR_NOT_FOUND',
          `Fold ${fold} of the ${configuration} model is missing (${fd} does not exist): train it, or choose the trained folds with -f.`,
        );
      }
      const ours = CHECKPOINT_OURS.every((f) => isFile(join(fd, f)));
      const v1 = CHECKPOINT_V1.every((f) => isFile(join(fd, f)));
      if (!ours && !v1) {
        throw new NnunetError(
          'ERR_NOT_FOUND',
          `${fd} has no final checkpoint (${CHECKPOINT_OURS.join(' + ')}, or v1's ${CHECKPOINT_V1.join(' + ')}): finish training fold ${fold}, or leave it out of -f.`,
        );
      }
      if (ours && !hasOurs) {
        throw new NnunetError('ERR_NOT_FOUND', `${join(folder, 'plans.json')} is missing but ${fd} needs it.`);
      }
      if (v1 && !ours && !hasV1) {
        throw new NnunetError('ERR_NOT_FOUND', `${join(folder, 'plans.pkl')} is missing but ${fd} needs it.`);
      }
      for (const f of [...(ours ? CHECKPOINT_OURS : []), ...(v1 ? CHECKPOINT_V1 : []), ...FOLD_EXTRAS]) {
        if (isFile(join(fd, f))) add(...rel, foldDir, f);
      }
    }
    if (hasOurs) add(...rel, 'plans.json');
    if (hasV1) add(...rel, 'plans.pkl');
    if (isFile(join(folder, 'postprocessing.json'))) {
      add(...rel, 'postprocessing.json');
    } else if (strict) {
      throw new NnunetError(
        'ERR_NOT_FOUND',
        `${join(folder, 'postprocessing.json')} is missing: determine the postprocessing for this model first, or pass --disable_strict to export without it.`,
      );
    } else {
      log(`Warning: ${join(folder, 'postprocessing.json')} is missing; exported without it.`);
    }
    folders.push(folder);
  }
  if (folders.length === 0) {
    throw new NnunetError(
      'ERR_NOT_FOUND',
      `No model of ${options.task} was found for ${configurations.join(', ')} under ${trained}: check -t, -m, -tr and -pl.`,
    );
  }
  const ensembleDir = join(trained, 'ensembles', options.task);
  if (existsSync(ensembleDir)) {
    for (const e of readdirSync(ensembleDir).sort()) {
      if (
        validEnsemble(e, configurations, [trainer, cascadeTrainer], plans) &&
        isFile(join(ensembleDir, e, 'postprocessing.json'))
      ) {
        add('ensembles', options.task, e, 'postprocessing.json');
      }
    }
  }
  return { members, folders };
}

/** Writes the task's models to `options.output` (see the module comment for what is included). */
export async function exportModelToZip(options: ExportOptions): Promise<ExportResult> {
  const { members, folders } = collectExport(options);
  const writer = new ZipWriter(options.output, options.level === undefined ? {} : { level: options.level });
  try {
    for (const m of members) await writer.addFile(m.name, m.path);
    await writer.close();
  } catch (e) {
    writer.abort();
    throw e;
  }
  return { entries: members.map((m) => m.name), folders };
}
