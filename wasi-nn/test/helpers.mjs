// Shared helpers of the wasi-nn Node tests: where things are, loading wasm-torch's wasm build,
// a fake guest memory with a bump allocator, running the guest under node:wasi, .npy reading.
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { WASI } from 'node:wasi';
import { createWasiNnImports } from '../../js/wasi-nn/host.js';

export const WASI_NN_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const ROOT = resolve(WASI_NN_DIR, '..');
/** Written by `cargo run -p wasm-torch-test-support --bin fixtures -- wasi-nn DIR` (scripts/test.sh does it). */
export const FIXTURES = process.env.WASI_NN_FIXTURES ?? join(WASI_NN_DIR, 'test', 'fixtures');
export const fixture = (name) => join(FIXTURES, name);
export const GUEST_WASM = process.env.WASI_NN_GUEST ??
  join(process.env.WASI_NN_GUEST_TARGET ?? join(ROOT, 'target/wasi-nn-guest'), 'wasm32-wasip1/release/wasm-torch-wasi-nn-guest.wasm');

/** The wasm-bindgen output directory of wasm-torch to use: $WASM_TORCH_WASM_DIR, else js's builds. */
export function wasmTorchDir() {
  const candidates = [
    process.env.WASM_TORCH_WASM_DIR,
    join(ROOT, 'js/dist/wasm/simd'),
    join(ROOT, 'js/dist/wasm/scalar'),
  ].filter(Boolean);
  return candidates.find((d) => existsSync(join(d, 'wasm_torch_bg.wasm')) && existsSync(join(d, 'wasm_torch.js')));
}

let cached;
/** wasm-torch's wasm-bindgen module, instantiated once (synchronously, from the file). */
export async function loadWasmTorch() {
  if (cached) return cached;
  const dir = wasmTorchDir();
  if (!dir) throw new Error('no wasm-torch wasm build: run js/scripts/build-wasm.sh simd (or set WASM_TORCH_WASM_DIR)');
  const mod = await import(pathToFileURL(join(dir, 'wasm_torch.js')).href);
  mod.initSync({ module: readFileSync(join(dir, 'wasm_torch_bg.wasm')) });
  mod.initRuntime?.();
  cached = mod;
  return mod;
}

/** Little-endian f32 values of a file's bytes. */
export const f32s = (buf) => new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));

/** A `.npy` file (v1-3, little-endian, C order) as `{shape, dtype, data}` with typed data. */
export function readNpy(buf) {
  if (buf[0] !== 0x93 || buf.toString('latin1', 1, 6) !== 'NUMPY') throw new Error('not a .npy file');
  const major = buf[6];
  const hlen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const hstart = major === 1 ? 10 : 12;
  const header = buf.toString('latin1', hstart, hstart + hlen);
  const descr = /'descr':\s*'([^']+)'/.exec(header)[1];
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header)[1].split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  if (/'fortran_order':\s*True/.test(header)) throw new Error('Fortran order not supported');
  const body = buf.subarray(hstart + hlen);
  const copy = body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength);
  const types = { '<f4': Float32Array, '<f8': Float64Array, '<i8': BigInt64Array, '<i4': Int32Array, '|u1': Uint8Array, '|b1': Uint8Array };
  const T = types[descr];
  if (!T) throw new Error(`unsupported .npy dtype ${descr}`);
  return { shape, dtype: descr, data: new T(copy) };
}

/** Max |a - b| / max(1, |b|) over two equally long arrays (Infinity on length mismatch). */
export function maxScaledDiff(got, want) {
  if (got.length !== want.length) return Infinity;
  let m = 0;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i] - want[i]) / Math.max(1, Math.abs(want[i]));
    m = Number.isNaN(d) ? Infinity : Math.max(m, d);
  }
  return m;
}

/**
 * Run the guest under node:wasi (preview1) with the wasi-nn imports. `dirs` maps guest paths
 * to host directories (preopens). Returns `{code, stdout, stderr, nn}`.
 */
export async function runGuest(args, dirs, options = {}) {
  const wasmTorch = await loadWasmTorch();
  const { openSync, closeSync } = await import('node:fs');
  const io = mkdtempSync(join(tmpdir(), 'wasi-nn-io-'));
  const outFd = openSync(join(io, 'stdout'), 'w');
  const errFd = openSync(join(io, 'stderr'), 'w');
  const wasi = new WASI({
    version: 'preview1',
    args: ['wasi-nn-guest', ...args],
    env: {},
    preopens: dirs,
    stdout: outFd,
    stderr: errFd,
    returnOnExit: true,
  });
  const nn = createWasiNnImports(wasmTorch, options);
  const module = await WebAssembly.compile(readFileSync(GUEST_WASM));
  const instance = await WebAssembly.instantiate(module, { ...wasi.getImportObject(), ...nn });
  nn.bind(instance);
  let code;
  try {
    code = wasi.start(instance);
  } finally {
    closeSync(outFd);
    closeSync(errFd);
  }
  return {
    code,
    stdout: readFileSync(join(io, 'stdout'), 'utf8'),
    stderr: readFileSync(join(io, 'stderr'), 'utf8'),
    nn,
  };
}

/** A fake guest: a WebAssembly.Memory with a bump allocator and typed writers. */
export class FakeGuest {
  constructor(pages = 4) {
    this.memory = new WebAssembly.Memory({ initial: pages });
    this.top = 1024; // keep 0 unused so a null pointer is never valid data
  }
  get dv() { return new DataView(this.memory.buffer); }
  get u8() { return new Uint8Array(this.memory.buffer); }
  /** Reserve `n` bytes aligned to 8; returns the pointer. */
  alloc(n) {
    const p = this.top;
    this.top = (this.top + n + 7) & ~7;
    if (this.top > this.memory.buffer.byteLength) throw new Error('fake guest out of memory');
    return p;
  }
  bytes(data) {
    const p = this.alloc(data.length);
    this.u8.set(data, p);
    return p;
  }
  u32s(values) {
    const p = this.alloc(4 * values.length);
    values.forEach((v, i) => this.dv.setUint32(p + 4 * i, v, true));
    return p;
  }
  /** A graph_builder_array of the given byte strings; returns [ptr, len]. */
  builders(list) {
    const ptrs = list.map((b) => this.bytes(b));
    return [this.u32s(list.flatMap((b, i) => [ptrs[i], b.length])), list.length];
  }
  /** A witx `tensor` struct (20 bytes). */
  tensor(dims, type, data) {
    const d = this.u32s(dims);
    const dp = this.bytes(data);
    const p = this.alloc(20);
    const dv = this.dv;
    dv.setUint32(p, d, true);
    dv.setUint32(p + 4, dims.length, true);
    dv.setUint8(p + 8, type);
    dv.setUint32(p + 12, dp, true);
    dv.setUint32(p + 16, data.length, true);
    return p;
  }
  readU32(p) { return this.dv.getUint32(p, true); }
}
