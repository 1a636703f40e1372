"""Taking weights from models already quantized in PyTorch, code for code.

Two sources are recognised:

- ``torch.ao.quantization.quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8)``: each
  Linear becomes ``torch.ao.nn.quantized.dynamic.Linear``, whose weight lives in a packed
  C++ object that neither torch.export nor the TorchScript lowering can read. Its int8 codes
  and scale (per tensor by default, per output channel with ``per_channel_dynamic_qconfig``)
  are public through ``module.weight()``.
- torchao ``quantize_(model, Int8WeightOnlyConfig())`` and
  ``Int8DynamicActivationInt8WeightConfig()``: the Linear stays an ``nn.Linear`` whose
  weight is an ``Int8Tensor`` subclass holding ``qdata`` (int8 codes), ``scale`` (one per
  output row) and ``zero_point``; ``IntxWeightOnlyConfig`` (per row by default) gives an
  ``IntxUnpackedToInt8Tensor`` of the same shape. With ``weight_dtype=torch.int4`` and
  ``PerGroup(g)`` granularity (``IntxWeightOnlyConfig`` or
  ``Int8DynamicActivationIntxWeightConfig``) that tensor holds int4 codes (in ``[-8, 7]``,
  one per byte) with one scale and zero point per group of ``g`` inputs.

:func:`dequantize_modules` is a pre-pass on a copy of the model: each such Linear gets an
ordinary f32 weight equal to its dequantized value (in f32, what the file will hold), so
every front end sees a plain ``aten::linear``, and the codes and scales are remembered by
weight name. The emitter then stores per-row and per-tensor weights with the
``int8_stored`` encoding (int8 codes, f32 scales) and group-wise int4 ones with
``int4_stored`` (SPEC.md §4.6.1: 4-bit codes, f16 scales and offsets): the file carries the
module's own codes and scales, never a re-quantization of the dequantized values.

The int4 format keeps its scales and offsets in float16, so a group-wise int4 weight is
taken only when the format's value ``code × d + m`` (binary32, after widening ``d`` and
``m``) equals torchao's ``(q − zero_point) × scale`` bit for bit for every element: the
scales must be float16 values (``scale_dtype=torch.float16``), and with asymmetric mapping
each group's offset ``−(zero_point + 8) × scale`` (or, with the codes reversed and the scale
negated, ``(7 − zero_point) × scale``) must be one too. Anything that cannot be stored
exactly (affine int8 weights, quint8 or float16 dynamic Linear, group-wise int8 or
pre-scaled torchao weights, a group size the int4 format lacks, scales or offsets float16
cannot hold, statically quantized modules) is an :class:`ExportError` naming the module.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple, Union

import numpy as np
import torch

from .errors import ExportError, Problem


@dataclass
class StoredInt8:
    """One weight's own int8 codes (``n × k``) and per-output-channel f32 scales."""

    module: str
    flavour: str
    codes: torch.Tensor  # int8, n × k
    scales: torch.Tensor  # f32, n (a per-tensor scale repeated for every channel)

    def dequantized(self) -> torch.Tensor:
        """``code · scale`` in f32: the logical value the file's weight has."""
        return self.codes.to(torch.float32) * self.scales.reshape(-1, 1)

    def stored_bytes(self) -> bytes:
        """The ``int8_stored`` layout: the codes (row-major), then the f32 scales."""
        return self.codes.contiguous().numpy().tobytes() + self.scales.contiguous().numpy().tobytes()

    @property
    def kind(self) -> str:
        """``"int8"``: which report field lists the weight."""
        return "int8"

    @property
    def shape(self) -> Tuple[int, ...]:
        """The weight's logical shape (``n × k``)."""
        return tuple(int(d) for d in self.codes.shape)

    def encoding(self) -> Tuple[Any, ...]:
        """The packer encoding of :meth:`stored_bytes` (channel axis 0: one scale per row)."""
        return ("int8_stored", 0)


@dataclass
class StoredInt4:
    """One weight's int4 codes with f16 scales (and offsets) per group, as SPEC.md §4.6.1 has them.

    ``codes`` are the format's unsigned 4-bit codes ``c`` (``n × k``, one per byte, in
    ``[0, 15]``); group ``i`` (``group`` consecutive inputs of a row, row 0's groups first)
    has the value ``c × scales[i] + offsets[i]``, or ``c × scales[i] − 8 × scales[i]``
    without offsets, computed in binary32 after widening the f16 parameters.
    """

    module: str
    flavour: str
    codes: np.ndarray  # uint8, n × k, values 0..15
    group: int
    scales: np.ndarray  # float16, one per group
    offsets: Optional[np.ndarray]  # float16, one per group, or None (-8 × scale)

    def dequantized(self) -> torch.Tensor:
        """The format's logical value in f32 (what the interpreter computes with)."""
        n, k = self.codes.shape
        d = self.scales.astype(np.float32).reshape(-1, 1)
        m = self.offsets.astype(np.float32).reshape(-1, 1) if self.offsets is not None else np.float32(-8) * d
        # Two separately rounded binary32 operations (numpy does not fuse them): SPEC.md's
        # value. ``c × d`` and ``m`` are exact (11 + 4 significant bits), so is their sum
        # whenever the result is representable.
        v = self.codes.reshape(-1, self.group).astype(np.float32) * d + m
        return torch.from_numpy(np.ascontiguousarray(v.reshape(n, k), dtype=np.float32))

    def stored_bytes(self) -> bytes:
        """The ``int4_stored`` layout: packed codes, f16 scales, then f16 offsets (if any)."""
        g = self.codes.reshape(-1, self.group)
        half = self.group // 2
        # Byte b of a group holds element b (low nibble) and element b + group/2 (high).
        packed = (g[:, :half] | (g[:, half:] << 4)).astype(np.uint8)
        out = packed.tobytes() + self.scales.astype("<f2").tobytes()
        if self.offsets is not None:
            out += self.offsets.astype("<f2").tobytes()
        return out

    @property
    def kind(self) -> str:
        """``"int4"``: which report field lists the weight."""
        return "int4"

    @property
    def shape(self) -> Tuple[int, ...]:
        """The weight's logical shape (``n × k``)."""
        return tuple(int(d) for d in self.codes.shape)

    def encoding(self) -> Tuple[Any, ...]:
        """The packer encoding of :meth:`stored_bytes`."""
        return ("int4_stored", self.group, self.offsets is not None)


#: A weight taken as quantized in PyTorch, in the stored form the file will hold.
Stored = Union[StoredInt8, StoredInt4]


def _is_torch_ao_quantized(m: torch.nn.Module) -> bool:
    mod = type(m).__module__
    return mod.startswith(("torch.ao.nn.quantized", "torch.ao.nn.intrinsic.quantized", "torch.nn.quantized"))


def _is_torchao_tensor(t: Any) -> bool:
    return isinstance(t, torch.Tensor) and type(t).__module__.startswith("torchao")


def _scales_f32(name: str, scales: torch.Tensor, problems: List[Problem]) -> Optional[torch.Tensor]:
    """The scales as f32, or None (with a problem) when one is not finite and positive."""
    s = scales.detach().to(torch.float32).reshape(-1)
    if not bool(torch.isfinite(s).all()) or not bool((s > 0).all()):
        problems.append(Problem(f"module '{name}': its weight scales are not all finite and positive"))
        return None
    return s


def _from_dynamic_linear(name: str, m: Any, problems: List[Problem]) -> Optional[Tuple[StoredInt8, Any]]:
    """Codes, scales and bias of a ``torch.ao`` dynamic quantized Linear."""
    packed_dtype = getattr(getattr(m, "_packed_params", None), "dtype", None)
    if packed_dtype != torch.qint8:
        hint = " (export the float model with weights='f16' instead)" if packed_dtype == torch.float16 else ""
        problems.append(
            Problem(f"module '{name}': a dynamic quantized Linear with {packed_dtype} weights is not supported{hint}")
        )
        return None
    w = m.weight()
    if w.dtype != torch.qint8:
        problems.append(Problem(f"module '{name}': {w.dtype} weights are not supported (only symmetric qint8)"))
        return None
    qs = w.qscheme()
    if qs in (torch.per_tensor_affine, torch.per_tensor_symmetric):
        zps = torch.tensor([int(w.q_zero_point())])
        scales = torch.full((w.shape[0],), float(w.q_scale()), dtype=torch.float64)
        flavour = "torch.ao dynamic, per tensor"
    elif qs in (torch.per_channel_affine, torch.per_channel_symmetric) and w.q_per_channel_axis() == 0:
        zps = w.q_per_channel_zero_points()
        scales = w.q_per_channel_scales()
        flavour = "torch.ao dynamic, per channel"
    else:
        problems.append(Problem(f"module '{name}': weight quantization scheme {qs} is not supported"))
        return None
    if bool((zps != 0).any()):
        problems.append(
            Problem(
                f"module '{name}': affine int8 weights (zero point {int(zps[zps != 0][0])}) are not "
                "supported; quantize with a symmetric weight observer (the default qconfigs are)"
            )
        )
        return None
    s = _scales_f32(name, scales, problems)
    if s is None:
        return None
    return StoredInt8(name, flavour, w.int_repr().detach().clone(), s), m.bias()


#: torchao weight tensor classes whose ``qdata`` holds int8 codes (``IntxUnpackedToInt8Tensor``:
#: ``IntxWeightOnlyConfig`` and friends, codes of up to 8 bits unpacked one per byte).
_TORCHAO_INT8 = ("Int8Tensor", "IntxUnpackedToInt8Tensor")


def _from_torchao(name: str, m: Any, w: Any, problems: List[Problem]) -> Optional[Stored]:
    """Codes and scales of a torchao weight.

    Returns:
        int8 codes per row or per tensor (symmetric), or int4 codes per group (or per row,
        when exact: :func:`_group_int4`); None after adding a problem when the weight cannot
        be stored exactly.
    """
    cls = type(w).__name__
    qdata = getattr(w, "qdata", None)
    if cls not in _TORCHAO_INT8 or not isinstance(qdata, torch.Tensor):
        problems.append(
            Problem(
                f"module '{name}': torchao weight type {cls} is not supported (Int8Tensor and "
                "IntxUnpackedToInt8Tensor are: int8 configs, and IntxWeightOnlyConfig / "
                "Int8DynamicActivationIntxWeightConfig; or export the float model with weights='int4')"
            )
        )
        return None
    if not isinstance(m, torch.nn.Linear) or qdata.dim() != 2 or qdata.dtype != torch.int8:
        problems.append(Problem(f"module '{name}': torchao weights are imported on nn.Linear (2-d, int8 storage) only"))
        return None
    n, k = qdata.shape
    if qdata.dtype == torch.int8 and getattr(w, "act_pre_scale", None) is not None:
        problems.append(Problem(f"module '{name}': torchao weights with an activation pre-scale are not supported"))
        return None
    if getattr(w, "dtype", torch.float32) != torch.float32:
        problems.append(
            Problem(f"module '{name}': the weight's logical dtype is {w.dtype}; quantize the float32 model")
        )
        return None
    block = list(getattr(w, "block_size", []))
    if cls == "IntxUnpackedToInt8Tensor" and len(block) == 2 and block[0] == 1 and 0 < block[1] < k:
        return _group_int4(name, w, block[1], problems)
    if cls == "IntxUnpackedToInt8Tensor" and block == [1, k] and _bits(w) <= 4 and k in INT4_GROUPS:
        # int4 codes per row, with a row short enough to be one int4 group: resident int4
        # with f32 activations when the format holds them exactly, else int8 codes with f32
        # scales below (exact too).
        as_int4 = _group_int4(name, w, k, [])
        if as_int4 is not None:
            return as_int4
    scale = w.scale.detach()
    kind = "int8" if cls == "Int8Tensor" else f"intx ({getattr(w, 'target_dtype', '?')})"
    if block == [1, k] and scale.numel() == n:
        scales = scale.reshape(n)
        flavour = f"torchao {kind}, per row"
    elif block == [n, k] and scale.numel() == 1:
        scales = scale.reshape(1).expand(n)
        flavour = f"torchao {kind}, per tensor"
    else:
        problems.append(
            Problem(
                f"module '{name}': torchao block size {block} is not supported (per row, per tensor, "
                "or groups of a row's inputs)"
            )
        )
        return None
    zp = getattr(w, "zero_point", None)
    if isinstance(zp, torch.Tensor) and bool((zp != 0).any()):
        hint = (
            " (int4 codes per row are stored as int4 when the row is a valid group and float16 holds "
            "the scales and offsets exactly)"
            if kind.startswith("intx") and _bits(w) <= 4
            else ""
        )
        problems.append(
            Problem(f"module '{name}': asymmetric {flavour} weights (non-zero zero points) are not supported{hint}")
        )
        return None
    s = _scales_f32(name, scales, problems)
    if s is None:
        return None
    return StoredInt8(name, flavour, qdata.detach().clone(), s)


#: Group sizes of the int4 format (SPEC.md §4.6.1): a multiple of 32 in 32..=256.
INT4_GROUPS = tuple(range(32, 257, 32))


def _f16_exact(x: np.ndarray) -> np.ndarray:
    """Which elements of the float64 array ``x`` are finite float16 values."""
    with np.errstate(over="ignore"):
        h = x.astype(np.float16)
    return np.isfinite(h) & (h.astype(np.float64) == x)


def _bits(w: Any) -> int:
    """The code width of an ``IntxUnpackedToInt8Tensor`` (``target_dtype`` ``torch.intN``), 8 if unknown."""
    target = getattr(w, "target_dtype", None)
    return next((b for b in range(1, 8) if getattr(torch, f"int{b}", None) == target), 8)


def _group_int4(name: str, w: Any, group: int, problems: List[Problem]) -> Optional[StoredInt4]:
    """A torchao group-wise ``IntxUnpackedToInt8Tensor`` in the int4 format, when exact.

    torchao's value is ``(q − z) × s`` (``q`` in ``[-8, 7]``, ``s`` and ``z`` per group,
    computed in f32); the format's is ``c × d + m`` with ``c`` in ``[0, 15]`` and f16 ``d``,
    ``m``. With ``d = s``, ``c = q + 8`` and ``m = −(z + 8) × s`` (no offsets at all when
    every ``z`` is 0: the format's ``−8 × d``), or with the codes reversed, ``d = −s``, ``c =
    7 − q`` and ``m = (7 − z) × s``; either is exact when ``s`` and ``m`` are f16 values. The
    result is then compared with torchao's own ``dequantize()`` bit for bit.

    Returns:
        The weight's stored form, or None after adding a problem (naming the module and what
        the format cannot hold) to ``problems``.
    """
    qdata = w.qdata.detach()
    n, k = (int(d) for d in qdata.shape)
    target = getattr(w, "target_dtype", None)
    where = f"module '{name}': torchao group-wise {target} weights (groups of {group})"
    if _bits(w) > 4:
        problems.append(
            Problem(
                f"{where}: only codes of up to 4 bits have a group-wise format here; quantize with "
                "weight_dtype=torch.int4, or per row (PerAxis(0)) for int8"
            )
        )
        return None
    if group not in INT4_GROUPS or k % group:
        problems.append(
            Problem(
                f"{where}: group size {group} is not supported: the int4 format's groups are a "
                f"multiple of 32 in 32..=256 dividing the {k} inputs"
            )
        )
        return None
    q = qdata.to(torch.int64).numpy().reshape(-1, group)
    if int(q.min()) < -8 or int(q.max()) > 7:
        problems.append(Problem(f"{where}: codes outside [-8, 7]"))
        return None
    s = w.scale.detach().to(torch.float64).numpy().reshape(-1)
    zp = getattr(w, "zero_point", None)
    z = np.zeros_like(s) if zp is None else zp.detach().to(torch.float64).numpy().reshape(-1)
    if s.shape[0] != q.shape[0] or z.shape[0] != q.shape[0]:
        problems.append(Problem(f"{where}: {s.shape[0]} scales for {q.shape[0]} groups"))
        return None
    bad = ~_f16_exact(s)
    if bad.any():
        i = int(np.argmax(bad))
        problems.append(
            Problem(
                f"{where}: {int(bad.sum())} of {len(s)} group scales are not float16 values (group "
                f"{i}: scale {float(s[i])!r} in {w.scale.dtype}), and the int4 format stores f16 scales; "
                "quantize with scale_dtype=torch.float16 (Int8DynamicActivationIntxWeightConfig: "
                "weight_scale_dtype=torch.float16)"
            )
        )
        return None
    if not bool((z == np.round(z)).all()):
        problems.append(Problem(f"{where}: zero points that are not integers are not supported"))
        return None
    codes = (q + 8).astype(np.uint8)
    scales = s.astype(np.float16)
    offsets: Optional[np.ndarray] = None
    mapping = "symmetric"
    if bool((z != 0).any()):
        mapping = "asymmetric"
        m_up = -(z + 8) * s  # d = s, c = q + 8
        m_down = (7 - z) * s  # d = -s, c = 7 - q
        up, down = _f16_exact(m_up), _f16_exact(m_down)
        if not bool((up | down).all()):
            bad = ~(up | down)
            i = int(np.argmax(bad))
            problems.append(
                Problem(
                    f"{where}: {int(bad.sum())} of {len(s)} groups have an offset float16 cannot hold "
                    f"(group {i}: scale {float(s[i])!r}, zero point {int(z[i])}: offset {float(m_up[i])!r} or, codes "
                    f"reversed, {float(m_down[i])!r}); the int4 format stores f16 offsets: quantize with "
                    "MappingType.SYMMETRIC"
                )
            )
            return None
        flip = ~up
        codes = np.where(flip[:, None], 7 - q, q + 8).astype(np.uint8)
        scales = np.where(flip, -s, s).astype(np.float16)
        offsets = np.where(flip, m_down, m_up).astype(np.float16)
    # Int8DynamicActivationIntxWeightConfig also quantizes the activations at run time
    # (``int8_asym_per_token``); the file keeps them f32 (the model's f32 computation on the
    # exact weights is what verification compares with).
    act = getattr(w, "activation_quantization", None)
    kind = f"{getattr(act, 'value', act)} activations in torchao, " if act is not None else ""
    out = StoredInt4(
        name,
        f"torchao intx ({target}), {kind}{'per row' if group == k else f'groups of {group}'}, {mapping}",
        codes.reshape(n, k),
        group,
        scales,
        offsets,
    )
    want = w.dequantize().detach().to(torch.float32).contiguous().numpy()
    got = out.dequantized().numpy()
    differ = want.view(np.uint32) != got.view(np.uint32)
    if differ.any():
        r, c = (int(i) for i in np.argwhere(differ)[0])
        problems.append(
            Problem(
                f"{where}: the int4 form differs from torchao's dequantized weight at [{r}, {c}] "
                f"({float(got[r, c])!r} vs {float(want[r, c])!r}) in {int(differ.sum())} elements"
            )
        )
        return None
    return out


def _plain_linear(src: StoredInt8, bias: Optional[torch.Tensor]) -> torch.nn.Linear:
    n, k = src.codes.shape
    lin = torch.nn.Linear(k, n, bias=bias is not None)
    with torch.no_grad():
        lin.weight = torch.nn.Parameter(src.dequantized(), requires_grad=False)
        if bias is not None:
            lin.bias = torch.nn.Parameter(bias.detach().to(torch.float32).clone(), requires_grad=False)
    return lin.eval()


def _has_quantized(model: torch.nn.Module) -> bool:
    for m in model.modules():
        if _is_torch_ao_quantized(m):
            return True
        if any(_is_torchao_tensor(p) for p in m.parameters(recurse=False)):
            return True
    return False


def dequantize_modules(model: Any) -> Tuple[Any, Dict[str, Stored]]:
    """Replace PyTorch-quantized Linear modules by f32 ones holding their exact values.

    Args:
        model: what ``export`` was given (only an eager ``nn.Module`` is looked at).

    Returns:
        ``(model, weights)``: when the model holds quantized Linear modules, a copy of it
        where each is an f32 ``nn.Linear`` with its exact dequantized weight (``code · scale``;
        for group-wise int4 the format's ``code × d + m``, equal to torchao's bit for bit), and
        the stored forms by weight name (``"<module>.weight"``); otherwise the model itself
        and ``{}``.

    Raises:
        ExportError: a quantized module that cannot be stored exactly, each named.
    """
    if not isinstance(model, torch.nn.Module) or isinstance(model, torch.jit.ScriptModule):
        return model, {}
    if not _has_quantized(model):
        return model, {}
    model = copy.deepcopy(model)
    problems: List[Problem] = []
    found: Dict[str, Stored] = {}
    replace: List[Tuple[str, torch.nn.Module]] = []
    # A module or weight shared by several parents (tied layers) gets one replacement.
    made: Dict[int, Tuple[Stored, torch.nn.Module]] = {}
    made_params: Dict[int, Tuple[Stored, torch.nn.Parameter]] = {}
    for name, m in model.named_modules(remove_duplicate=False):
        if any(name.startswith(f"{r}.") or not r for r, _ in replace):
            continue  # inside a replaced module (its packed parameters)
        wname = f"{name}.weight" if name else "weight"
        if _is_torch_ao_quantized(m):
            import torch.ao.nn.quantized.dynamic as nnqd

            if id(m) in made:
                found[wname], new = made[id(m)]
                replace.append((name, new))
            elif isinstance(m, nnqd.Linear):
                got = _from_dynamic_linear(name, m, problems)
                if got is not None:
                    src, bias = got
                    new = _plain_linear(src, bias)
                    made[id(m)] = (src, new)
                    found[wname] = src
                    replace.append((name, new))
            else:
                problems.append(
                    Problem(
                        f"module '{name}': {type(m).__module__}.{type(m).__name__} is not supported "
                        "(only dynamic quantized Linear with qint8 weights is imported)"
                    )
                )
            continue
        for pname, p in list(m.named_parameters(recurse=False)):
            if id(p) in made_params and pname == "weight":
                found[wname], m.weight = made_params[id(p)]
                continue
            if not _is_torchao_tensor(p):
                continue
            ao = _from_torchao(name, m, p, problems) if pname == "weight" else None
            if ao is None:
                if pname != "weight":
                    problems.append(Problem(f"module '{name}': torchao parameter '{pname}' is not supported"))
                continue
            plain = torch.nn.Parameter(ao.dequantized(), requires_grad=False)
            made_params[id(p)] = (ao, plain)
            m.weight = plain
            found[wname] = ao
    if problems:
        raise ExportError(problems, header="the model's quantized modules cannot be stored exactly")
    for name, new in replace:
        if not name:
            model = new
            continue
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, new)
    return model, found


class PrequantSource:
    """Hands the emitter the stored codes of imported weights and checks each was taken.

    Matching is by name first (the exported graph keeps module paths), then by value (a
    TorchScript graph may rename constants); either way the f32 weight the graph holds must
    equal the stored form's value exactly, so a weight a pass transformed is never stored
    wrongly.
    """

    def __init__(self, weights: Dict[str, Stored]):
        self.weights = weights
        self._by_value: Dict[bytes, str] = {}
        self.taken: Dict[str, str] = {}
        #: Module weight name -> the file's tensor name (TorchScript graphs rename them).
        self.tensor_names: Dict[str, str] = {}
        self.mismatched: Dict[str, str] = {}

    def stored(self, name: str, t: torch.Tensor) -> Optional[Tuple[bytes, Tuple[Any, ...]]]:
        """``(stored bytes, packer encoding)`` when ``t`` is an imported weight, else None."""
        if t.dtype != torch.float32 or t.dim() != 2:
            return None
        key = name if name in self.weights else None
        if key is None:
            if not self._by_value:
                self._by_value = {w.dequantized().numpy().tobytes(): n for n, w in self.weights.items()}
            key = self._by_value.get(t.detach().contiguous().numpy().tobytes())
            if key is None:
                return None
        src = self.weights[key]
        if tuple(t.shape) != src.shape or not torch.equal(t, src.dequantized()):
            self.mismatched[key] = f"the graph's weight '{name}' no longer equals its codes times scales"
            return None
        self.taken[key] = src.flavour
        self.tensor_names[key] = name
        return src.stored_bytes(), src.encoding()

    def taken_as(self, kind: str) -> Dict[str, str]:
        """The weights taken so far whose stored form is ``kind`` (``"int8"``/``"int4"``): name -> flavour."""
        return {n: f for n, f in self.taken.items() if self.weights[n].kind == kind}

    def tensors_as(self, kind: str) -> Dict[str, str]:
        """The file's tensor names of the weights :meth:`taken_as` lists."""
        return {n: t for n, t in self.tensor_names.items() if self.weights[n].kind == kind}

    def check(self) -> None:
        """Raise when an imported weight reached the file in another form."""
        if self.mismatched:
            raise ExportError(
                [Problem(f"module '{self.weights[k].module}': {why}") for k, why in self.mismatched.items()],
                header="imported quantized weights would not be stored exactly",
            )
