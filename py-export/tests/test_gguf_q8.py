"""GGUF Q8_0 blocks through the exporter: ``gguf=`` stores a GGUF's Q8_0 tensors as
group-wise int8 (SPEC.md §4.6.2) byte for byte — the token embedding and a tied or separate
LM head under ``weights="int4"`` (which would otherwise store them in f16) or ``"int8"`` —
next to its Q4_0/Q4_1 Linear blocks, so the file computes what PyTorch computes on the
blocks' dequantised values; the report counts what was taken; bad blocks are errors.
``weights="int8_g32"`` quantizes like ggml's Q8_0 itself, byte for byte."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import wasm_torch

gguf = pytest.importorskip("gguf")
from gguf import GGMLQuantizationType as T  # noqa: E402

V, D = 160, 64


class TinyLlama(torch.nn.Module):
    """The parameter names transformers' Llama uses: an embedding, one q_proj, an LM head
    (tied to the embedding unless ``tied=False``)."""

    def __init__(self, tied: bool = True):
        super().__init__()
        self.model = torch.nn.Module()
        self.model.embed_tokens = torch.nn.Embedding(V, D)
        self.model.layers = torch.nn.ModuleList([torch.nn.Module()])
        self.model.layers[0].self_attn = torch.nn.Module()
        self.model.layers[0].self_attn.q_proj = torch.nn.Linear(D, D, bias=False)
        self.lm_head = torch.nn.Linear(D, V, bias=False)
        if tied:
            self.lm_head.weight = self.model.embed_tokens.weight

    def forward(self, ids):
        h = self.model.embed_tokens(ids)
        h = h + torch.relu(self.model.layers[0].self_attn.q_proj(h))
        return self.lm_head(h)


def _blocks(w: np.ndarray, qtype):
    blocks = gguf.quants.quantize(w, qtype)
    return blocks, gguf.quants.dequantize(blocks, qtype).astype(np.float32)


def _write_gguf(path: str, tensors) -> None:
    writer = gguf.GGUFWriter(path, "llama")
    for name, (blocks, qtype) in tensors.items():
        writer.add_tensor(name, blocks, raw_shape=blocks.shape, raw_dtype=qtype)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def _q8_stored(blocks: np.ndarray) -> bytes:
    """SPEC.md §4.6.2 bytes of Q8_0 blocks: every block's 32 codes, then every f16 scale."""
    b = blocks.reshape(-1, 34)
    return b[:, 2:].tobytes() + b[:, :2].tobytes()


@pytest.fixture
def setup(tmp_path):
    """A GGUF with a Q8_0 embedding (one all-zero row: zero scales), a Q4_1 q_proj and a
    Q8_0 ``output.weight``; the tied and untied models holding its dequantised values."""
    rng = np.random.default_rng(0)
    emb = rng.standard_normal((V, D)).astype(np.float32)
    emb[7] = 0.0
    q = rng.standard_normal((D, D)).astype(np.float32) * 0.1
    out = rng.standard_normal((V, D)).astype(np.float32)
    e8, e_deq = _blocks(emb, T.Q8_0)
    q4, q_deq = _blocks(q, T.Q4_1)
    o8, o_deq = _blocks(out, T.Q8_0)
    path = str(tmp_path / "tiny.gguf")
    _write_gguf(
        path,
        {"token_embd.weight": (e8, T.Q8_0), "blk.0.attn_q.weight": (q4, T.Q4_1), "output.weight": (o8, T.Q8_0)},
    )
    models = {}
    for tied in (True, False):
        m = TinyLlama(tied).eval()
        with torch.no_grad():
            m.model.embed_tokens.weight.copy_(torch.from_numpy(e_deq))
            m.model.layers[0].self_attn.q_proj.weight.copy_(torch.from_numpy(q_deq))
            if not tied:
                m.lm_head.weight.copy_(torch.from_numpy(o_deq))
        models[tied] = m
    return path, models, e8, o8


IDS = torch.tensor([[1, 7, 42, 159, 3]])


def test_q8_0_embedding_and_tied_head_are_taken_as_stored(setup, tmp_path):
    path, models, e8, _ = setup
    out = str(tmp_path / "m.wtb")
    table = V * D + 2 * V * D // 32
    qproj = D * D // 2 + 4 * D * D // 32
    # One token (the group-wise GEMV for the head) and five (the dequantising GEMM).
    for ids in (IDS[:, :1], IDS):
        report = wasm_torch.export(models[True], (ids,), out, weights="int4", gguf=path, compression=False)
        print(report.summary())
        # The tied table counts once; q_proj's Q4_1 blocks are taken too.
        assert report.gguf_taken == 2 and report.gguf_taken_by_type == {"Q4_1": 1, "Q8_0": 1}
        assert not report.gguf_unmatched
        assert "2 weights taken as stored (1 Q4_1, 1 Q8_0)" in report.summary()
        # The file holds the GGUF's codes and scales bit for bit (chunks stored uncompressed).
        with open(out, "rb") as f:
            data = f.read()
        assert data.count(_q8_stored(e8)) == 1
        # The stored values are exactly PyTorch's weights: f32-level agreement.
        assert report.outputs[0].max_rel_err <= 1e-5, report.outputs[0]
        sess = wasm_torch.load(out)
        assert sess.resident_weight_bytes == table + qproj
        with torch.no_grad():
            want = models[True](ids).numpy()
        got = sess.run(ids.numpy())[0]
        assert np.abs(got - want).max() <= 1e-5 * np.abs(want).max()
        assert sess.resident_weight_bytes == table + qproj  # no f32 copy made


def test_q8_0_under_int8_and_an_untied_head(setup, tmp_path):
    path, models, e8, o8 = setup
    out = str(tmp_path / "m.wtb")
    # int8: the Q8_0 tables are taken, the Q4_1 Linear is not (int8 per channel instead).
    report = wasm_torch.export(models[False], (IDS,), out, weights="int8", gguf=path, compression=False)
    print(report.summary())
    assert report.gguf_taken_by_type == {"Q8_0": 2} and not report.gguf_unmatched
    with open(out, "rb") as f:
        data = f.read()
    assert _q8_stored(e8) in data and _q8_stored(o8) in data
    assert report.outputs[0].ok
    # int4 with the untied head: all three taken.
    report = wasm_torch.export(models[False], (IDS,), out, weights="int4", gguf=path)
    assert report.gguf_taken_by_type == {"Q4_1": 1, "Q8_0": 2}
    assert report.outputs[0].max_rel_err <= 1e-5


def test_gguf_mode_and_mismatch_rules(setup, tmp_path):
    path, models, _, _ = setup
    out = str(tmp_path / "m.wtb")
    with pytest.raises(ValueError, match="gguf="):
        wasm_torch.export(models[True], (IDS,), out, weights="f16", gguf=path)
    # quantize= overrides open it too: only the tied table is int8, and only it is taken (the
    # exported graph names a tied weight after its last user, lm_head).
    report = wasm_torch.export(
        models[True], (IDS,), out, quantize={"*embed_tokens*": "int8", "lm_head.*": "int8"}, gguf=path
    )
    assert report.gguf_taken_by_type == {"Q8_0": 1}
    # Values that differ from the blocks: re-quantized, with the reason.
    m = models[True]
    with torch.no_grad():
        m.model.embed_tokens.weight[3, 5] += 1e-3
    report = wasm_torch.export(m, (IDS,), out, weights="int4", gguf=path)
    assert report.gguf_taken_by_type == {"Q4_1": 1}
    assert "1 of 160 rows have no exact match" in " ".join(report.gguf_unmatched.values())


def test_a_nan_q8_0_scale_is_refused(tmp_path):
    rng = np.random.default_rng(1)
    emb = rng.standard_normal((V, D)).astype(np.float32)
    e8, _ = _blocks(emb, T.Q8_0)
    e8 = e8.copy()
    e8.reshape(-1, 34)[5, 0:2] = np.frombuffer(np.float16(np.nan).tobytes(), np.uint8)
    deq = gguf.quants.dequantize(e8, T.Q8_0).astype(np.float32)
    path = str(tmp_path / "nan.gguf")
    _write_gguf(path, {"token_embd.weight": (e8, T.Q8_0)})
    m = TinyLlama(True).eval()
    with torch.no_grad():
        m.model.embed_tokens.weight.copy_(torch.from_numpy(deq))
    # PyTorch's weight holds the NaNs too, so the blocks match; the packer refuses them.
    with pytest.raises(ValueError, match="scale 5 is not finite"):
        wasm_torch.export(m, (IDS,), str(tmp_path / "m.wtb"), weights="int4", gguf=path, verify=False)


def test_int8_g32_quantizes_like_q8_0(setup, tmp_path):
    """``weights="int8_g32"`` without a GGUF: the packer's group-wise int8 is GGUF's own Q8_0
    quantization (same codes and scales, byte for byte), resident at 8.5 bits per weight."""
    _, models, _, _ = setup
    torch.manual_seed(3)
    m = TinyLlama(True).eval()
    out = str(tmp_path / "g.wtb")
    report = wasm_torch.export(m, (IDS,), out, weights="int8_g32", compression=False)
    print(report.summary())
    assert report.outputs[0].ok and report.outputs[0].cosine >= 0.999
    with open(out, "rb") as f:
        data = f.read()
    for w in (m.model.embed_tokens.weight, m.model.layers[0].self_attn.q_proj.weight):
        q8 = gguf.quants.quantize(w.detach().numpy(), T.Q8_0)
        assert _q8_stored(q8) in data
    sess = wasm_torch.load(out)
    assert sess.resident_weight_bytes == (V * D + D * D) * 17 // 16
