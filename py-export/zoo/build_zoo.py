#!/usr/bin/env python3
"""Build the model zoo: one .wtb per model plus example inputs and PyTorch's outputs as .npy.

    python py-export/zoo/build_zoo.py --out DIR [--models resnet18 minilm_seq16 ...]
        [--weights f32|f16|int8] [--frontend auto|export|trace|script] [--list]
    python py-export/zoo/build_zoo.py --missing-ops py-export/MISSING_OPS.md
    python py-export/zoo/build_zoo.py --catalog --out DIR [--models ...] [--runs N]

--catalog builds the tested zoo of catalog.py instead (f32, each entry's front end and
tolerance; entries whose weights package is missing are listed as skipped) and, with --runs,
times PyTorch eager and the native interpreter (medians, single-threaded PyTorch).

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
import statistics
import sys
import time
import traceback
import warnings
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import torch
import wasm_torch
from wasm_torch import zoo


def _median_ms(fn, runs: int, budget_s: float = 2.0) -> Tuple[float, int]:
    """Median wall time (ms) of up to ``runs`` calls after one warm-up call, and their number.

    Stops early once the timed calls took ``budget_s`` (at least one call): slow models get
    fewer runs so the CI stage stays short.
    """
    fn()
    times: List[float] = []
    while len(times) < runs and sum(times) < budget_s * 1e3:
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return round(statistics.median(times), 3), len(times)


def build_one(
    name: str,
    out: str,
    weights: str,
    frontend: str,
    z: Optional[zoo.ZooModel] = None,
    tol: Optional[float] = None,
    runs: int = 0,
) -> dict:
    z = z or zoo.get(name)
    # Models only scripting captures (data-dependent control flow) always use it.
    fe = "script" if frontend == "auto" and z.frontends == ("script",) else frontend
    path = os.path.join(out, f"{name}.wtb")
    if tol is None:
        tol = 1e-4 if weights == "f32" else z.tolerances[weights]
    t0 = time.time()
    entry: dict = {"name": name, "file": f"{name}.wtb", "weights": weights, "tolerance": tol}
    try:
        report = wasm_torch.export(
            z.model,
            z.inputs,
            path,
            frontend=fe,
            weights=weights,
            input_names=z.input_names,
            output_names=z.output_names,
            verify=False,
            model_name=name,
        )
    except Exception as e:  # keep building the rest; the manifest records why
        entry["error"] = f"{type(e).__name__}: {e}"
        return entry
    entry.update(
        frontend=report.frontend, file_size=report.file_size, ops=report.ops, export_seconds=round(time.time() - t0, 2)
    )
    sess = wasm_torch.load(path)
    entry["inputs"] = [{"name": s.name, "dtype": s.dtype, "shape": list(s.shape)} for s in sess.inputs]
    entry["outputs"] = [{"name": s.name, "dtype": s.dtype, "shape": list(s.shape)} for s in sess.outputs]
    cases = []
    worst = 0.0
    for k, inputs in enumerate([z.inputs, *z.extra_inputs]):
        with torch.no_grad():
            ref = wasm_torch._export._torch_outputs(z.model, inputs)
        case: Dict[str, Any] = {"inputs": [], "outputs": []}
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
    if runs and entry["verified"]:
        # The native interpreter (wasm_torch.load().run) and PyTorch eager on the export example.
        with torch.no_grad():
            entry["torch_ms"], entry["torch_runs"] = _median_ms(lambda: z.model(*z.inputs), runs)
        entry["native_ms"], entry["native_runs"] = _median_ms(lambda: sess.run(*z.inputs), runs)
    return entry


def build_catalog(names, out: str, runs: int) -> list:
    """Export, check and time every catalog entry (or the named ones); skipped ones say why."""
    import catalog

    # Single-threaded PyTorch, like the interpreter under RAYON_NUM_THREADS=1 and the wasm build
    # the page compares with: one core each, on a machine with two.
    torch.set_num_threads(1)
    entries = []
    for name in names or [e.name for e in catalog.CATALOG]:
        c = catalog.BY_NAME[name]
        meta = {"arch": c.arch, "family": c.family, "source": c.source, "weights_origin": c.weights}
        t0 = time.time()
        why = catalog.unavailable(c)
        if why:
            e = {"name": name, "skipped": why}
        else:
            try:
                # Tracer and config warnings of random small configs are noise in the CI log.
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    z = c.build()
                    e = build_one(name, out, "f32", c.frontend, z=z, tol=c.tolerance, runs=runs)
            except Exception as ex:
                e = {"name": name, "error": f"{type(ex).__name__}: {ex}", "traceback": traceback.format_exc()}
            flat = _constant_output(out, e)
            if flat:
                e["verified"] = False
                e["degenerate"] = f"PyTorch's output {flat} is constant, so comparing it checks nothing"
        e.update(meta, seconds=round(time.time() - t0, 1))
        entries.append(e)
        _print(e)
    return entries


def _constant_output(out: str, e: dict) -> Optional[str]:
    """Name of a floating-point output of the example case whose elements are all equal, if any.

    Random weights can leave a network's output independent of its input (a zero-initialized
    classifier, vanishing activations); such a model would match PyTorch while testing nothing.
    """
    for spec, f in zip(e.get("outputs", []), e.get("cases", [{}])[0].get("outputs", [])):
        a = np.load(os.path.join(out, f))
        if a.dtype.kind == "f" and a.size > 1 and float(a.max()) == float(a.min()):
            return spec["name"]
    return None


def _print(e: dict) -> None:
    if "skipped" in e:
        print(f"{e['name']:22s} SKIPPED  {e['skipped']}", flush=True)
        return
    status = (
        "ok" if e.get("verified") else ("ERROR" if "error" in e else "CONSTANT" if "degenerate" in e else "MISMATCH")
    )
    print(
        f"{e['name']:22s} {status:8s} {e.get('frontend', '-'):7s} {e.get('file_size', 0):>11} bytes  "
        f"max rel err {e.get('max_rel_err', float('nan')):.3g}  ({e['seconds']}s)",
        flush=True,
    )
    if "error" in e:
        print("   " + e["error"].replace("\n", "\n   ")[:2000], flush=True)


def missing_ops(names, path: str) -> int:
    """Write a markdown table of ops the interpreter lacks, per model and front end."""
    import collections

    from wasm_torch import _export, _native, _passes
    from wasm_torch._graph import Node, iter_nodes

    supported = set(_native.supported_ops())
    lines = [
        "# Ops the zoo needs that the interpreter does not implement",
        "",
        "Generated by `python py-export/zoo/build_zoo.py --missing-ops FILE`; counts are uses",
        "in the lowered graph (after folding).",
        "",
        "| model | front end | missing op | uses | first source line |",
        "|---|---|---|---|---|",
    ]
    total = 0
    for name in names:
        z = zoo.get(name)
        fes = z.frontends if z.frontends != ("script",) else ("script",)
        for fe in fes:
            try:
                g, used, _ = _export.build_graph(z.model, z.inputs, fe, None, None, None)
                _passes.run_all(g)
            except Exception as e:
                lines.append(f"| {name} | {fe} | (front end failed: {str(e).splitlines()[0][:120]}) | | |")
                continue
            counts: collections.Counter[str] = collections.Counter()
            where: Dict[str, str] = {}
            for n in iter_nodes(g.block):
                if isinstance(n, Node) and n.op not in _export._STRUCTURAL_PRIMS and n.op not in supported:
                    counts[n.op] += 1
                    where.setdefault(n.op, n.source or "")
            for op, c in counts.most_common():
                lines.append(f"| {name} | {fe} | `{op}` | {c} | {where[op].replace('|', '/')[:140]} |")
                total += 1
    if total == 0:
        lines.append("| (none) | | | | |")
    lines += [
        "",
        "Regenerate after interpreter changes. A missing op makes `wasm_torch.export` fail,",
        "naming every such op and its source line; the per-op parity tests",
        "(`py-export/tests/test_ops*.py`) fail on one too, they never skip.",
    ]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"{total} missing (model, front end, op) entries written to {path}")
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=False, help="output directory")
    ap.add_argument("--models", nargs="*", help="subset of models (default: all)")
    ap.add_argument("--weights", default="f32", choices=["f32", "f16", "int8"])
    ap.add_argument("--frontend", default="auto", choices=["auto", "export", "trace", "script"])
    ap.add_argument("--list", action="store_true", help="list the zoo and exit")
    ap.add_argument(
        "--catalog", action="store_true", help="build the tested zoo of catalog.py (f32, per-model tolerance)"
    )
    ap.add_argument("--runs", type=int, default=0, help="also time N native and PyTorch runs (medians)")
    ap.add_argument("--missing-ops", metavar="FILE", help="write the ops the interpreter lacks (markdown) and exit")
    args = ap.parse_args(argv)
    if args.missing_ops:
        return missing_ops(zoo.names(args.models), args.missing_ops)
    if args.list:
        print("\n".join(zoo.names()))
        return 0
    if not args.out:
        ap.error("--out is required")
    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(0)
    if args.catalog:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        entries = build_catalog(args.models, args.out, args.runs)
        return _write(args.out, entries, required=lambda e: "skipped" not in e, runs=args.runs)
    entries = []
    for name in zoo.names(args.models):
        t0 = time.time()
        try:
            e = build_one(name, args.out, args.weights, args.frontend)
        except Exception as ex:
            e = {"name": name, "error": f"{type(ex).__name__}: {ex}", "traceback": traceback.format_exc()}
        e["seconds"] = round(time.time() - t0, 1)
        entries.append(e)
        _print(e)
    return _write(args.out, entries, required=lambda e: True)


def _write(out: str, entries: list, required, **extra: Any) -> int:
    """Write manifest.json; status 1 if a required model failed to export or to match."""
    manifest = {"wasm_torch": wasm_torch.__version__, "torch": torch.__version__, **extra, "models": entries}
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
    return 0 if all(e.get("verified") for e in entries if required(e)) else 1


if __name__ == "__main__":
    sys.exit(main())
