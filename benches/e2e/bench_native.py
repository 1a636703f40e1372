#!/usr/bin/env python3
"""Native side of the end-to-end comparison: PyTorch and onnxruntime (CPU) on the zoo.

    python benches/e2e/bench_native.py --zoo DIR --out native.json [--models ...]
        [--threads 1 2] [--min-runs 20] [--seconds 3]

For each zoo model (the factories of ``wasm_torch.zoo``, the same ones build_zoo.py exports)
it measures, per thread count, the median latency of PyTorch eager (``torch.inference_mode``)
and of onnxruntime's CPU provider on an ONNX export of the same module (legacy TorchScript
exporter, written to DIR/NAME.onnx for the web side to reuse). It also counts the model's
FLOPs with ``torch.utils.flop_counter`` so the report can state each model's wasm ceiling.

Medians after warm-up, of at least --min-runs runs and at least --seconds of running: the
machine is noisy and only ratios taken in one run are meant to be compared.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import warnings

import numpy as np
import torch


def median_ms(fn, min_runs: int, seconds: float, warmup: int = 3) -> dict:
    """Median wall time of fn() in ms, with the run count (after `warmup` discarded runs)."""
    for _ in range(warmup):
        fn()
    times = []
    start = time.perf_counter()
    while len(times) < min_runs or time.perf_counter() - start < seconds:
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
        if len(times) >= 10 * min_runs:
            break
    return {"median_ms": statistics.median(times), "runs": len(times)}


def count_flops(model, inputs) -> int:
    """Total FLOPs of one forward pass (multiply-add counted as 2), 0 where uncountable."""
    from torch.utils.flop_counter import FlopCounterMode

    try:
        with FlopCounterMode(display=False) as counter, torch.inference_mode():
            model(*inputs)
        return int(counter.get_total_flops())
    except Exception:  # scripted models and some custom ops are not countable
        return 0


def export_onnx(model, inputs, names, path: str) -> str | None:
    """Export with the legacy exporter; returns the error text when it fails."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(model, tuple(inputs), path, dynamo=False,
                              input_names=list(names.input_names),
                              output_names=list(names.output_names), opset_version=17)
        return None
    except Exception as e:
        return f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"


def bench_model(name: str, zoo_dir: str, threads: list[int], min_runs: int, seconds: float) -> dict:
    from wasm_torch import zoo
    import onnxruntime as ort

    z = zoo.get(name)
    model, inputs = z.model, z.inputs
    entry: dict = {"name": name, "flops": count_flops(model, inputs), "torch": {}, "ort": {}}
    onnx_path = os.path.join(zoo_dir, f"{name}.onnx")
    err = None if os.path.exists(onnx_path) else export_onnx(model, inputs, z, onnx_path)
    if err:
        entry["ort_error"] = err
    else:
        entry["onnx"] = os.path.basename(onnx_path)
    feeds_np = [x.numpy() for x in inputs]
    for n in threads:
        torch.set_num_threads(n)
        with torch.inference_mode():
            entry["torch"][str(n)] = median_ms(lambda: model(*inputs), min_runs, seconds)
        if err:
            continue
        so = ort.SessionOptions()
        so.intra_op_num_threads = n
        so.inter_op_num_threads = 1
        try:
            sess = ort.InferenceSession(onnx_path, so, providers=["CPUExecutionProvider"])
            feed = {i.name: a for i, a in zip(sess.get_inputs(), feeds_np)}
            entry["ort"][str(n)] = median_ms(lambda: sess.run(None, feed), min_runs, seconds)
        except Exception as e:
            entry["ort_error"] = f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"
    return entry


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--zoo", required=True, help="zoo directory (build_zoo.py --out)")
    ap.add_argument("--out", required=True, help="JSON file to write")
    ap.add_argument("--models", nargs="*")
    ap.add_argument("--threads", nargs="*", type=int, default=[1, 2])
    ap.add_argument("--min-runs", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=3.0)
    args = ap.parse_args()

    from wasm_torch import zoo

    results = []
    for name in zoo.names(args.models):
        if name == "data_dependent":  # scripted-only toy model: nothing to compare against
            continue
        e = bench_model(name, args.zoo, args.threads, args.min_runs, args.seconds)
        t = "  ".join(f"torch {k}t {v['median_ms']:.2f} ms" for k, v in e["torch"].items())
        o = "  ".join(f"ort {k}t {v['median_ms']:.2f} ms" for k, v in e["ort"].items())
        print(f"{name:20s} {e['flops'] / 1e9:7.3f} GFLOP  {t}  {o}  {e.get('ort_error', '')}", flush=True)
        results.append(e)
    info = {"torch": torch.__version__, "onnxruntime": __import__("onnxruntime").__version__,
            "numpy": np.__version__, "cpu_count": os.cpu_count()}
    with open(args.out, "w") as f:
        json.dump({"versions": info, "models": results}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
