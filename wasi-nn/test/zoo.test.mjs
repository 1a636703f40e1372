// Zoo models exported from PyTorch (py-export/zoo/build_zoo.py) run by the guest through the
// wasi-nn host, compared with PyTorch's own outputs (the .npy references) within the zoo's
// tolerance (1e-4 for f32 weights), as max |got - want| / max(1, |want|).
// The zoo is looked for in $WASI_NN_ZOO, target/wasi-nn-zoo, target/demo-zoo and zoo-out;
// models with input types the guest cannot read from .npy, or a non-f32 first output, are not
// run here.
// Each model runs in a child `node scripts/run-guest.mjs` (node:wasi); on Node 20 with
// --no-concurrent-marking, which avoids a V8 garbage-collector crash (see run-guest.mjs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { GUEST_WASM, ROOT, WASI_NN_DIR, f32s, maxScaledDiff, readNpy, wasmTorchDir } from './helpers.mjs';

const zoo = [process.env.WASI_NN_ZOO, join(ROOT, 'target/wasi-nn-zoo'), join(ROOT, 'target/demo-zoo'), join(ROOT, 'zoo-out')]
  .filter(Boolean)
  .find((d) => existsSync(join(d, 'manifest.json')));
const models = zoo
  ? JSON.parse(readFileSync(join(zoo, 'manifest.json'), 'utf8')).models.filter(
    (m) => !m.error && m.cases?.length && m.outputs?.[0]?.dtype === 'f32' &&
      m.inputs?.every((i) => ['f32', 'i64', 'i32', 'u8', 'bool'].includes(i.dtype)))
  : [];

test('zoo models match PyTorch through wasi-nn', { skip: models.length ? false : 'no zoo with runnable models (set WASI_NN_ZOO or WASI_NN_BUILD_ZOO=1)' }, async (t) => {
  for (const m of models) {
    await t.test(m.name, async () => {
      const out = mkdtempSync(join(tmpdir(), 'wasi-nn-zoo-'));
      const c = m.cases[0];
      const nodeFlags = process.versions.node.startsWith('20.') ? ['--no-concurrent-marking'] : [];
      const stdout = execFileSync(process.execPath, [...nodeFlags, '--no-warnings', join(WASI_NN_DIR, 'scripts/run-guest.mjs'),
        '--wasm-torch', wasmTorchDir(), '--dir', `/zoo=${zoo}`, '--dir', `/out=${out}`, GUEST_WASM,
        `/zoo/${m.file}`, ...c.inputs.map((f) => `/zoo/${f}`), '/out/out0.f32'], { encoding: 'utf8' }); // throws on a non-zero exit
      t.diagnostic(`${m.name} top: ${stdout.trim().split('\n').slice(1, 3).join(' | ')}`);
      const want = readNpy(readFileSync(join(zoo, c.outputs[0])));
      assert.equal(want.dtype, '<f4');
      const got = f32s(readFileSync(join(out, 'out0.f32')));
      const diff = maxScaledDiff(got, want.data);
      t.diagnostic(`${m.name}: ${got.length} outputs, max scaled diff vs PyTorch ${diff.toExponential(2)}`);
      assert.ok(diff <= (m.tolerance ?? 1e-4), `${m.name}: max scaled diff ${diff} > ${m.tolerance}`);
    });
  }
});
