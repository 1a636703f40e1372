// WorkerSession in Node (worker_threads): results, progress and typed errors cross the thread
// boundary; after an error the worker keeps serving.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WorkerSession } from '../dist/worker-client.js';
import { Tensor, BadFileError, InvalidInputError, ReleasedError } from '../dist/index.js';
import { fixture, haveFixtures, runnableVariants, tinyReference, compare } from './helpers.mjs';

const X = new Float32Array([1, -2, 3, 0.5, -1, 0.25, 2, -3]);
const skip = !haveFixtures() ? 'fixtures missing' : false;

for (const variant of runnableVariants()) {
  test(`WorkerSession (${variant}): load with progress, run, errors, terminate`, { skip }, async () => {
    const events = [];
    const s = await WorkerSession.load(fixture('multi_chunk.wtb'), { variant, onProgress: (p) => events.push(p) });
    assert.equal(s.build.variant, variant);
    assert.ok(events.length > 1 && events.at(-1).chunksReady === events.at(-1).chunksTotal);
    const out = await s.run({ x: new Tensor('f32', [1, 2], [2]) });
    assert.deepEqual([...out.y.data], [2, 3]);
    await assert.rejects(s.run({ x: new Tensor('f32', [1, 2, 3], [3]) }), InvalidInputError);
    // the worker still serves after the error
    assert.deepEqual([...(await s.run({ x: new Tensor('f32', [5, 6], [2]) })).y.data], [6, 7]);
    s.terminate();
    await assert.rejects(s.run({ x: new Tensor('f32', [1, 2], [2]) }), ReleasedError);

    await assert.rejects(WorkerSession.load(new Uint8Array(64), { variant }), BadFileError);
    const t = await WorkerSession.load(fixture('tiny.wtb'), { variant });
    const y = (await t.run({ x: new Tensor('f32', X, [2, 4]) })).y;
    assert.ok(compare(y.data, tinyReference(X, 2)).maxAbs <= 1e-6);
    assert.deepEqual(t.assetNames(), []);
    t.terminate();
    // assets cross the worker boundary with the load reply
    const a = await WorkerSession.load(fixture('tiny_assets.wtb'), { variant });
    assert.deepEqual(a.assetNames(), ['greeting.txt', 'bytes.bin']);
    assert.equal(new TextDecoder().decode(a.asset('greeting.txt')), 'héllo');
    assert.equal(a.asset('bytes.bin').length, 256);
    assert.equal(a.asset('nope'), undefined);
    a.terminate();
  });
}
