"""int4 weights through the exporter: ``weights="int4"`` stores Linear weights as group-wise
int4 (they stay 4-bit in memory and run on the int4 kernels), ``quantize=`` overrides per
weight name, the report states accuracy (max error, cosine, top-1), a model with nothing to
quantize is an error, and ``gguf=`` takes Q4_1 blocks from a GGUF file as they are, so the
result equals PyTorch running on those blocks' dequantised values."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import wasm_torch
from wasm_torch.errors import ExportError


class Mlp(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(256, 512)
        self.fc2 = torch.nn.Linear(512, 384)
        self.fc3 = torch.nn.Linear(384, 64)

    def forward(self, x):
        return self.fc3(torch.nn.functional.gelu(self.fc2(torch.relu(self.fc1(x)))))


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.astype(np.float64).ravel(), b.astype(np.float64).ravel()
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_int4_mlp_is_resident_and_reports_accuracy(wtb):
    torch.manual_seed(0)
    model = Mlp().eval()
    for rows in (1, 16):  # the int4 GEMV, then the dequantising GEMM path
        path = wtb.replace("model.wtb", f"model-{rows}.wtb")
        report = wasm_torch.export(model, (torch.randn(rows, 256),), path, weights="int4")
        out = report.outputs[0]
        print(report.summary())
        assert report.verified and out.cosine >= 0.99 and out.top1 is not None
        sess = wasm_torch.load(path)
        # Q4_1 at group 32: 0.5 + 4/32 bytes per weight, against 4 (biases stay f32).
        ratio = sess.resident_weight_bytes / sess.weight_bytes
        assert ratio <= 0.17, (sess.resident_weight_bytes, sess.weight_bytes)
        xs = torch.randn(rows, 256)
        with torch.no_grad():
            ref = model(xs).numpy()
        got = sess.run(xs)[0]
        cos = _cosine(got, ref)
        rel = float(np.abs(got - ref).max() / np.abs(ref).max())
        print(f"int4 rows={rows}: cosine {cos:.5f}, max error {rel:.3f} of max |y|, resident {ratio:.3f} of f32")
        assert cos >= 0.99 and rel <= 0.2, (cos, rel)
        assert sess.resident_weight_bytes / sess.weight_bytes == ratio  # no f32 copies made


def test_quantize_overrides_per_weight_name(wtb):
    torch.manual_seed(0)
    model = Mlp().eval()
    wasm_torch.export(model, (torch.randn(2, 256),), wtb, weights="int4", quantize={"fc3.*": "f32", "fc1.*": "int8"})
    sess = wasm_torch.load(wtb)
    fc1 = 512 * 256  # int8 per channel (packed: ~1 byte per weight)
    fc2 = 384 * 512 * (0.5 + 4 / 32)  # int4
    fc3 = 64 * 384 * 4  # f32
    biases = (512 + 384 + 64) * 4
    want = fc1 + fc2 + fc3 + biases
    assert abs(sess.resident_weight_bytes - want) / want < 0.02, (sess.resident_weight_bytes, want)
    with pytest.raises(ValueError, match="quantize"):
        wasm_torch.export(model, (torch.randn(2, 256),), wtb, quantize={"fc3.*": "int3"})


def test_nothing_to_quantize_is_an_error(wtb):
    class NoWeights(torch.nn.Module):
        def forward(self, x):
            return x * 2 + 1

    with pytest.raises(ExportError, match="nothing to quantize"):
        wasm_torch.export(NoWeights(), (torch.randn(3, 32),), wtb, weights="int4")


def test_gguf_q4_1_blocks_are_taken_as_stored(tmp_path):
    gguf = pytest.importorskip("gguf")
    from gguf import GGMLQuantizationType as T

    torch.manual_seed(0)
    n, k = 96, 128
    w = torch.randn(n, k).numpy()
    blocks = gguf.quants.quantize(w, T.Q4_1)
    deq = gguf.quants.dequantize(blocks, T.Q4_1).astype(np.float32)
    path = str(tmp_path / "tiny.gguf")
    writer = gguf.GGUFWriter(path, "llama")
    writer.add_tensor("blk.0.attn_q.weight", blocks, raw_shape=blocks.shape, raw_dtype=T.Q4_1)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()

    class Layer(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.q_proj = torch.nn.Linear(k, n, bias=False)

        def forward(self, x):
            return self.q_proj(x)

    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = torch.nn.ModuleList([torch.nn.Module()])
            self.layers[0].self_attn = Layer()

        def forward(self, x):
            return self.layers[0].self_attn(x)

    model = Model().eval()
    # The PyTorch weight holds the GGUF rows in another order (transformers un-permutes q/k).
    perm = np.random.default_rng(1).permutation(n)
    with torch.no_grad():
        model.layers[0].self_attn.q_proj.weight.copy_(torch.from_numpy(deq[perm]))
    x = torch.randn(1, k)
    out = str(tmp_path / "m.wtb")
    report = wasm_torch.export(model, (x,), out, weights="int4", gguf=path)
    print(report.summary())
    assert report.gguf_taken == 1 and not report.gguf_unmatched
    # The stored int4 values are exactly the weights PyTorch ran: f32 agreement.
    assert report.outputs[0].max_rel_err <= 1e-5
    # A weight whose values are not in the GGUF is re-quantized, and says so.
    with torch.no_grad():
        model.layers[0].self_attn.q_proj.weight.add_(1e-3)
    report = wasm_torch.export(model, (x,), out, weights="int4", gguf=path)
    assert report.gguf_taken == 0 and "layers.0.self_attn.q_proj.weight" in " ".join(report.gguf_unmatched)


def test_int4_keeps_a_tied_embedding_and_head_in_f16(wtb):
    class TiedLm(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = torch.nn.Embedding(1000, 64)
            self.proj = torch.nn.Linear(64, 64)
            self.head = torch.nn.Linear(64, 1000, bias=False)
            self.head.weight = self.embed.weight

        def forward(self, ids):
            return self.head(torch.relu(self.proj(self.embed(ids))))

    torch.manual_seed(0)
    model = TiedLm().eval()
    report = wasm_torch.export(model, (torch.tensor([[1, 5, 999]]),), wtb, weights="int4")
    print(report.summary())
    sess = wasm_torch.load(wtb)
    table = 1000 * 64 * 2  # f16, one copy for the embedding and the head
    proj = 64 * 64 * (0.5 + 4 / 32) + 64 * 4  # int4 + f32 bias
    assert sess.resident_weight_bytes == table + proj
    assert report.outputs[0].top1 == 1.0
