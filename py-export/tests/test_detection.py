"""Detectors and their ops: torchvision::nms / roi_align / roi_pool against torchvision's own
implementations (including no boxes), nested inputs and outputs (``List[Tensor]`` in,
``List[Dict[str, Tensor]]`` out) through the ``wasm_torch.io.json`` asset, and torchvision's
SSDlite and Faster R-CNN (mobilenet 320) exported with the trace front end and checked against
PyTorch: the same boxes, labels and scores.

Random-weight detectors score every class almost alike (softmax of near-zero logits), so the
comparison re-initialises the weights with a He-style scale that spreads the scores; exact
score ties still occur (the same score for two detections) and PyTorch's ``topk`` orders ties
arbitrarily, so detections are matched one to one (same label, score and box).
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch

torchvision = pytest.importorskip("torchvision")

import detectors as D  # noqa: E402
import wasm_torch  # noqa: E402
from wasm_torch import InputError, StructureError  # noqa: E402

warnings.filterwarnings("ignore", category=UserWarning)


class _Op(torch.nn.Module):
    """One torchvision op as a module (the rest of the graph is plain tensors)."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, *a):
        return self.fn(*a)


def _boxes(n: int, gen: torch.Generator, size: float = 32.0) -> torch.Tensor:
    xy = torch.rand(n, 2, generator=gen) * size
    wh = torch.rand(n, 2, generator=gen) * size / 2 + 0.5
    return torch.cat([xy, xy + wh], 1)


def _run_op(tmp_path, fn, args, name):
    p = tmp_path / f"{name}.wtb"
    wasm_torch.export(_Op(fn), args, p, frontend="trace", verify=False)
    return wasm_torch.load(p).run(*args)


@pytest.mark.parametrize("n", [0, 1, 40, 3000])
def test_nms_matches_torchvision(tmp_path, n):
    gen = torch.Generator().manual_seed(n)
    boxes = _boxes(n, gen)
    scores = torch.rand(n, generator=gen)
    if n > 4:
        scores[3] = scores[2]  # a tie: the lower index comes first in both
    fn = lambda b, s: torchvision.ops.nms(b, s, 0.3)  # noqa: E731
    (got,) = _run_op(tmp_path, fn, (boxes, scores), "nms")
    want = fn(boxes, scores).numpy()
    assert got.dtype == np.int64 and got.shape == want.shape
    np.testing.assert_array_equal(got, want)


def test_nms_with_nan_scores_matches_torchvision(tmp_path):
    """NaN scores sort first (as torch.sort puts NaN above every value) and suppress like any
    other box: the same kept indices as torchvision, no error."""
    gen = torch.Generator().manual_seed(0)
    boxes, scores = _boxes(20, gen, 10.0), torch.rand(20, generator=gen)
    scores[[3, 7]] = float("nan")
    fn = lambda b, s: torchvision.ops.nms(b, s, 0.3)  # noqa: E731
    (got,) = _run_op(tmp_path, fn, (boxes, scores), "nms_nan")
    np.testing.assert_array_equal(got, fn(boxes, scores).numpy())


def test_batched_nms_matches_torchvision(tmp_path):
    gen = torch.Generator().manual_seed(7)
    boxes, scores = _boxes(60, gen), torch.rand(60, generator=gen)
    idxs = torch.randint(0, 4, (60,), generator=gen)
    fn = lambda b, s, i: torchvision.ops.batched_nms(b, s, i, 0.4)  # noqa: E731
    (got,) = _run_op(tmp_path, fn, (boxes, scores, idxs), "bnms")
    np.testing.assert_array_equal(got, fn(boxes, scores, idxs).numpy())


@pytest.mark.parametrize("k", [0, 7])
@pytest.mark.parametrize("aligned,sampling", [(False, 2), (True, -1), (False, 0)])
def test_roi_align_matches_torchvision(tmp_path, k, aligned, sampling):
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(2, 3, 16, 20, generator=gen)
    rois = torch.cat([torch.randint(0, 2, (k, 1), generator=gen).float(), _boxes(k, gen, 40.0) - 4.0], 1)
    fn = lambda a, r: torchvision.ops.roi_align(a, r, (5, 4), 0.5, sampling, aligned)  # noqa: E731
    (got,) = _run_op(tmp_path, fn, (x, rois), "ra")
    want = fn(x, rois).numpy()
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("k", [0, 6])
def test_roi_pool_matches_torchvision(tmp_path, k):
    gen = torch.Generator().manual_seed(4)
    x = torch.randn(1, 2, 12, 12, generator=gen)
    rois = torch.cat([torch.zeros(k, 1), _boxes(k, gen, 30.0) - 3.0], 1)
    fn = lambda a, r: torchvision.ops.roi_pool(a, r, (3, 3), 0.5)  # noqa: E731
    (got,) = _run_op(tmp_path, fn, (x, rois), "rp")
    np.testing.assert_array_equal(got, fn(x, rois).numpy())


@pytest.mark.parametrize("k", [0, 5])
@pytest.mark.parametrize("sampling", [2, -1])
def test_ps_roi_align_matches_torchvision(tmp_path, k, sampling):
    gen = torch.Generator().manual_seed(5)
    x = torch.randn(2, 12, 10, 11, generator=gen)  # 3 output channels of 2x2 bins
    rois = torch.cat([torch.randint(0, 2, (k, 1), generator=gen).float(), _boxes(k, gen, 24.0) - 2.0], 1)
    fn = lambda a, r: torchvision.ops.ps_roi_align(a, r, (2, 2), 0.5, sampling)  # noqa: E731
    (got,) = _run_op(tmp_path, fn, (x, rois), "psra")
    want = fn(x, rois).numpy()
    assert got.shape == want.shape == (k, 3, 2, 2)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("k", [0, 6])
def test_ps_roi_pool_matches_torchvision(tmp_path, k):
    gen = torch.Generator().manual_seed(6)
    x = torch.randn(1, 18, 12, 12, generator=gen)  # 2 output channels of 3x3 bins
    rois = torch.cat([torch.zeros(k, 1), _boxes(k, gen, 30.0) - 3.0], 1)
    fn = lambda a, r: torchvision.ops.ps_roi_pool(a, r, (3, 3), 0.5)  # noqa: E731
    (got,) = _run_op(tmp_path, fn, (x, rois), "psrp")
    want = fn(x, rois).numpy()
    assert got.shape == want.shape == (k, 2, 3, 3)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(
    "groups,ogroups,stride,padding,dilation,masked",
    [(1, 1, 1, 1, 1, False), (2, 2, 2, 0, 1, True), (1, 2, 1, 2, 2, True)],
)
def test_deform_conv2d_matches_torchvision(tmp_path, groups, ogroups, stride, padding, dilation, masked):
    gen = torch.Generator().manual_seed(8)
    x = torch.randn(2, 4, 9, 8, generator=gen)
    w = torch.randn(6, 4 // groups, 3, 3, generator=gen)
    bias = torch.randn(6, generator=gen)
    oh = (9 + 2 * padding - dilation * 2 - 1) // stride + 1
    ow = (8 + 2 * padding - dilation * 2 - 1) // stride + 1
    # offsets of a few pixels, so samples fall between pixels and off the image
    off = torch.randn(2, 2 * ogroups * 9, oh, ow, generator=gen) * 2.0
    mask = torch.rand(2, ogroups * 9, oh, ow, generator=gen)

    def fn(a, o, m):
        return torchvision.ops.deform_conv2d(
            a, o, w, bias, stride=stride, padding=padding, dilation=dilation, mask=m if masked else None
        )

    (got,) = _run_op(tmp_path, fn, (x, off, mask), "dc")
    want = fn(x, off, mask).numpy()
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_deform_conv2d_of_an_empty_batch(tmp_path):
    w = torch.randn(3, 2, 3, 3)
    fn = lambda a, o: torchvision.ops.deform_conv2d(a, o, w, padding=1)  # noqa: E731
    x, off = torch.randn(0, 2, 5, 5), torch.zeros(0, 18, 5, 5)
    (got,) = _run_op(tmp_path, fn, (x, off), "dc0")
    assert got.shape == (0, 3, 5, 5)


def test_torchvision_ops_refuse_bad_arguments(tmp_path):
    """Bad arguments are typed errors: a roi batch index outside the batch (caught by the op),
    offsets of the wrong size (caught by the file's signature)."""
    x, rois = torch.randn(1, 8, 6, 6), torch.tensor([[0.0, 0.0, 0.0, 4.0, 4.0]])
    fn = lambda a, r: torchvision.ops.ps_roi_align(a, r, (2, 2), 1.0, 2)  # noqa: E731
    p = tmp_path / "psra.wtb"
    wasm_torch.export(_Op(fn), (x, rois), p, frontend="trace")
    s = wasm_torch.load(p)
    with pytest.raises(wasm_torch.NativeError, match="batch"):
        s.run(x, torch.tensor([[3.0, 0.0, 0.0, 4.0, 4.0]]))
    w = torch.randn(2, 2, 3, 3)
    fn2 = lambda a, o: torchvision.ops.deform_conv2d(a, o, w, padding=1)  # noqa: E731
    p2 = tmp_path / "dc.wtb"
    wasm_torch.export(_Op(fn2), (torch.randn(1, 2, 5, 5), torch.zeros(1, 18, 5, 5)), p2, frontend="trace")
    with pytest.raises((InputError, wasm_torch.NativeError)):
        wasm_torch.load(p2).run(torch.randn(1, 2, 5, 5), torch.zeros(1, 16, 5, 5))


def _topk_of_positives(x):
    k = (x > 0).sum().item()  # an unbacked size under torch.export
    torch._check(k >= 0)
    torch._check(k <= x.shape[0])
    return torch.topk(x, k).values


_DATA_DEPENDENT = {
    "nonzero": lambda x: torch.nonzero(x > 0),
    "masked_select": lambda x: torch.masked_select(x, x > 0),
    "bool_index": lambda x: x[x > 0] * 2,
    "where_cond": lambda x: torch.where(x > 0)[0],
    "unique": lambda x: torch.unique((x * 3).round(), return_inverse=True, return_counts=True),
    "unique_consecutive": lambda x: torch.unique_consecutive((x * 2).round(), return_counts=True),
    "topk_computed_k": _topk_of_positives,
    "nonzero_static": lambda x: torch.nonzero_static(x > 0, size=5),
    "nms": lambda x: torchvision.ops.nms(torch.stack([x, x, x + 2, x + 2], 1), x.abs(), 0.5),
}


@pytest.mark.parametrize("name", sorted(_DATA_DEPENDENT))
def test_data_dependent_sizes_under_torch_export(tmp_path, name):
    """Output sizes known only at run time (unbacked ``u0`` in torch.export): the file gets
    them right for inputs other than the example, including none selected."""
    fn = _DATA_DEPENDENT[name]
    p = tmp_path / f"{name}.wtb"
    wasm_torch.export(_Op(fn), (torch.randn(12, generator=torch.Generator().manual_seed(0)),), p, frontend="export")
    s = wasm_torch.load(p)
    cases = [torch.randn(12, generator=torch.Generator().manual_seed(k)) for k in (1, 2)] + [-torch.rand(12) - 1]
    for x in cases:
        want = fn(x)
        want = list(want) if isinstance(want, tuple) else [want]
        got = s.run(x)
        assert len(got) == len(want)
        for g, w in zip(got, want):
            np.testing.assert_array_equal(g, w.numpy())


class _Nested(torch.nn.Module):
    """List input, list-of-dicts output, an optional argument left at None."""

    def forward(self, images, targets=None):
        assert targets is None
        return [{"sum": im.sum(0), "max": im.amax((1, 2))} for im in images]


def test_nested_io_round_trip(tmp_path):
    p = tmp_path / "nested.wtb"
    xs = [torch.rand(3, 4, 5), torch.rand(3, 4, 5)]
    wasm_torch.export(_Nested(), (xs,), p, frontend="trace")
    s = wasm_torch.load(p)
    assert [i.name for i in s.inputs] == ["images.0", "images.1"]
    assert [o.name for o in s.outputs] == ["0.sum", "0.max", "1.sum", "1.max"]
    out = s.run(xs)
    assert isinstance(out, list) and len(out) == 2 and set(out[1]) == {"sum", "max"}
    np.testing.assert_allclose(out[1]["max"], xs[1].amax((1, 2)).numpy(), rtol=1e-6)
    # the flat interface (what WASI-NN sees) stays available
    flat = s.run_flat(*xs)
    assert len(flat) == 4
    np.testing.assert_allclose(flat[2], out[1]["sum"])
    with pytest.raises(InputError, match="exported for that many"):
        s.run([xs[0]])


@pytest.mark.parametrize(
    "doc",
    [
        b"not json",
        json.dumps({"version": 2, "inputs": [], "outputs": {"t": 0}}).encode(),
        json.dumps({"version": 1, "inputs": [{"t": 0}], "outputs": {"list": [{"t": 0}, {"t": 0}]}}).encode(),
        json.dumps({"version": 1, "inputs": [{"t": 5}], "outputs": {"t": 0}}).encode(),
        json.dumps({"version": 1, "inputs": [{"t": 0}], "outputs": {"set": []}}).encode(),
    ],
)
def test_a_malformed_structure_asset_is_a_typed_error(tmp_path, doc):
    class One(torch.nn.Module):
        def forward(self, x):
            return x + 1

    p = tmp_path / "bad.wtb"
    wasm_torch.export(One(), (torch.rand(2),), p, assets={"wasm_torch.io.json": doc})
    s = wasm_torch.load(p)
    with pytest.raises(StructureError):
        s.run(torch.rand(2))
    assert s.run_flat(torch.rand(2))[0].shape == (2,)


# ---------------------------------------------------------------------------------------------
# The seven detectors (tests/detectors.py): torchvision's six, traced, and DETR, torch.export'ed


def _rows(det) -> np.ndarray:
    """Rows (score, label, x1, y1, x2, y2)."""
    return np.concatenate(
        [
            np.asarray(det["scores"], np.float64)[:, None],
            np.asarray(det["labels"], np.float64)[:, None],
            np.asarray(det["boxes"], np.float64),
        ],
        1,
    )


def _assert_same_detections(want, got, size: int) -> list:
    """Every detection of ``want`` matches one of ``got`` (same label; score and box within the
    f32 tolerance of 1e-4 relative to their scale: 1 for scores, the image size for box
    pixels), one to one; returns the index in ``got`` of each. Detections
    are in decreasing score order in both; only the order among (nearly) equal scores may differ."""
    a, b = _rows(want), _rows(got)
    assert a.shape == b.shape
    tol = wasm_torch.TOLERANCES["f32"]
    np.testing.assert_allclose(np.sort(a[:, 0]), np.sort(b[:, 0]), rtol=0, atol=tol)
    used = np.zeros(len(b), bool)
    pairs = []
    for r in a:
        ok = (
            ~used
            & (b[:, 1] == r[1])
            & (np.abs(b[:, 0] - r[0]) <= tol)
            & (np.abs(b[:, 2:] - r[2:]) <= tol * size).all(1)
        )
        hit = np.nonzero(ok)[0]
        assert len(hit), f"PyTorch's detection {r} has no match"
        used[hit[0]] = True
        pairs.append(hit[0])
    return pairs


@pytest.fixture(scope="module", params=D.NAMES)
def exported(request, tmp_path_factory):
    """Each detector built and exported once for the module's tests."""
    name = request.param
    m = D.build(name)
    p = tmp_path_factory.mktemp("det") / f"{name}.wtb"
    D.export(name, m, D.image(name), p)
    return name, m, wasm_torch.load(p)


def _run(name, s, x):
    """The file's detections of one image (the nested output of ``Session.run``)."""
    out = s.run(*D.example(name, x))
    return out if name == "detr" else out[0]


def _check_same(name, m, s, x):
    want = {k: v.numpy() for k, v in D.run(m, name, x).items()}
    got = _run(name, s, x)
    assert set(got) == set(want)
    assert got["boxes"].shape == want["boxes"].shape and got["labels"].dtype == np.int64
    assert len(want["scores"]) > 0
    size = x.shape[-1]
    tol = wasm_torch.TOLERANCES["f32"]
    pairs = _assert_same_detections(want, got, size)
    if "masks" in want:  # Mask R-CNN: each detection's mask, pasted into the image
        np.testing.assert_allclose(got["masks"][pairs], want["masks"], rtol=0, atol=tol)
    if "keypoints" in want:  # Keypoint R-CNN: (x, y, visibility) in pixels, and their scores
        np.testing.assert_allclose(got["keypoints"][pairs], want["keypoints"], rtol=0, atol=tol * size)
        ks = want["keypoints_scores"]
        kscale = float(np.abs(ks).max()) if ks.size else 1.0
        np.testing.assert_allclose(got["keypoints_scores"][pairs], ks, rtol=0, atol=tol * kscale)
    if "logits" in want:  # DETR: the raw outputs too (boxes are fractions of the image)
        scale = float(np.abs(want["logits"]).max())
        np.testing.assert_allclose(got["logits"], want["logits"], rtol=0, atol=tol * scale)
        np.testing.assert_allclose(got["pred_boxes"], want["pred_boxes"], rtol=0, atol=tol)


def test_detector_matches_pytorch(exported):
    name, m, s = exported
    if name == "detr":
        assert [i.name for i in s.inputs] == ["pixel_values"]
    else:
        assert [i.name for i in s.inputs] == ["images.0"]
    assert {"boxes", "labels", "scores"} <= {o.name.split(".")[-1] for o in s.outputs}
    _check_same(name, m, s, D.image(name, 2))
    # another image: the post-processing's data-dependent sizes are not baked in
    _check_same(name, m, s, D.image(name, 5))


def test_detector_on_a_nan_image_matches_pytorch(exported):
    """NaN pixels make NaN scores: what PyTorch returns (typically nothing passes the score
    threshold or the box-size filter, so empty outputs), not an error."""
    name, m, s = exported
    x = D.image(name)
    x[..., : x.shape[-2] // 2, :] = float("nan")
    if name in ("fasterrcnn", "maskrcnn", "keypointrcnn"):
        # No proposal survives (NaN boxes are dropped), and the trace fixed box decoding's
        # `if box_sum > 0` branch: the file's reshape(0, -1) fails, exactly as PyTorch's own
        # torch.jit.trace of the model does. A typed error, not a crash.
        with pytest.raises(wasm_torch.NativeError, match="0 elements"):
            _run(name, s, x)
        return
    want = {k: v.numpy() for k, v in D.run(m, name, x).items()}
    got = _run(name, s, x)
    assert set(got) == set(want)
    for k in want:
        assert got[k].shape == want[k].shape, k
        if k in ("boxes", "scores", "labels") and want[k].size:
            np.testing.assert_array_equal(np.isnan(got[k].astype(np.float64)), np.isnan(want[k].astype(np.float64)))


def test_detector_refuses_bad_images(exported):
    """A wrong rank, a wrong channel count, an empty image: typed errors."""
    name, _, s = exported
    n = D.SIZES[name]
    lead = (1,) if name == "detr" else ()
    bad = [torch.rand(*lead, n, n), torch.rand(*lead, 1, n, n), torch.rand(*lead, 3, 0, n)]
    for x in bad:
        with pytest.raises((InputError, wasm_torch.NativeError)):
            _run(name, s, x)


def test_detector_that_finds_nothing_returns_empty_outputs(tmp_path):
    m = D.build("retinanet")
    m.score_thresh = 1.1  # no sigmoid score passes: every class is filtered out
    image = D.image("retinanet")
    p = tmp_path / "none.wtb"
    wasm_torch.export(m, ([image],), p, frontend="trace")  # verify=True: empty == empty
    (got,) = wasm_torch.load(p).run([image])
    assert got["boxes"].shape == (0, 4) and got["scores"].shape == (0,) and got["labels"].shape == (0,)
