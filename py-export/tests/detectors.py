"""The seven detectors the detection tests check, small enough for every CI run: torchvision's
SSDlite, Faster R-CNN (mobilenet-v3 320 FPN), RetinaNet, FCOS, Mask R-CNN, Keypoint R-CNN, and
DETR from transformers. Shared by ``test_detection.py`` and ``js/test/detect/make_fixture.py``
(the Node fixture), so both check the same models.

Random weights throughout, re-initialised with a He-style scale: PyTorch's default init gives
near-zero class logits, so every score is alike and a comparison drowns in ties. The resnet-FPN
detectors run on a tiny four-stage conv body (16..64 channels, an FPN of 32) with small heads
and a 128-pixel transform, instead of resnet50 at 800: the post-processing (anchors,
proposals, NMS, RoI align, mask pasting, keypoint decoding) is the same code at any size.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Callable

import torch
from torch import nn

#: Every detector, in the order the tests list them.
NAMES = ["ssdlite", "fasterrcnn", "retinanet", "fcos", "maskrcnn", "keypointrcnn", "detr"]

#: The input image side of each (the models' transforms resize to their own size inside).
SIZES = {
    "ssdlite": 320,
    "fasterrcnn": 160,
    "retinanet": 128,
    "fcos": 128,
    "maskrcnn": 128,
    "keypointrcnn": 128,
    "detr": 64,
}

#: FPN width of the tiny resnet-style detectors.
FPN = 32


def _stage(cin: int, cout: int) -> nn.Module:
    """A stride-2 conv block (conv, batch norm, ReLU)."""
    return nn.Sequential(nn.Conv2d(cin, cout, 3, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU())


def tiny_fpn(levels: list[str], p6p7: bool) -> nn.Module:
    """A four-stage conv body (strides 4, 8, 16, 32) with an FPN over ``levels``; the extra
    block is a max-pool level (R-CNNs) or P6/P7 (RetinaNet, FCOS), as torchvision's builders."""
    from torchvision.models.detection.backbone_utils import BackboneWithFPN
    from torchvision.ops.feature_pyramid_network import LastLevelMaxPool, LastLevelP6P7

    chans = {"l1": 16, "l2": 24, "l3": 32, "l4": 64}
    body = nn.Sequential(
        OrderedDict(
            stem=_stage(3, 16),
            l1=nn.Sequential(nn.Conv2d(16, 16, 3, 1, 1), nn.ReLU()),
            l2=_stage(16, 24),
            l3=_stage(24, 32),
            l4=_stage(32, 64),
        )
    )
    extra = LastLevelP6P7(FPN, FPN) if p6p7 else LastLevelMaxPool()
    return BackboneWithFPN(
        body,
        {name: str(i) for i, name in enumerate(levels)},
        [chans[n] for n in levels],
        FPN,
        extra_blocks=extra,
    )


def _rcnn_heads(num_classes: int) -> dict[str, Any]:
    """Small box head (an MLP of 64 instead of 1024) and fewer proposals for the R-CNNs."""
    from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead

    return dict(
        box_head=TwoMLPHead(FPN * 7 * 7, 64),
        box_predictor=FastRCNNPredictor(64, num_classes),
        rpn_pre_nms_top_n_test=200,
        rpn_post_nms_top_n_test=50,
        box_score_thresh=0.0,
        box_detections_per_img=20,
        min_size=128,
        max_size=128,
    )


class DetrDetections(nn.Module):
    """DETR with transformers' post-processing written as tensor ops: the raw ``logits`` and
    ``pred_boxes`` of the first image, and its detections as torchvision's detectors give
    them: ``scores`` and ``labels`` (the best class other than "no object"), ``boxes`` in
    pixels (x1, y1, x2, y2), only those scoring above ``threshold`` (a data-dependent count)."""

    def __init__(self, detr: nn.Module, threshold: float = 0.0):
        super().__init__()
        self.detr = detr
        self.threshold = threshold

    def forward(self, pixel_values: torch.Tensor) -> dict[str, torch.Tensor]:
        out = self.detr(pixel_values=pixel_values)
        logits, pred = out.logits[0], out.pred_boxes[0]
        scores, labels = logits.softmax(-1)[:, :-1].max(-1)
        cx, cy, w, h = pred.unbind(-1)
        height, width = pixel_values.shape[-2:]
        scale = torch.tensor([width, height, width, height], dtype=pred.dtype)
        boxes = torch.stack([cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h], -1) * scale
        keep = scores > self.threshold
        return {
            "logits": logits,
            "pred_boxes": pred,
            "boxes": boxes[keep],
            "scores": scores[keep],
            "labels": labels[keep],
        }


def detr(threshold: float = 0.0) -> nn.Module:
    """DetrForObjectDetection with a small random config and a non-timm ResNet backbone (nothing
    downloaded): 2 encoder and 2 decoder layers of width 32, 12 queries, 5 classes."""
    from transformers import DetrConfig, DetrForObjectDetection, ResNetConfig

    backbone = ResNetConfig(
        num_channels=3,
        embedding_size=16,
        hidden_sizes=[16, 24, 32, 48],
        depths=[1, 1, 1, 1],
        layer_type="basic",
        out_features=["stage4"],
    )
    config = DetrConfig(
        use_timm_backbone=False,
        use_pretrained_backbone=False,
        backbone=None,
        backbone_config=backbone,
        d_model=32,
        encoder_layers=2,
        decoder_layers=2,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        num_queries=12,
        num_labels=5,
    )
    torch.manual_seed(0)
    return DetrDetections(DetrForObjectDetection(config), threshold)


def _torchvision(name: str) -> nn.Module:
    from torchvision.models import detection as d
    from torchvision.models.detection.keypoint_rcnn import KeypointRCNNHeads, KeypointRCNNPredictor
    from torchvision.models.detection.mask_rcnn import MaskRCNNHeads, MaskRCNNPredictor

    torch.manual_seed(0)
    rcnn = ["l1", "l2", "l3", "l4"]
    retina = ["l2", "l3", "l4"]
    builders: dict[str, Callable[[], nn.Module]] = {
        "ssdlite": lambda: d.ssdlite320_mobilenet_v3_large(weights=None, weights_backbone=None, num_classes=5),
        "fasterrcnn": lambda: d.fasterrcnn_mobilenet_v3_large_320_fpn(
            weights=None,
            weights_backbone=None,
            num_classes=5,
            box_score_thresh=0.0,
            min_size=SIZES["fasterrcnn"],
            max_size=SIZES["fasterrcnn"],
        ),
        "retinanet": lambda: d.RetinaNet(
            tiny_fpn(retina, True), num_classes=5, score_thresh=0.0, min_size=128, max_size=128
        ),
        "fcos": lambda: d.FCOS(tiny_fpn(retina, True), num_classes=5, score_thresh=0.0, min_size=128, max_size=128),
        "maskrcnn": lambda: d.MaskRCNN(
            tiny_fpn(rcnn, False),
            mask_head=MaskRCNNHeads(FPN, [32, 32], 1),
            mask_predictor=MaskRCNNPredictor(32, 32, 5),
            **_rcnn_heads(5),
        ),
        "keypointrcnn": lambda: d.KeypointRCNN(
            tiny_fpn(rcnn, False),
            keypoint_head=KeypointRCNNHeads(FPN, [32, 32]),
            keypoint_predictor=KeypointRCNNPredictor(32, 5),
            **_rcnn_heads(2),
        ),
    }
    return builders[name]()


def reinit(m: nn.Module) -> nn.Module:
    """He-style weights so scores spread (see the module doc), then eval mode."""
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in m.parameters():
            if p.dim() > 1:
                p.copy_(torch.randn(p.shape, generator=gen) * (1.0 / p[0].numel()) ** 0.5)
    return m.eval()


def build(name: str) -> nn.Module:
    """The named detector, weights re-initialised, in eval mode."""
    return reinit(detr() if name == "detr" else _torchvision(name))


def image(name: str, seed: int = 2) -> torch.Tensor:
    """An input for ``name``: ``[3, S, S]`` for torchvision's detectors (they take a list),
    ``[1, 3, S, S]`` pixel values for DETR."""
    s = SIZES[name]
    x = torch.rand(3, s, s, generator=torch.Generator().manual_seed(seed))
    return x[None] if name == "detr" else x


def example(name: str, x: torch.Tensor) -> tuple:
    """The example-input tuple of ``export``: one list of images, or DETR's pixel values."""
    return (x,) if name == "detr" else ([x],)


def run(m: nn.Module, name: str, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """PyTorch's detections of one image, as a dict of tensors."""
    with torch.no_grad():
        return m(x) if name == "detr" else m([x])[0]


def export(name: str, m: nn.Module, x: torch.Tensor, path: Any) -> None:
    """Exports with the front end that takes the model: ``trace`` for torchvision's detectors
    (their post-processing is written for tracing), ``torch.export`` for DETR. ``verify=False``:
    the exporter's own check compares outputs in order, and tied scores may come out in
    another order; the tests compare detections as sets."""
    import wasm_torch

    frontend = "export" if name == "detr" else "trace"
    wasm_torch.export(m, example(name, x), path, frontend=frontend, verify=False)
