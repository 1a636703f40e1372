#!/usr/bin/env node
// Where a warm (Cache API) load of the 100 MB model spends its time in headless Chromium:
// per-stage medians in a page whose runtime is already started, then the whole load in fresh
// pages (same browser profile, so the cache persists; each page starts its own runtime).
//
//   node benches/e2e/cache_breakdown.mjs [--dir target/load-model] [--runs 5] [--variant relaxed]
//        [--static-max-age 3600]
//
// --static-max-age N serves the SDK's files (/js/dist/, the wasm builds included) cacheable
// for N seconds, as a deployment would, so fresh pages can reuse the compiled wasm (V8's code
// cache); by default the test server sends everything no-store.
const { chromium } = await import(new URL('../../js/node_modules/playwright-core/index.mjs', import.meta.url).href);
import { serve } from '../../js/test/browser/server.mjs';
import { argReader, median } from './stats.mjs';

const opt = argReader(process.argv.slice(2));
const dir = opt('dir', 'target/load-model');
const runs = Number(opt('runs', '5'));
const variant = opt('variant', 'relaxed');
const staticMaxAge = Number(opt('static-max-age', '0'));
const server = await serve({ isolated: true, staticMaxAge });
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--disable-gpu'] });
const context = await browser.newContext();
const page1 = async (extra) => {
  const page = await context.newPage();
  const q = new URLSearchParams({ model: `/${dir}/mlp_100mb.wtb`, runs: String(runs), variant, cache: 'wasm-torch-breakdown', ...extra });
  await page.goto(`${server.url}/benches/e2e/web/cache_breakdown.html?${q}`);
  await page.waitForFunction(() => window.__breakdown, null, { timeout: 600_000, polling: 100 });
  const r = await page.evaluate(() => window.__breakdown);
  await page.close();
  if (!r.ok) throw new Error(r.error);
  return r;
};
try {
  const r = await page1({});
  console.log(`${variant} build, ${dir}/mlp_100mb.wtb, warm runtime, median of ${runs} (ms):`);
  for (const [k, v] of Object.entries(r)) if (typeof v === 'number') console.log(`  ${k.padEnd(16)} ${v.toFixed(1)}`);
  const fresh = [];
  for (let i = 0; i < runs; i++) fresh.push(await page1({ fresh: '1' }));
  if (fresh.some((f) => f.cache !== 'hit')) throw new Error(`fresh pages: expected cache hits, got ${fresh.map((f) => f.cache)}`);
  console.log(`fresh page (SDK files ${staticMaxAge > 0 ? `cacheable, max-age ${staticMaxAge}` : 'no-store'}), median of ${runs}: Session.load ${median(fresh.map((f) => f.freshLoad)).toFixed(1)} ms (loadStats.ms ${median(fresh.map((f) => f.freshStatsMs)).toFixed(1)}), first run ${median(fresh.map((f) => f.freshFirstRun)).toFixed(1)} ms`);
} finally {
  await browser.close();
  await server.close();
}
