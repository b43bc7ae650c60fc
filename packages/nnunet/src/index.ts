/**
 * nnU-Net for TypeScript. The pipeline stages (io/, fingerprint/, planning/, preprocessing/,
 * training/, inference/, evaluation/) land here issue by issue; for now the package exposes the
 * tensor engine it is built on.
 */
export * as torch from '@nnunet/torch';
export const VERSION = '0.1.0';
