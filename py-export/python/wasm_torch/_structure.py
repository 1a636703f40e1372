"""Nested inputs and outputs: lists, tuples and string-keyed dicts of tensors.

A detector takes ``List[Tensor]`` and returns ``List[Dict[str, Tensor]]``; the file's
signature holds tensors only. The exporter therefore runs the model through
:class:`Flattened` (flat tensors in, flat tensors out) and records the nesting as a tree in
the asset :data:`ASSET` (``wasm_torch.io.json``, format-spec §4.10.1), which the readers
(:meth:`Session.run`, the npm package) use to rebuild the nested values. Each flat tensor is
named by its path, the keys joined with dots: input ``images.0``, outputs ``0.boxes``,
``0.scores``, ``0.labels``; a reader that ignores the asset (WASI-NN) sees those names.

Tree nodes (JSON): ``{"t": i}`` is flat tensor ``i``; ``{"list": [node...]}``,
``{"tuple": [node...]}``; ``{"dict": [[key, node]...]}`` (keys are strings, order kept).
"""

from __future__ import annotations

import json
from typing import Any, Dict, List, Sequence, Tuple

import torch

#: The asset that carries the trees.
ASSET = "wasm_torch.io.json"


def _has_dict(x: Any) -> bool:
    """A dict (not a transformers ModelOutput, which the flat path already handles) anywhere."""
    if hasattr(x, "to_tuple") and callable(x.to_tuple):
        return False
    if isinstance(x, dict):
        return True
    return isinstance(x, (list, tuple)) and any(_has_dict(v) or isinstance(v, (list, tuple)) for v in x)


def needs_structure(inputs: Sequence[Any], outputs: Any) -> bool:
    """Whether the model needs a structure asset for its nested inputs or outputs.

    Returns:
        True when an input is a list/tuple/dict or the output holds a dict or nested lists (a
        detector's ``[{...}]``); a tensor, a flat tuple/list of tensors or a ModelOutput keep
        the flat path (and its ``output{i}`` names).
    """
    if any(isinstance(x, (list, tuple, dict)) for x in inputs):
        return True
    return _has_dict(outputs)


def flatten(value: Any, prefix: str, leaves: List[Any], names: List[str]) -> Dict[str, Any]:
    """Append ``value``'s tensors to ``leaves`` (their dotted paths to ``names``); its tree."""
    if isinstance(value, dict):
        items = []
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(f"only string dict keys can be exported, got {type(k).__name__} {k!r}")
            items.append([k, flatten(v, f"{prefix}.{k}" if prefix else k, leaves, names)])
        return {"dict": items}
    if isinstance(value, (list, tuple)):
        kind = "list" if isinstance(value, list) else "tuple"
        return {kind: [flatten(v, f"{prefix}.{i}" if prefix else str(i), leaves, names) for i, v in enumerate(value)]}
    if hasattr(value, "to_tuple") and callable(value.to_tuple):  # transformers ModelOutput
        return flatten(value.to_tuple(), prefix, leaves, names)
    leaves.append(value)
    names.append(prefix or "output")
    return {"t": len(leaves) - 1}


def rebuild(tree: Dict[str, Any], leaves: Sequence[Any]) -> Any:
    """The nested value ``tree`` describes, with flat value ``i`` at ``{"t": i}``."""
    if "t" in tree:
        return leaves[tree["t"]]
    if "list" in tree:
        return [rebuild(n, leaves) for n in tree["list"]]
    if "tuple" in tree:
        return tuple(rebuild(n, leaves) for n in tree["tuple"])
    if "dict" in tree:
        return {k: rebuild(n, leaves) for k, n in tree["dict"]}
    raise ValueError(f"malformed structure node {tree!r}")


class Flattened(torch.nn.Module):
    """``model`` taking its inputs' tensors flat and returning its outputs' tensors flat.

    Non-tensor leaves of the inputs (``None`` for an optional argument) stay fixed at their
    example values: the captured graph is specialised to them."""

    def __init__(self, model: Any, inputs: Sequence[Any], param_names: Sequence[str]):
        super().__init__()
        self.model = model
        self.in_leaves: List[Any] = []
        self.in_names: List[str] = []
        self.in_trees = [flatten(x, param_names[i], self.in_leaves, self.in_names) for i, x in enumerate(inputs)]
        self.tensor_pos = [i for i, x in enumerate(self.in_leaves) if isinstance(x, torch.Tensor)]
        self.out_tree: Dict[str, Any] = {}
        self.out_names: List[str] = []

    def flat_inputs(self) -> Tuple[torch.Tensor, ...]:
        return tuple(self.in_leaves[i] for i in self.tensor_pos)

    def flat_input_names(self) -> List[str]:
        return [self.in_names[i] for i in self.tensor_pos]

    def forward(self, *tensors: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        leaves = list(self.in_leaves)
        for i, t in zip(self.tensor_pos, tensors):
            leaves[i] = t
        args = [rebuild(t, leaves) for t in self.in_trees]
        out = self.model(*args)
        flat: List[Any] = []
        names: List[str] = []
        self.out_tree = flatten(out, "", flat, names)
        self.out_names = names
        return tuple(flat)

    def structure_json(self) -> str:
        """The asset's text: input trees (indices into the flat tensor inputs) and the output tree."""
        remap = {old: new for new, old in enumerate(self.tensor_pos)}

        def inputs_tree(node: Dict[str, Any]) -> Any:
            if "t" in node:
                i = node["t"]
                return {"t": remap[i]} if i in remap else {"const": _const(self.in_leaves[i])}
            if "dict" in node:
                return {"dict": [[k, inputs_tree(n)] for k, n in node["dict"]]}
            kind = "list" if "list" in node else "tuple"
            return {kind: [inputs_tree(n) for n in node[kind]]}

        return json.dumps({"version": 1, "inputs": [inputs_tree(t) for t in self.in_trees], "outputs": self.out_tree})


def _const(v: Any) -> Any:
    """A fixed non-tensor input leaf as JSON (None, bool, int, float, str)."""
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    return repr(v)


def param_names(model: Any, n: int) -> List[str]:
    """The names of ``model.forward``'s first ``n`` parameters (``input{i}`` past them)."""
    import inspect

    try:
        params = [p.name for p in inspect.signature(model.forward).parameters.values()]
    except (TypeError, ValueError):
        params = []
    return [params[i] if i < len(params) else f"input{i}" for i in range(n)]


def check(doc: Any, n_inputs: int, n_outputs: int) -> Dict[str, Any]:
    """Check the parsed structure asset ``doc`` against a file's flat inputs and outputs.

    Returns:
        ``doc`` itself, when it is well formed: version 1, known node kinds, every flat index
        in range and used once.

    Raises:
        ValueError: saying what is wrong.
    """
    if not isinstance(doc, dict) or doc.get("version") != 1:
        raise ValueError("structure asset: expected an object with version 1")
    ins, outs = doc.get("inputs"), doc.get("outputs")
    if not isinstance(ins, list):
        raise ValueError("structure asset: 'inputs' must be a list")

    def walk(node: Any, n: int, seen: set, allow_const: bool, depth: int) -> None:
        if depth > 64:
            raise ValueError("structure asset: nesting deeper than 64")
        if not isinstance(node, dict) or len(node) != 1:
            raise ValueError(f"structure asset: malformed node {node!r:.80}")
        ((kind, body),) = node.items()
        if kind == "t":
            if not isinstance(body, int) or isinstance(body, bool) or not 0 <= body < n or body in seen:
                raise ValueError(f"structure asset: tensor index {body!r} out of range or repeated")
            seen.add(body)
        elif kind == "const" and allow_const:
            pass
        elif kind in ("list", "tuple") and isinstance(body, list):
            for c in body:
                walk(c, n, seen, allow_const, depth + 1)
        elif kind == "dict" and isinstance(body, list):
            for item in body:
                if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], str)):
                    raise ValueError("structure asset: dict items must be [key, node]")
                walk(item[1], n, seen, allow_const, depth + 1)
        else:
            raise ValueError(f"structure asset: unknown node kind {kind!r}")

    seen_in: set = set()
    for t in ins:
        walk(t, n_inputs, seen_in, True, 0)
    seen_out: set = set()
    walk(outs, n_outputs, seen_out, False, 0)
    if len(seen_in) != n_inputs or len(seen_out) != n_outputs:
        raise ValueError("structure asset: does not place every flat input and output")
    return doc
