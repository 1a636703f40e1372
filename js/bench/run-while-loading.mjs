#!/usr/bin/env node
// Run-while-loading benchmark: a local server throttled to a few rates serves image models;
// reports time to first output ÷ download time for `Session.load(url, { runWhileLoading })`
// against load-then-run (median of --runs rounds). The models take a [1,3,224,224] input
// named `image` (export them with js/bench/export-rwl-models.py).
//
//   node js/bench/run-while-loading.mjs DIR [--models resnet50,vit_b_16] [--rates 25,100]
//        [--runs 3] [--variant simd] [--threads N|false] [--browser chromium] [--worker]
//
// Node runs in this process (with --worker, in a WorkerSession: the wasm computes on a worker
// thread while this thread keeps reading the socket); --browser chromium runs the same measurement
// (rwl-measure.mjs) on a headless Chromium page, single-threaded on the page. The throttled
// server (js/test/browser/server.mjs, `?throttle=`) runs in a process of its own, as a network
// would: in the measuring process its sends would wait whenever wasm computes.
import { spawn } from 'node:child_process';
import { resolve, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const opt = (name, dflt) => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : dflt);
const dir = args.find((a, i) => !a.startsWith('--') && !args[i - 1]?.startsWith('--'));
if (!dir) {
  console.error('usage: node js/bench/run-while-loading.mjs DIR [--models a,b] [--rates 25,100] [--runs 3] [--variant V] [--threads N|false] [--browser chromium]');
  process.exit(2);
}
const models = opt('models', 'resnet50,vit_b_16').split(',');
const rates = opt('rates', '25,100').split(',').map(Number);
const runs = Number(opt('runs', 3));
const browser = opt('browser', undefined);
const threadsArg = opt('threads', 'false');
const threads = threadsArg === 'false' ? false : Number(threadsArg);
const ROOT = resolve(fileURLToPath(import.meta.url), '../../..');
const serverProcess = spawn(process.execPath, [fileURLToPath(new URL('../test/browser/server.mjs', import.meta.url)), '--port', String(18000 + Math.floor(Math.random() * 2000))], {
  stdio: ['ignore', 'pipe', 'inherit'],
});
const server = await new Promise((ok, fail) => {
  serverProcess.once('exit', (code) => fail(new Error(`the server exited (${code})`)));
  serverProcess.stdout.on('data', (d) => {
    const m = /serving (http:\/\/[^/\s]+)/.exec(String(d));
    if (m) ok({ url: m[1], close: () => serverProcess.kill() });
  });
});
const urlOf = (m) => `${server.url}/${relative(ROOT, resolve(dir, `${m}.wtb`)).split('\\').join('/')}`;

const results = [];
try {
  if (browser) {
    if (browser !== 'chromium') throw new Error('only --browser chromium is supported');
    const { chromium } = await import('playwright-core');
    const b = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', headless: true, args: ['--headless', '--no-sandbox', '--disable-gpu'] });
    try {
      const page = await b.newPage();
      page.on('console', (m) => console.log(m.text()));
      await page.goto(`${server.url}/js/bench/run-while-loading.html`);
      await page.waitForFunction(() => window.rwlReady === true);
      for (const m of models) {
        for (const mbps of rates) {
          console.log(`# chromium ${m} @ ${mbps} MB/s`);
          const r = await page.evaluate(([url, mbps, runs, variant]) => window.rwlMeasure(url, mbps, runs, variant), [urlOf(m), mbps, runs, opt('variant', 'relaxed')]);
          results.push({ where: 'chromium', model: m, ...r });
        }
      }
    } finally {
      await b.close();
    }
  } else {
    const { Session: MainSession, Tensor } = await import('../dist/index.js');
    const { measure } = await import('./rwl-measure.mjs');
    const worker = args.includes('--worker');
    // measure() needs load/run/release/firstOutputs; a WorkerSession's worker ends with it.
    const { WorkerSession } = await import('../dist/worker-client.js');
    const Session = worker
      ? {
          load: async (url, o) => {
            const s = await WorkerSession.load(url, o);
            return { firstOutputs: s.firstOutputs, run: (i) => s.run(i), release: () => s.terminate() };
          },
        }
      : MainSession;
    const loadOptions = { variant: opt('variant', 'simd'), threads };
    for (const m of models) {
      for (const mbps of rates) {
        console.log(`# node ${m} @ ${mbps} MB/s`);
        const r = await measure({ Session, Tensor, url: urlOf(m), mbps, runs, loadOptions, log: console.log });
        results.push({ where: `node ${worker ? 'WorkerSession ' : ''}${loadOptions.variant}${threads ? ` ${threads} threads` : ''}`, model: m, ...r });
      }
    }
  }
} finally {
  await server.close();
}
console.log('\n| where | model | MB/s | download | inference | load-then-run ÷ download | runWhileLoading ÷ download |');
console.log('|---|---|---|---|---|---|---|');
for (const r of results) {
  const s = (ms) => `${(ms / 1000).toFixed(2)} s`;
  console.log(`| ${r.where} | ${r.model} | ${r.mbps} | ${s(r.downloadMs)} | ${s(r.inferenceMs)} | ${r.plainRatio.toFixed(2)} | ${r.earlyRatio.toFixed(2)} |`);
}
