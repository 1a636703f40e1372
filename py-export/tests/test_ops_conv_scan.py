"""Transposed (1-3-d) and 3-d convolution, the element-wise ops fmax/fmin/copysign/signbit/
hypot/exp2 and the scans cumprod/cummax/cummin/logcumsumexp, against PyTorch.

Convolution modules go through torch.export and both TorchScript front ends (trace and
script); the element-wise and scan ops through torch.export and trace. Float outputs match
within 1e-4 relative to the largest magnitude, integer and bool outputs exactly.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn as nn
import wasm_torch
from conftest import Lambda as Fn
from conftest import rel_err, torch_outputs
from conftest import seeded_randn as g


def _check(model, inputs, wtb, frontend):
    model.eval()
    report = wasm_torch.export(model, inputs, wtb, frontend=frontend, verify=False)
    assert report.frontend == frontend
    ref = torch_outputs(model, inputs)
    got = wasm_torch.load(wtb).run(*inputs)
    assert len(got) == len(ref)
    for r, o in zip(ref, got):
        assert o.shape == tuple(r.shape), (o.shape, tuple(r.shape))
        if r.dtype.is_floating_point:
            # NaN where PyTorch has NaN (the inputs hold some on purpose), 1e-4 elsewhere.
            nan = np.isnan(r.numpy())
            assert (np.isnan(o) == nan).all(), (r, o)
            assert rel_err(r[~torch.from_numpy(nan)], o[~nan]) <= 1e-4, (r, o)
        else:
            assert o.dtype == r.numpy().dtype and (r.numpy() == o).all(), (r, o)
    return report


class Wrap(nn.Module):
    """One layer behind a plain ``forward(x)``: a scripted ConvTranspose's own forward also
    takes ``output_size``, which would become a second model input."""

    def __init__(self, layer: nn.Module):
        super().__init__()
        self.layer = layer

    def forward(self, x):
        return self.layer(x)


def _seeded(module):
    torch.manual_seed(0)
    return Wrap(module())


CONV_CASES = {
    "transpose1d": (lambda: nn.ConvTranspose1d(4, 6, 3, stride=2, padding=1, output_padding=1), g(2, 4, 9)),
    "transpose1d_groups_dilation": (
        lambda: nn.ConvTranspose1d(4, 6, 3, stride=3, groups=2, dilation=2, bias=False),
        g(2, 4, 7, seed=1),
    ),
    "transpose2d": (lambda: nn.ConvTranspose2d(4, 5, (3, 2), stride=(2, 1), padding=(1, 0)), g(2, 4, 6, 5, seed=2)),
    "transpose2d_unbatched": (lambda: nn.ConvTranspose2d(3, 2, 4, stride=2, padding=1), g(3, 5, 5, seed=3)),
    "transpose3d": (
        lambda: nn.ConvTranspose3d(4, 6, 3, stride=2, padding=1, output_padding=(1, 0, 1), groups=2),
        g(2, 4, 3, 4, 5, seed=4),
    ),
    "transpose3d_dilation": (lambda: nn.ConvTranspose3d(2, 3, (2, 3, 1), dilation=(2, 1, 3)), g(1, 2, 3, 3, 3, seed=5)),
    "conv3d": (lambda: nn.Conv3d(4, 6, 3, stride=(1, 2, 2), padding=1), g(2, 4, 5, 6, 7, seed=6)),
    "conv3d_groups_dilation": (
        lambda: nn.Conv3d(4, 4, (2, 3, 3), padding=(0, 2, 1), dilation=(1, 2, 1), groups=2, bias=False),
        g(1, 4, 4, 7, 5, seed=7),
    ),
    "conv3d_same_unbatched": (lambda: nn.Conv3d(2, 3, 3, padding="same"), g(2, 4, 5, 6, seed=8)),
}


@pytest.mark.parametrize("frontend", ["export", "trace", "script"])
@pytest.mark.parametrize("name", list(CONV_CASES))
def test_convolution(name, frontend, wtb):
    make, x = CONV_CASES[name]
    _check(_seeded(make), (x,), wtb, frontend)


A = g(3, 7, seed=10)
B = g(3, 7, seed=11)
A[0, :3] = torch.tensor([float("nan"), -0.0, 0.0])
B[0, :3] = torch.tensor([1.5, float("nan"), -2.0])

OP_CASES = {
    "fmax": (lambda a, b: torch.fmax(a, b), (A, B)),
    "fmin": (lambda a, b: torch.fmin(a, b), (A, B)),
    "fmax_int": (lambda a, b: torch.fmax(a, b), ((A * 4).long(), (B * 4).long())),
    "copysign": (lambda a, b: torch.copysign(a, b), (A, B)),
    "copysign_scalar": (lambda a, b: torch.copysign(a, -1.0) + b, (A, B)),
    "signbit": (lambda a, b: torch.signbit(a) ^ torch.signbit(b), (A, B)),
    "signbit_int": (lambda a, b: torch.signbit(a), ((A * 4).long(), B)),
    "hypot": (lambda a, b: torch.hypot(a, b), (A, B)),
    "exp2": (lambda a, b: torch.exp2(a) - b, (A, B)),
    "cumprod": (lambda a, b: torch.cumprod(a, 1) + torch.cumprod(b, 0), (A, B)),
    "cumprod_int": (lambda a, b: torch.cumprod(a, -1), ((A * 2).long(), B)),
    "cummax": (lambda a, b: torch.cummax(a, 1), (A, B)),
    "cummin": (lambda a, b: torch.cummin(b, 0), (A, B)),
    "cummax_ties_int": (lambda a, b: torch.cummax(a, 1), ((A * 2).long(), B)),
    "logcumsumexp": (lambda a, b: torch.logcumsumexp(b * 30, 1), (A, B)),
}


@pytest.mark.parametrize("frontend", ["export", "trace"])
@pytest.mark.parametrize("name", list(OP_CASES))
def test_elementwise_and_scans(name, frontend, wtb):
    fn, inputs = OP_CASES[name]
    _check(Fn(fn), inputs, wtb, frontend)
