"""Ops wasm_torch adds to PyTorch's set, so fused graphs stay checkable against PyTorch.

The exporter's passes may replace a chain of ATen ops with one op the interpreter runs in a
single pass. Each such op is registered here as a ``torch.library`` custom op whose
implementation *is* the chain it replaces, so constant folding, ``wasm_torch diff`` (which
evaluates the lowered graph with ``torch.ops``) and the tests can run it like any ATen op.

- ``wasm_torch::lstm_cell(input_gates, hidden_gates, cx) -> (hy, cy)``: one LSTM step after
  its two gate projections (``_passes.fuse_lstm_cells``).
"""

from __future__ import annotations

from typing import Tuple

import torch

#: The fused LSTM step's qualified name in the file's op table.
LSTM_CELL = "wasm_torch::lstm_cell.default"


@torch.library.custom_op("wasm_torch::lstm_cell", mutates_args=())
def lstm_cell(
    input_gates: torch.Tensor, hidden_gates: torch.Tensor, cx: torch.Tensor
) -> Tuple[torch.Tensor, torch.Tensor]:
    """One LSTM step, in the operation order of PyTorch's own decomposition of ``aten::lstm``.

    Args:
        input_gates: the input projection (with its bias), ``[..., 4 * H]``.
        hidden_gates: the hidden-state projection, broadcastable to ``input_gates``.
        cx: the previous cell state, ``[..., H]`` (the gates' shape with the last dim / 4).

    Returns:
        ``(hy, cy)``, each shaped like ``cx``.
    """
    gates = input_gates + hidden_gates
    in_gate, forget_gate, cell_gate, out_gate = gates.chunk(4, -1)
    cy = torch.sigmoid(forget_gate) * cx
    cy = cy + torch.sigmoid(in_gate) * torch.tanh(cell_gate)
    hy = torch.sigmoid(out_gate) * torch.tanh(cy)
    return hy, cy


@lstm_cell.register_fake
def _lstm_cell_fake(
    input_gates: torch.Tensor, hidden_gates: torch.Tensor, cx: torch.Tensor
) -> Tuple[torch.Tensor, torch.Tensor]:
    return torch.empty_like(cx), torch.empty_like(cx)
