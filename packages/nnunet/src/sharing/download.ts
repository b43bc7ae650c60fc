/**
 * Downloading a model archive and installing it (v1's nnUNet_download_pretrained_model and
 * nnUNet_download_pretrained_model_by_url). The archive is streamed into a `.part` file in
 * $RESULTS_FOLDER named after the URL; an interrupted transfer is resumed with an HTTP Range
 * request (within the same call, and by the next call for the same URL), the finished file is
 * installed with installModelFromZip, and the `.part` file is deleted.
 */
import { createHash } from 'node:crypto';
import { closeSync, mkdirSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import { type ClientRequest, request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { dirname, join } from 'node:path';
import { Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { NnunetError } from '../errors.js';
import { type InstallResult, installModelFromZip } from './install.js';

/** v1's requests timeout: seconds without data before a connection counts as dead. */
export const DOWNLOAD_TIMEOUT_MS = 100_000;
/** Resumes within one call after the connection drops mid-transfer. */
export const DEFAULT_RETRIES = 3;
const MAX_REDIRECTS = 10;
/** Error codes meaning the server could not be reached at all. */
const UNREACHABLE = new Set([
  'ENOTFOUND',
  'EAI_AGAIN',
  'ECONNREFUSED',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'ETIMEDOUT',
  'ECONNRESET',
  'EPIPE',
  'ENETDOWN',
  'ERR_DOWNLOAD_TIMEOUT',
]);
const TIMEOUT = 'ERR_DOWNLOAD_TIMEOUT';

export interface DownloadOptions {
  /** Resumes after a dropped connection within this call (default 3). */
  retries?: number;
  /** Idle time in ms before a connection counts as dead (default 100 s). */
  timeoutMs?: number;
  onProgress?: (done: number, total: number) => void;
  log?: (line: string) => void;
}

/** The `.part` file a URL downloads into, inside `folder`. */
export function partFilePath(url: string, folder: string): string {
  const id = createHash('sha256').update(url).digest('hex').slice(0, 16);
  return join(folder, `.nnunet-download-${id}.zip.part`);
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

function unreachable(url: string, reason: string): NnunetError {
  return new NnunetError(
    'ERR_NETWORK',
    `The host ${hostOf(url)} could not be reached (${reason}): check the network connection, or download ${url} on a machine with internet access and install the file with nnUNet_install_pretrained_model_from_zip FILE.zip.`,
  );
}

/** OpenSSL's codes for a certificate that does not verify (expired, self-signed, unknown issuer, wrong name). */
function isCertificateError(code: string): boolean {
  return /CERT|UNABLE_TO_(GET|VERIFY|DECRYPT|DECODE)|SELF_SIGNED/.test(code) || code === 'ERR_TLS_CERT_ALTNAME_INVALID';
}

/**
 * Any failure of a request (DNS, TCP, TLS, HTTP parsing, timeouts, codes Node adds later) as one
 * ERR_NETWORK sentence; never a raw error.
 */
export function requestFailure(url: string, e: unknown, timeoutMs: number): NnunetError {
  if (e instanceof NnunetError) return e;
  const code = String((e as { code?: unknown }).code ?? '');
  if (code === TIMEOUT) return unreachable(url, `no answer within ${timeoutMs / 1000} s`);
  if (UNREACHABLE.has(code)) return unreachable(url, code);
  if (isCertificateError(code)) {
    return new NnunetError(
      'ERR_NETWORK',
      `The secure connection to ${hostOf(url)} failed (${code}: its TLS certificate is not trusted here): check the system clock and certificates (behind a proxy that re-signs traffic, set NODE_EXTRA_CA_CERTS to its certificate), or download ${url} on another machine and install the file with nnUNet_install_pretrained_model_from_zip FILE.zip.`,
      { cause: e },
    );
  }
  const what = code === '' ? ((e as Error).message ?? String(e)) : code;
  const tls = code === 'EPROTO' || code.startsWith('ERR_SSL') || code.startsWith('ERR_TLS');
  return new NnunetError(
    'ERR_NETWORK',
    `The ${tls ? 'secure connection' : 'connection'} to ${hostOf(url)} failed (${what}): check the network connection and the URL, or download ${url} on a machine with internet access and install the file with nnUNet_install_pretrained_model_from_zip FILE.zip.`,
    { cause: e },
  );
}

/** GET with redirects; resolves with the final response (not yet read). */
function get(url: string, headers: Record<string, string>, timeoutMs: number, hops = 0): Promise<IncomingMessage> {
  return new Promise((resolvePromise, rejectPromise) => {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      rejectPromise(new NnunetError('ERR_ARGUMENT', `"${url}" is not a URL: give an http:// or https:// address.`));
      return;
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      rejectPromise(new NnunetError('ERR_ARGUMENT', `"${url}" is not an http:// or https:// URL.`));
      return;
    }
    let req: ClientRequest;
    try {
      req = (parsed.protocol === 'https:' ? httpsRequest : httpRequest)(parsed, {
        headers: { 'user-agent': 'nnunet-ts', ...headers },
        // A fresh connection per request: a pooled keep-alive socket may be dead by the time we resume.
        agent: false,
      });
    } catch (e) {
      rejectPromise(requestFailure(url, e, timeoutMs));
      return;
    }
    req.setTimeout(timeoutMs, () => {
      req.destroy(Object.assign(new Error('timed out'), { code: TIMEOUT }));
    });
    req.on('error', (e) => rejectPromise(requestFailure(url, e, timeoutMs)));
    req.on('response', (res) => {
      const status = res.statusCode ?? 0;
      const location = res.headers.location;
      if ([301, 302, 303, 307, 308].includes(status) && location) {
        res.resume();
        if (hops >= MAX_REDIRECTS) {
          rejectPromise(new NnunetError('ERR_NOT_FOUND', `${url} redirects more than ${MAX_REDIRECTS} times.`));
          return;
        }
        // The Location header comes from the server: a bad one is its error, not an exception here.
        let next: URL | undefined;
        try {
          next = new URL(location, parsed);
        } catch {
          next = undefined;
        }
        if (next === undefined || (next.protocol !== 'http:' && next.protocol !== 'https:')) {
          rejectPromise(
            new NnunetError(
              'ERR_NOT_FOUND',
              `${url} redirects to "${location}", which is not an http:// or https:// URL: the server is misconfigured; try again later, or download the file elsewhere and use nnUNet_install_pretrained_model_from_zip.`,
            ),
          );
          return;
        }
        get(next.toString(), headers, timeoutMs, hops + 1).then(resolvePromise, rejectPromise);
        return;
      }
      // The request's idle timer keeps guarding the socket while the caller reads the body.
      resolvePromise(res);
    });
    req.end();
  });
}

/** "bytes 100-199/200" -> {start: 100, total: 200}; "bytes * /200" -> {start: undefined, total: 200}. */
function contentRange(header: string | undefined): { start: number | undefined; total: number | undefined } {
  const m = /^bytes\s+(?:(\d+)-\d+|\*)\/(\d+|\*)/.exec(header ?? '');
  if (!m) return { start: undefined, total: undefined };
  return {
    start: m[1] === undefined ? undefined : Number(m[1]),
    total: m[2] === '*' || m[2] === undefined ? undefined : Number(m[2]),
  };
}

/** Size of the .part file; 0 when there is none (or something that is not a file, which writing then reports). */
function sizeOf(path: string): number {
  try {
    const s = statSync(path);
    return s.isFile() ? s.size : 0;
  } catch {
    return 0;
  }
}

/** A local failure while writing the .part file: not a dropped connection, so it is not retried. */
function partWriteFailure(part: string, e: unknown): NnunetError {
  const code = String((e as { code?: unknown }).code ?? '');
  const reason =
    (
      {
        ENOSPC: 'the disk is full',
        EDQUOT: 'the disk quota is exceeded',
        EACCES: 'permission denied',
        EPERM: 'operation not permitted',
        EROFS: 'the file system is read-only',
        EISDIR: 'it is a folder',
        ENOENT: 'its folder does not exist',
      } as Record<string, string>
    )[code] ?? (e as Error).message;
  return new NnunetError(
    'ERR_ARGUMENT',
    `Writing the partial download ${part} failed (${code === '' ? 'error' : code}: ${reason}): free disk space or make ${dirname(part)} writable, then run the same command again to resume.`,
    { cause: e },
  );
}

/**
 * Downloads `url` into `part`, continuing an existing `part` with a Range request. Resolves when
 * the file is complete; an interruption that outlasts the retries throws a sentence saying the
 * next call will resume.
 */
export async function downloadToPart(url: string, part: string, options: DownloadOptions = {}): Promise<void> {
  const retries = options.retries ?? DEFAULT_RETRIES;
  const timeoutMs = options.timeoutMs ?? DOWNLOAD_TIMEOUT_MS;
  let failures = 0;
  for (;;) {
    const have = sizeOf(part);
    const res = await get(url, have > 0 ? { range: `bytes=${have}-` } : {}, timeoutMs);
    const status = res.statusCode ?? 0;
    let total: number | undefined;
    let append: boolean;
    if (status === 416 && have > 0) {
      res.resume();
      const { total: t } = contentRange(res.headers['content-range']);
      if (t === have) return; // the .part file is already complete
      options.log?.(`The partial download ${part} does not fit ${url} any more; starting again.`);
      rmSync(part, { force: true });
      if (++failures > retries) throw interrupted(url, part, 0, t);
      continue;
    }
    if (status === 206) {
      const r = contentRange(res.headers['content-range']);
      if (r.start !== have) {
        res.resume();
        rmSync(part, { force: true });
        if (++failures > retries) throw interrupted(url, part, 0, r.total);
        continue;
      }
      append = true;
      total = r.total;
    } else if (status === 200) {
      append = false;
      const len = res.headers['content-length'];
      total = len === undefined ? undefined : Number(len);
    } else {
      res.resume();
      if (status === 404 || status === 410) {
        throw new NnunetError(
          'ERR_NOT_FOUND',
          `${url} does not exist (HTTP ${status}): check the URL, or the task name with nnUNet_print_available_pretrained_models.`,
        );
      }
      throw new NnunetError(
        'ERR_NOT_FOUND',
        `The server refused ${url} (HTTP ${status} ${res.statusMessage ?? ''}): try again later, or download it elsewhere and use nnUNet_install_pretrained_model_from_zip.`,
      );
    }
    const start = append ? have : 0;
    let received = start;
    options.onProgress?.(received, total ?? 0);
    const counter = new Transform({
      transform(chunk: Buffer, _e, done) {
        received += chunk.length;
        options.onProgress?.(received, total ?? received);
        done(null, chunk);
      },
    });
    let fd: number;
    try {
      fd = openSync(part, append ? 'a' : 'w');
    } catch (e) {
      res.destroy();
      throw partWriteFailure(part, e);
    }
    // Errors of the file itself (disk full, no permission) are local: retrying would not help, so
    // they are told apart from a connection that drops.
    let fileError: unknown;
    const sink = new Writable({
      write(chunk: Buffer, _e, done) {
        try {
          for (let off = 0; off < chunk.length; ) off += writeSync(fd, chunk, off, chunk.length - off);
          done();
        } catch (e) {
          fileError = e;
          done(e as Error);
        }
      },
    });
    let dropped = false;
    try {
      await pipeline(res, counter, sink);
    } catch (e) {
      if (e instanceof NnunetError) throw e;
      if (fileError !== undefined) throw partWriteFailure(part, fileError);
      dropped = true;
    } finally {
      try {
        closeSync(fd);
      } catch (e) {
        fileError ??= e;
      }
    }
    if (fileError !== undefined) throw partWriteFailure(part, fileError);
    const now = sizeOf(part);
    if (!dropped && (total === undefined || now === total)) return;
    if (!dropped && total !== undefined && now > total) {
      rmSync(part, { force: true });
      throw new NnunetError(
        'ERR_DATASET',
        `The server sent more bytes for ${url} than announced (${now} > ${total}); the partial file was removed, try again.`,
      );
    }
    if (now > have || !append) failures = 0;
    if (++failures > retries) throw interrupted(url, part, now, total);
    options.log?.(`The connection to ${new URL(url).host} dropped at ${now} bytes; resuming.`);
  }
}

function interrupted(url: string, part: string, got: number, total: number | undefined): NnunetError {
  return new NnunetError(
    'ERR_NETWORK',
    `The download of ${url} was interrupted after ${got}${total === undefined ? '' : ` of ${total}`} bytes: run the same command again to resume from ${part}, or download the file elsewhere and use nnUNet_install_pretrained_model_from_zip.`,
  );
}

export interface DownloadInstallOptions extends DownloadOptions {
  /** $RESULTS_FOLDER: where the model goes (its nnUNet/ sub-folder) and where the .part file is kept. */
  resultsFolder: string;
  overwrite?: boolean;
}

/**
 * Downloads the archive at `url` (resuming a previous `.part`), installs it into
 * $RESULTS_FOLDER/nnUNet and deletes the `.part`. A damaged archive is deleted too; when the
 * install is refused because existing files differ (or a local path is in the way), the `.part`
 * is kept so that a call with `overwrite` does not download it again.
 */
export async function downloadAndInstall(url: string, options: DownloadInstallOptions): Promise<InstallResult> {
  try {
    mkdirSync(options.resultsFolder, { recursive: true });
  } catch (e) {
    throw new NnunetError(
      'ERR_ENV',
      `RESULTS_FOLDER ${options.resultsFolder} cannot be created (${String((e as { code?: unknown }).code ?? (e as Error).message)}): point RESULTS_FOLDER to a writable folder.`,
      { cause: e },
    );
  }
  const part = partFilePath(url, options.resultsFolder);
  await downloadToPart(url, part, options);
  try {
    const result = await installModelFromZip(part, {
      resultsFolder: options.resultsFolder,
      ...(options.overwrite === undefined ? {} : { overwrite: options.overwrite }),
    });
    rmSync(part, { force: true });
    return result;
  } catch (e) {
    if (e instanceof NnunetError && e.code === 'ERR_DATASET') rmSync(part, { force: true });
    throw e;
  }
}
