"""Writes the >2 GiB test model of js/test/huge.test.mjs: nine nn.Linear(8192, 8192) + Tanh
(2.42 GB of f32 weights, every one feeding the GEMM kernels), exported with wasm_torch with a
dynamic batch dimension, plus an input and PyTorch's output for it as .npy files.

    python js/test/big/make_linear_stack.py OUT_DIR [LAYERS] [WIDTH]

Writes OUT_DIR/linear_stack.wtb, OUT_DIR/x.npy ([1, WIDTH]) and OUT_DIR/y.npy, and prints a
JSON line with the file's weight bytes. Deterministic (seeded), so the files can be kept and
reused between test runs.
"""

import json
import os
import sys

import numpy as np
import torch

import wasm_torch


def main() -> None:
    out = sys.argv[1]
    layers = int(sys.argv[2]) if len(sys.argv) > 2 else 9
    width = int(sys.argv[3]) if len(sys.argv) > 3 else 8192
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    with torch.no_grad():
        model = torch.nn.Sequential(
            *[m for _ in range(layers) for m in (torch.nn.Linear(width, width), torch.nn.Tanh())]
        ).eval()
        x = torch.randn(1, width)
        y = model(x)
    np.save(os.path.join(out, "x.npy"), x.numpy())
    np.save(os.path.join(out, "y.npy"), y.numpy())
    batch = torch.export.Dim("batch", min=1, max=1 << 20)
    path = os.path.join(out, "linear_stack.wtb")
    # Exported on two rows: torch.export specialises a dimension whose example size is 1.
    example = torch.randn(2, width)
    wasm_torch.export(model, (example,), path, frontend="export", dynamic_shapes=({0: batch},), verify=False)
    weight_bytes = sum(p.numel() * 4 for p in model.parameters())
    print(json.dumps({"path": path, "weightBytes": weight_bytes, "layers": layers, "width": width}))


if __name__ == "__main__":
    main()
