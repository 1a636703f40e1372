// The tested zoo in wasm: every model build_zoo.py --catalog exported and verified natively,
// run in one Node process through the npm package (dist/) against PyTorch's outputs, timed.
//
//   node --experimental-wasm-relaxed-simd js/test/zoo-wasm.mjs ZOO_DIR [--runs N] [--variant V]
//
// Writes ZOO_DIR/wasm.json: {node, variant, runs, models: {name: {ok, max_rel_err, wasm_ms,
// wasm_runs, load_ms} | {ok: false, error}}}. The error measure is the Python check's: per output, max
// |got - want| over max |want| (or max |got - want| <= tolerance * 1e-3 for all-zero outputs),
// against the model's tolerance from the manifest. Exits 1 if any model fails.
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { Session } from '../dist/index.js';
import { parseNpy } from '../dist/npy.js';
import { JS_DIR } from './helpers.mjs';

const args = process.argv.slice(2);
const dir = args[0];
const opt = (flag, dflt) => {
  const i = args.indexOf(flag);
  return i >= 0 ? args[i + 1] : dflt;
};
if (!dir) {
  console.error('usage: zoo-wasm.mjs ZOO_DIR [--runs N] [--variant V]');
  process.exit(2);
}
const runs = Number(opt('--runs', '3'));
// One single-threaded build for every model: the relaxed-SIMD one if built (and this Node runs
// it), else the plain SIMD one.
const built = (v) => existsSync(join(JS_DIR, `dist/wasm/${v}/wasm_torch_bg.wasm`));
const variant = opt('--variant', built('relaxed') ? 'relaxed' : 'simd');

/** Max |got - want| and that over max |want| for one output (the Python check's measure). */
function error(got, want) {
  let maxAbs = 0;
  let scale = 0;
  for (let i = 0; i < want.length; i++) {
    const w = Number(want[i]);
    const d = Math.abs(Number(got[i]) - w);
    maxAbs = Number.isNaN(d) ? Infinity : Math.max(maxAbs, d);
    scale = Math.max(scale, Math.abs(w));
  }
  return { maxAbs, rel: maxAbs / Math.max(scale, 1e-12) };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
const results = {};
let failed = 0;
for (const m of manifest.models) {
  if (!m.verified) continue; // failed or skipped natively: the page already says why
  const tol = m.tolerance ?? 1e-4;
  const r = { ok: true, max_rel_err: 0 };
  let s;
  try {
    const t0 = performance.now();
    s = await Session.load(join(dir, m.file), { variant });
    r.load_ms = +(performance.now() - t0).toFixed(1);
    for (const [k, c] of m.cases.entries()) {
      const feeds = Object.fromEntries(m.inputs.map((spec, i) => [spec.name, parseNpy(readFileSync(join(dir, c.inputs[i])))]));
      const out = await s.run(feeds);
      for (const [j, spec] of m.outputs.entries()) {
        const want = parseNpy(readFileSync(join(dir, c.outputs[j])));
        const got = out[spec.name];
        if (!got || got.data.length !== want.data.length) throw new Error(`case ${k}: output ${spec.name} missing or wrong size`);
        const e = error(got.data, want.data);
        r.max_rel_err = Math.max(r.max_rel_err, e.rel);
        if (!(e.rel <= tol || e.maxAbs <= tol * 1e-3)) r.ok = false;
      }
    }
    if (runs > 0) {
      const c = m.cases[0];
      const feeds = Object.fromEntries(m.inputs.map((spec, i) => [spec.name, parseNpy(readFileSync(join(dir, c.inputs[i])))]));
      await s.run(feeds); // warm-up
      // Up to `runs` timed runs, fewer once they took 2 s (as build_zoo.py times natively).
      const times = [];
      while (times.length < runs && times.reduce((a, b) => a + b, 0) < 2000) {
        const t0 = performance.now();
        await s.run(feeds);
        times.push(performance.now() - t0);
      }
      r.wasm_ms = +median(times).toFixed(3);
      r.wasm_runs = times.length;
    }
  } catch (e) {
    r.ok = false;
    r.error = String(e?.message ?? e).split('\n')[0].slice(0, 300);
  } finally {
    s?.release();
  }
  if (!r.ok) failed++;
  results[m.name] = r;
  const status = r.ok ? 'ok' : 'FAILED';
  console.log(
    `${m.name.padEnd(24)} ${status.padEnd(7)} max rel err ${r.max_rel_err.toExponential(2)}  ` +
      `run ${r.wasm_ms ?? '-'} ms  load ${r.load_ms ?? '-'} ms${r.error ? '  ' + r.error : ''}`,
  );
}
const report = { node: process.version, variant, runs, models: results };
writeFileSync(join(dir, 'wasm.json'), JSON.stringify(report, null, 2));
console.log(`wasm (${variant}): ${Object.keys(results).length - failed} of ${Object.keys(results).length} models match PyTorch`);
process.exit(failed ? 1 : 0);
