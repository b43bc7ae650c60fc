/**
 * Downloading a model archive and installing it (v1's nnUNet_download_pretrained_model and
 * nnUNet_download_pretrained_model_by_url). The archive is streamed into a `.part` file in
 * $RESULTS_FOLDER named after the URL; an interrupted transfer is resumed with an HTTP Range
 * request (within the same call, and by the next call for the same URL), the finished file is
 * installed with installModelFromZip, and the `.part` file is deleted.
 */
import { createHash } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { Transform } from 'node:stream';
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

function unreachable(url: string, reason: string): NnunetError {
  const host = (() => {
    try {
      return new URL(url).host;
    } catch {
      return url;
    }
  })();
  return new NnunetError(
    'ERR_NETWORK',
    `The host ${host} could not be reached (${reason}): check the network connection, or download ${url} on a machine with internet access and install the file with nnUNet_install_pretrained_model_from_zip FILE.zip.`,
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
    const req = (parsed.protocol === 'https:' ? httpsRequest : httpRequest)(parsed, {
      headers: { 'user-agent': 'nnunet-ts', ...headers },
      // A fresh connection per request: a pooled keep-alive socket may be dead by the time we resume.
      agent: false,
    });
    req.setTimeout(timeoutMs, () => {
      req.destroy(Object.assign(new Error('timed out'), { code: TIMEOUT }));
    });
    req.on('error', (e: Error & { code?: string }) => {
      const code = e.code ?? '';
      if (!UNREACHABLE.has(code)) rejectPromise(e);
      else rejectPromise(unreachable(url, code === TIMEOUT ? `no answer within ${timeoutMs / 1000} s` : code));
    });
    req.on('response', (res) => {
      const status = res.statusCode ?? 0;
      if ([301, 302, 303, 307, 308].includes(status) && res.headers.location) {
        res.resume();
        if (hops >= MAX_REDIRECTS) {
          rejectPromise(new NnunetError('ERR_NOT_FOUND', `${url} redirects more than ${MAX_REDIRECTS} times.`));
          return;
        }
        get(new URL(res.headers.location, parsed).toString(), headers, timeoutMs, hops + 1).then(
          resolvePromise,
          rejectPromise,
        );
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

function sizeOf(path: string): number {
  return existsSync(path) ? statSync(path).size : 0;
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
    let dropped = false;
    try {
      await pipeline(res, counter, createWriteStream(part, { flags: append ? 'a' : 'w' }));
    } catch (e) {
      if (e instanceof NnunetError) throw e;
      dropped = true;
    }
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
 * install is refused because model folders exist, the `.part` is kept so that a call with
 * `overwrite` does not download it again.
 */
export async function downloadAndInstall(url: string, options: DownloadInstallOptions): Promise<InstallResult> {
  mkdirSync(options.resultsFolder, { recursive: true });
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
