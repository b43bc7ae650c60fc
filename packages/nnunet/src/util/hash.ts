/** SHA-256 digests (hex) of bytes, byte parts or files: how checkpoint sets and the prediction ledger recognise their files. */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

/** SHA-256 of `data` (byte parts are hashed one after the other, as if joined). */
export function sha256(data: Uint8Array | readonly Uint8Array[]): string {
  const h = createHash('sha256');
  for (const part of data instanceof Uint8Array ? [data] : data) h.update(part);
  return h.digest('hex');
}

/** SHA-256 of a file's bytes. */
export function sha256File(path: string): string {
  return sha256(readFileSync(path));
}
