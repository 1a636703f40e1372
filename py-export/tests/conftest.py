"""Shared fixtures: zoo models built once per session, a temp dir per test."""

from __future__ import annotations

import functools
import os
import warnings

import numpy as np
import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@functools.lru_cache(maxsize=None)
def zoo_model(name: str):
    """Build a zoo entry once per test session (they are deterministic)."""
    from wasm_torch import zoo

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return zoo.get(name)


def torch_outputs(model, inputs):
    from wasm_torch._export import _torch_outputs

    return _torch_outputs(model, inputs)


def rel_err(ref: torch.Tensor, got: np.ndarray) -> float:
    r = ref.detach().numpy().astype(np.float64)
    return float(np.abs(r - got.astype(np.float64)).max() / max(np.abs(r).max(), 1e-12))


@pytest.fixture
def wtb(tmp_path):
    """A fresh .wtb path."""
    return str(tmp_path / "model.wtb")


class Lambda(torch.nn.Module):
    """Wraps a function of the inputs as a module (one-op parity tests)."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, *xs):
        return self.fn(*xs)


def seeded_randn(*shape, seed=0, scale=1.0, dtype=torch.float32):
    """Normal samples from a fixed seed, scaled and cast: the same inputs on every run."""
    return (torch.randn(*shape, generator=torch.Generator().manual_seed(seed)) * scale).to(dtype)


class MLP(torch.nn.Module):
    """Linear, ReLU, Linear: the quantization import tests' model (seeded weights)."""

    def __init__(self, k: int = 64, h: int = 128, n: int = 16, seed: int = 0):
        super().__init__()
        torch.manual_seed(seed)
        self.fc1 = torch.nn.Linear(k, h)
        self.fc2 = torch.nn.Linear(h, n)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(torch.relu(self.fc1(x)))
