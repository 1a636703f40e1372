"""Writes the detection fixture of js/test/detect.test.mjs into DIR (default target/js-detect):
``ssdlite.wtb`` (torchvision SSDlite 320, 5 classes, weights re-initialised so scores
spread, exported with frontend="trace"), ``image.f32`` (the 3x320x320 input, raw
little-endian f32) and ``expected.json`` (PyTorch's boxes, scores and labels).

Then the other six detectors of py-export/tests/detectors.py (Faster R-CNN, RetinaNet, FCOS,
Mask R-CNN, Keypoint R-CNN at small sizes, and DETR exported with torch.export): for each NAME
``NAME.wtb``, ``NAME.input.f32`` (its input, raw little-endian f32) and ``NAME.expected.json``
(the input's shape, and each PyTorch output's dtype and shape, with its values in
``NAME.KEY.bin``: little-endian f32 or i64); ``models.json`` lists them.

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
    write_others(out)
    print(out)


def write_others(out: str) -> None:
    """The other detectors' fixtures (see the module doc)."""
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
    sys.path.insert(0, os.path.join(root, "py-export", "tests"))
    import detectors as D

    names = [n for n in D.NAMES if n != "ssdlite"]
    for name in names:
        m = D.build(name)
        x = D.image(name)
        D.export(name, m, x, os.path.join(out, f"{name}.wtb"))
        x.numpy().astype("<f4").tofile(os.path.join(out, f"{name}.input.f32"))
        det = D.run(m, name, x)
        outputs = {}
        for key, v in det.items():
            a = v.numpy()
            dtype = "i64" if a.dtype == np.int64 else "f32"
            a.astype("<i8" if dtype == "i64" else "<f4").tofile(os.path.join(out, f"{name}.{key}.bin"))
            outputs[key] = {"dtype": dtype, "shape": list(a.shape)}
        with open(os.path.join(out, f"{name}.expected.json"), "w") as f:
            json.dump({"input": list(x.shape), "nested": name != "detr", "outputs": outputs}, f)
    with open(os.path.join(out, "models.json"), "w") as f:
        json.dump(names, f)


if __name__ == "__main__":
    main()
