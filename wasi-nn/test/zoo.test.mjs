// Zoo models exported from PyTorch (py-export/zoo/build_zoo.py) run by the guest through the
// wasi-nn host, compared with PyTorch's own outputs (the .npy references) within the zoo's
// tolerance (1e-4 for f32 weights), as max |got - want| / max(1, |want|).
// The zoo is looked for in $WASI_NN_ZOO, target/demo-zoo and zoo-out; models whose single
// input is not f32 (the guest feeds one f32 tensor) are not run here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, f32s, maxScaledDiff, readNpy, runGuest } from './helpers.mjs';

const zoo = [process.env.WASI_NN_ZOO, join(ROOT, 'target/demo-zoo'), join(ROOT, 'zoo-out')]
  .filter(Boolean)
  .find((d) => existsSync(join(d, 'manifest.json')));
const models = zoo
  ? JSON.parse(readFileSync(join(zoo, 'manifest.json'), 'utf8')).models.filter(
    (m) => !m.error && m.inputs?.length === 1 && m.inputs[0].dtype === 'f32' && m.cases?.length)
  : [];

test('zoo models match PyTorch through wasi-nn', { skip: models.length ? false : 'no zoo with single-f32-input models (set WASI_NN_ZOO)' }, async (t) => {
  for (const m of models) {
    await t.test(m.name, async () => {
      const out = mkdtempSync(join(tmpdir(), 'wasi-nn-zoo-'));
      const c = m.cases[0];
      const r = await runGuest([`/zoo/${m.file}`, `/zoo/${c.inputs[0]}`, '/out/out0.f32'], { '/zoo': zoo, '/out': out });
      assert.equal(r.code, 0, r.stderr);
      const want = readNpy(readFileSync(join(zoo, c.outputs[0])));
      assert.equal(want.dtype, '<f4');
      const got = f32s(readFileSync(join(out, 'out0.f32')));
      const diff = maxScaledDiff(got, want.data);
      t.diagnostic(`${m.name}: ${got.length} outputs, max scaled diff vs PyTorch ${diff.toExponential(2)}`);
      assert.ok(diff <= (m.tolerance ?? 1e-4), `${m.name}: max scaled diff ${diff} > ${m.tolerance}`);
    });
  }
});
