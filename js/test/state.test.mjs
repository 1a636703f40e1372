// Session state (format 1.1) through the JS API, on the toy KV cache fixture `cache.wtb`
// (`cache.index_copy_(1, pos, x); y = cache * 2`, cache f32[1, 8, 4] starting at zeros):
// `states` lists it, runs write into it and see earlier writes, `resetState()` starts over,
// in an in-thread Session and in a WorkerSession. A file whose state disagrees with its
// initial value is BAD_FILE; a failing run is a typed error and the session runs again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Session, Tensor } from '../dist/index.js';
import { WorkerSession } from '../dist/worker-client.js';
import { fixture, haveFixtures, runnableVariants } from './helpers.mjs';

const skip = !haveFixtures() ? 'fixtures missing (cargo run -p wasm-torch-test-support --bin fixtures -- js js/test/fixtures-out)' : runnableVariants().length === 0 ? 'no wasm build' : false;
const W = 4;
const P = 8;

function inputs(pos, value) {
  const t = pos.length;
  return {
    pos: new Tensor('i64', BigInt64Array.from(pos.map(BigInt)), [t]),
    x: new Tensor('f32', Float32Array.from({ length: t * W }, (_, i) => value + Math.floor(i / W)), [1, t, W]),
  };
}
/** The first value of each cache row of `y` (= 2 × the cache). */
const rows = (y) => Array.from({ length: P }, (_, r) => y.data[r * W]);

async function exercise(s) {
  assert.deepEqual(s.states, [{ name: 'cache', dtype: 'f32', shape: [1, P, W] }]);
  let { y } = await s.run(inputs([0, 1], 1)); // rows 0, 1 := 1, 2
  assert.deepEqual(rows(y), [2, 4, 0, 0, 0, 0, 0, 0]);
  ({ y } = await s.run(inputs([2], 3))); // decode step: row 2 := 3, rows 0-1 kept
  assert.deepEqual(rows(y), [2, 4, 6, 0, 0, 0, 0, 0]);
  await s.resetState();
  ({ y } = await s.run(inputs([0], 5)));
  assert.deepEqual(rows(y), [10, 0, 0, 0, 0, 0, 0, 0], 'after resetState only the new row is set');
  // A position past the cache is an error from the op, not a write out of bounds; the
  // interpreter resets the state after a failed run (it may be half written) and says so.
  await assert.rejects(s.run(inputs([P], 1)), (e) => e.code === 'RUNTIME' && /state was reset/.test(e.message) && /out of range/.test(e.message));
  ({ y } = await s.run(inputs([1], 2)));
  assert.deepEqual(rows(y), [0, 4, 0, 0, 0, 0, 0, 0], 'the failed run reset the state');
  await assert.rejects(s.run({ pos: new Tensor('f32', new Float32Array(1), [1]), x: inputs([0], 1).x }), (e) => e.code === 'INVALID_INPUT');
  await s.resetState();
  ({ y } = await s.run(inputs([3], 7)));
  assert.deepEqual(rows(y), [0, 0, 0, 14, 0, 0, 0, 0], 'the session runs after the errors');
}

test('session state: kept across runs, reset, in a Session', { skip }, async () => {
  for (const variant of runnableVariants().filter((v) => !v.startsWith('threads'))) {
    const s = await Session.load(fixture('cache.wtb'), { variant, threads: false });
    await exercise(s);
    s.release();
  }
});

test('session state in a WorkerSession', { skip }, async () => {
  const ws = await WorkerSession.load(fixture('cache.wtb'), { variant: runnableVariants().includes('simd') ? 'simd' : runnableVariants()[0], threads: false });
  try {
    await exercise(ws);
  } finally {
    ws.terminate();
  }
});

test('a state whose shape disagrees with its initial value is BAD_FILE', { skip }, async () => {
  const variant = runnableVariants()[0];
  await assert.rejects(Session.load(fixture('bad_state.wtb'), { variant, threads: false }), (e) => e.code === 'BAD_FILE' && /cache_init/.test(e.message));
  const s = await Session.load(fixture('cache.wtb'), { variant, threads: false });
  assert.equal(s.states.length, 1);
  s.release();
});
