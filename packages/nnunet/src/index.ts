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
export * from './paths.js';
export const VERSION = '0.1.0';
