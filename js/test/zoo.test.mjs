// resnet18 and MiniLM from the zoo, in every build this Node can run, against PyTorch's
// outputs: |got - want| <= 1e-4 * max(1, |want|) for every element of every case.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Session } from '../dist/index.js';
import { parseNpy } from '../dist/npy.js';
import { runnableVariants, compare } from './helpers.mjs';
import { zooModels, ZOO_DIR, ZOO_MODELS } from './zoo.mjs';

const models = zooModels();
const missing = ZOO_MODELS.filter((n) => !models.some((m) => m.name === n || m.name.startsWith(n.replace(/\d+$/, ''))));

test('the zoo models the JS tests need are present', () => {
  assert.deepEqual(missing, [], `missing from ${ZOO_DIR}/manifest.json (or failed to export): ${missing.join(', ')}`);
});

for (const variant of runnableVariants()) {
  describe(`zoo, build ${variant}`, () => {
    for (const m of models) {
      test(`${m.name} matches PyTorch (${m.cases.length} case(s))`, async (t) => {
        const s = await Session.load(m.path, { variant });
        assert.equal(s.build.variant, variant);
        assert.deepEqual(s.inputs.map((i) => i.name), m.inputs.map((i) => i.name));
        for (const [k, c] of m.cases.entries()) {
          const feeds = Object.fromEntries(Object.entries(c.inputs).map(([n, f]) => [n, parseNpy(readFileSync(f))]));
          const t0 = performance.now();
          const out = await s.run(feeds);
          const ms = performance.now() - t0;
          for (const [name, f] of Object.entries(c.outputs)) {
            const want = parseNpy(readFileSync(f));
            assert.ok(out[name], `case ${k}: no output ${name}`);
            assert.deepEqual([...out[name].shape], [...want.shape], `case ${k} ${name} shape`);
            const { maxAbs, maxScaled } = compare(out[name].data, want.data);
            t.diagnostic(`case ${k} ${name}: max |diff| ${maxAbs.toExponential(2)}, scaled ${maxScaled.toExponential(2)}, run ${ms.toFixed(0)} ms`);
            assert.ok(maxScaled <= 1e-4, `case ${k} ${name}: max scaled diff ${maxScaled}`);
          }
        }
        t.diagnostic(`load ${s.loadStats.ms.toFixed(0)} ms, weights ${(s.loadStats.weightBytes / 1048576).toFixed(1)} MB, peak wasm memory ${(s.loadStats.peakMemory / 1048576).toFixed(1)} MB`);
        s.release();
      });
    }
  });
}
