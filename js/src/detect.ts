/**
 * Run-time feature detection and the choice of wasm build.
 *
 * Three builds ship in `dist/wasm/`: `threads` (shared memory + atomics, SIMD and relaxed SIMD,
 * a rayon thread pool), `simd` (simd128) and `scalar` (no SIMD). The best one the engine can
 * run is chosen; the choice and the reason are reported on the session (`session.build`).
 */
import { isNode } from './env.js';

/** The wasm builds. */
export type Variant = 'threads' | 'simd' | 'scalar';

/** What the engine supports. */
export interface Features {
  simd: boolean;
  relaxedSimd: boolean;
  /** SharedArrayBuffer exists and (in browsers) the page is cross-origin isolated. */
  sharedMemory: boolean;
  /** Workers exist (Web Workers, or worker_threads in Node). */
  workers: boolean;
  /** Why shared memory is missing, when it is. */
  sharedMemoryNote?: string;
}

/** The chosen build and why. */
export interface BuildChoice {
  variant: Variant;
  /** Threads in the pool (1 for single-threaded builds). */
  threads: number;
  /** One sentence: why this build (e.g. "SharedArrayBuffer missing: single thread"). */
  reason: string;
  features: Features;
}

// Hand-assembled minimal modules: `() -> v128` returning i8x16.splat(0), and the same with an
// i8x16.relaxed_swizzle (opcode 0xfd 0x100). `WebAssembly.validate` says whether the engine
// accepts the instructions without running anything.
const SIMD_MODULE = new Uint8Array([
  0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 1, 5, 1, 0x60, 0, 1, 0x7b, 3, 2, 1, 0, 0x0a, 8, 1, 6, 0, 0x41, 0, 0xfd, 0x0f, 0x0b,
]);
const RELAXED_SIMD_MODULE = new Uint8Array([
  0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 1, 5, 1, 0x60, 0, 1, 0x7b, 3, 2, 1, 0, 0x0a, 0x0f, 1, 0x0d, 0, 0x41, 0, 0xfd, 0x0f,
  0x41, 0, 0xfd, 0x0f, 0xfd, 0x80, 0x02, 0x0b,
]);

function validates(bytes: Uint8Array<ArrayBuffer>): boolean {
  try {
    return WebAssembly.validate(bytes);
  } catch {
    return false;
  }
}

/** Probe the engine. */
export function detectFeatures(): Features {
  const simd = validates(SIMD_MODULE);
  const relaxedSimd = simd && validates(RELAXED_SIMD_MODULE);
  let sharedMemory = false;
  let sharedMemoryNote: string | undefined;
  if (typeof SharedArrayBuffer === 'undefined') {
    sharedMemoryNote = 'SharedArrayBuffer is not available';
  } else if (!isNode && (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated !== true) {
    sharedMemoryNote = 'the page is not cross-origin isolated (needs COOP: same-origin and COEP: require-corp)';
  } else {
    try {
      const mem = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true } as WebAssembly.MemoryDescriptor);
      sharedMemory = mem.buffer instanceof SharedArrayBuffer;
      if (!sharedMemory) sharedMemoryNote = 'shared WebAssembly.Memory is not backed by a SharedArrayBuffer';
    } catch (e) {
      sharedMemoryNote = `shared WebAssembly.Memory failed: ${(e as Error).message}`;
    }
  }
  const workers = isNode || typeof Worker !== 'undefined';
  return { simd, relaxedSimd, sharedMemory, workers, sharedMemoryNote };
}

/** Options that steer the choice. */
export interface ChoiceOptions {
  /** `false`: single thread; a number: pool size; `true`/absent: all cores when possible. */
  threads?: boolean | number;
  /** Force a build (tests, benchmarks). Throws later if the engine cannot run it. */
  variant?: Variant;
}

/** Pick the build. `cores` is the hardware thread count. */
export function chooseBuild(opts: ChoiceOptions, cores: number, features: Features = detectFeatures()): BuildChoice {
  const wantThreads = opts.threads !== false && opts.threads !== 1 && opts.threads !== 0;
  const poolSize = typeof opts.threads === 'number' ? Math.max(1, Math.floor(opts.threads)) : cores;
  if (opts.variant) {
    const threads = opts.variant === 'threads' ? poolSize : 1;
    return { variant: opts.variant, threads, reason: `build '${opts.variant}' requested`, features };
  }
  const single = (why: string): BuildChoice =>
    features.simd
      ? { variant: 'simd', threads: 1, reason: `${why}: single-threaded SIMD build`, features }
      : { variant: 'scalar', threads: 1, reason: `${why}; no wasm SIMD either: scalar build`, features };
  if (!wantThreads) return single('one thread requested');
  if (!features.sharedMemory) return single(`${features.sharedMemoryNote ?? 'no shared memory'}, so no threads`);
  if (!isNode && typeof (globalThis as { document?: unknown }).document !== 'undefined') {
    return single('on a page\'s main thread, which may not block as a thread pool needs (use WorkerSession from wasm-torch/worker for threads)');
  }
  if (!features.workers) return single('no Worker support, so no threads');
  if (!features.relaxedSimd) return single('relaxed SIMD is unsupported (the threads build uses it)');
  if (poolSize < 2) return single('only one core');
  return {
    variant: 'threads',
    threads: poolSize,
    reason: `shared memory, workers and relaxed SIMD available: threads build with ${poolSize} threads`,
    features,
  };
}
