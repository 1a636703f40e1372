// Page script of the LLM benchmark. Query: ?cfg=<JSON> with {engine: 'wasm-torch'|'wllama',
// threads, runs, newTokens, prompt: {ids, text}, model (URL of the .wtb or the .gguf),
// variant (wasm-torch build)}. Sets window.__llmBench to {ok: {...}} or {error}.
const cfg = JSON.parse(new URL(location.href).searchParams.get('cfg'));
const log = (s) => {
  document.getElementById('log').textContent += `${s}\n`;
};

/** wasm-torch in a module Worker (see worker.mjs). */
function runWasmTorch() {
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL('./worker.mjs', import.meta.url), { type: 'module' });
    w.onmessage = ({ data }) => (data.error ? reject(new Error(data.error)) : resolve(data.ok));
    w.onerror = (e) => reject(new Error(e.message ?? 'worker error'));
    w.postMessage({
      source: new URL(cfg.model, location.href).href,
      variant: cfg.variant,
      threads: cfg.threads,
      prompt: cfg.prompt.ids,
      newTokens: cfg.newTokens,
      runs: cfg.runs,
      profile: false,
    });
  });
}

/**
 * wllama on the GGUF: greedy raw completion of the prompt text, EOS ignored, prompt cache off
 * (every run prefills the whole prompt). Speeds are llama.cpp's own timings of the run.
 */
async function runWllama() {
  const { Wllama } = await import('../node_modules/@wllama/wllama/esm/index.js');
  const wasm = new URL('../node_modules/@wllama/wllama/esm/wasm/wllama.wasm', import.meta.url).href;
  const wllama = new Wllama({ default: wasm }, { suppressNativeLog: true, logger: { ...console, debug: () => {}, log: () => {} } });
  const blob = await (await fetch(cfg.model)).blob();
  const t0 = performance.now();
  await wllama.loadModel([blob], { n_threads: cfg.threads, n_ctx: 512, n_batch: 512, n_gpu_layers: 0 });
  const load_ms = performance.now() - t0;
  const complete = (maxTokens = cfg.newTokens) =>
    wllama.createCompletion({
      prompt: cfg.prompt.text,
      max_tokens: maxTokens,
      temp: 0,
      top_k: 1,
      ignore_eos: true,
      cache_prompt: false,
    });
  await complete(4); // warm-up (prefill + a few decode steps)
  const runs = [];
  for (let i = 0; i < cfg.runs; i++) runs.push((await complete()).timings);
  const med = (xs) => {
    const s = [...xs].sort((a, b) => a - b);
    const m = s.length >> 1;
    return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
  };
  const r = {
    prefill_tok_s: med(runs.map((t) => t.prompt_per_second)),
    decode_tok_s: med(runs.map((t) => t.predicted_per_second)),
    runs: runs.length,
    load_ms,
    prompt_tokens: runs[0].prompt_n,
    new_tokens: runs[0].predicted_n,
    multithread: wllama.isMultithread(),
    threads_used: wllama.getNumThreads(),
    version: `@wllama/wllama (libllama ${Wllama.getLibllamaVersion()})`,
  };
  // Which wasm build ran and with what features (llama.cpp's system info), to explain speeds.
  r.debug = await wllama._getDebugInfo().then((d) => JSON.stringify(d).slice(0, 600), (e) => `n/a: ${e?.message ?? e}`);
  await wllama.exit();
  return r;
}

try {
  log(`${cfg.engine} threads=${cfg.threads} crossOriginIsolated=${self.crossOriginIsolated}`);
  const r = cfg.engine === 'wllama' ? await runWllama() : await runWasmTorch();
  window.__llmBench = { ok: { ...r, userAgent: navigator.userAgent, crossOriginIsolated: self.crossOriginIsolated } };
} catch (e) {
  log(String(e?.stack ?? e));
  window.__llmBench = { error: String(e?.message ?? e).slice(0, 400) };
}
