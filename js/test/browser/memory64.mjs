// The memory64 build in headless Chromium (Debian's /usr/bin/chromium through playwright-core)
// or Firefox (/usr/bin/firefox-esr through puppeteer-core over WebDriver BiDi), on a page of
// the local test server:
// 1. the tiny fixture and the zoo's resnet18 give bit-identical outputs in the memory64 and
//    relaxed builds;
// 2. the 5.16 GiB model of test/memory64.test.mjs (make_huge, 22 × 240 MiB of f32) is streamed
//    over HTTP by Session.load(url, { variant: 'memory64' }) and runs with exact results; peak
//    wasm memory ≤ weights + 64 MiB (loadStats);
// 3. when the memory64-threads build is there: on a cross-origin-isolated page, a WorkerSession
//    with it (pool of 2) gives the same bits as the relaxed build on the page (same models),
//    and streams and runs the 5.16 GiB model exactly too.
//
//   node js/test/browser/memory64.mjs [chromium|firefox] [--big PATH_UNDER_REPO]
//
// (default chromium; the big model defaults to target/big-m64/huge22.wtb)
//
// The big model is not written here (test/memory64.test.mjs writes it, or `cargo run --release
// -p wasm-torch-js --example make_huge -- target/big-m64/huge22.wtb 22`); without it, or with
// less than 12 GiB of memory available, part 2 is skipped with the reason printed.
// Exit status 0 when everything that ran passed.
import { existsSync } from 'node:fs';
import { freemem } from 'node:os';
import { join } from 'node:path';
import { serve } from './server.mjs';
import { ROOT, JS_DIR, FIXTURES } from '../helpers.mjs';
import { ZOO_DIR } from '../zoo.mjs';

const GiB = 1024 ** 3;
const engine = process.argv[2] && !process.argv[2].startsWith('--') ? process.argv[2] : 'chromium';
if (!['chromium', 'firefox'].includes(engine)) {
  console.error('usage: node js/test/browser/memory64.mjs [chromium|firefox] [--big PATH]');
  process.exit(2);
}
const bi = process.argv.indexOf('--big');
const bigRel = bi > 0 ? process.argv[bi + 1] : 'target/big-m64/huge22.wtb';
if (!existsSync(join(JS_DIR, 'dist/wasm/memory64/wasm_torch_bg.wasm'))) {
  console.log('# memory64 browser test SKIPPED: no memory64 build in dist/wasm (js/scripts/build-wasm.sh memory64)');
  process.exit(0);
}
const rel = (p) => '/' + p.slice(ROOT.length + 1).split('\\').join('/');
const small = [];
if (existsSync(join(FIXTURES, 'tiny.wtb')) && FIXTURES.startsWith(ROOT)) small.push({ name: 'tiny', url: rel(join(FIXTURES, 'tiny.wtb')), inputs: { x: { shape: [2, 4], data: [1, 2, 3, 4, -1, 0.5, 2, -3] } } });
if (existsSync(join(ZOO_DIR, 'resnet18.wtb')) && ZOO_DIR.startsWith(ROOT)) small.push({ name: 'resnet18', url: rel(join(ZOO_DIR, 'resnet18.wtb')), npy: { image: rel(join(ZOO_DIR, 'resnet18.case0.in0.npy')) } });
let bigWhy = false;
if (!existsSync(join(ROOT, bigRel))) bigWhy = `${bigRel} not written (see js/test/memory64.test.mjs)`;
else if (freemem() < 12 * GiB) bigWhy = `only ${(freemem() / GiB).toFixed(1)} GiB of memory available (needs 12)`;
if (bigWhy) console.log(`# 5 GiB model in ${engine} SKIPPED: ${bigWhy}`);

const server = await serve({ isolated: false });
const browser =
  engine === 'chromium'
    ? await (await import('playwright-core')).chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: ['--no-sandbox'] })
    : await (await import('puppeteer-core')).default.launch({ browser: 'firefox', executablePath: process.env.FIREFOX_PATH ?? '/usr/bin/firefox-esr', headless: true });
let failed = 0;
try {
  const page = await browser.newPage();
  await page.goto(`${server.url}/js/test/browser/memory64.html`);
  console.log(`# ${await browser.version()}`);
  // Started on the page and polled: a long evaluation over WebDriver BiDi may give up while the
  // page is busy, and the 5 GiB load takes tens of seconds.
  await page.evaluate(
    ({ small, big }) => {
      window.__m64 = undefined;
      (async () => {
        const { Session, Tensor, detectFeatures, WASM32_MEMORY_LIMIT } = await import('/js/dist/index.js');
        const { parseNpy } = await import('/js/dist/npy.js');
        const { checkHugeOutputs } = await import('/js/test/big/huge-pattern.mjs');
        const out = { features: detectFeatures(), small: [], big: undefined };
        for (const m of small) {
          const feeds = {};
          for (const [n, v] of Object.entries(m.inputs ?? {})) feeds[n] = new Tensor('f32', new Float32Array(v.data), v.shape);
          for (const [n, u] of Object.entries(m.npy ?? {})) feeds[n] = parseNpy(new Uint8Array(await (await fetch(u)).arrayBuffer()));
          const got = {};
          for (const variant of ['relaxed', 'memory64']) {
            const s = await Session.load(m.url, { variant });
            const o = await s.run(feeds);
            got[variant] = { flavor: s.build.flavor, o: Object.fromEntries(Object.entries(o).map(([k, t]) => [k, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength)])) };
            s.release();
          }
          const diffs = Object.entries(got.relaxed.o).filter(([k, a]) => {
            const b = got.memory64.o[k];
            return !b || b.length !== a.length || a.some((x, i) => x !== b[i]);
          });
          out.small.push({ name: m.name, flavor: got.memory64.flavor, outputs: Object.keys(got.relaxed.o).length, differing: diffs.map(([k]) => k) });
        }
        if (big) {
          const t0 = performance.now();
          const s = await Session.load(big.url, { variant: 'memory64' });
          const x = new Float32Array([1, -2]);
          const t1 = performance.now();
          const o = await s.run({ x: new Tensor('f32', x, [2]) });
          const runMs = performance.now() - t1;
          const problems = checkHugeOutputs(o, x, big.count, big.rows);
          out.big = { loadMs: performance.now() - t0 - runMs, runMs, stats: s.loadStats, memory: s.memoryBytes, limit: WASM32_MEMORY_LIMIT, problems: problems.slice(0, 5), nProblems: problems.length, flavor: s.build.flavor };
          s.release();
        }
        return out;
      })().then(
        (r) => (window.__m64 = { ok: true, r }),
        (e) => (window.__m64 = { ok: false, error: String(e && e.stack ? e.stack : e) }),
      );
    },
    { small, big: bigWhy ? undefined : { url: `/${bigRel}`, count: 22, rows: 61440 } },
  );
  let done = null;
  for (const deadline = Date.now() + 900_000; !done && Date.now() < deadline; ) {
    await new Promise((r) => setTimeout(r, 1000));
    done = await page.evaluate(() => window.__m64 ?? null).catch(() => null);
  }
  if (!done) throw new Error('the page did not finish within 15 minutes');
  if (!done.ok) throw new Error(`on the page: ${done.error}`);
  const res = done.r;
  console.log(`# features: ${JSON.stringify(res.features)}`);
  for (const r of res.small) {
    const ok = r.differing.length === 0 && /\+memory64$/.test(r.flavor);
    if (!ok) failed++;
    console.log(`${ok ? 'ok' : 'FAIL'} - ${r.name}: ${r.outputs} output(s) ${r.differing.length ? `differ (${r.differing.join(', ')})` : 'bit-identical'} in ${r.flavor} vs relaxed`);
  }
  if (res.big) {
    const b = res.big;
    const grew = b.stats.peakMemory - b.stats.memoryBefore;
    const ok = b.nProblems === 0 && b.stats.weightBytes > b.limit && grew <= b.stats.weightBytes + 64 * 1024 ** 2;
    if (!ok) failed++;
    console.log(
      `${ok ? 'ok' : 'FAIL'} - 5 GiB model streamed over HTTP in ${b.flavor}: ${(b.stats.bytes / 1e9).toFixed(2)} GB loaded in ${(b.loadMs / 1000).toFixed(1)} s, ` +
        `run ${(b.runMs / 1000).toFixed(2)} s; weights ${(b.stats.weightBytes / GiB).toFixed(2)} GiB, peak wasm memory ${(b.stats.peakMemory / GiB).toFixed(2)} GiB ` +
        `(+${((grew - b.stats.weightBytes) / 1024 ** 2).toFixed(1)} MiB over the weights); ${b.nProblems} wrong output(s) ${b.problems.join('; ')}`,
    );
  }
  await page.close(); // gives the first page's 5 GiB back before the next one
  if (existsSync(join(JS_DIR, 'dist/wasm/memory64-threads/wasm_torch_bg.wasm'))) {
    const isolated = await serve({ isolated: true });
    try {
      const p = await browser.newPage();
      await p.goto(`${isolated.url}/js/test/browser/memory64.html`);
      const threaded = await p.evaluate(async ({ small, big }) => {
        const { Session, Tensor } = await import('/js/dist/index.js');
        const { WorkerSession } = await import('/js/dist/worker-client.js');
        const { parseNpy } = await import('/js/dist/npy.js');
        const { checkHugeOutputs } = await import('/js/test/big/huge-pattern.mjs');
        const rows = [];
        let bigRow;
        if (big) {
          const t0 = performance.now();
          const w = await WorkerSession.load(big.url, { variant: 'memory64-threads', threads: 2 });
          const loadMs = performance.now() - t0;
          const x = new Float32Array([1, -2]);
          const t1 = performance.now();
          const o = await w.run({ x: new Tensor('f32', x, [2]) });
          const runMs = performance.now() - t1;
          const problems = checkHugeOutputs(o, x, big.count, big.rows);
          bigRow = { loadMs, runMs, stats: w.loadStats, flavor: w.build.flavor, nProblems: problems.length, problems: problems.slice(0, 5) };
          await w.terminate();
        }
        for (const m of small) {
          const feeds = {};
          for (const [n, v] of Object.entries(m.inputs ?? {})) feeds[n] = new Tensor('f32', new Float32Array(v.data), v.shape);
          for (const [n, u] of Object.entries(m.npy ?? {})) feeds[n] = parseNpy(new Uint8Array(await (await fetch(u)).arrayBuffer()));
          const a = await Session.load(m.url, { variant: 'relaxed' });
          const ya = await a.run(feeds);
          a.release();
          const w = await WorkerSession.load(m.url, { variant: 'memory64-threads', threads: 2 });
          const yb = await w.run(feeds);
          const differing = Object.keys(ya).filter((k) => !yb[k] || yb[k].data.length !== ya[k].data.length || ya[k].data.some((v, i) => !Object.is(v, yb[k].data[i])));
          rows.push({ name: m.name, flavor: w.build.flavor, threads: w.build.threads, outputs: Object.keys(ya).length, differing });
          await w.terminate();
        }
        return { isolated: crossOriginIsolated, rows, big: bigRow };
      }, { small, big: bigWhy ? undefined : { url: `/${bigRel}`, count: 22, rows: 61440 } });
      for (const r of threaded.rows) {
        const ok = threaded.isolated && r.differing.length === 0 && r.flavor === 'threads+relaxed-simd+memory64' && r.threads === 2;
        if (!ok) failed++;
        console.log(`${ok ? 'ok' : 'FAIL'} - ${r.name}: ${r.outputs} output(s) ${r.differing.length ? `differ (${r.differing.join(', ')})` : 'bit-identical'} in a WorkerSession on ${r.flavor} (${r.threads} threads) vs relaxed`);
      }
      if (threaded.big) {
        const b = threaded.big;
        const grew = b.stats.peakMemory - b.stats.memoryBefore;
        const ok = b.nProblems === 0 && b.flavor === 'threads+relaxed-simd+memory64' && grew <= b.stats.weightBytes + 64 * 1024 ** 2;
        if (!ok) failed++;
        console.log(
          `${ok ? 'ok' : 'FAIL'} - 5 GiB model streamed into a WorkerSession on ${b.flavor}: loaded in ${(b.loadMs / 1000).toFixed(1)} s, run ${(b.runMs / 1000).toFixed(2)} s; ` +
            `peak wasm memory ${(b.stats.peakMemory / GiB).toFixed(2)} GiB (+${((grew - b.stats.weightBytes) / 1024 ** 2).toFixed(1)} MiB over the weights); ${b.nProblems} wrong output(s) ${b.problems.join('; ')}`,
        );
      }
    } finally {
      isolated.close();
    }
  } else {
    console.log('# memory64-threads not checked: no memory64-threads build in dist/wasm (js/scripts/build-wasm.sh memory64-threads)');
  }
} catch (e) {
  failed++;
  console.log(`FAIL - ${e.stack ?? e}`);
} finally {
  await browser.close();
  server.close();
}
console.log(failed ? `# ${failed} failed` : '# all passed');
process.exit(failed ? 1 : 0);
