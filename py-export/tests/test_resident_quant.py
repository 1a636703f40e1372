"""Resident quantized weights through the exporter: a small MLP exported with
``weights="int8"`` / ``"f16"`` runs on the int8 / f16 kernels (its Linear weights stay at
their quantized size in memory) and stays close to PyTorch fp32."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import wasm_torch


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


# (weights, max resident / f32 bytes, min cosine, max error relative to max |y|) against
# PyTorch fp32. int8 = int8 weights x dynamic per-row int8 activations, three layers deep.
@pytest.mark.parametrize(
    "weights,max_ratio,min_cos,max_rel",
    [
        ("int8", 0.27, 0.999, 0.03),
        ("f16", 0.51, 0.99999, 2e-3),
    ],
)
def test_quantized_mlp_is_resident_and_accurate(wtb, weights, max_ratio, min_cos, max_rel):
    torch.manual_seed(0)
    model = Mlp().eval()
    for rows in (1, 16):
        path = wtb.replace("model.wtb", f"model-{rows}.wtb")
        wasm_torch.export(model, (torch.randn(rows, 256),), path, weights=weights)
        sess = wasm_torch.load(path)
        ratio = sess.resident_weight_bytes / sess.weight_bytes
        assert ratio <= max_ratio, (sess.resident_weight_bytes, sess.weight_bytes)
        xs = torch.randn(rows, 256)
        with torch.no_grad():
            ref = model(xs).numpy()
        got = sess.run(xs)[0]
        cos = _cosine(got, ref)
        rel = float(np.abs(got - ref).max() / np.abs(ref).max())
        print(f"{weights} rows={rows}: cosine {cos:.6f}, max error {rel:.2e} of max |y|, resident {ratio:.3f} of f32")
        assert cos >= min_cos and rel <= max_rel, (cos, rel)
        # Running did not materialise f32 copies of the weights.
        assert sess.resident_weight_bytes / sess.weight_bytes == ratio
