// The demo page's object detection: torchvision SSDlite 320 (exported by detector.py, random
// weights: no installable package ships trained ones) in a Worker (WorkerSession.runNested:
// `[image] -> [{boxes, scores, labels}]`), on the sample picture, a file or the camera, with
// the boxes, COCO labels and scores drawn on a canvas, the load and run times and the build.
//
// `startDetect` resolves to the self-check the browser tests read, on the sample picture: the
// page decoded the same pixels PyTorch saw (their byte sum), the SDK's detections match
// PyTorch's (detections.mjs tolerances), and what was drawn is what the SDK returned (the boxes
// recorded while drawing, and the canvas pixels under the last box's edge in its colour).
import { Tensor } from '/js/dist/index.js';
import { matchDetections, plainDetections } from './detections.mjs';

/** The detector's input side (the file's signature is images.0: f32[3, 320, 320]). */
const SIZE = 320;
/** The display canvas is this many times larger than the model's input. */
const SCALE = 1.5;
/** Box outline width in display pixels: odd and ≥ 3, so the pixel under an edge is fully covered. */
const LINE = 3;
/** Outline colours by label (opaque, so the self-check can read them back exactly). */
const PALETTE = ['#e6194b', '#3cb44b', '#4363d8', '#f58231', '#911eb4', '#42d4f4', '#f032e6', '#9a6324', '#000075', '#808000'];
const colourOf = (label) => PALETTE[label % PALETTE.length];
const rgbOf = (hex) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
const esc = (t) => String(t).replace(/[&<>]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;' })[c]);

function loadImage(src) {
  return new Promise((ok, fail) => {
    const img = new Image();
    img.onload = () => ok(img);
    img.onerror = () => fail(new Error(`cannot load ${src}`));
    img.src = src;
  });
}

/**
 * The model input from any drawable (image, video frame): stretched to 320x320 as
 * torchvision's SSD transform does, RGB in [0, 1], CHW. Also returns the byte sum of the
 * pixels (the self-check's proof that the page saw PyTorch's pixels).
 */
function toInput(source, w, h) {
  const c = typeof OffscreenCanvas === 'function' ? new OffscreenCanvas(SIZE, SIZE) : Object.assign(document.createElement('canvas'), { width: SIZE, height: SIZE });
  const ctx = c.getContext('2d', { willReadFrequently: true });
  ctx.imageSmoothingQuality = 'high';
  ctx.drawImage(source, 0, 0, w, h, 0, 0, SIZE, SIZE);
  const { data } = ctx.getImageData(0, 0, SIZE, SIZE);
  const x = new Float32Array(3 * SIZE * SIZE);
  let sum = 0;
  for (let i = 0; i < SIZE * SIZE; i++) {
    for (let ch = 0; ch < 3; ch++) {
      const v = data[i * 4 + ch];
      sum += v;
      x[ch * SIZE * SIZE + i] = v / 255;
    }
  }
  return { tensor: new Tensor('f32', x, [3, SIZE, SIZE]), pixelSum: sum };
}

/**
 * Draw `source` and its detections on the display canvas; returns what was drawn, in model
 * input coordinates: [{label, score, box}] in drawing order.
 */
function draw(canvas, source, w, h, det, categories) {
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  ctx.drawImage(source, 0, 0, w, h, 0, 0, canvas.width, canvas.height);
  ctx.lineWidth = LINE;
  ctx.font = '13px system-ui, sans-serif';
  ctx.textBaseline = 'top';
  const drawn = [];
  // Lowest score first, so the most confident box ends on top.
  const order = det.scores.map((_, i) => i).sort((a, b) => det.scores[a] - det.scores[b]);
  for (const i of order) {
    const [x1, y1, x2, y2] = det.boxes[i].map((v) => v * SCALE);
    const colour = colourOf(det.labels[i]);
    ctx.strokeStyle = colour;
    ctx.strokeRect(x1, y1, x2 - x1, y2 - y1);
    const text = `${categories[det.labels[i]] ?? `class ${det.labels[i]}`} ${det.scores[i].toFixed(2)}`;
    const tw = ctx.measureText(text).width + 6;
    // The tag sits above the box, or inside it at the top of the picture.
    const ty = y1 >= 16 ? y1 - 16 : y1;
    ctx.fillStyle = colour;
    ctx.fillRect(x1, ty, tw, 16);
    ctx.fillStyle = '#fff';
    ctx.fillText(text, x1 + 3, ty + 2);
    drawn.push({ label: det.labels[i], score: det.scores[i], box: [x1, y1, x2, y2].map((v) => v / SCALE) });
  }
  return drawn;
}

/**
 * Wire up the detection section. `urls`: `detector` (.wtb), `sample` (picture), `expected`
 * (PyTorch's detections on it, detector.py). `loadModel(url, prefix)` is the page's loader
 * (progress bar, status line with the build). Resolves to the self-check result.
 */
export async function startDetect(urls, $, loadModel) {
  const canvas = $('det-canvas');
  canvas.width = canvas.height = SIZE * SCALE;
  const session = await loadModel(urls.detector, 'det');
  if (!session) return { name: 'demo: detection', ok: false, detail: `the detector did not load: ${$('det-status').textContent}` };
  const raw = session.asset('coco-categories.json');
  const categories = raw ? JSON.parse(new TextDecoder().decode(raw)) : [];

  /** Run the detector on a drawable and show the result; returns the numbers for the check. */
  async function detect(source, w, h, what) {
    const t0 = performance.now();
    const { tensor, pixelSum } = toInput(source, w, h);
    const t1 = performance.now();
    const [out] = await session.runNested([tensor]);
    const t2 = performance.now();
    const det = plainDetections(out);
    const drawn = draw(canvas, source, w, h, det, categories);
    const t3 = performance.now();
    $('det-list').innerHTML = det.scores
      .map((s, i) => `<li><span class="swatch" style="background:${colourOf(det.labels[i])}"></span>${esc(categories[det.labels[i]] ?? `class ${det.labels[i]}`)} — ${s.toFixed(3)} <small>[${det.boxes[i].map((v) => v.toFixed(0)).join(', ')}]</small></li>`)
      .join('');
    $('det-time').textContent = `${what}: ${det.scores.length} detections · run ${(t2 - t1).toFixed(0)} ms (runNested in the worker, incl. transfer) · pre-processing ${(t1 - t0).toFixed(0)} ms · drawing ${(t3 - t2).toFixed(0)} ms`;
    return { det, drawn, pixelSum, runMs: t2 - t1 };
  }

  // ---- file picker and camera ----
  $('det-file').addEventListener('change', async (ev) => {
    const file = ev.target.files?.[0];
    if (!file) return;
    const img = await loadImage(URL.createObjectURL(file));
    await detect(img, img.naturalWidth, img.naturalHeight, file.name);
  });
  const cam = $('det-camera');
  let stream;
  if (!navigator.mediaDevices?.getUserMedia) {
    cam.disabled = true;
    cam.title = 'this browser gives the page no camera (needs a secure context: https or localhost)';
  } else {
    cam.disabled = false;
    cam.addEventListener('click', async () => {
      if (stream) {
        stream.getTracks().forEach((t) => t.stop());
        stream = undefined;
        cam.textContent = 'camera';
        return;
      }
      try {
        stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 } });
      } catch (e) {
        $('det-time').innerHTML = `<span class="err">camera: ${esc(e.name)}: ${esc(e.message)}</span>`;
        return;
      }
      cam.textContent = 'stop camera';
      const video = document.createElement('video');
      video.muted = true;
      video.playsInline = true;
      video.srcObject = stream;
      await video.play();
      // One frame at a time: the next is taken when the previous detection is drawn.
      while (stream) await detect(video, video.videoWidth, video.videoHeight, 'camera');
    });
  }
  $('det-sample').addEventListener('click', async () => {
    const img = await loadImage(urls.sample);
    await detect(img, img.naturalWidth, img.naturalHeight, 'sample picture');
  });
  $('det-sample').disabled = false;

  // ---- the sample picture and the self-check ----
  const [img, expected] = await Promise.all([loadImage(urls.sample), fetch(urls.expected).then((r) => (r.ok ? r.json() : undefined))]);
  const r = await detect(img, img.naturalWidth, img.naturalHeight, 'sample picture');
  const fails = [];
  if (!expected) fails.push(`no PyTorch reference at ${urls.expected}`);
  else {
    if (r.pixelSum !== expected.pixel_sum) fails.push(`decoded pixels differ from PyTorch's (byte sum ${r.pixelSum} vs ${expected.pixel_sum})`);
    if (expected.scores.length === 0) fails.push('the reference has no detections (the check would be vacuous)');
    const vsTorch = matchDetections(expected, r.det);
    if (!vsTorch.ok) fails.push(`vs PyTorch: ${vsTorch.detail}`);
    // What was drawn is what the SDK returned (same set, coordinates through the scale and back).
    const drawnDet = { boxes: r.drawn.map((d) => d.box), scores: r.drawn.map((d) => d.score), labels: r.drawn.map((d) => d.label) };
    const vsDrawn = matchDetections(r.det, drawnDet);
    if (!vsDrawn.ok) fails.push(`drawn vs SDK: ${vsDrawn.detail}`);
    // The canvas has the topmost box: the pixel under its left edge, low enough to miss its tag.
    const top = r.drawn.at(-1);
    if (top) {
      const px = Math.min(canvas.width - 1, Math.floor(top.box[0] * SCALE));
      const py = Math.min(canvas.height - 1, Math.floor(top.box[3] * SCALE) - 1);
      const got = [...canvas.getContext('2d').getImageData(px, py, 1, 1).data.slice(0, 3)];
      const want = rgbOf(colourOf(top.label));
      if (got.some((v, k) => v !== want[k])) fails.push(`canvas pixel (${px}, ${py}) is rgb(${got}), expected the top box's rgb(${want})`);
    }
    if (fails.length === 0) {
      return {
        name: 'demo: detection on the sample picture matches PyTorch and is drawn',
        ok: true,
        detail: `${vsTorch.detail}; ${r.drawn.length} boxes drawn; ${$('det-status').textContent}; ${$('det-time').textContent}`,
      };
    }
  }
  return { name: 'demo: detection on the sample picture matches PyTorch and is drawn', ok: false, detail: fails.join('; ') };
}
