/**
 * Run-time feature detection and the choice of wasm build.
 *
 * Five builds ship in `dist/wasm/`: two with a rayon thread pool over shared memory (`threads`
 * with relaxed SIMD, `threads-simd` with simd128 only) and three single-threaded ones
 * (`relaxed`: simd128 + relaxed SIMD, `simd`: simd128, `scalar`: no SIMD). Relaxed SIMD and
 * shared memory are independent: a page that is not cross-origin isolated still gets the relaxed
 * kernels, and Safari (shared memory, but it rejects any module containing relaxed SIMD) and
 * Node 20 without flags still get threads. The fastest build the engine can run is chosen; the
 * choice and the reason are reported on the session (`session.build`).
 *
 * Two more builds, `memory64` (wasm64: 64-bit linear memory, simd128 + relaxed SIMD, one
 * thread) and `memory64-threads` (the same with shared memory and a rayon pool), are opt-in:
 * they are the only ones that can hold a model past the 4 GiB of a wasm32 memory, but they run
 * slower than their wasm32 counterparts (bounds checks on 64-bit addresses) and are not in the
 * default package build, so they are never chosen automatically: ask for one with `variant`
 * when the model's weights plus activations pass 4 GiB and `detectFeatures().memory64` is true.
 */
import { isNode } from './env.js';

/** The wasm builds. */
export type Variant = 'threads' | 'threads-simd' | 'relaxed' | 'simd' | 'scalar' | 'memory64' | 'memory64-threads';

/** The builds the automatic choice picks from, fastest first (the memory64 ones are opt-in only). */
export const VARIANTS: readonly Variant[] = ['threads', 'threads-simd', 'relaxed', 'simd', 'scalar'];

/** Largest wasm32 linear memory (bytes): past it only the `memory64` build can hold a model. */
export const WASM32_MEMORY_LIMIT = 4 * 1024 ** 3;

/** Whether `variant` runs a thread pool (and so needs shared memory and Workers). */
export function isThreaded(variant: Variant): boolean {
  return variant === 'threads' || variant === 'threads-simd' || variant === 'memory64-threads';
}

/** What `variant` needs from the engine, or `undefined` when `features` has it all. */
export function missingFeature(variant: Variant, features: Features): string | undefined {
  const needs: string[] = [];
  if (variant !== 'scalar' && !features.simd) needs.push('wasm SIMD');
  const m64 = variant === 'memory64' || variant === 'memory64-threads';
  if ((variant === 'relaxed' || variant === 'threads' || m64) && !features.relaxedSimd) needs.push('relaxed SIMD');
  if (m64 && !features.memory64) needs.push('memory64 (Chromium 133+, Firefox 134+, Node 24+)');
  if (isThreaded(variant) && !features.sharedMemory) needs.push(`shared memory (${features.sharedMemoryNote ?? 'missing'})`);
  if (isThreaded(variant) && !features.workers) needs.push('Workers');
  return needs.length ? `the '${variant}' build needs ${needs.join(' and ')}` : undefined;
}

/** What the engine supports. */
export interface Features {
  /** The engine validates a module with wasm SIMD128 instructions (every build but `scalar` needs it). */
  simd: boolean;
  /** The engine validates relaxed-SIMD instructions (the `relaxed` and `threads` builds need them). */
  relaxedSimd: boolean;
  /** SharedArrayBuffer exists and (in browsers) the page is cross-origin isolated. */
  sharedMemory: boolean;
  /** Workers exist (Web Workers, or worker_threads in Node). */
  workers: boolean;
  /** The engine validates a module with a 64-bit linear memory (the `memory64` build needs it). */
  memory64: boolean;
  /** Why shared memory is missing, when it is. */
  sharedMemoryNote?: string;
}

/** The chosen build and why. */
export interface BuildChoice {
  /** The build that was chosen. */
  variant: Variant;
  /** Threads in the pool (1 for single-threaded builds). */
  threads: number;
  /** One sentence: why this build (e.g. "SharedArrayBuffer missing: single thread"). */
  reason: string;
  /** The engine features the choice was made from (`detectFeatures()`). */
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

// A module with one 64-bit memory of no pages (limits flag 0x04: 64-bit index, no maximum).
const MEMORY64_MODULE = new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 5, 3, 1, 0x04, 0]);

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
  const memory64 = validates(MEMORY64_MODULE);
  return { simd, relaxedSimd, sharedMemory, workers, memory64, sharedMemoryNote };
}

/** Options that steer the choice. */
export interface ChoiceOptions {
  /** `false`: single thread; a number: pool size; `true`/absent: all cores when possible. */
  threads?: boolean | number;
  /**
   * Force a build (tests, benchmarks, and `'memory64'` / `'memory64-threads'` for models past
   * 4 GiB, which are never chosen automatically). Throws later if the engine cannot run it.
   */
  variant?: Variant;
}

/** Pick the build. `cores` is the hardware thread count. */
export function chooseBuild(opts: ChoiceOptions, cores: number, features: Features = detectFeatures()): BuildChoice {
  const wantThreads = opts.threads !== false && opts.threads !== 1 && opts.threads !== 0;
  const poolSize = typeof opts.threads === 'number' ? Math.max(1, Math.floor(opts.threads)) : cores;
  if (opts.variant) {
    const threads = isThreaded(opts.variant) ? poolSize : 1;
    return { variant: opts.variant, threads, reason: `build '${opts.variant}' requested`, features };
  }
  const single = (why: string): BuildChoice =>
    features.relaxedSimd
      ? { variant: 'relaxed', threads: 1, reason: `${why}: single-threaded relaxed-SIMD build`, features }
      : features.simd
        ? { variant: 'simd', threads: 1, reason: `${why}; relaxed SIMD is unsupported: single-threaded SIMD build`, features }
        : { variant: 'scalar', threads: 1, reason: `${why}; no wasm SIMD either: scalar build`, features };
  if (!wantThreads) return single('one thread requested');
  if (!features.sharedMemory) return single(`${features.sharedMemoryNote ?? 'no shared memory'}, so no threads`);
  if (!isNode && typeof (globalThis as { document?: unknown }).document !== 'undefined') {
    return single('on a page\'s main thread, which may not block as a thread pool needs (use WorkerSession from wasm-torch/worker for threads)');
  }
  if (!features.workers) return single('no Worker support, so no threads');
  if (poolSize < 2) return single('only one core');
  if (!features.simd) return single('no wasm SIMD (both threads builds use it)');
  if (!features.relaxedSimd) {
    return {
      variant: 'threads-simd',
      threads: poolSize,
      reason: `shared memory and workers available, relaxed SIMD unsupported: SIMD threads build with ${poolSize} threads`,
      features,
    };
  }
  return {
    variant: 'threads',
    threads: poolSize,
    reason: `shared memory, workers and relaxed SIMD available: threads build with ${poolSize} threads`,
    features,
  };
}
