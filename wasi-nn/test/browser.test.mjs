// The same guest in headless Chromium and Firefox: @bjorn3/browser_wasi_shim provides WASI
// preview1, the wasi-nn host module and wasm-torch's wasm build are loaded as ES modules over
// HTTP. Chromium is driven by playwright-core, Firefox ESR by puppeteer-core (WebDriver BiDi);
// each is skipped when its browser binary ($CHROMIUM, $FIREFOX) or driver package is missing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, extname, join, normalize } from 'node:path';
import { FIXTURES, GUEST_WASM, ROOT, WASI_NN_DIR, f32s, maxScaledDiff, readNpy, wasmTorchDir } from './helpers.mjs';

// A zoo model exported from PyTorch, to compare the guest's output in the browser with
// PyTorch's own (py-export/zoo/build_zoo.py writes the .wtb, its input and the reference).
const ZOO_MODEL = 'resnet18';
const ZOO = [process.env.WASI_NN_ZOO, join(ROOT, 'target/wasi-nn-zoo'), join(ROOT, 'target/test-zoo'), join(ROOT, 'target/demo-zoo')]
  .filter(Boolean)
  .find((d) => existsSync(join(d, `${ZOO_MODEL}.wtb`)) && existsSync(join(d, `${ZOO_MODEL}.case0.out0.npy`)));

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const FIREFOX = process.env.FIREFOX ?? '/usr/bin/firefox-esr';
let chromium;
let puppeteer;
try {
  ({ chromium } = await import('playwright-core'));
} catch { /* reported as the skip reason */ }
try {
  puppeteer = (await import('puppeteer-core')).default;
} catch { /* reported as the skip reason */ }
const skip = !existsSync(CHROMIUM) ? `no ${CHROMIUM}` : !chromium ? 'playwright-core not installed (npm install in wasi-nn/)' : false;
const skipFirefox = !existsSync(FIREFOX) ? `no ${FIREFOX}` : !puppeteer ? 'puppeteer-core not installed (npm install in wasi-nn/)' : false;

/** Serve fixed directories under URL prefixes (read-only, no directory listing). */
function serve(mounts) {
  const types = { '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm', '.html': 'text/html' };
  const server = createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    if (url.pathname === '/') {
      res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>wasi-nn</title>');
      return;
    }
    for (const [prefix, dir] of Object.entries(mounts)) {
      if (!url.pathname.startsWith(prefix)) continue;
      const rel = normalize(decodeURIComponent(url.pathname.slice(prefix.length)));
      const file = join(dir, rel);
      if (rel.startsWith('..') || !existsSync(file) || !statSync(file).isFile()) break;
      res.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream' }).end(readFileSync(file));
      return;
    }
    res.writeHead(404).end();
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

/** Runs in the page: the guest on `model` and `input`, returning exit code, output and logs. */
async function runInPage({ model, input, args }) {
  const shim = await import('/wasi-nn/node_modules/@bjorn3/browser_wasi_shim/dist/index.js');
  const wt = await import('/wasm-torch/wasm_torch.js');
  await wt.default({ module_or_path: '/wasm-torch/wasm_torch_bg.wasm' });
  wt.initRuntime?.();
  const { createWasiNnImports } = await import('/wasi-nn-host/host.js');
  const bytes = async (u) => new Uint8Array(await (await fetch(u)).arrayBuffer());
  const out = new shim.PreopenDirectory('/out', []);
  const stdout = [];
  const stderr = [];
  const fds = [
    new shim.OpenFile(new shim.File([])),
    shim.ConsoleStdout.lineBuffered((l) => stdout.push(l)),
    shim.ConsoleStdout.lineBuffered((l) => stderr.push(l)),
    new shim.PreopenDirectory('/in', [['model.wtb', new shim.File(await bytes(model))], [input.split('/').pop(), new shim.File(await bytes(input))]]),
    out,
  ];
  const wasi = new shim.WASI(['guest', '/in/model.wtb', `/in/${input.split('/').pop()}`, '/out/o.f32', ...args], [], fds);
  const nn = createWasiNnImports(wt);
  const { instance } = await WebAssembly.instantiate(await bytes('/guest/guest.wasm'), { wasi_snapshot_preview1: wasi.wasiImport, ...nn });
  nn.bind(instance);
  const code = wasi.start(instance);
  const o = out.dir.contents.get('o.f32');
  return { code, stdout, stderr, output: o ? Array.from(o.data) : null };
}

function mounts() {
  const wasmDir = wasmTorchDir();
  assert.ok(wasmDir, 'no wasm-torch wasm build');
  return {
    '/wasi-nn/': WASI_NN_DIR,
    '/wasi-nn-host/': join(WASI_NN_DIR, '..', 'js', 'wasi-nn'),
    '/wasm-torch/': wasmDir,
    '/fixtures/': FIXTURES,
    ...(ZOO ? { '/zoo/': ZOO } : {}),
    '/guest/guest.wasm': GUEST_WASM, // a file: the rest of the path is '' and joins to itself
  };
}

/** The checks, given `run(arg)` that evaluates `runInPage(arg)` in the browser. */
async function checkGuest(t, name, run) {
  const ok = await run({ model: '/fixtures/scale_bias_relu.wtb', input: '/fixtures/x.npy', args: [] });
  assert.equal(ok.code, 0, ok.stderr.join('\n'));
  const want = f32s(readFileSync(join(FIXTURES, 'y.f32')));
  assert.deepEqual(f32s(Buffer.from(ok.output)), want);
  assert.match(ok.stdout[0], /^output 0: 8 values/);
  t.diagnostic(`${name} stdout: ${ok.stdout.join(' | ')}`);
  const bad = await run({ model: '/fixtures/unsupported_op.wtb', input: '/fixtures/x.npy', args: [] });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr.join('\n'), /UnsupportedOperation/);
  if (!ZOO) {
    t.diagnostic(`${name}: no zoo with ${ZOO_MODEL} (set WASI_NN_ZOO): the PyTorch comparison did not run`);
    return;
  }
  const zoo = await run({ model: `/zoo/${ZOO_MODEL}.wtb`, input: `/zoo/${ZOO_MODEL}.case0.in0.npy`, args: [] });
  assert.equal(zoo.code, 0, zoo.stderr.join('\n'));
  const ref = readNpy(readFileSync(join(ZOO, `${ZOO_MODEL}.case0.out0.npy`)));
  const diff = maxScaledDiff(f32s(Buffer.from(zoo.output)), ref.data);
  t.diagnostic(`${name}: ${ZOO_MODEL} through wasi-nn vs PyTorch: max scaled diff ${diff.toExponential(2)}`);
  assert.ok(diff <= 1e-4, `${ZOO_MODEL}: max scaled diff ${diff} > 1e-4`);
}

test('the guest runs in headless Chromium with browser_wasi_shim', { skip }, async (t) => {
  const server = await serve(mounts());
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  try {
    const page = await browser.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(`http://127.0.0.1:${server.address().port}/`);
    await checkGuest(t, 'chromium', (arg) => page.evaluate(runInPage, arg));
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
    server.close();
  }
});

test('the guest runs in headless Firefox ESR with browser_wasi_shim', { skip: skipFirefox }, async (t) => {
  const server = await serve(mounts());
  const browser = await puppeteer.launch({ browser: 'firefox', executablePath: FIREFOX, headless: true });
  try {
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${server.address().port}/`);
    await checkGuest(t, 'firefox', (arg) => page.evaluate(runInPage, arg));
  } finally {
    await browser.close();
    server.close();
  }
});
