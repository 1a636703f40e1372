// Scalar model inputs (format 1.1): numbers, bigints, booleans and 0-d tensors for int/float/
// bool inputs, defaults when left out, and INVALID_INPUT for every value that does not fit,
// with the session usable after each error.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { Session, Tensor, InvalidInputError } from '../dist/index.js';
import { fixture, haveFixtures, runnableVariants } from './helpers.mjs';

const variants = runnableVariants();
const skip = !haveFixtures() ? 'fixtures missing: run js/scripts/test.sh (it writes them)' : variants.length === 0 ? 'no wasm build in dist/wasm' : false;

const X = [1, -2, 0.25];
const x = () => new Tensor('f32', new Float32Array(X), [3]);

/** `for _ in range(n): x = x + alpha` in f32, then `-x` if `neg`: the fixture's graph. */
function expected(n, alpha, neg) {
  return X.map((v0) => {
    let v = Math.fround(v0);
    for (let i = 0; i < n; i++) v = Math.fround(v + Math.fround(alpha));
    return neg ? -v : v;
  });
}

const same = (out, n, alpha, neg) => assert.deepEqual([...out.y.data], expected(n, alpha, neg));

async function rejects(p, pattern) {
  await assert.rejects(p, (e) => {
    assert.ok(e instanceof InvalidInputError, `${e?.name}: ${e?.message}`);
    assert.equal(e.code, 'INVALID_INPUT');
    assert.match(e.message, pattern);
    return true;
  });
}

for (const variant of variants) {
  describe(`scalar inputs, build ${variant}`, { skip }, () => {
    test('signature lists the scalar inputs with their defaults', async () => {
      const s = await Session.load(fixture('scalars.wtb'), { variant });
      assert.deepEqual(s.inputs, [
        { name: 'x', dtype: 'f32', shape: ['k'] },
        { name: 'n', dtype: 'i64', shape: [], scalar: 'int', default: 3, fixed: false },
        { name: 'alpha', dtype: 'f64', shape: [], scalar: 'float', default: 0.5, fixed: false },
        { name: 'neg', dtype: 'bool', shape: [], scalar: 'bool', default: false, fixed: false },
      ]);
      s.release();
    });

    test('numbers, bigints, booleans and 0-d tensors; defaults when left out', async () => {
      const s = await Session.load(fixture('scalars.wtb'), { variant });
      same(await s.run({ x: x() }), 3, 0.5, false);
      for (const n of [0, 1, 5]) same(await s.run({ x: x(), n }), n, 0.5, false);
      same(await s.run({ x: x(), n: 4n, alpha: -1.25 }), 4, -1.25, false);
      same(await s.run({ x: x(), neg: true }), 3, 0.5, true);
      same(await s.run({ x: x(), n: 2, alpha: 0.75, neg: true }), 2, 0.75, true);
      same(
        await s.run({ x: x(), n: new Tensor('i64', [2n], []), alpha: new Tensor('f64', [0.25], []), neg: new Tensor('bool', [1], []) }),
        2, 0.25, true,
      );
      same(s.runSync({ x: x(), n: new Tensor('i32', [1], []) }), 1, 0.5, false);
      s.release();
    });

    test('a value that does not fit is INVALID_INPUT and the session stays usable', async () => {
      const s = await Session.load(fixture('scalars.wtb'), { variant });
      const cases = [
        [{ x: x(), n: 1.5 }, /input 'n' is an int, got number 1\.5/],
        [{ x: x(), n: true }, /input 'n' is an int, got boolean true/],
        [{ x: x(), n: 2 ** 60 }, /beyond 2\^53.*pass a bigint/],
        [{ x: x(), n: 2n ** 64n }, /does not fit in 64 bits/],
        [{ x: x(), neg: 1 }, /input 'neg' is a bool, got number 1/],
        [{ x: x(), alpha: 1n }, /input 'alpha' is a float, got bigint 1n/],
        [{ x: x(), n: new Tensor('i64', [1n, 2n], [2]) }, /input 'n' is a scalar \(int\), not a tensor/],
        [{ x: x(), neg: new Tensor('f32', [1], []) }, /input 'neg' is a bool, got a f32 tensor/],
        [{ x: 3 }, /input 'x' is a tensor \(f32\[k\]\), got number 3/],
        [{ n: 2 }, /missing input 'x'/],
      ];
      for (const [inputs, pattern] of cases) {
        await rejects(s.run(inputs), pattern);
        same(await s.run({ x: x(), n: 2 }), 2, 0.5, false);
      }
      s.release();
    });

    test('a fixed input takes only its value', async () => {
      const s = await Session.load(fixture('scalars_fixed.wtb'), { variant });
      assert.equal(s.inputs[1].fixed, true);
      same(await s.run({ x: x() }), 3, 0.5, false);
      same(await s.run({ x: x(), n: 3 }), 3, 0.5, false);
      await rejects(s.run({ x: x(), n: 4 }), /input 'n' is fixed to 3.*got 4/);
      same(await s.run({ x: x(), n: 3, neg: true }), 3, 0.5, true);
      s.release();
    });
  });
}
