"""Bytecode emission: :class:`Graph` -> the plain structure ``_native.pack`` converts to ModelIr.

The structure (all plain Python, so the Rust side only converts):

- ``metadata``: dict of producer/exporter_version/torch_version/model_name strings + ``extra``
  list of (key, value);
- ``inputs`` / ``outputs``: lists of ``(name, dtype_name, [int | str, ...])``;
- ``ops``: list of op names; ``constants``: list of tagged constants
  (``("none",)``, ``("bool", b)``, ``("int", i)``, ``("float", f)``, ``("str", s)``,
  ``("ints", [..])``, ``("floats", [..])``, ``("list", [..])``,
  ``("tensor", dtype_name, shape, bytes)``);
- ``functions``: list of dicts ``name, num_registers, params, register_names, code``; each
  instruction a tagged tuple (``("call", op, args, outs)``, ``("const", dst, index)``,
  ``("move", dst, operand)``, ``("list", dst, items)``, ``("tuple", dst, items)``,
  ``("unpack", operand, dsts)``, ``("jump", target)``, ``("jump_if", operand, target)``,
  ``("jump_if_not", operand, target)``, ``("return", operands)``); operands are
  ``("r", reg)``, ``("c", const_index)`` or ``("w", weight_index)``;
- ``weights``: list of ``(name, dtype_name, shape, bytes, encoding)`` with encoding
  ``"as_is" | "f16" | "int8" | ("int8_channel", axis) | ("int4", group, offsets) |
  ("int4_stored", group, offsets) | ("int8_stored", axis) | ("int8_group", group) |
  ("int8_group_stored", group)`` (the ``_stored`` ones: ``bytes`` are already the stored
  bytes: int4 codes + f16 parameters, int8 codes + f32 scales, or group-wise int8 codes + f16
  scales).
"""

from __future__ import annotations

import fnmatch
import math
from typing import Any, Dict, List, Optional, Tuple

import torch

from ._graph import Block, Const, Graph, If, Loop, Node, StateRef, Value, WeightRef, iter_nodes
from ._passes import used_weights
from ._schema import DTYPE_NAMES, normalize_value

_STRUCTURAL = {"prim::list": "list", "prim::tuple": "tuple"}
_INT64_MAX = (1 << 63) - 1


def const_to_tagged(v: Any) -> Tuple:
    """A Python constant -> the tagged tuple form of the file's constant pool."""
    v = normalize_value(v)
    if v is None:
        return ("none",)
    if isinstance(v, bool):
        return ("bool", v)
    if isinstance(v, int):
        return ("int", v)
    if isinstance(v, float):
        return ("float", v)
    if isinstance(v, str):
        return ("str", v)
    if isinstance(v, torch.Tensor):
        t = v.detach().contiguous().cpu()
        return ("tensor", DTYPE_NAMES[t.dtype], list(t.shape), tensor_bytes(t))
    if isinstance(v, (list, tuple)):
        items = [normalize_value(i) for i in v]
        if all(isinstance(i, int) and not isinstance(i, bool) for i in items):
            return ("ints", list(items))
        if items and all(isinstance(i, (int, float)) and not isinstance(i, bool) for i in items):
            return ("floats", [float(i) for i in items])
        return ("list", [const_to_tagged(i) for i in items])
    raise TypeError(f"cannot store a constant of type {type(v).__name__}")


def tensor_bytes(t: torch.Tensor) -> bytes:
    """Little-endian contiguous bytes of a CPU tensor."""
    # resolve_conj: a complex tensor may carry a lazy conjugate bit numpy cannot read.
    t = t.detach().resolve_conj().contiguous().cpu()
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().tobytes()
    return t.numpy().tobytes()


def _const_key(tag: Tuple) -> Any:
    """Hashable identity of a tagged constant (floats by bit pattern, so -0.0 and NaN stay apart)."""
    kind = tag[0]
    if kind == "float":
        return ("float", math.copysign(1.0, tag[1]), repr(tag[1]))
    if kind == "floats":
        return ("floats", tuple(repr(x) for x in tag[1]))
    if kind in ("ints",):
        return (kind, tuple(tag[1]))
    if kind == "list":
        return ("list", tuple(_const_key(t) for t in tag[1]))
    if kind == "tensor":
        return ("tensor", tag[1], tuple(tag[2]), tag[3])
    return tag


#: Group size of int4 weights the exporter quantizes itself (GGUF's block size).
INT4_GROUP = 32
#: Group size of ``weights="int8_g32"`` (GGUF Q8_0's block size).
INT8_GROUP = 32


class WeightPolicy:
    """How each weight is stored: the ``weights=`` mode, per-name overrides (``quantize=``:
    fnmatch pattern -> mode, first match wins) and, for int4 and int8 modes, a source of
    already-quantized blocks (a GGUF file, see ``_gguf``): its Q4_0/Q4_1 blocks are taken for
    int4 Linear weights, its Q8_0 blocks for any 2-d int4 or int8 weight (embedding and LM
    head included), whenever they hold the weight's values exactly.

    With ``"int4"``, Linear weights (``n × k``, ``k`` a multiple of 32) become group-wise
    int4 (Q4_1 style, groups of 32); embedding tables and any weight sharing storage with one
    (a tied LM head) are stored f16: the output projection's error lands straight in the
    logits, and one scale per row of int8 is coarser than the 32-wide blocks a GGUF gives
    its embedding (SmolLM2's Q8_0 table re-quantized per row changed greedy answers, f16
    keeps it to 2^-11 relative). Other matrices (``x @ W`` layouts, convolutions) are int8
    per channel.

    With ``"int8_g32"``, Linear weights and embedding tables (``n × k``, ``k`` a multiple of
    32; a tied LM head included) become group-wise int8 with one f16 scale per 32 weights
    (GGUF Q8_0's scheme, SPEC.md §4.6.2); other matrices are int8 per channel.
    """

    def __init__(self, mode: str, overrides: Optional[Dict[str, str]] = None, gguf: Any = None, prequant: Any = None):
        self.mode = mode
        self.overrides = dict(overrides or {})
        self.gguf = gguf
        #: Weights quantized in PyTorch (``_prequant.PrequantSource``): stored with their own
        #: int8 or int4 codes whatever the mode.
        self.prequant = prequant

    def mode_for(self, name: str) -> str:
        for pat, m in self.overrides.items():
            if fnmatch.fnmatchcase(name, pat):
                return m
        return self.mode


class _Emitter:
    def __init__(self, graph: Graph, weight_encoding: "str | WeightPolicy"):
        self.graph = graph
        self.policy = weight_encoding if isinstance(weight_encoding, WeightPolicy) else WeightPolicy(weight_encoding)
        # Storages read by aten::embedding (a tied LM head shares one, and its role is then
        # "linear": the role pass keeps the last use).
        self.embedding_storages = {
            graph.weights[n.args[0].index].tensor.untyped_storage().data_ptr()
            for n in iter_nodes(graph.block)
            if isinstance(n, Node) and n.op == "aten::embedding.default" and isinstance(n.args[0], WeightRef)
        }
        self.ops: List[str] = []
        self.op_index: Dict[str, int] = {}
        self.constants: List[Tuple] = []
        self.const_index: Dict[Any, int] = {}
        self.regs: Dict[Value, int] = {}
        self.names: List[str] = []
        self.code: List[Any] = []
        # One stored tensor per distinct weight: tied weights (GPT-2's embedding and LM head,
        # frozen TorchScript constants read twice) share an entry.
        self.weight_map: Dict[int, int] = {}
        self.weights: List[Tuple] = []
        seen: Dict[Any, int] = {}
        state_inits = [s.init for s in graph.states if s.init is not None]
        for i in list(used_weights(graph)) + [i for i in state_inits if i not in used_weights(graph)]:
            w = graph.weights[i]
            entry = self._weight_entry(w)
            t = w.tensor
            key = (
                t.untyped_storage().data_ptr(),
                t.storage_offset(),
                tuple(t.shape),
                tuple(t.stride()),
                t.dtype,
                repr(entry[4]),
            )
            if key not in seen:
                seen[key] = len(self.weights)
                self.weights.append(entry)
            self.weight_map[i] = seen[key]

    def _weight_entry(self, w: Any) -> Tuple:
        t = w.tensor
        if self.policy.prequant is not None:
            got = self.policy.prequant.stored(w.name, t)
            if got is not None:
                data, stored_enc = got
                return (w.name, DTYPE_NAMES[t.dtype], list(t.shape), data, stored_enc)
        mode = self.policy.mode_for(w.name)
        enc: Any = "as_is"
        if t.dtype in (torch.float32, torch.float64, torch.float16, torch.bfloat16):
            if t.dtype in (torch.float64, torch.float16, torch.bfloat16):
                t = t.float() if t.dtype != torch.float64 else t
            tied = t.untyped_storage().data_ptr() in self.embedding_storages
            src = self.policy.gguf
            if src is not None and mode in ("int4", "int8", "int8_g32") and t.dtype == torch.float32 and t.dim() == 2:
                # Blocks taken from the GGUF as they are: Q4_0/Q4_1 for int4 Linear weights,
                # Q8_0 for any 2-d weight under int4 or an int8 mode (the embedding / LM head
                # too).
                int4_ok = mode == "int4" and w.role == "linear" and not tied
                got = src.stored(w.name, t, ("int4", "int8") if int4_ok else ("int8",))
                if got is not None:
                    data, stored_enc = got
                    return (w.name, DTYPE_NAMES[t.dtype], list(t.shape), data, stored_enc)
            if mode == "int8_g32" and t.dtype == torch.float32:
                if w.role in ("linear", "embedding") and t.dim() == 2 and t.shape[1] % INT8_GROUP == 0:
                    enc = ("int8_group", INT8_GROUP)
                else:
                    mode = "int8"
            if mode == "int4" and t.dtype == torch.float32:
                if w.role == "linear" and t.dim() == 2 and t.shape[1] % INT4_GROUP == 0 and not tied:
                    enc = ("int4", INT4_GROUP, True)
                elif tied or w.role == "embedding":
                    mode = "f16"
                else:
                    mode = "int8"
            if mode == "f16" and t.dtype == torch.float32:
                enc = "f16"
            elif mode == "int8" and t.dtype == torch.float32:
                if w.role in ("linear", "conv", "embedding", "matmul") and t.dim() >= 2:
                    enc = ("int8_channel", w.axis)
        return (w.name, DTYPE_NAMES[t.dtype], list(t.shape), tensor_bytes(t), enc)

    def reg(self, v: Value) -> int:
        r = self.regs.get(v)
        if r is None:
            r = len(self.names)
            self.regs[v] = r
            self.names.append(v.name)
        return r

    def temp(self, name: str) -> int:
        self.names.append(name)
        return len(self.names) - 1

    def op(self, name: str) -> int:
        i = self.op_index.get(name)
        if i is None:
            i = len(self.ops)
            self.ops.append(name)
            self.op_index[name] = i
        return i

    def const(self, value: Any) -> int:
        tag = const_to_tagged(value)
        key = _const_key(tag)
        i = self.const_index.get(key)
        if i is None:
            i = len(self.constants)
            self.constants.append(tag)
            self.const_index[key] = i
        return i

    def operand(self, x: Any) -> Tuple:
        if isinstance(x, Value):
            if x not in self.regs:
                raise AssertionError(f"value {x.name} used before it is defined")
            return ("r", self.regs[x])
        if isinstance(x, Const):
            return ("c", self.const(x.value))
        if isinstance(x, WeightRef):
            return ("w", self.weight_map[x.index])
        if isinstance(x, StateRef):
            return ("s", x.index)
        raise TypeError(x)

    def emit_block(self, block: Block) -> None:
        for n in block.nodes:
            if isinstance(n, Node):
                self.emit_node(n)
            elif isinstance(n, If):
                self.emit_if(n)
            elif isinstance(n, Loop):
                self.emit_loop(n)
            else:
                raise TypeError(n)

    def emit_node(self, n: Node) -> None:
        args = [self.operand(a) for a in n.args]
        if n.op in _STRUCTURAL:
            self.code.append((_STRUCTURAL[n.op], self.reg(n.outputs[0]), args))
        elif n.op == "prim::unpack":
            self.code.append(("unpack", args[0], [self.reg(o) for o in n.outputs]))
        elif n.op == "prim::move":
            self.code.append(("move", self.reg(n.outputs[0]), args[0]))
        else:
            self.code.append(("call", self.op(n.op), args, [self.reg(o) for o in n.outputs]))

    def emit_if(self, n: If) -> None:
        cond = self.operand(n.cond)
        outs = [self.reg(o) for o in n.outputs]
        jump_else = len(self.code)
        self.code.append(None)
        self.emit_block(n.then_block)
        for o, r in zip(outs, n.then_block.returns):
            self.code.append(("move", o, self.operand(r)))
        jump_end = len(self.code)
        self.code.append(None)
        self.code[jump_else] = ("jump_if_not", cond, len(self.code))
        self.emit_block(n.else_block)
        for o, r in zip(outs, n.else_block.returns):
            self.code.append(("move", o, self.operand(r)))
        self.code[jump_end] = ("jump", len(self.code))

    def emit_loop(self, n: Loop) -> None:
        it = self.reg(n.body.params[0])
        carried = [self.reg(p) for p in n.body.params[1:]]
        cond = self.temp(f"{n.body.params[0].name}_cond")
        self.code.append(("move", it, ("c", self.const(0))))
        self.code.append(("move", cond, self.operand(n.cond)))
        for r, init in zip(carried, n.carried):
            self.code.append(("move", r, self.operand(init)))
        head = len(self.code)
        exits = [len(self.code)]
        self.code.append(None)  # JumpIfNot cond -> end
        unbounded = isinstance(n.trip_count, Const) and n.trip_count.value == _INT64_MAX
        if not unbounded:
            lt = self.temp(f"{n.body.params[0].name}_lt")
            self.code.append(("call", self.op("aten::lt.int"), [("r", it), self.operand(n.trip_count)], [lt]))
            exits.append(len(self.code))
            self.code.append(("jump_if_not", ("r", lt), -1))
        self.emit_block(n.body)
        rets = n.body.returns
        temps = []
        for k, ret in enumerate(rets[1:]):
            t = self.temp(f"{n.body.params[0].name}_next{k}")
            self.code.append(("move", t, self.operand(ret)))
            temps.append(t)
        self.code.append(("move", cond, self.operand(rets[0])))
        for r, t in zip(carried, temps):
            self.code.append(("move", r, ("r", t)))
        self.code.append(("call", self.op("aten::add.int"), [("r", it), ("c", self.const(1))], [it]))
        self.code.append(("jump", head))
        end = len(self.code)
        for e in exits:
            if e == head:
                self.code[e] = ("jump_if_not", ("r", cond), end)
            else:
                self.code[e] = ("jump_if_not", self.code[e][1], end)
        for o, r in zip(n.outputs, carried):
            self.code.append(("move", self.reg(o), ("r", r)))


def emit(graph: Graph, weights: "str | WeightPolicy", metadata: Dict[str, Any]) -> Dict[str, Any]:
    """Build the structure ``_native.pack`` takes.

    Args:
        graph: the lowered, optimized graph.
        weights: "f32" | "f16" | "int8" | "int4", or a :class:`WeightPolicy` choosing per weight.
        metadata: the file's metadata (producer, versions, model name, extra pairs).

    Returns:
        The model IR as plain Python data: metadata, inputs, outputs, the op table,
        constants, the ``forward`` function's bytecode, weights (with their storage mode) and
        states.
    """
    e = _Emitter(graph, weights)
    params = [e.reg(v) for v in graph.block.params]
    e.emit_block(graph.block)
    e.code.append(("return", [e.operand(r) for r in graph.block.returns]))
    return {
        "metadata": metadata,
        "inputs": [(s.name, s.dtype, list(s.shape)) for s in graph.input_specs],
        "outputs": [(s.name, s.dtype, list(s.shape)) for s in graph.output_specs],
        "ops": e.ops,
        "constants": e.constants,
        "functions": [
            {
                "name": "forward",
                "num_registers": len(e.names),
                "params": params,
                "register_names": e.names,
                "code": e.code,
            }
        ],
        "weights": e.weights,
        "states": [
            (s.name, s.dtype, list(s.shape), None if s.init is None else e.weight_map[s.init]) for s in graph.states
        ],
        # Inputs that are int/float/bool scalars: (input index, kind, default or None, fixed).
        "scalar_inputs": [
            (i, s.scalar, s.default if s.has_default else None, s.fixed)
            for i, s in enumerate(graph.input_specs)
            if s.scalar is not None
        ],
    }
