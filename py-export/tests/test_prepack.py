"""The pre-packing budget from Python: packed weight copies within the budget, none with 0,
and the same result either way."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn
import wasm_torch


def test_prepack_budget_keeps_results_and_bounds_copies(wtb):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 96), nn.Tanh(), nn.Linear(96, 32)).eval()
    x = torch.randn(3, 64)
    path = wtb
    wasm_torch.export(model, (x,), path)
    want = model(x).detach().numpy()

    packed = wasm_torch.load(path)
    got = packed.run(x)[0]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    # Both weights are packed once (96 and 32 columns, whole 16-column panels).
    assert packed.prepacked_bytes == (64 * 96 + 96 * 32) * 4

    stored = wasm_torch.load(path, prepack_budget=0)
    np.testing.assert_allclose(stored.run(x)[0], want, rtol=1e-5, atol=1e-5)
    assert stored.prepacked_bytes == 0

    packed.set_prepack_budget(0)
    assert packed.prepacked_bytes == 0
    np.testing.assert_allclose(packed.run(x)[0], want, rtol=1e-5, atol=1e-5)
