"""The TorchScript front end: a traced/scripted/loaded ScriptModule -> :class:`Graph`.

The module is frozen (parameters become constants, conv+bn folded by PyTorch), inlined and
de-mutated (in-place ops turned functional where that is safe). ``prim::If``/``prim::Loop``
stay structured here and become jumps at emission.
"""

from __future__ import annotations

import os
from typing import Any, Dict, List, Optional, Tuple

import torch

from ._graph import Block, Const, Graph, If, IOSpec, Loop, Node, Operand, Value, WeightRef, scalar_spec
from ._scalars import TS_KINDS, coerce, kind_of
from ._schema import DTYPE_NAMES, expand_list_default, normalize_value, qualified_name
from .errors import ExportError, Problem

_NONE_ARGS = {"layout", "device", "memory_format", "pin_memory"}

#: Ops that are the identity at inference.
_IDENTITY = {
    "aten::dropout.default",
    "aten::feature_dropout.default",
    "aten::alpha_dropout.default",
    "aten::detach.default",
    "aten::contiguous.default",
    "aten::clone.default",
}

_TORCH_DIR = os.path.dirname(torch.__file__) + os.sep
# The exporter's own private modules (_export.py, _ts.py...) are never the user's line.
_OWN_PREFIX = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_")


def source_line(node: Any) -> Optional[str]:
    """``file:line: code`` for a TorchScript node (scripted: its source; traced: its user frame)."""
    try:
        rng = node.sourceRange()
    except Exception:
        return None
    if not rng:
        return None
    lines = rng.splitlines()
    first = lines[0].strip()
    if first.startswith("File "):
        # Scripted: a context window starting at "line N"; the node's code is the line the
        # first "~~~" underline marks.
        parts = first.split(",")
        file = parts[0][5:].strip().strip('"')
        try:
            lineno = int(parts[1].strip().replace("line ", ""))
        except (IndexError, ValueError):
            lineno = 0
        code_lines: List[str] = []
        for ln in lines[1:]:
            bare = ln.replace("<--- HERE", "").strip()
            if bare and set(bare) <= set("~^"):
                if code_lines:
                    return f"{file}:{lineno + len(code_lines) - 1}: {code_lines[-1].strip()}"
                continue
            code_lines.append(ln)
        code = code_lines[0].strip() if code_lines else ""
        return f"{file}:{lineno}: {code}"
    # Traced: "path(line): function" frames, innermost first; skip PyTorch's own frames.
    for ln in lines:
        ln = ln.strip()
        if ln and not ln.startswith((_TORCH_DIR, _OWN_PREFIX)) and "(" in ln:
            return ln
    return lines[0].strip()


def _prepare(sm: Any) -> Any:
    """Freeze (when it is a module), inline calls, remove mutation; returns the TorchScript graph."""
    if isinstance(sm, torch.jit.ScriptModule):
        if sm.training:
            sm = sm.eval()
        try:
            sm = torch.jit.freeze(sm)
        except Exception as e:
            raise ExportError([Problem(f"torch.jit.freeze failed: {e}")]) from e
        graph = sm.graph.copy()
    else:
        graph = sm.graph.copy()
    torch._C._jit_pass_inline(graph)
    torch._C._jit_pass_remove_mutation(graph)
    torch._C._jit_pass_constant_propagation(graph)
    torch._C._jit_pass_dce(graph)
    return graph


#: Marks a schema argument without a default (``None`` is a real default).
_NO_DEFAULT = object()


def _schema_defaults(sm: Any, n: int) -> List[Any]:
    """The defaults of the last ``n`` (non-self) arguments of ``sm``'s forward schema.

    Returns:
        One entry per argument: its default when it is an int/float/bool, else ``_NO_DEFAULT``.
    """
    fn = getattr(sm, "forward", sm)
    try:
        args = list(fn.schema.arguments)
    except Exception:
        return [_NO_DEFAULT] * n
    args = args[len(args) - n :] if n else []
    out = []
    for a in args:
        d = a.default_value
        out.append(d if kind_of(d) is not None and TS_KINDS.get(a.type.kind()) else _NO_DEFAULT)
    return out + [_NO_DEFAULT] * (n - len(out))


def _scalar_example(ex: Any) -> Any:
    """A 0-d tensor example stands for its Python value."""
    if isinstance(ex, torch.Tensor) and ex.dim() == 0:
        return ex.item()
    return ex


def lower(
    sm: Any, inputs: Tuple[Any, ...], input_names: Optional[List[str]], output_names: Optional[List[str]]
) -> Graph:
    """Lower a ScriptModule/ScriptFunction; raises :class:`ExportError` listing every problem."""
    tsg = _prepare(sm)
    problems: List[Problem] = []
    graph = Graph(inputs=[], block=Block(), weights=[], input_specs=[], output_specs=[])
    env: Dict[Any, Any] = {}
    weight_ids: Dict[int, WeightRef] = {}
    keep_alive: List[Any] = []

    ts_inputs = list(tsg.inputs())
    if ts_inputs and ts_inputs[0].type().kind() == "ClassType":
        ts_inputs = ts_inputs[1:]  # self
    defaults = _schema_defaults(sm, len(ts_inputs))
    if len(inputs) < len(ts_inputs) and all(d is not _NO_DEFAULT for d in defaults[len(inputs) :]):
        # Arguments the example inputs leave out take their defaults.
        inputs = tuple(inputs) + tuple(defaults[len(inputs) :])
    if len(ts_inputs) != len(inputs):
        raise ExportError(
            [Problem(f"the model takes {len(ts_inputs)} inputs but {len(inputs)} example inputs were given")]
        )
    examples = list(inputs)
    for i, (tv, ex) in enumerate(zip(ts_inputs, inputs)):
        name = input_names[i] if input_names and i < len(input_names) else tv.debugName().split(".")[0]
        kind = TS_KINDS.get(tv.type().kind())
        if kind is not None:
            # An int/float/bool argument: a plain value in the graph (a loop bound...).
            try:
                ex = examples[i] = coerce(_scalar_example(ex), kind)
            except ValueError as e:
                problems.append(Problem(f"input {i} ('{name}') is a TorchScript {kind}: {e}"))
                continue
            v = Value(tv.debugName(), ex)
            d = defaults[i]
            graph.input_specs.append(scalar_spec(name, kind, d, d is not _NO_DEFAULT))
        elif not isinstance(ex, torch.Tensor):
            problems.append(
                Problem(
                    f"input {i} ('{tv.debugName()}') is a {tv.type()} ({type(ex).__name__} example); "
                    "only tensors and int/float/bool scalars are supported as inputs"
                )
            )
            continue
        else:
            v = Value(tv.debugName(), ex)
            graph.input_specs.append(IOSpec(name, DTYPE_NAMES[ex.dtype], list(ex.shape)))
        graph.inputs.append(v)
        graph.block.params.append(v)
        env[tv] = v

    def tensor_const(name: str, t: torch.Tensor) -> WeightRef:
        key = id(t)
        if key not in weight_ids:
            keep_alive.append(t)  # ids stay unique while we hold the tensor
            weight_ids[key] = graph.add_weight(name, t)
        return weight_ids[key]

    def operand(tv: Any) -> Any:
        return env[tv]

    def lower_block(ts_block_nodes: Any, block: Block) -> None:
        for n in ts_block_nodes:
            try:
                lower_node(n, block)
            except ExportError as e:
                problems.extend(e.problems)
            except KeyError as e:
                problems.append(Problem(f"{n.kind()}: uses a value that could not be lowered ({e})", source_line(n)))

    def lower_node(n: Any, block: Block) -> None:
        kind = n.kind()
        src = source_line(n)
        outs = list(n.outputs())
        if kind == "prim::Constant":
            o = n.output()
            if o.type().kind() in ("FunctionType", "ClassType"):
                return
            val = o.toIValue()
            if isinstance(val, torch.Tensor):
                env[o] = tensor_const(o.debugName(), val.detach())
            else:
                env[o] = Const(normalize_value(val))
            return
        if kind in ("prim::ListConstruct", "prim::TupleConstruct"):
            items = [operand(i) for i in n.inputs()]
            built = Value(outs[0].debugName())
            block.nodes.append(
                Node("prim::list" if kind == "prim::ListConstruct" else "prim::tuple", items, [built], src)
            )
            env[outs[0]] = built
            return
        if kind in ("prim::ListUnpack", "prim::TupleUnpack"):
            vs = [Value(o.debugName()) for o in outs]
            block.nodes.append(Node("prim::unpack", [operand(n.input())], vs, src))
            env.update(zip(outs, vs))
            return
        if kind == "prim::TupleIndex":
            src_v, idx = [operand(i) for i in n.inputs()]
            if not isinstance(idx, Const):
                raise ExportError([Problem("prim::TupleIndex with a non-constant index", src)])
            count = len(list(n.inputsAt(0).type().elements()))
            vs = [Value(f"{outs[0].debugName()}_{k}") for k in range(count)]
            block.nodes.append(Node("prim::unpack", [src_v], vs, src))
            env[outs[0]] = vs[idx.value]
            return
        if kind == "prim::If":
            then_b, else_b = list(n.blocks())
            node = If(operand(n.input()), Block(), Block(), [Value(o.debugName()) for o in outs], src)
            lower_block(then_b.nodes(), node.then_block)
            node.then_block.returns = [operand(o) for o in then_b.outputs()]
            lower_block(else_b.nodes(), node.else_block)
            node.else_block.returns = [operand(o) for o in else_b.outputs()]
            env.update(zip(outs, node.outputs))
            block.nodes.append(node)
            return
        if kind == "prim::Loop":
            ins = [operand(i) for i in n.inputs()]
            (body,) = list(n.blocks())
            params = [Value(p.debugName()) for p in body.inputs()]
            env.update(zip(list(body.inputs()), params))
            loop = Loop(ins[0], ins[1], ins[2:], Block(params=params), [Value(o.debugName()) for o in outs], src)
            lower_block(body.nodes(), loop.body)
            loop.body.returns = [operand(o) for o in body.outputs()]
            env.update(zip(outs, loop.outputs))
            block.nodes.append(loop)
            return
        if kind == "prim::GetAttr":
            raise ExportError(
                [
                    Problem(
                        "prim::GetAttr survived freezing (a non-tensor module attribute "
                        "read in forward); make it a constant or a buffer",
                        src,
                    )
                ]
            )
        if kind == "prim::RaiseException":
            # Only on error paths (asserts, argument checks in scripted code): the file keeps
            # the happy path; the interpreter's own checks still reject bad shapes at run time.
            return
        if kind == "prim::Uninitialized":
            env[outs[0]] = Const(None)
            return
        if kind in ("prim::DictConstruct",):
            raise ExportError([Problem("dict values are only supported as the model's output", src)])
        if kind == "prim::NumToTensor":
            # A Python number as a 0-d tensor: the ATen op with the dtype TorchScript gives it.
            code = {"IntType": 4, "FloatType": 7, "BoolType": 11}.get(n.inputsAt(0).type().kind(), 6)
            v = Value(outs[0].debugName())
            block.nodes.append(
                Node(
                    "aten::scalar_tensor.default",
                    [operand(n.input()), Const(code), Const(None), Const(None), Const(None)],
                    [v],
                    src,
                )
            )
            env[outs[0]] = v
            return
        if not kind.startswith(("aten::", "prim::", "torchvision::")):
            raise ExportError([Problem(f"unsupported TorchScript op '{kind}'", src)])
        schema_s = n.schema()
        if schema_s == "(no schema)":
            qname = f"{kind}.default"
            args = [operand(i) for i in n.inputs()]
        else:
            schema = torch._C.parse_schema(schema_s)
            qname = qualified_name(schema)
            args = []
            for a, i in zip(schema.arguments, n.inputs()):
                arg: Operand = operand(i)
                if a.name in _NONE_ARGS:
                    arg = Const(None)
                elif isinstance(arg, Const):
                    arg = Const(expand_list_default(arg.value, a))
                args.append(arg)
        vs = [Value(o.debugName()) for o in outs]
        qname, args = _canonical(qname, args)
        if qname in _IDENTITY:
            env[outs[0]] = args[0]
            return
        block.nodes.append(Node(qname, args, vs, src))
        env.update(zip(outs, vs))

    lower_block(tsg.nodes(), graph.block)

    # Outputs: flatten tuples/lists/dicts built right before the return.
    producers = {o: n for n in tsg.nodes() for o in n.outputs()}

    def flatten(tv: Any) -> List[Any]:
        p = producers.get(tv)
        if p is not None and p.kind() in ("prim::TupleConstruct", "prim::ListConstruct"):
            return [x for i in p.inputs() for x in flatten(i)]
        if p is not None and p.kind() == "prim::DictConstruct":
            ins = list(p.inputs())
            return [x for i in ins[1::2] for x in flatten(i)]
        return [tv]

    outputs = [o for tv in tsg.outputs() for o in flatten(tv)]
    with torch.no_grad():
        ref = sm(*examples)
    from ._export import _flatten

    ref_flat = _flatten(ref)
    for i, tv in enumerate(outputs):
        t = tv.type()
        if t.kind() != "TensorType":
            problems.append(
                Problem(f"output {i} ('{tv.debugName()}') is a {t}, not a tensor; only tensor outputs are supported")
            )
            continue
        ex = ref_flat[i] if i < len(ref_flat) else None
        if not isinstance(ex, torch.Tensor):
            problems.append(Problem(f"output {i} is not a tensor at run time"))
            continue
        res = env.get(tv)
        if res is None:
            continue
        if not isinstance(res, Value):
            out = Value(f"{tv.debugName()}_out")
            graph.block.nodes.append(Node("prim::move", [res], [out]))
            res = out
        name = output_names[i] if output_names and i < len(output_names) else f"output{i}"
        graph.block.returns.append(res)
        graph.output_specs.append(IOSpec(name, DTYPE_NAMES[ex.dtype], list(ex.shape)))
    if problems:
        raise ExportError(problems)
    return graph


#: TorchScript's Python-operator spellings -> the ATen ops torch.export emits.
_DUNDER = {
    "aten::__and__.Tensor": "aten::bitwise_and.Tensor",
    "aten::__or__.Tensor": "aten::bitwise_or.Tensor",
    "aten::__xor__.Tensor": "aten::bitwise_xor.Tensor",
    "aten::__and__.Scalar": "aten::bitwise_and.Scalar",
    "aten::__or__.Scalar": "aten::bitwise_or.Scalar",
    "aten::__xor__.Scalar": "aten::bitwise_xor.Scalar",
}


def _canonical(qname: str, args: List[Any]) -> Tuple[str, List[Any]]:
    """Map TorchScript-only spellings to the ops torch.export produces (one op set to implement)."""
    if qname == "aten::_convolution.default":
        transposed = args[6]
        if isinstance(transposed, Const) and transposed.value is False:
            return "aten::convolution.default", args[:9]
        return "aten::convolution.default", args[:9]
    if qname in _DUNDER:
        return _DUNDER[qname], args
    if qname == "aten::pad.default":
        # F.pad in TorchScript; torch.export produces constant_pad_nd for the constant mode.
        mode, value = args[2], args[3]
        if isinstance(mode, Const) and mode.value == "constant":
            fill = value if not (isinstance(value, Const) and value.value is None) else Const(0.0)
            return "aten::constant_pad_nd.default", [args[0], args[1], fill]
    return qname, args
