"""Scalar (int/float/bool) model inputs, format 1.1: TorchScript script and trace, torch.export
(SymInt and specialized), defaults that callers and example inputs may omit, and the typed
errors for values that do not fit. Every result is compared exactly with PyTorch (the graphs
are additions and multiplications by small powers of two on f32 inputs: PyTorch and the
interpreter round the same way).
"""

from __future__ import annotations

import struct
import warnings

import numpy as np
import pytest
import torch
import wasm_torch
from torch.export import Dim
from wasm_torch import InputError


class Loop(torch.nn.Module):
    """Loops on an int, adds a float, branches on a bool: all with defaults."""

    def forward(self, x: torch.Tensor, n: int = 3, a: float = 0.5, neg: bool = False) -> torch.Tensor:
        for _ in range(n):
            x = x * 2 + a
        if neg:
            x = -x
        return x


class LoopNoDefault(torch.nn.Module):
    """An int without default that feeds both a loop and an op's Scalar argument."""

    def forward(self, x: torch.Tensor, n: int, scale: float = 0.25) -> torch.Tensor:
        acc = torch.zeros_like(x)
        for i in range(n):
            acc = acc + x * i
        return acc * scale + n


class SymIntModel(torch.nn.Module):
    """An int torch.export can keep dynamic: it sizes a tensor and scales the input."""

    def forward(self, x: torch.Tensor, n: int) -> torch.Tensor:
        return x * n + torch.arange(n, dtype=torch.float32).sum()


X = torch.tensor([1.0, -2.0, 0.25, 3.5])


def export(model, inputs, path, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return wasm_torch.export(model, inputs, path, **kw)


def same(sess, model, *args, **named):
    got = sess.run(*args, **named)[0]
    ref = model(*[a if not isinstance(a, np.ndarray) else torch.from_numpy(a) for a in args], **named)
    np.testing.assert_array_equal(got, ref.numpy())


def file_minor(path) -> int:
    with open(path, "rb") as f:
        return struct.unpack("<HH", f.read(12)[8:12])[1]


@pytest.mark.parametrize("how", ["script-module", "scripted-first"])
def test_script_loops_on_scalar_inputs_for_many_values(how, wtb):
    m = Loop()
    model = torch.jit.script(m) if how == "scripted-first" else m
    report = export(model, (X, 2, 0.75, True), wtb, frontend="script")
    assert report.verified
    assert file_minor(wtb) == 1
    s = wasm_torch.load(wtb)
    assert [str(i) for i in s.inputs] == ["x: f32[4]", "n: int = 3", "a: float = 0.5", "neg: bool = False"]
    for n in (0, 1, 2, 5, 9):
        for a in (0.5, -1.25, 3.0):
            for neg in (False, True):
                same(s, m, X, n, a, neg)
    # Defaults, positional and by name; numpy and torch 0-d values.
    same(s, m, X)
    same(s, m, X, 4)
    same(s, m, X, neg=True)
    same(s, m, X, a=0.0)
    got = s.run(X, np.int64(2), np.float64(0.25), np.bool_(True))[0]
    np.testing.assert_array_equal(got, m(X, 2, 0.25, True).numpy())
    got = s.run(X, torch.tensor(3), torch.tensor(1.5, dtype=torch.float64), torch.tensor(False))[0]
    np.testing.assert_array_equal(got, m(X, 3, 1.5, False).numpy())
    # A Python int for a float argument is a float, as in Python.
    np.testing.assert_array_equal(s.run(X, 2, 1)[0], m(X, 2, 1.0).numpy())


def test_example_inputs_may_omit_defaults(wtb):
    m = Loop()
    export(m, (X,), wtb, frontend="script")
    s = wasm_torch.load(wtb)
    assert [i.has_default for i in s.inputs] == [False, True, True, True]
    for n in (0, 3, 6):
        same(s, m, X, n)


def test_script_int_without_default(wtb):
    m = LoopNoDefault()
    export(m, (X, 4), wtb, frontend="script")
    s = wasm_torch.load(wtb)
    assert s.inputs[1].scalar == "int" and not s.inputs[1].has_default
    for n in (0, 1, 4, 7):
        for scale in (0.25, 2.0):
            same(s, m, X, n, scale)
    with pytest.raises(InputError, match=r"missing input 'n' \(it has no default\)"):
        s.run(X)


@pytest.mark.parametrize("example", [(X, 2, 0.25), (X, 4, 0.5, True), (X,)], ids=["n2", "n4-neg", "defaults"])
def test_trace_fixes_scalars_to_the_traced_values(example, wtb):
    m = Loop()
    report = export(m, example, wtb, frontend="trace")
    assert report.frontend == "trace" and report.verified
    s = wasm_torch.load(wtb)
    assert [i.scalar for i in s.inputs] == [None, "int", "float", "bool"]
    assert all(i.fixed for i in s.inputs[1:])
    full = tuple(example) + (3, 0.5, False)[len(example) - 1 :]
    np.testing.assert_array_equal(s.run(*example)[0], m(*full).numpy())
    np.testing.assert_array_equal(s.run(X)[0], m(*full).numpy())
    np.testing.assert_array_equal(s.run(*full)[0], m(*full).numpy())
    with pytest.raises(InputError, match=rf"input 'n' is fixed to {full[1]}"):
        s.run(X, full[1] + 1)
    # The native check agrees (bypassing the Python one): INVALID_INPUT, session usable.
    raw = [wasm_torch._session.raw_from_numpy(np.asarray(v)) for v in (X.numpy(), np.int64(full[1] + 1))]
    with pytest.raises(wasm_torch.NativeError, match=r"invalid_input.*input 'n' is fixed to"):
        s._native.run(raw)
    np.testing.assert_array_equal(s.run(X)[0], m(*full).numpy())


def test_export_specializes_plain_ints_and_keeps_symints(wtb, tmp_path):
    m = SymIntModel()
    # A plain int is baked in by torch.export: the file fixes it.
    export(m, (X, 3), wtb, frontend="export")
    s = wasm_torch.load(wtb)
    assert s.inputs[1].fixed and s.inputs[1].default == 3
    np.testing.assert_array_equal(s.run(X, 3)[0], m(X, 3).numpy())
    with pytest.raises(InputError, match="fixed to 3"):
        s.run(X, 4)
    # Marked dynamic it is a SymInt: one file for every value.
    dyn = str(tmp_path / "dyn.wtb")
    export(m, (X, 3), dyn, frontend="export", dynamic_shapes={"x": None, "n": Dim.DYNAMIC})
    s = wasm_torch.load(dyn)
    assert s.inputs[1].scalar == "int" and not s.inputs[1].fixed
    for n in (0, 1, 3, 10, 40):
        same(s, m, X, n)


def test_export_loop_with_defaults(wtb):
    m = Loop()
    export(m, (X, 2), wtb, frontend="export")
    s = wasm_torch.load(wtb)
    assert [str(i) for i in s.inputs] == [
        "x: f32[4]",
        "n: int == 2 (fixed)",
        "a: float == 0.5 (fixed)",
        "neg: bool == False (fixed)",
    ]
    same(s, m, X, 2)
    # Omitted, a fixed input takes the value the graph was specialized to (2), not Python's
    # default (3): that is the only value the file can compute.
    np.testing.assert_array_equal(s.run(X)[0], m(X, 2).numpy())


def test_bad_scalar_inputs_are_input_errors_and_the_session_stays_usable(wtb):
    m = Loop()
    export(m, (X, 2), wtb, frontend="script")
    s = wasm_torch.load(wtb)
    cases = [
        ((X, 1.5), r"input 'n' is an int, got float 1.5"),
        ((X, True), r"input 'n' is an int, got bool True"),
        ((X, 2, 0.5, 1.0), r"input 'neg' is a bool, got float 1.0"),
        ((X, 2, 0.5, 1), r"input 'neg' is a bool, got int 1"),
        ((X, 2, "0.5"), r"input 'a' is a float, got str"),
        ((X, torch.tensor([1, 2])), r"input 'n' is a scalar \(int\), not a tensor"),
        ((X, np.float32(2.0)), r"input 'n' is an int, got float32"),
        ((X, torch.tensor(2.0)), r"input 'n' is an int, got a 0-d float32 array"),
        ((X, 2**70), r"does not fit in 64 bits"),
        ((3.0,), r"input 'x' is a tensor \(x: f32\[4\]\), got float 3.0"),
        ((X, 1, 0.5, False, 7), r"takes 4 input\(s\)"),
        ((), r"missing input 'x'"),
    ]
    for args, pattern in cases:
        with pytest.raises(InputError, match=pattern):
            s.run(*args)
        same(s, m, X, 2)
    with pytest.raises(InputError, match="unexpected input"):
        s.run(X, m=3)
    with pytest.raises(InputError, match="both positionally and by name"):
        s.run(X, 2, n=3)
    assert issubclass(InputError, TypeError)


def test_unsupported_input_types_are_export_errors(wtb):
    class TakesList(torch.nn.Module):
        def forward(self, x: torch.Tensor, xs: list[int]) -> torch.Tensor:
            return x * len(xs)

    with pytest.raises(wasm_torch.ExportError, match="only tensors and int/float/bool scalars"):
        export(TakesList(), (X, [1, 2]), wtb, frontend="script")


def test_files_without_scalar_inputs_stay_1_0(wtb):
    export(torch.nn.ReLU(), (X,), wtb, frontend="export")
    assert file_minor(wtb) == 0
