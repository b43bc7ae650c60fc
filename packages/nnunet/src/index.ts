/**
 * nnU-Net for TypeScript: the library API behind the nnUNet_* commands. Pipeline stages land
 * here issue by issue (io/, fingerprint/, planning/, preprocessing/, training/, inference/,
 * evaluation/).
 */
export * as torch from '@nnunet/torch';
export { NnunetError, type NnunetErrorCode } from './errors.js';
export { type ConvertOptions, type ConvertResult, convertDecathlonTask, split4d } from './io/convert-decathlon.js';
export * from './io/dataset-json.js';
export * from './io/image.js';
export * from './model/paths.js';
export const VERSION = '0.1.0';
export * from './evaluation/evaluator.js';
export * from './evaluation/metrics.js';
export { analyzeDataset, useNonzeroMaskForNorm, wantsIntensityProperties } from './fingerprint/analyze.js';
export { boundingBox, type CroppedCase, cropCase, fillHoles, nonzeroMask } from './fingerprint/crop.js';
export {
  type CaseFiles,
  cropCaseFiles,
  cropTask,
  cropVolumes,
  loadAndCropCase,
  trainingCases,
} from './fingerprint/crop-task.js';
export * from './inference/export.js';
export * from './inference/model-folder.js';
export {
  findInputCases,
  type InputCase,
  type LoadedModel,
  loadModel,
  predictCroppedCase,
  predictFolder,
  predictVolumes,
} from './inference/predict.js';
export * from './inference/sliding-window.js';
export { type CompressResult, compressNiftiFolder } from './io/compress.js';
export { readNpy, readNpyHeader, writeNpy } from './io/npy.js';
export { type VerifyOptions, type VerifyReport, verifyDatasetIntegrity } from './io/verify.js';
export type { Plans, StagePlan } from './model/plans.js';
export type { CroppedProperties, DatasetProperties } from './model/properties.js';
export * from './network/index.js';
export {
  type PlanAndPreprocessOptions,
  planAndPreprocess,
  preprocessWithPlans,
} from './pipeline/plan-and-preprocess.js';
export {
  planFromFingerprint,
  plansFileName,
  planTask,
  readPlans,
  writePlans,
} from './planning/plan-from-fingerprint.js';
export { getPlanner, knownPlanners, registerPlanner } from './planning/registry.js';
export * from './postprocessing/connected-components.js';
export { sampleClassLocations } from './preprocessing/class-locations.js';
export { type NormalizationScheme, normalizeChannel } from './preprocessing/normalize.js';
export { preprocessCase, preprocessStages } from './preprocessing/preprocess.js';
export { doSeparateZ, lowResAxis, resampleDataOrSeg, resamplePatient } from './preprocessing/resample.js';
