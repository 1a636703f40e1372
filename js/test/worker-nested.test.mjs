// WorkerSession.runNested / .structure: nested inputs and outputs through the worker, as on the
// demo page's detection section. The detector is the demo's (js/examples/demo/detector.py:
// SSDlite 320, random weights, in $WASM_TORCH_DEMO_ZOO or target/demo-zoo): the worker's
// detections must match PyTorch's and the main-thread Session's; a flat model's runNested takes
// its inputs in order and gives its outputs as an array; wrong nesting is INVALID_INPUT.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { WorkerSession } from '../dist/worker-client.js';
import { Session, Tensor, InvalidInputError } from '../dist/index.js';
import { matchDetections, plainDetections } from '../examples/demo/detections.mjs';
import { ROOT, fixture, haveFixtures, runnableVariants, tinyReference, compare } from './helpers.mjs';

const ZOO = resolve(ROOT, process.env.WASM_TORCH_DEMO_ZOO ?? 'target/demo-zoo');
const variants = runnableVariants();
// The single-thread SIMD build and the build the worker picks by itself (threads where it can).
const picks = [...new Set([variants.includes('simd') ? 'simd' : variants[0], undefined])];
const X = new Float32Array([1, -2, 3, 0.5, -1, 0.25, 2, -3]);

describe('WorkerSession.runNested on a flat model', { skip: !haveFixtures() ? 'fixtures missing' : variants.length === 0 ? 'no wasm build' : false }, () => {
  test('inputs in order, outputs as an array, wrong arity rejected', async () => {
    const s = await WorkerSession.load(fixture('tiny.wtb'));
    try {
      assert.equal(s.structure, undefined);
      const out = await s.runNested(new Tensor('f32', X, [2, 4]));
      assert.ok(Array.isArray(out) && out.length === 1);
      assert.ok(compare(out[0].data, tinyReference(X, 2)).maxAbs <= 1e-6);
      await assert.rejects(s.runNested(), InvalidInputError);
      await assert.rejects(s.runNested(new Tensor('f32', X, [2, 4]), new Tensor('f32', X, [2, 4])), InvalidInputError);
    } finally {
      s.terminate();
    }
  });
});

const detSkip = !existsSync(join(ZOO, 'ssdlite320.wtb')) || !existsSync(join(ZOO, 'detect-sample.f32'))
  ? `the demo detector is missing: run js/examples/demo/detector.py ${ZOO}`
  : variants.length === 0
    ? 'no wasm build in dist/wasm'
    : false;

describe('WorkerSession.runNested on the demo detector', { skip: detSkip }, () => {
  for (const variant of picks) {
    test(`build ${variant ?? 'chosen by the worker'}: [image] -> [{boxes, scores, labels}] like PyTorch and Session`, async () => {
      const buf = readFileSync(join(ZOO, 'detect-sample.f32'));
      const image = new Tensor('f32', new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4).slice(), [3, 320, 320]);
      const want = JSON.parse(readFileSync(join(ZOO, 'detect-expected.json'), 'utf8'));
      assert.ok(want.scores.length > 0, 'the reference has detections');
      const s = await WorkerSession.load(join(ZOO, 'ssdlite320.wtb'), variant ? { variant } : {});
      try {
        if (variant) assert.equal(s.build.variant, variant);
        assert.deepEqual(s.structure.outputs, { list: [{ dict: [['boxes', { t: 0 }], ['scores', { t: 1 }], ['labels', { t: 2 }]] }] });
        const out = await s.runNested([image]);
        assert.ok(Array.isArray(out) && out.length === 1);
        assert.deepEqual(Object.keys(out[0]).sort(), ['boxes', 'labels', 'scores']);
        const got = plainDetections(out[0]);
        const vsTorch = matchDetections(want, got);
        assert.ok(vsTorch.ok, vsTorch.detail);
        // the same file on the main thread, same build: the same detections
        const main = await Session.load(join(ZOO, 'ssdlite320.wtb'), { variant: s.build.variant, threads: s.build.threads > 1 ? s.build.threads : false });
        const [mainOut] = await main.runNested([image]);
        main.release();
        assert.deepEqual(plainDetections(mainOut), got);
        // wrong nesting is INVALID_INPUT, and the worker still serves after it
        await assert.rejects(s.runNested(image), InvalidInputError);
        await assert.rejects(s.runNested([image, image]), InvalidInputError);
        await assert.rejects(s.runNested([new Tensor('f32', new Float32Array(320 * 320), [320, 320])]), InvalidInputError);
        assert.ok(matchDetections(want, plainDetections((await s.runNested([image]))[0])).ok);
      } finally {
        s.terminate();
      }
    });
  }
});
