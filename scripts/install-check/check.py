"""Install check, Python side: export a small CNN with the installed wheel, run it natively,
compare with PyTorch, and leave the model and its reference input/output for the npm check.

    python check.py WORK_DIR VENV_DIR
"""

import os
import sys

import numpy as np
import torch
import wasm_torch

work, venv = sys.argv[1], os.path.realpath(sys.argv[2])
origin = os.path.realpath(wasm_torch.__file__)
if not origin.startswith(venv + os.sep):
    sys.exit(f"wasm_torch was imported from {origin}, not from the fresh venv {venv}")

torch.manual_seed(0)
model = torch.nn.Sequential(
    torch.nn.Conv2d(3, 8, 3, padding=1),
    torch.nn.BatchNorm2d(8),
    torch.nn.ReLU(),
    torch.nn.MaxPool2d(2),
    torch.nn.Flatten(),
    torch.nn.Linear(8 * 8 * 8, 10),
).eval()
x = torch.randn(2, 3, 16, 16)
with torch.no_grad():
    want = model(x)
path = os.path.join(work, "model.wtb")
wasm_torch.export(model, (x,), path)
got = wasm_torch.load(path).run(x)
got = got[0] if isinstance(got, (list, tuple)) else got
err = float((torch.as_tensor(np.asarray(got)) - want).abs().max())
print(f"python: wasm_torch {getattr(wasm_torch, '__version__', '?')} from {origin}")
print(
    f"python: exported {os.path.getsize(path)} bytes; native run max |diff| vs PyTorch {err:.2e}"
)
if not err <= 1e-4:
    sys.exit(f"native result differs from PyTorch by {err}")
np.save(os.path.join(work, "x.npy"), x.numpy())
np.save(os.path.join(work, "y.npy"), want.numpy())
