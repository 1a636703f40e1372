#!/usr/bin/env node
// Browser side of the end-to-end comparison: headless Chromium, wasm-torch and onnxruntime-web
// on the same page, runs alternating round by round (benches/e2e/web/bench.html).
//
//   node benches/e2e/bench_browser.mjs --zoo target/bench-zoo [--threads 1,2] [--models a,b]
//        [--min-runs 20] [--seconds 3] [--out results/browser.jsonl] [--only ort|wasm-torch]
//        [--warmup-seconds 1] [--worker-variant threads|relaxed|simd]
//
// --only times one engine alone on its page. Paired in one page at two threads on a 2-core
// machine, onnxruntime-web's pool threads keep spinning for a while after each of its runs and
// take a core from the engine that runs next (measured: our two-thread runs were up to 1.5x
// slower beside it than alone); one page per engine removes that neighbour.
//
// The zoo must lie under the repository (the local test server serves the repository root
// with COOP/COEP, so the threads builds and onnxruntime-web's threads can run) and must hold
// the ONNX exports bench_native.py writes. One fresh page per thread count. Each model's row:
// {name, threads, ort_ms, worker_ms, worker_build, main_ms (1 thread), main_build, runs,
// where: 'chromium', browser}; a model that fails has {name, threads, error}. Rows go to
// stdout (JSON lines) and, with --out, to that file.
import { writeFileSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { argReader } from './stats.mjs';
import { serve } from '../../js/test/browser/server.mjs';
const { chromium } = await import(new URL('../../js/node_modules/playwright-core/index.mjs', import.meta.url).href);

const opt = argReader(process.argv.slice(2));
const root = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const zoo = relative(root, resolve(opt('zoo', 'target/bench-zoo')));
if (zoo.startsWith('..')) {
  console.error(`bench_browser: the zoo must be inside the repository (${root}), got ${opt('zoo')}`);
  process.exit(2);
}
const threadCounts = opt('threads', '1,2').split(',').map(Number);
const models = opt('models');
const out = opt('out');

const server = await serve({ isolated: true });
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu'],
});
const rows = [];
try {
  for (const threads of threadCounts) {
    const page = await browser.newPage();
    // A script that fails to load or throws outside the page's try never reports: fail fast.
    const broken = new Promise((_, reject) => {
      page.on('pageerror', (e) => reject(new Error(`page error: ${e.message}`)));
      page.on('crash', () => reject(new Error('the page crashed')));
    });
    if (process.env.BENCH_VERBOSE) page.on('console', (m) => console.error(`console: ${m.text()}`));
    const q = new URLSearchParams({ zoo: `/${zoo}`, threads: String(threads), minRuns: opt('min-runs', '20'), seconds: opt('seconds', '3'), warmupSeconds: opt('warmup-seconds', '1') });
    if (models) q.set('models', models);
    if (opt('worker-variant')) q.set('workerVariant', opt('worker-variant'));
    const onlyEngine = opt('only');
    if (onlyEngine === 'wasm-torch') q.set('ort', '0');
    else if (onlyEngine === 'ort') q.set('wt', '0');
    else if (onlyEngine) throw new Error(`--only takes ort or wasm-torch, not ${onlyEngine}`);
    await page.goto(`${server.url}/benches/e2e/web/bench.html?${q}`);
    await Promise.race([broken, page.waitForFunction(() => window.__bench, null, { timeout: 3_600_000, polling: 1000 })]);
    const r = await page.evaluate(() => window.__bench);
    if (!r.ok) throw new Error(`page failed: ${r.error}`);
    if (!r.crossOriginIsolated) throw new Error('the page is not cross-origin isolated: no threads');
    const version = r.userAgent.match(/Chrome\/[\d.]+/)?.[0] ?? 'chromium';
    for (const row of r.rows) {
      const full = { ...row, where: 'chromium', browser: version };
      rows.push(full);
      console.log(JSON.stringify(full));
    }
    await page.close();
  }
} finally {
  await browser.close();
  await server.close();
}
if (out) writeFileSync(out, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
