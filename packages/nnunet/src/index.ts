/**
 * nnU-Net for TypeScript: the library behind the nnUNet_* commands. What a command does, a program
 * can do in-process with the same options as a typed object: prepare a task, plan and preprocess,
 * train a fold, predict a folder (the cascade included) or volumes held in memory, evaluate,
 * decide postprocessing, pick the best configuration, ensemble, and share models. No function here
 * reads process.argv, writes to stdout or exits; progress and messages go to the callbacks given.
 *
 * Arrays are C-ordered with axes (z, y, x) (channels first where there are several); spacings are
 * in mm in the same order; image geometry follows ITK (LPS).
 */
export * as torch from '@nnunet/torch';
export { NnunetError, type NnunetErrorCode } from './errors.js';
export const VERSION = '0.1.0';

export {
  type EvaluateFolderOptions,
  evaluateFolder,
  evaluateVolumes,
  type FolderEvaluation,
  readSummaryJson,
  type SummaryJson,
} from './evaluation/evaluator.js';
export * from './evaluation/metrics.js';
// ------------------------------------------------------------------ building blocks of the stages
export {
  analyzeDataset,
  useNonzeroMaskForNorm,
  wantsIntensityProperties,
} from './fingerprint/analyze.js';
export { boundingBox, type CroppedCase, cropCase, fillHoles, nonzeroMask } from './fingerprint/crop.js';
export {
  type CaseFiles,
  cropCaseFiles,
  cropTask,
  cropVolumes,
  loadAndCropCase,
  trainingCases,
} from './fingerprint/crop-task.js';
export { type EnsembleOptions, type EnsembleResult, ensembleFolders } from './inference/ensemble.js';
export * from './inference/export.js';
export { createInitialisedModel, loadNetwork, readModelPlans } from './inference/model-folder.js';
export {
  type CaseAction,
  type CaseFailure,
  findInputCases,
  type InputCase,
  type LoadedModel,
  loadModel,
  type PredictCaseOptions,
  type PredictFolderOptions,
  type PredictFolderResult,
  predictCroppedCase,
  predictFolder,
  predictVolumes,
} from './inference/predict.js';
export * from './inference/sliding-window.js';
export { type CompressResult, compressNiftiFolder } from './io/compress.js';
// ------------------------------------------------------------------ whole commands
export { type ConvertOptions, type ConvertResult, convertDecathlonTask, split4d } from './io/convert-decathlon.js';
export * from './io/dataset-json.js';
// ------------------------------------------------------------------ in memory
export * from './io/image.js';
export { readNpy, readNpyHeader, writeNpy } from './io/npy.js';
export { type VerifyOptions, type VerifyReport, verifyDatasetIntegrity } from './io/verify.js';
export { type CheckpointSet, readCheckpointSet } from './model/checkpoint-set.js';
// ------------------------------------------------------------------ vocabulary and folders
export {
  CONFIGURATIONS,
  type Configuration,
  type Fold,
  isConfiguration,
  parseConfiguration,
  parseFold,
  type Split,
} from './model/configuration.js';
export {
  BEST_CHECKPOINT,
  type CheckpointMeta,
  DEFAULT_CASCADE_TRAINER,
  DEFAULT_PLANS_IDENTIFIER,
  DEFAULT_TRAINER,
  FINAL_CHECKPOINT,
  foldFolderPath,
  LATEST_CHECKPOINT,
  PLANS_FILE_2D,
  PLANS_FILE_3D,
  plansFilePath,
  stageDataFolder,
  stageForConfiguration,
  trainerFolderPath,
} from './model/layout.js';
export * from './model/paths.js';
export { type NormalizationScheme, type Plans, readPlans, type StagePlan } from './model/plans.js';
export type { CroppedProperties, DatasetProperties } from './model/properties.js';
export * from './network/index.js';
export {
  DEFAULT_PLANNER_2D,
  DEFAULT_PLANNER_3D,
  type PlanAndPreprocessOptions,
  planAndPreprocess,
  preprocessWithPlans,
} from './pipeline/plan-and-preprocess.js';
export { LOWRES_PREDICTIONS_FOLDER, type PredictTaskOptions, predictTask } from './pipeline/predict.js';
export { trainFold } from './pipeline/train-fold.js';
export { planFromFingerprint, plansFileName, planTask, writePlans } from './planning/plan-from-fingerprint.js';
export { getPlanner, knownPlanners, registerPlanner } from './planning/registry.js';
export * from './postprocessing/connected-components.js';
export {
  type DeterminePostprocessingOptions,
  determinePostprocessing,
  type PostprocessingDecision,
} from './postprocessing/determine.js';
export { sampleClassLocations } from './preprocessing/class-locations.js';
export { normalizeChannel } from './preprocessing/normalize.js';
export { preprocessCase, preprocessStages } from './preprocessing/preprocess.js';
export { doSeparateZ, lowResAxis, resampleDataOrSeg, resamplePatient } from './preprocessing/resample.js';
export { type FindBestOptions, type FindBestResult, findBestConfiguration } from './selection/find-best.js';
export { changeTrainerClass } from './sharing/change-trainer.js';
export { type ExportOptions as ModelExportOptions, exportModelToZip } from './sharing/export.js';
export { type InstallOptions, type InstallResult, installModelFromZip } from './sharing/install.js';
export type { TrainingPrecision, TrainOptions, TrainResult } from './training/options.js';
export type { FoldStatus } from './training/status.js';
export { TRAINERS, type TrainerSpec } from './training/trainer-spec.js';
export { plotTaskOverlays } from './visualisation/overlay.js';
