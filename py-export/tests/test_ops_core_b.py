"""Core ATen ops: padding, 3-d pooling, grid sampling, fold, distances,
embedding bags and the backward ops a model can call directly.

Each case is exported with torch.export, the exported program must contain the op under
test (so the interpreter's implementation is what runs, not a decomposition), and the
native run must match PyTorch on the same inputs: 1e-4 relative to the largest magnitude
for float outputs, exact for integer outputs. Backward ops are also checked against
torch.autograd on the same inputs.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
import wasm_torch
from conftest import Lambda as Fn
from conftest import rel_err, torch_outputs
from conftest import seeded_randn as g

A = torch.ops.aten


def u(*shape, seed=0, lo=-1.0, hi=1.0):
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed)) * (hi - lo) + lo


def _check(model, inputs, op, wtb, frontend="export"):
    """Export, require `op` in the program, compare every output with PyTorch."""
    model.eval()
    report = wasm_torch.export(model, inputs, wtb, frontend=frontend, verify=False)
    assert op in report.ops, (op, sorted(report.ops))
    ref = torch_outputs(model, inputs)
    got = wasm_torch.load(wtb).run(*inputs)
    assert len(got) == len(ref)
    for r, o in zip(ref, got):
        assert o.shape == tuple(r.shape), (o.shape, tuple(r.shape))
        if r.dtype.is_floating_point:
            if r.numel():
                assert rel_err(r, o) <= 1e-4, rel_err(r, o)
        else:
            assert (r.numpy() == o).all(), (r, o)
    return got


X3 = g(2, 3, 8, seed=1)
X4 = g(2, 3, 6, 7, seed=2)
X5 = g(2, 3, 5, 6, 7, seed=3)

# ---------------------------------------------------------------- padding

PAD_CASES = {
    "reflect1d": ("reflection_pad1d", lambda x: F.pad(x, (2, 3), mode="reflect"), X3),
    "reflect1d_unbatched_neg": ("reflection_pad1d", lambda x: F.pad(x, (-1, 7), mode="reflect"), X3[0]),
    "reflect2d": ("reflection_pad2d", lambda x: F.pad(x, (2, 3, 1, 5), mode="reflect"), X4),
    "reflect3d": ("reflection_pad3d", lambda x: F.pad(x, (2, 3, 1, 2, 4, 1), mode="reflect"), X5),
    "replicate1d": ("replication_pad1d", lambda x: F.pad(x, (4, 1), mode="replicate"), X3),
    "replicate2d": ("replication_pad2d", lambda x: F.pad(x, (9, 0, -2, 3), mode="replicate"), X4),
    "replicate3d": ("replication_pad3d", lambda x: F.pad(x, (1, 2, 3, 0, 2, 6), mode="replicate"), X5),
    "replicate3d_unbatched": ("replication_pad3d", lambda x: F.pad(x, (1, 1, 1, 1, 1, 1), mode="replicate"), X5[0]),
}


@pytest.mark.parametrize("name", list(PAD_CASES))
def test_padding(name, wtb):
    op, fn, x = PAD_CASES[name]
    _check(Fn(fn), (x,), f"aten::{op}.default", wtb)


def test_reflect_padding_keeps_integers(wtb):
    x = torch.arange(2 * 3 * 4).reshape(2, 3, 4)
    _check(Fn(lambda x: A.reflection_pad1d(x, [3, 2])), (x,), "aten::reflection_pad1d.default", wtb)


# ---------------------------------------------------------------- 3-d pooling

POOL3D_CASES = {
    "avg_default": ("avg_pool3d", lambda x: F.avg_pool3d(x, 2)),
    "avg_ceil_nopad_count": ("avg_pool3d", lambda x: F.avg_pool3d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False)),
    "avg_pad_count": ("avg_pool3d", lambda x: F.avg_pool3d(x, (2, 3, 2), (1, 2, 3), (1, 1, 0))),
    "avg_divisor": ("avg_pool3d", lambda x: F.avg_pool3d(x, 3, 2, 1, ceil_mode=True, divisor_override=5)),
    "max_indices": ("max_pool3d_with_indices", lambda x: F.max_pool3d(x, 3, 2, 1, return_indices=True)),
    "max_dilation_ceil": (
        "max_pool3d_with_indices",
        lambda x: F.max_pool3d(x, 2, (1, 2, 2), 1, dilation=2, ceil_mode=True, return_indices=True),
    ),
    "max_unbatched": ("max_pool3d_with_indices", lambda x: F.max_pool3d(x[0], (2, 2, 3), return_indices=True)),
    "adaptive": ("_adaptive_avg_pool3d", lambda x: F.adaptive_avg_pool3d(x, (3, 4, 5))),
    "adaptive_grow": ("_adaptive_avg_pool3d", lambda x: F.adaptive_avg_pool3d(x, (7, 2, 9))),
}


@pytest.mark.parametrize("name", list(POOL3D_CASES))
def test_pool3d(name, wtb):
    op, fn = POOL3D_CASES[name]
    _check(Fn(fn), (X5,), f"aten::{op}.default", wtb)


# ---------------------------------------------------------------- grid_sample


@pytest.mark.parametrize("align", [False, True])
@pytest.mark.parametrize("padding", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("mode", ["bilinear", "nearest", "bicubic"])
def test_grid_sample(mode, padding, align, wtb):
    grid = u(2, 5, 4, 2, seed=7, lo=-1.3, hi=1.3)  # some points outside the image
    fn = Fn(lambda x, gr: F.grid_sample(x, gr, mode=mode, padding_mode=padding, align_corners=align))
    _check(fn, (X4, grid), "aten::grid_sampler_2d.default", wtb)


# ---------------------------------------------------------------- col2im (F.fold)

FOLD_CASES = {
    "basic": (lambda x: F.fold(x, (4, 5), 2), g(2, 12, 12, seed=4)),
    "all_params": (
        lambda x: F.fold(x, (5, 6), (2, 3), dilation=(1, 2), padding=1, stride=(2, 1)),
        g(2, 12, 12, seed=5),
    ),
    "unbatched": (lambda x: F.fold(x, (3, 3), 2, stride=1), g(8, 4, seed=6)),
}


@pytest.mark.parametrize("name", list(FOLD_CASES))
def test_fold(name, wtb):
    fn, x = FOLD_CASES[name]
    _check(Fn(fn), (x,), "aten::col2im.default", wtb)


def test_fold_inverts_unfold_counts(wtb):
    # fold(unfold(x)) multiplies each pixel by the number of windows covering it
    x = g(1, 2, 5, 6, seed=8)
    got = _check(
        Fn(lambda x: F.fold(F.unfold(x, 3, padding=1), (5, 6), 3, padding=1)), (x,), "aten::col2im.default", wtb
    )
    counts = F.fold(F.unfold(torch.ones(1, 1, 5, 6), 3, padding=1), (5, 6), 3, padding=1)
    assert np.allclose(got[0], (x * counts).numpy(), rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------- cdist / pdist


@pytest.mark.parametrize("p", [2.0, 1.0, 0.0, 0.5, 3.0, math.inf])
@pytest.mark.parametrize("compute_mode", [None, 0, 1, 2])
def test_cdist_forward(p, compute_mode, wtb):
    # torch.cdist itself picks the matrix-multiply form for p=2 with > 25 rows before
    # export, so the op is called directly to cover every compute_mode
    a, b = g(2, 30, 4, seed=9), g(1, 27, 4, seed=10)  # batch dims broadcast
    if p == 0.0:  # make some coordinates equal so the count is not always 4
        a, b = a.round(), b.round()
    _check(Fn(lambda a, b: A._cdist_forward(a, b, p, compute_mode)), (a, b), "aten::_cdist_forward.default", wtb)


@pytest.mark.parametrize("p", [2.0, 1.0, math.inf])
def test_torch_cdist(p, wtb):
    a, b = g(3, 5, 4, seed=31), g(3, 6, 4, seed=32)
    _check(
        Fn(lambda a, b: torch.cdist(a, b, p=p, compute_mode="donot_use_mm_for_euclid_dist")),
        (a, b),
        "aten::_cdist_forward.default",
        wtb,
    )


@pytest.mark.parametrize("p", [2.0, 1.0, 0.0, 3.0, math.inf])
def test_pdist(p, wtb):
    x = g(7, 5, seed=11)
    if p == 0.0:
        x = x.round()
    _check(Fn(lambda x: F.pdist(x, p)), (x,), "aten::_pdist_forward.default", wtb)


# ---------------------------------------------------------------- embedding bag

W = g(12, 5, seed=12)
IDX = torch.tensor([1, 2, 4, 5, 4, 3, 2, 9, 11, 0])
OFFS = torch.tensor([0, 2, 2, 7])  # includes an empty bag


@pytest.mark.parametrize("mode", [0, 1, 2])
@pytest.mark.parametrize("padding_idx", [-1, 4])
@pytest.mark.parametrize("include_last", [False, True])
def test_embedding_bag_all_outputs(mode, padding_idx, include_last, wtb):
    offs = torch.cat([OFFS, torch.tensor([len(IDX)])]) if include_last else OFFS
    fn = Fn(lambda w, i, o: A._embedding_bag(w, i, o, False, mode, False, None, include_last, padding_idx))
    _check(fn, (W, IDX, offs), "aten::_embedding_bag.default", wtb)


def test_embedding_bag_per_sample_weights(wtb):
    psw = u(len(IDX), seed=13, lo=0.0, hi=2.0)
    fn = Fn(lambda w, i, o, s: A._embedding_bag(w, i, o, False, 0, False, s, False, -1))
    _check(fn, (W, IDX, OFFS, psw), "aten::_embedding_bag.default", wtb)


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_functional_embedding_bag(mode, wtb):
    # F.embedding_bag exports as _embedding_bag_forward_only; 2-d input = fixed-size bags
    emb = nn.EmbeddingBag(12, 5, mode=mode)
    with torch.no_grad():
        emb.weight.copy_(W)
    idx2 = IDX[:9].reshape(3, 3)
    _check(Fn(lambda i: emb(i)), (idx2,), "aten::_embedding_bag_forward_only.default", wtb)
    psw = u(len(IDX), seed=14, lo=0.0, hi=2.0)
    fn = Fn(lambda i, o, s: F.embedding_bag(i, W, o, mode="sum", per_sample_weights=s, include_last_offset=True))
    _check(fn, (IDX, torch.tensor([0, 3, 3, 10]), psw), "aten::_embedding_bag_forward_only.default", wtb)


# ---------------------------------------------------------------- backward ops


def _grads(f, *xs):
    """torch.autograd gradients of sum(f(xs) * weight) for a fixed random weight."""
    xs = [x.detach().clone().requires_grad_(True) for x in xs]
    y = f(*xs)
    gy = g(*y.shape, seed=99)
    return gy, torch.autograd.grad(y, xs, gy, allow_unused=True)


def _close(a, b):
    return rel_err(torch.as_tensor(a), np.asarray(b)) <= 1e-4


@pytest.mark.parametrize(
    "args",
    [
        ([2, 2], [2, 2], [0, 0], False, True, None),
        ([3, 3], [2, 2], [1, 1], True, False, None),
        ([3, 2], [2, 1], [1, 1], True, True, None),
        ([3, 3], [2, 2], [1, 0], False, True, 4),
    ],
)
def test_avg_pool2d_backward(args, wtb):
    k, s, p, ceil, cip, div = args
    gy, (gx,) = _grads(lambda x: F.avg_pool2d(x, k, s, p, ceil, cip, div), X4)
    fn = Fn(lambda gy, x: A.avg_pool2d_backward(gy, x, k, s, p, ceil, cip, div))
    got = _check(fn, (gy, X4), "aten::avg_pool2d_backward.default", wtb)
    assert _close(gx, got[0])


@pytest.mark.parametrize("out", [(1, 1), (3, 3), (4, 5), (8, 9)])
def test_adaptive_avg_pool2d_backward(out, wtb):
    gy, (gx,) = _grads(lambda x: F.adaptive_avg_pool2d(x, out), X4)
    fn = Fn(lambda gy, x: A._adaptive_avg_pool2d_backward(gy, x))
    got = _check(fn, (gy, X4), "aten::_adaptive_avg_pool2d_backward.default", wtb)
    assert _close(gx, got[0])


@pytest.mark.parametrize(
    "args",
    [
        ([2, 2], [2, 2], [0, 0], [1, 1], False),
        ([3, 3], [1, 1], [1, 1], [1, 1], False),  # overlapping windows: gradients add up
        ([3, 2], [2, 1], [1, 0], [1, 2], True),
    ],
)
def test_max_pool2d_with_indices_backward(args, wtb):
    k, s, p, d, ceil = args
    gy, (gx,) = _grads(lambda x: F.max_pool2d(x, k, s, p, d, ceil), X4)

    def f(gy, x):
        _, idx = A.max_pool2d_with_indices(x, k, s, p, d, ceil)
        return A.max_pool2d_with_indices_backward(gy, x, k, s, p, d, ceil, idx)

    got = _check(Fn(f), (gy, X4), "aten::max_pool2d_with_indices_backward.default", wtb)
    assert _close(gx, got[0])


@pytest.mark.parametrize("padding_idx", [-1, 3])
@pytest.mark.parametrize("scale", [False, True])
def test_embedding_dense_backward(padding_idx, scale, wtb):
    idx = torch.tensor([[1, 3, 3, 7], [0, 3, 9, 1]])
    gy = g(2, 4, 6, seed=15)
    fn = Fn(lambda gy, i: A.embedding_dense_backward(gy, i, 10, padding_idx, scale))
    got = _check(fn, (gy, idx), "aten::embedding_dense_backward.default", wtb)
    w = torch.zeros(10, 6, requires_grad=True)
    y = F.embedding(idx, w, padding_idx=None if padding_idx < 0 else padding_idx, scale_grad_by_freq=scale)
    (gw,) = torch.autograd.grad(y, [w], gy)
    assert _close(gw, got[0])


@pytest.mark.parametrize("mask", [[True, True, True], [True, False, False], [False, True, True]])
@pytest.mark.parametrize("affine", [True, False])
def test_native_layer_norm_backward(mask, affine, wtb):
    x = g(2, 3, 4, 5, seed=16)
    w, b = (g(4, 5, seed=17), g(4, 5, seed=18)) if affine else (None, None)
    if not affine and mask[1]:
        mask = [True, False, False]  # PyTorch cannot return weight gradients without a weight

    def f(gy, x):
        _, mean, rstd = A.native_layer_norm(x, [4, 5], w, b, 1e-5)
        outs = A.native_layer_norm_backward(gy, x, [4, 5], mean, rstd, w, b, mask)
        return tuple(o for o, m in zip(outs, mask) if m)

    gy = g(2, 3, 4, 5, seed=19)
    got = _check(Fn(f), (gy, x), "aten::native_layer_norm_backward.default", wtb)
    params = [x] + ([w, b] if affine else [])
    xs = [t.detach().clone().requires_grad_(True) for t in params]
    y = F.layer_norm(xs[0], [4, 5], *(xs[1:] if affine else [None, None]), eps=1e-5)
    grads = torch.autograd.grad(y, xs, gy)
    wanted = [gr for gr, m in zip(list(grads) + [None] * (3 - len(grads)), mask) if m]
    for ref, o in zip(wanted, got):
        assert _close(ref, o)


@pytest.mark.parametrize("mask", [[True, True, True], [True, False, False], [False, True, True]])
def test_native_group_norm_backward(mask, wtb):
    x = g(2, 6, 4, 5, seed=20)
    w, b = g(6, seed=21), g(6, seed=22)

    def f(gy, x):
        _, mean, rstd = A.native_group_norm(x, w, b, 2, 6, 20, 3, 1e-5)
        outs = A.native_group_norm_backward(gy, x, mean, rstd, w, 2, 6, 20, 3, mask)
        return tuple(o for o, m in zip(outs, mask) if m)

    gy = g(2, 6, 4, 5, seed=23)
    got = _check(Fn(f), (gy, x), "aten::native_group_norm_backward.default", wtb)
    xs = [t.detach().clone().requires_grad_(True) for t in (x, w, b)]
    grads = torch.autograd.grad(F.group_norm(xs[0], 3, xs[1], xs[2], 1e-5), xs, gy)
    for ref, o in zip([gr for gr, m in zip(grads, mask) if m], got):
        assert _close(ref, o)


CONV_CASES = {
    # name: (x shape, w shape, stride, padding, dilation, transposed, output_padding, groups)
    "conv2d": ((2, 4, 7, 8), (6, 4, 3, 3), [1, 1], [0, 0], [1, 1], False, [0, 0], 1),
    "conv2d_stride_pad_dil_groups": ((2, 4, 9, 8), (6, 2, 3, 2), [2, 1], [1, 2], [2, 1], False, [0, 0], 2),
    "conv1d": ((2, 3, 11), (4, 3, 3), [2], [1], [1], False, [0], 1),
    "conv3d_depthwise": ((1, 3, 5, 6, 5), (3, 1, 2, 3, 2), [1, 2, 1], [1, 0, 1], [1, 1, 2], False, [0, 0, 0], 3),
    "conv_transpose2d": ((2, 4, 5, 4), (4, 3, 3, 3), [2, 2], [1, 0], [1, 1], True, [1, 0], 1),
    "conv_transpose1d_groups": ((2, 4, 6), (4, 1, 3), [3], [1], [2], True, [2], 2),
}


@pytest.mark.parametrize("mask", [[True, True, True], [True, False, False], [False, True, False]])
@pytest.mark.parametrize("name", list(CONV_CASES))
def test_convolution_backward(name, mask, wtb):
    xs_, ws_, st, pd, dl, tr, op, gr = CONV_CASES[name]
    x, w = g(*xs_, seed=24), g(*ws_, seed=25)
    bias = g(ws_[1] * gr if tr else ws_[0], seed=26)

    def fwd(x, w, b):
        return A.convolution(x, w, b, st, pd, dl, tr, op, gr)

    gy, grads = _grads(fwd, x, w, bias)

    def f(gy, x, w):
        outs = A.convolution_backward(gy, x, w, [bias.numel()], st, pd, dl, tr, op, gr, mask)
        return tuple(o for o, m in zip(outs, mask) if m)

    got = _check(Fn(f), (gy, x, w), "aten::convolution_backward.default", wtb)
    for ref, o in zip([r for r, m in zip(grads, mask) if m], got):
        assert _close(ref, o)


# ---------------------------------------------------------------- trace front end
# TorchScript records the public composite ops (grid_sampler, cdist, pdist); the
# interpreter registers them as aliases with the same arguments.


@pytest.mark.parametrize("name", ["grid", "avg3d", "max3d", "cdist", "pdist"])
def test_trace_front_end(name, wtb):
    cases = {
        "grid": (
            Fn(lambda x, gr: F.grid_sample(x, gr, align_corners=False)),
            (X4, u(2, 3, 3, 2, seed=27)),
            "aten::grid_sampler.default",
        ),
        "avg3d": (Fn(lambda x: F.avg_pool3d(x, 3, 2, 1, ceil_mode=True)), (X5,), "aten::avg_pool3d.default"),
        "max3d": (
            Fn(lambda x: F.max_pool3d(x, 2, return_indices=True)),
            (X5,),
            "aten::max_pool3d_with_indices.default",
        ),
        "cdist": (
            Fn(lambda a, b: torch.cdist(a, b, p=1.0)),
            (g(4, 3, seed=28), g(5, 3, seed=29)),
            "aten::cdist.default",
        ),
        "pdist": (Fn(lambda x: F.pdist(x)), (g(5, 3, seed=30),), "aten::pdist.default"),
    }
    model, inputs, op = cases[name]
    _check(model, inputs, op, wtb, frontend="trace")


# ---------------------------------------------------------------- dtypes
# (bad arguments, e.g. reflect padding >= the input size, are covered by the Rust unit tests:
# torch.export refuses them at export time, so a .wtb never carries them)

F64_CASES = {
    "reflect2d": ("reflection_pad2d", lambda x: F.pad(x, (2, 1, 1, 3), mode="reflect")),
    "avg3d": ("avg_pool3d", lambda x: F.avg_pool3d(x.unsqueeze(2), (1, 2, 2))),
    "max3d": ("max_pool3d_with_indices", lambda x: F.max_pool3d(x.unsqueeze(2), (1, 3, 3), 2, return_indices=True)),
    "grid": ("grid_sampler_2d", lambda x: F.grid_sample(x, x[:, :2].permute(0, 2, 3, 1).tanh(), align_corners=True)),
    "cdist": ("_cdist_forward", lambda x: A._cdist_forward(x[0], x[1], 3.0, None)),
}


@pytest.mark.parametrize("name", list(F64_CASES))
def test_float64_stays_float64(name, wtb):
    op, fn = F64_CASES[name]
    got = _check(Fn(fn), (X4.double(),), f"aten::{op}.default", wtb)
    assert got[0].dtype == np.float64


def test_float64_comparisons_are_made_in_double(wtb):
    # Each pair differs only below f32 precision (1 + 1e-12 vs 1; 1e-300 vs 0), so a
    # comparison made in f32 gets every one of these wrong.
    x = torch.tensor([1 + 1e-12, 0.0, 2.0], dtype=torch.float64)
    y = torch.tensor([1.0, 1e-300, 2.0], dtype=torch.float64)
    model = Fn(lambda a, b: (a == b, a < b, a > b, torch.logical_xor(a, b), a != 1.0))
    got = _check(model, (x, y), "aten::eq.Tensor", wtb)
    assert [o.tolist() for o in got] == [
        [False, False, True],
        [False, True, False],
        [True, False, False],
        [False, True, False],
        [True, True, True],
    ]


@pytest.mark.parametrize(
    "op,fn,frontend",
    [
        ("aten::where.self", lambda a, b: torch.where(a > 0, a, b), "export"),
        # torch.export decomposes masked_fill into where; TorchScript keeps it
        ("aten::masked_fill.Scalar", lambda a, b: a.masked_fill(b > 0, 0.25), "trace"),
    ],
)
def test_float64_selection_keeps_every_bit(op, fn, frontend, wtb):
    # Values that f32 cannot hold: an f32 round trip changes each by ~1e-8 relative.
    a = torch.tensor([1 + 1e-12, -1 / 3, 2**0.5, -(1e-300)], dtype=torch.float64)
    b = torch.tensor([-1.0, 1 / 7, -1e300, 1 + 2e-12], dtype=torch.float64)
    model = Fn(fn)
    got = _check(model, (a, b), op, wtb, frontend=frontend)
    assert got[0].dtype == np.float64
    np.testing.assert_array_equal(got[0], model(a, b).numpy())


@pytest.mark.parametrize(
    "fn",
    [
        lambda x, i: torch.gather(x, 1, i),
        lambda x, i: torch.index_select(x, 0, i[:, 0]),
        lambda x, i: F.embedding(i, x),
    ],
)
def test_negative_indices_error_like_pytorch(fn, wtb):
    # PyTorch refuses a negative index in these ops (only t[i] wraps it); returning a row
    # would hide the caller's bug.
    x = g(4, 3, seed=4)
    good = torch.tensor([[0, 1], [2, 2]])
    model = Fn(fn)
    wasm_torch.export(model, (x, good), wtb, verify=False)
    bad = torch.tensor([[0, -1], [-3, 2]])
    with pytest.raises((RuntimeError, IndexError)):
        model(x, bad)
    with pytest.raises(wasm_torch.NativeError, match=r"runtime: .*index -?\d+ out of"):
        wasm_torch.load(wtb).run(x, bad)
