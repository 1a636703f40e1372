"""The torch.export front end: ExportedProgram (FX graph of Core ATen ops) -> :class:`Graph`."""

from __future__ import annotations

import operator
import os
from typing import Any, Dict, List, Optional

import torch

from ._graph import Block, Const, Graph, IOSpec, Node, State, StateRef, Value, WeightRef, scalar_spec
from ._scalars import add_specialized_input, kind_of, python_default
from ._schema import DTYPE_NAMES, fill_arguments, qualified_name, returns_list
from .errors import ExportError, Problem

_TORCH_DIR = os.path.dirname(torch.__file__) + os.sep

#: Ops the interpreter runs faster whole; they are kept out of Core ATen decomposition.
KEEP_WHOLE = (
    "linear.default",
    "layer_norm.default",
    "scaled_dot_product_attention.default",
    "gelu.default",
    "conv2d.default",
    "conv1d.default",
    # Activations the default table splits into 2-4 element-wise passes (silu = x * sigmoid(x),
    # hardswish = x * clamp(x + 3, 0, 6) / 6): one vectorized pass instead (efficientnet_b0,
    # mobilenet_v3_small).
    "silu.default",
    "hardswish.default",
    "hardsigmoid.default",
    # Core ATen ops PyTorch's default table decomposes into index/scatter chains
    "reflection_pad1d.default",
    "reflection_pad2d.default",
    "reflection_pad3d.default",
    "replication_pad1d.default",
    "replication_pad2d.default",
    "replication_pad3d.default",
    "col2im.default",
    "embedding_dense_backward.default",
    "native_layer_norm_backward.default",
    "native_group_norm_backward.default",
    # Special functions the default table rebuilds from element-wise ops that lose f64
    # precision (log_ndtr) or skip PyTorch's domain check (mvlgamma).
    "special_log_ndtr.default",
    "mvlgamma.default",
)

#: Python scalar arithmetic on SymInts (dynamic shapes) -> TorchScript's int ops.
_SYM_OPS = {
    operator.add: "aten::add.int",
    operator.sub: "aten::sub.int",
    operator.mul: "aten::mul.int",
    operator.floordiv: "aten::floordiv.int",
    operator.mod: "aten::remainder.int",
    operator.neg: "aten::neg.int",
    operator.eq: "aten::eq.int",
    operator.ne: "aten::ne.int",
    operator.lt: "aten::lt.int",
    operator.le: "aten::le.int",
    operator.gt: "aten::gt.int",
    operator.ge: "aten::ge.int",
}

#: Ops that only assert facts for the compiler; they produce nothing the model needs.
_SKIP_PREFIXES = ("aten::_assert", "aten::sym_constrain_range", "aten::_functional_assert")


class _Token:
    """The value of an effect token (torch.export's ordering of side-effecting calls)."""


_TOKEN = _Token()


def _with_effects() -> Any:
    """torch's ``with_effects`` higher-order op, or None on a torch without it."""
    return getattr(torch.ops.higher_order, "with_effects", None)


def decompose(ep: Any, supported: Optional[set] = None) -> Any:
    """Core ATen decomposition, except the ops in :data:`KEEP_WHOLE` the interpreter runs.

    A fused op the interpreter does not implement (``supported`` given and lacking it) is
    decomposed like any other, so keeping ops whole is only ever an optimization.

    Returns:
        The decomposed ExportedProgram.
    """
    table = torch.export.default_decompositions()
    for name in KEEP_WHOLE:
        if supported is not None and f"aten::{name}" not in supported:
            continue
        base, overload = name.split(".")
        packet = getattr(torch.ops.aten, base, None)
        op = getattr(packet, overload, None) if packet is not None else None
        if op is not None and op in table:
            del table[op]
    ep = ep.run_decompositions(table)
    if supported is None:
        return ep
    # Core ATen ops the interpreter lacks but PyTorch can express with others: decompose
    # those too (e.g. native_group_norm, upsample_nearest2d), a few rounds at most.
    from torch._decomp import get_decompositions

    def missing_ops(p: Any) -> set:
        return {
            n.target
            for n in p.graph_module.graph.nodes
            if n.op == "call_function"
            and isinstance(n.target, torch._ops.OpOverload)
            and qualified_name(n.target._schema) not in supported
        }

    # Several rounds (a decomposition may need another one), then keep whichever program
    # lacks the fewest ops: group_norm -> var_mean + as_strided is no progress.
    best, best_missing = ep, len(missing_ops(ep))
    current = ep
    for _ in range(3):
        missing = missing_ops(current)
        extra = get_decompositions(list(missing)) if missing else {}
        if not extra:
            break
        try:
            current = current.run_decompositions(extra)
        except Exception:
            break  # some decompositions go through prims; the op is then reported as missing
        count = len(missing_ops(current))
        if count < best_missing:
            best, best_missing = current, count
    return best


def source_line(node: Any) -> Optional[str]:
    """``file:line: code`` of the innermost user frame of an FX node, when PyTorch kept one."""
    trace = node.meta.get("stack_trace") if hasattr(node, "meta") else None
    if not trace:
        return None
    lines = [ln for ln in trace.strip().splitlines() if ln.strip()]
    frames = []
    for i, ln in enumerate(lines):
        ln = ln.strip()
        if ln.startswith("File "):
            parts = ln.split(",")
            file = parts[0][5:].strip().strip('"')
            lineno = parts[1].strip().replace("line ", "") if len(parts) > 1 else "?"
            code = lines[i + 1].strip() if i + 1 < len(lines) else ""
            frames.append(f"{file}:{lineno}: {code}")
    # Innermost frame outside PyTorch itself (the user's or the model library's line).
    for f in reversed(frames):
        if not f.startswith(_TORCH_DIR):
            return f
    return frames[-1] if frames else None


def _dim_names(ep: Any, user_inputs: List[Any], dynamic_shapes: Any) -> Dict[str, str]:
    """Map sympy symbol names ("s0") to the user's Dim names ("batch")."""
    names: Dict[str, str] = {}
    if dynamic_shapes is None:
        return names
    if isinstance(dynamic_shapes, dict):
        specs = list(dynamic_shapes.values())
    else:
        specs = list(dynamic_shapes)
    for node, spec in zip(user_inputs, specs):
        val = node.meta.get("val")
        if not isinstance(val, torch.Tensor) or spec is None:
            continue
        items = spec.items() if isinstance(spec, dict) else enumerate(spec)
        for idx, dim in items:
            if dim is None or idx >= val.dim():
                continue
            size = val.shape[idx]
            name = getattr(dim, "__name__", None)
            if isinstance(size, torch.SymInt) and name:
                names[str(size.node.expr)] = name
    return names


def _shape_of(val: torch.Tensor, dim_names: Dict[str, str]) -> List[Any]:
    out: List[Any] = []
    for s in val.shape:
        if isinstance(s, torch.SymInt):
            expr = str(s.node.expr)
            out.append(dim_names.get(expr, expr))
        else:
            out.append(int(s))
    return out


def lower(
    ep: Any,
    input_names: Optional[List[str]] = None,
    output_names: Optional[List[str]] = None,
    dynamic_shapes: Any = None,
    model: Any = None,
) -> Graph:
    """Lower a (decomposed) ExportedProgram to the exporter's graph.

    ``model`` (the module that was exported, when known) supplies Python defaults of ``SymInt``
    inputs.

    Returns:
        The graph, its inputs and outputs named (``input_names``/``output_names`` or the
        program's own names) and its symbolic dims named.

    Raises:
        ExportError: listing every problem found (unsupported ops and arguments with their
            source lines), not only the first.
    """
    from torch.export.graph_signature import InputKind, OutputKind

    gm = ep.graph_module
    sig = ep.graph_signature
    problems: List[Problem] = []
    graph = Graph(inputs=[], block=Block(), weights=[], input_specs=[], output_specs=[])
    env: Dict[Any, Any] = {}
    weight_cache: Dict[str, WeightRef] = {}

    def weight_for(name: str, tensor: torch.Tensor) -> WeightRef:
        # Keyed by name: one weight per parameter/buffer/constant, however often it is read.
        if name not in weight_cache:
            weight_cache[name] = graph.add_weight(name, tensor)
        return weight_cache[name]

    kinds = {spec.arg.name: spec for spec in sig.input_specs}
    placeholders = [n for n in gm.graph.nodes if n.op == "placeholder"]
    user_inputs = [n for n in placeholders if kinds.get(n.name) is None or kinds[n.name].kind == InputKind.USER_INPUT]
    dim_names = _dim_names(ep, user_inputs, dynamic_shapes)

    # Buffers the graph updates in place (BUFFER_MUTATION outputs) become session state.
    mutated = {spec.target for spec in sig.output_specs if spec.kind == OutputKind.BUFFER_MUTATION}
    state_index: Dict[str, int] = {}

    for n in placeholders:
        spec = kinds.get(n.name)
        if spec is not None and spec.kind == InputKind.BUFFER and spec.target in mutated:
            t = ep.state_dict.get(spec.target) if spec.target in ep.state_dict else ep.constants.get(spec.target)
            if not isinstance(t, torch.Tensor):
                problems.append(Problem(f"state buffer '{spec.target}' is not a tensor ({type(t).__name__})"))
                continue
            t = t.detach().contiguous().cpu()
            # Zero buffers (KV caches) cost nothing in the file; others keep their value.
            init = None if not bool(t.any()) else graph.add_weight(spec.target, t).index
            state_index[spec.target] = len(graph.states)
            graph.states.append(State(spec.target, DTYPE_NAMES[t.dtype], list(t.shape), init))
            env[n] = StateRef(state_index[spec.target])
            continue
        if spec is not None and spec.kind in (InputKind.PARAMETER, InputKind.BUFFER, InputKind.CONSTANT_TENSOR):
            target = spec.target
            t = ep.state_dict.get(target) if target in ep.state_dict else ep.constants.get(target)
            if not isinstance(t, torch.Tensor):
                problems.append(Problem(f"weight '{target}' is not a tensor ({type(t).__name__})"))
                continue
            env[n] = weight_for(target, t.detach())
            continue
        if spec is not None and spec.kind == InputKind.TOKEN:
            # An effect token orders side-effecting calls (with_effects); the interpreter runs
            # nodes in program order already, so the token carries no data.
            env[n] = _TOKEN
            continue
        if spec is not None and spec.kind != InputKind.USER_INPUT:
            problems.append(Problem(f"unsupported input kind {spec.kind} for '{n.name}'"))
            continue
        val = n.meta.get("val")
        idx = len(graph.inputs)
        name = input_names[idx] if input_names and idx < len(input_names) else n.name
        if isinstance(val, torch.SymInt):
            # An int input marked dynamic: a plain int value in the graph.
            has_default, default = python_default(model, idx) if model is not None else (False, None)
            v = Value(n.name, val)
            graph.inputs.append(v)
            graph.block.params.append(v)
            graph.input_specs.append(scalar_spec(name, "int", default, has_default and kind_of(default) == "int"))
            env[n] = v
            continue
        kind = kind_of(val)
        if kind is not None:
            # torch.export baked this int/float/bool into the graph: keep the input, fixed.
            add_specialized_input(graph, idx, name, kind, val)
            env[n] = graph.inputs[idx]
            continue
        if not isinstance(val, torch.Tensor):
            problems.append(
                Problem(
                    f"input '{n.name}' is a {type(val).__name__}; only tensors and int/float/bool "
                    "scalars are supported as inputs"
                )
            )
            continue
        v = Value(n.name, val)
        graph.inputs.append(v)
        graph.block.params.append(v)
        graph.input_specs.append(IOSpec(name, DTYPE_NAMES[val.dtype], _shape_of(val, dim_names)))
        env[n] = v

    def operand(x: Any, nodes: List[Any], fx_node: Any) -> Any:
        if isinstance(x, torch.fx.Node):
            v = env[x]
            if isinstance(v, list):
                out = Value(f"{x.name}_list")
                nodes.append(Node("prim::list", list(v), [out], source_line(fx_node)))
                return out
            return v
        if isinstance(x, (list, tuple)):
            items = [operand(i, nodes, fx_node) for i in x]
            if all(isinstance(i, Const) for i in items):
                return Const([i.value for i in items])
            out = Value(f"{fx_node.name}_list{len(nodes)}")
            nodes.append(Node("prim::list", items, [out], source_line(fx_node)))
            return out
        if isinstance(x, torch.Tensor):
            return weight_for(f"{fx_node.name}_const", x.detach())
        if isinstance(x, (torch.dtype, torch.device, torch.layout, torch.memory_format)):
            from ._schema import normalize_value

            return Const(normalize_value(x))
        if x is None or isinstance(x, (bool, int, float, str)):
            return Const(x)
        raise ExportError([Problem(f"unsupported argument of type {type(x).__name__}", source_line(fx_node))])

    def lower_call(target: Any, fargs: Any, fkwargs: Any, val: Any, fx_node: Any) -> Any:
        """Append the node(s) for one ATen call.

        Returns:
            What its FX node stands for: a value, a list of values, or an empty list for an
            op with no results; None after recording a problem.
        """
        schema = target._schema
        qname = qualified_name(schema)
        src = source_line(fx_node)
        args = fill_arguments(schema, fargs, fkwargs, lambda v, a: operand(v, nodes, fx_node))
        outs: List[Value] = []
        lists = returns_list(schema)
        for i in range(len(lists)):
            rv = val[i] if len(lists) > 1 and isinstance(val, (list, tuple)) else val
            outs.append(Value(fx_node.name if i == 0 else f"{fx_node.name}_{i}", rv))
        nodes.append(Node(qname, args, outs, src))
        if len(lists) == 1 and lists[0]:
            # A Tensor[] result: unpack it now so getitem can address the elements.
            count = len(val) if isinstance(val, (list, tuple)) else None
            if count is None:
                problems.append(Problem(f"{qname}: unknown number of list elements", src))
                return None
            elems = [Value(f"{fx_node.name}_{i}", val[i]) for i in range(count)]
            nodes.append(Node("prim::unpack", [outs[0]], elems, src))
            return elems
        if len(lists) == 1:
            return outs[0]
        return outs

    nodes = graph.block.nodes
    for n in gm.graph.nodes:
        if n.op in ("placeholder", "output"):
            continue
        src = source_line(n)
        if n.op == "get_attr":
            t = getattr(gm, n.target) if "." not in n.target else _getattr_path(gm, n.target)
            if isinstance(t, torch.Tensor):
                env[n] = weight_for(n.target, t.detach())
            else:
                problems.append(Problem(f"unsupported attribute '{n.target}' ({type(t).__name__})", src))
            continue
        if n.op != "call_function":
            problems.append(Problem(f"unsupported FX node kind '{n.op}' ({n.target})", src))
            continue
        target = n.target
        try:
            if target is operator.getitem:
                seq, idx = n.args
                src_v = env.get(seq)
                if isinstance(src_v, list):
                    env[n] = src_v[idx]
                else:
                    problems.append(Problem(f"getitem on a non-sequence value ({seq.name})", src))
                continue
            if target in _SYM_OPS:
                args = [operand(a, nodes, n) for a in n.args]
                out = Value(n.name, n.meta.get("val"))
                nodes.append(Node(_SYM_OPS[target], args, [out], src))
                env[n] = out
                continue
            if isinstance(target, torch._ops.OpOverload):
                if qualified_name(target._schema).startswith(_SKIP_PREFIXES):
                    continue
                res = lower_call(target, n.args, n.kwargs, n.meta.get("val"), n)
                if res is not None:
                    env[n] = res
                continue
            if target is _with_effects():
                # with_effects(token, op, *args, **kwargs) -> (token, *op's results): the op
                # itself, run in program order; the token is no value.
                _, op, *op_args = n.args
                val = n.meta.get("val")
                inner = list(val[1:]) if isinstance(val, (list, tuple)) else None
                if not isinstance(op, torch._ops.OpOverload):
                    problems.append(Problem(f"with_effects of unsupported callee {op!r}", src))
                    continue
                inner_val = inner[0] if inner is not None and len(inner) == 1 else inner
                res = lower_call(op, tuple(op_args), n.kwargs, inner_val, n)
                if res is None:
                    continue
                env[n] = [_TOKEN] + (res if isinstance(res, list) else [res])
                continue
            name = getattr(target, "__name__", str(target))
            if isinstance(target, torch._ops.HigherOrderOperator):
                problems.append(
                    Problem(
                        f"control flow / higher-order op '{name}' is not supported by the torch.export "
                        "front end; use frontend='script' for models with data-dependent control flow",
                        src,
                    )
                )
            else:
                problems.append(Problem(f"unsupported call '{name}'", src))
        except ExportError as e:
            problems.extend(e.problems)
        except ValueError as e:
            problems.append(Problem(str(e), src))

    out_node = next(n for n in gm.graph.nodes if n.op == "output")
    results = out_node.args[0]
    out_specs = sig.output_specs
    for i, (r, spec) in enumerate(zip(results, out_specs)):
        if spec.kind == OutputKind.BUFFER_MUTATION and spec.target in state_index:
            _write_state(graph, state_index[spec.target], env.get(r), r, problems)
            continue
        if spec.kind == OutputKind.TOKEN:
            continue
        if spec.kind != OutputKind.USER_OUTPUT:
            problems.append(
                Problem(
                    f"the model mutates '{spec.target}' ({spec.kind.name}); in-place updates of "
                    "buffers/inputs are not supported (call model.eval() and avoid in-place state)"
                )
            )
            continue
        if not isinstance(r, torch.fx.Node):
            problems.append(
                Problem(
                    f"output {i} is a constant {type(r).__name__} ({r!r}), not a tensor; only tensor outputs are supported"
                )
            )
            continue
        val = r.meta.get("val")
        if not isinstance(val, torch.Tensor):
            problems.append(
                Problem(
                    f"output {i} ('{r.name}') is a {type(val).__name__}, not a tensor; only tensor outputs are supported"
                )
            )
            continue
        res = env.get(r)
        if res is None:
            problems.append(Problem(f"output {i} ('{r.name}') is not computed by the graph"))
            continue
        if isinstance(res, WeightRef):
            # An output that is a stored tensor: copy it through an op so it has a register.
            out = Value(f"{r.name}_out", val)
            nodes.append(Node("prim::move", [res], [out]))
            res = out
        idx = len(graph.output_specs)
        name = output_names[idx] if output_names and idx < len(output_names) else f"output{idx}"
        graph.block.returns.append(res)
        graph.output_specs.append(IOSpec(name, DTYPE_NAMES[val.dtype], _shape_of(val, dim_names)))
    if problems:
        raise ExportError(problems)
    return graph


#: Functional ops whose result is their first argument with some elements replaced, and the
#: in-place op that writes just those elements.
_IN_PLACE = {
    "aten::index_copy.default": "aten::index_copy_.default",
    "aten::index_put.default": "aten::index_put_.default",
    "aten::copy.default": "aten::copy_.default",
}


def _write_state(graph: Graph, k: int, new: Any, fx_node: Any, problems: List[Problem]) -> None:
    """Make the graph store ``new`` (the mutated buffer's final value) into state ``k``.

    When ``new`` is produced by ``index_copy(state, ...)`` (a KV cache update) and nothing
    reads the old state afterwards, that node becomes the in-place ``index_copy_`` on the
    state itself: only the new rows are written, and the node's result (read by attention)
    is the updated state. Otherwise a ``copy_`` of the whole value into the state is
    appended at the end of the graph.
    """
    nodes = graph.block.nodes
    if isinstance(new, StateRef) and new.index == k:
        return  # written back unchanged
    producer = next((i for i, n in enumerate(nodes) if isinstance(n, Node) and new in n.outputs), None)
    if producer is not None:
        n = nodes[producer]
        reads_after = any(
            isinstance(a, StateRef) and a.index == k
            for m in nodes[producer + 1 :]
            if isinstance(m, Node)
            for a in m.args
        )
        if (
            n.op in _IN_PLACE
            and n.args
            and isinstance(n.args[0], StateRef)
            and n.args[0].index == k
            and not reads_after
        ):
            n.op = _IN_PLACE[n.op]
            return
    if not isinstance(new, (Value, WeightRef, StateRef)):
        problems.append(
            Problem(f"state '{graph.states[k].name}' is assigned an unsupported value", source_line(fx_node))
        )
        return
    out = Value(f"{graph.states[k].name}_stored")
    nodes.append(Node("aten::copy_.default", [StateRef(k), new, Const(False)], [out], source_line(fx_node)))


def _getattr_path(obj: Any, path: str) -> Any:
    for part in path.split("."):
        obj = getattr(obj, part)
    return obj
