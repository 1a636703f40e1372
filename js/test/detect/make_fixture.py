"""Writes the detection fixture of js/test/detect.test.mjs into DIR (default target/js-detect):
``ssdlite.wtb`` (torchvision SSDlite 320, 5 classes, weights re-initialised so scores
spread, exported with frontend="trace"), ``image.f32`` (the 3x320x320 input, raw
little-endian f32) and ``expected.json`` (PyTorch's boxes, scores and labels).

    .venv/bin/python js/test/detect/make_fixture.py [DIR]
"""

import json
import os
import sys
import warnings

import numpy as np
import torch

warnings.filterwarnings("ignore")

import wasm_torch
from torchvision.models.detection import ssdlite320_mobilenet_v3_large


def main() -> None:
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "target", "js-detect")
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    m = ssdlite320_mobilenet_v3_large(weights=None, weights_backbone=None, num_classes=5)
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in m.parameters():
            if p.dim() > 1:
                p.copy_(torch.randn(p.shape, generator=gen) * (1.0 / p[0].numel()) ** 0.5)
    m.eval()
    image = torch.rand(3, 320, 320, generator=torch.Generator().manual_seed(2))
    wasm_torch.export(m, ([image],), os.path.join(out, "ssdlite.wtb"), frontend="trace", verify=False)
    with torch.no_grad():
        (det,) = m([image])
    image.numpy().astype("<f4").tofile(os.path.join(out, "image.f32"))
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump({k: np.asarray(v).tolist() for k, v in det.items()}, f)
    print(out)


if __name__ == "__main__":
    main()
