"""``wasm_torch.export``: front end selection, lowering, passes, packing and verification."""

from __future__ import annotations

import collections
import contextlib
import os
import warnings
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from . import _emit, _fx, _passes
from ._graph import Graph, Node, iter_nodes
from .errors import ExportError, Problem, VerificationError

__version__ = "0.1.0"

#: Default verification tolerance per weight mode: max |native - torch| / max |torch| per output.
#: f32 must match to float rounding; f16 weights carry ~2^-11 relative error per weight and
#: int8 per-channel weights ~1/254 of each channel's range, which accumulates through depth.
#: int4 (groups of 32, 16 levels per group) carries ~1/30 of each group's range per weight.
#: int8_g32 (GGUF Q8_0's groups of 32, 255 levels) is finer than per-channel int8.
TOLERANCES = {"f32": 1e-4, "f16": 2e-2, "int8": 1.5e-1, "int4": 4e-1, "int8_g32": 1.5e-1}

FRONTENDS = ("auto", "export", "trace", "script")
WEIGHT_MODES = ("f32", "f16", "int8", "int4", "int8_g32")


@dataclass
class OutputCheck:
    """How one output of the exported file compares with PyTorch's."""

    name: str
    shape: Tuple[int, ...]
    max_abs_err: float
    max_rel_err: float  # max_abs_err / max(|torch output|)
    scale: float
    ok: bool
    #: Cosine similarity of the flattened float output with PyTorch's (1.0 when equal).
    cosine: float = 1.0
    #: Fraction of rows (last axis) whose argmax agrees with PyTorch's: top-1 agreement of
    #: logits/class scores (``None`` for non-float or 0-d outputs).
    top1: Optional[float] = None


@dataclass
class ExportReport:
    """What :func:`export` did and, with ``verify=True``, how the file compares with PyTorch."""

    path: str
    frontend: str  # "export" | "trace" | "script" (what was actually used)
    weights: str
    file_size: int
    ops: Dict[str, int]
    num_instructions: int
    num_weights: int
    weight_bytes: int  # logical (pre-f16/int8) bytes of the stored weights; see file_size/chunks
    chunks: Dict[str, Any] = field(default_factory=dict)
    passes: Dict[str, int] = field(default_factory=dict)
    fallback_reason: Optional[str] = None
    verified: bool = False
    tolerance: Optional[float] = None
    outputs: List[OutputCheck] = field(default_factory=list)
    #: With ``gguf=``: how many weights were taken from the GGUF's own blocks (a tied
    #: embedding and LM head count once), split by GGUF type (``{"Q4_1": 210, "Q8_0": 1}``),
    #: and the weights that had no exact match there (re-quantized instead) with the reason.
    gguf_taken: Optional[int] = None
    gguf_taken_by_type: Dict[str, int] = field(default_factory=dict)
    gguf_unmatched: Dict[str, str] = field(default_factory=dict)
    #: Weights of Linear modules quantized in PyTorch (``torch.ao`` dynamic, torchao int8),
    #: stored with their own int8 codes and scales: weight name -> flavour.
    int8_imported: Dict[str, str] = field(default_factory=dict)
    #: The same weights' tensor names in the file (TorchScript front ends rename weights).
    int8_tensors: Dict[str, str] = field(default_factory=dict)
    #: Weights of Linear modules quantized group-wise to int4 by torchao
    #: (``IntxUnpackedToInt8Tensor``), stored with their own codes, f16 scales and offsets
    #: in the group-wise int4 format (resident as int4 at run time): weight name -> flavour.
    int4_imported: Dict[str, str] = field(default_factory=dict)
    #: The same weights' tensor names in the file.
    int4_tensors: Dict[str, str] = field(default_factory=dict)

    def summary(self) -> str:
        """A few human-readable lines."""
        lines = [
            f"{self.path}: {self.file_size} bytes, front end '{self.frontend}', weights {self.weights}",
            f"  {self.num_instructions} instructions, {len(self.ops)} distinct ops, "
            f"{self.num_weights} weights ({self.weight_bytes} bytes)",
        ]
        if self.chunks:
            lines.append(f"  chunks: {self.chunks}")
        if self.fallback_reason:
            lines.append(f"  torch.export was not used: {self.fallback_reason.splitlines()[0]}")
        for o in self.outputs:
            top1 = "" if o.top1 is None else f", top-1 agreement {o.top1:.4f}"
            lines.append(
                f"  output {o.name} {list(o.shape)}: max abs err {o.max_abs_err:.3g}, "
                f"rel {o.max_rel_err:.3g}, cosine {o.cosine:.6f}{top1} ({'ok' if o.ok else 'FAIL'})"
            )
        if self.int8_imported:
            lines.append(f"  {len(self.int8_imported)} int8 weights taken as quantized in PyTorch")
        if self.int4_imported:
            lines.append(f"  {len(self.int4_imported)} group-wise int4 weights taken as quantized by torchao")
        if self.gguf_taken is not None:
            by = ", ".join(f"{n} {t}" for t, n in sorted(self.gguf_taken_by_type.items()))
            lines.append(
                f"  gguf: {self.gguf_taken} weights taken as stored ({by or 'none'}), "
                f"{len(self.gguf_unmatched)} re-quantized"
            )
        return "\n".join(lines)


@contextlib.contextmanager
def _quiet_torchscript(show: bool):
    """Hide TorchScript's deprecation FutureWarning unless the user asked for TorchScript."""
    with warnings.catch_warnings():
        if not show:
            warnings.filterwarnings("ignore", category=FutureWarning)
            warnings.filterwarnings("ignore", category=DeprecationWarning)
            warnings.filterwarnings("ignore", message=".*TorchScript.*")
            warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        yield


def _as_tuple(example_inputs: Any) -> Tuple[Any, ...]:
    if isinstance(example_inputs, torch.Tensor):
        return (example_inputs,)
    if isinstance(example_inputs, (list, tuple)):
        return tuple(example_inputs)
    raise TypeError("example_inputs must be a tensor or a tuple of tensors")


def _explain_export_failure(e: BaseException) -> str:
    text = f"{type(e).__name__}: {e}"
    low = text.lower()
    if "data-dependent" in low or "datadependent" in low or "guardondatadependent" in low:
        return (
            "the model has data-dependent shapes or control flow (a shape or branch depends on "
            "tensor values), which torch.export cannot capture here. Bound computed sizes "
            "with torch._check; for models written to be traced, such as torchvision's "
            "detectors (docs/detection.md), use frontend='trace', which keeps data-dependent "
            "sizes; use frontend='script' for Python control flow that depends on values. "
            "Details: " + text.splitlines()[0]
        )
    return text


def _is_script(model: Any) -> bool:
    return isinstance(model, (torch.jit.ScriptModule, torch.jit.ScriptFunction))


def _torch_outputs(model: Any, inputs: Tuple[Any, ...]) -> List[torch.Tensor]:
    with torch.no_grad():
        if isinstance(model, torch.export.ExportedProgram):
            # Running the program updates its mutable buffers (a KV cache) in place; put them
            # back so the exported state starts from the values the program was made with.
            # (Before decomposition the graph may still hold the in-place ops themselves, so
            # every buffer is saved, not only BUFFER_MUTATION targets.)
            from torch.export.graph_signature import InputKind

            targets = [
                s.target
                for s in model.graph_signature.input_specs
                if s.kind == InputKind.BUFFER and s.target in model.state_dict
            ]
            saved = {t: model.state_dict[t].clone() for t in targets}
            try:
                args, kwargs = _split_kwargs(model, inputs)
                out = model.module()(*args, **kwargs)
            finally:
                for t, v in saved.items():
                    model.state_dict[t].copy_(v)
        else:
            out = model(*inputs)
    flat = _flatten(out)
    bad = [type(o).__name__ for o in flat if not isinstance(o, torch.Tensor)]
    if bad:
        raise ExportError(
            [
                Problem(
                    f"the model returns non-tensor outputs ({', '.join(bad)}); only tensors "
                    "(possibly in tuples/lists/dicts) can be exported"
                )
            ]
        )
    return flat


def _split_kwargs(ep: Any, inputs: Tuple[Any, ...]) -> Tuple[Tuple[Any, ...], Dict[str, Any]]:
    """Split example inputs into the positional and keyword arguments ``ep`` was exported with.

    Returns:
        ``(inputs, {})``, unless ``ep`` was exported with keyword inputs only (Hugging Face's
        ``export(input_ids=..., cache_position=...)``): then ``((), kwargs)`` with the
        positional ``inputs`` as those keywords, in the order the program lists them.
    """
    spec: Any = getattr(getattr(ep, "call_spec", None), "in_spec", None)
    try:
        children = spec.children() if hasattr(spec, "children") else spec.children_specs
        args_spec, kwargs_spec = children
        keys = list(kwargs_spec.context)
    except Exception:
        return inputs, {}
    if args_spec.num_children == 0 and len(keys) == len(inputs):
        return (), dict(zip(keys, inputs))
    return inputs, {}


def _flatten(out: Any) -> List[Any]:
    if isinstance(out, (list, tuple)):
        return [x for o in out for x in _flatten(o)]
    if isinstance(out, dict):
        return [x for o in out.values() for x in _flatten(o)]
    if hasattr(out, "to_tuple") and callable(out.to_tuple):  # transformers ModelOutput
        return _flatten(out.to_tuple())
    return [out]


def lower_export(
    model: Any,
    inputs: Tuple[Any, ...],
    dynamic_shapes: Any,
    input_names: Optional[List[str]],
    output_names: Optional[List[str]],
) -> Graph:
    """torch.export (non-strict) -> Core ATen (minus fused ops) -> Graph."""
    if isinstance(model, torch.export.ExportedProgram):
        ep = model
    else:
        try:
            ep = torch.export.export(model, inputs, dynamic_shapes=dynamic_shapes, strict=False)
        except ExportError:
            raise
        except Exception as e:  # torch raises many types; keep the first line meaningful
            raise ExportError(
                [Problem(_explain_export_failure(e))], header="torch.export could not capture the model"
            ) from e
    from . import _native

    ep = _fx.decompose(ep, set(_native.supported_ops()))
    original = None if isinstance(model, torch.export.ExportedProgram) else model
    graph = _fx.lower(ep, input_names, output_names, dynamic_shapes, model=original)
    if original is not None:
        _add_omitted_defaults(graph, original, len(inputs))
    return graph


def _add_omitted_defaults(graph: Graph, model: Any, given: int) -> None:
    """Scalar arguments the example inputs left out were traced with their defaults: list them
    as inputs fixed to those defaults, so ``run(x)`` and ``run(x, default)`` both work."""
    from ._scalars import add_specialized_input, omitted_defaults

    for name, kind, default in omitted_defaults(model, given):
        add_specialized_input(graph, len(graph.inputs), name, kind, default)


class _ScalarsBound(torch.nn.Module):
    """``model`` with its Python-scalar arguments fixed to the example values, taking only the
    tensors: what ``torch.jit.trace`` can record (it refuses non-tensor inputs)."""

    def __init__(self, model: Any, inputs: Tuple[Any, ...]):
        super().__init__()
        self.model = model
        self.template = list(inputs)
        self.tensor_positions = [i for i, x in enumerate(inputs) if isinstance(x, torch.Tensor)]

    def forward(self, *tensors: Any) -> Any:
        args = list(self.template)
        for i, t in zip(self.tensor_positions, tensors):
            args[i] = t
        return self.model(*args)


def _trace_with_scalars(
    model: Any, inputs: Tuple[Any, ...], input_names: Optional[List[str]], output_names: Optional[List[str]]
) -> Graph:
    """Trace ``model`` whose example inputs include Python scalars.

    Returns:
        The traced graph, each scalar an input fixed to its example value
        (``_scalars.add_specialized_input``).

    Raises:
        ExportError: the model cannot be traced with its scalars bound.
    """
    from . import _ts
    from ._scalars import add_specialized_input, kind_of, python_params

    params = [p.name for p in python_params(model)]
    names = [
        input_names[i] if input_names and i < len(input_names) else (params[i] if i < len(params) else f"input{i}")
        for i in range(len(inputs))
    ]
    bound = _ScalarsBound(model, inputs)
    tensors = tuple(inputs[i] for i in bound.tensor_positions)
    with torch.no_grad():
        sm = torch.jit.trace(bound, tensors, check_trace=False, strict=False)
    graph = _ts.lower(sm, tensors, [names[i] for i in bound.tensor_positions], output_names)
    for i, x in enumerate(inputs):
        if i not in bound.tensor_positions:
            kind = kind_of(x)
            if kind is None:
                raise ExportError(
                    [
                        Problem(
                            f"input {i} ('{names[i]}') is a {type(x).__name__}; only tensors and int/float/bool scalars can be traced"
                        )
                    ]
                )
            add_specialized_input(graph, i, names[i], kind, x)
    return graph


def lower_torchscript(
    model: Any, inputs: Tuple[Any, ...], mode: str, input_names: Optional[List[str]], output_names: Optional[List[str]]
) -> Graph:
    """torch.jit.trace / script (or an existing ScriptModule) -> freeze -> Graph."""
    from . import _ts

    try:
        if _is_script(model):
            sm = model
        elif mode == "script":
            sm = torch.jit.script(model)
        elif not all(isinstance(x, torch.Tensor) for x in inputs):
            graph = _trace_with_scalars(model, inputs, input_names, output_names)
            _add_omitted_defaults(graph, model, len(inputs))
            return graph
        else:
            with torch.no_grad():
                sm = torch.jit.trace(model, inputs, check_trace=False, strict=False)
    except Exception as e:
        what = "torch.jit.script" if mode == "script" else "torch.jit.trace"
        raise ExportError(
            [Problem(f"{type(e).__name__}: {str(e).strip().splitlines()[0]}")],
            header=f"{what} could not capture the model",
        ) from e
    graph = _ts.lower(sm, inputs, input_names, output_names)
    if mode == "trace" and not _is_script(model):
        _add_omitted_defaults(graph, model, len(inputs))
    return graph


#: The exporter's own structural nodes; they become BuildList/BuildTuple/Unpack/Move.
_STRUCTURAL_PRIMS = ("prim::list", "prim::tuple", "prim::unpack", "prim::move")


def _check_supported(graph: Graph) -> None:
    """Every op the interpreter lacks, all at once, with the source line that produced it."""
    from . import _native

    supported = set(_native.supported_ops())
    missing: Dict[str, List[Optional[str]]] = collections.OrderedDict()
    for n in iter_nodes(graph.block):
        if isinstance(n, Node) and n.op not in _STRUCTURAL_PRIMS and n.op not in supported:
            missing.setdefault(n.op, []).append(n.source)
    from ._graph import Loop

    control = any(isinstance(n, Loop) for n in iter_nodes(graph.block))
    for extra in ("aten::lt.int", "aten::add.int") if control else ():
        if extra not in supported and extra not in missing:
            missing[extra] = [None]
    if missing:
        problems = []
        for op, sources in missing.items():
            where = next((s for s in sources if s), None)
            problems.append(Problem(f"op {op} is not implemented by the interpreter ({len(sources)} use(s))", where))
        raise ExportError(problems, header=f"the interpreter does not implement {len(missing)} op(s) this model uses")


def compare(
    ref: Sequence[torch.Tensor], got: Sequence[np.ndarray], names: Sequence[str], tolerance: float
) -> List[OutputCheck]:
    """Per-output error of the native results against PyTorch's."""
    checks = []
    for name, r, g in zip(names, ref, got):
        r_np = r.detach().cpu().numpy()
        if r_np.shape != g.shape:
            checks.append(OutputCheck(name, tuple(g.shape), float("inf"), float("inf"), 0.0, False))
            continue
        if r_np.dtype.kind in "fc":
            rd, gd = r_np.astype(np.float64), g.astype(np.float64)
            diff = np.abs(rd - gd)
            max_abs = float(diff.max()) if diff.size else 0.0
            if np.isnan(diff).any():
                max_abs = float("inf")
            scale = float(np.abs(rd).max()) if rd.size else 0.0
            rel = max_abs / max(scale, 1e-12)
            ok = rel <= tolerance or max_abs <= tolerance * 1e-3
            cos = _cosine(rd, gd)
            top1 = None
            if rd.ndim >= 1 and rd.size and rd.shape[-1] > 1:
                top1 = float((rd.argmax(-1) == gd.argmax(-1)).mean())
            checks.append(OutputCheck(name, tuple(g.shape), max_abs, rel, scale, ok, cos, top1))
            continue
        else:
            mism = int((r_np != g).sum())
            max_abs = float(np.abs(r_np.astype(np.int64) - g.astype(np.int64)).max()) if r_np.size else 0.0
            scale, rel, ok = 1.0, max_abs, mism == 0
        checks.append(OutputCheck(name, tuple(g.shape), max_abs, rel, scale, ok))
    return checks


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two float arrays (1.0 for two zero arrays)."""
    a, b = a.ravel(), b.ravel()
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    if na == 0.0 and nb == 0.0:
        return 1.0
    if na == 0.0 or nb == 0.0 or not (np.isfinite(na) and np.isfinite(nb)):
        return 0.0
    return float(np.dot(a, b) / (na * nb))


def build_graph(
    model: Any,
    inputs: Tuple[Any, ...],
    frontend: str,
    dynamic_shapes: Any,
    input_names: Optional[List[str]],
    output_names: Optional[List[str]],
) -> Tuple[Graph, str, Optional[str]]:
    """Pick and run a front end; returns (graph, front end used, why torch.export was not used)."""
    if frontend not in FRONTENDS:
        raise ValueError(f"frontend must be one of {FRONTENDS}, got {frontend!r}")
    if isinstance(model, torch.export.ExportedProgram):
        if frontend not in ("auto", "export"):
            raise ValueError("an ExportedProgram can only use frontend='export'")
        return lower_export(model, inputs, dynamic_shapes, input_names, output_names), "export", None
    if _is_script(model):
        if frontend == "export":
            raise ValueError("a ScriptModule cannot go through torch.export; use frontend='auto' or 'script'")
        with _quiet_torchscript(frontend != "auto"):
            return lower_torchscript(model, inputs, "script", input_names, output_names), "script", None
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be an nn.Module, a ScriptModule or an ExportedProgram, got {type(model).__name__}")
    if frontend in ("export", "auto"):
        try:
            return lower_export(model, inputs, dynamic_shapes, input_names, output_names), "export", None
        except ExportError as e:
            if frontend == "export":
                raise
            reason = str(e)
    else:
        reason = None
    if dynamic_shapes is not None and frontend in ("trace", "script"):
        raise ValueError("dynamic_shapes needs frontend='export' (TorchScript files have fixed input shapes)")
    if dynamic_shapes is not None and frontend == "auto":
        raise ExportError(
            [Problem(reason or "torch.export failed")],
            header="torch.export failed and TorchScript cannot keep dynamic_shapes",
        )
    mode = "script" if frontend == "script" else "trace"
    with _quiet_torchscript(frontend in ("trace", "script")):
        try:
            g = lower_torchscript(model, inputs, mode, input_names, output_names)
        except ExportError as e:
            if reason:
                raise ExportError(e.problems + [Problem(f"torch.export also failed: {reason}")]) from e
            raise
    return g, mode, reason


def export(
    model: Any,
    example_inputs: Any,
    path: "str | os.PathLike[str]",
    *,
    frontend: str = "auto",
    dynamic_shapes: Any = None,
    weights: str = "f32",
    input_names: Optional[List[str]] = None,
    output_names: Optional[List[str]] = None,
    verify: bool = True,
    tolerance: Optional[float] = None,
    model_name: Optional[str] = None,
    compression: "Optional[bool | str]" = None,
    chunk_target: Optional[int] = None,
    assets: Optional[Mapping[str, Union[bytes, bytearray, memoryview, str]]] = None,
    quantize: Optional[Dict[str, str]] = None,
    gguf: "str | os.PathLike[str] | None" = None,
) -> ExportReport:
    """Export ``model`` to a ``.wtb`` file at ``path``, and by default check it against PyTorch.

    Args:
        model: an ``nn.Module``, a ``ScriptModule`` (traced, scripted or ``torch.jit.load``ed)
            or an ``ExportedProgram``. A module in training mode is put in eval mode.
        example_inputs: a tensor or a tuple of the ``forward`` arguments (tensors, Python
            ``int``/``float``/``bool`` scalars, lists/dicts of tensors for detectors).
        path: where to write the file.
        frontend: ``"auto"`` (torch.export, falling back to ``torch.jit.trace``), ``"export"``,
            ``"trace"`` or ``"script"`` (data-dependent control flow).
        dynamic_shapes: torch.export ``Dim`` specs; the dim names are kept in the file.
        weights: ``"f32"``, ``"f16"``, ``"int8"`` (linear/conv weights per output channel,
            embeddings per row), ``"int4"`` (Linear weights group-wise, others int8) or
            ``"int8_g32"`` (Linear weights and embedding tables group-wise int8, GGUF Q8_0's
            scheme: one f16 scale per 32 weights; others int8 per channel).
        input_names: names for the file's inputs (default: the ``forward`` parameter names).
        output_names: names for the file's outputs (default ``output0``, ``output1``, ...).
        verify: run the file natively on ``example_inputs`` and compare with PyTorch.
        tolerance: the largest error ``verify`` accepts, relative to each output's largest
            magnitude (default ``TOLERANCES[weights]``).
        model_name: the name stored in the file's metadata (default: the model's class name).
        compression: ``None`` compresses a weight chunk with zstd where that saves at least
            10%, ``False`` stores every chunk as is (quicker to write and load), ``True``
            compresses every chunk; the strings "auto" / "never" / "always" work too.
        chunk_target: the weight chunk size in bytes the packer aims for.
        assets: names to bytes (a ``str`` is stored as UTF-8) the file carries beside the
            model, e.g. ``{"tokenizer.json": ...}``; read back with ``Session.asset(name)``.
        quantize: per-weight modes, ``{fnmatch pattern on weight names: mode}``, first match
            wins, e.g. ``{"lm_head.*": "f32"}``.
        gguf: with ``weights="int4"`` or ``"int8"`` (or such ``quantize=`` modes), a GGUF
            file whose blocks are stored as they are for the weights whose values they hold
            exactly: Q4_0/Q4_1 blocks (group-wise int4) for int4 Linear weights, Q8_0 blocks
            (group-wise int8) for int4 or int8 2-d weights, the token embedding and a tied
            LM head included.

    A model quantized in PyTorch (``torch.ao.quantization.quantize_dynamic`` with qint8
    weights, torchao ``Int8WeightOnlyConfig`` / ``Int8DynamicActivationInt8WeightConfig``)
    keeps its own int8 codes and scales for those Linear weights whatever ``weights`` says
    (``report.int8_imported``); torchao group-wise int4 weights (``IntxWeightOnlyConfig`` /
    ``Int8DynamicActivationIntxWeightConfig`` with ``weight_dtype=torch.int4`` and
    ``PerGroup``) keep theirs in the group-wise int4 format when its f16 scales and offsets
    hold them exactly (``report.int4_imported``). Verification then compares with the model
    computing in f32 on those exact weights. Affine int8 (non-zero zero point), float16 or
    statically quantized modules, and int4 weights the format cannot hold exactly, raise
    ExportError naming the module.

    Returns:
        What was done: the front end used (and why torch.export was not), ops, file size,
        chunks and, when verified, each output's error against PyTorch (``summary()``).

    Raises:
        ValueError: an unknown ``weights``/``quantize`` mode, ``gguf`` without int4/int8, or a bad asset.
        ExportError: the model cannot be exported; lists every problem found (unsupported ops
            with their source lines, data-dependent shapes, unsupported inputs or outputs).
        VerificationError: the file's outputs differ from PyTorch's by more than the tolerance.
    """
    return _export(
        model,
        example_inputs,
        path,
        None,
        frontend=frontend,
        dynamic_shapes=dynamic_shapes,
        weights=weights,
        input_names=input_names,
        output_names=output_names,
        verify=verify,
        tolerance=tolerance,
        model_name=model_name,
        compression=compression,
        chunk_target=chunk_target,
        assets=assets,
        quantize=quantize,
        gguf=gguf,
    )


def _export(
    model: Any,
    example_inputs: Any,
    path: "str | os.PathLike[str]",
    prequantized: "Optional[Dict[str, Any]]",
    *,
    frontend: str,
    dynamic_shapes: Any,
    weights: str,
    input_names: Optional[List[str]],
    output_names: Optional[List[str]],
    verify: bool,
    tolerance: Optional[float],
    model_name: Optional[str],
    compression: "Optional[bool | str]",
    chunk_target: Optional[int],
    assets: Optional[Mapping[str, Union[bytes, bytearray, memoryview, str]]],
    quantize: Optional[Dict[str, str]],
    gguf: "str | os.PathLike[str] | None",
) -> ExportReport:
    """:func:`export`, with ``prequantized``: when not None, the weights ``model`` holds were
    already taken from a model quantized in PyTorch (``_prequant.dequantize_modules`` run by the
    caller before wrapping or exporting it, as ``llm.export_causal_lm`` does), by weight name.

    Returns:
        :func:`export`'s report.

    Raises:
        ValueError: as :func:`export`.
        ExportError: as :func:`export`.
    """
    from . import _native

    if weights not in WEIGHT_MODES:
        raise ValueError(f"weights must be one of {WEIGHT_MODES}, got {weights!r}")
    asset_list = _asset_list(assets)
    for pat, m in (quantize or {}).items():
        if m not in WEIGHT_MODES:
            raise ValueError(f"quantize[{pat!r}] must be one of {WEIGHT_MODES}, got {m!r}")
    block_source = None
    if gguf is not None:
        gguf_modes = {"int4", "int8", "int8_g32"}
        if weights not in gguf_modes and not gguf_modes & set((quantize or {}).values()):
            raise ValueError("gguf= supplies int4/int8 weights: use it with weights='int4', 'int8' or 'int8_g32'")
        from ._gguf import GgufBlocks

        block_source = GgufBlocks(os.fspath(gguf))
    inputs = _as_tuple(example_inputs)
    if isinstance(model, torch.nn.Module) and not _is_script(model) and model.training:
        model = model.eval()
    model, inputs, input_names, output_names = _flatten_structure(
        model, inputs, input_names, output_names, asset_list, frontend, dynamic_shapes
    )
    try:
        ref = _torch_outputs(model, inputs)  # also rejects non-tensor outputs up front
    except ExportError:
        raise
    except Exception as e:
        raise ExportError(
            [Problem(f"{type(e).__name__}: {str(e).strip().splitlines()[0]}")],
            header="the model fails in PyTorch on the example inputs",
        ) from e
    # Linear modules quantized in PyTorch become f32 ones holding their exact values; their
    # own int8 or int4 codes go into the file (``_prequant``).
    from ._prequant import PrequantSource, dequantize_modules

    if prequantized is None:
        lowered, imported = dequantize_modules(model)
    else:
        lowered, imported = model, prequantized
    prequant = PrequantSource(imported) if imported else None
    if imported:
        # The file is checked against the same model computing in f32 on the exact
        # ``code · scale`` weights: PyTorch's quantized kernels add their own activation
        # rounding (7-bit, one scale per tensor for torch.ao dynamic), which is not an error
        # of the file (tests/test_prequant_import.py compares with both).
        ref = _torch_outputs(lowered, inputs)
    graph, used, reason = build_graph(lowered, inputs, frontend, dynamic_shapes, input_names, output_names)
    stats = _passes.run_all(graph)
    _check_supported(graph)
    meta = {
        "producer": "",
        "exporter_version": f"wasm_torch {__version__} ({used})",
        "torch_version": torch.__version__,
        "model_name": model_name or type(model).__name__,
        "extra": [("frontend", used), ("weights", weights)],
    }
    ir = _emit.emit(graph, _emit.WeightPolicy(weights, quantize, block_source, prequant), meta)
    if prequant is not None:
        prequant.check()
    if (weights != "f32" or quantize) and not any(w[4] != "as_is" for w in ir["weights"]):
        raise ExportError(
            [Problem(f"weights={weights!r}: the model has no weight that can be stored that way")],
            header="nothing to quantize",
        )
    ir["assets"] = asset_list
    # None: zstd where it saves >= 10% ("auto"); False: store every chunk (fastest to write and
    # to load); True: compress every chunk.
    codec: Optional[str]
    if compression is None or isinstance(compression, str):
        codec = compression
    else:
        codec = "always" if compression else "never"
    data = _native.pack(ir, chunk_target=chunk_target, compression=codec)
    path = os.fspath(path)
    with open(path, "wb") as f:
        f.write(data)
    ops = collections.Counter(ir["ops"][ins[1]] for ins in ir["functions"][0]["code"] if ins[0] == "call")
    report = ExportReport(
        path=path,
        frontend=used,
        weights=weights,
        file_size=len(data),
        ops=dict(ops),
        num_instructions=len(ir["functions"][0]["code"]),
        num_weights=len(ir["weights"]),
        weight_bytes=sum(len(w[3]) for w in ir["weights"]),
        chunks=_chunk_stats(path),
        passes=stats,
        fallback_reason=reason,
    )
    if prequant is not None:
        report.int8_imported = prequant.taken_as("int8")
        report.int8_tensors = prequant.tensors_as("int8")
        report.int4_imported = prequant.taken_as("int4")
        report.int4_tensors = prequant.tensors_as("int4")
    if block_source is not None:
        report.gguf_taken = block_source.taken
        report.gguf_taken_by_type = dict(block_source.taken_by_type)
        report.gguf_unmatched = dict(block_source.unmatched)
    if verify:
        if tolerance is None and report.int8_imported:
            # The file's int8 products quantize activations per row at run time (the int4
            # kernels keep activations f32: int4 imports alone keep the mode's tolerance).
            tolerance = max(TOLERANCES[weights], TOLERANCES["int8"])
        verify_file(report, lowered, inputs, tolerance, ref)
    return report


def _flatten_structure(
    model: Any,
    inputs: Tuple[Any, ...],
    input_names: Optional[List[str]],
    output_names: Optional[List[str]],
    asset_list: List[Tuple[str, bytes]],
    frontend: str,
    dynamic_shapes: Any,
) -> Tuple[Any, Tuple[Any, ...], Optional[List[str]], Optional[List[str]]]:
    """Flatten a model with list/dict inputs or nested outputs (a detector).

    The nesting goes into the ``wasm_torch.io.json`` asset (appended to ``asset_list``) for
    the readers.

    Returns:
        ``(model, inputs, input_names, output_names)``: the same model taking and returning
        flat tensors (:class:`_structure.Flattened`), its flat inputs and dotted names; a
        model without nesting comes back unchanged.

    Raises:
        ExportError: the model fails in PyTorch on the example inputs.
    """
    from . import _structure

    if (
        not isinstance(model, torch.nn.Module)
        or _is_script(model)
        or frontend == "script"
        or dynamic_shapes is not None
    ):
        # torch.jit.script compiles forward's own types (the flattening wrapper is Python), and
        # dynamic_shapes name forward's own arguments.
        return model, inputs, input_names, output_names
    # Running the model may update buffers in place (a KV cache); put them back so this
    # look at the output's structure changes nothing the export sees.
    saved = [(b, b.detach().clone()) for b in model.buffers()]
    try:
        with torch.no_grad():
            eager = model(*inputs)
    except Exception as e:
        raise ExportError(
            [Problem(f"{type(e).__name__}: {str(e).strip().splitlines()[0]}")],
            header="the model fails in PyTorch on the example inputs",
        ) from e
    finally:
        with torch.no_grad():
            for b, v in saved:
                b.copy_(v)
    if not _structure.needs_structure(inputs, eager):
        return model, inputs, input_names, output_names
    wrapped = _structure.Flattened(model, inputs, _structure.param_names(model, len(inputs))).eval()
    flat = wrapped.flat_inputs()
    try:
        with torch.no_grad():
            wrapped(*flat)  # records the output tree and names
    finally:
        with torch.no_grad():
            for b, v in saved:
                b.copy_(v)
    asset_list.append((_structure.ASSET, wrapped.structure_json().encode("utf-8")))
    return wrapped, flat, input_names or wrapped.flat_input_names(), output_names or list(wrapped.out_names)


# The reader's default cap on all assets together (format limit `max_asset_bytes`).
MAX_ASSET_BYTES = 64 << 20


def _asset_list(assets: Any) -> List[Tuple[str, bytes]]:
    """``assets`` as ``[(name, bytes)]``, checked up front so a bad one fails before tracing."""
    if assets is None:
        return []
    if not isinstance(assets, Mapping):
        raise TypeError(f"assets must be a mapping of name -> bytes, got {type(assets).__name__}")
    out: List[Tuple[str, bytes]] = []
    for name, data in assets.items():
        if not isinstance(name, str) or not name:
            raise ValueError(f"asset names must be non-empty strings, got {name!r}")
        if isinstance(data, str):
            data = data.encode("utf-8")
        elif isinstance(data, (bytes, bytearray, memoryview)):
            data = bytes(data)
        else:
            raise TypeError(f"asset {name!r} must be bytes or str, got {type(data).__name__}")
        out.append((name, data))
    total = sum(len(d) for _, d in out)
    if total > MAX_ASSET_BYTES:
        raise ValueError(f"assets total {total} bytes; readers accept at most {MAX_ASSET_BYTES}")
    return out


def _chunk_stats(path: str) -> Dict[str, Any]:
    from . import _native

    info = getattr(_native, "file_info", None)
    if info is None:
        return {}
    try:
        return dict(info(path))
    except Exception:
        return {}


def verify_file(
    report: ExportReport,
    model: Any,
    inputs: Tuple[Any, ...],
    tolerance: Optional[float],
    ref: Optional[List[torch.Tensor]] = None,
) -> None:
    """Run the file natively on ``inputs``, compare with PyTorch, fill ``report``, raise if off."""
    from ._session import load

    tol = TOLERANCES[report.weights] if tolerance is None else tolerance
    if ref is None:
        ref = _torch_outputs(model, inputs)
    sess = load(report.path)
    got = sess.run_flat(*inputs)
    if len(got) != len(ref):
        raise VerificationError(f"the file returns {len(got)} output(s), PyTorch returns {len(ref)}", report)
    report.outputs = compare(ref, got, [o.name for o in sess.outputs], tol)
    report.tolerance = tol
    report.verified = all(o.ok for o in report.outputs)
    if not report.verified:
        bad = [o for o in report.outputs if not o.ok]
        lines = [
            f"  {o.name}: max abs err {o.max_abs_err:.4g}, relative to output scale "
            f"{o.scale:.4g}: {o.max_rel_err:.4g} > tolerance {tol:g}"
            for o in bad
        ]
        raise VerificationError(
            "the exported file's outputs differ from PyTorch's:\n"
            + "\n".join(lines)
            + f"\n(run `python -m wasm_torch diff {report.path} ...` to find the first op that diverges)",
            report,
        )
