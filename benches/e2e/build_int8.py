"""The int8 side of the end-to-end comparison: for each model, a wasm-torch file exported with
``weights="int8"`` (int8 Linear/convolution weights, dynamic per-row activation quantization)
and the same PyTorch module exported to ONNX (``bench_native.export_onnx``) then quantized by
``onnxruntime.quantization.quantize_dynamic`` (int8 weights, dynamic uint8 activations: the
MatMulInteger / ConvInteger / DynamicQuantizeMatMul path onnxruntime-web runs).

    python benches/e2e/build_int8.py --out DIR [--models resnet18 minilm_seq128 gpt2_6l_512 vit_tiny]

Writes DIR/NAME.wtb, DIR/NAME.onnx (quantized), the case-0 inputs and DIR/manifest.json in
the zoo's manifest format (bench_web.mjs / bench_int8.mjs read it).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "py-export", "zoo"))

import build_zoo  # noqa: E402
from bench_native import export_onnx  # noqa: E402

DEFAULT = ["minilm_seq128", "gpt2_6l_512", "vit_tiny", "resnet18"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", required=True)
    ap.add_argument("--models", nargs="*", default=DEFAULT)
    args = ap.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from wasm_torch import zoo

    torch.manual_seed(0)
    entries = []
    for name in args.models:
        e = build_zoo.build_one(name, args.out, "int8", "auto")
        z = zoo.get(name)
        fp32 = os.path.join(args.out, f"{name}.fp32.onnx")
        exporter, err = export_onnx(z.model, z.inputs, z, fp32)
        if err:
            e["onnx_error"] = err
        else:
            q = os.path.join(args.out, f"{name}.onnx")
            quantize_dynamic(fp32, q, weight_type=QuantType.QInt8)
            e["onnx"] = os.path.basename(q)
            e["onnx_exporter"] = exporter
            e["onnx_quantization"] = "quantize_dynamic(weight_type=QInt8)"
            import onnxruntime as ort

            sess = ort.InferenceSession(q, providers=["CPUExecutionProvider"])
            feeds = {i.name: x.numpy() for i, x in zip(sess.get_inputs(), z.inputs)}
            got = sess.run(None, feeds)[0]
            with torch.no_grad():
                ref = build_zoo.wasm_torch._export._torch_outputs(z.model, z.inputs)[0].numpy()
            e["onnx_int8_rel_err"] = float(np.abs(got - ref).max() / max(np.abs(ref).max(), 1e-12))
        print(f"{name:16s} wtb max rel err {e.get('max_rel_err', float('nan')):.3g}  "
              f"onnx int8 rel err {e.get('onnx_int8_rel_err', float('nan')):.3g}  {e.get('onnx_error', '')}",
              flush=True)
        entries.append(e)
    with open(os.path.join(args.out, "manifest.json"), "w") as f:
        json.dump({"models": entries}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
