/**
 * The one error class of @nnunet/torch. Callers branch on `code`, never on the message.
 *  - ERR_TORCH_ARGUMENT: an argument failed validation in TypeScript (the message names it);
 *  - ERR_TORCH_DISPOSED: a tensor was used after dispose();
 *  - ERR_TORCH_NATIVE: LibTorch rejected the call (the message is LibTorch's, prefixed with the op);
 *  - ERR_TORCH_LOAD: the native addon or LibTorch could not be loaded;
 *  - ERR_TORCH_FORMAT: a file (safetensors) is malformed.
 */
export type TorchErrorCode =
  | 'ERR_TORCH_ARGUMENT'
  | 'ERR_TORCH_DISPOSED'
  | 'ERR_TORCH_NATIVE'
  | 'ERR_TORCH_LOAD'
  | 'ERR_TORCH_FORMAT';

export class TorchError extends Error {
  readonly code: TorchErrorCode;
  constructor(code: TorchErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TorchError';
    this.code = code;
  }
}

export function argError(message: string): TorchError {
  return new TorchError('ERR_TORCH_ARGUMENT', message);
}

/** Re-throws native errors as TorchError (keeping LibTorch's message) and leaves others alone. */
export function fromNative(e: unknown): never {
  if (e instanceof Error && (e as { code?: string }).code === 'ERR_TORCH_NATIVE') {
    const msg = e.message;
    const code: TorchErrorCode = msg.includes('used after dispose()') ? 'ERR_TORCH_DISPOSED' : 'ERR_TORCH_NATIVE';
    throw new TorchError(code, msg, { cause: e });
  }
  throw e;
}
