"""TorchScript constructs: module lists, Python lists, tuple unpacking, asserts, loops, ifs."""

from __future__ import annotations

from typing import List, Tuple

import torch
import wasm_torch
from conftest import rel_err


class Mixed(torch.nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.layers = torch.nn.ModuleList([torch.nn.Linear(6, 6) for _ in range(3)])

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        assert x.dim() == 2, "need 2-D"
        outs: List[torch.Tensor] = []
        for layer in self.layers:
            x = torch.relu(layer(x))
            outs.append(x)
        a, b = x.chunk(2, dim=1)
        total = torch.zeros_like(x)
        for o in outs:
            total = total + o
        if x.size(0) > 1:
            total = total / x.size(0)
        return torch.cat([b, a], 1), total


def test_scripted_mixed_constructs(wtb):
    m = torch.jit.script(Mixed().eval())
    x = torch.randn(4, 6, generator=torch.Generator().manual_seed(1))
    report = wasm_torch.export(m, (x,), wtb)
    assert report.frontend == "script" and report.verified
    sess = wasm_torch.load(wtb)
    x2 = torch.randn(4, 6, generator=torch.Generator().manual_seed(2))
    for r, o in zip(m(x2), sess.run(x2)):
        assert rel_err(r, o) <= 1e-5


def test_register_names_follow_pytorch(wtb):
    """The interpreter's trace uses PyTorch's value names (FX node names here)."""
    m = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.ReLU()).eval()
    x = torch.randn(2, 4)
    wasm_torch.export(m, (x,), wtb, frontend="export")
    _, trace = wasm_torch.load(wtb).trace(x)
    names = [n for n, _ in trace]
    assert "linear" in names and "relu" in names
