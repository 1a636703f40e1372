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
import os
import warnings

import numpy as np
import pytest
import torch

torchvision = pytest.importorskip("torchvision")

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


@pytest.mark.parametrize("n", [0, 1, 40])
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
# torchvision detectors

SIZE = 320
#: Input size of the resnet18-FPN detectors (their transform resizes to it).
SMALL = 224
#: The detectors every run checks; WASM_TORCH_DETECT_ALL=1 adds the heavier ones (about 40 s
#: each to export: RetinaNet, FCOS, Mask R-CNN, Keypoint R-CNN on a
#: resnet18 FPN).
DETECTORS = ["ssdlite", "fasterrcnn"] + (
    ["retinanet", "fcos", "maskrcnn", "keypointrcnn"] if os.environ.get("WASM_TORCH_DETECT_ALL") == "1" else []
)


def _resnet18_fpn(p6p7: bool) -> torch.nn.Module:
    """A small FPN backbone (resnet18) for the detectors torchvision builds on resnet50."""
    from torchvision.models import resnet18
    from torchvision.models.detection.backbone_utils import _resnet_fpn_extractor
    from torchvision.ops.feature_pyramid_network import LastLevelP6P7

    if p6p7:
        return _resnet_fpn_extractor(resnet18(), 3, returned_layers=[2, 3, 4], extra_blocks=LastLevelP6P7(256, 256))
    return _resnet_fpn_extractor(resnet18(), 3)


def _detector(name: str) -> torch.nn.Module:
    from torchvision.models import detection as d

    torch.manual_seed(0)
    small = dict(min_size=SMALL, max_size=SMALL)
    if name == "ssdlite":
        m = d.ssdlite320_mobilenet_v3_large(weights=None, weights_backbone=None, num_classes=5)
    elif name == "fasterrcnn":
        m = d.fasterrcnn_mobilenet_v3_large_320_fpn(
            weights=None, weights_backbone=None, num_classes=5, box_score_thresh=0.0
        )
    elif name == "retinanet":
        m = d.RetinaNet(_resnet18_fpn(True), num_classes=5, score_thresh=0.0, **small)
    elif name == "fcos":
        m = d.FCOS(_resnet18_fpn(True), num_classes=5, score_thresh=0.0, **small)
    elif name == "maskrcnn":
        m = d.MaskRCNN(_resnet18_fpn(False), num_classes=5, box_score_thresh=0.0, box_detections_per_img=20, **small)
    elif name == "keypointrcnn":
        m = d.KeypointRCNN(
            _resnet18_fpn(False),
            num_classes=2,
            num_keypoints=5,
            box_score_thresh=0.0,
            box_detections_per_img=20,
            **small,
        )
    else:
        raise ValueError(name)
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in m.parameters():
            if p.dim() > 1:  # He-style scale: spread scores instead of a uniform softmax
                p.copy_(torch.randn(p.shape, generator=gen) * (1.0 / p[0].numel()) ** 0.5)
    return m.eval()


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
    np.testing.assert_allclose(a[:, 0], b[:, 0], rtol=0, atol=tol)  # sorted scores agree
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


@pytest.fixture(scope="module", params=DETECTORS)
def exported(request, tmp_path_factory):
    m = _detector(request.param)
    size = SIZE if request.param in ("ssdlite", "fasterrcnn") else SMALL
    image = torch.rand(3, size, size, generator=torch.Generator().manual_seed(2))
    p = tmp_path_factory.mktemp("det") / f"{request.param}.wtb"
    # verify=False: the exporter's own check compares outputs in order, and tied scores may
    # come out in another order; the tests below compare them as sets.
    wasm_torch.export(m, ([image],), p, frontend="trace", verify=False)
    return m, wasm_torch.load(p)


def _size(s) -> int:
    """The image size the file was exported for (320 for the mobilenet detectors, 224 else)."""
    return s.inputs[0].shape[-1]


def _check_same(m, s, image):
    with torch.no_grad():
        (want,) = m([image])
    (got,) = s.run([image])
    assert set(got) == set(want)
    w = {k: v.numpy() for k, v in want.items()}
    assert got["boxes"].shape == w["boxes"].shape and got["labels"].dtype == np.int64
    assert len(w["scores"]) > 0
    size = image.shape[-1]
    pairs = _assert_same_detections(w, got, size)
    if "masks" in w:  # Mask R-CNN: each detection's mask, pasted into the image
        np.testing.assert_allclose(got["masks"][pairs], w["masks"], rtol=0, atol=1e-4)
    if "keypoints" in w:  # Keypoint R-CNN: (x, y, visibility) in pixels, and their scores
        np.testing.assert_allclose(got["keypoints"][pairs], w["keypoints"], rtol=0, atol=1e-4 * size)
        kscale = float(np.abs(w["keypoints_scores"]).max()) if w["keypoints_scores"].size else 1.0
        np.testing.assert_allclose(got["keypoints_scores"][pairs], w["keypoints_scores"], rtol=0, atol=1e-4 * kscale)


def test_detector_matches_pytorch(exported):
    m, s = exported
    assert [i.name for i in s.inputs] == ["images.0"]
    assert {"0.boxes", "0.labels", "0.scores"} <= {o.name for o in s.outputs}
    n = _size(s)
    _check_same(m, s, torch.rand(3, n, n, generator=torch.Generator().manual_seed(2)))
    # another image: the post-processing's data-dependent sizes are not baked in
    _check_same(m, s, torch.rand(3, n, n, generator=torch.Generator().manual_seed(5)))


def test_detector_that_finds_nothing_returns_empty_outputs(tmp_path):
    m = _detector("ssdlite")
    m.score_thresh = 2.0  # no softmax score passes: every class is filtered out
    image = torch.rand(3, SIZE, SIZE)
    p = tmp_path / "none.wtb"
    wasm_torch.export(m, ([image],), p, frontend="trace")  # verify=True: empty == empty
    (got,) = wasm_torch.load(p).run([image])
    assert got["boxes"].shape == (0, 4) and got["scores"].shape == (0,) and got["labels"].shape == (0,)


def test_detector_refuses_a_wrong_rank_image(exported):
    _, s = exported
    with pytest.raises((InputError, wasm_torch.NativeError)):
        s.run([torch.rand(SIZE, SIZE)])
    with pytest.raises((InputError, wasm_torch.NativeError)):
        s.run([torch.rand(3, 0, SIZE)])
