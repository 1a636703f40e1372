"""Taking int8 weights from models already quantized in PyTorch, code for code.

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
  ``IntxUnpackedToInt8Tensor`` of the same shape.

:func:`dequantize_modules` is a pre-pass on a copy of the model: each such Linear gets an
ordinary f32 weight equal to ``code · scale`` (in f32, what the file will hold), so every
front end sees a plain ``aten::linear``, and the codes and scales are remembered by weight
name. The emitter then stores those weights with the ``int8_stored`` encoding: the file
carries the module's own codes and scales, never a re-quantization of the dequantized
values. Anything that cannot be stored that way exactly (affine weights with a non-zero zero
point, quint8 or float16 dynamic Linear, group-wise or pre-scaled torchao weights,
statically quantized modules) is an :class:`ExportError` naming the module.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

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


def _from_torchao(name: str, m: Any, w: Any, problems: List[Problem]) -> Optional[StoredInt8]:
    """Codes and scales of a torchao int8 weight (per row or per tensor, symmetric)."""
    cls = type(w).__name__
    qdata = getattr(w, "qdata", None)
    if cls not in _TORCHAO_INT8 or not isinstance(qdata, torch.Tensor):
        problems.append(
            Problem(
                f"module '{name}': torchao weight type {cls} is not supported (int8 weight-only and "
                "int8 dynamic-activation configs are; export the float model with weights='int4' for int4)"
            )
        )
        return None
    if not isinstance(m, torch.nn.Linear) or qdata.dim() != 2 or qdata.dtype != torch.int8:
        problems.append(Problem(f"module '{name}': torchao int8 weights are supported on nn.Linear only"))
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
                f"module '{name}': torchao block size {block} is not supported (per row or per tensor "
                "only; for group-wise int4 export the float model with weights='int4')"
            )
        )
        return None
    zp = getattr(w, "zero_point", None)
    if isinstance(zp, torch.Tensor) and bool((zp != 0).any()):
        problems.append(Problem(f"module '{name}': asymmetric torchao int8 weights (non-zero zero points)"))
        return None
    s = _scales_f32(name, scales, problems)
    if s is None:
        return None
    return StoredInt8(name, flavour, qdata.detach().clone(), s)


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


def dequantize_modules(model: Any) -> Tuple[Any, Dict[str, StoredInt8]]:
    """Replace PyTorch-quantized Linear modules by f32 ones holding their exact values.

    Args:
        model: what ``export`` was given (only an eager ``nn.Module`` is looked at).

    Returns:
        ``(model, weights)``: when the model holds quantized Linear modules, a copy of it
        where each is an f32 ``nn.Linear`` with weight ``code · scale``, and the codes and
        scales by weight name (``"<module>.weight"``); otherwise the model itself and ``{}``.

    Raises:
        ExportError: a quantized module that cannot be stored exactly, each named.
    """
    if not isinstance(model, torch.nn.Module) or isinstance(model, torch.jit.ScriptModule):
        return model, {}
    if not _has_quantized(model):
        return model, {}
    model = copy.deepcopy(model)
    problems: List[Problem] = []
    found: Dict[str, StoredInt8] = {}
    replace: List[Tuple[str, torch.nn.Module]] = []
    # A module or weight shared by several parents (tied layers) gets one replacement.
    made: Dict[int, Tuple[StoredInt8, torch.nn.Module]] = {}
    made_params: Dict[int, Tuple[StoredInt8, torch.nn.Parameter]] = {}
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


class Int8Source:
    """Hands the emitter the stored codes of imported weights and checks each was taken.

    Matching is by name first (the exported graph keeps module paths), then by value (a
    TorchScript graph may rename constants); either way the f32 weight the graph holds must
    equal ``code · scale`` exactly, so a weight a pass transformed is never stored wrongly.
    """

    def __init__(self, weights: Dict[str, StoredInt8]):
        self.weights = weights
        self._by_value: Dict[bytes, str] = {}
        self.taken: Dict[str, str] = {}
        #: Module weight name -> the file's tensor name (TorchScript graphs rename them).
        self.tensor_names: Dict[str, str] = {}
        self.mismatched: Dict[str, str] = {}

    def stored(self, name: str, t: torch.Tensor) -> Optional[Tuple[bytes, int]]:
        """``(stored bytes, channel axis)`` when ``t`` is an imported weight, else None."""
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
        if tuple(t.shape) != tuple(src.codes.shape) or not torch.equal(t, src.dequantized()):
            self.mismatched[key] = f"the graph's weight '{name}' no longer equals its codes times scales"
            return None
        self.taken[key] = src.flavour
        self.tensor_names[key] = name
        return src.stored_bytes(), 0

    def check(self) -> None:
        """Raise when an imported weight reached the file in another form."""
        if self.mismatched:
            raise ExportError(
                [Problem(f"module '{self.weights[k].module}': {why}") for k, why in self.mismatched.items()],
                header="imported int8 weights would not be stored exactly",
            )
