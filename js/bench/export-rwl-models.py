"""Write the models of js/bench/run-while-loading.mjs: torchvision resnet50 and vit_b_16 with
random (seeded) weights -- the sizes matter there, not the weights.

    python js/bench/export-rwl-models.py OUT_DIR
"""
import os
import sys

import torch
import torchvision
import wasm_torch

out = sys.argv[1] if len(sys.argv) > 1 else "target/rwl-bench"
os.makedirs(out, exist_ok=True)
torch.manual_seed(0)
for name, ctor in [("resnet50", torchvision.models.resnet50), ("vit_b_16", torchvision.models.vit_b_16)]:
    model = ctor(weights=None).eval()
    x = torch.randn(1, 3, 224, 224)
    report = wasm_torch.export(
        model, (x,), os.path.join(out, f"{name}.wtb"), verify=False, model_name=name,
        input_names=["image"], output_names=["logits"],
    )
    print(name, report.file_size, "bytes,", report.frontend, flush=True)
