// Network faults while streaming a model from a URL, against a local HTTP server that
// misbehaves on purpose: a connection cut mid-stream, a body shorter than its Content-Length, an
// HTTP 404 / 500, an HTML error page, a refused connection. Each must be a typed error
// (NETWORK or BAD_FILE) within a second of the fault, keep no memory, and leave the next load
// working; a cut download from a server that supports ranges is resumed where it stopped.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { Session, Tensor, NetworkError, BadFileError } from '../dist/index.js';
import { fixture, haveFixtures, runnableVariants } from './helpers.mjs';

const skip = !haveFixtures() ? 'fixtures missing: run js/scripts/test.sh (it writes them)' : runnableVariants().length === 0 ? 'no wasm build' : false;
const variant = runnableVariants().includes('simd') ? 'simd' : runnableVariants()[0];
const MODEL = haveFixtures() ? readFileSync(fixture('multi_chunk.wtb')) : new Uint8Array(0);
const HALF = Math.floor(MODEL.length / 2);
const ETAG = '"multi-chunk-v1"';

let server;
let base;
/** When the server cut or ended the last faulty response (performance.now()). */
let faultAt = 0;
/** Requests with a Range header, by path. */
const rangeRequests = [];

/** Sends the first HALF bytes of the model, then destroys the connection after `delayMs`. */
function cutAfterHalf(res, extraHeaders = {}) {
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': MODEL.length, ...extraHeaders });
  res.write(MODEL.subarray(0, HALF), () => {
    setTimeout(() => {
      faultAt = performance.now();
      res.socket.destroy();
    }, 200);
  });
}

before(async () => {
  server = createServer((req, res) => {
    const path = new URL(req.url, 'http://x').pathname;
    const range = req.headers.range;
    if (range) rangeRequests.push(path);
    switch (path) {
      case '/ok.wtb':
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': MODEL.length });
        return res.end(MODEL);
      case '/cut.wtb':
        return cutAfterHalf(res);
      case '/short.wtb':
        // Announces the whole file, sends half, then closes the connection cleanly.
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': MODEL.length });
        return res.write(MODEL.subarray(0, HALF), () => {
          faultAt = performance.now();
          res.socket.end();
        });
      case '/resumable.wtb': {
        const headers = { 'accept-ranges': 'bytes', etag: ETAG };
        const m = /^bytes=(\d+)-$/.exec(range ?? '');
        if (m && req.headers['if-range'] === ETAG) {
          const start = Number(m[1]);
          res.writeHead(206, {
            ...headers,
            'content-type': 'application/octet-stream',
            'content-length': MODEL.length - start,
            'content-range': `bytes ${start}-${MODEL.length - 1}/${MODEL.length}`,
          });
          return res.end(MODEL.subarray(start));
        }
        return cutAfterHalf(res, headers);
      }
      case '/changed.wtb': {
        // Claims range support, but answers a resume with the whole (changed) file: must not be spliced.
        if (range) {
          res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': MODEL.length });
          return res.end(MODEL);
        }
        return cutAfterHalf(res, { 'accept-ranges': 'bytes', etag: ETAG });
      }
      case '/server-error.wtb':
        res.writeHead(500, { 'content-type': 'text/plain' });
        return res.end('internal error');
      case '/error-page.wtb':
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        return res.end('<!doctype html><title>Sign in</title><p>Please sign in to download this file.</p>');
      default:
        res.writeHead(404, { 'content-type': 'text/plain' });
        return res.end('not found');
    }
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  base = `http://127.0.0.1:${server.address().port}`;
});
after(() => new Promise((ok) => server.close(ok)));

/** A correct run of the multi-chunk fixture. */
async function checkRuns(s) {
  const { sums } = JSON.parse(readFileSync(fixture('multi_chunk.json'), 'utf8'));
  const out = await s.run({ x: new Tensor('f32', [1, 2], [2]) });
  sums.forEach((want, k) => assert.equal(out[`s${k}`].data[0], want, `s${k}`));
  assert.deepEqual([...out.y.data], [2, 3]);
}

/** Expects `load` to reject with `Cls`/`code`, within `withinMs` of the server's fault when given. */
async function expectFault(url, Cls, code, { withinMs, options = {} } = {}) {
  let err;
  try {
    const s = await Session.load(url, { variant, maxResumes: 0, ...options });
    s.release();
  } catch (e) {
    err = e;
  }
  const at = performance.now();
  assert.ok(err, `${url}: loaded although the server failed`);
  assert.ok(err instanceof Cls && err.code === code, `${url}: expected ${code}, got ${err.name}/${err.code}: ${err.message}`);
  if (withinMs !== undefined) assert.ok(at - faultAt <= withinMs, `${url}: the error came ${(at - faultAt).toFixed(0)} ms after the fault`);
  return err.message;
}

test('faults are typed errors within a second, keep no memory, and the next load works', { skip }, async (t) => {
  const first = await Session.load(`${base}/ok.wtb`, { variant });
  await checkRuns(first);
  const memory = first.memoryBytes;
  first.release();
  for (let round = 0; round < 3; round++) {
    const cut = await expectFault(`${base}/cut.wtb`, NetworkError, 'NETWORK', { withinMs: 1000 });
    assert.match(cut, new RegExp(`after ${HALF} of ${MODEL.length} bytes`));
    const short = await expectFault(`${base}/short.wtb`, NetworkError, 'NETWORK', { withinMs: 1000 });
    assert.match(short, /bytes/);
    assert.match(await expectFault(`${base}/server-error.wtb`, NetworkError, 'NETWORK'), /HTTP 500/);
    assert.match(await expectFault(`${base}/missing.wtb`, BadFileError, 'BAD_FILE'), /HTTP 404/);
    assert.match(await expectFault(`${base}/error-page.wtb`, BadFileError, 'BAD_FILE'), /HTML page/);
    if (round === 0) t.diagnostic(`cut: ${cut}\nshort: ${short}`);
  }
  // A port nobody listens on: the connection is refused.
  const closed = createServer();
  await new Promise((ok) => closed.listen(0, '127.0.0.1', ok));
  const port = closed.address().port;
  await new Promise((ok) => closed.close(ok));
  await expectFault(`http://127.0.0.1:${port}/x.wtb`, NetworkError, 'NETWORK');

  const next = await Session.load(`${base}/ok.wtb`, { variant });
  await checkRuns(next);
  t.diagnostic(`wasm memory: ${(memory / 2 ** 20).toFixed(1)} MiB after the first load, ${(next.memoryBytes / 2 ** 20).toFixed(1)} MiB after 16 failed loads and another`);
  assert.ok(next.memoryBytes <= memory + (1 << 20), `memory grew from ${memory} to ${next.memoryBytes} over the failed loads`);
  next.release();
});

test('a cut download is resumed with a Range request where the server supports it', { skip }, async () => {
  rangeRequests.length = 0;
  const s = await Session.load(`${base}/resumable.wtb`, { variant });
  assert.equal(s.loadStats.resumes, 1);
  assert.equal(s.loadStats.bytes, MODEL.length);
  assert.deepEqual(rangeRequests, ['/resumable.wtb']);
  await checkRuns(s);
  s.release();
  // maxResumes: 0 turns it off.
  await expectFault(`${base}/resumable.wtb`, NetworkError, 'NETWORK', { withinMs: 1000, options: { maxResumes: 0 } });
});

test('a resume answered with the whole file (not 206 at the right offset) is a NETWORK error, not a spliced file', { skip }, async () => {
  const m = await expectFault(`${base}/changed.wtb`, NetworkError, 'NETWORK', { options: { maxResumes: 3 } });
  assert.match(m, /did not resume at byte \d+ \(HTTP 200/);
});

test('maxResumes must be a non-negative integer', { skip }, async () => {
  await assert.rejects(Session.load(`${base}/ok.wtb`, { variant, maxResumes: -1 }), (e) => e.code === 'INVALID_INPUT');
});
