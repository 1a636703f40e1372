// `Session.load(src, { runWhileLoading: inputs })`: the model runs while it streams in, each op
// as soon as its weights arrived. On a conv net (resnet18) and a transformer (MiniLM) from the
// zoo the outputs must be the same bits as a run after a plain load, the run must have advanced
// before the last chunk arrived, and the session must work afterwards. Errors (inputs that do
// not fit, a file cut short, a corrupted chunk) must be the typed errors of today, keep no
// memory, and leave the next load working. WorkerSession takes the option too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Session, Tensor, InvalidInputError, BadFileError } from '../dist/index.js';
import { WorkerSession } from '../dist/worker-client.js';
import { parseNpy } from '../dist/npy.js';
import { zooModels } from './zoo.mjs';
import { runnableVariants } from './helpers.mjs';

const variants = runnableVariants();
const variant = variants.includes('simd') ? 'simd' : variants[variants.length - 1];
const models = zooModels();
const skip = !variant ? 'no wasm build' : models.length === 0 ? 'zoo missing: set WASM_TORCH_ZOO (js/scripts/test.sh builds it)' : false;

/** The model's bytes as a stream of `piece`-byte pieces, one per macrotask (like a network). */
function trickle(bytes, piece = 64 * 1024) {
  let off = 0;
  return new ReadableStream({
    async pull(ctl) {
      await new Promise((r) => setImmediate(r));
      if (off >= bytes.length) return ctl.close();
      ctl.enqueue(bytes.slice(off, off + piece));
      off += piece;
    },
  });
}

function inputsOf(m) {
  const inputs = {};
  for (const [name, path] of Object.entries(m.cases[0].inputs)) {
    const a = parseNpy(readFileSync(path));
    inputs[name] = new Tensor(a.dtype, a.data, a.shape);
  }
  return inputs;
}

const bits = (t) => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);

function assertSameBits(got, want, what) {
  assert.deepEqual(Object.keys(got), Object.keys(want), what);
  for (const k of Object.keys(want)) {
    assert.deepEqual(got[k].shape, want[k].shape, `${what}: ${k} shape`);
    assert.ok(bits(got[k]).equals(bits(want[k])), `${what}: output '${k}' differs from the plain load's`);
  }
}

for (const m of models) {
  test(`${m.name}: runWhileLoading gives the bits of load-then-run, before the download ends`, { skip }, async () => {
    const bytes = readFileSync(m.path);
    const inputs = inputsOf(m);
    const plain = await Session.load(m.path, { variant, threads: false });
    const want = await plain.run(inputs);
    plain.release();
    // Within the PyTorch tolerance too (the zoo's reference), so the comparison is not vacuous.
    for (const [k, path] of Object.entries(m.cases[0].outputs)) {
      const ref = parseNpy(readFileSync(path));
      let worst = 0;
      for (let i = 0; i < ref.data.length; i++) worst = Math.max(worst, Math.abs(want[k].data[i] - ref.data[i]) / Math.max(1, Math.abs(ref.data[i])));
      assert.ok(worst <= m.tolerance, `${m.name} ${k}: ${worst} > ${m.tolerance}`);
    }

    for (const [how, source] of [
      ['file path', m.path],
      ['stream', trickle(bytes)],
    ]) {
      const progress = [];
      const s = await Session.load(source, { variant, threads: false, runWhileLoading: inputs, onProgress: (p) => progress.push(p) });
      assertSameBits(s.firstOutputs, want, `${m.name} (${how})`);
      // The run started with the graph and moved on while chunks were still missing.
      const early = progress.filter((p) => p.runPosition !== undefined && p.chunksReady < p.chunksTotal);
      assert.ok(early.length > 0, `${how}: the run never waited for a chunk`);
      assert.ok(early.some((p) => p.runPosition > 0), `${how}: the run did not advance before the last chunk`);
      const positions = progress.map((p) => p.runPosition).filter((x) => x !== undefined);
      assert.deepEqual(positions, [...positions].sort((a, b) => a - b), 'runPosition only grows');
      // The session that ran keeps working, with the same results.
      assertSameBits(await s.run(inputs), want, `${m.name} (${how}) second run`);
      s.release();
    }
  });
}

test('runWhileLoading: bad inputs, a cut file and a corrupted chunk are typed errors that keep no memory', { skip }, async () => {
  const m = models[0];
  const bytes = readFileSync(m.path);
  const inputs = inputsOf(m);
  const [name] = Object.keys(inputs);
  const good = await Session.load(m.path, { variant, threads: false, runWhileLoading: inputs });
  const memoryAfterOne = good.memoryBytes;
  const want = good.firstOutputs;
  good.release();

  const wrongShape = { ...inputs, [name]: new Tensor('f32', new Float32Array(3), [3]) };
  for (const bad of [{}, { ...inputs, nope: inputs[name] }, wrongShape]) {
    let read = 0;
    await assert.rejects(
      Session.load(trickle(bytes), { variant, threads: false, runWhileLoading: bad, onProgress: (p) => (read = p.loadedBytes) }),
      (e) => e instanceof InvalidInputError && e.code === 'INVALID_INPUT',
    );
    assert.ok(read < bytes.length / 2, `the load stopped when the graph arrived (read ${read} of ${bytes.length})`);
  }
  await assert.rejects(Session.load(bytes, { variant, runWhileLoading: { [name]: 3 } }), InvalidInputError);

  // Cut short, and a corrupted byte in the last chunk: BAD_FILE, as without the option.
  const corrupt = bytes.slice();
  corrupt[corrupt.length - 100] ^= 0x5a;
  for (let i = 0; i < 3; i++) {
    await assert.rejects(Session.load(bytes.subarray(0, bytes.length - 1000), { variant, threads: false, runWhileLoading: inputs }), (e) => e instanceof BadFileError);
    await assert.rejects(Session.load(corrupt, { variant, threads: false, runWhileLoading: inputs }), (e) => e instanceof BadFileError);
  }
  // Six failed loads of a model the size of the weights kept nothing: the next load fits in
  // the memory one load needed, and works.
  const again = await Session.load(m.path, { variant, threads: false, runWhileLoading: inputs });
  assert.ok(again.memoryBytes <= memoryAfterOne + (16 << 20), `memory grew from ${memoryAfterOne} to ${again.memoryBytes}`);
  assertSameBits(again.firstOutputs, want, 'after the failures');
  again.release();
});

test('WorkerSession: runWhileLoading', { skip }, async () => {
  const m = models[0];
  const inputs = inputsOf(m);
  const plain = await Session.load(m.path, { variant, threads: false });
  const want = await plain.run(inputs);
  plain.release();
  const ws = await WorkerSession.load(m.path, { variant, threads: false, runWhileLoading: inputs });
  try {
    assertSameBits(ws.firstOutputs, want, 'worker');
    assertSameBits(await ws.run(inputs), want, 'worker second run');
  } finally {
    ws.terminate();
  }
});
