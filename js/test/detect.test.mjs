// A torchvision detector in Node: SSDlite exported with nested inputs/outputs
// (`[image] -> [{boxes, scores, labels}]`, format-spec §4.10.1), run with
// `session.runNested([image])` and matched against PyTorch's detections; the other six
// detectors (Faster R-CNN, RetinaNet, FCOS, Mask R-CNN, Keypoint R-CNN, DETR) likewise, with
// their masks, keypoints and DETR's raw outputs; plus the structure asset's checks (malformed
// trees are BAD_FILE, wrong nesting INVALID_INPUT).
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Session, Tensor, BadFileError, InvalidInputError } from '../dist/index.js';
import { parseStructure, flattenInputs } from '../dist/structure.js';
import { ROOT, runnableVariants } from './helpers.mjs';

const DIR = process.env.WASM_TORCH_DETECT ?? join(ROOT, 'target', 'js-detect');
const variants = runnableVariants();
const skip = !existsSync(join(DIR, 'ssdlite.wtb'))
  ? 'fixture missing: run js/test/detect/make_fixture.py'
  : variants.length === 0
    ? 'no wasm build in dist/wasm'
    : false;

/** Every PyTorch detection matches one of ours (label, score within 1e-5, box within 1e-3 px). */
function assertSameDetections(want, got) {
  const n = want.scores.length;
  assert.equal(got.scores.shape[0], n);
  assert.deepEqual(got.boxes.shape, [n, 4]);
  const used = new Array(n).fill(false);
  const gs = got.scores.data;
  const gl = got.labels.data;
  const gb = got.boxes.data;
  for (let i = 0; i < n; i++) {
    let hit = -1;
    for (let j = 0; j < n && hit < 0; j++) {
      if (used[j] || Number(gl[j]) !== want.labels[i] || Math.abs(gs[j] - want.scores[i]) > 1e-5) continue;
      let ok = true;
      for (let c = 0; c < 4; c++) {
        const w = want.boxes[i][c];
        if (Math.abs(gb[4 * j + c] - w) > 1e-3 + 1e-4 * Math.abs(w)) ok = false;
      }
      if (ok) hit = j;
    }
    assert.ok(hit >= 0, `PyTorch detection ${i} (label ${want.labels[i]}, score ${want.scores[i]}) has no match`);
    used[hit] = true;
  }
}

for (const variant of variants) {
  describe(`detector (SSDlite), build ${variant}`, { skip }, () => {
    test('runNested([image]) gives the same detections as PyTorch', async () => {
      const s = await Session.load(join(DIR, 'ssdlite.wtb'), { variant });
      assert.deepEqual(s.inputs.map((i) => i.name), ['images.0']);
      assert.deepEqual(s.outputs.map((o) => o.name), ['0.boxes', '0.scores', '0.labels']);
      const buf = readFileSync(join(DIR, 'image.f32'));
      const image = new Tensor('f32', new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4).slice(), [3, 320, 320]);
      const out = await s.runNested([image]);
      assert.ok(Array.isArray(out) && out.length === 1);
      assert.deepEqual(Object.keys(out[0]).sort(), ['boxes', 'labels', 'scores']);
      const want = JSON.parse(readFileSync(join(DIR, 'expected.json'), 'utf8'));
      assert.ok(want.scores.length > 0);
      assertSameDetections(want, out[0]);
      // the flat interface gives the same tensors by their dotted names
      const flat = await s.run({ 'images.0': image });
      assert.deepEqual([...flat['0.labels'].data], [...out[0].labels.data]);
      await assert.rejects(s.runNested([image, image]), InvalidInputError);
      await assert.rejects(s.runNested([new Tensor('f32', new Float32Array(320 * 320), [320, 320])]));
    });
  });
}

// The other six detectors (Faster R-CNN, RetinaNet, FCOS, Mask R-CNN, Keypoint R-CNN, DETR;
// small sizes, random weights) of py-export/tests/detectors.py, written by make_fixture.py with
// PyTorch's outputs. Each runs in every build (about 3 s per build for the six).
const MODELS = existsSync(join(DIR, 'models.json')) ? JSON.parse(readFileSync(join(DIR, 'models.json'), 'utf8')) : [];

/** A raw little-endian file as a typed array of `dtype` ('f32' or 'i64'). */
function readRaw(path, dtype) {
  const buf = readFileSync(path);
  const bytes = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength).slice();
  return dtype === 'i64' ? new BigInt64Array(bytes.buffer) : new Float32Array(bytes.buffer);
}

/** PyTorch's outputs of `name` as `{ key: { shape, data } }`. */
function expected(name) {
  const meta = JSON.parse(readFileSync(join(DIR, `${name}.expected.json`), 'utf8'));
  const out = {};
  for (const [k, { dtype, shape }] of Object.entries(meta.outputs)) {
    out[k] = { shape, data: readRaw(join(DIR, `${name}.${k}.bin`), dtype) };
  }
  return { meta, out };
}

/**
 * Pairs each PyTorch detection with one of ours (same label, score within 1e-4, box within
 * 1e-4 of the image size `size`), one to one; returns our index for each of theirs. Tied
 * scores may come out in another order, so detections are matched as a set.
 */
function matchDetections(want, got, size) {
  const n = want.scores.shape[0];
  assert.equal(got.scores.shape[0], n);
  assert.deepEqual(got.boxes.shape, [n, 4]);
  const used = new Array(n).fill(false);
  const pairs = [];
  for (let i = 0; i < n; i++) {
    let hit = -1;
    for (let j = 0; j < n && hit < 0; j++) {
      if (used[j] || got.labels.data[j] !== want.labels.data[i]) continue;
      if (Math.abs(got.scores.data[j] - want.scores.data[i]) > 1e-4) continue;
      let ok = true;
      for (let c = 0; c < 4; c++) if (Math.abs(got.boxes.data[4 * j + c] - want.boxes.data[4 * i + c]) > 1e-4 * size) ok = false;
      if (ok) hit = j;
    }
    assert.ok(hit >= 0, `PyTorch detection ${i} (label ${want.labels.data[i]}, score ${want.scores.data[i]}) has no match`);
    used[hit] = true;
    pairs.push(hit);
  }
  return pairs;
}

/** Rows `pairs[i]` of ours against rows `i` of PyTorch's, elementwise within `atol`. */
function assertRowsClose(want, got, pairs, atol, what) {
  assert.deepEqual(got.shape, want.shape, what);
  const row = want.shape.slice(1).reduce((a, b) => a * b, 1);
  let worst = 0;
  pairs.forEach((j, i) => {
    for (let e = 0; e < row; e++) worst = Math.max(worst, Math.abs(got.data[j * row + e] - want.data[i * row + e]));
  });
  assert.ok(worst <= atol, `${what}: max difference ${worst} > ${atol}`);
}

for (const [name, variant] of MODELS.flatMap((n) => variants.map((v) => [n, v]))) {
  describe(`detector ${name}, build ${variant}`, { skip }, () => {
    test('gives the same detections as PyTorch', async () => {
      const { meta, out: want } = expected(name);
      const s = await Session.load(join(DIR, `${name}.wtb`), { variant });
      const image = new Tensor('f32', readRaw(join(DIR, `${name}.input.f32`), 'f32'), meta.input);
      const got = meta.nested ? (await s.runNested([image]))[0] : await s.runNested(image);
      assert.deepEqual(Object.keys(got).sort(), Object.keys(want).sort());
      assert.ok(want.scores.shape[0] > 0);
      const size = meta.input[meta.input.length - 1];
      const pairs = matchDetections(want, got, size);
      if (want.masks) assertRowsClose(want.masks, got.masks, pairs, 1e-4, 'masks');
      if (want.keypoints) {
        assertRowsClose(want.keypoints, got.keypoints, pairs, 1e-4 * size, 'keypoints');
        const ks = Math.max(1, ...Array.from(want.keypoints_scores.data, Math.abs));
        assertRowsClose(want.keypoints_scores, got.keypoints_scores, pairs, 1e-4 * ks, 'keypoint scores');
      }
      if (want.logits) {
        // DETR: the raw per-query outputs, in query order
        const all = want.logits.shape[0];
        const ids = Array.from({ length: all }, (_, i) => i);
        const ls = Math.max(...Array.from(want.logits.data, Math.abs));
        assertRowsClose(want.logits, got.logits, ids, 1e-4 * ls, 'logits');
        assertRowsClose(want.pred_boxes, got.pred_boxes, ids, 1e-4, 'pred_boxes');
      }
      // a wrong-rank and an empty image are typed errors
      const flat = new Tensor('f32', new Float32Array(size * size), meta.nested ? [size, size] : [1, size, size]);
      const empty = new Tensor('f32', new Float32Array(0), meta.nested ? [3, 0, size] : [1, 3, 0, size]);
      for (const b of [flat, empty]) await assert.rejects(meta.nested ? s.runNested([b]) : s.runNested(b), InvalidInputError);
    });
  });
}

describe('structure asset checks', () => {
  const enc = (o) => new TextEncoder().encode(typeof o === 'string' ? o : JSON.stringify(o));
  test('a well-formed tree parses and flattens nested inputs', () => {
    const s = parseStructure(enc({ version: 1, inputs: [{ list: [{ t: 0 }] }, { const: null }], outputs: { list: [{ dict: [['a', { t: 0 }]] }] } }), 1, 1);
    const flat = flattenInputs(s, [[1], undefined], ['images.0']);
    assert.deepEqual(flat, { 'images.0': 1 });
    assert.throws(() => flattenInputs(s, [[1, 2], undefined], ['images.0']), InvalidInputError);
  });
  for (const bad of [
    'not json',
    { version: 2, inputs: [], outputs: { t: 0 } },
    { version: 1, inputs: [{ t: 0 }], outputs: { list: [{ t: 0 }, { t: 0 }] } },
    { version: 1, inputs: [{ t: 7 }], outputs: { t: 0 } },
    { version: 1, inputs: [], outputs: { set: [] } },
    { version: 1, inputs: [], outputs: { const: 1 } },
  ]) {
    test(`malformed: ${JSON.stringify(bad).slice(0, 60)}`, () => {
      assert.throws(() => parseStructure(enc(bad), bad.inputs?.length ?? 0, 1), BadFileError);
    });
  }
});
