/**
 * The dataset fingerprint (v1's DatasetAnalyzer): sizes and spacings after cropping, classes,
 * modalities, foreground intensity statistics (for CT), and how much cropping shrank each case.
 * Written as dataset_properties.json in the cropped-data folder with v1's keys; axis-ordered
 * values are (z, y, x).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { meanF32, medianSorted, percentileSorted, stdF32 } from '../compat/float32-stats.js';
import { readDatasetJson } from '../io/dataset-json.js';
import { readNpy } from '../io/npy.js';
import type { CroppedProperties, DatasetProperties, IntensityStats, ModalityIntensities } from '../model/properties.js';
import { writeJsonAtomic } from '../util/atomic.js';
import { product } from '../util/shape.js';

/** v1 samples every 10th foreground voxel for the intensity statistics. */
export const FOREGROUND_SAMPLE_STRIDE = 10;

/** Case ids of a cropped-data folder, sorted like v1's subfiles(). */
export function croppedCaseIds(folder: string): string[] {
  return readdirSync(folder)
    .filter((f) => f.endsWith('.npy'))
    .map((f) => f.slice(0, -4))
    .sort();
}

export function readCroppedProperties(folder: string, id: string): CroppedProperties {
  return JSON.parse(readFileSync(join(folder, `${id}.json`), 'utf8')) as CroppedProperties;
}

/**
 * Every FOREGROUND_SAMPLE_STRIDE-th voxel of channel `modality` where the segmentation (last
 * channel) is > 0, in C order, as v1's `modality[seg > 0][::10]`.
 */
export function foregroundSamples(data: Float32Array, shape: readonly number[], modality: number): Float32Array {
  const n = product(shape.slice(1));
  const seg = data.subarray(((shape[0] as number) - 1) * n);
  const img = data.subarray(modality * n, (modality + 1) * n);
  const out: number[] = [];
  let k = 0;
  for (let i = 0; i < n; i++) {
    if ((seg[i] as number) > 0) {
      if (k % FOREGROUND_SAMPLE_STRIDE === 0) out.push(img[i] as number);
      k++;
    }
  }
  return Float32Array.from(out);
}

/** v1 collects intensity statistics only when a modality is called "CT" (or "ct"). */
export function wantsIntensityProperties(modalities: readonly string[]): boolean {
  return modalities.includes('CT') || modalities.includes('ct');
}

/**
 * v1's use_nonzero_mask_for_norm: per modality, never when its name contains "CT"; otherwise only
 * when cropping to the nonzero region removed a lot (median size reduction below 3/4, the sign of
 * skull-stripped data such as BraTS).
 */
export function useNonzeroMaskForNorm(
  modalities: readonly string[],
  sizeReductions: Record<string, number>,
): Record<string, boolean> {
  const values = Object.values(sizeReductions).sort((a, b) => a - b);
  const m = values.length;
  const median =
    m === 0
      ? 1
      : m % 2 === 1
        ? (values[(m - 1) / 2] as number)
        : ((values[m / 2 - 1] as number) + (values[m / 2] as number)) / 2;
  return Object.fromEntries(modalities.map((name, i) => [String(i), !name.includes('CT') && median < 3 / 4]));
}

export interface AnalyzeOptions {
  /** Default: only for CT datasets, like v1. */
  collectIntensityProperties?: boolean;
  onProgress?: (done: number, total: number) => void;
}

/** Computes the fingerprint of a cropped-data folder and writes dataset_properties.json there. */
export function analyzeDataset(folder: string, options: AnalyzeOptions = {}): DatasetProperties {
  const dataset = readDatasetJson(join(folder, 'dataset.json'));
  const ids = croppedCaseIds(folder);
  const props = ids.map((id) => readCroppedProperties(folder, id));
  const collect = options.collectIntensityProperties ?? wantsIntensityProperties(dataset.modalities);
  let intensity: Record<string, ModalityIntensities> | null = null;
  if (collect) {
    const perCase: Float32Array[][] = dataset.modalities.map(() => []);
    ids.forEach((id, i) => {
      const { data, shape } = readNpy(join(folder, `${id}.npy`));
      dataset.modalities.forEach((_, m) => {
        (perCase[m] as Float32Array[]).push(foregroundSamples(data as Float32Array, shape, m));
      });
      options.onProgress?.(i + 1, ids.length);
    });
    intensity = {};
    dataset.modalities.forEach((_, m) => {
      const samples = perCase[m] as Float32Array[];
      const all = new Float32Array(samples.reduce((a, s) => a + s.length, 0));
      let o = 0;
      for (const s of samples) {
        all.set(s, o);
        o += s.length;
      }
      const local: Record<string, IntensityStats> = {};
      ids.forEach((id, i) => {
        local[id] = intensityStats(samples[i] as Float32Array);
      });
      (intensity as Record<string, ModalityIntensities>)[String(m)] = { local_props: local, ...intensityStats(all) };
    });
  }
  const size_reductions: Record<string, number> = {};
  ids.forEach((id, i) => {
    const p = props[i] as CroppedProperties;
    const before = product(p.original_size_of_raw_data);
    const after = product(p.size_after_cropping);
    size_reductions[id] = after / before;
  });
  const out: DatasetProperties = {
    all_sizes: props.map((p) => p.size_after_cropping),
    all_spacings: props.map((p) => p.original_spacing),
    all_classes: [...dataset.labels.keys()].filter((k) => k > 0),
    modalities: Object.fromEntries(dataset.modalities.map((m, i) => [String(i), m])),
    intensityproperties: intensity,
    size_reductions,
  };
  writeJsonAtomic(join(folder, 'dataset_properties.json'), out);
  // v1's planner records the normalisation decision in every cropped case's properties.
  const maskForNorm = useNonzeroMaskForNorm(dataset.modalities, size_reductions);
  ids.forEach((id, i) => {
    writeJsonAtomic(join(folder, `${id}.json`), {
      ...(props[i] as CroppedProperties),
      use_nonzero_mask_for_norm: maskForNorm,
    });
  });
  return out;
}

/** v1's _compute_stats over foreground samples (NaN everywhere when there are none). */
export function intensityStats(values: Float32Array): IntensityStats {
  if (values.length === 0) {
    return {
      median: Number.NaN,
      mean: Number.NaN,
      sd: Number.NaN,
      mn: Number.NaN,
      mx: Number.NaN,
      percentile_99_5: Number.NaN,
      percentile_00_5: Number.NaN,
    };
  }
  const sorted = Float32Array.from(values).sort();
  return {
    median: medianSorted(sorted),
    mean: meanF32(values),
    sd: stdF32(values),
    mn: sorted[0] as number,
    mx: sorted[sorted.length - 1] as number,
    percentile_99_5: percentileSorted(sorted, 99.5),
    percentile_00_5: percentileSorted(sorted, 0.5),
  };
}
