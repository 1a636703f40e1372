"""One module per layer/function the op-coverage work promised, each exported through
torch.export and both TorchScript front ends (trace and script) and run natively against
PyTorch: ConvTranspose1d/2d/3d, Conv3d, torch.linalg.solve, torch.fft.rfft (and the other
torch.fft functions, stft), torch.unique and torch.searchsorted.

Float outputs match within rtol 1e-4 / atol 1e-5 times the largest reference magnitude
(an FFT sums n inputs, so its error grows with the signal's scale); complex outputs compare
real and imaginary parts the same way; integer and bool outputs exactly.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn as nn
import wasm_torch
from conftest import seeded_randn as g
from conftest import torch_outputs


class Layer(nn.Module):
    """One layer behind a plain ``forward(x)`` (a scripted ConvTranspose's own forward also
    takes ``output_size``, which would become a second model input)."""

    def __init__(self, layer: nn.Module):
        super().__init__()
        self.layer = layer

    def forward(self, x):
        return self.layer(x)


class Solve(nn.Module):
    def forward(self, a, b):
        return torch.linalg.solve(a, b)


class Rfft(nn.Module):
    def forward(self, x):
        return torch.fft.rfft(x)


class RfftOrthoN(nn.Module):
    def forward(self, x):
        return torch.fft.rfft(x, n=12, dim=0, norm="ortho")


class FftPipeline(nn.Module):
    """Filter in the frequency domain and come back: rfft, complex scaling, irfft, plus the
    complex-input transforms and the views between complex and real."""

    def forward(self, x):
        spec = torch.fft.rfft(x)
        back = torch.fft.irfft(spec * 0.5, n=x.shape[-1])
        full = torch.fft.fft(x)
        inv = torch.fft.ifft(full, norm="forward")
        h = torch.fft.hfft(spec)
        return back, torch.view_as_real(inv), h, spec.abs(), spec.angle()


class Stft(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("window", torch.hann_window(8))

    def forward(self, x):
        return torch.stft(x, 8, hop_length=2, window=self.window, return_complex=True).abs()


class Unique(nn.Module):
    def forward(self, x):
        return torch.unique(x, sorted=True, return_inverse=True, return_counts=True)


class SearchSorted(nn.Module):
    def forward(self, s, v):
        return torch.searchsorted(s, v), torch.searchsorted(s, v, right=True)


def _seeded(make):
    def build():
        torch.manual_seed(0)
        return make()

    return build


SORTED = torch.sort(g(3, 9, seed=3)).values
CASES = {
    "conv_transpose1d": (_seeded(lambda: Layer(nn.ConvTranspose1d(4, 6, 3, stride=2, padding=1))), (g(2, 4, 9),)),
    "conv_transpose2d": (
        _seeded(lambda: Layer(nn.ConvTranspose2d(4, 6, 3, stride=2, output_padding=1))),
        (g(1, 4, 5, 6),),
    ),
    "conv_transpose3d": (_seeded(lambda: Layer(nn.ConvTranspose3d(2, 4, 3, stride=2, padding=1))), (g(1, 2, 3, 4, 3),)),
    "conv3d": (_seeded(lambda: Layer(nn.Conv3d(2, 4, 3, padding=1))), (g(1, 2, 4, 5, 6),)),
    "linalg_solve": (Solve, (g(2, 4, 4, seed=1) + 4 * torch.eye(4), g(2, 4, 3, seed=2))),
    "fft_rfft": (Rfft, (g(3, 16, seed=4),)),
    "fft_rfft_ortho_n": (RfftOrthoN, (g(9, 2, seed=5),)),
    "fft_pipeline": (FftPipeline, (g(2, 10, seed=6),)),
    "stft": (Stft, (g(2, 32, seed=7),)),
    "unique": (Unique, ((g(20, seed=8) * 3).round().long(),)),
    "searchsorted": (SearchSorted, (SORTED, g(3, 5, seed=9))),
}


def _compare(r: torch.Tensor, o: np.ndarray, name: str) -> None:
    assert o.shape == tuple(r.shape), (name, o.shape, tuple(r.shape))
    if r.is_complex():
        assert o.dtype == np.complex64, (name, o.dtype)
        r = torch.view_as_real(r.resolve_conj())
        o = np.stack([o.real, o.imag], axis=-1)
    if r.dtype.is_floating_point:
        ref = r.detach().numpy().astype(np.float64)
        scale = max(float(np.abs(ref).max()), 1.0)
        np.testing.assert_allclose(o.astype(np.float64), ref, rtol=1e-4, atol=1e-5 * scale, err_msg=name)
    else:
        assert o.dtype == r.numpy().dtype and (r.numpy() == o).all(), (name, r, o)


@pytest.mark.parametrize("frontend", ["export", "trace", "script"])
@pytest.mark.parametrize("name", list(CASES))
def test_module_runs_from_every_front_end(name, frontend, wtb):
    make, inputs = CASES[name]
    model = make().eval()
    report = wasm_torch.export(model, inputs, wtb, frontend=frontend, verify=False)
    assert report.frontend == frontend
    ref = torch_outputs(model, inputs)
    got = wasm_torch.load(wtb).run(*inputs)
    assert len(got) == len(ref), name
    for r, o in zip(ref, got):
        _compare(r, o, name)


def test_complex_input_and_output_round_trip(wtb):
    """A complex64 input and output through the numpy API: the spectrum in, its conjugate
    product out, and the file declares format 1.1 (the complex dtype's version)."""

    class Power(nn.Module):
        def forward(self, z):
            return z * torch.conj(z) + z

    z = torch.complex(g(3, 4, seed=11), g(3, 4, seed=12))
    wasm_torch.export(Power(), (z,), wtb, frontend="export", verify=False)
    sess = wasm_torch.load(wtb)
    assert sess.inputs[0].dtype == "c64" and sess.outputs[0].dtype == "c64"
    (got,) = sess.run(z.numpy())
    _compare(Power()(z), got, "power")
    with open(wtb, "rb") as f:
        head = f.read(12)
    assert int.from_bytes(head[10:12], "little") == 1
