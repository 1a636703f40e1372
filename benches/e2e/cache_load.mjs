#!/usr/bin/env node
// Cold and warm starts in headless Chromium: a model streamed over HTTP from the local test
// server (cold: downloaded and stored with `cache: name`), then loaded again from the Cache API
// (warm: checked by the digest stored with it, alternating with loads of the same entry
// without its record, checked by the chunk CRCs as before), with every result checked against
// PyTorch's output. Prints the medians.
//
//   .venv/bin/python benches/e2e/make_load_model.py --out target/load-model
//   node benches/e2e/cache_load.mjs [--dir target/load-model] [--runs 7] [--variant relaxed]
// playwright-core is a dev dependency of the npm package (js/node_modules).
const { chromium } = await import(new URL('../../js/node_modules/playwright-core/index.mjs', import.meta.url).href);
import { serve } from '../../js/test/browser/server.mjs';
import { argReader, median } from './stats.mjs';

const opt = argReader(process.argv.slice(2));
const dir = opt('dir', 'target/load-model');
const runs = Number(opt('runs', '7'));
const variant = opt('variant', 'relaxed');
const server = await serve({ isolated: true });
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--disable-gpu'] });
try {
  const page = await browser.newPage();
  const q = new URLSearchParams({ model: `/${dir}/mlp_100mb.wtb`, input: `/${dir}/mlp_100mb.in0.npy`, expect: `/${dir}/mlp_100mb.out0.npy`, runs: String(runs), variant });
  await page.goto(`${server.url}/benches/e2e/web/cache.html?${q}`);
  await page.waitForFunction(() => window.__cacheBench, null, { timeout: 600_000, polling: 500 });
  const r = await page.evaluate(() => window.__cacheBench);
  if (!r.ok) throw new Error(r.error);
  console.log(`${r.userAgent.match(/Chrome\/[\d.]+/)?.[0] ?? ''}, ${variant} build, ${dir}/mlp_100mb.wtb`);
  console.log(`network, no cache, median of 3: load ${median(r.network.map((w) => w.loadMs)).toFixed(0)} ms`);
  console.log(`cold (download + store): load ${r.cold.loadMs.toFixed(0)} ms, first run ${r.cold.firstRunMs.toFixed(0)} ms`);
  for (const [label, list] of [['warm', r.warm], ['warm, no record', r.warmCrcs]]) {
    const checks = [...new Set(list.map((w) => w.check))].join(', ');
    const load = median(list.map((w) => w.loadMs));
    const ready = median(list.map((w) => w.loadMs + w.firstRunMs));
    console.log(`${label} (Cache API, checked by ${checks}), median of ${runs}: load ${load.toFixed(0)} ms, load + first run ${ready.toFixed(0)} ms`);
  }
  console.log(`max scaled diff vs PyTorch: ${Math.max(r.cold.worst, ...r.warm.map((w) => w.worst), ...r.warmCrcs.map((w) => w.worst)).toExponential(2)}`);
} finally {
  await browser.close();
  await server.close();
}
