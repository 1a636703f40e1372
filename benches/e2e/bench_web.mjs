#!/usr/bin/env node
// Web side of the end-to-end comparison: one engine at one thread count, every zoo model.
//
//   node benches/e2e/bench_web.mjs --zoo DIR --engine ort|wasm-torch --threads N
//        [--variant scalar|simd|threads] [--models a,b] [--min-runs 20] [--seconds 3]
//        [--warmup-seconds 1]
//
// Prints one JSON object per model on stdout ({name, engine, variant, threads, median_ms,
// runs, load_ms} or {name, engine, error}). One process per engine and thread count because
// onnxruntime-web fixes its thread count at its first session. Inputs are the zoo's case-0
// inputs (the same arrays bench_native.py feeds PyTorch), read from DIR/manifest.json.
//
// With --rss, it measures resident memory instead of time: each model runs in a fresh child
// process (so models do not share a high-water mark) that prints {name, engine, ..., rss:
// {base_mb, loaded_mb, peak_load_mb, peak_infer_mb}} — the same fields as bench_native.py's
// probe: base after importing the engine, loaded after the session is created, the high-water
// marks up to then and over --rss-runs inferences after resetting it (/proc/self/clear_refs).
import { readFileSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { execFileSync } from 'node:child_process';
import { argReader, caseInputs, median, namedFeeds } from './stats.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const opt = argReader(args);
const zoo = opt('zoo');
const engine = opt('engine');
const threads = Number(opt('threads', '1'));
const variant = opt('variant');
const only = opt('models')?.split(',');
const minRuns = Number(opt('min-runs', '20'));
const seconds = Number(opt('seconds', '3'));
const warmupSeconds = Number(opt('warmup-seconds', '1'));
const rss = args.includes('--rss');
const rssChild = args.includes('--rss-child');
const rssRuns = Number(opt('rss-runs', '10'));
if (!zoo || !['ort', 'wasm-torch'].includes(engine)) {
  console.error('usage: bench_web.mjs --zoo DIR --engine ort|wasm-torch --threads N [--variant V]');
  process.exit(2);
}

const { parseNpy } = await import(join(here, '../../js/dist/npy.js'));
const manifest = JSON.parse(readFileSync(join(zoo, 'manifest.json'), 'utf8'));

/**
 * Median ms of `fn` after a warm-up of at least 3 calls and `warmupSeconds` of calls, then at
 * least minRuns runs and `seconds` of running. Why the time-based warm-up: V8 runs wasm first
 * on baseline (Liftoff) code and optimises hot functions in the background, so the first runs
 * of a fresh instance are slow for a while: mobilenet_v3_small (threads build, 2 threads) gave
 * medians of 7.1-9.8 ms across fresh processes after 10 warm-up runs, 6.5-6.6 ms after 100.
 */
async function medianMs(fn) {
  const w0 = performance.now();
  for (let i = 0; i < 3 || (performance.now() - w0 < warmupSeconds * 1e3 && i < 10 * minRuns); i++) await fn();
  const times = [];
  const start = performance.now();
  while (times.length < minRuns || performance.now() - start < seconds * 1e3) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
    if (times.length >= 10 * minRuns) break;
  }
  return { median_ms: median(times), runs: times.length };
}

/**
 * Opens `model` with the engine under test and binds `inputs` (its case-0 tensors): `run()`
 * runs one inference, `release()` frees the session, `variant` is the wasm build that ran
 * (wasm-torch).
 */
async function openModel(model, inputs) {
  if (engine === 'ort') {
    const feeds = {};
    const session = await ort.InferenceSession.create(readFileSync(join(zoo, `${model.name}.onnx`)),
      { executionProviders: ['wasm'] });
    inputs.forEach((t, i) => {
      const type = { f32: 'float32', i64: 'int64', i32: 'int32', bool: 'bool' }[t.dtype];
      feeds[session.inputNames[i]] = new ort.Tensor(type, t.data, t.shape);
    });
    return { run: () => session.run(feeds), release: () => session.release() };
  }
  const session = await Session.load(join(zoo, model.file),
    { variant, threads: variant === 'threads' ? threads : false });
  const named = namedFeeds(session, inputs);
  return {
    run: () => session.run(named),
    release: () => session.release(),
    variant: session.build?.variant ?? variant,
  };
}

/** Load time and median latency of one model. */
async function benchModel(model) {
  const inputs = caseInputs(zoo, model, parseNpy);
  const t0 = performance.now();
  const opened = await openModel(model, inputs);
  const load_ms = performance.now() - t0;
  const r = await medianMs(opened.run);
  await opened.release();
  return engine === 'ort' ? { ...r, load_ms } : { ...r, load_ms, variant: opened.variant };
}

/** A VmRSS/VmHWM field of /proc/self/status, in MiB. */
function statusMb(field) {
  const m = readFileSync('/proc/self/status', 'utf8').match(new RegExp(`${field}:\\s+(\\d+)`));
  return Number(m[1]) / 1024;
}

/** Load one model, run it rssRuns times, and report the resident-memory marks. */
async function rssProbe(model) {
  const base_mb = statusMb('VmRSS');
  const { run, release } = await openModel(model, caseInputs(zoo, model, parseNpy));
  const loaded_mb = statusMb('VmRSS');
  const peak_load_mb = statusMb('VmHWM');
  writeFileSync('/proc/self/clear_refs', '5');
  for (let i = 0; i < rssRuns; i++) await run();
  const peak_infer_mb = statusMb('VmHWM');
  await release();
  return { base_mb, loaded_mb, peak_load_mb, peak_infer_mb };
}

let ort, Session;
if (engine === 'ort') {
  ort = await import('onnxruntime-web');
  ort.env.wasm.numThreads = threads;
} else {
  ({ Session } = await import(join(here, '../../js/dist/index.js')));
}
for (const model of manifest.models) {
  if (only && !only.includes(model.name)) continue;
  if (!model.verified || model.name === 'data_dependent') continue;
  const base = { name: model.name, engine, threads, variant: variant ?? null };
  if (rss && !rssChild) {
    // One fresh process per model: forward our arguments with this model only.
    const childArgs = [fileURLToPath(import.meta.url), ...args.filter((a, i) => a !== '--models' && args[i - 1] !== '--models'),
      '--models', model.name, '--rss-child'];
    try {
      process.stdout.write(execFileSync(process.execPath, childArgs, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }));
    } catch (e) {
      console.log(JSON.stringify({ ...base, error: `rss probe failed: ${String(e?.message ?? e).split('\n')[0].slice(0, 200)}` }));
    }
    continue;
  }
  try {
    if (rssChild) {
      console.log(JSON.stringify({ ...base, rss: await rssProbe(model) }));
      continue;
    }
    const r = await benchModel(model);
    console.log(JSON.stringify({ ...base, ...r }));
  } catch (e) {
    console.log(JSON.stringify({ ...base, error: String(e?.message ?? e).split('\n')[0].slice(0, 300) }));
  }
}
