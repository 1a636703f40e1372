"""PyTorch's OpInfo database as an op-coverage measure for the interpreter.

For every OpInfo entry that supports float32 on CPU, the first sample input is wrapped in a
module (its tensors become the module's inputs, everything else constants), captured with
torch.export, exported with ``wasm_torch.export``, run natively and compared with PyTorch
(rtol 1e-4, atol 1e-5, NaN equal to NaN; integer and bool outputs exactly).

Each entry gets one status:

- ``covered``: the interpreter's outputs match PyTorch's.
- ``missing``: torch.export captured it but exporting, running or comparing failed (the reason
  says which).
- ``skipped``: not part of the measure, because torch.export itself cannot capture the sample,
  or the op is random by nature (two runs from different seeds differ), or PyTorch fails on its
  own sample.

The percentage is covered / (covered + missing). ``python opinfo_harness.py --out
docs/opinfo.md`` runs every entry and writes the per-entry table; test_opinfo.py checks a
deterministic sample of entries against that table in CI.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import signal
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Iterator, List, Optional, Tuple

import numpy as np
import torch

RTOL = 1e-4
ATOL = 1e-5
#: Seconds one entry may take (sample, capture, export, run) before it counts as missing.
ENTRY_TIMEOUT = 300


@dataclasses.dataclass
class Result:
    """One OpInfo entry's outcome."""

    name: str
    status: str  # covered | missing | skipped
    reason: str = ""
    #: The ops of the exported program (when export got that far).
    ops: Tuple[str, ...] = ()


def entry_name(op: Any) -> str:
    """The entry's unique name: OpInfo name plus its variant, as PyTorch's test ids spell it."""
    return f"{op.name}.{op.variant_test_name}" if op.variant_test_name else op.name


def float32_entries() -> List[Any]:
    """OpInfo entries supporting float32 on CPU, sorted by name (a stable order for sampling)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from torch.testing._internal.common_methods_invocations import op_db

    ops = [op for op in op_db if torch.float32 in op.supported_dtypes("cpu")]
    return sorted(ops, key=entry_name)


def _short(e: BaseException, limit: int = 110) -> str:
    lines = [ln.strip() for ln in str(e).strip().splitlines() if ln.strip()]
    text = f"{type(e).__name__}: {lines[0] if lines else ''}"
    text = text.replace("|", "/").replace("`", "'")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _missing_ops(e: BaseException) -> Optional[str]:
    """'not implemented: aten::x, aten::y' when the exporter's error names missing ops."""
    problems = getattr(e, "problems", None)
    if not problems:
        return None
    ops = []
    for p in problems:
        text = getattr(p, "message", str(p))
        if "is not implemented by the interpreter" in text:
            ops.append(text.split()[1])
    if ops:
        return "no kernel: " + ", ".join(ops)
    first = str(getattr(problems[0], "message", problems[0])).strip().splitlines()
    return "export: " + _short(RuntimeError(first[0] if first else ""))[len("RuntimeError: ") :]


class _Template:
    """A sample's arguments with each tensor replaced by its index among the module inputs."""

    def __init__(self, value: Any):
        self.tensors: List[torch.Tensor] = []
        self.value = self._strip(value)

    def _strip(self, v: Any) -> Any:
        if isinstance(v, torch.Tensor):
            self.tensors.append(v.detach().clone())
            return _Slot(len(self.tensors) - 1)
        if isinstance(v, (list, tuple)):
            out = [self._strip(x) for x in v]
            return out if isinstance(v, list) else tuple(out)
        if isinstance(v, dict):
            return {k: self._strip(x) for k, x in v.items()}
        return v

    def fill(self, tensors: Tuple[torch.Tensor, ...]) -> Any:
        def put(v: Any) -> Any:
            if isinstance(v, _Slot):
                return tensors[v.index]
            if isinstance(v, (list, tuple)):
                out = [put(x) for x in v]
                return out if isinstance(v, list) else tuple(out)
            if isinstance(v, dict):
                return {k: put(x) for k, x in v.items()}
            return v

        return put(self.value)


@dataclasses.dataclass(frozen=True)
class _Slot:
    index: int


class SampleModule(torch.nn.Module):
    """Calls one OpInfo op on one sample: tensors arrive as inputs, the rest is fixed."""

    def __init__(self, fn: Callable[..., Any], template: _Template):
        super().__init__()
        self.fn = fn
        self.template = template

    def forward(self, *tensors: torch.Tensor) -> Any:
        inp, args, kwargs = self.template.fill(tensors)
        return self.fn(inp, *args, **kwargs)


def _flatten(out: Any) -> List[Any]:
    if isinstance(out, (list, tuple)):
        return [x for o in out for x in _flatten(o)]
    return [out]


def _same(a: List[Any], b: List[Any]) -> bool:
    if len(a) != len(b):
        return False
    for x, y in zip(a, b):
        if not (isinstance(x, torch.Tensor) and isinstance(y, torch.Tensor)):
            if x != y:
                return False
            continue
        if x.shape != y.shape or x.dtype != y.dtype:
            return False
        x, y = x.detach(), y.detach()
        if x.is_floating_point():
            x, y = torch.nan_to_num(x), torch.nan_to_num(y)
        if not torch.equal(x, y):
            return False
    return True


def compare(ref: List[torch.Tensor], got: List[np.ndarray]) -> Optional[str]:
    """None when every output matches; otherwise a short description of the first mismatch."""
    if len(ref) != len(got):
        return f"{len(got)} outputs, PyTorch has {len(ref)}"
    for i, (r, g) in enumerate(zip(ref, got)):
        try:
            r_np = r.detach().cpu().resolve_conj().resolve_neg().numpy()
        except TypeError:
            return f"output {i}: PyTorch's dtype {r.dtype} is not supported"
        if tuple(r_np.shape) != tuple(g.shape):
            return f"output {i}: shape {tuple(g.shape)}, PyTorch {tuple(r_np.shape)}"
        if r_np.dtype != g.dtype:
            return f"output {i}: dtype {g.dtype}, PyTorch {r_np.dtype}"
        if r_np.dtype.kind in "fc":
            ok = np.isclose(g, r_np, rtol=RTOL, atol=ATOL, equal_nan=True)
            if not ok.all():
                err = np.abs(g.astype(np.float64) - r_np.astype(np.float64))
                return f"output {i}: {int((~ok).sum())} of {ok.size} values differ (max abs {np.nanmax(err):.3g})"
        elif not np.array_equal(g, r_np):
            return f"output {i}: {int((g != r_np).sum())} of {g.size} values differ"
    return None


class _Timeout(Exception):
    pass


@contextlib.contextmanager
def _deadline(seconds: int) -> Iterator[None]:
    def fire(signum: int, frame: Any) -> None:
        raise _Timeout(f"took more than {seconds} s")

    old = signal.signal(signal.SIGALRM, fire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def _run_eager(fn: Callable[..., Any], template: _Template, seed: int) -> Any:
    torch.manual_seed(seed)
    with torch.no_grad():
        return SampleModule(fn, template)(*[t.clone() for t in template.tensors])


def run_entry(op: Any, workdir: str) -> Result:
    """Measure one OpInfo entry (see the module docstring for the statuses)."""
    import wasm_torch

    name = entry_name(op)
    try:
        with _deadline(ENTRY_TIMEOUT):
            return _run_entry(op, name, workdir, wasm_torch)
    except _Timeout as e:
        return Result(name, "missing", str(e))
    except Exception as e:  # anything the steps above did not expect: the entry fails
        return Result(name, "missing", "error: " + _short(e))


#: Entries whose output is uninitialized memory: any values are right, so none can be compared.
UNINITIALIZED = {"empty", "empty_like", "empty_permuted", "empty_strided", "new_empty", "new_empty_strided"}


def _run_entry(op: Any, name: str, workdir: str, wasm_torch: Any) -> Result:
    if op.name in UNINITIALIZED:
        return Result(name, "skipped", "random by nature (the output is uninitialized memory)")
    try:
        sample = next(iter(op.sample_inputs("cpu", torch.float32, requires_grad=False)))
    except StopIteration:
        return Result(name, "skipped", "OpInfo has no float32 sample")
    except Exception as e:
        return Result(name, "skipped", "sample generation fails: " + _short(e))
    template = _Template((sample.input, tuple(sample.args), dict(sample.kwargs)))
    fn = op.op
    try:
        first = _flatten(_run_eager(fn, template, 0))
        second = _flatten(_run_eager(fn, template, 1))
    except Exception as e:
        return Result(name, "skipped", "PyTorch fails on the sample: " + _short(e))
    if not _same(first, second):
        return Result(name, "skipped", "random by nature (output depends on the seed)")
    inputs = tuple(t.clone() for t in template.tensors)
    module = SampleModule(fn, template).eval()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.manual_seed(0)
            ep = torch.export.export(module, inputs, strict=False)
    except Exception as e:
        return Result(name, "skipped", "torch.export cannot capture: " + _short(e))
    seeded = sorted(
        {
            str(n.target)
            for n in ep.graph.nodes
            if n.op == "call_function" and torch.Tag.nondeterministic_seeded in getattr(n.target, "tags", ())
        }
    )
    if seeded:
        # OpInfo fixes the seed inside some random ops' wrappers; they are random all the same.
        return Result(name, "skipped", "random by nature (" + ", ".join(seeded) + ")")
    if any(not isinstance(o, torch.Tensor) for o in first):
        return Result(name, "missing", "returns non-tensor outputs")
    path = os.path.join(workdir, "entry.wtb")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            report = wasm_torch.export(ep, inputs, path, frontend="export", verify=False)
    except Exception as e:
        return Result(name, "missing", _missing_ops(e) or "export: " + _short(e))
    ops = tuple(sorted(report.ops))
    try:
        got = wasm_torch.load(path).run(*[t.clone() for t in inputs])
    except Exception as e:
        return Result(name, "missing", "run: " + _short(e), ops)
    bad = compare(first, got)
    if bad:
        return Result(name, "missing", "wrong result: " + bad, ops)
    return Result(name, "covered", "", ops)


def measure(ops: List[Any], progress: bool = False) -> List[Result]:
    """Run every entry in ``ops`` (in one temporary directory)."""
    results = []
    with tempfile.TemporaryDirectory() as d:
        for i, op in enumerate(ops):
            t = time.time()
            r = run_entry(op, d)
            results.append(r)
            if progress:
                print(f"[{i + 1}/{len(ops)}] {r.name}: {r.status} {r.reason} ({time.time() - t:.2f} s)", flush=True)
    return results


def summary(results: List[Result]) -> Tuple[int, int]:
    """(covered, covered + missing)."""
    covered = sum(r.status == "covered" for r in results)
    return covered, covered + sum(r.status == "missing" for r in results)


def render(results: List[Result]) -> str:
    """docs/opinfo.md: the measure, then one row per entry."""
    covered, total = summary(results)
    skipped = sum(r.status == "skipped" for r in results)
    pct = 100.0 * covered / total if total else 0.0
    lines = [
        "# OpInfo coverage",
        "",
        "Generated by `scripts/gen-opinfo-doc.sh` (py-export/tests/opinfo_harness.py) from PyTorch's",
        f"OpInfo database (torch {torch.__version__.split('+')[0]}). Do not edit by hand. Every entry that",
        "supports float32 on CPU: its first sample input wrapped in a module, captured with",
        "torch.export, exported, run natively and compared with PyTorch (rtol 1e-4, atol 1e-5;",
        "integer and bool outputs exactly). Skipped entries (torch.export cannot capture the",
        "sample, or the op is random) are not counted.",
        "",
        f"- Entries: **{len(results)}** ({skipped} skipped)",
        f"- OpInfo coverage: **{covered} of {total} ({pct:.1f}%)**",
        "",
        "| entry | status | reason |",
        "|---|---|---|",
    ]
    lines += [f"| `{r.name}` | {r.status} | {r.reason} |" for r in results]
    return "\n".join(lines) + "\n"


def parse(text: str) -> dict:
    """Entry name -> (status, reason) from a rendered docs/opinfo.md."""
    table = {}
    for line in text.splitlines():
        if line.startswith("| `"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            table[cells[0].strip("`")] = (cells[1], cells[2] if len(cells) > 2 else "")
    return table


def sample_for_ci(ops: List[Any], stride: int) -> List[Any]:
    """Every ``stride``-th entry of the sorted list: the same entries on every run."""
    return ops[::stride]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, help="write the per-entry table here (docs/opinfo.md)")
    parser.add_argument("--only", nargs="*", help="run only these entry names")
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--range", nargs=2, type=int, metavar=("START", "STOP"), help="run entries START..STOP only")
    parser.add_argument("--merge", nargs="*", type=Path, help="render --out from these --json files instead of running")
    parser.add_argument("--json", type=Path, help="also write the results (with each program's ops) as JSON")
    parser.add_argument(
        "--hide-ops",
        nargs="*",
        default=[],
        help="measure as if the interpreter lacked these ops (e.g. to compare with an older build)",
    )
    args = parser.parse_args()
    if args.hide_ops:
        from wasm_torch import _native

        real = _native.supported_ops
        hidden = set(args.hide_ops)
        _native.supported_ops = lambda: [op for op in real() if op not in hidden]
    torch.set_num_threads(1)
    t0 = time.time()
    if args.merge:
        # Later files win: re-measured entries replace earlier results.
        merged = {
            r["name"]: Result(**{**r, "ops": tuple(r["ops"])}) for f in args.merge for r in json.loads(f.read_text())
        }
        results = [merged[k] for k in sorted(merged)]
    else:
        ops = float32_entries()
        if args.only:
            ops = [op for op in ops if entry_name(op) in set(args.only)]
        if args.range:
            ops = ops[args.range[0] : args.range[1]]
        results = measure(ops, progress=not args.quiet)
    covered, total = summary(results)
    pct = 100.0 * covered / total if total else 0.0
    print(f"OpInfo coverage: {covered}/{total} = {pct:.1f}% ({len(results)} entries, {time.time() - t0:.0f} s)")
    if args.json:
        args.json.write_text(json.dumps([dataclasses.asdict(r) for r in results], indent=1))
    if args.out:
        args.out.write_text(render(results))
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
