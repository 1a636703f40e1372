"""Every zoo model through every front end PyTorch can capture it with, verified natively.

f32 must match PyTorch within 1e-4 of each output's scale. f16/int8 weights have their own
documented tolerances (wasm_torch.TOLERANCES) plus task-level checks: top-1 agreement for the
classifiers and cosine similarity for the MiniLM sentence embeddings.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import wasm_torch
from conftest import rel_err, torch_outputs, zoo_model
from wasm_torch import zoo
from wasm_torch.errors import ExportError

SLOW = {"efficientnet_b0", "minilm_seq128", "gpt2_6l_512"}


def _cases():
    # Front ends each model supports are declared in the zoo; built lazily to keep collection fast.
    table = {
        "resnet18": ("export", "trace"),
        "mobilenet_v3_small": ("export", "trace"),
        "squeezenet1_1": ("export", "trace"),
        "efficientnet_b0": ("export", "trace"),
        "vit_tiny": ("export", "trace"),
        "minilm_seq128": ("export", "trace"),
        "minilm_seq16": ("export", "trace"),
        "gpt2_6l_512": ("export", "trace"),
        "lstm2": ("export", "trace"),
        "data_dependent": ("script",),
    }
    assert set(table) == set(zoo.names()), "every zoo model must be covered"
    out = []
    for name, fes in table.items():
        for fe in fes:
            marks = [pytest.mark.slow] if name in SLOW else []
            out.append(pytest.param(name, fe, marks=marks, id=f"{name}-{fe}"))
    return out


@pytest.mark.parametrize("name,frontend", _cases())
def test_zoo_f32(name, frontend, wtb):
    z = zoo_model(name)
    report = wasm_torch.export(
        z.model, z.inputs, wtb, frontend=frontend, input_names=z.input_names, output_names=z.output_names
    )
    assert report.frontend == frontend
    assert report.verified
    assert len(report.outputs) == len(z.output_names)
    for o in report.outputs:
        assert o.max_rel_err <= 1e-4, (o.name, o.max_rel_err)
    # The same file on other inputs (other branches of data-dependent models).
    sess = wasm_torch.load(wtb)
    for inputs in z.extra_inputs:
        ref = torch_outputs(z.model, inputs)
        got = sess.run(*inputs)
        for r, g in zip(ref, got):
            assert rel_err(r, g) <= 1e-4


def test_zoo_data_dependent_is_rejected_by_torch_export(wtb):
    z = zoo_model("data_dependent")
    with pytest.raises(ExportError, match="data-dependent"):
        wasm_torch.export(z.model, z.inputs, wtb, frontend="export")


def _top1(x):
    return np.asarray(x).reshape(x.shape[0], -1).argmax(-1)


@pytest.mark.parametrize("weights", ["f16", "int8"])
@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v3_small"])
def test_vision_quantized(name, weights, wtb):
    """Tolerance: wasm_torch.TOLERANCES[weights] relative error and identical top-1 class."""
    z = zoo_model(name)
    report = wasm_torch.export(z.model, z.inputs, wtb, weights=weights, tolerance=z.tolerances[weights])
    assert report.verified
    ref = torch_outputs(z.model, z.inputs)[0]
    got = wasm_torch.load(wtb).run(*z.inputs)[0]
    assert (_top1(ref.numpy()) == _top1(got)).all()
    f32_size = sum(p.numel() * 4 for p in z.model.parameters())
    assert report.file_size < f32_size * (0.6 if weights == "f16" else 0.35)


@pytest.mark.parametrize("weights,min_cos", [("f16", 0.9999), ("int8", 0.99)])
def test_minilm_quantized(weights, min_cos, wtb):
    """MiniLM with f16/int8 weights: sentence embeddings keep cosine similarity >= min_cos with
    PyTorch's f32 embeddings, and each sentence's nearest neighbour (top-1) is unchanged."""
    z = zoo_model("minilm_seq16")
    wasm_torch.export(z.model, z.inputs, wtb, weights=weights, tolerance=z.tolerances[weights])
    ref = torch_outputs(z.model, z.inputs)[0].numpy()
    got = wasm_torch.load(wtb).run(*z.inputs)[0]
    cos = (ref * got).sum(-1) / (np.linalg.norm(ref, axis=-1) * np.linalg.norm(got, axis=-1))
    assert cos.min() >= min_cos, cos
    assert ((ref @ ref.T).argmax(-1) == (got @ ref.T).argmax(-1)).all()


@pytest.mark.slow
def test_minilm_dynamic_batch_and_seq(wtb):
    """torch.export Dim specs survive into the file by name; other sizes run and match."""
    z = zoo_model("minilm_seq16")
    batch = torch.export.Dim("batch", min=1, max=16)
    seq = torch.export.Dim("seq", min=2, max=256)
    wasm_torch.export(
        z.model,
        z.inputs,
        wtb,
        dynamic_shapes=({0: batch, 1: seq}, {0: batch, 1: seq}),
        input_names=z.input_names,
        output_names=z.output_names,
    )
    sess = wasm_torch.load(wtb)
    assert [s.shape for s in sess.inputs] == [("batch", "seq"), ("batch", "seq")]
    assert [s.shape for s in sess.outputs] == [("batch", 384), ("batch", "seq", 384)]
    g = torch.Generator().manual_seed(7)
    for b, n in ((1, 9), (3, 40)):
        ids = torch.randint(1000, 20000, (b, n), generator=g)
        mask = torch.ones(b, n, dtype=torch.int64)
        mask[-1, n // 2 :] = 0
        for r, o in zip(torch_outputs(z.model, (ids, mask)), sess.run(ids, mask)):
            assert rel_err(r, o) <= 1e-4


@pytest.mark.slow
def test_gpt2_int8_quantizes_conv1d_weights(wtb):
    """transformers' Conv1D weights ([in, out], used through addmm) are int8 per output column."""
    z = zoo_model("gpt2_6l_512")
    report = wasm_torch.export(z.model, z.inputs, wtb, weights="int8", tolerance=z.tolerances["int8"])
    assert report.verified
    f32_size = sum(p.numel() * 4 for p in z.model.parameters())
    assert report.file_size < f32_size * 0.3
    ref = torch_outputs(z.model, z.inputs)[0].numpy()[0]
    got = wasm_torch.load(wtb).run(*z.inputs)[0][0]
    assert (ref.argmax(-1) == got.argmax(-1)).mean() >= 0.9
