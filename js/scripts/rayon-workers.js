// Worker start-up for the threads build, used instead of wasm-bindgen-rayon's own helper
// (scripts/build-wasm.sh copies this file over the helper snippet after wasm-bindgen runs).
//
// Why our own: the upstream bundler-free helper fetches its own URL to make a blob Worker,
// which Node cannot do (no Web Workers, and fetch has no file: URLs). This version speaks the
// same contract to the Rust side — startWorkers(module, memory, builder), then each worker
// instantiates the same module on the same shared memory and calls
// wbg_rayon_start_worker(receiver) — and spawns Web Workers in browsers and worker_threads in
// Node.

const IS_NODE = typeof process === 'object' && typeof process.versions?.node === 'string';
const INIT = 'wasm_torch_rayon_init';
const READY = 'wasm_torch_rayon_ready';
const FAILED = 'wasm_torch_rayon_failed';

// A worker that cannot start (import or instantiation failure, e.g. no address space left for
// another view of the shared memory) must say so: a rejected promise inside a worker fires no
// 'error' event on the Worker object, so without this message the pool start would wait
// forever instead of failing (and the SDK falling back to one thread).
async function runWorker(data, post) {
  let pkg;
  try {
    pkg = await import(data.mainJS);
    await pkg.default({ module_or_path: data.module, memory: data.memory });
  } catch (e) {
    post({ type: FAILED, message: String((e && e.stack) || e) });
    return;
  }
  post({ type: READY });
  // Never returns: this thread now serves rayon's pool.
  pkg.wbg_rayon_start_worker(data.receiver);
}

function failure(m) {
  return new Error(`thread pool worker failed to start: ${m.message}`);
}

// Worker side. In a Web Worker wait for the init message (other messages are ignored: the
// SDK's own worker wrapper may share the scope). In a Node worker_threads thread started by
// startWorkers below, workerData marks us.
if (IS_NODE) {
  const wt = await import('node:worker_threads');
  if (!wt.isMainThread && wt.workerData && wt.workerData.type === INIT) {
    const port = wt.parentPort;
    port.once('message', (data) => {
      runWorker(data, (m) => port.postMessage(m));
    });
  }
} else if (typeof WorkerGlobalScope !== 'undefined' && self instanceof WorkerGlobalScope) {
  self.addEventListener('message', function onInit({ data }) {
    if (data == null || data.type !== INIT) return;
    self.removeEventListener('message', onInit);
    runWorker(data, (m) => self.postMessage(m));
  });
  // The init message (module + shared memory) could not be received here: report it instead
  // of never starting.
  self.addEventListener('messageerror', () => {
    self.postMessage({ type: FAILED, message: 'the init message (module, shared memory) could not be deserialized in the worker' });
  });
}

// Kept referenced so engines do not collect workers that only share memory with us.
let workers = [];

function spawnNode(wt, init, created) {
  return new Promise((resolve, reject) => {
    const w = new wt.Worker(new URL(import.meta.url), { workerData: { type: INIT } });
    created.push(w);
    w.once('error', reject);
    w.on('message', (m) => {
      if (m && m.type === FAILED) reject(failure(m));
      if (m && m.type === READY) {
        // The pool threads must not keep the process alive on their own.
        w.unref();
        resolve(w);
      }
    });
    w.postMessage(init);
  });
}

function spawnWeb(init, created) {
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL(import.meta.url), { type: 'module' });
    created.push(w);
    w.addEventListener('error', (e) => reject(new Error(`thread pool worker failed: ${e.message ?? e}`)));
    w.addEventListener('messageerror', () => reject(new Error('thread pool worker: a message could not be deserialized')));
    w.addEventListener('message', function onReady({ data }) {
      if (data != null && data.type === FAILED) reject(failure(data));
      if (data == null || data.type !== READY) return;
      w.removeEventListener('message', onReady);
      resolve(w);
    });
    w.postMessage(init);
  });
}

/**
 * Start `n` pool workers for `init` from the calling thread and resolve to them once each has
 * instantiated the module on the shared memory (or reject, terminating the ones started).
 * Exported so a page can start the pool of a build that lives in one of its Workers (see
 * POOL_SPAWNER below).
 */
export async function spawnPoolWorkers(init, n) {
  const wt = IS_NODE ? await import('node:worker_threads') : null;
  const created = [];
  const spawn = () => (wt ? spawnNode(wt, init, created) : spawnWeb(init, created));
  try {
    return await Promise.all(Array.from({ length: n }, spawn));
  } catch (e) {
    // Do not leave half a pool running on the shared memory.
    for (const w of created) w.terminate();
    throw e;
  }
}

// A host may register a function under this symbol to start the pool workers somewhere else:
// (url of this module, init message, count) => Promise that resolves once all are ready. The
// SDK's WorkerSession does, in browsers, so the pool workers are started by the page rather
// than nested inside the session's Worker: Firefox ESR 153 intermittently never starts the
// second of two nested module Workers (no script request, no error event), which hung the
// load; workers created by the page start reliably. The host then owns the workers' lifetime.
const POOL_SPAWNER = Symbol.for('wasm-torch.poolSpawner');

export async function startWorkers(module, memory, builder) {
  const n = builder.numThreads();
  if (n === 0) throw new Error('num_threads must be > 0');
  const init = { type: INIT, module, memory, receiver: builder.receiver(), mainJS: builder.mainJS() };
  const host = globalThis[POOL_SPAWNER];
  if (typeof host === 'function') await host(import.meta.url, init, n);
  else workers = await spawnPoolWorkers(init, n);
  builder.build();
}
