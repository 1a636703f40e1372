/**
 * `Session`: load a `.wtb` model as a stream and run it.
 *
 * ```js
 * const session = await Session.load('model.wtb', { onProgress: p => console.log(p.loadedBytes) });
 * const out = await session.run({ x: new Tensor('f32', data, [1, 3, 224, 224]) });
 * session.release();
 * ```
 */
import { chooseBuild, isThreaded, missingFeature, type BuildChoice, type Variant } from './detect.js';
import { AbortError, BadFileError, InvalidInputError, ReleasedError, UnsupportedEnvironmentError, WasmTorchError, fromWasmError } from './errors.js';
import { nestedCallInputs, nestedCallOutputs, structureFromAssets } from './structure.js';
import type { Nested, Structure } from './structure.js';
import { hardwareThreads } from './env.js';
import { getRuntime, type Runtime, type WasmModel, type WasmSession, type WireSpec, type WireTensor } from './runtime.js';
import { openSource, type ModelSource } from './source.js';
import { DEFAULT_CACHE_NAME, type CacheCheck, type CacheOutcome } from './model-cache.js';
import { isScalarValue, scalarTensor, type InputValue, type ScalarKind, type ScalarValue } from './scalars.js';
import { Tensor, isDType, type DType } from './tensor.js';

/** Load progress, reported after each piece. */
export interface LoadProgress {
  /** Bytes read from the source so far. */
  loadedBytes: number;
  /** File size when known (from the source, or the file's header once parsed). */
  totalBytes?: number;
  /** The graph (ops, signature) is parsed; weights may still be arriving. */
  graphReady: boolean;
  /** Weight chunks decoded into place. */
  chunksReady: number;
  /** Weight chunks in the file (0 until the graph is ready). */
  chunksTotal: number;
  /**
   * With `runWhileLoading`: the instruction of the model's entry function the run waits at
   * for its weights (it only grows); absent before the run starts and once it finished.
   */
  runPosition?: number;
}

/** Options of `Session.load`. */
export interface LoadOptions {
  /** `false` for one thread, a number for a pool of that size; default: all cores if possible. */
  threads?: boolean | number;
  /** Called after each piece of the file is consumed. */
  onProgress?: (progress: LoadProgress) => void;
  /** Cancels the load (rejects with `AbortError`). */
  signal?: AbortSignal;
  /** Force a wasm build instead of detecting (tests and benchmarks). */
  variant?: Variant;
  /** Where `wasm/<variant>/` lives; default: next to this module. */
  wasmBaseUrl?: string | URL;
  /**
   * Bytes of packed weight copies the session may keep (default 256 MiB; 0 = none). Packing
   * a weight once saves re-packing it per call; weights past the budget run from their stored
   * layout, so memory stays weights + activations + this budget.
   */
  prepackBudget?: number;
  /**
   * URL sources: how many times a download that is cut mid-way is resumed where it stopped
   * (HTTP Range + If-Range; default 3, 0 = never). See `loadStats.resumes`.
   */
  maxResumes?: number;
  /**
   * URL sources: keep the model in the Cache API (`true`: the cache 'wasm-torch-models', or a
   * cache name) so the next load does not download it. A cached copy is checked against the
   * server's ETag / Last-Modified with a HEAD request (skipped while the response's
   * `Cache-Control: max-age` says it is fresh; used as is when offline). Its bytes are checked
   * against a digest taken when it was downloaded (or by the chunk CRCs when it has none);
   * one that fails (digest, CRC or structure) is evicted and downloaded again. `loadStats.cache` says what
   * happened; where the Cache API is missing (Node, insecure pages) the load still works and
   * `loadStats.cache` is `'unavailable'`.
   */
  cache?: boolean | string;
  /**
   * Run the model on these inputs while it downloads (opt-in). The run starts as soon as the
   * graph (which the file puts before the weights) is validated, and each op waits only for
   * the weights it reads, so the outputs are ready about when the last byte arrives instead
   * of one inference later. They are in `session.firstOutputs`, the same bits a `run` after
   * the load gives. Inputs are tensors by name (a scalar input as a 0-d tensor; inputs with a
   * default may be left out). Inputs that do not fit fail the load with `InvalidInputError`
   * as soon as the graph arrived (the download stops); an error of the run fails the load
   * with the error `run` would throw. A model with session state runs when the load ends.
   */
  runWhileLoading?: Record<string, Tensor>;
}

/** A named input or output of the model. Symbolic dimensions are strings ("batch"). */
export interface ValueInfo {
  /** The name in the model's signature: the key of this value in `run`'s inputs or outputs. */
  name: string;
  /** The element type (for a scalar input, the dtype a 0-d tensor of it would have). */
  dtype: DType;
  /** The dimensions; a string is a symbolic size (a `torch.export` `Dim` name) that varies per run. */
  shape: (number | string)[];
  /**
   * For a scalar input (a TorchScript `int`/`float`/`bool` argument, a torch.export
   * `SymInt`): its kind. Pass a number (a bigint for an int beyond 2^53), a boolean or a 0-d
   * tensor. Absent for tensor inputs.
   */
  scalar?: ScalarKind;
  /** The value used when `run` is not given this scalar input; absent when it has none. */
  default?: ScalarValue;
  /** The model was traced/exported with `default` and accepts no other value. */
  fixed?: boolean;
}

/** What loading cost. */
export interface LoadStats {
  /** Bytes read from the source. */
  bytes: number;
  /** Wall time of the load in milliseconds (source open to model ready). */
  ms: number;
  /** Bytes of the weights at f32 (their logical size). */
  weightBytes: number;
  /**
   * Bytes the weights occupy in wasm memory as held: int8 and f16 Linear weights stay at
   * their quantized size (plus their packing), other weights count their f32 size.
   */
  residentWeightBytes: number;
  /** wasm linear memory size before the load started. */
  memoryBefore: number;
  /** Largest wasm linear memory size seen during the load (memory never shrinks). */
  peakMemory: number;
  /** How many times a cut download was resumed (URL sources; 0 otherwise). */
  resumes: number;
  /** How the model cache took part (`'off'` unless `cache` was given for a URL). */
  cache: CacheOutcome;
  /** Why the cache was unavailable, the download was not stored, or the cached copy was refused. */
  cacheNote?: string;
  /** On a cache hit: how its bytes were checked (`'digest'`, or `'crcs'` for an entry without a record). */
  cacheCheck?: CacheCheck;
}

/** Build information: which wasm build runs and why. */
export interface BuildInfo extends BuildChoice {
  /** What the module itself reports it was compiled with, e.g. "single+simd128". */
  flavor: string;
}

/** Largest piece handed to the wasm parser in one call (progress granularity). */
const FEED_BYTES = 256 * 1024;

function toValueInfo(spec: WireSpec): ValueInfo {
  const info: ValueInfo = { name: spec.name, dtype: spec.dtype as DType, shape: spec.shape };
  if (spec.scalar !== undefined) {
    info.scalar = spec.scalar;
    if (spec.default !== undefined) info.default = spec.default;
    info.fixed = spec.fixed === true;
  }
  return info;
}

/** A loaded model ready to run. */
export class Session {
  /** The model's inputs, in order. */
  readonly inputs: readonly ValueInfo[];
  /** The model's outputs, in order. */
  readonly outputs: readonly ValueInfo[];
  /**
   * The session-state tensors (e.g. a KV cache: format 1.1), kept across `run` calls and
   * reset by `resetState()`; empty for a stateless model.
   */
  readonly states: readonly ValueInfo[];
  /** Which build runs and why. */
  readonly build: BuildInfo;
  /** Load measurements. */
  readonly loadStats: LoadStats;
  /** The outputs of the `runWhileLoading` run, by name (absent without that option). */
  readonly firstOutputs?: Record<string, Tensor>;

  private runtime: Runtime;
  /** The file's assets, copied out of wasm memory once at load (a few MB at most). */
  private assets: Map<string, Uint8Array>;
  /** The parsed structure asset (`null`: none), on first use. */
  private parsedStructure: Structure | null | undefined;
  private model: WasmModel | undefined;
  private session: WasmSession | undefined;

  private constructor(runtime: Runtime, model: WasmModel, build: BuildInfo, loadStats: LoadStats) {
    this.runtime = runtime;
    this.model = model;
    const first = runtime.call('takeFirstOutputs', () => model.takeFirstOutputs());
    if (first) this.firstOutputs = fromWireOutputs(first);
    this.session = runtime.call('createSession', () => model.createSession());
    this.inputs = Object.freeze(runtime.call('inputs', () => model.inputs()).map(toValueInfo));
    this.outputs = Object.freeze(runtime.call('outputs', () => model.outputs()).map(toValueInfo));
    this.states = Object.freeze(runtime.call('states', () => model.states()).map(toValueInfo));
    this.build = build;
    this.loadStats = loadStats;
    const names = runtime.call('assetNames', () => model.assetNames());
    this.assets = new Map(names.map((n) => [n, runtime.call('asset', () => model.asset(n)) ?? new Uint8Array()]));
  }

  /** Load a model from a URL, path (Node), `Response`, `ReadableStream`, `Blob` or bytes. */
  static async load(source: ModelSource, options: LoadOptions = {}): Promise<Session> {
    const { onProgress, signal } = options;
    if (onProgress !== undefined && typeof onProgress !== 'function') throw new InvalidInputError('onProgress must be a function');
    let choice = chooseBuild(options, await hardwareThreads());
    const missing = options.variant ? missingFeature(options.variant, choice.features) : undefined;
    if (missing) throw new UnsupportedEnvironmentError(`${missing}, which this engine lacks`);
    let runtime: Runtime;
    try {
      runtime = await getRuntime(choice.variant, choice.threads, options.wasmBaseUrl);
    } catch (e) {
      // An automatically chosen threads build that cannot start falls back to one thread.
      if (options.variant || !isThreaded(choice.variant)) throw e;
      const single = chooseBuild({ ...options, threads: false }, 1, choice.features);
      choice = { ...single, reason: `threads build failed to start (${(e as Error).message}): ${single.reason.replace(/^one thread requested: /, '')}` };
      runtime = await getRuntime(choice.variant, choice.threads, options.wasmBaseUrl);
    }
    const build: BuildInfo = { ...choice, threads: runtime.threads, flavor: runtime.glue.buildFlavor() };
    const start = performance.now();
    const memoryBefore = runtime.memoryBytes();
    let peakMemory = memoryBefore;
    const cacheName = options.cache === true ? DEFAULT_CACHE_NAME : typeof options.cache === 'string' ? options.cache : undefined;
    if (options.cache !== undefined && typeof options.cache !== 'boolean' && (typeof options.cache !== 'string' || options.cache === '')) {
      throw new InvalidInputError('cache must be a boolean or a non-empty cache name');
    }
    const early = options.runWhileLoading === undefined ? undefined : earlyInputs(options.runWhileLoading);
    let opened = await openSource(source, signal, { maxResumes: options.maxResumes, cacheName });
    let loaded = 0;
    let model: WasmModel;
    let refused: string | undefined;
    let digest: string | undefined;
    for (;;) {
      // A cache hit with a record is checked by its digest instead of the chunk CRCs; a
      // download being stored has its digest taken for the next load.
      const expected = opened.cache === 'hit' ? opened.digest : undefined;
      const withDigest = expected !== undefined || opened.remember !== undefined;
      const loader = runtime.call('new Loader', () => (withDigest ? runtime.glue.Loader.withDigest(expected === undefined) : new runtime.glue.Loader()));
      loaded = 0;
      try {
        if (early) runtime.call('runWhileLoading', () => loader.runWhileLoading(early, options.prepackBudget));
        for await (const received of opened.pieces) {
          // Networks and files deliver pieces of any size (a local fetch may hand over the whole
          // file at once): feed at most FEED_BYTES at a time so progress stays fine-grained.
          for (let off = 0; off < received.byteLength; off += FEED_BYTES) {
            if (signal?.aborted) throw new AbortError();
            const piece = received.subarray(off, Math.min(received.byteLength, off + FEED_BYTES));
            const p = runtime.call('load', () => loader.feed(piece));
            loaded += piece.byteLength;
            const progress: LoadProgress = {
              loadedBytes: loaded,
              totalBytes: opened.totalBytes ?? (p.totalBytes >= 0 ? p.totalBytes : undefined),
              graphReady: p.graphReady,
              chunksReady: p.chunksReady,
              chunksTotal: p.chunksTotal,
              ...(p.runPosition >= 0 ? { runPosition: p.runPosition } : {}),
            };
            p.free();
            peakMemory = Math.max(peakMemory, runtime.memoryBytes());
            onProgress?.(progress);
          }
        }
        if (signal?.aborted) throw new AbortError();
        digest = withDigest ? (runtime.call('digest', () => loader.digest()) ?? undefined) : undefined;
        model = runtime.call('load', () => loader.finish());
        if (expected !== undefined && digest !== expected) {
          model.free();
          throw new BadFileError(`the cached copy's digest is ${digest}, its record says ${expected}`);
        }
        break;
      } catch (e) {
        const err = e instanceof WasmTorchError ? e : fromWasmError(e);
        // A cached copy that fails the file's checks (CRCs, structure) is evicted and the model
        // downloaded again; the outcome says so.
        if (err.code === 'BAD_FILE' && opened.cache === 'hit' && opened.evict) {
          refused = `the cached copy was refused: ${err.message}`;
          await opened.evict();
          opened = { ...(await openSource(source, signal, { maxResumes: options.maxResumes, cacheName, refreshCache: true })), cache: 'corrupt' };
          continue;
        }
        throw err;
      } finally {
        try {
          loader.free();
        } catch {
          /* already consumed by finish() or the instance is gone */
        }
      }
    }
    let storeNote = opened.stored ? await opened.stored : undefined;
    if (storeNote === undefined && opened.remember && digest !== undefined) storeNote = await opened.remember(digest);
    peakMemory = Math.max(peakMemory, runtime.memoryBytes());
    const stats: LoadStats = {
      bytes: loaded,
      ms: performance.now() - start,
      weightBytes: runtime.call('weightBytes', () => model.weightBytes()),
      residentWeightBytes: runtime.call('residentWeightBytes', () => model.residentWeightBytes()),
      memoryBefore,
      peakMemory,
      resumes: opened.resumes?.() ?? 0,
      cache: opened.cache ?? 'off',
      ...(opened.cacheNote ?? storeNote ?? refused ? { cacheNote: [opened.cacheNote ?? storeNote, refused].filter(Boolean).join('; ') } : {}),
      ...(opened.cache === 'hit' ? { cacheCheck: opened.digest !== undefined ? 'digest' : 'crcs' } : {}),
    };
    const session = new Session(runtime, model, build, stats);
    if (options.prepackBudget !== undefined) session.setPrepackBudget(options.prepackBudget);
    return session;
  }

  /**
   * Run the model. `inputs` maps every input name to a `Tensor` (or any `{dtype, shape, data}`
   * with a matching typed array); a scalar input (`spec.scalar`) takes a number, a bigint, a
   * boolean or a 0-d tensor and may be left out when it has a `default`. Resolves to the
   * outputs by name, in the model's order. Inputs that do not fit throw `InvalidInputError`
   * (code `INVALID_INPUT`) and the session stays usable.
   */
  async run(inputs: Record<string, InputValue>): Promise<Record<string, Tensor>> {
    return this.runSync(inputs);
  }

  /**
   * The nesting of the model's inputs and outputs (format-spec §4.10.1), or `undefined` for a
   * model of flat tensors. Throws `BadFileError` when the file's structure asset is malformed.
   */
  get structure(): Structure | undefined {
    if (this.parsedStructure === undefined) this.parsedStructure = structureFromAssets(this.assets, this.inputs.length, this.outputs.length);
    return this.parsedStructure ?? undefined;
  }

  /**
   * Run a model exported with nested inputs/outputs the way its `forward` is called: one
   * argument per parameter (`runNested([image])` for a torchvision detector), resolving to
   * the nested output (`[{ boxes, scores, labels }]` of `Tensor`s). For a model without a
   * structure, the arguments are its inputs in order and the result is the array of outputs.
   */
  async runNested(...args: unknown[]): Promise<Nested> {
    const s = this.structure;
    return nestedCallOutputs(s, this.runSync(nestedCallInputs(s, args, this.inputs)), this.outputs);
  }

  /** `run` without the promise (blocks the calling thread). */
  runSync(inputs: Record<string, InputValue>): Record<string, Tensor> {
    const session = this.session;
    if (!session) throw new ReleasedError();
    if (inputs === null || typeof inputs !== 'object') throw new InvalidInputError('run() takes an object mapping input names to tensors');
    const known = new Set(this.inputs.map((i) => i.name));
    for (const name of Object.keys(inputs)) {
      if (!known.has(name)) {
        throw new InvalidInputError(`unknown input '${name}'; the model's inputs are: ${[...known].join(', ')}`);
      }
    }
    const wire: WireTensor[] = [];
    for (const spec of this.inputs) {
      let v: InputValue | undefined = inputs[spec.name];
      if (v === undefined && spec.default !== undefined) v = spec.default;
      if (v === undefined) {
        throw new InvalidInputError(`missing input '${spec.name}'${spec.scalar ? ` (${spec.scalar}, no default)` : ''}`);
      }
      if (spec.scalar !== undefined) {
        wire.push(toWire(spec.name, scalarTensor(spec.name, spec.scalar, v)));
      } else if (isScalarValue(v)) {
        const shape = spec.shape.join(', ');
        throw new InvalidInputError(`input '${spec.name}' is a tensor (${spec.dtype}[${shape}]), got ${typeof v} ${String(v)}; pass a Tensor`);
      } else {
        wire.push(toWire(spec.name, v));
      }
    }
    const out = this.runtime.call('run', () => session.run(wire));
    return fromWireOutputs(out);
  }

  /**
   * Put the session state (KV cache) back to its initial value from the file, so the next
   * `run` starts a new sequence. A no-op for stateless models.
   */
  resetState(): void {
    const session = this.session;
    if (!session) throw new ReleasedError();
    this.runtime.call('resetState', () => session.resetState());
  }

  /**
   * The bytes of the asset `name` the file ships with (`'tokenizer.json'`, `'generation.json'`),
   * as a fresh copy; `undefined` when the file has no asset of that name. Still works after
   * `release()`.
   */
  asset(name: string): Uint8Array | undefined {
    return this.assets.get(name)?.slice();
  }

  /** The names of the file's assets, in file order (empty when it has none). */
  assetNames(): string[] {
    return [...this.assets.keys()];
  }

  /** Set the budget for packed weight copies (see `LoadOptions.prepackBudget`). */
  setPrepackBudget(bytes: number): void {
    const session = this.session;
    if (!session) throw new ReleasedError();
    if (typeof bytes !== 'number' || !(bytes >= 0)) throw new InvalidInputError('prepackBudget must be a non-negative number of bytes');
    this.runtime.call('setPrepackBudget', () => session.setPrepackBudget(bytes));
  }

  /** Bytes held by packed weight copies so far. */
  get prepackedBytes(): number {
    const session = this.session;
    if (!session) throw new ReleasedError();
    return this.runtime.call('prepackedBytes', () => session.prepackedBytes());
  }

  /**
   * Size of the wasm linear memory now. Memory never shrinks, so after a load and runs this
   * is the peak they needed (shared by every session of the same build and thread setting).
   */
  get memoryBytes(): number {
    return this.runtime.memoryBytes();
  }

  /** Switch per-op profiling on (resetting counters) or off. */
  setProfiling(on: boolean): void {
    const session = this.session;
    if (!session) throw new ReleasedError();
    this.runtime.call('setProfiling', () => session.setProfiling(on));
  }

  /**
   * The profile since profiling was switched on: `{runs, totalMs, ops: [{name, calls, ms}]}`,
   * ops most expensive first; `undefined` when profiling is off.
   */
  profile(): unknown {
    const session = this.session;
    if (!session) throw new ReleasedError();
    return this.runtime.call('profile', () => session.profile());
  }

  /** Free the model's memory in wasm. Further `run` calls throw `ReleasedError`. */
  release(): void {
    const { session, model } = this;
    this.session = undefined;
    this.model = undefined;
    if (this.runtime.poisoned) return;
    session?.free();
    model?.free();
  }

  /** True after `release()`. */
  get released(): boolean {
    return this.session === undefined;
  }
}

function fromWireOutputs(out: WireTensor[]): Record<string, Tensor> {
  const result: Record<string, Tensor> = {};
  for (const o of out) {
    if (!isDType(o.dtype)) throw new InvalidInputError(`output '${o.name}' has unknown dtype '${o.dtype}'`);
    result[o.name] = Tensor.fromBytes(o.dtype, o.shape, o.bytes);
  }
  return result;
}

/** `runWhileLoading`'s inputs on the wire (checked against the signature once it arrives). */
function earlyInputs(inputs: Record<string, Tensor>): WireTensor[] {
  if (inputs === null || typeof inputs !== 'object') throw new InvalidInputError('runWhileLoading takes an object mapping input names to tensors');
  return Object.entries(inputs).map(([name, t]) => {
    if (isScalarValue(t as unknown as InputValue)) {
      throw new InvalidInputError(`runWhileLoading input '${name}': give a scalar as a 0-d Tensor (the signature is not known yet)`);
    }
    return toWire(name, t);
  });
}

function toWire(name: string, t: Tensor): WireTensor {
  if (t === null || typeof t !== 'object') throw new InvalidInputError(`input '${name}' must be a Tensor`);
  const { dtype, shape, data } = t as Partial<Tensor>;
  if (!isDType(dtype)) throw new InvalidInputError(`input '${name}': unknown dtype '${String(dtype)}'`);
  if (!Array.isArray(shape)) throw new InvalidInputError(`input '${name}': shape must be an array`);
  if (!ArrayBuffer.isView(data)) throw new InvalidInputError(`input '${name}': data must be a typed array`);
  // Validate dtype/shape/data agreement through the Tensor constructor (cheap: no copy).
  const tensor = t instanceof Tensor ? t : new Tensor(dtype, data as never, shape);
  return { name, dtype: tensor.dtype, shape: [...tensor.shape], bytes: tensor.bytes() };
}
