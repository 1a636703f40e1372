// Runs the wasm-torch generation loop in a dedicated Worker: a page's main thread may not
// block, which the threads build's pool needs (and a Worker is where a real app runs it).
import { Session, Tensor } from '../../../js/dist/index.js';
import { benchWasmTorch } from '../wt_loop.mjs';

self.onmessage = async ({ data }) => {
  try {
    const r = await benchWasmTorch({ Session, Tensor, ...data, now: () => performance.now() });
    self.postMessage({ ok: r });
  } catch (e) {
    self.postMessage({ error: String(e?.stack ?? e) });
  }
};
