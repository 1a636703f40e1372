"""torchao group-wise int4 weights keep their own codes in the ``.wtb``, code for code.

torchao 0.18's ``IntxWeightOnlyConfig(weight_dtype=torch.int4, granularity=PerGroup(g))`` and
``Int8DynamicActivationIntxWeightConfig(weight_dtype=torch.int4, weight_granularity=PerGroup(g))``
give each Linear an ``IntxUnpackedToInt8Tensor``: int4 codes in ``[-8, 7]`` one per byte, a
scale and a zero point per group of ``g`` inputs. The file stores them in the group-wise
int4 format (SPEC.md §4.6.1: 4-bit codes, f16 scales, f16 offsets when a zero point is not
0), read back here with ``_native.stored_tensor`` and compared byte for byte with what
torchao's own fields give, and the weights stay int4 in memory.

The format's scales and offsets are float16, so the weights are taken only when they are
exactly representable (``scale_dtype=torch.float16``; torchao's default f32 scales are an
ExportError naming the module, never a silent rounding).

Tolerances (relative: max |error| / max |reference|, plus cosine of the flattened output):

- against the model computing in f32 on the exact dequantized weights (what ``verify``
  compares with): ``≤ 1e-5`` relative. The int4 kernels expand the codes to f32 and keep
  activations f32, so only the summation order differs;
- against torchao's own quantized module: the same for weight-only (torchao computes
  ``linear(x, dequantize(w))``), and cosine ``≥ 0.999`` with relative ``≤ 0.05`` for
  ``Int8DynamicActivationIntxWeightConfig``, which also rounds each activation row to
  int8 (the file keeps activations f32).
"""

from __future__ import annotations

import copy

import conftest
import numpy as np
import pytest
import torch
import wasm_torch
from wasm_torch import _native
from wasm_torch.errors import ExportError

pytest.importorskip("torchao.quantization", reason="torchao is not installed")
from torchao.quantization import (  # noqa: E402
    Int8DynamicActivationIntxWeightConfig,
    IntxWeightOnlyConfig,
    quantize_,
)
from torchao.quantization.granularity import PerGroup  # noqa: E402
from torchao.quantization.quant_primitives import MappingType  # noqa: E402

EXACT_REL_TOL = 1e-5
DYNAMIC_REL_TOL = 0.05
COS_MIN = 0.999


class MLP(conftest.MLP):
    def __init__(self, k: int = 256, h: int = 256, n: int = 32, seed: int = 0):
        super().__init__(k, h, n, seed)


class Block(torch.nn.Module):
    """A pre-norm transformer block: causal self-attention, then a gated MLP."""

    def __init__(self, d: int = 128, heads: int = 4, ff: int = 256, seed: int = 0):
        super().__init__()
        torch.manual_seed(seed)
        self.heads = heads
        self.norm1 = torch.nn.LayerNorm(d)
        self.q, self.k, self.v, self.o = (torch.nn.Linear(d, d) for _ in range(4))
        self.norm2 = torch.nn.LayerNorm(d)
        self.gate = torch.nn.Linear(d, ff, bias=False)
        self.up = torch.nn.Linear(d, ff, bias=False)
        self.down = torch.nn.Linear(ff, d, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        h = self.norm1(x)

        def split(y: torch.Tensor) -> torch.Tensor:
            return y.view(b, t, self.heads, d // self.heads).transpose(1, 2)

        a = torch.nn.functional.scaled_dot_product_attention(
            split(self.q(h)), split(self.k(h)), split(self.v(h)), is_causal=True
        )
        x = x + self.o(a.transpose(1, 2).reshape(b, t, d))
        h = self.norm2(x)
        return x + self.down(torch.nn.functional.silu(self.gate(h)) * self.up(h))


LINEARS = {MLP: ("fc1", "fc2"), Block: ("q", "k", "v", "o", "gate", "up", "down")}


def _x(shape=(8, 256)) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(1))


def _config(flavour: str, group: int, mapping=MappingType.SYMMETRIC, scale_dtype=torch.float16):
    if flavour == "weight_only":
        return IntxWeightOnlyConfig(
            weight_dtype=torch.int4, granularity=PerGroup(group), mapping_type=mapping, scale_dtype=scale_dtype
        )
    return Int8DynamicActivationIntxWeightConfig(
        weight_dtype=torch.int4,
        weight_granularity=PerGroup(group),
        weight_mapping_type=mapping,
        weight_scale_dtype=scale_dtype,
    )


def _quantized(model: torch.nn.Module, cfg) -> torch.nn.Module:
    qm = copy.deepcopy(model).eval()
    quantize_(qm, cfg)
    return qm


def _dequantized(qm: torch.nn.Module) -> torch.nn.Module:
    """The model computing in f32 on torchao's exact dequantized weights."""
    dm = copy.deepcopy(qm)
    for m in dm.modules():
        if isinstance(m, torch.nn.Linear) and type(m.weight).__name__ == "IntxUnpackedToInt8Tensor":
            m.weight = torch.nn.Parameter(m.weight.dequantize().detach().clone(), requires_grad=False)
    return dm


def _expected_int4_bytes(w) -> tuple:
    """SPEC.md §4.6.1's bytes for torchao's fields, spelled out: ``(bytes, has offsets)``."""
    g = int(w.block_size[1])
    q = w.qdata.to(torch.int64).numpy().reshape(-1, g)
    s = w.scale.to(torch.float64).numpy().reshape(-1)
    z = w.zero_point.to(torch.float64).numpy().reshape(-1)
    if not z.any():
        codes, scales, offsets = q + 8, s, None
    else:
        # d = s, c = q + 8, m = -(z + 8) s when f16 holds m; else d = -s, c = 7 - q, m = (7 - z) s.
        up = -(z + 8) * s
        fits = up.astype(np.float16).astype(np.float64) == up
        codes = np.where(fits[:, None], q + 8, 7 - q)
        scales = np.where(fits, s, -s)
        offsets = np.where(fits, up, (7 - z) * s)
    codes = codes.astype(np.uint8)
    packed = codes[:, : g // 2] | (codes[:, g // 2 :] << 4)
    out = packed.astype(np.uint8).tobytes() + scales.astype("<f2").tobytes()
    if offsets is not None:
        out += offsets.astype("<f2").tobytes()
    return out, offsets is not None


def _rel(ref: np.ndarray, got: np.ndarray) -> float:
    return float(np.abs(ref - got).max() / np.abs(ref).max())


def _cos(ref: np.ndarray, got: np.ndarray) -> float:
    a, b = ref.ravel().astype(np.float64), got.ravel().astype(np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def _check(path, report, qm, x, names, label, dynamic=False):
    """The stored tensors are torchao's codes and scales; the run matches (module docstring)."""
    assert report.verified and all(o.ok for o in report.outputs), report.summary()
    assert set(report.int4_imported) == {f"{n}.weight" for n in names} and not report.int8_imported
    for n in names:
        w = qm.get_submodule(n).weight
        dtype, (kind, _, _, _, desc), data = _native.stored_tensor(path, report.int4_tensors[f"{n}.weight"])
        want, offsets = _expected_int4_bytes(w)
        assert (dtype, kind) == ("u8", "other")
        assert desc == f"GroupInt4 {{ group: {int(w.block_size[1])}, offsets: {str(offsets).lower()} }}"
        assert bytes(data) == want, n
    sess = wasm_torch.load(path)
    # int4 in memory: 4 bits a weight plus an f16 scale (and offset) per group, against 32.
    resident = sess.resident_weight_bytes / sess.weight_bytes
    got = sess.run(x)[0]
    with torch.no_grad():
        ref_d, ref_q = _dequantized(qm)(x).numpy(), qm(x).numpy()
    rd, rq, cq = _rel(ref_d, got), _rel(ref_q, got), _cos(ref_q, got)
    print(
        f"{label}: vs f32 on the dequantized weights rel {rd:.2e}; vs torchao rel {rq:.2e} cos {cq:.6f}; "
        f"resident {resident:.3f} of f32"
    )
    assert rd <= EXACT_REL_TOL
    if dynamic:
        assert rq <= DYNAMIC_REL_TOL and cq >= COS_MIN
    else:
        assert rq <= EXACT_REL_TOL
    return resident


@pytest.mark.parametrize("flavour", ["weight_only", "dynamic_activation"])
@pytest.mark.parametrize("group", [32, 64, 128])
def test_torchao_int4_groups_are_stored_code_for_code(wtb, flavour, group):
    fp32 = MLP().eval()
    qm = _quantized(fp32, _config(flavour, group))
    x = _x()
    report = wasm_torch.export(qm, (x,), wtb, verify=True)
    print(report.summary())
    act = "int8_asym_per_token activations in torchao, " if flavour == "dynamic_activation" else ""
    assert report.int4_imported["fc1.weight"] == f"torchao intx (torch.int4), {act}groups of {group}, symmetric"
    resident = _check(wtb, report, qm, x, LINEARS[MLP], f"MLP {flavour} g{group}", flavour == "dynamic_activation")
    # 4.5 bits a weight at group 32 (4.125 at 128), plus the f32 biases: 0.141 of f32 at most.
    assert resident < 0.15


@pytest.mark.parametrize("flavour", ["weight_only", "dynamic_activation"])
def test_a_transformer_block_quantized_to_int4(wtb, flavour):
    fp32 = Block().eval()
    qm = _quantized(fp32, _config(flavour, 32))
    x = _x((2, 8, 128))
    report = wasm_torch.export(qm, (x,), wtb, verify=True)
    print(report.summary())
    resident = _check(wtb, report, qm, x, LINEARS[Block], f"block {flavour}", flavour == "dynamic_activation")
    # Linear weights at 4.5 bits; LayerNorm parameters and the q/k/v/o biases stay f32.
    assert resident < 0.16


def _asymmetric_linear(a: np.ndarray, k: int = 64, seed: int = 3) -> torch.nn.Linear:
    """A Linear whose group ``i`` (32 inputs) holds ``j × S`` for integers ``j`` from ``a[i]`` to
    ``a[i] + 15``, both ends present, ``S`` an f16 value with every significand bit set.

    torchao's asymmetric mapping then picks scale ``S`` and zero point ``-8 - a[i]``, so the
    format's offset is ``a[i] × S`` (codes ``q + 8``) or ``(15 + a[i]) × S`` (codes reversed,
    scale ``-S``): exact in f16 when ``|a[i]|``, resp. ``15 + a[i]``, is 0 or a power of 2.
    """
    s = float(np.float16(2047 / 1024 * 2**-7))
    rng = np.random.default_rng(seed)
    n = len(a) * 32 // k
    j = rng.integers(0, 16, size=(len(a), 32)) + a[:, None]
    j[:, 0], j[:, 1] = a, a + 15
    lin = torch.nn.Linear(k, n, bias=True)
    with torch.no_grad():
        lin.weight.copy_(torch.from_numpy((j * s).reshape(n, k)))
    return lin.eval()


def test_asymmetric_int4_is_stored_when_f16_holds_the_offsets(wtb):
    # a = 0, -1, -2, -4, -8: offset a·S (codes q + 8); a = -7, -11, -13, -14, -15: (15 + a)·S
    # (codes reversed, scale -S).
    a = np.array([0, -1, -2, -4, -8, -7, -11, -13, -14, -15, 0, -7], dtype=np.int64)
    model = torch.nn.Sequential(_asymmetric_linear(a)).eval()
    qm = _quantized(model, _config("weight_only", 32, MappingType.ASYMMETRIC))
    w = qm[0].weight
    assert sorted(set(w.zero_point.reshape(-1).tolist())) == sorted(set((-8 - a).tolist()))
    x = _x((4, 64))
    report = wasm_torch.export(qm, (x,), wtb, verify=True)
    print(report.summary())
    assert report.int4_imported == {"0.weight": "torchao intx (torch.int4), groups of 32, asymmetric"}
    _check(wtb, report, qm, x, ["0"], "asymmetric, exact offsets")
    # Both orientations were used: some scales stored negated.
    _, _, data = _native.stored_tensor(wtb, "0.weight")
    numel, groups = w.qdata.numel(), len(a)
    scales = np.frombuffer(bytes(data)[numel // 2 : numel // 2 + 2 * groups], "<f2")
    assert (scales > 0).any() and (scales < 0).any()


def test_unrepresentable_offsets_scales_and_group_sizes_are_errors_naming_the_module(wtb):
    # a = -3: offsets -3·S and 12·S both need 13 significant bits.
    a = np.array([0, -3], dtype=np.int64)
    model = torch.nn.Sequential(_asymmetric_linear(a)).eval()
    qm = _quantized(model, _config("weight_only", 32, MappingType.ASYMMETRIC))
    with pytest.raises(
        ExportError,
        match=r"module '0': torchao group-wise torch.int4 weights \(groups of 32\): 1 of 2 groups have an offset "
        r"float16 cannot hold \(group 1: .*quantize with MappingType.SYMMETRIC",
    ):
        wasm_torch.export(qm, (_x((4, 64)),), wtb)

    # torchao's default scale dtype is the weight's (f32): not what the format stores.
    fp32 = MLP().eval()
    x = _x()
    for flavour in ("weight_only", "dynamic_activation"):
        qm = _quantized(fp32, _config(flavour, 32, scale_dtype=None))
        with pytest.raises(
            ExportError,
            match=r"module 'fc1': torchao group-wise torch.int4 weights \(groups of 32\): 2048 of 2048 group scales "
            r"are not float16 values \(group 0: scale .* in torch.float32\).*scale_dtype=torch.float16",
        ) as e:
            wasm_torch.export(qm, (x,), wtb)
        assert "module 'fc2'" in str(e.value)  # every module is named, not only the first

    # Group sizes the format lacks (a multiple of 32 in 32..=256).
    for group, k in ((16, 256), (512, 1024)):
        qm = _quantized(MLP(k=k, h=k).eval(), _config("weight_only", group))
        with pytest.raises(
            ExportError,
            match=rf"module 'fc1': torchao group-wise torch.int4 weights \(groups of {group}\): group size {group} is "
            rf"not supported: the int4 format's groups are a multiple of 32 in 32..=256 dividing the {k} inputs",
        ):
            wasm_torch.export(qm, (_x((8, k)),), wtb)


def test_int4_rows_short_enough_for_one_group_are_int4_too(wtb):
    # Per-row int4 (PerAxis(0)) with 64 inputs: one 64-wide group a row, resident int4. With
    # 1000 inputs (no int4 group size divides it) the codes are stored as per-row int8 with
    # f32 scales, exact as well.
    from torchao.quantization.granularity import PerAxis

    cfg = IntxWeightOnlyConfig(weight_dtype=torch.int4, granularity=PerAxis(0), scale_dtype=torch.float16)
    qm = _quantized(MLP(k=64, h=64).eval(), cfg)
    x = _x((8, 64))
    report = wasm_torch.export(qm, (x,), wtb, verify=True)
    assert report.int4_imported["fc1.weight"] == "torchao intx (torch.int4), per row, symmetric"
    _check(wtb, report, qm, x, LINEARS[MLP], "per-row int4")
    qm = _quantized(MLP(k=1000, h=64).eval(), cfg)
    report = wasm_torch.export(qm, (_x((8, 1000)),), wtb, verify=True)
    assert report.int8_imported == {"fc1.weight": "torchao intx (torch.int4), per row"}
    assert report.int4_imported == {"fc2.weight": "torchao intx (torch.int4), per row, symmetric"}


def test_a_tiny_llama_quantized_to_int4_through_export_causal_lm(wtb):
    # export_causal_lm takes the codes before wrapping the model behind its static cache;
    # SmolLM2-135M the same way gives torchao's greedy tokens too (docs/guide-export.md).
    transformers = pytest.importorskip("transformers")
    tokenizers = pytest.importorskip("tokenizers")
    from wasm_torch.llm import export_causal_lm

    torch.manual_seed(0)
    cfg = transformers.LlamaConfig(
        vocab_size=128,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=64,
        tie_word_embeddings=False,
    )
    model = transformers.LlamaForCausalLM(cfg).eval()
    quantize_(model, _config("weight_only", 32))
    tok = tokenizers.Tokenizer(tokenizers.models.WordLevel({f"t{i}": i for i in range(128)}, unk_token="t0"))
    report = export_causal_lm(model, tok, wtb, max_cache_len=32)
    # 2 layers x (q, k, v, o, gate, up, down) and the LM head.
    assert len(report.int4_imported) == 15 and not report.int8_imported
    sess = wasm_torch.load(wtb)
    prompt = [5, 17, 99, 3]
    ids, got, worst = list(prompt), [], 0.0
    logits = sess.run(np.array([ids], np.int64), np.arange(len(ids), dtype=np.int64))[0][0, -1]
    for _ in range(8):
        with torch.no_grad():
            want = model(torch.tensor([ids])).logits[0, -1].numpy()  # torchao's module, no cache
        # The file's KV-cached steps against a full forward without a cache: only the
        # summation order differs (the weights are the same values).
        worst = max(worst, _rel(want, logits))
        assert worst <= EXACT_REL_TOL, worst
        got.append(int(np.argmax(logits)))
        assert got[-1] == int(np.argmax(want))
        ids.append(got[-1])
        logits = sess.run(np.array([[ids[-1]]], np.int64), np.array([len(ids) - 1], np.int64))[0][0, -1]
    print(f"tiny llama int4: greedy {got}, logits rel {worst:.2e} vs torchao")


@pytest.mark.parametrize("frontend", ["trace", "script"])
def test_torchscript_front_ends_take_the_int4_codes_too(wtb, frontend):
    # TorchScript graphs name frozen weights their own way: the codes are matched by value.
    qm = _quantized(MLP().eval(), _config("weight_only", 64))
    x = _x()
    report = wasm_torch.export(qm, (x,), wtb, frontend=frontend, verify=True)
    assert report.frontend == frontend
    _check(wtb, report, qm, x, LINEARS[MLP], f"MLP weight_only g64, {frontend}")


def test_asymmetric_int4_rows_that_are_no_int4_group_are_an_error(wtb):
    # 1000 inputs a row: no int4 group, and the int8 per-row form has no zero points.
    from torchao.quantization.granularity import PerAxis

    cfg = IntxWeightOnlyConfig(
        weight_dtype=torch.int4, granularity=PerAxis(0), mapping_type=MappingType.ASYMMETRIC, scale_dtype=torch.float16
    )
    qm = _quantized(MLP(k=1000, h=64).eval(), cfg)
    with pytest.raises(
        ExportError, match=r"module 'fc1': asymmetric torchao intx \(torch.int4\), per row weights \(non-zero zero"
    ):
        wasm_torch.export(qm, (_x((8, 1000)),), wtb)
