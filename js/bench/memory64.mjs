// The cost of the memory64 builds: median ms per inference of a few zoo models in the memory64
// builds against the wasm32 builds, in Node (relaxed, memory64, threads and memory64-threads
// with a pool of 2) or headless Chromium / Firefox (relaxed and memory64 on the page; the
// threads builds need a Worker there and are left out).
//
//   npx -y node@24 js/bench/memory64.mjs [--engine node|chromium|firefox] [--models resnet18,...] [--rounds 7]
//
// The zoo is $WASM_TORCH_ZOO (default target/js-zoo; py-export/zoo/build_zoo.py writes it).
// Each build loads each model once and runs it twice to warm up; then `rounds` rounds run
// every build once per model, interleaved, so load from other processes on the machine hits
// every build alike. Prints a JSON line per model and a Markdown table.
import { existsSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT, JS_DIR } from '../test/helpers.mjs';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const engine = arg('engine', 'node');
const rounds = Number(arg('rounds', '7'));
const zooDir = process.env.WASM_TORCH_ZOO ?? join(ROOT, 'target', 'js-zoo');
const wanted = arg('models', 'resnet18,squeezenet1_1,minilm_seq16').split(',');
const manifest = JSON.parse(readFileSync(join(zooDir, 'manifest.json'), 'utf8'));
const models = wanted.map((n) => {
  const m = manifest.models.find((e) => e.name === n && !e.error);
  if (!m) throw new Error(`${n} is not in ${zooDir}/manifest.json`);
  return { name: n, file: join(zooDir, m.file), inputs: Object.fromEntries(m.inputs.map((s, i) => [s.name, join(zooDir, m.cases[0].inputs[i])])) };
});
const variants = engine === 'node' ? ['relaxed', 'memory64', 'threads', 'memory64-threads'] : ['relaxed', 'memory64'];
for (const v of variants) {
  if (!existsSync(join(JS_DIR, 'dist/wasm', v, 'wasm_torch_bg.wasm'))) throw new Error(`no ${v} build in js/dist/wasm (js/scripts/build-wasm.sh ${v})`);
}

/**
 * Runs in Node or in the page: loads every model in every build, then times interleaved
 * rounds. `where(path)` turns a repository path into what Session.load / fetch take.
 */
async function measure({ indexUrl, npyUrl, models, variants, rounds, threads }) {
  const { Session } = await import(indexUrl);
  const { parseNpy } = await import(npyUrl);
  const read = async (u) =>
    u.startsWith('file:')
      ? new Uint8Array(await (await import('node:fs/promises')).readFile(new URL(u)))
      : new Uint8Array(await (await fetch(u)).arrayBuffer());
  const rows = [];
  for (const m of models) {
    const feeds = {};
    for (const [n, u] of Object.entries(m.inputs)) feeds[n] = parseNpy(await read(u));
    const sessions = {};
    for (const v of variants) {
      sessions[v] = await Session.load(m.model, { variant: v, threads: v.endsWith('threads') ? threads : false });
      for (let i = 0; i < 2; i++) await sessions[v].run(feeds);
    }
    const times = Object.fromEntries(variants.map((v) => [v, []]));
    for (let r = 0; r < rounds; r++) {
      for (const v of variants) {
        const t = performance.now();
        await sessions[v].run(feeds);
        times[v].push(performance.now() - t);
      }
    }
    const median = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
    const row = { model: m.name, flavors: {}, ms: {} };
    for (const v of variants) {
      row.ms[v] = Number(median(times[v]).toFixed(2));
      row.flavors[v] = sessions[v].build.flavor;
      sessions[v].release();
    }
    rows.push(row);
  }
  return rows;
}

const threads = 2;
let rows;
let engineName = `Node ${process.versions.node}`;
if (engine === 'node') {
  const file = (p) => pathToFileURL(p).href;
  rows = await measure({
    indexUrl: file(join(JS_DIR, 'dist/index.js')),
    npyUrl: file(join(JS_DIR, 'dist/npy.js')),
    models: models.map((m) => ({ name: m.name, model: m.file, inputs: Object.fromEntries(Object.entries(m.inputs).map(([n, p]) => [n, file(p)])) })),
    variants,
    rounds,
    threads,
  });
} else if (engine === 'chromium' || engine === 'firefox') {
  const { serve } = await import('../test/browser/server.mjs');
  const server = await serve({ isolated: false });
  const url = (p) => `${server.url}/${relative(ROOT, p).split('\\').join('/')}`;
  const browser =
    engine === 'chromium'
      ? await (await import('playwright-core')).chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: ['--no-sandbox'] })
      : await (await import('puppeteer-core')).default.launch({ browser: 'firefox', executablePath: process.env.FIREFOX_PATH ?? '/usr/bin/firefox-esr', headless: true });
  engineName = engine === 'chromium' ? `Chromium ${await browser.version()}` : await browser.version();
  try {
    const page = await browser.newPage();
    await page.goto(`${server.url}/js/test/browser/memory64.html`);
    rows = await page.evaluate(measure, {
      indexUrl: `${server.url}/js/dist/index.js`,
      npyUrl: `${server.url}/js/dist/npy.js`,
      models: models.map((m) => ({ name: m.name, model: url(m.file), inputs: Object.fromEntries(Object.entries(m.inputs).map(([n, p]) => [n, url(p)])) })),
      variants,
      rounds,
      threads,
    });
  } finally {
    await browser.close();
    server.close();
  }
} else {
  throw new Error(`--engine node|chromium|firefox, not ${engine}`);
}

const version = engineName;
for (const r of rows) console.log(JSON.stringify({ engine: version, rounds, ...r }));
console.log(`\n${version}, median of ${rounds} interleaved rounds, ms per inference:\n`);
const cols = variants.map((v) => (v.endsWith('threads') ? `${v} (${threads})` : v));
const pairs = [['memory64', 'relaxed'], ['memory64-threads', 'threads']].filter(([a, b]) => variants.includes(a) && variants.includes(b));
console.log(`| model | ${cols.join(' | ')} | ${pairs.map(([a, b]) => `${a} / ${b}`).join(' | ')} |`);
console.log(`|---|${variants.map(() => '---|').join('')}${pairs.map(() => '---|').join('')}`);
const ratios = [];
for (const r of rows) {
  ratios.push(pairs.map(([a, b]) => r.ms[a] / r.ms[b]));
  console.log(`| ${r.model} | ${variants.map((v) => r.ms[v].toFixed(1)).join(' | ')} | ${ratios.at(-1).map((x) => x.toFixed(2)).join(' | ')} |`);
}
for (const [i, [a, b]] of pairs.entries()) {
  const geo = Math.exp(ratios.reduce((s, x) => s + Math.log(x[i]), 0) / ratios.length);
  console.log(`geometric mean ${a} / ${b}: ${geo.toFixed(2)}`);
}
