"""The demo page's object detector: torchvision SSDlite 320 (MobileNetV3-Large), the COCO
category names, a generated sample picture and PyTorch's detections on it.

No package on PyPI that this project can install ships trained torchvision detector
weights (and nothing may be downloaded at run time), so the weights are random: re-initialised
with a He-style scale, the class head scaled up so that class scores spread instead of all
being 1/91, a score threshold of 0.1 and at most ten detections per image so the picture
stays readable. The page
says so; the boxes show that the pipeline runs and matches PyTorch, not what is in the picture.

    python js/examples/demo/detector.py OUT_DIR   # writes into OUT_DIR:
        ssdlite320.wtb          the detector, frontend="trace", input images.0: f32[3, 320, 320]
                                (assets: coco-categories.json, the 91 COCO names by label)
        detect-sample.png       the generated 320x320 RGB picture (8-bit, no colour profile)
        detect-sample.f32       the model input made from it (3x320x320 raw little-endian f32,
                                for js/test/worker-nested.test.mjs, which has no PNG decoder)
        detect-expected.json    PyTorch's boxes, scores and labels for that picture's pixels / 255,
                                plus the sum of its bytes (the page checks it decoded the same pixels)
"""

from __future__ import annotations

import json
import os
import sys
import warnings

import torch

warnings.filterwarnings("ignore")

import wasm_torch  # noqa: E402
from torchvision.io import write_png  # noqa: E402
from torchvision.models.detection import SSDLite320_MobileNet_V3_Large_Weights, ssdlite320_mobilenet_v3_large  # noqa: E402

SIZE = 320
# At most this many boxes per image: ten keep the picture readable.
DETECTIONS = 10
# Class scores below this are dropped before non-maximum suppression. torchvision's default,
# 0.001, lets about 27,000 (anchor, class) pairs of these weights through (300 per class), and
# suppression among them took most of a run; at 0.1 a few hundred remain. The sample picture's
# ten detections score 0.24 and more, so they are the same either way.
SCORE_THRESH = 0.1


def sample_picture() -> torch.Tensor:
    """A 3x320x320 uint8 scene (sky, sun, ground, a house, a tree, a ball) drawn with tensor ops."""
    y = torch.arange(SIZE, dtype=torch.float32).view(SIZE, 1).expand(SIZE, SIZE)
    x = torch.arange(SIZE, dtype=torch.float32).view(1, SIZE).expand(SIZE, SIZE)
    img = torch.empty(3, SIZE, SIZE)
    t = y / SIZE
    img[0], img[1], img[2] = 110 + 90 * t, 170 + 60 * t, 250 - 20 * t  # sky gradient

    def paint(mask: torch.Tensor, rgb: tuple[int, int, int]) -> None:
        for c in range(3):
            img[c][mask] = rgb[c]

    paint(y >= 220, (88, 160, 70))  # grass
    paint((x - 260) ** 2 + (y - 55) ** 2 <= 28**2, (250, 215, 60))  # sun
    paint((x >= 50) & (x < 150) & (y >= 150) & (y < 240), (200, 90, 60))  # house walls
    paint((y >= 100) & (y < 150) & ((x - 100).abs() <= (y - 100) * 1.1), (120, 50, 40))  # roof
    paint((x >= 88) & (x < 112) & (y >= 195) & (y < 240), (90, 60, 40))  # door
    paint((x >= 62) & (x < 80) & (y >= 165) & (y < 183), (170, 210, 240))  # window
    paint((x >= 212) & (x < 226) & (y >= 175) & (y < 250), (110, 75, 45))  # trunk
    paint((x - 219) ** 2 + (y - 150) ** 2 <= 38**2, (40, 120, 50))  # crown
    paint((x - 175) ** 2 + (y - 275) ** 2 <= 18**2, (230, 40, 60))  # ball
    return img.round().clamp(0, 255).to(torch.uint8)


def detector() -> torch.nn.Module:
    torch.manual_seed(0)
    m = ssdlite320_mobilenet_v3_large(
        weights=None, weights_backbone=None, num_classes=91, detections_per_img=DETECTIONS, score_thresh=SCORE_THRESH
    )
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in m.parameters():
            if p.dim() > 1:
                p.copy_(torch.randn(p.shape, generator=gen) * (1.0 / p[0].numel()) ** 0.5)
        # With that scale alone every class logit stays near 0 (all scores about 1/91, a few
        # 1e-7 apart: ties everywhere). Larger class-head weights spread them to 0.2-0.5,
        # at least 2e-3 apart among the kept boxes and at the cut after the tenth.
        for block in m.head.classification_head.module_list:
            block[-1].weight.mul_(1000.0)
    return m.eval()


def main() -> None:
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "target", "demo-zoo")
    os.makedirs(out, exist_ok=True)
    picture = sample_picture()
    image = picture.float() / 255  # what the page computes from the decoded pixels
    model = detector()
    categories = SSDLite320_MobileNet_V3_Large_Weights.COCO_V1.meta["categories"]
    wasm_torch.export(
        model,
        ([image],),
        os.path.join(out, "ssdlite320.wtb.part"),
        frontend="trace",
        verify=False,
        assets={"coco-categories.json": json.dumps(categories)},
    )
    with torch.no_grad():
        (det,) = model([image])
    write_png(picture, os.path.join(out, "detect-sample.png"))
    image.numpy().astype("<f4").tofile(os.path.join(out, "detect-sample.f32"))
    expected = {
        "weights": "random (re-initialised, seed 1): the boxes do not mean anything",
        "pixel_sum": int(picture.sum()),
        "boxes": det["boxes"].tolist(),
        "scores": det["scores"].tolist(),
        "labels": det["labels"].tolist(),
    }
    assert len(expected["scores"]) > 0, "the detector found nothing: the page check would be vacuous"
    with open(os.path.join(out, "detect-expected.json"), "w") as f:
        json.dump(expected, f)
    # Last, so an interrupted run leaves no .wtb that js/scripts/test.sh would take as done.
    os.replace(os.path.join(out, "ssdlite320.wtb.part"), os.path.join(out, "ssdlite320.wtb"))
    print(f"{out}: {len(expected['scores'])} detections")


if __name__ == "__main__":
    main()
