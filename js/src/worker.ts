/**
 * The Worker side of `WorkerSession`: a `Session` living in a Web Worker (browsers) or a
 * worker_threads thread (Node), driven by messages (see worker-protocol.ts). Running there keeps
 * the page responsive, and it is the only place the threads build can run in a browser (the
 * main thread may not block on `Atomics.wait`).
 */
import { isNode, nodeImport } from './env.js';
import { Session } from './session.js';
import { isScalarValue, type InputValue } from './scalars.js';
import { Tensor } from './tensor.js';
import { WasmTorchError } from './errors.js';
import type { PostedTensor, Reply, Request } from './worker-protocol.js';
import type { ModelSource } from './source.js';

interface Port {
  post(msg: Reply, transfer?: Transferable[]): void;
  listen(fn: (msg: Request) => void): void;
}

async function getPort(): Promise<Port | undefined> {
  if (isNode) {
    const wt = await nodeImport<typeof import('node:worker_threads')>('node:worker_threads');
    const port = wt.parentPort;
    if (wt.isMainThread || !port || (wt.workerData as { wasmTorchSession?: boolean } | null)?.wasmTorchSession !== true) return undefined;
    return {
      post: (msg, transfer) => port.postMessage(msg, transfer as never),
      listen: (fn) => port.on('message', fn),
    };
  }
  const scope = globalThis as unknown as {
    postMessage(m: unknown, t?: Transferable[]): void;
    addEventListener(t: 'message', f: (e: MessageEvent) => void): void;
  };
  return {
    post: (msg, transfer) => scope.postMessage(msg, transfer ?? []),
    listen: (fn) =>
      scope.addEventListener('message', (e: MessageEvent) => {
        const d = e.data as Request | undefined;
        if (d && typeof d === 'object' && typeof d.id === 'number' && typeof d.type === 'string') fn(d);
      }),
  };
}

function errorReply(id: number, e: unknown): Reply {
  const err = e as Error;
  const code = e instanceof WasmTorchError ? e.code : 'INTERNAL';
  return { id, type: 'error', error: { code, name: err?.name ?? 'Error', message: err?.message ?? String(e) } };
}

/**
 * In a browser, have the page start the threads build's pool workers (see POOL_SPAWNER in
 * scripts/rayon-workers.js): Firefox ESR intermittently never starts the second of two module
 * Workers nested in this one. Node's worker_threads nest fine and keep the default.
 */
function startPoolsOnCaller(port: Port): (request: Request) => boolean {
  const waiting = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  let next = 1;
  (globalThis as Record<symbol, unknown>)[Symbol.for('wasm-torch.poolSpawner')] = (url: string, init: unknown, threads: number) =>
    new Promise<void>((resolve, reject) => {
      const request = next++;
      waiting.set(request, { resolve, reject });
      port.post({ id: 0, type: 'spawn-pool', request, url, threads, init });
    });
  return (msg) => {
    if (msg.type !== 'pool-spawned') return false;
    const w = waiting.get(msg.request);
    waiting.delete(msg.request);
    if (msg.error === undefined) w?.resolve();
    else w?.reject(new Error(msg.error));
    return true;
  };
}

const port = await getPort();
if (port) {
  let session: Session | undefined;
  const poolAnswer = isNode ? () => false : startPoolsOnCaller(port);
  const aborts = new Map<number, AbortController>();
  port.listen(async (msg) => {
    if (poolAnswer(msg)) return;
    try {
      switch (msg.type) {
        case 'load': {
          const ctl = new AbortController();
          aborts.set(msg.id, ctl);
          try {
            session?.release();
            const { runWhileLoading: earlyPosted, ...postedOptions } = msg.options;
            const runWhileLoading = earlyPosted
              ? Object.fromEntries(Object.entries(earlyPosted).map(([n, t]) => [n, new Tensor(t.dtype, t.data as never, t.shape)]))
              : undefined;
            session = await Session.load(msg.source as ModelSource, {
              ...postedOptions,
              ...(runWhileLoading ? { runWhileLoading } : {}),
              signal: ctl.signal,
              onProgress: (progress) => port.post({ id: msg.id, type: 'progress', progress }),
            });
          } finally {
            aborts.delete(msg.id);
          }
          const firstTransfer: Transferable[] = [];
          let firstOutputs: Record<string, PostedTensor> | undefined;
          if (session.firstOutputs) {
            firstOutputs = {};
            for (const [name, t] of Object.entries(session.firstOutputs)) {
              firstOutputs[name] = { dtype: t.dtype, shape: [...t.shape], data: t.data };
              firstTransfer.push(t.data.buffer as ArrayBuffer);
            }
          }
          port.post({
            id: msg.id,
            type: 'loaded',
            ...(firstOutputs ? { firstOutputs } : {}),
            inputs: [...session.inputs],
            outputs: [...session.outputs],
            states: [...session.states],
            build: session.build,
            loadStats: session.loadStats,
            assets: session.assetNames().map((n) => [n, session!.asset(n) ?? new Uint8Array()]),
          }, firstTransfer);
          break;
        }
        case 'abort':
          aborts.get(msg.target)?.abort('aborted by the caller');
          port.post({ id: msg.id, type: 'done' });
          break;
        case 'run': {
          if (!session) throw new WasmTorchError('RELEASED', 'no model is loaded in this worker');
          const inputs: Record<string, InputValue> = {};
          for (const [name, t] of Object.entries(msg.inputs)) {
            inputs[name] = isScalarValue(t) ? t : new Tensor(t.dtype, t.data as never, t.shape);
          }
          const out = session.runSync(inputs);
          const posted: Record<string, PostedTensor> = {};
          const transfer: Transferable[] = [];
          for (const [name, t] of Object.entries(out)) {
            posted[name] = { dtype: t.dtype, shape: [...t.shape], data: t.data };
            transfer.push(t.data.buffer as ArrayBuffer);
          }
          port.post({ id: msg.id, type: 'result', outputs: posted }, transfer);
          break;
        }
        case 'profile':
          if (!session) throw new WasmTorchError('RELEASED', 'no model is loaded in this worker');
          if (msg.on !== undefined) session.setProfiling(msg.on);
          port.post({ id: msg.id, type: 'profile', profile: session.profile() });
          break;
        case 'reset-state':
          if (!session) throw new WasmTorchError('RELEASED', 'no model is loaded in this worker');
          session.resetState();
          port.post({ id: msg.id, type: 'done' });
          break;
        case 'release':
          session?.release();
          session = undefined;
          port.post({ id: msg.id, type: 'done' });
          break;
      }
    } catch (e) {
      port.post(errorReply(msg.id, e));
    }
  });
}
