"""Writes the big test models of js/test/huge.test.mjs: a stack of nn.Linear(WIDTH, WIDTH) + Tanh
(every weight feeding the GEMM kernels), exported with wasm_torch with a dynamic batch
dimension, plus an input and the reference outputs as .npy files.

    python js/test/big/make_linear_stack.py OUT_DIR [LAYERS] [WIDTH] [--weights int8]

- f32 (default: nine layers of 8192, 2.42 GB of weights, more than one wasm32 allocation may
  hold): OUT_DIR/linear_stack.wtb, OUT_DIR/x.npy ([1, WIDTH]) and OUT_DIR/y.npy, PyTorch's
  output, which wasm must match.
- ``--weights int8`` (twelve layers: 3.22 GB of f32 weights, stored and kept resident as int8,
  ~0.81 GB): the same files, but y.npy is the native interpreter's output for the int8 file
  (what wasm must match: the same integer arithmetic), y_torch.npy is the f32 model's, and
  the printed JSON states the int8 file's accuracy against it (cosine, max error).

Prints a JSON line with the file's weight bytes (as f32). Deterministic (seeded), so the files
can be kept and reused between test runs.
"""

import argparse
import json
import os

import numpy as np
import torch
import wasm_torch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("layers", nargs="?", type=int)
    ap.add_argument("width", nargs="?", type=int, default=8192)
    ap.add_argument("--weights", choices=["f32", "int8"], default="f32")
    a = ap.parse_args()
    layers = a.layers or (12 if a.weights == "int8" else 9)
    width = a.width
    os.makedirs(a.out, exist_ok=True)
    torch.manual_seed(0)
    with torch.no_grad():
        model = torch.nn.Sequential(
            *[
                m
                for _ in range(layers)
                for m in (torch.nn.Linear(width, width), torch.nn.Tanh())
            ]
        ).eval()
        x = torch.randn(1, width)
        y = model(x)
    batch = torch.export.Dim("batch", min=1, max=1 << 20)
    path = os.path.join(a.out, "linear_stack.wtb")
    # Exported on two rows: torch.export specialises a dimension whose example size is 1.
    example = torch.randn(2, width)
    wasm_torch.export(
        model,
        (example,),
        path,
        frontend="export",
        dynamic_shapes=({0: batch},),
        verify=False,
        weights=a.weights,
    )
    weight_bytes = sum(p.numel() * 4 for p in model.parameters())
    info = {
        "path": path,
        "weightBytes": weight_bytes,
        "layers": layers,
        "width": width,
        "weights": a.weights,
    }
    np.save(os.path.join(a.out, "x.npy"), x.numpy())
    if a.weights == "int8":
        del (
            model
        )  # the f32 weights are not needed past this point: give the memory back
        got = wasm_torch.load(path).run(x.numpy())
        got = np.asarray(
            got[0] if isinstance(got, (list, tuple)) else got, dtype=np.float32
        )
        want = y.numpy().astype(np.float32)
        np.save(os.path.join(a.out, "y_torch.npy"), want)
        cos = float(
            np.dot(got.ravel(), want.ravel())
            / (np.linalg.norm(got) * np.linalg.norm(want))
        )
        info.update(cosine=cos, maxAbs=float(np.abs(got - want).max()))
        np.save(os.path.join(a.out, "y.npy"), got)
    else:
        np.save(os.path.join(a.out, "y.npy"), y.numpy())
    with open(os.path.join(a.out, "info.json"), "w") as f:
        json.dump(info, f)
    print(json.dumps(info))


if __name__ == "__main__":
    main()
