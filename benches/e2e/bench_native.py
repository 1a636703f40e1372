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
import contextlib
import gc
import io
import json
import os
import re
import statistics
import subprocess
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


def rnn_flops(module: torch.nn.RNNBase, x: torch.Tensor) -> int:
    """FLOPs of one nn.LSTM/GRU/RNN call, which FlopCounterMode does not see.

    The fused ``aten::lstm``/``aten::gru`` ops are not in torch's flop registry, so the counter
    reports 0 for them. Per step, layer and direction, the gates are two matrix-vector products:
    2 * gates * hidden * (input + hidden) FLOPs (multiply-add = 2); the gate nonlinearities are
    ignored, as the counter ignores activations everywhere else.
    """
    gates = {"LSTM": 4, "GRU": 3}.get(module.mode, 1)
    steps, batch = (x.shape[1], x.shape[0]) if module.batch_first else (x.shape[0], x.shape[1])
    if x.dim() == 2:  # unbatched input
        steps, batch = x.shape[0], 1
    dirs = 2 if module.bidirectional else 1
    h = module.hidden_size
    total = 0
    for layer in range(module.num_layers):
        inp = module.input_size if layer == 0 else h * dirs
        total += dirs * 2 * gates * h * (inp + h)
    return int(total * steps * batch)


def count_flops(model, inputs) -> int:
    """Total FLOPs of one forward pass (multiply-add counted as 2), 0 where uncountable.

    torch's FlopCounterMode counts matmuls and convolutions; recurrent layers are added from
    their shapes (see ``rnn_flops``) through forward hooks.
    """
    from torch.utils.flop_counter import FlopCounterMode

    rnn_total = [0]
    hooks = [m.register_forward_hook(lambda mod, args, out: rnn_total.__setitem__(0, rnn_total[0] + rnn_flops(mod, args[0])))
             for m in model.modules() if isinstance(m, torch.nn.RNNBase)]
    try:
        with FlopCounterMode(display=False) as counter, torch.inference_mode():
            model(*inputs)
        return int(counter.get_total_flops()) + rnn_total[0]
    except Exception:  # scripted models and some custom ops are not countable
        return 0
    finally:
        for h in hooks:
            h.remove()


def export_onnx(model, inputs, names, path: str) -> tuple[str | None, str | None]:
    """Export to ONNX; returns (exporter used, error text).

    The legacy TorchScript exporter (opset 17) is tried first because its graphs are what
    onnxruntime-web users mostly ship. Models it cannot express (transformers' GPT-2 mask code
    uses aten::diff and a bool cumsum) go through the torch.export-based exporter (opset 18,
    needs onnxscript); the table names the exporter of every model, so nothing is hidden.
    """
    errors = []
    for exporter, kw in (("legacy-opset17", dict(dynamo=False, opset_version=17)),
                         ("dynamo-opset18", dict(dynamo=True, opset_version=18, external_data=False))):
        try:
            with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
                warnings.simplefilter("ignore")
                torch.onnx.export(model, tuple(inputs), path, input_names=list(names.input_names),
                                  output_names=list(names.output_names), **kw)
            return exporter, None
        except Exception as e:
            errors.append(f"{exporter}: {type(e).__name__}: {str(e).splitlines()[0][:160]}")
    return None, "; ".join(errors)


def _status_kib(field: str) -> int:
    """A VmRSS/VmHWM field of /proc/self/status, in KiB (Linux)."""
    return int(re.search(rf"{field}:\s+(\d+)", open("/proc/self/status").read()).group(1))


def rss_probe(name: str, runs: int) -> dict:
    """Resident memory of PyTorch running one model at one thread, in this (fresh) process.

    base: after importing torch and the zoo (the runtime alone); loaded: after building the
    model with its weights; peak_load: the high-water mark up to then; peak_infer: the
    high-water mark over `runs` inferences, after resetting it (writing 5 to
    /proc/self/clear_refs) so load-time transients do not count.
    """
    from wasm_torch import zoo

    torch.set_num_threads(1)
    base = _status_kib("VmRSS")
    z = zoo.get(name)
    gc.collect()
    loaded, peak_load = _status_kib("VmRSS"), _status_kib("VmHWM")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    with torch.inference_mode():
        for _ in range(runs):
            z.model(*z.inputs)
    mb = 1 / 1024
    return {"base_mb": base * mb, "loaded_mb": loaded * mb, "peak_load_mb": peak_load * mb,
            "peak_infer_mb": _status_kib("VmHWM") * mb}


def rss_in_child(name: str, runs: int) -> dict:
    """rss_probe in a fresh interpreter, so models do not share a high-water mark."""
    out = subprocess.run([sys.executable, __file__, "--rss-probe", name, "--rss-runs", str(runs)],
                         capture_output=True, text=True)
    if out.returncode != 0:
        return {"error": (out.stderr.strip().splitlines() or ["?"])[-1][:200]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def bench_model(name: str, zoo_dir: str, threads: list[int], min_runs: int, seconds: float,
                rss_runs: int = 10) -> dict:
    from wasm_torch import zoo
    import onnxruntime as ort

    z = zoo.get(name)
    model, inputs = z.model, z.inputs
    entry: dict = {"name": name, "flops": count_flops(model, inputs), "torch": {}, "ort": {}}
    onnx_path = os.path.join(zoo_dir, f"{name}.onnx")
    exporter_file = onnx_path + ".exporter"
    if os.path.exists(onnx_path) and os.path.exists(exporter_file):
        exporter, err = open(exporter_file).read().strip(), None
    else:
        exporter, err = export_onnx(model, inputs, z, onnx_path)
        if exporter:
            open(exporter_file, "w").write(exporter)
    if err:
        entry["ort_error"] = err
    else:
        entry["onnx"] = os.path.basename(onnx_path)
        entry["onnx_exporter"] = exporter
    entry["rss"] = rss_in_child(name, rss_runs)
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
    ap.add_argument("--zoo", help="zoo directory (build_zoo.py --out)")
    ap.add_argument("--out", help="JSON file to write")
    ap.add_argument("--rss-probe", metavar="MODEL", help="internal: print one model's rss_probe as JSON")
    ap.add_argument("--rss-runs", type=int, default=10, help="inferences for the memory probe")
    ap.add_argument("--models", nargs="*")
    ap.add_argument("--threads", nargs="*", type=int, default=[1, 2])
    ap.add_argument("--min-runs", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=3.0)
    args = ap.parse_args()
    if args.rss_probe:
        print(json.dumps(rss_probe(args.rss_probe, args.rss_runs)))
        return 0
    if not (args.zoo and args.out):
        ap.error("--zoo and --out are required")

    from wasm_torch import zoo

    results = []
    for name in zoo.names(args.models):
        if name == "data_dependent":  # scripted-only toy model: nothing to compare against
            continue
        e = bench_model(name, args.zoo, args.threads, args.min_runs, args.seconds, args.rss_runs)
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
