/**
 * The error class of the nnunet package. Callers branch on `code`; the message is one sentence
 * for the user naming what is wrong, which file or variable, and what to do.
 */
export type NnunetErrorCode =
  | 'ERR_ENV' // an environment variable is missing or points nowhere
  | 'ERR_NOT_FOUND' // a task, case or file does not exist
  | 'ERR_IMAGE_READ' // an image file cannot be read
  | 'ERR_IMAGE_WRITE' // an image file cannot be written
  | 'ERR_WRITE' // a file cannot be written: disk full, quota, I/O error, missing or read-only folder
  | 'ERR_DATASET' // dataset.json or the dataset folder is malformed
  | 'ERR_ARGUMENT' // a bad argument to a library function or command
  | 'ERR_NETWORK' // a host cannot be reached or a download was interrupted
  | 'ERR_PIPELINE'; // a step of a multi-command pipeline (the demo) failed

export class NnunetError extends Error {
  readonly code: NnunetErrorCode;
  constructor(code: NnunetErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'NnunetError';
    this.code = code;
  }
}
