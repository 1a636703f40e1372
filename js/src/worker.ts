/**
 * The Worker side of `WorkerSession`: a `Session` living in a Web Worker (browsers) or a
 * worker_threads thread (Node), driven by messages (see worker-protocol.ts). Running there keeps
 * the page responsive, and it is the only place the threads build can run in a browser (the
 * main thread may not block on `Atomics.wait`).
 */
import { isNode, nodeImport } from './env.js';
import { Session } from './session.js';
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

const port = await getPort();
if (port) {
  let session: Session | undefined;
  const aborts = new Map<number, AbortController>();
  port.listen(async (msg) => {
    try {
      switch (msg.type) {
        case 'load': {
          const ctl = new AbortController();
          aborts.set(msg.id, ctl);
          try {
            session?.release();
            session = await Session.load(msg.source as ModelSource, {
              ...msg.options,
              signal: ctl.signal,
              onProgress: (progress) => port.post({ id: msg.id, type: 'progress', progress }),
            });
          } finally {
            aborts.delete(msg.id);
          }
          port.post({
            id: msg.id,
            type: 'loaded',
            inputs: [...session.inputs],
            outputs: [...session.outputs],
            build: session.build,
            loadStats: session.loadStats,
          });
          break;
        }
        case 'abort':
          aborts.get(msg.target)?.abort('aborted by the caller');
          port.post({ id: msg.id, type: 'done' });
          break;
        case 'run': {
          if (!session) throw new WasmTorchError('RELEASED', 'no model is loaded in this worker');
          const inputs: Record<string, Tensor> = {};
          for (const [name, t] of Object.entries(msg.inputs)) inputs[name] = new Tensor(t.dtype, t.data as never, t.shape);
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
