"""``python -m wasm_torch export | diff | inspect``.

Models are given as ``module:factory`` (a callable returning an nn.Module, an
``(module, example_inputs)`` pair or a ``wasm_torch.zoo.ZooModel``), ``zoo:NAME`` (the
exporter's test zoo), or a file: ``.pt``/``.pth`` TorchScript archives (torch.jit.save) and
``.pt2`` ExportedPrograms (torch.export.save).

Inputs are ``.npy`` files or ``SHAPE[:DTYPE]`` specs such as ``1x3x224x224`` or
``2x128:i64`` (random values from a fixed seed: floats ~ N(0, 1), ints in [0, --int-high)).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

_DTYPES = {
    "f32": "float32",
    "f16": "float16",
    "f64": "float64",
    "i64": "int64",
    "i32": "int32",
    "i8": "int8",
    "u8": "uint8",
    "bool": "bool",
}


def parse_input(spec: str, rng: np.random.Generator, int_high: int) -> Any:
    """A ``.npy`` path or ``SHAPE[:DTYPE]`` -> a torch tensor."""
    import torch

    if spec.endswith(".npy"):
        return torch.from_numpy(np.load(spec))
    shape_s, _, dt = spec.partition(":")
    dt = dt or "f32"
    if dt not in _DTYPES:
        raise SystemExit(f"unknown dtype '{dt}' in input spec '{spec}' (use one of {', '.join(_DTYPES)})")
    try:
        shape = [int(s) for s in shape_s.lower().split("x")] if shape_s else []
    except ValueError:
        raise SystemExit(f"bad input spec '{spec}': expected e.g. 1x3x224x224:f32 or a .npy file") from None
    if dt in ("f32", "f16", "f64"):
        a = rng.standard_normal(shape).astype(_DTYPES[dt])
    elif dt == "bool":
        a = rng.integers(0, 2, shape).astype(bool)
    else:
        a = rng.integers(0, int_high, shape).astype(_DTYPES[dt])
    return torch.from_numpy(np.ascontiguousarray(a))


def load_model(spec: str) -> Tuple[Any, Optional[Tuple[Any, ...]], dict]:
    """Returns (model, example inputs or None, extra export kwargs)."""
    import torch

    if spec.startswith("zoo:"):
        from . import zoo

        z = zoo.get(spec[4:])
        extra: Dict[str, Any] = {"input_names": z.input_names, "output_names": z.output_names}
        if z.frontends == ("script",):
            extra["frontend"] = "script"
        return z.model, z.inputs, extra
    if os.path.exists(spec):
        if spec.endswith(".pt2"):
            return torch.export.load(spec), None, {}
        return torch.jit.load(spec, map_location="cpu"), None, {}
    if ":" not in spec:
        raise SystemExit(f"model '{spec}' is neither a file nor module:factory nor zoo:NAME")
    mod_name, _, attr = spec.partition(":")
    sys.path.insert(0, os.getcwd())
    obj = getattr(importlib.import_module(mod_name), attr)
    made = obj() if callable(obj) and not isinstance(obj, torch.nn.Module) else obj
    if hasattr(made, "model") and hasattr(made, "inputs"):
        return made.model, made.inputs, {"input_names": made.input_names, "output_names": made.output_names}
    if isinstance(made, tuple) and len(made) == 2:
        return made[0], tuple(made[1]) if isinstance(made[1], (list, tuple)) else (made[1],), {}
    return made, None, {}


def _inputs(args: argparse.Namespace, default: Optional[Tuple[Any, ...]]) -> Tuple[Any, ...]:
    rng = np.random.default_rng(args.seed)
    if args.input:
        return tuple(parse_input(s, rng, args.int_high) for s in args.input)
    if default is None:
        raise SystemExit("this model needs example inputs: pass --input SHAPE[:DTYPE] or --input x.npy")
    return default


def cmd_export(args: argparse.Namespace) -> int:
    """``export MODEL OUT.wtb``: export the model and verify it against PyTorch, printing the report.

    Args:
        args: the parsed ``export`` arguments (model, output, inputs, front end, weights, ...).

    Returns:
        The exit code: 0 when the file was written (and verified), 2 when the export failed
        (:class:`ExportError`, every problem printed), 3 when verification failed.
    """
    from . import export
    from .errors import ExportError, VerificationError

    model, default, extra = load_model(args.model)
    inputs = _inputs(args, default)
    kw = dict(extra)
    if args.frontend:
        kw["frontend"] = args.frontend
    if args.input_names:
        kw["input_names"] = args.input_names.split(",")
    if args.output_names:
        kw["output_names"] = args.output_names.split(",")
    try:
        report = export(
            model, inputs, args.output, weights=args.weights, verify=not args.no_verify, tolerance=args.tolerance, **kw
        )
    except ExportError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except VerificationError as e:
        print(f"error: {e}", file=sys.stderr)
        if e.report is not None:
            print(e.report.summary(), file=sys.stderr)
        return 3
    print(report.summary())
    return 0


def cmd_inspect(args: argparse.Namespace) -> int:
    """``inspect FILE``: print the file's signature and chunk statistics as JSON.

    Args:
        args: the parsed ``inspect`` arguments (``file``).

    Returns:
        0; a file the interpreter refuses raises :class:`NativeError` instead.
    """
    from . import _native, load

    sess = load(args.file)
    info = dict(_native.file_info(args.file))
    out = {
        "file": args.file,
        "size": os.path.getsize(args.file),
        "inputs": [{"name": s.name, "dtype": s.dtype, "shape": list(s.shape)} for s in sess.inputs],
        "outputs": [{"name": s.name, "dtype": s.dtype, "shape": list(s.shape)} for s in sess.outputs],
        "chunks": info,
    }
    print(json.dumps(out, indent=2))
    return 0


def cmd_diff(args: argparse.Namespace) -> int:
    """``diff FILE MODEL``: find the first op whose interpreter output diverges from PyTorch.

    The model is lowered again and its graph evaluated op by op with PyTorch; each value is
    compared with the interpreter's trace of the file in execution order, and the first one
    off by more than ``--tolerance`` (relative to its largest magnitude) is printed with its
    op and Python source line.

    Args:
        args: the parsed ``diff`` arguments (file, model, inputs, front end, tolerance).

    Returns:
        The exit code: 0 when every compared value is within the tolerance, 1 at a divergence.
    """
    from . import _export, _passes, load
    from ._reference import evaluate

    model, default, extra = load_model(args.model)
    inputs = _inputs(args, default)
    sess = load(args.file)
    frontend = args.frontend or extra.get("frontend", "auto")
    graph, used, _ = _export.build_graph(model, inputs, frontend, None, None, None)
    _passes.run_all(graph)
    ref_outs, ref_trace = evaluate(graph, inputs)
    ref = {name: v for name, v in ref_trace}
    outs, trace = sess.trace(*inputs)
    print(f"{args.file}: front end '{used}', {len(trace)} traced values, {len(ref)} PyTorch values")
    compared = 0
    for name, got in trace:
        want = ref.get(name)
        if want is None:
            continue
        want_np = want.detach().cpu().numpy()
        compared += 1
        if want_np.shape != got.shape:
            print(f"first divergence at '{name}': shape {list(got.shape)} vs PyTorch {list(want_np.shape)}")
            return _where(graph, name)
        if want_np.dtype.kind in "fc":
            diff = np.abs(want_np.astype(np.float64) - got.astype(np.float64))
            scale = max(float(np.abs(want_np).max()) if want_np.size else 0.0, 1e-12)
            err = float(diff.max()) / scale if diff.size else 0.0
            if not err <= args.tolerance:
                print(
                    f"first divergence at '{name}': max abs err {float(diff.max()):.4g}, "
                    f"relative {err:.4g} > {args.tolerance:g}"
                )
                return _where(graph, name)
        elif not np.array_equal(want_np, got):
            print(f"first divergence at '{name}': {int((want_np != got).sum())} elements differ")
            return _where(graph, name)
    print(f"no divergence: {compared} values compared within {args.tolerance:g} relative error")
    return 0


def _where(graph: Any, name: str) -> int:
    from ._graph import Node, iter_nodes

    for n in iter_nodes(graph.block):
        if isinstance(n, Node) and any(o.name == name for o in n.outputs):
            print(f"  op: {n.op}")
            if n.source:
                print(f"  at: {n.source}")
    return 1


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m wasm_torch``, one subcommand per ``cmd_*`` function.

    Returns:
        The parser; each subcommand sets ``func`` to the function that runs it.
    """
    ap = argparse.ArgumentParser(
        prog="python -m wasm_torch", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = ap.add_subparsers(dest="cmd", required=True)

    def model_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("--input", "-i", action="append", help="SHAPE[:DTYPE] or a .npy file (repeat per input)")
        p.add_argument("--frontend", choices=["auto", "export", "trace", "script"])
        p.add_argument("--seed", type=int, default=0, help="seed for random inputs")
        p.add_argument("--int-high", type=int, default=100, help="random integer inputs are in [0, this)")

    e = sub.add_parser("export", help="export a model to .wtb and verify it against PyTorch")
    e.add_argument("model", help="module:factory, zoo:NAME, or a .pt/.pt2 file")
    e.add_argument("output", help="the .wtb file to write")
    model_args(e)
    e.add_argument("--weights", choices=["f32", "f16", "int8", "int4", "int8_g32"], default="f32")
    e.add_argument("--no-verify", action="store_true")
    e.add_argument("--tolerance", type=float)
    e.add_argument("--input-names")
    e.add_argument("--output-names")
    e.set_defaults(func=cmd_export)

    d = sub.add_parser("diff", help="run PyTorch and the interpreter side by side; report the first op that diverges")
    d.add_argument("file", help="the .wtb file")
    d.add_argument("model", help="the model it was exported from (module:factory, zoo:NAME, .pt/.pt2)")
    model_args(d)
    d.add_argument("--tolerance", type=float, default=1e-4, help="relative error that counts as divergence")
    d.set_defaults(func=cmd_diff)

    s = sub.add_parser("inspect", help="print a .wtb file's signature and chunk statistics")
    s.add_argument("file")
    s.set_defaults(func=cmd_inspect)
    return ap


def main(argv: Optional[List[str]] = None) -> int:
    """Run the command line (the ``wasm-torch-export`` script and ``python -m wasm_torch``).

    Args:
        argv: the arguments without the program name; ``None`` reads ``sys.argv``.

    Returns:
        The subcommand's exit code (argparse exits with 2 on a usage error).
    """
    args = build_parser().parse_args(argv)
    return args.func(args)
