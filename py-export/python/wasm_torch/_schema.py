"""ATen schema handling: the op calling convention of docs/architecture.md.

Every op call is emitted with its *full* positional argument list in schema order, defaults
filled in, so the interpreter never needs schemas. Enum-like arguments are normalized here:
dtypes become PyTorch ScalarType codes, layout/device/memory_format/pin_memory become None.
"""

from __future__ import annotations

from typing import Any, Callable, List, Sequence

import torch

#: PyTorch ScalarType codes for dtype arguments.
SCALAR_TYPE_CODES = {
    torch.uint8: 0,
    torch.int8: 1,
    torch.int16: 2,
    torch.int32: 3,
    torch.int64: 4,
    torch.float16: 5,
    torch.float32: 6,
    torch.float64: 7,
    torch.complex64: 9,
    torch.bool: 11,
    torch.bfloat16: 15,
}

#: torch dtype -> the file format's dtype names.
DTYPE_NAMES = {
    torch.float32: "f32",
    torch.float16: "f16",
    torch.bfloat16: "bf16",
    torch.float64: "f64",
    torch.int64: "i64",
    torch.int32: "i32",
    torch.int16: "i16",
    torch.int8: "i8",
    torch.uint8: "u8",
    torch.bool: "bool",
    torch.complex64: "c64",
}

NAME_TO_DTYPE = {v: k for k, v in DTYPE_NAMES.items()}

_NONE_ARGS = {"layout", "device", "memory_format", "pin_memory"}


def qualified_name(schema: Any) -> str:
    """``aten::add.Tensor`` / ``aten::relu.default`` from a FunctionSchema."""
    overload = schema.overload_name or "default"
    return f"{schema.name}.{overload}"


def normalize_value(value: Any) -> Any:
    """Turn torch enum objects into what the file stores (dtype code / None)."""
    if isinstance(value, torch.dtype):
        return SCALAR_TYPE_CODES[value]
    if isinstance(value, (torch.device, torch.layout, torch.memory_format)):
        return None
    return value


def fill_arguments(
    schema: Any,
    args: Sequence[Any],
    kwargs: dict,
    convert: Callable[[Any, Any], Any],
) -> List[Any]:
    """Full positional argument list in schema order.

    ``convert(value, arg_schema)`` maps each front-end value (e.g. an FX node) to an operand.

    Returns:
        One operand per schema argument, given ones converted, absent ones their defaults.

    Raises:
        ValueError: an argument is required but absent.
    """
    out: List[Any] = []
    for i, a in enumerate(schema.arguments):
        if i < len(args) and not a.kwarg_only:
            v = args[i]
        elif a.name in kwargs:
            v = kwargs[a.name]
        elif a.has_default_value():
            v = a.default_value
        elif a.type.kind() == "OptionalType":
            v = None
        else:
            raise ValueError(f"{qualified_name(schema)}: missing required argument '{a.name}'")
        if a.name in _NONE_ARGS:
            v = None
        out.append(convert(expand_list_default(v, a), a))
    return out


def expand_list_default(v: Any, a: Any) -> Any:
    """An ``int[2]`` argument given as a single int means that int repeated N times."""
    n = getattr(a, "N", None)
    if n and isinstance(v, int) and not isinstance(v, bool) and a.type.kind() == "ListType":
        return [v] * n
    if a.type.kind() == "FloatType" and isinstance(v, int) and not isinstance(v, bool):
        return float(v)
    return v


def returns_list(schema: Any) -> List[bool]:
    """For each schema return: is it a ``Tensor[]`` (one list value)?"""
    return [r.type.kind() == "ListType" for r in schema.returns]
