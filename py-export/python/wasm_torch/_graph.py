"""The exporter's own graph: what both front ends lower to before bytecode emission.

Front ends (torch.export, TorchScript) produce a :class:`Graph`; passes (constant folding,
batch-norm folding, dead-code elimination) rewrite it; :mod:`wasm_torch._emit` turns it into
the packer's IR. Keeping one representation means every pass is written once for both front
ends, and structured control flow (``If``/``Loop``) stays structured until emission, where it
becomes jumps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator, List, Optional, Union


class Value:
    """A value produced once (an SSA name); becomes one register.

    ``name`` is the PyTorch-side name (FX node name or TorchScript debug name), kept so the
    interpreter's trace can be matched against PyTorch.
    """

    __slots__ = ("name", "meta")

    def __init__(self, name: str, meta: Any = None):
        self.name = name
        # Example value / type info from the front end (a tensor, an int, ...); optional.
        self.meta = meta

    def __repr__(self) -> str:
        return f"%{self.name}"


@dataclass(eq=False)
class Const:
    """A compile-time constant operand: None, bool, int, float, str, list/tuple or tensor."""

    value: Any


@dataclass(eq=False)
class WeightRef:
    """A reference to an entry of :attr:`Graph.weights`."""

    index: int


@dataclass(eq=False)
class StateRef:
    """A reference to an entry of :attr:`Graph.states`: reads the state's current value; as
    the first argument of an in-place op (``aten::index_copy_.default``) it is written."""

    index: int


@dataclass
class State:
    """A session-state tensor (a buffer the model updates in place, e.g. a KV cache).

    ``init`` is ``None`` for an all-zero initial value (nothing stored) or the index of the
    weight holding the initial value.
    """

    name: str
    dtype: str
    shape: List[int]
    init: Optional[int] = None


Operand = Union[Value, Const, WeightRef, StateRef]


@dataclass(eq=False)
class Node:
    """An op call (``op`` = fully qualified ATen name with overload) or a structural prim.

    Structural prims: ``prim::list`` / ``prim::tuple`` (build), ``prim::unpack`` (one output
    per element), ``prim::move`` (alias).
    """

    op: str
    args: List[Operand]
    outputs: List[Value]
    source: Optional[str] = None


@dataclass(eq=False)
class Block:
    """A straight-line region: parameters bound on entry, nodes, and returned operands."""

    params: List[Value] = field(default_factory=list)
    nodes: List[Any] = field(default_factory=list)
    returns: List[Operand] = field(default_factory=list)


@dataclass(eq=False)
class If:
    """``outputs = then_block.returns if cond else else_block.returns``."""

    cond: Operand
    then_block: Block
    else_block: Block
    outputs: List[Value]
    source: Optional[str] = None


@dataclass(eq=False)
class Loop:
    """TorchScript's ``prim::Loop``.

    ``body.params`` = ``[iteration, *carried]``; ``body.returns`` = ``[continue, *carried]``;
    runs while ``iteration < trip_count`` and the condition holds; ``outputs`` = final carried.
    """

    trip_count: Operand
    cond: Operand
    carried: List[Operand]
    body: Block
    outputs: List[Value]
    source: Optional[str] = None


@dataclass
class Weight:
    """A named weight/buffer tensor; ``role`` marks linear/conv weights for int8 quantization."""

    name: str
    tensor: Any  # torch.Tensor, contiguous, on CPU
    role: str = ""  # "linear" | "conv" | "embedding" | "matmul" | ""
    #: Output-channel axis for per-channel int8 (1 for ``x @ W`` weights stored [in, out]).
    axis: int = 0


@dataclass
class IOSpec:
    """One entry of the model signature; ``shape`` items are ints or symbolic names.

    ``scalar`` is "int" | "float" | "bool" for an input that is a Python scalar rather than a
    tensor (its signature entry is then a rank-0 ``i64``/``f64``/``bool``); ``default`` is
    the value a caller may omit it for, when ``has_default``; ``fixed`` means the graph was
    specialized to ``default`` (traced/exported with it) and accepts no other value.
    """

    name: str
    dtype: str
    shape: List[Union[int, str]]
    scalar: Optional[str] = None
    default: Any = None
    has_default: bool = False
    fixed: bool = False


#: Scalar input kind -> the dtype of its rank-0 signature entry.
SCALAR_DTYPES = {"int": "i64", "float": "f64", "bool": "bool"}


def scalar_spec(name: str, kind: str, default: Any = None, has_default: bool = False, fixed: bool = False) -> IOSpec:
    """The signature entry of a scalar input of ``kind`` ("int" | "float" | "bool")."""
    if has_default:
        default = {"int": int, "float": float, "bool": bool}[kind](default)
    return IOSpec(name, SCALAR_DTYPES[kind], [], kind, default, has_default, fixed and has_default)


@dataclass(eq=False)
class Graph:
    """A whole model: inputs, the entry block, weights and signature."""

    inputs: List[Value]
    block: Block
    weights: List[Weight]
    input_specs: List[IOSpec]
    output_specs: List[IOSpec]
    states: List[State] = field(default_factory=list)

    def add_weight(self, name: str, tensor: Any, role: str = "") -> WeightRef:
        """Append a weight with a unique name and return a reference to it."""
        taken = {w.name for w in self.weights}
        base, n = name, 1
        while name in taken:
            name = f"{base}_{n}"
            n += 1
        self.weights.append(Weight(name, tensor.detach().contiguous().cpu(), role))
        return WeightRef(len(self.weights) - 1)


def iter_nodes(block: Block):
    """Every node of ``block`` and of the blocks nested in it, depth first."""
    for n in block.nodes:
        yield n
        if isinstance(n, If):
            yield from iter_nodes(n.then_block)
            yield from iter_nodes(n.else_block)
        elif isinstance(n, Loop):
            yield from iter_nodes(n.body)


def iter_reads(block: Block) -> Iterator[Operand]:
    """Every operand read in ``block`` and the blocks nested in it, in program order.

    Yields:
        Each node's own operands, then those of its nested blocks; each block's returns
        after its nodes.
    """
    for n in block.nodes:
        yield from node_operands(n)
        if isinstance(n, If):
            yield from iter_reads(n.then_block)
            yield from iter_reads(n.else_block)
        elif isinstance(n, Loop):
            yield from iter_reads(n.body)
    yield from block.returns


def node_operands(n: Any) -> List[Operand]:
    """Operands a node reads directly (not those of its nested blocks)."""
    if isinstance(n, Node):
        return list(n.args)
    if isinstance(n, If):
        return [n.cond]
    if isinstance(n, Loop):
        return [n.trip_count, n.cond, *n.carried]
    raise TypeError(n)
