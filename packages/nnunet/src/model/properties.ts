/**
 * The property files the stages share: the dataset fingerprint (dataset_properties.json, written by
 * fingerprint/ and embedded in the plans) and the per-case properties written beside each cropped and
 * preprocessed case (CASE.json). Keys are nnU-Net v1's; axis-ordered values are (z, y, x).
 */

/** v1's intensity statistics of one modality's foreground samples. */
export interface IntensityStats {
  median: number;
  mean: number;
  sd: number;
  mn: number;
  mx: number;
  percentile_99_5: number;
  percentile_00_5: number;
}

export interface ModalityIntensities extends IntensityStats {
  local_props: Record<string, IntensityStats>;
}

export interface DatasetProperties {
  all_sizes: number[][];
  all_spacings: number[][];
  all_classes: number[];
  modalities: Record<string, string>;
  intensityproperties: Record<string, ModalityIntensities> | null;
  size_reductions: Record<string, number>;
}

/** Per-case properties as v1's cropping writes them (axis-ordered values are z, y, x). */
export interface CroppedProperties {
  original_size_of_raw_data: number[];
  original_spacing: number[];
  list_of_data_files: string[];
  seg_file: string | null;
  itk_origin: number[];
  itk_spacing: number[];
  itk_direction: number[];
  crop_bbox: [number, number][];
  classes: number[];
  size_after_cropping: number[];
  [key: string]: unknown;
}
