// wasm-torch/llm without a real model: the sampling transforms against a plain reference
// written here (Hugging Face's rules spelled out naively), seeded draws against their
// distribution, the streaming detokenizer and stop strings, and every bad input of the
// generation API on a scripted language model (a fake session whose next token is a fixed
// function of the token fed), including abort mid-stream followed by a correct generation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  TextGenerator,
  planSampling,
  samplingDistribution,
  applyRepetitionPenalty,
  nextToken,
  Rng,
  parseGenerationConfig,
  GENERATION_FORMAT,
} from '../dist/llm/index.js';
import { Session, Tensor } from '../dist/index.js';
import { fixture, haveFixtures, runnableVariants } from './helpers.mjs';

// ---- sampling ------------------------------------------------------------------------------

/** Hugging Face's warpers, naively: temperature, top-k (ties kept), softmax, top-p. */
function referenceDistribution(logits, { temperature = 1, topK = 0, topP = 1 }) {
  let z = Array.from(logits, (v) => v / temperature);
  if (topK > 0) {
    const kth = [...z].sort((a, b) => b - a)[Math.min(topK, z.length) - 1];
    z = z.map((v) => (v < kth ? -Infinity : v));
  }
  const m = Math.max(...z);
  const e = z.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  let p = e.map((v) => v / s);
  if (topP < 1) {
    // Sorted ascending, drop tokens whose cumulative mass is <= 1 - topP (keep the top one).
    const order = p.map((v, i) => i).sort((a, b) => p[a] - p[b] || b - a);
    let cum = 0;
    const drop = new Set();
    order.forEach((i, j) => {
      cum += p[i];
      if (cum <= 1 - topP && j < order.length - 1) drop.add(i);
    });
    p = p.map((v, i) => (drop.has(i) ? 0 : v));
    const t = p.reduce((a, b) => a + b, 0);
    p = p.map((v) => v / t);
  }
  return p;
}

function dense(dist, n) {
  const p = new Array(n).fill(0);
  for (const c of dist) p[c.id] = c.p;
  return p;
}

const LOGITS = new Float32Array([2.0, -1.0, 0.5, 3.0, 0.5, -2.5, 1.25, 0.0, -0.75, 2.5]);

test('sampling transforms match the plain reference', () => {
  const cases = [
    {},
    { temperature: 0.7 },
    { temperature: 1.5, topK: 3 },
    { topK: 4 }, // ties: 0.5 twice at ranks 5 and 6 are both outside, rank 4 is 1.25
    { topK: 5 }, // the 5th value (0.5) is tied: both kept
    { topP: 0.9 },
    { topP: 0.5, temperature: 0.8 },
    { topK: 6, topP: 0.95, temperature: 1.2 },
    { topP: 1e-6 }, // always at least one token
  ];
  for (const c of cases) {
    const plan = { temperature: 1, topK: 0, topP: 1, ...c };
    const got = dense(samplingDistribution(LOGITS, plan), LOGITS.length);
    const want = referenceDistribution(LOGITS, plan);
    for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i] - want[i]) < 1e-12, `${JSON.stringify(c)} token ${i}: ${got[i]} vs ${want[i]}`);
  }
});

test('repetition penalty: divides positive logits, multiplies negative ones, once per id', () => {
  const row = Float32Array.from(LOGITS);
  applyRepetitionPenalty(row, [0, 1, 0, 0, 9], 1.3);
  const want = Array.from(LOGITS);
  want[0] = Math.fround(2.0 / 1.3);
  want[1] = Math.fround(-1.0 * 1.3);
  want[9] = Math.fround(2.5 / 1.3);
  assert.deepEqual(Array.from(row), want.map(Math.fround));
  // Greedy with the penalty: token 3 (3.0) seen → 3.0/2 = 1.5 < 2.5 of token 9.
  assert.equal(nextToken(LOGITS, [3], planSampling({ repetitionPenalty: 2 }), new Rng(1)), 9);
  assert.equal(nextToken(LOGITS, [], planSampling({}), new Rng(1)), 3);
});

test('seeded draws follow the distribution and repeat with the seed', () => {
  const plan = planSampling({ doSample: true, temperature: 0.9, topK: 5 });
  const p = referenceDistribution(LOGITS, plan);
  const N = 40000;
  const counts = new Array(LOGITS.length).fill(0);
  const rng = new Rng(1234);
  for (let i = 0; i < N; i++) counts[nextToken(LOGITS, [], plan, rng)]++;
  for (let i = 0; i < p.length; i++) {
    const sd = Math.sqrt(N * p[i] * (1 - p[i]));
    assert.ok(Math.abs(counts[i] - N * p[i]) <= 5 * sd + 1, `token ${i}: ${counts[i]} draws, expected ${(N * p[i]).toFixed(0)} ± ${sd.toFixed(0)}`);
  }
  const seq = (seed) => {
    const r = new Rng(seed);
    return Array.from({ length: 50 }, () => nextToken(LOGITS, [], plan, r));
  };
  assert.deepEqual(seq(7), seq(7));
  assert.notDeepEqual(seq(7), seq(8));
});

test('sampling options are checked', () => {
  for (const bad of [{ temperature: -1 }, { topK: 1.5 }, { topP: 0 }, { topP: 1.1 }, { repetitionPenalty: 0 }, { seed: 0.5 }, { doSample: 'yes' }, { temperature: NaN }]) {
    assert.throws(() => planSampling(bad), (e) => e.code === 'INVALID_INPUT', JSON.stringify(bad));
  }
  assert.equal(planSampling({ doSample: true, temperature: 0 }).sample, false, 'temperature 0 is greedy');
});

// ---- a scripted language model ---------------------------------------------------------------

// Word-level vocabulary: the fake model's next token after token t is NEXT[t]; 'end' is EOS.
const WORDS = ['[UNK]', 'end', 'hello', 'world', 'how', 'are', 'you', 'STOP', 'again', '<|im_start|>', '<|im_end|>', 'user', 'assistant'];
const ID = Object.fromEntries(WORDS.map((w, i) => [w, i]));
const NEXT = { [ID.hello]: ID.world, [ID.world]: ID.how, [ID.how]: ID.are, [ID.are]: ID.you, [ID.you]: ID.STOP, [ID.STOP]: ID.again, [ID.again]: ID.end };
const CACHE = 16;
const TOKENIZER = {
  model: { type: 'WordLevel', vocab: ID, unk_token: '[UNK]' },
  normalizer: null,
  pre_tokenizer: { type: 'Whitespace' },
  post_processor: null,
  decoder: null,
  added_tokens: ['<|im_start|>', '<|im_end|>'].map((content) => ({ id: ID[content], content, special: true, single_word: false, lstrip: false, rstrip: false, normalized: false })),
};
const GENERATION = {
  format: GENERATION_FORMAT,
  max_cache_len: CACHE,
  vocab_size: WORDS.length,
  bos_token_id: null,
  eos_token_ids: [ID.end],
  pad_token_id: null,
  chat_template: "{% for m in messages %}{{ '<|im_start|> ' + m['role'] + ' ' + m['content'] + ' <|im_end|> ' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|> assistant ' }}{% endif %}",
  special_tokens: { eos_token: 'end' },
  inputs: { input_ids: 'input_ids', cache_position: 'cache_position' },
  logits_output: 'logits',
};

/** A session that "generates" NEXT and checks it is fed consecutive cache positions. */
class ScriptedLM {
  inputs = [
    { name: 'input_ids', dtype: 'i64', shape: [1, 'seq'] },
    { name: 'cache_position', dtype: 'i64', shape: ['seq'] },
  ];
  outputs = [{ name: 'logits', dtype: 'f32', shape: [1, 'seq', WORDS.length] }];
  states = [{ name: 'kv', dtype: 'f32', shape: [CACHE] }];
  filled = 0;
  runs = 0;
  resets = 0;
  resetState() {
    this.filled = 0;
    this.resets++;
  }
  async run(inputs) {
    this.runs++;
    const ids = inputs.input_ids.data;
    const pos = inputs.cache_position.data;
    assert.equal(pos.length, ids.length);
    for (let i = 0; i < pos.length; i++) {
      assert.equal(Number(pos[i]), this.filled, 'cache positions are consecutive from 0 after a reset');
      assert.ok(this.filled < CACHE, 'never writes past the cache');
      this.filled++;
    }
    const V = WORDS.length;
    const T = ids.length;
    const logits = new Float32Array(T * V).fill(-5);
    for (let t = 0; t < T; t++) logits[t * V + (NEXT[Number(ids[t])] ?? ID.end)] = 5;
    return { logits: new Tensor('f32', logits, [1, T, V]) };
  }
  asset(name) {
    const j = name === 'generation.json' ? GENERATION : name === 'tokenizer.json' ? TOKENIZER : undefined;
    return j && new TextEncoder().encode(JSON.stringify(j));
  }
}

async function collect(it) {
  const chunks = [];
  for await (const c of it) chunks.push(c);
  return chunks;
}

test('streams tokens and text, stops at EOS, max tokens, stop strings and stop ids', async () => {
  const lm = new ScriptedLM();
  const gen = await TextGenerator.create(lm);
  let chunks = await collect(gen.generate('hello'));
  assert.deepEqual(chunks.filter((c) => !c.done).map((c) => c.token), [ID.world, ID.how, ID.are, ID.you, ID.STOP, ID.again]);
  assert.equal(chunks.map((c) => c.text).join(''), 'world how are you STOP again');
  const last = chunks.at(-1);
  assert.equal(last.done, true);
  assert.equal(last.finishReason, 'eos');
  assert.equal(last.stats.promptTokens, 1);
  assert.equal(last.stats.newTokens, 6);
  assert.equal(lm.runs, 7, 'one prefill + one run per token fed back');

  let r = await gen.complete('hello', { maxNewTokens: 3 });
  assert.deepEqual([r.text, r.finishReason, r.tokens.length], ['world how are', 'max_tokens', 3]);
  r = await gen.complete('hello', { stop: ['you S'] });
  assert.deepEqual([r.text, r.finishReason], ['world how are ', 'stop']);
  // The text before a stop string is held back until it cannot be the stop any more.
  chunks = await collect(gen.generate('hello', { stop: 'are you STOP' }));
  assert.equal(chunks.map((c) => c.text).join(''), 'world how ');
  assert.equal(chunks.at(-1).finishReason, 'stop');
  r = await gen.complete('hello', { stopTokenIds: [ID.are] });
  assert.deepEqual([r.text, r.finishReason], ['world how', 'stop']);
  r = await gen.complete('hello', { ignoreEos: true, maxNewTokens: 8 });
  assert.equal(r.tokens.length, 8);
  assert.ok(r.tokens.includes(ID.end), 'ignoreEos still lets EOS be chosen, it only does not stop');
  // minNewTokens masks EOS (transformers' min_new_tokens): the scripted model then picks its
  // second best, token 0, where it would have ended.
  r = await gen.complete('hello', { minNewTokens: 8, maxNewTokens: 8 });
  assert.deepEqual(r.tokens.slice(0, 7), [ID.world, ID.how, ID.are, ID.you, ID.STOP, ID.again, 0]);
  assert.ok(!r.tokens.includes(ID.end));
  // Chat input through the template.
  const ids = gen.promptIds([{ role: 'user', content: 'hello' }]);
  assert.deepEqual(ids, [ID['<|im_start|>'], ID.user, ID.hello, ID['<|im_end|>'], ID['<|im_start|>'], ID.assistant]);
  r = await gen.complete([{ role: 'user', content: 'how' }]);
  assert.equal(r.finishReason, 'eos'); // assistant → (no NEXT) → end
});

test('the cache bounds generation: a full cache ends it, a prompt without room is PROMPT_TOO_LONG', async () => {
  const lm = new ScriptedLM();
  const gen = await TextGenerator.create(lm);
  const prompt = Array(12).fill('hello').join(' ');
  const r = await gen.complete(prompt, { ignoreEos: true, maxNewTokens: 100 });
  assert.equal(r.finishReason, 'cache_full');
  assert.equal(r.tokens.length, CACHE - 12 + 1, 'the last token is made but not fed back');
  await assert.rejects(collect(gen.generate(Array(CACHE).fill('hello').join(' '))), (e) => e.code === 'PROMPT_TOO_LONG' && /16 tokens/.test(e.message));
  // The session still works afterwards.
  assert.equal((await gen.complete('hello')).text, 'world how are you STOP again');
});

test('abort mid-stream throws ABORTED and the next generation is correct', async () => {
  const lm = new ScriptedLM();
  const gen = await TextGenerator.create(lm);
  const ctl = new AbortController();
  const seen = [];
  await assert.rejects(
    (async () => {
      for await (const c of gen.generate('hello', { signal: ctl.signal })) {
        seen.push(c.token);
        if (seen.length === 2) ctl.abort();
      }
    })(),
    (e) => e.code === 'ABORTED' && e.name === 'AbortError',
  );
  assert.deepEqual(seen, [ID.world, ID.how]);
  // An abort from a timer is seen between steps even though each run resolves at once.
  const slow = new AbortController();
  setTimeout(() => slow.abort(), 5);
  await assert.rejects(collect(gen.generate(Array(3).fill('hello').join(' '), { signal: slow.signal, ignoreEos: true, maxNewTokens: 12, onLogits: () => { const t = Date.now(); while (Date.now() - t < 2); } })), (e) => e.code === 'ABORTED');
  await assert.rejects(collect(gen.generate('hello', { signal: AbortSignal.abort() })), (e) => e.code === 'ABORTED');
  const r = await gen.complete('hello');
  assert.equal(r.text, 'world how are you STOP again');
  assert.equal(lm.resets, 3, 'each generation that runs starts from a reset cache (the pre-aborted one never ran)');
});

test('bad input: typed errors, and the generator keeps working', async () => {
  const lm = new ScriptedLM();
  const gen = await TextGenerator.create(lm);
  const code = (c) => (e) => e.code === c;
  for (const opts of [{ maxNewTokens: 0 }, { maxNewTokens: 1.5 }, { minNewTokens: -1 }, { topP: 2 }, { stop: [''] }, { stopTokenIds: ['x'] }]) {
    await assert.rejects(collect(gen.generate('hello', opts)), code('INVALID_INPUT'), JSON.stringify(opts));
  }
  for (const input of [42, null, { promptIds: [1, 99] }, { promptIds: [-1] }, { promptIds: [] }, '', [{ role: 'user' }], []]) {
    await assert.rejects(collect(gen.generate(input)), code('INVALID_INPUT'), JSON.stringify(input));
  }
  // One sequence at a time per session: while a model call of one generation is in flight,
  // another is BUSY (and the first goes on undisturbed).
  const first = gen.generate('hello');
  const pending = first.next();
  await assert.rejects(collect(gen.generate('hello')), code('BUSY'));
  assert.equal((await pending).value.text, 'world');
  // A generation parked at a yield (its consumer stopped pulling and never called return())
  // does not hold the session: a new one supersedes it, and the old one's next pull is ABORTED.
  assert.equal((await gen.complete('hello')).text, 'world how are you STOP again');
  await assert.rejects(first.next(), code('ABORTED'));
  const dropped = gen.generate('hello');
  await dropped.next();
  assert.equal((await gen.complete('hello')).text, 'world how are you STOP again', 'a dropped generator does not leave the session BUSY');

  // Models that cannot generate.
  const stateless = Object.assign(new ScriptedLM(), { states: [] });
  await assert.rejects(TextGenerator.create(stateless), code('NO_STATE'));
  const noAssets = Object.assign(new ScriptedLM(), { asset: () => undefined });
  await assert.rejects(TextGenerator.create(noAssets), code('NO_GENERATION_CONFIG'));
  await TextGenerator.create(noAssets, { generationConfig: GENERATION, tokenizer: TOKENIZER });
  for (const bad of [
    'not json',
    { ...GENERATION, format: 'other/1' },
    { ...GENERATION, max_cache_len: -1 },
    { ...GENERATION, eos_token_ids: [99] },
    { ...GENERATION, inputs: { input_ids: 'ids', cache_position: 'cache_position' } },
    { ...GENERATION, logits_output: 'scores' },
    { ...GENERATION, chat_template: '{% for %}' },
  ]) {
    await assert.rejects(TextGenerator.create(noAssets, { generationConfig: bad, tokenizer: TOKENIZER }), code('NO_GENERATION_CONFIG'), JSON.stringify(bad).slice(0, 80));
  }
  await assert.rejects(TextGenerator.create(noAssets, { generationConfig: GENERATION, tokenizer: '{"model": 1}' }), code('NO_GENERATION_CONFIG'));
  assert.throws(() => parseGenerationConfig(new Uint8Array([0xff, 0x00])), code('NO_GENERATION_CONFIG'));
});

test('a real stateless model is refused with NO_STATE', { skip: !haveFixtures() || runnableVariants().length === 0 ? 'fixtures or wasm builds missing' : false }, async () => {
  const s = await Session.load(fixture('tiny.wtb'), { variant: runnableVariants()[0], threads: false });
  assert.deepEqual(s.states, []);
  s.resetState(); // a no-op on a stateless model
  await assert.rejects(TextGenerator.create(s, { generationConfig: GENERATION, tokenizer: TOKENIZER }), (e) => e.code === 'NO_STATE');
  s.release();
});
