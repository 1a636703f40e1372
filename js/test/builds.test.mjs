// Build selection: which of the five wasm builds the SDK picks for which engine, and that the
// automatic choice runs correctly in the Node that runs this file. js/scripts/test.sh runs it
// twice: with the other Node tests (relaxed SIMD flag on), and alone in Node 20 without flags,
// where relaxed SIMD is missing but shared memory is not, as in Safari 16.4+.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Session, Tensor, chooseBuild, detectFeatures, missingFeature, isThreaded, VARIANTS } from '../dist/index.js';
import { fixture, haveFixtures, runnableVariants, tinyReference } from './helpers.mjs';

/** Engine profiles, as `detectFeatures()` would report them. */
const ENGINES = {
  // Chromium/Firefox on a cross-origin-isolated page (or inside a Worker there), Node 24.
  isolatedModern: { simd: true, relaxedSimd: true, sharedMemory: true, workers: true },
  // The same browsers on a page without COOP/COEP (or Document-Isolation-Policy).
  notIsolated: { simd: true, relaxedSimd: true, sharedMemory: false, workers: true, sharedMemoryNote: 'the page is not cross-origin isolated' },
  // Safari 16.4+ with cross-origin isolation; Node 20 without flags.
  sharedNoRelaxed: { simd: true, relaxedSimd: false, sharedMemory: true, workers: true },
  // Safari without cross-origin isolation.
  plainNoRelaxed: { simd: true, relaxedSimd: false, sharedMemory: false, workers: true, sharedMemoryNote: 'no SharedArrayBuffer' },
  // An engine without wasm SIMD at all.
  noSimd: { simd: false, relaxedSimd: false, sharedMemory: true, workers: true },
};

test('the automatic choice is the fastest build each engine profile can run', () => {
  const want = {
    isolatedModern: ['threads', 4],
    notIsolated: ['relaxed', 1],
    sharedNoRelaxed: ['threads-simd', 4],
    plainNoRelaxed: ['simd', 1],
    noSimd: ['scalar', 1],
  };
  for (const [name, features] of Object.entries(ENGINES)) {
    const c = chooseBuild({}, 4, features);
    assert.deepEqual([c.variant, c.threads], want[name], `${name}: ${c.reason}`);
    assert.equal(missingFeature(c.variant, features), undefined, `${name}: chose a build it cannot run`);
    assert.ok(c.reason.length > 20, `${name}: reason "${c.reason}"`);
  }
});

test('a single thread, or one core, gets the best single-threaded build', () => {
  for (const [opts, cores] of [[{ threads: false }, 4], [{ threads: 1 }, 4], [{}, 1]]) {
    assert.equal(chooseBuild(opts, cores, ENGINES.isolatedModern).variant, 'relaxed');
    assert.equal(chooseBuild(opts, cores, ENGINES.sharedNoRelaxed).variant, 'simd');
  }
});

test('the reasons say what was missing', () => {
  assert.match(chooseBuild({}, 4, ENGINES.notIsolated).reason, /not cross-origin isolated.*relaxed-SIMD/);
  assert.match(chooseBuild({}, 4, ENGINES.sharedNoRelaxed).reason, /relaxed SIMD unsupported/);
  assert.match(chooseBuild({}, 4, ENGINES.plainNoRelaxed).reason, /relaxed SIMD is unsupported/);
});

test('missingFeature names what each build needs', () => {
  assert.deepEqual(VARIANTS.filter((v) => isThreaded(v)), ['threads', 'threads-simd']);
  assert.match(missingFeature('relaxed', ENGINES.sharedNoRelaxed), /relaxed SIMD/);
  assert.match(missingFeature('threads', ENGINES.sharedNoRelaxed), /relaxed SIMD/);
  assert.equal(missingFeature('threads-simd', ENGINES.sharedNoRelaxed), undefined);
  assert.match(missingFeature('threads-simd', ENGINES.notIsolated), /shared memory \(the page is not cross-origin isolated\)/);
  assert.match(missingFeature('simd', ENGINES.noSimd), /wasm SIMD/);
  assert.equal(missingFeature('scalar', ENGINES.noSimd), undefined);
});

const skip = !haveFixtures() ? 'fixtures missing: run js/scripts/test.sh (it writes them)' : false;

test(`this Node (${process.version}, ${process.execArgv.join(' ') || 'no flags'}): the automatic choice loads and runs correctly`, { skip }, async (t) => {
  const features = detectFeatures();
  const s = await Session.load(fixture('tiny.wtb'));
  t.diagnostic(`${s.build.variant} (${s.build.flavor}), ${s.build.threads} thread(s): ${s.build.reason}`);
  assert.ok(runnableVariants().includes(s.build.variant), `chose ${s.build.variant}, which is not built or not runnable here`);
  assert.equal(s.build.variant, chooseBuild({}, s.build.threads > 1 ? s.build.threads : 2, features).variant);
  if (!features.relaxedSimd) assert.ok(!/relaxed/.test(s.build.flavor), `relaxed SIMD unsupported but the module is ${s.build.flavor}`);
  const x = Float32Array.from({ length: 8 }, (_, i) => (i - 3) * 0.25);
  const { y } = await s.run({ x: new Tensor('f32', x, [2, 4]) });
  const want = tinyReference(x, 2);
  for (let i = 0; i < want.length; i++) assert.ok(Math.abs(y.data[i] - want[i]) <= 1e-6, `y[${i}] = ${y.data[i]}, want ${want[i]}`);
  s.release();
});

const refused = VARIANTS.find((v) => missingFeature(v, detectFeatures()) !== undefined);
test(`a build the engine cannot run (${refused ? `'${refused}'` : 'none here'}) is refused with UNSUPPORTED_ENVIRONMENT`, { skip: skip || (!refused && 'this engine runs every build') }, async () => {
  await assert.rejects(Session.load(fixture('tiny.wtb'), { variant: refused }), (e) => e.code === 'UNSUPPORTED_ENVIRONMENT' && /needs/.test(e.message));
});
