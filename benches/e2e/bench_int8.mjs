#!/usr/bin/env node
// int8 models, paired: wasm-torch (`weights="int8"` file) against onnxruntime-web on the same
// module quantized by onnxruntime's quantize_dynamic, in one process at one thread count.
//
//   node benches/e2e/bench_int8.mjs --zoo DIR --threads N [--variant threads] [--models a,b]
//        [--rounds 6] [--per-round 4]
//
// DIR is what build_int8.py writes. Both sessions of a model are loaded, warmed up, then run
// round after round, --per-round inferences each in turn, so a slow spell of the shared
// machine hits both alike. One process per thread count: onnxruntime-web fixes its thread
// count at its first session. Prints one JSON object per model:
// {name, threads, wasm_torch_ms, ort_ms, ratio, wt_rel_err, wt_cosine} (ratio = wasm-torch /
// onnxruntime-web; wt_rel_err and wt_cosine compare wasm-torch's first output with PyTorch's
// fp32 one on the case-0 inputs: max |y - ref| / max |ref| and the cosine).
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { argReader, caseInputs, median, namedFeeds } from './stats.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const opt = argReader(process.argv.slice(2));
const zoo = opt('zoo');
const threads = Number(opt('threads', '1'));
const variant = opt('variant', 'threads');
const rounds = Number(opt('rounds', '6'));
const perRound = Number(opt('per-round', '4'));
const only = opt('models')?.split(',');
if (!zoo) {
  console.error('usage: bench_int8.mjs --zoo DIR --threads N [--variant V] [--models a,b]');
  process.exit(2);
}
const ort = await import('onnxruntime-web');
ort.env.wasm.numThreads = threads;
// onnxruntime-web 1.30 has no `relaxedSimd` flag; `simd: 'relaxed'` is its switch (it checks
// the engine supports relaxed SIMD; the shipped binary is the same simd-threaded build).
ort.env.wasm.simd = 'relaxed';
const { Session } = await import(join(here, '../../js/dist/index.js'));
const { parseNpy } = await import(join(here, '../../js/dist/npy.js'));
const manifest = JSON.parse(readFileSync(join(zoo, 'manifest.json'), 'utf8'));

for (const model of manifest.models) {
  if (only && !only.includes(model.name)) continue;
  const base = { name: model.name, threads, variant };
  if (!model.file || !model.onnx) {
    console.log(JSON.stringify({ ...base, error: model.error ?? model.onnx_error ?? 'not built' }));
    continue;
  }
  try {
    const inputs = caseInputs(zoo, model, parseNpy);
    const wt = await Session.load(join(zoo, model.file), { variant, threads: variant === 'threads' ? threads : false });
    const wtFeeds = namedFeeds(wt, inputs);
    const os = await ort.InferenceSession.create(readFileSync(join(zoo, model.onnx)), { executionProviders: ['wasm'] });
    const ortFeeds = {};
    inputs.forEach((t, i) => {
      const type = { f32: 'float32', i64: 'int64', i32: 'int32', bool: 'bool' }[t.dtype];
      ortFeeds[os.inputNames[i]] = new ort.Tensor(type, t.data, t.shape);
    });
    const engines = [
      { key: 'wasm_torch_ms', run: () => wt.run(wtFeeds), times: [] },
      { key: 'ort_ms', run: () => os.run(ortFeeds), times: [] },
    ];
    // Accuracy of wasm-torch's int8 run against PyTorch's fp32 output (the zoo's case 0):
    // max |y - ref| / max |ref| and cosine, first output.
    const refFile = model.cases[0].outputs?.[0];
    let accuracy = {};
    if (refFile) {
      const ref = parseNpy(new Uint8Array(readFileSync(join(zoo, refFile)))).data;
      const y = Object.values(await wt.run(wtFeeds))[0].data;
      let [maxErr, maxRef, dot, ny, nr] = [0, 0, 0, 0, 0];
      for (let i = 0; i < ref.length; i++) {
        maxErr = Math.max(maxErr, Math.abs(y[i] - ref[i]));
        maxRef = Math.max(maxRef, Math.abs(ref[i]));
        dot += y[i] * ref[i];
        ny += y[i] * y[i];
        nr += ref[i] * ref[i];
      }
      accuracy = { wt_rel_err: Number((maxErr / maxRef).toFixed(4)), wt_cosine: Number((dot / Math.sqrt(ny * nr)).toFixed(5)) };
    }
    for (const e of engines) for (let i = 0; i < 3; i++) await e.run();
    for (let r = 0; r < rounds; r++) {
      for (const e of engines) {
        for (let i = 0; i < perRound; i++) {
          const t0 = performance.now();
          await e.run();
          e.times.push(performance.now() - t0);
        }
      }
    }
    const out = { ...base, build: wt.build?.variant ?? variant, runs: rounds * perRound };
    for (const e of engines) out[e.key] = Number(median(e.times).toFixed(3));
    out.ratio = Number((out.wasm_torch_ms / out.ort_ms).toFixed(3));
    Object.assign(out, accuracy);
    console.log(JSON.stringify(out));
    wt.release();
    await os.release();
  } catch (e) {
    console.log(JSON.stringify({ ...base, error: String(e?.message ?? e).split('\n')[0].slice(0, 300) }));
  }
}
// The threads build's pool workers would keep the process alive.
process.exit(0);
