"""Run a lowered :class:`Graph` with PyTorch's own ops, recording every named value.

This is the PyTorch side of ``python -m wasm_torch diff``: the same graph the file was built
from, evaluated op by op with ``torch.ops``, so each register of the native trace has a
PyTorch value under the same name to compare with.
"""

from __future__ import annotations

from typing import Any, Dict, List, Tuple

import torch

from ._graph import Block, Const, Graph, If, Loop, Node, Value, WeightRef
from ._passes import _python_args, _resolve


def evaluate(graph: Graph, inputs: Tuple[Any, ...]) -> Tuple[List[Any], List[Tuple[str, Any]]]:
    """Returns (outputs, [(value name, value), ...] in execution order)."""
    env: Dict[Value, Any] = {}
    record: List[Tuple[str, Any]] = []

    def get(x: Any) -> Any:
        if isinstance(x, Value):
            return env[x]
        if isinstance(x, Const):
            return x.value
        if isinstance(x, WeightRef):
            return graph.weights[x.index].tensor
        raise TypeError(x)

    def run_block(block: Block) -> List[Any]:
        for n in block.nodes:
            if isinstance(n, Node):
                run_node(n)
            elif isinstance(n, If):
                chosen = n.then_block if bool(get(n.cond)) else n.else_block
                for o, v in zip(n.outputs, run_block(chosen)):
                    env[o] = v
            elif isinstance(n, Loop):
                trip, cond = int(get(n.trip_count)), bool(get(n.cond))
                carried = [get(c) for c in n.carried]
                i = 0
                while cond and i < trip:
                    env[n.body.params[0]] = i
                    for p, v in zip(n.body.params[1:], carried):
                        env[p] = v
                    rets = run_block(n.body)
                    cond, carried = bool(rets[0]), rets[1:]
                    i += 1
                for o, v in zip(n.outputs, carried):
                    env[o] = v
        return [get(r) for r in block.returns]

    def run_node(n: Node) -> None:
        args = [get(a) for a in n.args]
        outs: List[Any]
        if n.op == "prim::list":
            outs = [list(args)]
        elif n.op == "prim::tuple":
            outs = [tuple(args)]
        elif n.op == "prim::unpack":
            outs = list(args[0])
        elif n.op == "prim::move":
            outs = [args[0]]
        else:
            fn = _resolve(n.op)
            pos, kw = _python_args(fn, [Const(a) for a in args], graph)
            res = fn(*pos, **kw)
            outs = list(res) if isinstance(res, tuple) else [res]
        for o, v in zip(n.outputs, outs):
            env[o] = v
            if isinstance(v, torch.Tensor):
                record.append((o.name, v))

    for p, x in zip(graph.block.params, inputs):
        env[p] = x
    with torch.no_grad():
        outs = run_block(graph.block)
    return outs, record
