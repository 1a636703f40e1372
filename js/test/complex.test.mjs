// Complex (`c64`, PyTorch's complex64) tensors through the SDK: a model output that is an
// FFT spectrum and a complex input squared, both as Float32Arrays of interleaved
// (real, imaginary) pairs, plus the Tensor constructor's checks and `.npy` `<c8` round trip.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { Session, Tensor, InvalidInputError, dtypeSize } from '../dist/index.js';
import { parseNpy, toNpy } from '../dist/npy.js';
import { fixture, haveFixtures, runnableVariants } from './helpers.mjs';

const variants = runnableVariants();
const skip = !haveFixtures() ? 'fixtures missing: run js/scripts/test.sh (it writes them)' : variants.length === 0 ? 'no wasm build in dist/wasm' : false;

/** Equal within 1e-6 (so 0 and -0 agree). */
function near(got, want) {
  assert.equal(got.length, want.length);
  got.forEach((g, i) => assert.ok(Math.abs(g - want[i]) <= 1e-6, `${[...got]} vs ${want}`));
}

test('c64 tensors hold (real, imaginary) pairs', () => {
  const t = new Tensor('c64', new Float32Array([1, 2, 3, 4]));
  assert.deepEqual(t.shape, [2]);
  assert.equal(t.size, 2);
  assert.equal(dtypeSize('c64'), 8);
  assert.equal(t.bytes().byteLength, 16);
  assert.throws(() => new Tensor('c64', new Float32Array([1, 2, 3])), InvalidInputError);
  assert.throws(() => new Tensor('c64', new Float32Array(4), [4]), InvalidInputError);
  const back = parseNpy(toNpy(new Tensor('c64', new Float32Array([0.5, -1, 2, 0]), [1, 2])));
  assert.equal(back.dtype, 'c64');
  assert.deepEqual(back.shape, [1, 2]);
  assert.deepEqual([...back.data], [0.5, -1, 2, 0]);
});

for (const variant of variants) {
  describe(`complex outputs, build ${variant}`, { skip }, () => {
    test('an FFT spectrum and a complex product round-trip', async () => {
      const s = await Session.load(fixture('complex.wtb'), { variant });
      assert.deepEqual(s.outputs.map((o) => o.dtype), ['c64', 'c64']);
      const out = await s.run({
        x: new Tensor('f32', [1, 2, 3, 4]),
        z: new Tensor('c64', new Float32Array([3, 4, 0, -1])),
      });
      // rfft([1, 2, 3, 4]) = [10, -2 + 2i, -2]; (3 + 4i)² = -7 + 24i; (-i)² = -1.
      assert.equal(out.y.dtype, 'c64');
      assert.deepEqual(out.y.shape, [3]);
      near(out.y.data, [10, 0, -2, 2, -2, 0]);
      near(out.w.data, [-7, 24, -1, 0]);
      s.release();
    });
  });
}
