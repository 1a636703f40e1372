"""Order statistics (median, nanmedian, mode, kthvalue, var_mean, std_mean), the float
representation ops (round with decimals, nextafter, frexp, angle), search and histograms
(searchsorted, bucketize, histc, histogram), the scatter-like ops (diagonal_scatter,
as_strided_scatter, put, index_reduce), addbmm, adaptive_max_pool1d/2d, segment_reduce and
the losses that allocate with empty_permuted, against PyTorch through torch.export.

Float outputs match within rtol 1e-5 / atol 1e-6 (NaN where PyTorch has NaN), integer outputs
exactly. Where PyTorch leaves the index of a tie unspecified (median, mode, kthvalue), the
test checks that the index points at the returned value instead of comparing it.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import wasm_torch
from conftest import Lambda as Fn
from conftest import seeded_randn as g

NAN = float("nan")


def _run(fn, inputs, tmp_path):
    path = str(tmp_path / "m.wtb")
    wasm_torch.export(Fn(fn), inputs, path, frontend="export", verify=False)
    with torch.no_grad():
        ref = fn(*inputs)
    refs = list(ref) if isinstance(ref, (tuple, list)) else [ref]
    return refs, wasm_torch.load(path).run(*inputs)


def _same(r, o):
    r = r.numpy()
    assert o.shape == r.shape, (o.shape, r.shape)
    if np.issubdtype(r.dtype, np.floating):
        assert o.dtype == r.dtype
        np.testing.assert_allclose(o, r, rtol=1e-5, atol=1e-6, equal_nan=True)
    else:
        assert o.dtype == r.dtype and (o == r).all(), (o, r)


def check(fn, inputs, tmp_path):
    refs, got = _run(fn, inputs, tmp_path)
    assert len(got) == len(refs)
    for r, o in zip(refs, got):
        _same(r, o)


TIES = torch.tensor([[3.0, 1.0, 3.0, 2.0, 1.0], [NAN, 0.0, 4.0, 4.0, -1.0], [2.0, 2.0, 2.0, 5.0, 5.0]])


def check_selection(fn, x, dim, tmp_path):
    """Values like PyTorch; each index holds the returned value (NaN for NaN)."""
    refs, got = _run(fn, (x,), tmp_path)
    _same(refs[0], got[0])
    picked = np.take_along_axis(x.numpy(), np.expand_dims(got[1], dim), dim).squeeze(dim)
    np.testing.assert_array_equal(picked, got[0])


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_median_family(dim, tmp_path):
    check_selection(lambda t: torch.median(t, dim), TIES, dim, tmp_path)
    check_selection(lambda t: torch.nanmedian(t, dim), TIES, dim, tmp_path)
    check_selection(lambda t: torch.kthvalue(t, 2, dim), TIES, dim, tmp_path)
    # mode without NaN: PyTorch sorts with `<`, under which NaN has no defined place.
    check_selection(lambda t: torch.mode(t, dim), TIES[:, 1:] if dim else TIES[[0, 2]], dim, tmp_path)


def test_whole_tensor_and_keepdim(tmp_path):
    x = g(4, 5, 6)
    check(lambda t: (torch.median(t), torch.nanmedian(t), torch.median(t, 1, keepdim=True)[0]), (x,), tmp_path)
    check(lambda t: (torch.nanmedian(t), torch.median(t)), (TIES,), tmp_path)
    ints = torch.tensor([[5, 1, 5, 2], [7, 7, 3, 3]])
    check(lambda t: (torch.median(t, 1)[0], torch.mode(t, 1)[0], torch.kthvalue(t, 3, 1)[0]), (ints,), tmp_path)


def test_var_std_mean(tmp_path):
    x = g(3, 4, 5, seed=1)
    check(
        lambda t: (
            *torch.var_mean(t),
            *torch.std_mean(t, dim=1),
            *torch.var_mean(t, dim=(0, 2), correction=0, keepdim=True),
            *torch.std_mean(t, unbiased=False),
        ),
        (x,),
        tmp_path,
    )


def test_float_representation(tmp_path):
    x = torch.tensor([1.2345, -2.5, 0.5, 1.5, 1250.0, -0.0, 0.0, 3.14159e-10, 1e30, NAN, float("inf")])
    for d in (0, 2, 3, -1, -3):
        check(lambda t, d=d: torch.round(t, decimals=d), (x,), tmp_path)
    check(lambda t: torch.round(t.double(), decimals=4), (x,), tmp_path)
    y = torch.tensor([2.0, -3.0, 0.5, 1.5, 0.0, 1.0, 0.0, 0.0, float("inf"), 1.0, 0.0])
    check(lambda a, b: torch.nextafter(a, b), (x, y), tmp_path)
    check(lambda a, b: torch.nextafter(a.double(), b.double()), (x, y), tmp_path)
    tiny = torch.tensor([1e-40, -3e-45, 1e-310], dtype=torch.float64)
    check(lambda t: torch.frexp(t), (x,), tmp_path)
    check(lambda t: torch.frexp(t), (torch.cat([x.double(), tiny]),), tmp_path)
    check(lambda t: torch.angle(t), (x,), tmp_path)


def test_search(tmp_path):
    seq = torch.tensor([1.0, 2.0, 2.0, 5.0, 8.0])
    vals = torch.tensor([[0.0, 2.0, 3.0], [8.0, 9.0, NAN]])
    check(lambda s, v: torch.searchsorted(s, v), (seq, vals), tmp_path)
    check(lambda s, v: torch.searchsorted(s, v, right=True, out_int32=True), (seq, vals), tmp_path)
    check(lambda s, v: torch.searchsorted(s, v, side="right"), (seq, vals), tmp_path)
    rows = torch.tensor([[1.0, 3.0, 5.0], [0.0, 0.0, 10.0]])
    check(lambda s, v: torch.searchsorted(s, v), (rows, vals), tmp_path)
    perm = torch.tensor([4, 0, 3, 1, 2])
    check(lambda s, v, p: torch.searchsorted(s, v, sorter=p), (seq[perm.argsort()], vals, perm.argsort()), tmp_path)
    check(lambda v, b: (torch.bucketize(v, b), torch.bucketize(v, b, right=True)), (vals, seq), tmp_path)


def test_histograms(tmp_path):
    x = torch.tensor([1.0, 2.0, 2.0, 5.0, 7.0, -1.0, 0.5, 3.25, NAN])
    check(lambda t: torch.histc(t, bins=4, min=0, max=5), (x,), tmp_path)
    check(lambda t: torch.histc(t[:-1], bins=7), (x,), tmp_path)
    check(lambda t: torch.histogram(t[:-1], bins=5), (x,), tmp_path)
    w = torch.linspace(0.5, 2.0, 8)
    check(lambda t, w: torch.histogram(t[:-1], bins=3, range=(0.0, 6.0), weight=w, density=True), (x, w), tmp_path)


def test_scatter_like(tmp_path):
    x = g(4, 5, seed=2)
    check(lambda a, s: torch.diagonal_scatter(a, s, 1), (x, g(4, seed=3)), tmp_path)
    check(lambda a, s: torch.diagonal_scatter(a, s, -2), (x, g(2, seed=3)), tmp_path)
    x3 = g(3, 4, 2, seed=4)
    check(lambda a, s: torch.diagonal_scatter(a, s, 0, 0, 2), (x3, g(4, 2, seed=5)), tmp_path)
    check(lambda a, s: torch.as_strided_scatter(a, s, (2, 3), (5, 2), 1), (x, g(2, 3, seed=6)), tmp_path)
    idx = torch.tensor([0, -1, 7, 7])
    src = g(4, seed=7)
    check(lambda a, i, s: torch.put(a, i, s, accumulate=True), (x, idx, src), tmp_path)
    check(lambda a, i, s: torch.put(a, i[:3], s[:3]), (x, idx, src), tmp_path)
    index = torch.tensor([0, 2, 0, 3, 2, 2])
    source = g(6, 5, seed=8)
    for how in ("prod", "mean", "amax", "amin"):
        for inc in (True, False):
            check(
                lambda a, i, s, how=how, inc=inc: a.index_reduce(0, i, s, how, include_self=inc),
                (x, index, source),
                tmp_path,
            )
    check(
        lambda a, b1, b2: torch.addbmm(a, b1, b2, beta=0.5, alpha=2.0),
        (g(3, 4, seed=9), g(5, 3, 6, seed=10), g(5, 6, 4, seed=11)),
        tmp_path,
    )


def test_pool_segment_losses(tmp_path):
    x = g(2, 3, 7, 9, seed=12)
    x[0, 0, 2, 3] = NAN
    check(lambda t: F.adaptive_max_pool2d(t, (3, 4), return_indices=True), (x,), tmp_path)
    check(lambda t: F.adaptive_max_pool1d(t[0], 4, return_indices=True), (x,), tmp_path)
    d = torch.tensor([1.0, 5.0, 2.0, NAN, 3.0, 4.0, -2.0])
    lengths = torch.tensor([2, 0, 3, 2])
    for how in ("max", "min", "sum", "mean", "prod"):
        check(lambda t, ln, how=how: torch.segment_reduce(t, how, lengths=ln), (d, lengths), tmp_path)
        check(lambda t, ln, how=how: torch.segment_reduce(t, how, lengths=ln, initial=2.0), (d, lengths), tmp_path)
    offsets = torch.tensor([0, 2, 2, 5, 7])
    check(lambda t, o: torch.segment_reduce(t, "sum", offsets=o), (d, offsets), tmp_path)
    d2 = g(7, 3, seed=13)
    check(lambda t, ln: torch.segment_reduce(t, "mean", lengths=ln), (d2, lengths), tmp_path)
    a, b = g(5, 6, seed=14), g(5, 6, seed=15)
    y = torch.tensor([1.0, -1.0, 1.0, -1.0, -1.0])
    check(lambda a, b, y: F.cosine_embedding_loss(a, b, y, margin=0.2), (a, b, y), tmp_path)
    check(lambda a, y: F.hinge_embedding_loss(a, y.unsqueeze(1).expand(5, 6)), (a, y), tmp_path)


def test_bilinear(tmp_path):
    check(
        lambda a, b, w, bias: F.bilinear(a, b, w, bias),
        (g(4, 3, seed=16), g(4, 5, seed=17), g(6, 3, 5, seed=18), g(6, seed=19)),
        tmp_path,
    )
    check(lambda a, b, w: F.bilinear(a, b, w), (g(3, seed=20), g(5, seed=21), g(2, 3, 5, seed=22)), tmp_path)


@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
@pytest.mark.parametrize("padding", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("align", [False, True])
def test_grid_sample_3d(mode, padding, align, tmp_path):
    x = g(2, 3, 4, 5, 6, seed=23)
    grid = g(2, 3, 4, 2, 3, seed=24) * 0.8
    check(lambda a, gr: F.grid_sample(a, gr, mode=mode, padding_mode=padding, align_corners=align), (x, grid), tmp_path)
