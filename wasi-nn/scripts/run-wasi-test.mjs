// Run a Rust test binary built for wasm32-wasip1 under node:wasi (preview1), with the current
// directory preopened as '.', and exit with its status.
//   node wasi-nn/scripts/run-wasi-test.mjs <test.wasm> [libtest args...]
import { readFileSync } from 'node:fs';
import { WASI } from 'node:wasi';

const [file, ...args] = process.argv.slice(2);
if (!file) {
  console.error('usage: run-wasi-test.mjs <test.wasm> [args...]');
  process.exit(64);
}
const wasi = new WASI({ version: 'preview1', args: [file, ...args], env: { RUST_BACKTRACE: '0' }, preopens: { '.': process.cwd() }, returnOnExit: true });
const { instance } = await WebAssembly.instantiate(readFileSync(file), wasi.getImportObject());
process.exitCode = wasi.start(instance);
