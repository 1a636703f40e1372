/**
 * One instantiated wasm module (a build variant) and its bindings.
 *
 * Instances are cached per variant and shared by the sessions loaded on them. A trap inside
 * wasm (a panic or an abort: a bug, never an expected error) leaves the instance unusable, so
 * the runtime is then marked poisoned: its sessions fail with `InternalError` and the next
 * `Session.load` instantiates a fresh copy (the glue module is imported again under a new URL,
 * which gives a new module record and so a new instance).
 */
import { InternalError, UnsupportedEnvironmentError, fromWasmError, WasmTorchError } from './errors.js';
import { isThreaded, type Variant } from './detect.js';
import { isNode, nodeImport } from './env.js';

/** Progress object returned by the wasm loader. */
export interface WasmProgress {
  readonly bytesConsumed: number;
  readonly totalBytes: number;
  readonly graphReady: boolean;
  readonly chunksReady: number;
  readonly chunksTotal: number;
  readonly runPosition: number;
  free(): void;
}

/** A `{name, dtype, shape, bytes}` tensor crossing the boundary. */
export interface WireTensor {
  name: string;
  dtype: string;
  shape: number[];
  bytes: Uint8Array;
}

/** A signature entry; symbolic dims are strings. */
export interface WireSpec {
  name: string;
  dtype: string;
  shape: (number | string)[];
  /** Scalar inputs only (format 1.1). */
  scalar?: 'int' | 'float' | 'bool';
  default?: number | bigint | boolean;
  fixed?: boolean;
}

/** The wasm loader class. */
export interface WasmLoader {
  runWhileLoading(inputs: WireTensor[], prepackBudget?: number): void;
  feed(bytes: Uint8Array): WasmProgress;
  finish(): WasmModel;
  /** The digest of the bytes fed (loaders made by `withDigest`). */
  digest(): string | undefined;
  free(): void;
}
/** The wasm model class. */
export interface WasmModel {
  asset(name: string): Uint8Array | undefined;
  assetNames(): string[];
  inputs(): WireSpec[];
  outputs(): WireSpec[];
  states(): WireSpec[];
  weightBytes(): number;
  residentWeightBytes(): number;
  createSession(): WasmSession;
  takeFirstOutputs(): WireTensor[] | undefined;
  free(): void;
}
/** The wasm session class. */
export interface WasmSession {
  run(inputs: WireTensor[]): WireTensor[];
  resetState(): void;
  setPrepackBudget(bytes: number): void;
  prepackedBytes(): number;
  setProfiling(on: boolean): void;
  profile(): unknown;
  free(): void;
}

/** The wasm-bindgen glue module's exports (see js/crate/lib.rs). */
export interface Glue {
  default(init: { module_or_path: unknown; memory?: WebAssembly.Memory }): Promise<unknown>;
  Loader: { new (): WasmLoader; withDigest(checkChunkCrcs: boolean): WasmLoader; fromBytes(bytes: Uint8Array): WasmModel };
  initRuntime(): void;
  memoryBytes(): number;
  buildFlavor(): string;
  takePanicMessage(): string | undefined;
  initThreadPool?(n: number): Promise<unknown>;
}

let instanceCounter = 0;

/** How long the threads build may take to start its pool before the load gives up on it. */
const POOL_START_MS = 30_000;

/** An instantiated build. */
export class Runtime {
  readonly variant: Variant;
  readonly threads: number;
  readonly glue: Glue;
  /** Set when the instance trapped; see the module comment. */
  poisoned = false;

  private constructor(variant: Variant, threads: number, glue: Glue) {
    this.variant = variant;
    this.threads = threads;
    this.glue = glue;
  }

  /** Instantiate `variant` (with a pool of `threads` for the threads build). */
  static async create(variant: Variant, threads: number, baseUrl?: string | URL): Promise<Runtime> {
    if (typeof WebAssembly !== 'object') throw new UnsupportedEnvironmentError('this engine has no WebAssembly');
    const dir = new URL(`./wasm/${variant}/`, baseUrl ?? new URL('.', import.meta.url));
    const glueUrl = new URL('wasm_torch.js', dir);
    const wasmUrl = new URL('wasm_torch_bg.wasm', dir);
    // A fresh module record per instance (see the module comment).
    const n = instanceCounter++;
    const glueHref = n === 0 ? glueUrl.href : `${glueUrl.href}?instance=${n}`;
    let glue: Glue;
    try {
      glue = (await import(/* @vite-ignore */ glueHref)) as Glue;
      if (isNode && wasmUrl.protocol === 'file:') {
        const fs = await nodeImport<typeof import('node:fs/promises')>('node:fs/promises');
        const bytes = await fs.readFile(wasmUrl);
        await glue.default({ module_or_path: await WebAssembly.compile(bytes) });
      } else {
        await glue.default({ module_or_path: wasmUrl });
      }
    } catch (e) {
      throw new UnsupportedEnvironmentError(
        `cannot instantiate the '${variant}' wasm build from ${dir.href}: ${(e as Error).message}`,
        { cause: e },
      );
    }
    glue.initRuntime();
    let pool = 1;
    if (isThreaded(variant)) {
      if (typeof glue.initThreadPool !== 'function') throw new InternalError('the threads build lacks initThreadPool');
      // A pool that does not come up (seen intermittently in Firefox inside a Worker) must not
      // hang the load: give up after POOL_START_MS and let the caller fall back.
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`the ${threads} pool threads did not start within ${POOL_START_MS / 1000} s`)), POOL_START_MS);
      });
      try {
        await Promise.race([glue.initThreadPool(threads), timeout]);
      } catch (e) {
        throw new UnsupportedEnvironmentError(`threads build: ${(e as Error).message}`, { cause: e });
      } finally {
        clearTimeout(timer);
      }
      pool = threads;
    }
    return new Runtime(variant, pool, glue);
  }

  /** Bytes of linear memory this instance has (it only grows). */
  memoryBytes(): number {
    return this.poisoned ? 0 : this.glue.memoryBytes();
  }

  /**
   * Call into wasm, converting errors: coded errors become `WasmTorchError` subclasses, a trap
   * poisons the instance and becomes `InternalError` with the panic message when there is one.
   */
  call<T>(what: string, fn: () => T): T {
    if (this.poisoned) {
      throw new InternalError(`${what}: this wasm instance trapped earlier and was discarded; load the model again`);
    }
    try {
      return fn();
    } catch (e) {
      if (e instanceof WasmTorchError) throw e;
      if (e instanceof WebAssembly.RuntimeError || (e instanceof Error && /unreachable|RuntimeError/.test(e.name + e.message) && !('code' in e))) {
        this.poisoned = true;
        let panic: string | undefined;
        try {
          panic = this.glue.takePanicMessage();
        } catch {
          panic = undefined;
        }
        throw new InternalError(
          `${what}: the wasm instance trapped (${panic ?? (e as Error).message}); it was discarded, load the model again`,
          { cause: e },
        );
      }
      if (e instanceof RangeError && /memory/i.test(e.message)) {
        throw fromWasmError(Object.assign(new Error(`${what}: ${e.message}`), { code: 'OUT_OF_MEMORY' }));
      }
      throw fromWasmError(e);
    }
  }
}

const cache = new Map<string, Promise<Runtime>>();

/**
 * The shared runtime for a variant, instantiating (or re-instantiating after a trap) as needed.
 * `Session.load` calls it; the instance it returns is the SDK's own plumbing, not a stable API.
 * @internal
 */
export async function getRuntime(variant: Variant, threads: number, baseUrl?: string | URL): Promise<Runtime> {
  const key = `${variant}/${threads}/${baseUrl ?? ''}`;
  const existing = cache.get(key);
  if (existing) {
    const rt = await existing.catch(() => undefined);
    if (rt && !rt.poisoned) return rt;
  }
  const created = Runtime.create(variant, threads, baseUrl);
  cache.set(key, created);
  created.catch(() => cache.delete(key));
  return created;
}
