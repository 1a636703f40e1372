#!/usr/bin/env python3
"""Build the model zoo: one .wtb per model plus example inputs and PyTorch's outputs as .npy.

    python py-export/zoo/build_zoo.py --out DIR [--models resnet18 minilm_seq16 ...]
        [--weights f32|f16|int8] [--frontend auto|export|trace|script] [--list]

Writes, for each model NAME (see ``wasm_torch.zoo.ZOO``):
  DIR/NAME.wtb
  DIR/NAME.case<k>.in<i>.npy    example inputs (fixed seeds), case 0 = the export example
  DIR/NAME.case<k>.out<j>.npy   PyTorch's outputs for those inputs (the reference)
  DIR/manifest.json             every model: file, front end, inputs/outputs (name, dtype,
                                shape), cases, tolerance and the native check's max errors
A model that fails to export is listed with its error and the script exits with status 1
after building the others. Large files are not committed; CI rebuilds them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback

import numpy as np
import torch

import wasm_torch
from wasm_torch import zoo


def build_one(name: str, out: str, weights: str, frontend: str) -> dict:
    z = zoo.get(name)
    # Models only scripting captures (data-dependent control flow) always use it.
    fe = "script" if frontend == "auto" and z.frontends == ("script",) else frontend
    path = os.path.join(out, f"{name}.wtb")
    tol = 1e-4 if weights == "f32" else z.tolerances[weights]
    t0 = time.time()
    entry: dict = {"name": name, "file": f"{name}.wtb", "weights": weights, "tolerance": tol}
    try:
        report = wasm_torch.export(
            z.model, z.inputs, path, frontend=fe, weights=weights, input_names=z.input_names,
            output_names=z.output_names, verify=False, model_name=name,
        )
    except Exception as e:  # keep building the rest; the manifest records why
        entry["error"] = f"{type(e).__name__}: {e}"
        return entry
    entry.update(frontend=report.frontend, file_size=report.file_size, ops=report.ops,
                 export_seconds=round(time.time() - t0, 2))
    sess = wasm_torch.load(path)
    entry["inputs"] = [{"name": s.name, "dtype": s.dtype, "shape": list(s.shape)} for s in sess.inputs]
    entry["outputs"] = [{"name": s.name, "dtype": s.dtype, "shape": list(s.shape)} for s in sess.outputs]
    cases = []
    worst = 0.0
    for k, inputs in enumerate([z.inputs, *z.extra_inputs]):
        with torch.no_grad():
            ref = wasm_torch._export._torch_outputs(z.model, inputs)
        case = {"inputs": [], "outputs": []}
        for i, x in enumerate(inputs):
            f = f"{name}.case{k}.in{i}.npy"
            np.save(os.path.join(out, f), x.numpy())
            case["inputs"].append(f)
        for j, r in enumerate(ref):
            f = f"{name}.case{k}.out{j}.npy"
            np.save(os.path.join(out, f), r.numpy())
            case["outputs"].append(f)
        try:
            got = sess.run(*inputs)
            checks = wasm_torch._export.compare(ref, got, [s.name for s in sess.outputs], tol)
            case["max_rel_err"] = [c.max_rel_err for c in checks]
            case["max_abs_err"] = [c.max_abs_err for c in checks]
            case["ok"] = all(c.ok for c in checks)
            worst = max([worst, *case["max_rel_err"]])
        except Exception as e:
            case["ok"] = False
            case["error"] = f"{type(e).__name__}: {e}"
        cases.append(case)
    entry["cases"] = cases
    entry["verified"] = all(c["ok"] for c in cases)
    entry["max_rel_err"] = worst
    return entry


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=False, help="output directory")
    ap.add_argument("--models", nargs="*", help="subset of models (default: all)")
    ap.add_argument("--weights", default="f32", choices=["f32", "f16", "int8"])
    ap.add_argument("--frontend", default="auto", choices=["auto", "export", "trace", "script"])
    ap.add_argument("--list", action="store_true", help="list the zoo and exit")
    args = ap.parse_args(argv)
    if args.list:
        print("\n".join(zoo.names()))
        return 0
    if not args.out:
        ap.error("--out is required")
    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(0)
    entries = []
    for name in zoo.names(args.models):
        t0 = time.time()
        try:
            e = build_one(name, args.out, args.weights, args.frontend)
        except Exception as ex:
            e = {"name": name, "error": f"{type(ex).__name__}: {ex}", "traceback": traceback.format_exc()}
        e["seconds"] = round(time.time() - t0, 1)
        entries.append(e)
        status = "ok" if e.get("verified") else ("ERROR" if "error" in e else "MISMATCH")
        print(f"{name:22s} {status:8s} {e.get('frontend', '-'):7s} {e.get('file_size', 0):>11} bytes  "
              f"max rel err {e.get('max_rel_err', float('nan')):.3g}  ({e['seconds']}s)", flush=True)
        if "error" in e:
            print("   " + e["error"].replace("\n", "\n   "), flush=True)
    manifest = {"wasm_torch": wasm_torch.__version__, "torch": torch.__version__, "models": entries}
    with open(os.path.join(args.out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
    return 0 if all(e.get("verified") for e in entries) else 1


if __name__ == "__main__":
    sys.exit(main())
