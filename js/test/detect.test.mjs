// A torchvision detector in Node: SSDlite exported with nested inputs/outputs
// (`[image] -> [{boxes, scores, labels}]`, format-spec §4.10.1), run with
// `session.runNested([image])` and matched against PyTorch's detections; plus the structure
// asset's checks (malformed trees are BAD_FILE, wrong nesting INVALID_INPUT).
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
