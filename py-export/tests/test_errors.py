"""Error paths: every clear message the exporter promises, and the front-end choice rules."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn as nn
import wasm_torch
from wasm_torch import ExportError, VerificationError


# Two operators defined here, so the interpreter can never implement them (the test once used
# torch.special.bessel_j0/j1, until the special-function family made them supported).
@torch.library.custom_op("wasm_torch_test::frobnicate", mutates_args=())
def frobnicate(x: torch.Tensor) -> torch.Tensor:
    return x * 2


@frobnicate.register_fake
def _(x):
    return torch.empty_like(x)


@torch.library.custom_op("wasm_torch_test::defrobnicate", mutates_args=())
def defrobnicate(x: torch.Tensor) -> torch.Tensor:
    return x - 1


@defrobnicate.register_fake
def _(x):
    return torch.empty_like(x)


class TwoUnsupported(nn.Module):
    def forward(self, x):
        a = torch.ops.wasm_torch_test.frobnicate(x)  # op the interpreter does not implement
        b = torch.ops.wasm_torch_test.defrobnicate(x)  # a second one: both must be reported at once
        return a + b


class DataDependentShape(nn.Module):
    def forward(self, x):
        return torch.zeros(int(x.abs().max().item() * 10) + 1)


class DataDependentBranch(nn.Module):
    def forward(self, x):
        if x.sum() > 0:
            return x * 2
        return x - 1


class NonTensorOut(nn.Module):
    def forward(self, x):
        return x + 1, "label"


class IntOut(nn.Module):
    def forward(self, x):
        return x + 1, x.shape[0]


class Small(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.l = nn.Linear(8, 4)

    def forward(self, x):
        return torch.relu(self.l(x))


def test_unsupported_ops_all_listed_with_source_lines(wtb):
    with pytest.raises(ExportError) as ei:
        wasm_torch.export(TwoUnsupported(), (torch.randn(3, 4),), wtb, frontend="export")
    msg = str(ei.value)
    assert "frobnicate" in msg and "defrobnicate" in msg
    assert len(ei.value.problems) == 2
    assert all(p.source and "test_errors.py" in p.source for p in ei.value.problems)
    assert "torch.ops.wasm_torch_test.frobnicate(x)" in msg


def test_unsupported_ops_torchscript_source_lines(wtb):
    with pytest.raises(ExportError) as ei:
        wasm_torch.export(TwoUnsupported(), (torch.randn(3, 4),), wtb, frontend="trace")
    # Both unsupported ops, each with its source line (the add that consumes them is also
    # reported, as a value that could not be lowered).
    ops = [p for p in ei.value.problems if p.message.startswith("unsupported TorchScript op")]
    assert sorted(p.message.split("::")[1].rstrip("'") for p in ops) == ["defrobnicate", "frobnicate"]
    assert all(p.source and "test_errors.py" in p.source for p in ei.value.problems)


def test_data_dependent_shape_message(wtb):
    with pytest.raises(ExportError, match="data-dependent"):
        wasm_torch.export(DataDependentShape(), (torch.randn(4),), wtb, frontend="export")


def test_data_dependent_branch_message_suggests_script(wtb):
    with pytest.raises(ExportError, match="frontend='script'"):
        wasm_torch.export(DataDependentBranch(), (torch.randn(4),), wtb, frontend="export")


def test_data_dependent_branch_scripted_runs_both_branches(wtb):
    m = DataDependentBranch()
    wasm_torch.export(torch.jit.script(m), (torch.ones(4),), wtb)
    sess = wasm_torch.load(wtb)
    for x in (torch.ones(4), -torch.ones(4)):
        np.testing.assert_allclose(sess.run(x)[0], m(x).numpy(), rtol=1e-6)


@pytest.mark.parametrize("frontend", ["export", "trace"])
@pytest.mark.parametrize("model", [NonTensorOut(), IntOut()], ids=["str", "int"])
def test_non_tensor_output_message(model, frontend, wtb):
    with pytest.raises(ExportError, match="not a tensor|non-tensor"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            wasm_torch.export(model, (torch.randn(2, 3),), wtb, frontend=frontend)


def test_auto_falls_back_to_trace_without_torchscript_warning(wtb):
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        report = wasm_torch.export(DataDependentBranch(), (torch.ones(4),), wtb)
    assert report.frontend == "trace"
    assert report.fallback_reason and "data-dependent" in report.fallback_reason
    assert not [w for w in rec if issubclass(w.category, FutureWarning)], [str(w.message) for w in rec]


def test_torchscript_warning_shown_when_chosen(wtb):
    with pytest.warns(FutureWarning):
        wasm_torch.export(Small(), (torch.randn(2, 8),), wtb, frontend="trace")


def test_auto_prefers_torch_export(wtb):
    report = wasm_torch.export(Small(), (torch.randn(2, 8),), wtb)
    assert report.frontend == "export" and report.fallback_reason is None
    assert report.verified and report.ops.get("aten::linear.default") == 1


def test_verification_failure_raises_with_numbers(wtb):
    with pytest.raises(VerificationError) as ei:
        wasm_torch.export(Small(), (torch.randn(2, 8),), wtb, weights="int8", tolerance=0.0)
    assert "max abs err" in str(ei.value) and "tolerance" in str(ei.value)
    assert ei.value.report is not None and not ei.value.report.verified


@pytest.mark.parametrize("kw", [{"frontend": "onnx"}, {"weights": "int2"}])
def test_bad_arguments(kw, wtb):
    with pytest.raises(ValueError):
        wasm_torch.export(Small(), (torch.randn(2, 8),), wtb, **kw)


def test_exported_program_and_script_module_inputs(wtb):
    m = Small().eval()
    x = torch.randn(2, 8)
    ep = torch.export.export(m, (x,))
    assert wasm_torch.export(ep, (x,), wtb).frontend == "export"
    assert wasm_torch.export(torch.jit.trace(m, (x,)), (x,), wtb).frontend == "script"
    with pytest.raises(ValueError):
        wasm_torch.export(ep, (x,), wtb, frontend="trace")


def test_session_api_and_input_errors(wtb):
    m = Small().eval()
    x = torch.randn(2, 8)
    wasm_torch.export(m, (x,), wtb, input_names=["features"], output_names=["scores"])
    sess = wasm_torch.load(wtb)
    assert [(s.name, s.dtype, s.shape) for s in sess.inputs] == [("features", "f32", (2, 8))]
    assert [(s.name, s.dtype, s.shape) for s in sess.outputs] == [("scores", "f32", (2, 4))]
    ref = m(x).detach().numpy()
    np.testing.assert_allclose(sess.run(x)[0], ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(sess.run(x.numpy())[0], ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(sess.run(features=x)[0], ref, rtol=1e-5, atol=1e-6)
    with pytest.raises(TypeError, match="takes 1 input"):
        sess.run(x, x)
    with pytest.raises(Exception, match="invalid_input|shape"):
        sess.run(torch.randn(3, 8))
    with pytest.raises(Exception, match="bad_file|magic|truncated|invalid"):
        wasm_torch.load(b"not a wtb file")


def test_dynamic_batch_keeps_dim_name(wtb):
    m = Small().eval()
    batch = torch.export.Dim("batch", min=1, max=64)
    wasm_torch.export(m, (torch.randn(2, 8),), wtb, dynamic_shapes=({0: batch},))
    sess = wasm_torch.load(wtb)
    assert sess.inputs[0].shape == ("batch", 8)
    assert sess.outputs[0].shape == ("batch", 4)
    for b in (1, 5):
        x = torch.randn(b, 8)
        np.testing.assert_allclose(sess.run(x)[0], m(x).detach().numpy(), rtol=1e-5, atol=1e-6)
