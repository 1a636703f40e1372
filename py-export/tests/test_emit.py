"""Bytecode emission details that the end-to-end tests would only catch indirectly."""

from __future__ import annotations

import torch
from wasm_torch._emit import _const_key, const_to_tagged, emit
from wasm_torch._graph import Block, Const, Graph, If, IOSpec, Node, Value


def test_constants_are_tagged_and_distinct():
    assert const_to_tagged(torch.float16) == ("int", 5)  # dtype -> ScalarType code
    assert const_to_tagged(torch.device("cpu")) == ("none",)
    assert const_to_tagged([1, 2]) == ("ints", [1, 2])
    assert const_to_tagged([1, 2.5]) == ("floats", [1.0, 2.5])
    assert const_to_tagged([True, None]) == ("list", [("bool", True), ("none",)])
    assert const_to_tagged(1.0) != const_to_tagged(1)
    assert _const_key(const_to_tagged(0.0)) != _const_key(const_to_tagged(-0.0))


def test_if_becomes_jumps_with_moves_into_the_output_register():
    x, c, t, e, out = Value("x"), Value("c"), Value("t"), Value("e"), Value("out")
    then_b = Block(nodes=[Node("aten::mul.Scalar", [x, Const(2.0)], [t])], returns=[t])
    else_b = Block(nodes=[Node("aten::sub.Scalar", [x, Const(1.0), Const(1)], [e])], returns=[e])
    block = Block(
        params=[x],
        nodes=[
            Node("aten::gt.Scalar", [x, Const(0)], [c]),
            If(c, then_b, else_b, [out]),
        ],
        returns=[out],
    )
    g = Graph([x], block, [], [IOSpec("x", "f32", [1])], [IOSpec("out", "f32", [1])])
    ir = emit(g, "f32", {})
    code = ir["functions"][0]["code"]
    kinds = [i[0] for i in code]
    assert kinds == ["call", "jump_if_not", "call", "move", "jump", "call", "move", "return"]
    assert code[1][2] == 5 and code[4][1] == 7  # else starts at 5, both paths meet at 7
    out_reg = code[3][1]
    assert code[6][1] == out_reg and code[7][1] == [("r", out_reg)]
    assert ir["functions"][0]["register_names"][out_reg] == "out"
