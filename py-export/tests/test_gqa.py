"""Grouped-query attention: the exporter turns transformers' ``repeat_kv`` (unsqueeze, expand,
clone, reshape) in front of ``scaled_dot_product_attention`` into ``enable_gqa=True`` on the
unrepeated key/value heads, and the interpreter's attention reads each shared head in place.
Outputs must match PyTorch; the copy must be gone from the exported program."""

import pytest
import torch
import torch.nn.functional as F
import wasm_torch
from conftest import rel_err, torch_outputs


def repeat_kv(x: torch.Tensor, rep: int) -> torch.Tensor:
    """transformers' ``repeat_kv``: [B, H, S, D] -> [B, H * rep, S, D], heads repeated in a row."""
    b, h, s, d = x.shape
    if rep == 1:
        return x
    return x[:, :, None, :, :].expand(b, h, rep, s, d).reshape(b, h * rep, s, d)


class Attn(torch.nn.Module):
    def __init__(self, rep: int, masked: bool, k_only: bool = False):
        super().__init__()
        self.rep, self.masked, self.k_only = rep, masked, k_only

    def forward(self, q, k, v, mask):
        kr = repeat_kv(k, self.rep)
        # k_only: v tiled (head h is v head h % H, not h // rep), so the pattern must not fold.
        vr = v.repeat(1, self.rep, 1, 1) if self.k_only else repeat_kv(v, self.rep)
        m = mask if self.masked else None
        return F.scaled_dot_product_attention(q, kr, vr, attn_mask=m)


def _inputs(hk: int, rep: int, n: int, s: int, d: int):
    g = torch.Generator().manual_seed(0)
    q = torch.randn(1, hk * rep, n, d, generator=g)
    # k/v as a cache slice would be: a strided view of a larger buffer
    k = torch.randn(1, hk, s + 3, d, generator=g)[:, :, :s]
    v = torch.randn(1, hk, s, d, generator=g)
    mask = torch.randn(1, 1, n, s, generator=g)
    return q, k.contiguous(), v, mask


@pytest.mark.parametrize("rep,masked", [(3, True), (3, False), (2, True)])
def test_repeat_kv_becomes_enable_gqa(rep, masked, wtb):
    model = Attn(rep, masked).eval()
    inputs = _inputs(3, rep, 2, 7, 8)
    report = wasm_torch.export(model, inputs, wtb, frontend="export", verify=False)
    assert report.passes["gqa_folded"] == 1
    assert "aten::clone.default" not in report.ops
    assert "aten::expand.default" not in report.ops
    ref = torch_outputs(model, inputs)
    got = wasm_torch.load(wtb).run(*inputs)
    assert got[0].shape == tuple(ref[0].shape)
    assert rel_err(ref[0], got[0]) <= 1e-5


def test_other_repeats_are_left_alone(wtb):
    model = Attn(3, True, k_only=True).eval()
    inputs = _inputs(3, 3, 2, 7, 8)
    report = wasm_torch.export(model, inputs, wtb, frontend="export", verify=False)
    assert report.passes["gqa_folded"] == 0
    ref = torch_outputs(model, inputs)
    got = wasm_torch.load(wtb).run(*inputs)
    assert rel_err(ref[0], got[0]) <= 1e-5
