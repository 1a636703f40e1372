"""Graph passes: constant folding, batch-norm folding into convolutions, LSTM-step fusion,
dead-code removal."""

from __future__ import annotations

from typing import Any, Dict, List, Tuple

import torch

from ._fused import LSTM_CELL
from ._graph import (
    Block,
    Const,
    Graph,
    If,
    Loop,
    Node,
    Operand,
    StateRef,
    Value,
    WeightRef,
    iter_nodes,
    iter_reads,
)

#: Ops never folded: random, or meant to stay in the graph.
_NO_FOLD = (
    "aten::rand",
    "aten::randn",
    "aten::dropout",
    "aten::bernoulli",
    "aten::native_dropout",
    "aten::empty",
    "aten::randint",
    "aten::normal",
    "aten::uniform",
)

#: Largest tensor (elements) folding may create out of nothing (full/arange/zeros...).
_MAX_CREATED = 1 << 16

_CODE_TO_DTYPE = None


def _resolve(op: str) -> Any:
    ns, rest = op.split("::", 1)
    base, overload = rest.rsplit(".", 1)
    packet = getattr(getattr(torch.ops, ns), base)
    return getattr(packet, overload)


def _dtype_from_code(code: int) -> torch.dtype:
    global _CODE_TO_DTYPE
    if _CODE_TO_DTYPE is None:
        from ._schema import SCALAR_TYPE_CODES

        _CODE_TO_DTYPE = {v: k for k, v in SCALAR_TYPE_CODES.items()}
    return _CODE_TO_DTYPE[code]


def _python_args(op_fn: Any, args: List[Any], graph: Graph) -> Tuple[List[Any], Dict[str, Any]]:
    """Const/WeightRef operands -> the Python (args, kwargs) the torch op takes."""
    schema = op_fn._schema
    pos: List[Any] = []
    kw: Dict[str, Any] = {}
    for a, arg in zip(schema.arguments, args):
        if isinstance(arg, WeightRef):
            v = graph.weights[arg.index].tensor
        else:
            v = arg.value
            if a.name == "dtype" and isinstance(v, int) and not isinstance(v, bool):
                v = _dtype_from_code(v)
        if a.kwarg_only:
            kw[a.name] = v
        else:
            pos.append(v)
    return pos, kw


def _numel(x: Any) -> int:
    return x.numel() if isinstance(x, torch.Tensor) else 0


_SIZE_OPS = ("aten::size.int", "aten::sym_size.int", "aten::size.default", "aten::dim.default")


def _fold_size(n: Node, mapping: Dict[Value, Any]) -> bool:
    """Sizes of a value whose shape is known and static at export time become constants."""
    x = n.args[0]
    meta = x.meta if isinstance(x, Value) else None
    if not isinstance(meta, torch.Tensor):
        return False
    shape = list(meta.shape)
    if n.op == "aten::dim.default":
        mapping[n.outputs[0]] = Const(len(shape))
        return True
    if n.op == "aten::size.default":
        if all(isinstance(s, int) for s in shape):
            mapping[n.outputs[0]] = Const([int(s) for s in shape])
            return True
        return False
    d = n.args[1]
    if not isinstance(d, Const) or not isinstance(d.value, int):
        return False
    s = shape[d.value]
    if isinstance(s, int):
        mapping[n.outputs[0]] = Const(int(s))
        return True
    return False


def fold_constants(graph: Graph) -> int:
    """Evaluate op calls whose inputs are all known at export time; returns how many folded."""
    mapping: Dict[Value, Any] = {}
    count = [0]

    def sub(x: Any) -> Any:
        while isinstance(x, Value) and x in mapping:
            x = mapping[x]
        return x

    def run_block(block: Block) -> None:
        kept = []
        for n in block.nodes:
            if isinstance(n, If):
                n.cond = sub(n.cond)
                run_block(n.then_block)
                run_block(n.else_block)
                if isinstance(n.cond, Const) and isinstance(n.cond.value, (bool, int)):
                    # A branch decided at export time: inline it.
                    chosen = n.then_block if n.cond.value else n.else_block
                    kept.extend(chosen.nodes)
                    for o, r in zip(n.outputs, chosen.returns):
                        mapping[o] = r
                    count[0] += 1
                    continue
                kept.append(n)
                continue
            if isinstance(n, Loop):
                n.trip_count, n.cond = sub(n.trip_count), sub(n.cond)
                n.carried = [sub(c) for c in n.carried]
                run_block(n.body)
                kept.append(n)
                continue
            n.args = [sub(a) for a in n.args]
            if try_fold(n):
                count[0] += 1
                continue
            kept.append(n)
        block.nodes = kept
        block.returns = [sub(r) for r in block.returns]

    def try_fold(n: Node) -> bool:
        if n.op == "prim::move":
            mapping[n.outputs[0]] = n.args[0]
            return True
        if n.op in _SIZE_OPS and _fold_size(n, mapping):
            return True
        if not all(isinstance(a, (Const, WeightRef)) for a in n.args):
            return False
        if n.op in ("prim::list", "prim::tuple"):
            if all(isinstance(a, Const) for a in n.args):
                vals = [a.value for a in n.args if isinstance(a, Const)]
                mapping[n.outputs[0]] = Const(vals if n.op == "prim::list" else tuple(vals))
                return True
            return False
        if n.op == "prim::unpack":
            src = n.args[0]
            if isinstance(src, Const) and isinstance(src.value, (list, tuple)) and len(src.value) == len(n.outputs):
                for o, v in zip(n.outputs, src.value):
                    mapping[o] = Const(v)
                return True
            return False
        if not n.op.startswith("aten::") or n.op.startswith(_NO_FOLD):
            return False
        try:
            fn = _resolve(n.op)
            args, kwargs = _python_args(fn, n.args, graph)
            with torch.no_grad():
                res = fn(*args, **kwargs)
        except Exception:
            return False
        results = list(res) if isinstance(res, tuple) else [res]
        if len(results) != len(n.outputs):
            return False
        created = sum(_numel(r) for r in results)
        inputs = sum(_numel(a) for a in args) + sum(_numel(a) for a in kwargs.values())
        if created > max(inputs, _MAX_CREATED):
            return False
        repl: List[Operand] = []
        for o, r in zip(n.outputs, results):
            if isinstance(r, torch.Tensor):
                repl.append(graph.add_weight(o.name, r))
            elif r is None or isinstance(r, (bool, int, float, str)):
                repl.append(Const(r))
            elif isinstance(r, (list, tuple)) and all(isinstance(i, (int, float, bool)) for i in r):
                repl.append(Const(list(r)))
            else:
                return False
        for o, r in zip(n.outputs, repl):
            mapping[o] = r
        return True

    run_block(graph.block)
    return count[0]


def use_counts(graph: Graph) -> Dict[Value, int]:
    """How many times each value is read (nested blocks and returns included)."""
    counts: Dict[Value, int] = {}
    for a in iter_reads(graph.block):
        if isinstance(a, Value):
            counts[a] = counts.get(a, 0) + 1
    return counts


_CONVS = ("aten::conv2d.default", "aten::conv1d.default", "aten::convolution.default")
_BNS = ("aten::_native_batch_norm_legit_no_training.default", "aten::batch_norm.default")


def fold_batch_norm(graph: Graph) -> int:
    """Fold inference batch norm into the convolution feeding it (when that conv has no other use)."""
    counts = use_counts(graph)
    producers: Dict[Value, Node] = {}
    for n in iter_nodes(graph.block):
        if isinstance(n, Node):
            for o in n.outputs:
                producers[o] = n
    folded = 0
    mapping: Dict[Value, Value] = {}
    removed = set()
    for bn in list(iter_nodes(graph.block)):
        if not isinstance(bn, Node) or bn.op not in _BNS:
            continue
        x = bn.args[0]
        if not isinstance(x, Value):
            continue
        conv = producers.get(x)
        if conv is None or conv.op not in _CONVS or counts.get(x, 0) != 1:
            continue
        if conv.op == "aten::convolution.default" and not (
            isinstance(conv.args[6], Const) and conv.args[6].value is False
        ):
            continue  # transposed convolution: channels are on another axis
        if bn.op == "aten::batch_norm.default":
            training = bn.args[5]
            if not (isinstance(training, Const) and training.value is False):
                continue
            eps_arg = bn.args[7]
        else:
            eps_arg = bn.args[6]
            if any(counts.get(o, 0) for o in bn.outputs[1:]):
                continue
        if not isinstance(eps_arg, Const):
            continue  # eps computed at run time: nothing to fold into
        w_arg, b_arg = conv.args[1], conv.args[2]
        gamma, beta, mean, var = bn.args[1:5]
        parts = [w_arg, gamma, beta, mean, var]
        if not all(isinstance(p, WeightRef) or (isinstance(p, Const) and p.value is None) for p in parts):
            continue
        if not isinstance(w_arg, WeightRef) or not isinstance(mean, WeightRef) or not isinstance(var, WeightRef):
            continue
        if not (isinstance(b_arg, WeightRef) or (isinstance(b_arg, Const) and b_arg.value is None)):
            continue
        W = graph.weights[w_arg.index].tensor.double()
        out_ch = W.shape[0]

        def get(p: Any, default: float, out_ch: int = out_ch) -> torch.Tensor:
            if isinstance(p, WeightRef):
                return graph.weights[p.index].tensor.double()
            return torch.full((out_ch,), default, dtype=torch.float64)

        b = get(b_arg, 0.0)
        g, be, mu, v = get(gamma, 1.0), get(beta, 0.0), get(mean, 0.0), get(var, 1.0)
        scale = g / torch.sqrt(v + float(eps_arg.value))
        new_w = (W * scale.reshape(-1, *([1] * (W.dim() - 1)))).to(graph.weights[w_arg.index].tensor.dtype)
        new_b = ((b - mu) * scale + be).to(graph.weights[w_arg.index].tensor.dtype)
        base = graph.weights[w_arg.index].name.rsplit(".", 1)[0]
        conv.args[1] = graph.add_weight(base + ".weight_bnfolded", new_w, "conv")
        conv.args[2] = graph.add_weight(base + ".bias_bnfolded", new_b)
        mapping[bn.outputs[0]] = x
        removed.add(id(bn))
        folded += 1
    if folded:
        _remove_and_substitute(graph.block, removed, mapping)
    return folded


def _remove_and_substitute(block: Block, removed: set, mapping: Dict[Value, Any]) -> None:
    def sub(x: Any) -> Any:
        while isinstance(x, Value) and x in mapping:
            x = mapping[x]
        return x

    kept = []
    for n in block.nodes:
        if id(n) in removed:
            continue
        if isinstance(n, Node):
            n.args = [sub(a) for a in n.args]
        elif isinstance(n, If):
            n.cond = sub(n.cond)
            _remove_and_substitute(n.then_block, removed, mapping)
            _remove_and_substitute(n.else_block, removed, mapping)
        elif isinstance(n, Loop):
            n.trip_count, n.cond = sub(n.trip_count), sub(n.cond)
            n.carried = [sub(c) for c in n.carried]
            _remove_and_substitute(n.body, removed, mapping)
        kept.append(n)
    block.nodes = kept
    block.returns = [sub(r) for r in block.returns]


def writes_state(n: Node) -> bool:
    """An in-place op whose destination is session state: it has an effect, never dead."""
    return bool(n.args) and isinstance(n.args[0], StateRef)


def has_effect(n: Node) -> bool:
    """Whether ``n`` is kept for what it does, not what it returns.

    Returns:
        True when it writes session state or has no results at all (a check such as
        ``_linalg_check_errors`` that raises on bad input).
    """
    return writes_state(n) or not n.outputs


def eliminate_dead_code(graph: Graph) -> int:
    """Drop pure nodes whose outputs nobody reads; repeat until nothing changes."""
    total = 0
    while True:
        counts = use_counts(graph)
        removed = set()
        for n in iter_nodes(graph.block):
            if isinstance(n, Node) and not any(counts.get(o, 0) for o in n.outputs) and not has_effect(n):
                removed.add(id(n))
            elif isinstance(n, If) and not any(counts.get(o, 0) for o in n.outputs):
                removed.add(id(n))
        if not removed:
            return total
        total += len(removed)
        _remove_and_substitute(graph.block, removed, {})


#: op -> index of the argument that is the right-hand matrix.
_MATMULS = {"aten::addmm.default": 2, "aten::mm.default": 1, "aten::matmul.default": 1}


def mark_weight_roles(graph: Graph) -> None:
    """Tag linear/conv weights and embedding tables (int8 per-channel quantization targets)."""
    for n in iter_nodes(graph.block):
        if isinstance(n, Node) and n.op == "aten::embedding.default" and isinstance(n.args[0], WeightRef):
            graph.weights[n.args[0].index].role = "embedding"  # rows are looked up: per-row scales
            continue
        if isinstance(n, Node) and n.op in _MATMULS:
            # x @ W with W stored [in, out] (transformers' Conv1D uses addmm): channels are
            # the last axis.
            arg = n.args[_MATMULS[n.op]]
            if isinstance(arg, WeightRef):
                w = graph.weights[arg.index]
                if not w.role and w.tensor.dim() == 2:
                    w.role, w.axis = "matmul", 1
            continue
        if not isinstance(n, Node) or len(n.args) < 2 or not isinstance(n.args[1], WeightRef):
            continue
        w = graph.weights[n.args[1].index]
        if n.op in ("aten::linear.default",):
            w.role = "linear"
        elif n.op in _CONVS or n.op == "aten::_convolution.default":
            w.role = "conv"


def used_weights(graph: Graph) -> List[int]:
    """Indices of weights referenced anywhere, in first-use order."""
    seen: Dict[int, None] = {}
    for a in iter_reads(graph.block):
        if isinstance(a, WeightRef):
            seen.setdefault(a.index)
    return list(seen)


#: op -> (replacement, number of leading outputs kept) when the other outputs are unused.
_DROP_OUTPUTS = {
    "aten::max_pool2d_with_indices.default": ("aten::max_pool2d.default", 1),
    "aten::max_pool1d_with_indices.default": ("aten::max_pool1d.default", 1),
    "aten::native_dropout.default": (None, 1),
}


def drop_unused_outputs(graph: Graph) -> int:
    """Use the single-output form of ops whose extra outputs (pooling indices...) nobody reads."""
    counts = use_counts(graph)
    changed = 0
    for n in iter_nodes(graph.block):
        if isinstance(n, Node) and n.op in _DROP_OUTPUTS:
            new, keep = _DROP_OUTPUTS[n.op]
            if new and not any(counts.get(o, 0) for o in n.outputs[keep:]):
                n.op, n.outputs = new, n.outputs[:keep]
                changed += 1
    return changed


_SDPA = "aten::scaled_dot_product_attention.default"
_RESHAPES = ("aten::view.default", "aten::_unsafe_view.default", "aten::reshape.default")


def _shape(v: Any) -> Any:
    """The value's shape: ints for static sizes, the symbol's name (a string) for dynamic ones.

    Never ``int()`` a symbolic size: that specializes the exported program's shape
    environment to the example's size, so a later export of the same ExportedProgram would
    come out with the sequence length fixed. ``str`` reads the symbol without a guard.

    Returns:
        The list of sizes, or None when the value carries no shape.
    """
    meta = getattr(v, "meta", None)
    shape = getattr(meta, "shape", None)
    return None if shape is None else [d if type(d) is int else str(d) for d in shape]


def _repeat_kv_source(x: Any, producers: Dict[Value, Node]) -> Any:
    """``(source, rep)`` when ``x`` is transformers' ``repeat_kv(source, rep)``, else None.

    The pattern torch.export leaves: ``unsqueeze(source, 2)`` -> ``expand`` to
    ``[B, H, rep, S, D]`` -> ``clone`` -> reshape to ``[B, H * rep, S, D]``, each head repeated
    ``rep`` times in a row (what ``enable_gqa`` computes without the copy).

    Returns:
        ``(source, rep)``, or None when ``x`` is not produced by that chain.
    """
    chain = []
    for ops in (_RESHAPES, ("aten::clone.default",), ("aten::expand.default",), ("aten::unsqueeze.default",)):
        n = producers.get(x) if isinstance(x, Value) else None
        if n is None or n.op not in ops:
            return None
        chain.append(n)
        x = n.args[0]
    src, unsq = x, chain[3]
    s_src, s_exp, s_out = _shape(src), _shape(chain[2].outputs[0]), _shape(chain[0].outputs[0])
    dim = unsq.args[1].value if isinstance(unsq.args[1], Const) else None
    if s_src is None or s_exp is None or s_out is None or len(s_src) != 4 or dim not in (2, -3):
        return None
    b, h, s, d = s_src
    rep = s_exp[2]
    if type(h) is not int or type(rep) is not int or rep < 1:
        return None
    if s_exp != [b, h, rep, s, d] or s_out != [b, h * rep, s, d]:
        return None
    return src, rep


def fold_repeat_kv(graph: Graph) -> int:
    """Attention over ``repeat_kv(k)``, ``repeat_kv(v)`` -> attention over k, v with
    ``enable_gqa=True``: the interpreter then reads each shared key/value head in place
    instead of copying the whole cache to every query head (a ``clone`` per layer and step
    in a grouped-query LLM decode). The dead repeat chain is removed by dead-code elimination.

    Returns:
        How many attention nodes were rewritten.
    """
    producers: Dict[Value, Node] = {}
    for n in iter_nodes(graph.block):
        if isinstance(n, Node):
            for o in n.outputs:
                producers[o] = n
    folded = 0
    for n in iter_nodes(graph.block):
        if not isinstance(n, Node) or n.op != _SDPA or len(n.args) != 8:
            continue
        gqa = n.args[7]
        if not (isinstance(gqa, Const) and gqa.value is False):
            continue
        k, v = _repeat_kv_source(n.args[1], producers), _repeat_kv_source(n.args[2], producers)
        if k is None or v is None or k[1] != v[1] or k[1] == 1:
            continue
        q_shape = _shape(n.args[0])
        if q_shape is None or len(q_shape) != 4 or q_shape[1] != _shape(k[0])[1] * k[1]:
            continue  # (the kv head count is a static int here: _repeat_kv_source checked it)
        n.args[1], n.args[2], n.args[7] = k[0], v[0], Const(True)
        folded += 1
    return folded


_ADD = "aten::add.Tensor"
_MUL = "aten::mul.Tensor"
_SIGMOID = "aten::sigmoid.default"
_TANH = "aten::tanh.default"
_SPLIT = "aten::split_with_sizes.default"


def _operand_shape(graph: Graph, x: Any) -> Any:
    """:func:`_shape` for any operand: weights and constant tensors too."""
    if isinstance(x, WeightRef):
        return list(graph.weights[x.index].tensor.shape)
    if isinstance(x, Const):
        return list(x.value.shape) if isinstance(x.value, torch.Tensor) else None
    return _shape(x)


def _operand_dtype(graph: Graph, x: Any) -> Any:
    if isinstance(x, WeightRef):
        return graph.weights[x.index].tensor.dtype
    if isinstance(x, Const):
        return x.value.dtype if isinstance(x.value, torch.Tensor) else None
    return getattr(getattr(x, "meta", None), "dtype", None)


def _unit_alpha(n: Node) -> bool:
    return len(n.args) == 2 or (len(n.args) == 3 and isinstance(n.args[2], Const) and n.args[2].value == 1)


def _match_lstm_step(
    graph: Graph, split: Node, producers: Dict[Value, Node], users: Dict[Value, List[Node]], counts: Dict[Value, int]
) -> Any:
    """The nodes of one decomposed LSTM step around ``split``, or None when they differ.

    The chain torch.export leaves for each step of ``nn.LSTM`` (PyTorch's ``lstm_cell``
    decomposition): ``gates = add(x, y)`` -> ``split_with_sizes(gates, [H] * 4, -1)`` ->
    ``sigmoid, sigmoid, tanh, sigmoid`` -> ``cy = f * cx + i * g`` -> ``hy = o * tanh(cy)``.
    Every intermediate must have exactly one reader (``cy`` and ``hy`` may have any number),
    so removing the chain changes nothing else.

    Returns:
        ``(nodes, x, y, cx, hy, cy)`` or None; ``nodes[-1]`` is the ``add`` producing ``cy``,
        the one place the fused op can take: after every input (``cx`` is read by an earlier
        node of the chain) and before every reader of ``cy`` or ``hy``.
    """

    def only_user(v: Any, op: str) -> Any:
        if not isinstance(v, Value) or counts.get(v, 0) != 1 or len(users.get(v, [])) != 1:
            return None
        u = users[v][0]
        return u if u.op == op else None

    gates = split.args[0]
    if not isinstance(gates, Value) or counts.get(gates, 0) != 1:
        return None
    add = producers.get(gates)
    if add is None or add.op != _ADD or not _unit_alpha(add):
        return None
    shape = _shape(gates)
    if not shape or type(shape[-1]) is not int or shape[-1] % 4 or _operand_dtype(graph, gates) != torch.float32:
        return None
    h = shape[-1] // 4
    sizes, dim = split.args[1], split.args[2] if len(split.args) > 2 else Const(0)
    if not (
        isinstance(sizes, Const)
        and list(sizes.value) == [h] * 4
        and isinstance(dim, Const)
        and dim.value in (-1, len(shape) - 1)
    ):
        return None
    unpack = only_user(split.outputs[0], "prim::unpack")
    if unpack is None or len(unpack.outputs) != 4:
        return None
    acts = [only_user(p, op) for p, op in zip(unpack.outputs, (_SIGMOID, _SIGMOID, _TANH, _SIGMOID))]
    if any(a is None for a in acts):
        return None
    i, f, g, o = (a.outputs[0] for a in acts)

    def product_with(v: Value, other: Any = None) -> Any:
        """The single ``mul`` reading ``v`` (and ``other``, if given) -> (node, its other factor)."""
        m = only_user(v, _MUL)
        if m is None or len(m.args) != 2 or m.args[0] is m.args[1]:
            return None
        rest = m.args[1] if m.args[0] is v else m.args[0]
        return None if other is not None and rest is not other else (m, rest)

    fm, ig = product_with(f), product_with(i, g)
    if fm is None or ig is None or only_user(g, _MUL) is not ig[0]:
        return None
    (f_mul, cx), i_mul = fm, ig[0]
    cy_add = only_user(f_mul.outputs[0], _ADD)
    if cy_add is None or not _unit_alpha(cy_add) or only_user(i_mul.outputs[0], _ADD) is not cy_add:
        return None
    cy = cy_add.outputs[0]
    tanh_c = [u for u in users.get(cy, []) if u.op == _TANH]
    if len(tanh_c) != 1:
        return None
    om = product_with(o, tanh_c[0].outputs[0])
    if om is None or only_user(tanh_c[0].outputs[0], _MUL) is not om[0]:
        return None
    hy = om[0].outputs[0]
    if _operand_shape(graph, cx) != shape[:-1] + [h] or _operand_dtype(graph, cx) != torch.float32:
        return None  # the fused op takes cx in exactly the state's shape
    nodes = [add, split, unpack, *acts, f_mul, i_mul, tanh_c[0], om[0], cy_add]
    return nodes, add.args[0], add.args[1], cx, hy, cy


def fuse_lstm_cells(graph: Graph) -> int:
    """Each decomposed LSTM step's element-wise chain -> one ``wasm_torch::lstm_cell``.

    torch.export turns ``nn.LSTM`` into a projection and about a dozen element-wise ops per
    time step and layer; on small LSTMs dispatching and allocating those costs as much as the
    arithmetic. The fused op's PyTorch definition (``_fused.lstm_cell``) is the same chain, so
    the file is still checked against the unfused model. Only chains whose intermediates
    nobody else reads are fused.

    Returns:
        How many steps were fused.
    """
    counts = use_counts(graph)
    fused = 0

    def run(block: Block) -> None:
        nonlocal fused
        producers: Dict[Value, Node] = {}
        users: Dict[Value, List[Node]] = {}
        for n in block.nodes:
            if isinstance(n, Node):
                for o in n.outputs:
                    producers[o] = n
                for a in n.args:
                    if isinstance(a, Value):
                        users.setdefault(a, []).append(n)
            elif isinstance(n, If):
                run(n.then_block)
                run(n.else_block)
            elif isinstance(n, Loop):
                run(n.body)
        replaced: Dict[int, Node] = {}
        removed: set = set()
        for n in block.nodes:
            if not isinstance(n, Node) or n.op != _SPLIT or id(n) in removed:
                continue
            m = _match_lstm_step(graph, n, producers, users, counts)
            if m is None:
                continue
            nodes, x, y, cx, hy, cy = m
            if any(id(c) in removed for c in nodes):
                continue
            replaced[id(nodes[-1])] = Node(LSTM_CELL, [x, y, cx], [hy, cy], source=nodes[-1].source)
            removed.update(id(c) for c in nodes)
            fused += 1
        if removed:  # (this block's own rewrites; nested blocks were rebuilt above)
            block.nodes = [replaced.get(id(n), n) for n in block.nodes if id(n) in replaced or id(n) not in removed]

    run(graph.block)
    return fused


def run_all(graph: Graph) -> Dict[str, int]:
    """The standard pipeline; returns counts for the report."""
    stats = {"folded": fold_constants(graph)}
    stats["bn_folded"] = fold_batch_norm(graph)
    stats["gqa_folded"] = fold_repeat_kv(graph)
    stats["lstm_fused"] = fuse_lstm_cells(graph)
    stats["dead"] = eliminate_dead_code(graph)
    stats["simplified"] = drop_unused_outputs(graph)
    mark_weight_roles(graph)
    return stats
