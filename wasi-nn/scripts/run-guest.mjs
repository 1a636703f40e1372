#!/usr/bin/env node
// Run a WASI preview1 guest with the wasi-nn imports under node:wasi.
//
//   node wasi-nn/scripts/run-guest.mjs [--wasm-torch DIR] [--dir GUEST=HOST ...] [--graph NAME=FILE ...]
//                                   <guest.wasm> [guest args...]
//
// --wasm-torch: the wasm-bindgen output of wasm-torch (wasm_torch.js + wasm_torch_bg.wasm);
// default $WASM_TORCH_WASM_DIR, else js/dist/wasm/simd, else js/dist/wasm/scalar.
// --dir: a preopened directory (repeatable). --graph: a .wtb the guest can load by name
// (wasi-nn load_by_name; the example guest takes `name:NAME` as its model). Exits with the
// guest's exit code.
//
// Node 20's V8 can crash in garbage collection (a fatal "unreachable code" in concurrent
// marking) when wasm-torch grows its memory inside a wasi-nn call from a node:wasi guest that
// itself holds a large memory (seen loading resnet18, 47 MB). Run Node 20 with
// `--no-concurrent-marking`; Node 24 and browser_wasi_shim are not affected.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { WASI } from 'node:wasi';
import { createWasiNnImports } from '../../js/wasi-nn/host.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const args = process.argv.slice(2);
const preopens = {};
const graphs = {};
let wasmTorchDir = process.env.WASM_TORCH_WASM_DIR;
while (args[0]?.startsWith('--')) {
  const flag = args.shift();
  const value = args.shift();
  if (value === undefined) throw new Error(`${flag} needs a value`);
  if (flag === '--dir') {
    const eq = value.indexOf('=');
    if (eq < 1) throw new Error(`--dir wants GUEST=HOST, got ${value}`);
    preopens[value.slice(0, eq)] = value.slice(eq + 1);
  } else if (flag === '--graph') {
    const eq = value.indexOf('=');
    if (eq < 1) throw new Error(`--graph wants NAME=FILE, got ${value}`);
    graphs[value.slice(0, eq)] = new Uint8Array(readFileSync(value.slice(eq + 1)));
  } else if (flag === '--wasm-torch') wasmTorchDir = value;
  else throw new Error(`unknown option ${flag}`);
}
const guest = args.shift();
if (!guest) {
  console.error('usage: run-guest.mjs [--wasm-torch DIR] [--dir GUEST=HOST ...] [--graph NAME=FILE ...] <guest.wasm> [args...]');
  process.exit(64);
}
wasmTorchDir ??= ['js/dist/wasm/simd', 'js/dist/wasm/scalar'].map((d) => join(root, d))
  .find((d) => existsSync(join(d, 'wasm_torch_bg.wasm')));
if (!wasmTorchDir) throw new Error('no wasm-torch wasm build: run js/scripts/build-wasm.sh simd or pass --wasm-torch');

const wasmTorch = await import(pathToFileURL(join(wasmTorchDir, 'wasm_torch.js')).href);
wasmTorch.initSync({ module: readFileSync(join(wasmTorchDir, 'wasm_torch_bg.wasm')) });
wasmTorch.initRuntime?.();

const wasi = new WASI({ version: 'preview1', args: [guest, ...args], env: {}, preopens, returnOnExit: true });
const nn = createWasiNnImports(wasmTorch, { graphs, onError: (m) => process.env.WASI_NN_DEBUG && console.error(`[wasi-nn] ${m}`) });
const { instance } = await WebAssembly.instantiate(readFileSync(guest), { ...wasi.getImportObject(), ...nn });
nn.bind(instance);
process.exitCode = wasi.start(instance);
