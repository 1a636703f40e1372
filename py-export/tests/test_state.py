"""Session state: buffers a model updates in place (BUFFER_MUTATION) become format-1.1 state,
written in place by the native interpreter and kept across runs."""

import numpy as np
import pytest
import torch
import wasm_torch


class TinyCache(torch.nn.Module):
    """A KV-cache-shaped buffer updated with index_copy_ at the given positions, plus a
    counter buffer with a non-zero initial value updated with add_."""

    def __init__(self):
        super().__init__()
        self.register_buffer("cache", torch.zeros(1, 2, 8, 4))
        self.register_buffer("count", torch.full((1,), 10.0))
        self.proj = torch.nn.Linear(4, 4)

    def forward(self, x, pos):
        self.cache.index_copy_(2, pos, self.proj(x))
        self.count.add_(1.0)
        return self.cache.sum(dim=2) * self.count


def _export(tmp_path):
    torch.manual_seed(0)
    m = TinyCache().eval()
    t = torch.export.Dim("t", min=1, max=8)
    x, pos = torch.randn(1, 2, 3, 4), torch.arange(3)
    ep = torch.export.export(m, (x, pos), dynamic_shapes=({2: t}, {0: t}), strict=False)
    path = tmp_path / "cache.wtb"
    # An ExportedProgram is accepted as well as a module.
    wasm_torch.export(ep, (x, pos), path)
    return path


def test_state_is_kept_across_runs_and_written_in_place(tmp_path):
    path = _export(tmp_path)
    with open(path, "rb") as f:
        head = f.read(12)
    assert head[8:12] == bytes([1, 0, 1, 0]), "a stateful file is format 1.1"
    s = wasm_torch.load(path)
    names = sorted(st.name for st in s.states)
    assert names == ["cache", "count"]
    torch.manual_seed(0)
    ref = TinyCache().eval()
    steps = [(torch.randn(1, 2, 3, 4), torch.arange(3))] + [
        (torch.randn(1, 2, 1, 4), torch.tensor([p])) for p in range(3, 8)
    ]
    for i, (x, pos) in enumerate(steps):
        with torch.no_grad():
            want = ref(x, pos).numpy()
        s.write_stats(reset=True)
        got = s.run(x, pos)[0]
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5, err_msg=f"step {i}")
        written, copied = s.write_stats()
        # the cache is never copied: a step writes its rows (2 heads x n x 4 f32) + the counter
        assert copied == 0, f"step {i}: {copied} bytes copied"
        assert written == 2 * x.shape[2] * 4 * 4 + 4, f"step {i}"
    s.reset_state()
    with torch.no_grad():
        fresh = TinyCache().eval()
        fresh.load_state_dict({k: v for k, v in ref.state_dict().items() if k.startswith("proj")}, strict=False)
        want = fresh(*steps[0]).numpy()
    np.testing.assert_allclose(s.run(*steps[0])[0], want, rtol=1e-5, atol=1e-5)


def test_bad_position_is_a_typed_error_and_the_session_recovers(tmp_path):
    s = wasm_torch.load(_export(tmp_path))
    with pytest.raises(wasm_torch.NativeError, match="out of (range|bounds)"):
        s.run(np.zeros((1, 2, 1, 4), np.float32), np.array([9]))
    out = s.run(np.ones((1, 2, 1, 4), np.float32), np.array([0]))[0]
    assert np.isfinite(out).all()
