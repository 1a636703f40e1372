"""Scalar (int/float/bool) model inputs on the export side.

Three ways a Python scalar argument reaches a file:

* **a graph input** — TorchScript ``script`` keeps ``n: int`` as a parameter of the graph
  (a loop's trip count, an op's scalar argument); torch.export keeps an ``int`` marked dynamic
  (``Dim.DYNAMIC``) as a ``SymInt`` placeholder. The file's input is a scalar of that kind; its
  default (from the TorchScript schema or the Python signature) is recorded so callers may
  omit it.
* **specialized** — ``torch.jit.trace`` cannot take non-tensor inputs and torch.export bakes a
  non-dynamic ``int`` (and every ``float``/``bool``) into the graph as a constant. The file
  still lists the input, *fixed* to the traced value (its default), and runtimes refuse any
  other value with a clear error (running on silently with the traced value would give
  wrong results).
* **omitted** — an argument with a default that the example inputs leave out takes its
  default while tracing/exporting, and is added to the file as a specialized input, so
  ``run(x)`` and ``run(x, <default>)`` both work.
"""

from __future__ import annotations

import inspect
from typing import Any, List, Optional, Tuple

from ._graph import Graph, Value, scalar_spec

#: Python type -> scalar kind (``bool`` first: it is a subclass of ``int``).
_KINDS: Tuple[Tuple[type, str], ...] = ((bool, "bool"), (int, "int"), (float, "float"))

#: TorchScript type kind -> scalar kind.
TS_KINDS = {"IntType": "int", "FloatType": "float", "BoolType": "bool"}


def kind_of(x: Any) -> Optional[str]:
    """ "int" | "float" | "bool" for a Python number, else ``None``."""
    for t, k in _KINDS:
        if isinstance(x, t):
            return k
    return None


def coerce(x: Any, kind: str) -> Any:
    """Convert the example value ``x`` to a Python value of ``kind``.

    Returns:
        ``x`` as ``int``, ``float`` or ``bool`` (an int example for a float argument is a float).

    Raises:
        ValueError: ``x`` is not a number of that kind.
    """
    k = kind_of(x)
    if k == kind or (kind == "float" and k == "int"):
        return {"int": int, "float": float, "bool": bool}[kind](x)
    raise ValueError(f"expected a Python {kind}, got {type(x).__name__} {x!r}")


def python_params(model: Any) -> List[inspect.Parameter]:
    """The positional parameters of ``model.forward`` (or of a function), ``[]`` if unknown."""
    fn = getattr(model, "forward", model)
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return []
    return [
        p
        for p in sig.parameters.values()
        if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    ]


def omitted_defaults(model: Any, given: int) -> List[Tuple[str, str, Any]]:
    """The trailing ``forward`` parameters the example inputs leave out that can be scalar inputs.

    Returns:
        ``(name, kind, default)`` of the parameters after the first ``given`` whose defaults
        are Python scalars, stopping at the first that is not (a ``None`` or tensor default
        cannot be a scalar input).
    """
    out = []
    for p in python_params(model)[given:]:
        k = kind_of(p.default) if p.default is not inspect.Parameter.empty else None
        if k is None:
            break
        out.append((p.name, k, p.default))
    return out


def python_default(model: Any, index: int) -> Tuple[bool, Any]:
    """The Python-scalar default of positional parameter ``index`` of ``model.forward``.

    Returns:
        ``(True, default)`` when that parameter has a scalar default, else ``(False, None)``.
    """
    params = python_params(model)
    if index < len(params):
        d = params[index].default
        if d is not inspect.Parameter.empty and kind_of(d) is not None:
            return True, d
    return False, None


def add_specialized_input(graph: Graph, position: int, name: str, kind: str, value: Any) -> None:
    """Insert a scalar input at ``position`` whose value the graph was specialized to: the file
    marks it fixed to ``value`` (its default), so a runtime refuses any other value."""
    value = coerce(value, kind)
    v = Value(f"{name}_fixed", value)
    graph.inputs.insert(position, v)
    graph.block.params.insert(position, v)
    graph.input_specs.insert(position, scalar_spec(name, kind, value, True, fixed=True))
