// The SDK on the packer-made fixtures, in every build this Node can run: sources, progress,
// results, error paths and recovery after errors.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { Readable } from 'node:stream';
import {
  Session,
  Tensor,
  BadFileError,
  InvalidInputError,
  UnsupportedOpsError,
  OutOfMemoryError,
  AbortError,
  ReleasedError,
  WasmTorchError,
} from '../dist/index.js';
import { fixture, haveFixtures, runnableVariants, tinyReference, compare, readJson } from './helpers.mjs';

const variants = runnableVariants();
const skip = !haveFixtures() ? 'fixtures missing: run js/scripts/test.sh (it writes them)' : variants.length === 0 ? 'no wasm build in dist/wasm' : false;

const X = new Float32Array([1, -2, 3, 0.5, -1, 0.25, 2, -3]);

/** Where tiny.wtb stores W[0][0] = 0.1f (a stored chunk: its bytes appear as they are). */
function damagedWeightOffset(bytes) {
  const pattern = new Uint8Array(new Float32Array([0.1]).buffer);
  const hits = [];
  for (let i = 0; i + 4 <= bytes.length; i++) if (pattern.every((b, k) => bytes[i + k] === b)) hits.push(i);
  assert.equal(hits.length, 1, `0.1f found at ${hits}`);
  return hits[0];
}
const expectTiny = (out) => {
  assert.deepEqual(Object.keys(out), ['y']);
  assert.equal(out.y.dtype, 'f32');
  assert.deepEqual([...out.y.shape], [2, 3]);
  const { maxAbs } = compare(out.y.data, tinyReference(X, 2));
  assert.ok(maxAbs <= 1e-6, `max |diff| ${maxAbs}`);
};

/** What each build's module says it is (`buildFlavor()` in js/crate/lib.rs). */
const FLAVORS = {
  scalar: 'single+scalar',
  simd: 'single+simd128',
  relaxed: 'single+relaxed-simd',
  'threads-simd': 'threads+simd128',
  threads: 'threads+relaxed-simd',
};

for (const variant of variants) {
  describe(`build ${variant}`, { skip }, () => {
    test('tiny model from a file path: signature, build info, result', async () => {
      const s = await Session.load(fixture('tiny.wtb'), { variant });
      assert.equal(s.build.variant, variant);
      assert.equal(s.build.flavor, FLAVORS[variant], 'the module reports the build that was asked for');
      assert.deepEqual(s.inputs, [{ name: 'x', dtype: 'f32', shape: ['batch', 4] }]);
      assert.deepEqual(s.outputs, [{ name: 'y', dtype: 'f32', shape: ['batch', 3] }]);
      expectTiny(await s.run({ x: new Tensor('f32', X, [2, 4]) }));
      // symbolic batch: another size works on the same session
      const one = await s.run({ x: new Tensor('f32', X.slice(0, 4), [1, 4]) });
      assert.deepEqual([...one.y.shape], [1, 3]);
      s.release();
    });

    test('assets: names in file order, bytes as written, copies, none on a plain file', async () => {
      const s = await Session.load(fixture('tiny_assets.wtb'), { variant });
      assert.deepEqual(s.assetNames(), ['greeting.txt', 'bytes.bin']);
      assert.equal(new TextDecoder().decode(s.asset('greeting.txt')), 'héllo');
      assert.deepEqual([...s.asset('bytes.bin')], Array.from({ length: 256 }, (_, i) => i));
      assert.equal(s.asset('missing'), undefined);
      // each call hands out a copy: changing it does not change the session's
      s.asset('bytes.bin')[0] = 99;
      assert.equal(s.asset('bytes.bin')[0], 0);
      expectTiny(await s.run({ x: new Tensor('f32', X, [2, 4]) }));
      s.release();
      assert.equal(new TextDecoder().decode(s.asset('greeting.txt')), 'héllo');
      const plain = await Session.load(fixture('tiny.wtb'), { variant });
      assert.deepEqual(plain.assetNames(), []);
      assert.equal(plain.asset('greeting.txt'), undefined);
      plain.release();
    });

    test('every source kind gives the same model', async () => {
      const bytes = readFileSync(fixture('tiny.wtb'));
      const ab = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
      const sources = {
        'file URL': pathToFileURL(fixture('tiny.wtb')),
        ArrayBuffer: ab,
        Uint8Array: new Uint8Array(ab),
        Blob: new Blob([bytes]),
        // a stream of 7-byte pieces: exercises every parser state boundary
        ReadableStream: Readable.toWeb(Readable.from((function* () {
          for (let i = 0; i < bytes.length; i += 7) yield new Uint8Array(bytes.subarray(i, i + 7));
        })())),
        Response: new Response(bytes),
      };
      for (const [kind, src] of Object.entries(sources)) {
        const s = await Session.load(src, { variant });
        expectTiny(await s.run({ x: new Tensor('f32', X, [2, 4]) }));
        s.release();
        assert.ok(kind);
      }
    });

    test('multi-chunk zstd model: progress, graph before weights, exact sums', async () => {
      const events = [];
      const s = await Session.load(fixture('multi_chunk.wtb'), { variant, onProgress: (p) => events.push(p) });
      const size = readFileSync(fixture('multi_chunk.wtb')).length;
      assert.ok(events.length >= 2);
      for (let i = 1; i < events.length; i++) {
        assert.ok(events[i].loadedBytes > events[i - 1].loadedBytes);
        assert.ok(events[i].chunksReady >= events[i - 1].chunksReady);
      }
      const last = events.at(-1);
      assert.equal(last.loadedBytes, size);
      assert.equal(last.totalBytes, size);
      assert.equal(last.chunksReady, last.chunksTotal);
      assert.ok(last.chunksTotal >= 8, `chunks ${last.chunksTotal}`);
      // the graph was ready while weight chunks were still missing
      assert.ok(events.some((e) => e.graphReady && e.chunksReady < e.chunksTotal));
      const { sums } = readJson(fixture('multi_chunk.json'));
      const out = await s.run({ x: new Tensor('f32', [1, 2], [2]) });
      sums.forEach((want, k) => assert.equal(out[`s${k}`].data[0], want, `s${k}`));
      assert.deepEqual([...out.y.data], [2, 3]);
      assert.ok(s.loadStats.weightBytes >= 8 << 20);
      assert.ok(s.loadStats.peakMemory >= s.loadStats.weightBytes);
      s.release();
    });

    test('bad files: BAD_FILE, and the instance still works afterwards', async () => {
      const good = readFileSync(fixture('multi_chunk.wtb'));
      const cases = {
        garbage: new Uint8Array(1000).fill(0x41),
        empty: new Uint8Array(0),
        'truncated in the graph': good.subarray(0, 100),
        'truncated in the weights': good.subarray(0, good.length - 1000),
        'corrupted weight chunk (CRC)': (() => {
          const c = new Uint8Array(good);
          c[c.length - 5000] ^= 0xff;
          return c;
        })(),
      };
      for (const [name, bytes] of Object.entries(cases)) {
        await assert.rejects(Session.load(bytes, { variant }), (e) => {
          assert.ok(e instanceof BadFileError, `${name}: ${e.name} ${e.message}`);
          assert.equal(e.code, 'BAD_FILE');
          assert.ok(e.message.length > 0);
          return true;
        });
      }
      await assert.rejects(Session.load('/nonexistent/model.wtb', { variant }), BadFileError);
      const s = await Session.load(fixture('tiny.wtb'), { variant });
      expectTiny(await s.run({ x: new Tensor('f32', X, [2, 4]) }));
      s.release();
    });

    test("loader digest (the model cache's check): independent of the pieces, catches what the skipped CRCs would", async () => {
      const { getRuntime } = await import('../dist/runtime.js');
      const rt = await getRuntime(variant, 1);
      const good = readFileSync(fixture('multi_chunk.wtb'));
      const digestOf = (bytes, checkCrcs, step) => {
        const loader = rt.glue.Loader.withDigest(checkCrcs);
        try {
          for (let off = 0; off < bytes.length; off += step) loader.feed(bytes.subarray(off, off + step)).free();
          const d = loader.digest();
          loader.finish().free();
          return d;
        } finally {
          try {
            loader.free();
          } catch {
            /* consumed by finish */
          }
        }
      };
      const whole = digestOf(good, true, good.length);
      assert.match(whole, /^[0-9a-f]{32}$/);
      for (const step of [1000, 4096, 77]) assert.equal(digestOf(good, false, step), whole, `pieces of ${step}`);
      // A flipped bit in a stored (uncompressed) weight: the chunk CRC refuses it; with the
      // CRCs skipped the file loads, and only the digest tells it from the good one.
      const tiny = readFileSync(fixture('tiny.wtb'));
      const damaged = new Uint8Array(tiny);
      const at = damagedWeightOffset(tiny);
      damaged[at] ^= 0x01;
      assert.throws(() => digestOf(damaged, true, 64), (e) => /CRC/.test(e.message));
      assert.notEqual(digestOf(damaged, false, 64), digestOf(tiny, false, 64));
      const plain = new rt.glue.Loader();
      assert.equal(plain.digest(), undefined, 'no digest unless asked for');
      plain.free();
    });

    test('unsupported ops are reported by name before any weight', async () => {
      await assert.rejects(Session.load(fixture('unsupported.wtb'), { variant }), (e) => {
        assert.ok(e instanceof UnsupportedOpsError, `${e.name}: ${e.message}`);
        assert.equal(e.code, 'UNSUPPORTED_OPS');
        assert.match(e.message, /frobnicate/);
        return true;
      });
    });

    test('wrong inputs: INVALID_INPUT, and the session keeps working', async () => {
      const s = await Session.load(fixture('tiny.wtb'), { variant });
      const bad = {
        'missing input': {},
        'unknown name': { x: new Tensor('f32', X, [2, 4]), z: new Tensor('f32', [1], [1]) },
        'wrong dtype': { x: new Tensor('i32', new Int32Array(8), [2, 4]) },
        'wrong fixed dim': { x: new Tensor('f32', new Float32Array(10), [2, 5]) },
        'wrong rank': { x: new Tensor('f32', X, [8]) },
        'not a tensor': { x: 42 },
        'shape/data mismatch': { x: { dtype: 'f32', shape: [3, 4], data: X } },
      };
      for (const [name, inputs] of Object.entries(bad)) {
        await assert.rejects(s.run(inputs), (e) => {
          assert.ok(e instanceof InvalidInputError, `${name}: ${e.name}: ${e.message}`);
          assert.equal(e.code, 'INVALID_INPUT');
          return true;
        });
      }
      expectTiny(await s.run({ x: new Tensor('f32', X, [2, 4]) }));
      s.release();
      await assert.rejects(s.run({ x: new Tensor('f32', X, [2, 4]) }), ReleasedError);
    });

    test('out of memory at run time: OUT_OF_MEMORY, and the instance keeps working', async () => {
      const s = await Session.load(fixture('oom.wtb'), { variant });
      await assert.rejects(s.run({ x: new Tensor('f32', [1, 2], [2]) }), (e) => {
        assert.ok(e instanceof OutOfMemoryError, `${e.name}: ${e.message}`);
        assert.equal(e.code, 'OUT_OF_MEMORY');
        return true;
      });
      s.release();
      const t = await Session.load(fixture('tiny.wtb'), { variant });
      expectTiny(await t.run({ x: new Tensor('f32', X, [2, 4]) }));
      t.release();
    });

    test('abort: an aborted signal rejects with AbortError', async () => {
      const ctl = new AbortController();
      ctl.abort('test');
      await assert.rejects(Session.load(fixture('multi_chunk.wtb'), { variant, signal: ctl.signal }), AbortError);
      const ctl2 = new AbortController();
      await assert.rejects(
        Session.load(fixture('multi_chunk.wtb'), {
          variant,
          signal: ctl2.signal,
          onProgress: (p) => p.chunksReady >= 2 && ctl2.abort('midway'),
        }),
        (e) => e instanceof AbortError && e.code === 'ABORTED',
      );
    });

    test('profiling counts op calls', async () => {
      const s = await Session.load(fixture('tiny.wtb'), { variant });
      s.setProfiling(true);
      await s.run({ x: new Tensor('f32', X, [2, 4]) });
      await s.run({ x: new Tensor('f32', X, [2, 4]) });
      const p = s.profile();
      assert.equal(p.runs, 2);
      const names = p.ops.map((o) => o.name).sort();
      assert.deepEqual(names, ['aten::linear.default', 'aten::relu.default']);
      for (const o of p.ops) assert.equal(o.calls, 2);
      s.release();
    });
  });
}

test('Tensor validates dtype, shape and data', () => {
  assert.throws(() => new Tensor('f32', new Float32Array(6), [2, 2]), InvalidInputError);
  assert.throws(() => new Tensor('f99', [1]), InvalidInputError);
  assert.throws(() => new Tensor('f32', new Int32Array(1)), InvalidInputError);
  assert.throws(() => new Tensor('f32', [1], [-1]), InvalidInputError);
  const t = new Tensor('i64', [1, 2, 3], [3, 1]);
  assert.ok(t.data instanceof BigInt64Array);
  assert.deepEqual(t.shape, [3, 1]);
  assert.ok(new InvalidInputError('x') instanceof WasmTorchError);
});
