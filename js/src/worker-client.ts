/**
 * `WorkerSession`: the `Session` API with the model living in a Worker, so inference never
 * blocks the calling thread. In browsers this is also how the threads build is used (a page's
 * main thread may not block, which a thread pool needs).
 *
 * ```js
 * import { WorkerSession } from 'wasm-torch/worker';
 * const s = await WorkerSession.load('/models/resnet18.wtb', { onProgress });
 * const out = await s.run({ x: tensor });
 * s.terminate();
 * ```
 */
import { isNode, nodeImport } from './env.js';
import {
  AbortError,
  BadFileError,
  ExecutionError,
  InternalError,
  InvalidInputError,
  OutOfMemoryError,
  ReleasedError,
  UnsupportedEnvironmentError,
  UnsupportedOpsError,
  PromptTooLongError,
  NoStateError,
  NoGenerationConfigError,
  BusyError,
  WasmTorchError,
  type ErrorCode,
  NetworkError,
} from './errors.js';
import type { BuildInfo, LoadOptions, LoadStats, ValueInfo } from './session.js';
import { isScalarValue, type InputValue, type ScalarValue } from './scalars.js';
import { Tensor } from './tensor.js';
import { nestedCallInputs, nestedCallOutputs, structureFromAssets, type Nested, type Structure } from './structure.js';
import type { PostedTensor, Reply, Request } from './worker-protocol.js';

const ERRORS: Record<string, new (m: string) => WasmTorchError> = {
  BAD_FILE: BadFileError,
  UNSUPPORTED_OPS: UnsupportedOpsError,
  INVALID_INPUT: InvalidInputError,
  OUT_OF_MEMORY: OutOfMemoryError,
  RUNTIME: ExecutionError,
  ABORTED: AbortError,
  RELEASED: ReleasedError,
  INTERNAL: InternalError,
  UNSUPPORTED_ENVIRONMENT: UnsupportedEnvironmentError,
  PROMPT_TOO_LONG: PromptTooLongError,
  NO_STATE: NoStateError,
  NO_GENERATION_CONFIG: NoGenerationConfigError,
  BUSY: BusyError,
  NETWORK: NetworkError,
};

function rebuildError(e: { code: string; message: string }): WasmTorchError {
  const Cls = ERRORS[e.code];
  return Cls ? new Cls(e.message) : new WasmTorchError(e.code as ErrorCode, e.message);
}

interface Endpoint {
  post(msg: Request, transfer?: Transferable[]): void;
  onMessage(fn: (msg: Reply) => void): void;
  onError(fn: (err: Error) => void): void;
  terminate(): void;
}

async function spawn(): Promise<Endpoint> {
  const url = new URL('./worker.js', import.meta.url);
  if (isNode) {
    const wt = await nodeImport<typeof import('node:worker_threads')>('node:worker_threads');
    const w = new wt.Worker(url, { workerData: { wasmTorchSession: true } });
    return {
      post: (m, t) => w.postMessage(m, t as never),
      onMessage: (fn) => w.on('message', fn),
      onError: (fn) => w.on('error', fn),
      terminate: () => void w.terminate(),
    };
  }
  const w = new Worker(url, { type: 'module' });
  return {
    post: (m, t) => w.postMessage(m, t ?? []),
    onMessage: (fn) => w.addEventListener('message', (e) => fn(e.data as Reply)),
    onError: (fn) => w.addEventListener('error', (e) => fn(new Error(e.message || 'worker failed to start'))),
    terminate: () => w.terminate(),
  };
}

type RequestBody = Request extends infer R ? (R extends Request ? Omit<R, 'id'> : never) : never;
type Pending = { resolve: (r: Reply) => void; reject: (e: Error) => void; onProgress?: LoadOptions['onProgress'] };

/** A session whose model runs in a dedicated Worker. */
export class WorkerSession {
  /** The model's inputs, in order (as `Session.inputs`; filled in when the load finishes). */
  inputs: readonly ValueInfo[] = [];
  /** The model's outputs, in order (as `Session.outputs`). */
  outputs: readonly ValueInfo[] = [];
  /** The session-state tensors (see `Session.states`). */
  states: readonly ValueInfo[] = [];
  /** Which build runs in the Worker and why (as `Session.build`). */
  build!: BuildInfo;
  /** Load measurements taken in the Worker (as `Session.loadStats`). */
  loadStats!: LoadStats;
  /** The outputs of the `runWhileLoading` run (as `Session.firstOutputs`). */
  firstOutputs?: Record<string, Tensor>;
  private assets = new Map<string, Uint8Array>();
  /** The parsed structure asset (`null`: none), on first use. */
  private parsedStructure: Structure | null | undefined;

  private nextId = 1;
  private pending = new Map<number, Pending>();
  private terminated = false;
  /** Thread-pool workers this page started for the worker's threads build (browsers only). */
  private poolWorkers: { terminate(): void }[] = [];

  private constructor(private readonly ep: Endpoint) {
    ep.onMessage((msg) => {
      if (msg.type === 'spawn-pool') {
        void this.spawnPool(msg);
        return;
      }
      const p = this.pending.get(msg.id);
      if (!p) return;
      if (msg.type === 'progress') {
        p.onProgress?.(msg.progress);
        return;
      }
      this.pending.delete(msg.id);
      if (msg.type === 'error') p.reject(rebuildError(msg.error));
      else p.resolve(msg);
    });
    ep.onError((err) => {
      for (const p of this.pending.values()) p.reject(new InternalError(`the worker failed: ${err.message}`));
      this.pending.clear();
    });
  }

  private request(msg: RequestBody, transfer?: Transferable[], onProgress?: LoadOptions['onProgress']): { id: number; done: Promise<Reply> } {
    if (this.terminated) return { id: 0, done: Promise.reject(new ReleasedError('the worker was terminated')) };
    const id = this.nextId++;
    const done = new Promise<Reply>((resolve, reject) => this.pending.set(id, { resolve, reject, onProgress }));
    this.ep.post({ ...msg, id } as Request, transfer);
    return { id, done };
  }

  /**
   * Start a Worker and load the model there. Sources: URL string/URL, Node file path, bytes
   * (transferred when given as an ArrayBuffer), Blob, ReadableStream (transferred).
   */
  static async load(source: string | URL | ArrayBuffer | ArrayBufferView | Blob | ReadableStream<Uint8Array> | Response, options: LoadOptions = {}): Promise<WorkerSession> {
    const ws = new WorkerSession(await spawn());
    let posted: unknown = source;
    const transfer: Transferable[] = [];
    if (source instanceof URL) posted = source.href;
    else if (typeof source === 'string' && !isNode) posted = new URL(source, globalThis.location?.href).href;
    else if (typeof Response !== 'undefined' && source instanceof Response) {
      if (!source.body) throw new BadFileError('the response has no body');
      posted = source.body;
      transfer.push(source.body as unknown as Transferable);
    } else if (typeof ReadableStream !== 'undefined' && source instanceof ReadableStream) transfer.push(source as unknown as Transferable);
    else if (source instanceof ArrayBuffer) transfer.push(source);
    const { id, done } = ws.request(
      {
        type: 'load',
        source: posted,
        options: {
          threads: options.threads,
          variant: options.variant,
          maxResumes: options.maxResumes,
          cache: options.cache,
          wasmBaseUrl: options.wasmBaseUrl ? new URL(options.wasmBaseUrl, globalThis.location?.href).href : undefined,
          ...(options.runWhileLoading !== undefined ? { runWhileLoading: postTensors(options.runWhileLoading) } : {}),
        },
      },
      transfer,
      options.onProgress,
    );
    const onAbort = () => ws.request({ type: 'abort', target: id });
    options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const r = await done;
      if (r.type !== 'loaded') throw new InternalError(`unexpected reply '${r.type}'`);
      ws.inputs = Object.freeze(r.inputs);
      ws.outputs = Object.freeze(r.outputs);
      ws.states = Object.freeze(r.states);
      ws.build = r.build;
      ws.loadStats = r.loadStats;
      ws.assets = new Map(r.assets);
      if (r.firstOutputs) {
        ws.firstOutputs = Object.fromEntries(Object.entries(r.firstOutputs).map(([n, t]) => [n, new Tensor(t.dtype, t.data as never, t.shape)]));
      }
      return ws;
    } catch (e) {
      ws.terminate();
      throw e;
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
    }
  }

  /**
   * Start the pool workers the worker's threads build asked for (see 'spawn-pool' in
   * worker-protocol.ts) with the build's own start-up module, and tell the worker how it went.
   */
  private async spawnPool(msg: Extract<Reply, { type: 'spawn-pool' }>): Promise<void> {
    let error: string | undefined;
    try {
      const helper = (await import(/* @vite-ignore */ /* webpackIgnore: true */ msg.url)) as {
        spawnPoolWorkers(init: unknown, n: number): Promise<{ terminate(): void }[]>;
      };
      const started = await helper.spawnPoolWorkers(msg.init, msg.threads);
      if (this.terminated) started.forEach((w) => w.terminate());
      else this.poolWorkers.push(...started);
    } catch (e) {
      error = `the page could not start the thread pool: ${(e as Error)?.message ?? e}`;
    }
    if (!this.terminated) this.ep.post({ id: 0, type: 'pool-spawned', request: msg.request, error });
  }

  /** The bytes of the asset `name` (a fresh copy), or `undefined`; see `Session.asset`. */
  asset(name: string): Uint8Array | undefined {
    return this.assets.get(name)?.slice();
  }

  /** The names of the file's assets, in file order. */
  assetNames(): string[] {
    return [...this.assets.keys()];
  }

  /** Run the model in the worker. Input data is copied (the caller keeps its arrays). */
  async run(inputs: Record<string, InputValue>): Promise<Record<string, Tensor>> {
    const posted: Record<string, PostedTensor | ScalarValue> = {};
    for (const [name, t] of Object.entries(inputs ?? {})) {
      if (isScalarValue(t)) {
        posted[name] = t; // checked against the input's kind in the worker
        continue;
      }
      if (!t || typeof t !== 'object') throw new InvalidInputError(`input '${name}' must be a Tensor`);
      posted[name] = { dtype: t.dtype, shape: [...t.shape], data: t.data };
    }
    const r = await this.request({ type: 'run', inputs: posted }).done;
    if (r.type !== 'result') throw new InternalError(`unexpected reply '${r.type}'`);
    const out: Record<string, Tensor> = {};
    for (const [name, t] of Object.entries(r.outputs)) out[name] = new Tensor(t.dtype, t.data as never, t.shape);
    return out;
  }

  /**
   * The nesting of the model's inputs and outputs (see `Session.structure`), or `undefined`
   * for a model of flat tensors. Parsed here from the file's asset, which came with the load.
   */
  get structure(): Structure | undefined {
    if (this.parsedStructure === undefined) this.parsedStructure = structureFromAssets(this.assets, this.inputs.length, this.outputs.length);
    return this.parsedStructure ?? undefined;
  }

  /**
   * `Session.runNested` through the worker: `runNested([image])` for a torchvision detector
   * resolves to `[{ boxes, scores, labels }]`. The nesting is flattened and rebuilt on this
   * side, so only flat tensors cross the thread boundary (as with `run`).
   */
  async runNested(...args: unknown[]): Promise<Nested> {
    const s = this.structure;
    return nestedCallOutputs(s, await this.run(nestedCallInputs(s, args, this.inputs)), this.outputs);
  }

  /** Reset the worker session's state (see `Session.resetState`). */
  async resetState(): Promise<void> {
    await this.request({ type: 'reset-state' }).done;
  }

  /** Switch per-op profiling on/off in the worker; resolves to the profile so far. */
  async profile(on?: boolean): Promise<unknown> {
    const r = await this.request({ type: 'profile', on }).done;
    return r.type === 'profile' ? r.profile : undefined;
  }

  /** Free the model (the worker stays up until `terminate`). */
  async release(): Promise<void> {
    await this.request({ type: 'release' }).done;
  }

  /** Stop the worker; pending calls reject with `ReleasedError`. */
  terminate(): void {
    if (this.terminated) return;
    this.terminated = true;
    for (const p of this.pending.values()) p.reject(new ReleasedError('the worker was terminated'));
    this.pending.clear();
    this.ep.terminate();
    for (const w of this.poolWorkers) w.terminate();
    this.poolWorkers = [];
  }
}

/** `runWhileLoading`'s tensors as posted (copied: the caller keeps its arrays). */
function postTensors(inputs: Record<string, Tensor>): Record<string, PostedTensor> {
  if (inputs === null || typeof inputs !== 'object') throw new InvalidInputError('runWhileLoading takes an object mapping input names to tensors');
  const posted: Record<string, PostedTensor> = {};
  for (const [name, t] of Object.entries(inputs)) {
    if (!t || typeof t !== 'object' || isScalarValue(t as never)) throw new InvalidInputError(`runWhileLoading input '${name}' must be a Tensor`);
    posted[name] = { dtype: t.dtype, shape: [...t.shape], data: t.data };
  }
  return posted;
}
