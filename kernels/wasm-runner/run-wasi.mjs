// Cargo runner for wasm32-wasip1 test binaries under Node's WASI:
//   CARGO_TARGET_WASM32_WASIP1_RUNNER="node --experimental-wasm-relaxed-simd kernels/wasm-runner/run-wasi.mjs"
// (the flag is only needed by Node 20 for +relaxed-simd builds).
import { readFile } from 'node:fs/promises';
import { WASI } from 'node:wasi';
import process from 'node:process';

const [file, ...args] = process.argv.slice(2);
const wasi = new WASI({
  version: 'preview1',
  args: [file, ...args],
  env: process.env,
  preopens: { '/': '/' },
  returnOnExit: true,
});
const module = await WebAssembly.compile(await readFile(file));
const instance = await WebAssembly.instantiate(module, wasi.getImportObject());
process.exitCode = wasi.start(instance);
