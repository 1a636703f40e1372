#!/usr/bin/env python3
"""Write the load-time benchmark's model: a 100 MB (f32) MLP, to DIR/mlp_100mb.wtb.

    python benches/e2e/make_load_model.py --out DIR

Issue #6's target is "a 100 MB model ready to run in < 0.5 s from a local file in Node (weight
pre-packing counted)". Four 2500x2500 linear layers with biases hold 25.01 M f32 parameters,
100.04 MB: the weights dominate the file, so the measurement is about moving and packing bytes.
The input x (1x2500) and PyTorch's output are written next to it as .npy files, and the
exporter's own check against PyTorch runs (verify=True), so the model the benchmark times is
known to compute the right thing.
"""

from __future__ import annotations

import argparse
import os

import numpy as np
import torch

import wasm_torch


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(0)
    width = 2500
    layers = []
    for _ in range(4):
        layers += [torch.nn.Linear(width, width), torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers[:-1]).eval()
    x = torch.randn(1, width)
    path = os.path.join(args.out, "mlp_100mb.wtb")
    report = wasm_torch.export(model, (x,), path, verify=True)
    with torch.inference_mode():
        y = model(x)
    np.save(os.path.join(args.out, "mlp_100mb.in0.npy"), x.numpy())
    np.save(os.path.join(args.out, "mlp_100mb.out0.npy"), y.numpy())
    if not (report.verified and all(o.ok for o in report.outputs)):
        raise SystemExit(f"the exported model does not match PyTorch: {report.summary()}")
    err = max(o.max_rel_err for o in report.outputs)
    print(f"{path}: {os.path.getsize(path) / 1e6:.1f} MB, max relative error vs PyTorch {err:.2e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
