/**
 * Downloads against a local HTTP server: a full download with a redirect, a connection dropped
 * half-way (resumed with a Range request, within the call and by a second call), a server that
 * ignores Range, 404, refused connections, unknown hosts and timeouts.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Server as TcpServer } from 'node:net';
import { createServer as createTcpServer } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { NnunetError } from '../../src/errors.js';
import { ZipWriter } from '../../src/io/zip.js';
import { downloadAndInstall, downloadToPart, partFilePath, requestFailure } from '../../src/sharing/download.js';
import { PACKAGE_ROOT, tempDir } from '../helpers.js';

const MODEL = '3d_fullres/Task099_Tiny/nnUNetTrainerV2__nnUNetPlansv2.1';

/** A model archive of ~200 kB (incompressible weights so that the transfer has many chunks). */
async function makeArchive(): Promise<Buffer> {
  const dir = tempDir();
  const weights = Buffer.alloc(200_000);
  let s = 9;
  for (let i = 0; i < weights.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    weights[i] = s >>> 24;
  }
  const w = new ZipWriter(join(dir, 'm.zip'));
  await w.addBuffer(`${MODEL}/plans.json`, Buffer.from('{"num_classes": 2}'));
  await w.addBuffer(`${MODEL}/fold_0/model_final_checkpoint.safetensors`, weights);
  await w.close();
  return readFileSync(join(dir, 'm.zip'));
}

interface Served {
  url: string;
  requests: { path: string; range: string | undefined }[];
  close: () => Promise<void>;
}

/** Serves `archive` at /model.zip (Range supported) with per-request behaviour from `mode(n)`. */
async function serve(
  archive: Buffer,
  mode: (n: number) => 'ok' | 'drop' | 'no-range' | 'hang' = () => 'ok',
): Promise<Served> {
  const requests: Served['requests'] = [];
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const range = req.headers.range;
    requests.push({ path: req.url ?? '', range });
    if (req.url === '/redirect') {
      res.writeHead(302, { location: '/model.zip' }).end();
      return;
    }
    if (req.url === '/bad-redirect') {
      res.writeHead(302, { location: 'http://[not-a-host/model.zip' }).end();
      return;
    }
    if (req.url === '/ftp-redirect') {
      res.writeHead(301, { location: 'ftp://example.org/model.zip' }).end();
      return;
    }
    if (req.url !== '/model.zip') {
      res.writeHead(404).end('not found');
      return;
    }
    const m = mode(requests.filter((r) => r.path === '/model.zip').length);
    if (m === 'hang') return;
    let start = 0;
    const ranged = m !== 'no-range' && range !== undefined ? /^bytes=(\d+)-$/.exec(range) : null;
    if (ranged) {
      start = Number(ranged[1]);
      if (start >= archive.length) {
        res.writeHead(416, { 'content-range': `bytes */${archive.length}` }).end();
        return;
      }
      res.writeHead(206, {
        'content-length': archive.length - start,
        'content-range': `bytes ${start}-${archive.length - 1}/${archive.length}`,
      });
    } else {
      res.writeHead(200, { 'content-length': archive.length });
    }
    const body = archive.subarray(start);
    if (m === 'drop') {
      // Send about half, then cut the connection.
      res.write(body.subarray(0, Math.floor(body.length / 2)), () => setTimeout(() => res.socket?.destroy(), 20));
      return;
    }
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

test('download through a redirect, install, and delete the .part file', async () => {
  const archive = await makeArchive();
  const s = await serve(archive);
  try {
    const results = join(tempDir(), 'results');
    const progress: number[] = [];
    const r = await downloadAndInstall(`${s.url}/redirect`, {
      resultsFolder: results,
      onProgress: (d, t) => {
        assert.equal(t, archive.length);
        progress.push(d);
      },
    });
    assert.deepEqual(r.installed, [join(results, 'nnUNet', ...MODEL.split('/'))]);
    assert.equal(progress.at(-1), archive.length);
    assert.equal(readFileSync(join(results, 'nnUNet', MODEL, 'plans.json'), 'utf8'), '{"num_classes": 2}');
    assert.equal(
      statSync(join(results, 'nnUNet', MODEL, 'fold_0', 'model_final_checkpoint.safetensors')).size,
      200_000,
    );
    assert.deepEqual(readdirSync(results), ['nnUNet'], 'the .part file is gone');
    assert.deepEqual(
      s.requests.map((q) => q.path),
      ['/redirect', '/model.zip'],
    );
  } finally {
    await s.close();
  }
});

test('a connection dropped half-way is resumed with a Range request within the call', async () => {
  const archive = await makeArchive();
  const s = await serve(archive, (n) => (n === 1 ? 'drop' : 'ok'));
  try {
    const results = join(tempDir(), 'results');
    await downloadAndInstall(`${s.url}/model.zip`, { resultsFolder: results });
    assert.equal(s.requests.length, 2);
    assert.equal(s.requests[0]?.range, undefined);
    const resumedAt = Number(/^bytes=(\d+)-$/.exec(s.requests[1]?.range ?? '')?.[1]);
    assert.ok(resumedAt > 0 && resumedAt <= archive.length / 2, `resumed at ${resumedAt}`);
    assert.equal(
      statSync(join(results, 'nnUNet', MODEL, 'fold_0', 'model_final_checkpoint.safetensors')).size,
      200_000,
    );
    assert.deepEqual(readdirSync(results), ['nnUNet']);
  } finally {
    await s.close();
  }
});

test('without retries the interrupted download stays as .part and the next call resumes it', async () => {
  const archive = await makeArchive();
  const s = await serve(archive, (n) => (n === 1 ? 'drop' : 'ok'));
  try {
    const results = join(tempDir(), 'results');
    const url = `${s.url}/model.zip`;
    await assert.rejects(
      downloadAndInstall(url, { resultsFolder: results, retries: 0 }),
      /The download of .* was interrupted after \d+ of \d+ bytes: run the same command again to resume from .*\.part/,
    );
    const part = partFilePath(url, results);
    const partial = statSync(part).size;
    assert.ok(partial > 0 && partial < archive.length);
    assert.ok(archive.subarray(0, partial).equals(readFileSync(part)), 'the .part holds the first bytes');
    assert.equal(existsSync(join(results, 'nnUNet')), false, 'nothing installed');
    await downloadAndInstall(url, { resultsFolder: results, retries: 0 });
    assert.equal(s.requests[1]?.range, `bytes=${partial}-`);
    assert.equal(existsSync(part), false);
    assert.equal(readFileSync(join(results, 'nnUNet', MODEL, 'plans.json'), 'utf8'), '{"num_classes": 2}');
  } finally {
    await s.close();
  }
});

test('a server that ignores Range restarts the file; a complete .part is answered 416; a wrong prefix is deleted', async () => {
  const archive = await makeArchive();
  const s = await serve(archive, (n) => (n === 1 ? 'no-range' : 'ok'));
  try {
    const dir = tempDir();
    const part = join(dir, 'x.part');
    writeFileSync(part, Buffer.from('garbage'));
    await downloadToPart(`${s.url}/model.zip`, part); // Range ignored -> 200 -> rewritten from the start
    assert.equal(s.requests[0]?.range, 'bytes=7-');
    assert.ok(readFileSync(part).equals(archive));
    await downloadToPart(`${s.url}/model.zip`, part); // 416: already complete, unchanged
    assert.equal(s.requests[1]?.range, `bytes=${archive.length}-`);
    assert.ok(readFileSync(part).equals(archive));
    // A .part whose first bytes are not the archive's: completed by Range, then refused by the
    // installer's checks and deleted, with nothing installed.
    const results = tempDir();
    const url = `${s.url}/model.zip`;
    const bad = Buffer.from(archive.subarray(0, 1000));
    bad.fill(0x41, 100, 900);
    writeFileSync(partFilePath(url, results), bad);
    await assert.rejects(
      downloadAndInstall(url, { resultsFolder: results }),
      /\.part is not a readable zip archive \(a damaged local header/,
    );
    assert.deepEqual(readdirSync(results), []);
  } finally {
    await s.close();
  }
});

test('404, refused connection, unknown host and silence give one clear sentence each', async () => {
  const s = await serve(await makeArchive(), () => 'hang');
  const results = tempDir();
  try {
    await assert.rejects(
      downloadAndInstall(`${s.url}/missing.zip`, { resultsFolder: results }),
      (e: Error & { code?: string }) => {
        assert.equal(e.code, 'ERR_NOT_FOUND');
        assert.match(e.message, /missing\.zip does not exist \(HTTP 404\)/);
        return true;
      },
    );
    await assert.rejects(
      downloadAndInstall(`${s.url}/model.zip`, { resultsFolder: results, timeoutMs: 300 }),
      /The host 127\.0\.0\.1:\d+ could not be reached \(no answer within 0\.3 s\): .*nnUNet_install_pretrained_model_from_zip/,
    );
  } finally {
    await s.close();
  }
  // The port is closed now.
  await assert.rejects(
    downloadAndInstall(`${s.url}/model.zip`, { resultsFolder: results }),
    /The host 127\.0\.0\.1:\d+ could not be reached \(ECONNREFUSED\): check the network connection, or download .* on a machine with internet access and install the file with nnUNet_install_pretrained_model_from_zip FILE\.zip\./,
  );
  await assert.rejects(
    downloadAndInstall('http://nnunet-test.invalid/model.zip', { resultsFolder: results }),
    /The host nnunet-test\.invalid could not be reached \((ENOTFOUND|EAI_AGAIN)\)/,
  );
  assert.deepEqual(readdirSync(results), [], 'no .part left by failed connections');
});

test('CLI: unknown task names, the model list and its --export JSON', () => {
  const cli = (name: string, args: string[]) =>
    spawnSync(process.execPath, [join(PACKAGE_ROOT, 'dist', 'src', 'cli', `${name}.js`), ...args], {
      env: { ...process.env, RESULTS_FOLDER: tempDir() },
      encoding: 'utf8',
    });
  const bad = cli('download-pretrained-model', ['Task999_Nothing']);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /"Task999_Nothing" is not available: run nnUNet_print_available_pretrained_models/);
  const dir = tempDir();
  const list = cli('print-available-pretrained-models', ['--export', dir]);
  assert.equal(list.status, 0, list.stderr);
  assert.match(
    list.stdout,
    /^The following pretrained models are available:\n\n\nTask001_BrainTumour\nBrain Tumor Segmentation/,
  );
  const json = JSON.parse(readFileSync(join(dir, 'available_models.json'), 'utf8')) as Record<
    string,
    { description: string; url: string | string[] }
  >;
  assert.equal(Object.keys(json).length, 27);
  assert.equal(
    json.Task004_Hippocampus?.url,
    'https://zenodo.org/record/4003545/files/Task004_Hippocampus.zip?download=1',
  );
  assert.equal(json.Task082_BraTS2020?.url?.length, 4);
  assert.match(readFileSync(join(dir, 'available_models.json'), 'utf8'), /J\\u00fclich/, "Python's ensure_ascii");
});

/** A throw-away self-signed certificate (P-256, CN=localhost), so that TLS verification fails for real. */
const SELF_SIGNED_KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgy7mkysEjLXwn6k5H
UQu4gIvKekfklOS4V/FEsVl4zAWhRANCAATelT7ubY76QKeTI3zWu54scNRQYDHI
SHctrYlOKPuzJ4aCwwnXOZfTE0f3se1dmLiYHbJ+SKGeXDM5LqQB4ewY
-----END PRIVATE KEY-----`;
const SELF_SIGNED_CERT = `-----BEGIN CERTIFICATE-----
MIIBfzCCASWgAwIBAgIUaZOR1ebavFZ0dX1CGR5cdPwNXmcwCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTEyNjIzMTYyOFoYDzIxMjYxMTAy
MjMxNjI4WjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAATelT7ubY76QKeTI3zWu54scNRQYDHISHctrYlOKPuzJ4aCwwnXOZfT
E0f3se1dmLiYHbJ+SKGeXDM5LqQB4ewYo1MwUTAdBgNVHQ4EFgQU0rvpyBZWLg3q
4T0415y5oeWVauIwHwYDVR0jBBgwFoAU0rvpyBZWLg3q4T0415y5oeWVauIwDwYD
VR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNIADBFAiBvcXS4yykdIy1DNvQ+Bdw9
9ETvtqaq/F3mTsnV80EDYAIhAII8c6Q+qOBe+hJSypjCiVcBD090DfUPoMDZYkNs
U8r7
-----END CERTIFICATE-----`;

async function listen(server: Server | TcpServer): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

test('TLS failures, HTTP parse errors and unknown codes are one ERR_NETWORK sentence, never a raw error', async () => {
  const results = tempDir();
  const isNetwork = (message: RegExp) => (e: unknown) => {
    assert.ok(e instanceof NnunetError, `not an NnunetError: ${String(e)}`);
    assert.equal(e.code, 'ERR_NETWORK');
    assert.match(e.message, message);
    return true;
  };
  // A certificate that does not verify (self-signed).
  const tls = createHttpsServer({ key: SELF_SIGNED_KEY, cert: SELF_SIGNED_CERT }, (_q, r) => r.end('x'));
  const tlsHost = await listen(tls);
  try {
    await assert.rejects(
      downloadAndInstall(`https://${tlsHost}/model.zip`, { resultsFolder: results }),
      isNetwork(
        /^The secure connection to 127\.0\.0\.1:\d+ failed \((DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|[A-Z_]*CERT[A-Z_]*): its TLS certificate is not trusted here\): .*NODE_EXTRA_CA_CERTS.*nnUNet_install_pretrained_model_from_zip FILE\.zip\.$/,
      ),
    );
  } finally {
    tls.close();
  }
  // https:// to a plain HTTP server: the TLS handshake fails (EPROTO).
  const plain = await serve(await makeArchive());
  try {
    await assert.rejects(
      downloadAndInstall(`${plain.url.replace('http:', 'https:')}/model.zip`, { resultsFolder: results }),
      isNetwork(
        /^The secure connection to 127\.0\.0\.1:\d+ failed \(EPROTO\): check the network connection and the URL/,
      ),
    );
  } finally {
    await plain.close();
  }
  // A server that answers something that is not HTTP: an llhttp code (HPE_*) no list knows.
  const garbage = createTcpServer((c) => c.on('data', () => c.end('garbage\r\n\r\n')));
  const garbageHost = await listen(garbage);
  try {
    await assert.rejects(
      downloadAndInstall(`http://${garbageHost}/model.zip`, { resultsFolder: results }),
      isNetwork(/^The connection to 127\.0\.0\.1:\d+ failed \(HPE_[A-Z_]+\): check the network connection and the URL/),
    );
  } finally {
    garbage.close();
  }
  // Codes that cannot be produced locally map the same way.
  const url = 'https://zenodo.org/record/1/files/x.zip';
  const mapped = (code: string | undefined, message = 'm') =>
    requestFailure(url, Object.assign(new Error(message), code === undefined ? {} : { code }), 1000);
  assert.match(
    mapped('CERT_HAS_EXPIRED').message,
    /^The secure connection to zenodo\.org failed \(CERT_HAS_EXPIRED: its TLS/,
  );
  assert.match(mapped('SELF_SIGNED_CERT_IN_CHAIN').message, /failed \(SELF_SIGNED_CERT_IN_CHAIN: its TLS certificate/);
  assert.match(mapped('UNABLE_TO_GET_ISSUER_CERT_LOCALLY').message, /its TLS certificate is not trusted/);
  assert.match(mapped('ERR_TLS_CERT_ALTNAME_INVALID').message, /its TLS certificate is not trusted/);
  assert.match(
    mapped('ERR_SSL_WRONG_VERSION_NUMBER').message,
    /^The secure connection to zenodo\.org failed \(ERR_SSL_/,
  );
  assert.match(mapped('ECONNRESET').message, /^The host zenodo\.org could not be reached \(ECONNRESET\)/);
  assert.match(mapped('E_SOMETHING_NEW').message, /^The connection to zenodo\.org failed \(E_SOMETHING_NEW\): /);
  assert.match(
    mapped(undefined, 'socket hang up').message,
    /^The connection to zenodo\.org failed \(socket hang up\): /,
  );
  for (const code of ['CERT_HAS_EXPIRED', 'EPROTO', 'E_SOMETHING_NEW', undefined])
    assert.equal(mapped(code).code, 'ERR_NETWORK');
  assert.deepEqual(readdirSync(results), [], 'no .part left by failed connections');
});

test('a redirect to a bad Location is a sentence, not an uncaught exception', async () => {
  const s = await serve(await makeArchive());
  const results = tempDir();
  try {
    for (const path of ['/bad-redirect', '/ftp-redirect']) {
      await assert.rejects(downloadAndInstall(`${s.url}${path}`, { resultsFolder: results }), (e) => {
        assert.ok(e instanceof NnunetError);
        assert.equal(e.code, 'ERR_NOT_FOUND');
        assert.match(
          e.message,
          /redirects to "(http:\/\/\[not-a-host|ftp:\/\/example\.org)\/model\.zip", which is not an http:\/\/ or https:\/\/ URL: the server is misconfigured/,
        );
        return true;
      });
    }
    assert.deepEqual(
      s.requests.map((q) => q.path),
      ['/bad-redirect', '/ftp-redirect'],
    );
  } finally {
    await s.close();
  }
});

test('a .part that cannot be written (disk full, a folder in the way) stops at once, naming it', async () => {
  const archive = await makeArchive();
  const s = await serve(archive);
  try {
    const url = `${s.url}/model.zip`;
    const results = tempDir();
    const part = partFilePath(url, results);
    mkdirSync(part);
    await assert.rejects(downloadAndInstall(url, { resultsFolder: results }), (e) => {
      assert.ok(e instanceof NnunetError);
      assert.equal(
        e.message,
        `Writing the partial download ${part} failed (EISDIR: it is a folder): free disk space or make ${results} writable, then run the same command again to resume.`,
      );
      return true;
    });
    assert.equal(s.requests.length, 1, 'not retried');
    if (existsSync('/dev/full')) {
      // Writes to /dev/full fail with ENOSPC, as on a full disk.
      const results2 = tempDir();
      const part2 = partFilePath(url, results2);
      symlinkSync('/dev/full', part2);
      await assert.rejects(
        downloadAndInstall(url, { resultsFolder: results2, retries: 3 }),
        new RegExp(
          `^NnunetError: Writing the partial download ${part2.replace(/[.]/g, '\\.')} failed \\(ENOSPC: the disk is full\\): free disk space`,
        ),
      );
      assert.equal(s.requests.length, 2, 'one request, no retries');
    }
  } finally {
    await s.close();
  }
});
