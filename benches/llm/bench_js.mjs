#!/usr/bin/env node
// JS side of the LLM benchmark: one engine, one environment, one thread count per process.
//
//   node benches/llm/bench_js.mjs --env node|chromium --engine wasm-torch|wllama --threads N
//        --prompt DIR/prompt.json --model FILE [--variant simd|threads] [--runs 3]
//        [--new-tokens 128] [--profile OUT.json]
//
// Prints one JSON line: {engine, env, threads, variant, prefill_tok_s, decode_tok_s, runs,
// peak_rss_mb, ...} or {..., error}.
// - node: wasm-torch in this process (wt_loop.mjs); peak_rss_mb = this process's VmHWM.
// - chromium: headless /usr/bin/chromium (playwright-core) on benches/llm/web/index.html,
//   served from the repository root with COOP/COEP (SharedArrayBuffer for both engines' thread
//   pools). wasm-torch runs in a module Worker; wllama in its own worker. FILE must lie under
//   the repository root (run.sh links it into target/llm-bench). peak_rss_mb = the largest
//   VmHWM among the browser's processes (the renderer that holds the page, its Workers and
//   their wasm memory), read before the page closes; one fresh browser per configuration.
// --profile (node, wasm-torch): one extra run with per-op profiling over its decode steps,
// written to OUT.json ({runs, totalMs, ops: [{name, calls, ms}]}).
import { readFileSync, writeFileSync, readdirSync } from 'node:fs';
import { join, dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import { loadavg } from 'node:os';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const env = opt('env');
const engine = opt('engine');
const threads = Number(opt('threads', '1'));
const variant = opt('variant', threads > 1 ? 'threads' : 'simd');
const runs = Number(opt('runs', '3'));
const newTokens = Number(opt('new-tokens', '128'));
const model = resolve(opt('model'));
const profileOut = opt('profile');
const prompt = JSON.parse(readFileSync(opt('prompt'), 'utf8'));

/** A VmHWM-like field of /proc/PID/status, in MiB (undefined when the process is gone). */
function statusMb(pid, field) {
  try {
    const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`${field}:\\s+(\\d+)`));
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** `pid` and all its descendants (from /proc/* /stat parent ids). */
function processTree(pid) {
  const parent = new Map();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parent.set(Number(d), ppid);
    } catch {
      // exited meanwhile
    }
  }
  const out = [pid];
  for (let i = 0; i < out.length; i++) for (const [c, p] of parent) if (p === out[i]) out.push(c);
  return out;
}

async function inNode() {
  if (engine !== 'wasm-torch') throw new Error('in Node only wasm-torch is measured (wllama targets browsers)');
  const { Session, Tensor } = await import(join(root, 'js/dist/index.js'));
  const { benchWasmTorch } = await import(join(here, 'wt_loop.mjs'));
  const r = await benchWasmTorch({
    Session, Tensor, source: model, variant, threads, prompt: prompt.ids, newTokens, runs,
    profile: Boolean(profileOut), now: () => performance.now(),
  });
  if (profileOut) {
    writeFileSync(profileOut, JSON.stringify(r.decode_profile, null, 1));
    delete r.decode_profile;
  }
  return { ...r, peak_rss_mb: statusMb('self', 'VmHWM'), version: `Node ${process.version}` };
}

async function inChromium() {
  const require = createRequire(join(root, 'js/package.json'));
  const { chromium } = require('playwright-core');
  const { serve } = await import(join(root, 'js/test/browser/server.mjs'));
  const rel = relative(root, model);
  if (rel.startsWith('..')) throw new Error(`${model} is outside the repository root the page is served from`);
  const server = await serve({ root, isolated: true });
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  try {
    const page = await browser.newPage();
    page.on('pageerror', (e) => console.error(`[page error] ${e.message}`));
    const cfg = { engine, threads, variant, runs, newTokens, prompt, model: `/${rel}` };
    await page.goto(`${server.url}/benches/llm/web/index.html?cfg=${encodeURIComponent(JSON.stringify(cfg))}`);
    await page.waitForFunction(() => window.__llmBench, null, { timeout: 1800_000, polling: 500 });
    const r = await page.evaluate(() => window.__llmBench);
    // The browser's own process is the launcher's child; playwright does not expose it in
    // every version, so find chromium processes below this Node process.
    const pids = processTree(process.pid).filter((p) => p !== process.pid);
    const peak = Math.max(...pids.map((p) => statusMb(p, 'VmHWM') ?? 0));
    await page.close();
    if (r.error) throw new Error(r.error);
    return { ...r.ok, peak_rss_mb: peak, browser: `Chromium ${browser.version()}` };
  } finally {
    await browser.close();
    await server.close();
  }
}

const base = { engine, env, threads, variant: engine === 'wasm-torch' ? variant : null };
try {
  const r = env === 'node' ? await inNode() : env === 'chromium' ? await inChromium() : null;
  if (!r) throw new Error('--env must be node or chromium');
  console.log(JSON.stringify({ ...base, prompt_tokens: prompt.ids.length, new_tokens: newTokens, ...r, loadavg_1m: loadavg()[0] }));
} catch (e) {
  console.log(JSON.stringify({ ...base, error: String(e?.message ?? e).split('\n')[0].slice(0, 300) }));
}
// Thread pools (worker_threads) keep Node alive otherwise.
process.exit(0);
