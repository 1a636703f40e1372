// The wasm-torch generation loop the LLM benchmark times, shared by Node (bench_js.mjs) and the
// browser Worker (worker.mjs): the Session is driven directly with `input_ids` [1, T] and
// `cache_position` [T] (i64), and the next token is the argmax of the last logits row.
//
// One run = prefill (the whole prompt in one call; its last logits give token 1) + the
// newTokens - 1 one-token decode calls after it. Positions restart at 0 each run, so the static
// KV cache needs no reset: the causal mask built from cache_position hides every slot past
// the current position, and each run rewrites the slots it reads.

/** Index of the largest value in `data[offset, offset + n)`. */
function argmax(data, offset, n) {
  let best = 0;
  let bestV = -Infinity;
  for (let i = 0; i < n; i++) {
    const v = data[offset + i];
    if (v > bestV) {
      bestV = v;
      best = i;
    }
  }
  return best;
}

/** Median of a non-empty array of numbers. */
export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Load `source` in the wasm-torch build `variant` and time `runs` generations.
 * `profile`: after the timed runs, one more run (up to 32 tokens) with per-op profiling switched
 * on for its decode steps only; its `{runs, totalMs, ops}` is returned as `decode_profile`.
 * Resolves to {prefill_tok_s, decode_tok_s, runs, load_ms, build, wasm_memory_mb,
 * first_tokens, decode_profile?}.
 */
export async function benchWasmTorch({ Session, Tensor, source, variant, threads, prompt, newTokens, runs, profile, now }) {
  const t0 = now();
  const session = await Session.load(source, { variant, threads: variant === 'threads' ? threads : false });
  const load_ms = now() - t0;
  const [inName, posName] = session.inputs.map((i) => i.name);
  const outName = session.outputs[0].name;
  const step = (ids, start) => {
    const t = ids.length;
    const out = session.runSync({
      [inName]: new Tensor('i64', BigInt64Array.from(ids, BigInt), [1, t]),
      [posName]: new Tensor('i64', BigInt64Array.from({ length: t }, (_, i) => BigInt(start + i)), [t]),
    });
    const logits = out[outName];
    const vocab = logits.shape[logits.shape.length - 1];
    return argmax(logits.data, (t - 1) * vocab, vocab);
  };
  const generate = (onPrefilled, count = newTokens) => {
    const a = now();
    const tokens = [step(prompt, 0)];
    const b = now();
    onPrefilled?.();
    let pos = prompt.length;
    for (let i = 1; i < count; i++) tokens.push(step([tokens[tokens.length - 1]], pos++));
    return { prefill_ms: b - a, decode_ms: now() - b, tokens };
  };
  // Warm-up (prefill + a few decode steps): first-run packing and allocation are not measured.
  generate(undefined, Math.min(newTokens, 4));
  const results = [];
  for (let r = 0; r < runs; r++) results.push(generate());
  const out = {
    prefill_tok_s: median(results.map((r) => (prompt.length * 1e3) / r.prefill_ms)),
    decode_tok_s: median(results.map((r) => ((newTokens - 1) * 1e3) / r.decode_ms)),
    runs,
    load_ms,
    build: session.build,
    wasm_memory_mb: session.memoryBytes / 2 ** 20,
    first_tokens: results[0].tokens.slice(0, 8),
  };
  if (profile) {
    generate(() => session.setProfiling(true), Math.min(newTokens, 32));
    out.decode_profile = session.profile();
    session.setProfiling(false);
  }
  session.release();
  return out;
}
