"""LSTM step fusion: the exporter replaces each decomposed ``nn.LSTM`` step's element-wise
chain (split into gates, sigmoid/tanh, the cell update) with one ``wasm_torch::lstm_cell``,
whose PyTorch definition is that chain. Outputs must still match PyTorch; chains whose
intermediates are read elsewhere must be left alone."""

import pytest
import torch
import wasm_torch
from conftest import rel_err, torch_outputs
from wasm_torch import _export, _passes
from wasm_torch._reference import evaluate


class Net(torch.nn.Module):
    def __init__(self, lstm: torch.nn.LSTM, with_state: bool):
        super().__init__()
        self.lstm, self.with_state = lstm, with_state

    def forward(self, x, h0, c0):
        out, (h, c) = self.lstm(x, (h0, c0)) if self.with_state else self.lstm(x)
        return out, h, c


CASES = {
    # name: (LSTM kwargs, batch, steps, pass initial state)
    "one_layer": (dict(input_size=6, hidden_size=8), 1, 5, False),
    "two_layers_batch3": (dict(input_size=6, hidden_size=8, num_layers=2, batch_first=True), 3, 4, True),
    "bidirectional": (dict(input_size=5, hidden_size=7, bidirectional=True), 2, 3, True),
    "projection": (dict(input_size=5, hidden_size=8, proj_size=3), 2, 4, True),
}


@pytest.mark.parametrize("name", list(CASES))
def test_lstm_steps_fuse_and_match_pytorch(name, wtb):
    kwargs, batch, steps, with_state = CASES[name]
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(**kwargs).eval()
    layers = kwargs.get("num_layers", 1) * (2 if kwargs.get("bidirectional") else 1)
    h_size = kwargs.get("proj_size") or kwargs["hidden_size"]
    x = (
        torch.randn(batch, steps, kwargs["input_size"])
        if kwargs.get("batch_first")
        else torch.randn(steps, batch, kwargs["input_size"])
    )
    h0, c0 = torch.randn(layers, batch, h_size), torch.randn(layers, batch, kwargs["hidden_size"])
    model, inputs = Net(lstm, with_state).eval(), (x, h0, c0)
    report = wasm_torch.export(model, inputs, wtb, frontend="export")
    assert report.passes["lstm_fused"] == steps * layers
    assert report.ops.get("wasm_torch::lstm_cell.default") == steps * layers
    assert "aten::sigmoid.default" not in report.ops and "aten::split_with_sizes.default" not in report.ops
    ref = torch_outputs(model, inputs)
    got = wasm_torch.load(wtb).run(*inputs)
    for r, g in zip(ref, got):
        assert g.shape == tuple(r.shape)
        assert rel_err(r, g) <= 1e-5


def test_fused_graph_evaluates_in_pytorch():
    """``wasm_torch diff`` evaluates the lowered graph with ``torch.ops``: the fused op must run
    there and give PyTorch's numbers."""
    torch.manual_seed(1)
    model = Net(torch.nn.LSTM(4, 6, num_layers=2), False).eval()
    inputs = (torch.randn(3, 1, 4), torch.zeros(2, 1, 6), torch.zeros(2, 1, 6))
    graph, _, _ = _export.build_graph(model, inputs, "export", None, None, None)
    assert _passes.run_all(graph)["lstm_fused"] == 6
    outs, _ = evaluate(graph, inputs)
    for r, g in zip(torch_outputs(model, inputs), outs):
        assert rel_err(r, g.detach().numpy()) <= 1e-6


class HandCell(torch.nn.Module):
    """A hand-written LSTM step in PyTorch's order; with ``leak`` it also returns its input
    gate, so the chain has an outside reader and fusing it would drop a value the model
    returns."""

    def __init__(self, leak: bool):
        super().__init__()
        self.w, self.u, self.leak = torch.nn.Linear(4, 16), torch.nn.Linear(4, 16, bias=False), leak

    def forward(self, x, h, c):
        i, f, g, o = (self.w(x) + self.u(h)).split([4, 4, 4, 4], -1)
        i, f, g, o = i.sigmoid(), f.sigmoid(), g.tanh(), o.sigmoid()
        cy = f * c + i * g
        hy = o * cy.tanh()
        return (hy, cy, i) if self.leak else (hy, cy)


@pytest.mark.parametrize("leak", [False, True])
def test_chains_read_elsewhere_are_left_alone(leak, wtb):
    torch.manual_seed(2)
    model, inputs = HandCell(leak).eval(), (torch.randn(2, 4), torch.randn(2, 4), torch.randn(2, 4))
    report = wasm_torch.export(model, inputs, wtb, frontend="export")
    assert report.passes["lstm_fused"] == (0 if leak else 1)
    got = wasm_torch.load(wtb).run(*inputs)
    for r, g in zip(torch_outputs(model, inputs), got):
        assert rel_err(r, g) <= 1e-6
