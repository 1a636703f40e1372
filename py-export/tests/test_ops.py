"""Per-op-family parity: small modules through both front ends, native vs PyTorch (1e-4)."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
import wasm_torch
from conftest import rel_err, torch_outputs


class Fn(nn.Module):
    """Wraps a function of the inputs (and optional submodules) as a module."""

    def __init__(self, fn, **mods):
        super().__init__()
        self.fn = fn
        for k, v in mods.items():
            setattr(self, k, v)

    def forward(self, *xs):
        return self.fn(self, *xs)


def g(*shape, seed=0, scale=1.0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed)) * scale


def _cases():
    torch.manual_seed(0)
    x4 = g(2, 4, 9, 9)
    x3 = g(2, 5, 8, seed=1)
    return {
        "linear": (Fn(lambda m, x: m.l(x), l=nn.Linear(8, 6)), (x3,)),
        "linear_nobias_matmul": (Fn(lambda m, x: m.l(x) @ x.transpose(1, 2), l=nn.Linear(8, 8, bias=False)), (x3,)),
        "conv2d": (Fn(lambda m, x: m.c(x), c=nn.Conv2d(4, 6, 3, stride=2, padding=1)), (x4,)),
        "conv2d_groups_dilation": (
            Fn(lambda m, x: m.c(x), c=nn.Conv2d(4, 8, 3, padding=2, dilation=2, groups=4)),
            (x4,),
        ),
        "conv1d": (Fn(lambda m, x: m.c(x), c=nn.Conv1d(5, 3, 3, padding=1)), (x3,)),
        "conv_bn_relu": (Fn(lambda m, x: F.relu(m.b(m.c(x))), c=nn.Conv2d(4, 6, 3), b=nn.BatchNorm2d(6)), (x4,)),
        "batchnorm_alone": (Fn(lambda m, x: m.b(x + 1), b=nn.BatchNorm2d(4)), (x4,)),
        "pools": (Fn(lambda m, x: torch.cat([F.max_pool2d(x, 3, 2, 1), F.avg_pool2d(x, 3, 2, 1)], 1)), (x4,)),
        "pool_ceil": (Fn(lambda m, x: F.max_pool2d(x, 3, 2, ceil_mode=True)), (x4,)),
        "adaptive_pool": (Fn(lambda m, x: F.adaptive_avg_pool2d(x, 1).flatten(1)), (x4,)),
        "activations": (
            Fn(
                lambda m, x: torch.stack(
                    [
                        F.relu(x),
                        F.gelu(x),
                        F.gelu(x, approximate="tanh"),
                        F.silu(x),
                        torch.sigmoid(x),
                        torch.tanh(x),
                        F.hardswish(x),
                        F.hardsigmoid(x),
                        F.leaky_relu(x, 0.1),
                        F.elu(x),
                        F.softplus(x),
                        F.relu6(x),
                    ]
                )
            ),
            (x3,),
        ),
        "softmax": (Fn(lambda m, x: F.softmax(x, -1) + F.log_softmax(x, 1).exp()), (x3,)),
        "layer_norm": (Fn(lambda m, x: m.n(x), n=nn.LayerNorm(8)), (x3,)),
        "group_norm": (Fn(lambda m, x: m.n(x), n=nn.GroupNorm(2, 4)), (x4,)),
        "broadcast_arith": (
            Fn(lambda m, a, b: (a + b) * (a - b) / (b.abs() + 1) - 2**a + a.pow(2)),
            (x3, g(5, 1, seed=2)),
        ),
        "reductions": (
            Fn(lambda m, x: torch.cat([x.sum(-1), x.mean(1).repeat(1, 1)[:, :5], x.amax(-1), x.max(-1).values])),
            (x3,),
        ),
        "shape_ops": (
            Fn(lambda m, x: x.reshape(2, 40).t().reshape(5, 16).permute(1, 0).contiguous().view(-1)[3:50:2]),
            (x3,),
        ),
        "split_chunk": (
            Fn(
                lambda m, x: (
                    torch.cat(list(reversed(x.chunk(2, -1))), -1),
                    torch.cat(list(reversed(x.split([2, 3], 1))), 1),
                )
            ),
            (x3,),
        ),
        "index_select": (Fn(lambda m, x: x[:, [0, 2, 4]] + x[:, 1:2]), (x3,)),
        "embedding": (Fn(lambda m, i: m.e(i).sum(1), e=nn.Embedding(20, 7)), (torch.tensor([[1, 5, 19], [0, 3, 3]]),)),
        "sdpa": (
            Fn(lambda m, q, k, v: F.scaled_dot_product_attention(q, k, v)),
            (g(1, 2, 5, 8), g(1, 2, 5, 8, seed=3), g(1, 2, 5, 8, seed=4)),
        ),
        "sdpa_causal": (
            Fn(lambda m, q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True)),
            (g(1, 2, 5, 8), g(1, 2, 5, 8, seed=3), g(1, 2, 5, 8, seed=4)),
        ),
        "where_compare": (
            Fn(lambda m, a, b: torch.where(a > b, a, b * 2) + (a <= 0).float()),
            (x3, g(2, 5, 8, seed=5)),
        ),
        "cumsum_clamp_pad": (Fn(lambda m, x: F.pad(x.cumsum(-1).clamp(-1, 2), (1, 2))), (x3,)),
        "math": (
            Fn(
                lambda m, x: (
                    x.abs().sqrt() + x.exp() * 0.1 + (x.abs() + 1).log() + x.rsqrt().nan_to_num(0) * 0 + x.erf()
                )
            ),
            (x3,),
        ),
        # Trace records F.pad's reflect/replicate modes as aten::pad, export as the dedicated ops.
        "pad_modes_2d": (
            Fn(
                lambda m, x: torch.cat(
                    [F.pad(x, (1, 2, 2, 1), mode="reflect"), F.pad(x, (1, 2, 2, 1), mode="replicate")], 1
                )
            ),
            (x4,),
        ),
        "pad_modes_1d": (
            Fn(lambda m, x: torch.cat([F.pad(x, (2, 3), mode="reflect"), F.pad(x, (3, 2), mode="replicate")], 1)),
            (x3,),
        ),
        "interpolate": (Fn(lambda m, x: F.interpolate(x, scale_factor=2, mode="nearest")), (x4,)),
        "gru": (Fn(lambda m, x: m.r(x)[0], r=nn.GRU(8, 6, batch_first=True)), (x3,)),
        # two layers x two directions: both cells share the layer/direction driver
        "gru_2layer_bidir": (Fn(lambda m, x: m.r(x), r=nn.GRU(8, 6, num_layers=2, bidirectional=True)), (x3,)),
        "lstm_2layer_bidir": (
            Fn(lambda m, x: m.r(x), r=nn.LSTM(8, 5, num_layers=2, bidirectional=True, batch_first=True)),
            (x3,),
        ),
        "int_ops": (Fn(lambda m, i: (i * 3 + 1) // 2 % 5), (torch.tensor([[1, 5, 19], [0, 3, 3]]),)),
    }


CASES = _cases()


@pytest.mark.parametrize("frontend", ["export", "trace"])
@pytest.mark.parametrize("name", list(CASES))
def test_op_parity(name, frontend, wtb):
    model, inputs = CASES[name]
    model.eval()
    report = wasm_torch.export(model, inputs, wtb, frontend=frontend, verify=False)
    assert report.frontend == frontend
    ref = torch_outputs(model, inputs)
    got = wasm_torch.load(wtb).run_flat(*inputs)  # flat, like torch_outputs
    assert len(got) == len(ref)
    for r, o in zip(ref, got):
        assert o.shape == tuple(r.shape)
        if r.dtype.is_floating_point:
            assert rel_err(r, o) <= 1e-4, (name, rel_err(r, o))
        else:
            assert (r.numpy() == o).all()
