// Static file server for the browser tests and the demo.
//
//   node js/test/browser/server.mjs [--port 8080] [--no-isolation]
//
//   node js/test/browser/server.mjs --dip            # Document-Isolation-Policy instead
//
// Serves the repository root (so /js/dist, /js/examples, /zoo-out are reachable), with
// Cross-Origin-Opener-Policy / Cross-Origin-Embedder-Policy headers unless --no-isolation:
// they make the page cross-origin isolated, which SharedArrayBuffer (the threads builds) needs.
// --dip sends `Document-Isolation-Policy: isolate-and-require-corp` instead (Chromium 137+):
// the page is cross-origin isolated without COOP, so it keeps its popups and cross-origin
// windows; other browsers ignore the header and get a single-threaded build.
//
// `?throttle=MBPS` on any file's URL sends it at that many MB/s (10^6 bytes per second): the
// slow network of the run-while-loading test and benchmark (js/bench/run-while-loading.mjs).
import { createServer } from 'node:http';
import { createReadStream, statSync } from 'node:fs';
import { extname, join, normalize, resolve, dirname, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.css': 'text/css',
  '.map': 'application/json',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.svg': 'image/svg+xml',
  '.txt': 'text/plain; charset=utf-8',
};

/**
 * Start a server over `root`; resolves to {url, close()}. `isolated`: `true` for COOP/COEP,
 * `'dip'` for Document-Isolation-Policy, `false` for neither. `staticMaxAge`: seconds the SDK's
 * files (/js/dist/) may be cached by the browser (default 0: nothing is cacheable).
 */
export function serve({ root, port = 0, isolated = true, host = '127.0.0.1', staticMaxAge = 0 } = {}) {
  const base = resolve(root ?? join(dirname(fileURLToPath(import.meta.url)), '../../..'));
  const server = createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    let path = normalize(join(base, decodeURIComponent(url.pathname)));
    if (path !== base && !path.startsWith(base + sep)) {
      res.writeHead(403).end('forbidden');
      return;
    }
    let st;
    try {
      st = statSync(path);
      if (st.isDirectory()) {
        path = join(path, 'index.html');
        st = statSync(path);
      }
    } catch {
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`not found: ${url.pathname}`);
      return;
    }
    const headers = {
      'content-type': TYPES[extname(path)] ?? 'application/octet-stream',
      'content-length': st.size,
      // Everything is fetched afresh (tests see the current build), except, with
      // `staticMaxAge` (seconds), the SDK's own files under /js/dist/: cacheable as a real
      // deployment serves them, so the browser can keep the compiled wasm (V8's code cache
      // for streamed modules) across page loads.
      'cache-control': staticMaxAge > 0 && url.pathname.startsWith('/js/dist/') ? `public, max-age=${staticMaxAge}` : 'no-store',
      // A validator, so the SDK's model cache can tell a changed file from its cached copy.
      etag: `"${st.size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}"`,
    };
    if (isolated === 'dip') {
      headers['document-isolation-policy'] = 'isolate-and-require-corp';
      headers['cross-origin-resource-policy'] = 'same-origin';
    } else if (isolated) {
      headers['cross-origin-opener-policy'] = 'same-origin';
      headers['cross-origin-embedder-policy'] = 'require-corp';
      headers['cross-origin-resource-policy'] = 'same-origin';
    }
    res.writeHead(200, headers);
    if (req.method === 'HEAD') return res.end();
    const rate = Number(url.searchParams.get('throttle'));
    if (rate > 0) return void sendThrottled(path, res, rate * 1e6);
    createReadStream(path).pipe(res);
  });
  return new Promise((ok) =>
    server.listen(port, host, () => {
      const { port: p } = server.address();
      ok({ url: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${p}`, close: () => new Promise((r) => server.close(r)), server });
    }),
  );
}

/** Sends the file at `path` at `bytesPerSecond`, in 64 KiB pieces on a fixed schedule. */
async function sendThrottled(path, res, bytesPerSecond) {
  const start = performance.now();
  let sent = 0;
  let closed = false;
  res.on('close', () => (closed = true));
  try {
    for await (const piece of createReadStream(path, { highWaterMark: 64 * 1024 })) {
      if (closed) return;
      const due = start + (sent / bytesPerSecond) * 1000 - performance.now();
      if (due > 1) await new Promise((r) => setTimeout(r, due));
      sent += piece.length;
      if (!res.write(piece)) {
        await new Promise((r) => {
          const go = () => {
            res.off('drain', go);
            res.off('close', go);
            r();
          };
          res.on('drain', go);
          res.on('close', go);
        });
      }
    }
    res.end();
  } catch {
    res.destroy();
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const port = Number(args[args.indexOf('--port') + 1] || 8080) || 8080;
  const isolated = args.includes('--no-isolation') ? false : args.includes('--dip') ? 'dip' : true;
  const s = await serve({ port, isolated });
  console.log(`serving ${s.url}/ (repo root)${isolated === 'dip' ? ' with Document-Isolation-Policy' : isolated ? ' with COOP/COEP' : ''}`);
  console.log(`demo: ${s.url}/js/examples/demo/`);
}
