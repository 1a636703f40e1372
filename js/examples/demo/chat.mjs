// The demo page's chat: SmolLM2-135M-Instruct in a Worker (WorkerSession: the threads build
// when the page is cross-origin isolated, else single-threaded SIMD), tokens chosen on this
// page by wasm-torch/llm (tokenizer and chat template from the model's assets), the answer
// streamed token by token with tok/s, the build that runs, and a stop button (AbortSignal).
//
// `startChat` resolves to the self-check the browser tests read: the greedy answer to the
// first question of reference.json, token for token against transformers.
import { WorkerSession } from '/js/dist/worker-client.js';
import { TextGenerator } from '/js/dist/llm/index.js';

const mb = (b) => (b / 1048576).toFixed(0);
const esc = (t) => t.replace(/[&<>]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;' })[c]);

/** Fetch a side file of the export folder, or undefined when it is not there. */
async function side(dir, name) {
  const r = await fetch(`${dir}/${name}`);
  return r.ok ? new Uint8Array(await r.arrayBuffer()) : undefined;
}

/**
 * Wire up the chat section. `dir` is the URL of the export folder (smollm2.wtb, and when the
 * model has no assets yet, tokenizer.json + generation.json beside it; reference.json for the
 * self-check). Resolves to the self-check result.
 */
export async function startChat(dir, $) {
  const status = $('chat-status');
  const bar = $('chat-progress');
  const log = $('chat-log');
  const input = $('chat-input');
  const send = $('chat-send');
  const stop = $('chat-stop');
  const speed = $('chat-speed');
  let session;
  try {
    session = await WorkerSession.load(`${dir}/smollm2.wtb`, {
      onProgress: (p) => {
        if (p.totalBytes) bar.value = p.loadedBytes / p.totalBytes;
        status.textContent = `${mb(p.loadedBytes)}${p.totalBytes ? ` / ${mb(p.totalBytes)}` : ''} MB, weight chunks ${p.chunksReady}/${p.chunksTotal}`;
      },
    });
  } catch (e) {
    status.innerHTML = `<span class="err">${esc(`${e.name} [${e.code}]: ${e.message}`)}</span> — export the model with benches/llm/export_smollm2.py into ${esc(dir)}`;
    return { name: 'demo: chat answers', ok: false, detail: status.textContent };
  }
  bar.value = 1;
  const b = session.build;
  const buildText = `${b.variant} build (${b.flavor}, ${b.threads} thread${b.threads > 1 ? 's' : ''})`;
  status.textContent = `loaded ${mb(session.loadStats.bytes)} MB in ${(session.loadStats.ms / 1000).toFixed(1)} s · ${buildText} — ${b.reason}`;
  let gen;
  try {
    gen = await TextGenerator.create(session).catch(async (e) => {
      if (e.code !== 'NO_GENERATION_CONFIG') throw e;
      // A model exported before it carried assets: the side files next to it.
      const [generationConfig, tokenizer] = await Promise.all([side(dir, 'generation.json'), side(dir, 'tokenizer.json')]);
      if (!generationConfig || !tokenizer) throw e;
      return TextGenerator.create(session, { generationConfig, tokenizer });
    });
  } catch (e) {
    status.innerHTML += ` <span class="err">${esc(`${e.name} [${e.code}]: ${e.message}`)}</span>`;
    return { name: 'demo: chat answers', ok: false, detail: status.textContent };
  }

  const history = [];
  let controller;
  function bubble(role, text) {
    const div = document.createElement('div');
    div.className = `msg ${role}`;
    div.textContent = text;
    log.append(div);
    log.scrollTop = log.scrollHeight;
    return div;
  }

  /** Ask one question; resolves to {tokens, finishReason, stats} (or the error). */
  async function ask(question) {
    history.push({ role: 'user', content: question });
    bubble('user', question);
    const out = bubble('assistant', '');
    out.classList.add('streaming');
    controller = new AbortController();
    send.disabled = true;
    stop.disabled = false;
    const sample = $('chat-sample').checked;
    const tokens = [];
    let text = '';
    let last;
    try {
      for await (const c of gen.generate(history, {
        maxNewTokens: Number($('chat-max').value) || 128,
        doSample: sample,
        temperature: 0.7,
        topP: 0.9,
        repetitionPenalty: sample ? 1.1 : 1,
        signal: controller.signal,
      })) {
        if (c.token !== undefined) tokens.push(c.token);
        text += c.text;
        out.textContent = text;
        log.scrollTop = log.scrollHeight;
        const s = c.stats;
        speed.textContent = `${s.newTokens} tokens · prefill ${s.promptTokens} tokens in ${s.prefillMs.toFixed(0)} ms · decode ${s.tokensPerSecond.toFixed(1)} tok/s · ${buildText}`;
        last = c;
      }
      history.push({ role: 'assistant', content: text });
      speed.textContent += ` · ended: ${last.finishReason}`;
      return { tokens, text, finishReason: last.finishReason, stats: last.stats };
    } catch (e) {
      history.pop();
      if (e.code === 'ABORTED') speed.textContent += ' · stopped';
      else out.innerHTML = `<span class="err">${esc(`${e.name} [${e.code}]: ${e.message}`)}</span>`;
      return { error: e, tokens, text };
    } finally {
      out.classList.remove('streaming');
      send.disabled = false;
      stop.disabled = true;
    }
  }
  stop.addEventListener('click', () => controller?.abort());
  send.addEventListener('click', () => {
    const q = input.value.trim();
    if (q) {
      input.value = '';
      void ask(q);
    }
  });
  $('chat-reset').addEventListener('click', () => {
    history.length = 0;
    log.textContent = '';
  });
  input.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && !ev.shiftKey && !send.disabled) {
      ev.preventDefault();
      send.click();
    }
  });

  // The first question is asked on load (greedy), and checked against transformers when
  // reference.json is there.
  const refBytes = await side(dir, 'reference.json');
  const ref = refBytes ? JSON.parse(new TextDecoder().decode(refBytes))[0] : undefined;
  const question = ref?.messages?.[0]?.content ?? 'What is the capital of France?';
  $('chat-sample').checked = false;
  $('chat-max').value = '64';
  const r = await ask(question);
  if (r.error) return { name: 'demo: chat answers', ok: false, detail: `${r.error.name} [${r.error.code}]: ${r.error.message}` };
  const got = r.finishReason === 'eos' ? [...r.tokens, gen.config.eosTokenIds[0]] : r.tokens;
  const detail = `${JSON.stringify(r.text)}; ${r.tokens.length} tokens, decode ${r.stats.tokensPerSecond.toFixed(1)} tok/s; ${buildText}`;
  if (!ref) return { name: 'demo: chat answers', ok: r.tokens.length > 0, detail: `${detail} (no reference.json: not compared)` };
  const same = got.length === ref.tokens.length && got.every((t, i) => t === ref.tokens[i]);
  return { name: 'demo: chat greedy answer = transformers (reference.json)', ok: same, detail: same ? detail : `${detail}; want ${JSON.stringify(ref.text)}` };
}
