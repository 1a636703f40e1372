#!/usr/bin/env node
// A screenshot of the demo page's object detection section in headless Chromium or Firefox,
// served cross-origin isolated like js/examples/serve.mjs (so the threads build runs in the
// section's Worker). Chromium is driven by playwright-core; Firefox ESR by puppeteer-core over
// WebDriver BiDi (playwright drives only its own patched Firefox builds), as in the browser suite.
//
//   node js/examples/detect-screenshot.mjs chromium|firefox OUT.png [--zoo target/demo-zoo]
//
// Waits for the page's self-check (detections on the sample picture against PyTorch's, see
// js/examples/demo/detect.mjs), prints it, shoots the section, and exits non-zero if the
// check failed. The zoo folder is written by js/examples/demo/detector.py.
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { serve } from '../test/browser/server.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const args = process.argv.slice(2);
const opt = (name, dflt) => (args.includes(name) ? args[args.indexOf(name) + 1] : dflt);
const [engine, out] = args;
if (!['chromium', 'firefox'].includes(engine) || !out || out.startsWith('--')) {
  console.error('usage: node js/examples/detect-screenshot.mjs chromium|firefox OUT.png [--zoo DIR]');
  process.exit(2);
}
const zoo = resolve(ROOT, opt('--zoo', 'target/demo-zoo'));
const TIMEOUT_MS = 300_000;
const VIEWPORT = { width: 1000, height: 820 };

/** Poll `evaluate` until the page has posted its results (plain polling works in both drivers). */
async function results(evaluate) {
  const deadline = Date.now() + TIMEOUT_MS;
  while (Date.now() < deadline) {
    const r = await evaluate().catch(() => null);
    if (r) return r;
    await sleep(500);
  }
  throw new Error(`no result within ${TIMEOUT_MS / 1000} s`);
}

const server = await serve({ root: ROOT, isolated: true });
const url = `${server.url}/js/examples/demo/?zoo=/${zoo.slice(ROOT.length + 1)}&sections=det`;
let browser;
try {
  let page;
  if (engine === 'chromium') {
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--disable-gpu'] });
    page = await browser.newPage({ viewport: VIEWPORT });
  } else {
    const puppeteer = (await import('puppeteer-core')).default;
    browser = await puppeteer.launch({ browser: 'firefox', executablePath: process.env.FIREFOX_PATH ?? '/usr/bin/firefox-esr', headless: true });
    page = await browser.newPage();
    await page.setViewport(VIEWPORT);
  }
  page.on('pageerror', (e) => console.log(`[page error] ${e.message}`));
  await page.goto(url);
  const r = await results(() => page.evaluate(() => window.__wasmTorchResults ?? null));
  console.log(`# ${r.env.userAgent}`);
  for (const t of r.results) console.log(`${t.ok ? 'ok' : 'not ok'} - ${t.name} # ${t.detail}`);
  await page.screenshot({ path: out, fullPage: true });
  console.log(`screenshot: ${out}`);
  process.exitCode = r.results.length > 0 && r.results.every((t) => t.ok) ? 0 : 1;
} finally {
  await browser?.close();
  await server.close();
}
