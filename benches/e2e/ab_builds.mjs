#!/usr/bin/env node
// Paired A/B timing of two or more builds of wasm-torch's wasm bundle, in one process.
//
//   node benches/e2e/ab_builds.mjs --zoo DIR --builds DIR_A,DIR_B[,...] [--variant threads]
//        [--threads 2] [--models a,b] [--rounds 12] [--per-round 4]
//   node benches/e2e/ab_builds.mjs --zoo DIR --builds js/dist@simd,js/dist@relaxed --threads 1
//
// Each DIR is a copy of js/dist (it holds wasm/<variant>/), e.g. one per value of a kernel
// constant under test; `DIR@VARIANT` picks that entry's build variant instead of --variant
// (to compare variants of one bundle). Every build loads the same model in this process; then, round after
// round, each build runs --per-round inferences in turn, so a slow spell of the shared machine
// hits every build alike. Prints, per model, each build's median ms and its ratio to the
// first build. Why not two bench_web.mjs runs: on the 2-core VM the 2-thread medians of two
// runs minutes apart differed by up to 40%, more than the effects being measured.
import { readFileSync } from 'node:fs';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import { argReader, caseInputs, median, namedFeeds } from './stats.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const opt = argReader(process.argv.slice(2));
const zoo = opt('zoo');
const builds = opt('builds')?.split(',').filter(Boolean) ?? [];
const variant = opt('variant', 'threads');
const threads = Number(opt('threads', '2'));
const rounds = Number(opt('rounds', '12'));
const perRound = Number(opt('per-round', '4'));
if (!zoo || builds.length < 2) {
  console.error('usage: ab_builds.mjs --zoo DIR --builds DIR_A,DIR_B[,...] [--variant V] [--threads N] [--models a,b]');
  process.exit(2);
}
const { Session } = await import(join(here, '../../js/dist/index.js'));
const { parseNpy } = await import(join(here, '../../js/dist/npy.js'));
const manifest = JSON.parse(readFileSync(join(zoo, 'manifest.json'), 'utf8'));
const only = opt('models')?.split(',');
const models = manifest.models.filter((m) => m.file && (!only || only.includes(m.name)));

for (const model of models) {
  const inputs = caseInputs(zoo, model, parseNpy);
  const runs = [];
  for (const entry of builds) {
    const [dir, entryVariant = variant] = entry.split('@');
    const session = await Session.load(join(zoo, model.file), {
      variant: entryVariant,
      threads: entryVariant.startsWith('threads') ? threads : false,
      wasmBaseUrl: pathToFileURL(resolve(dir) + '/').href,
    });
    const feeds = namedFeeds(session, inputs);
    for (let i = 0; i < 3; i++) await session.run(feeds);
    runs.push({ dir: entry, session, feeds, times: [] });
  }
  for (let r = 0; r < rounds; r++) {
    for (const b of runs) {
      for (let i = 0; i < perRound; i++) {
        const t0 = performance.now();
        await b.session.run(b.feeds);
        b.times.push(performance.now() - t0);
      }
    }
  }
  const base = median(runs[0].times);
  const cells = runs.map((b) => `${b.dir}: ${median(b.times).toFixed(2)} ms (${(median(b.times) / base).toFixed(2)})`);
  console.log(`${model.name}: ${cells.join('  ')}`);
  runs.forEach((b) => b.session.release());
}
// The threads builds' pool workers would keep the process alive.
process.exit(0);
