"""Linear algebra (torch.linalg and the legacy spellings) against PyTorch, in float32 and
float64, with batched inputs, through torch.export and TorchScript.

Outputs that LAPACK defines uniquely (solutions, inverses, determinants, Cholesky and LU
factors, QR with LAPACK's reflector signs, singular values, eigenvalues, pseudo-inverses,
matrix exponentials) are compared directly: within 1e-4 of the largest magnitude in float32
and 1e-9 in float64; int32 pivots and infos exactly. Singular and eigenvectors are unique
only up to sign, so for those the tests check the decompositions' invariants instead.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import wasm_torch
from conftest import Lambda as Fn
from conftest import rel_err, torch_outputs
from conftest import seeded_randn as g

TOL = {torch.float32: 1e-4, torch.float64: 1e-9}


def _run(fn, inputs, wtb, frontend="export"):
    model = Fn(fn)
    wasm_torch.export(model, inputs, wtb, frontend=frontend, verify=False)
    # Flat outputs, in the order torch_outputs flattens PyTorch's (run() would nest them).
    return wasm_torch.load(wtb).run_flat(*inputs)


def _check(fn, inputs, wtb, frontend="export"):
    ref = torch_outputs(Fn(fn), inputs)
    got = _run(fn, inputs, wtb, frontend)
    assert len(got) == len(ref)
    for r, o in zip(ref, got):
        assert o.shape == tuple(r.shape), (o.shape, tuple(r.shape))
        if r.dtype.is_floating_point:
            assert o.dtype == r.numpy().dtype, (o.dtype, r.dtype)
            finite = torch.isfinite(r)
            assert (np.isfinite(o) == finite.numpy()).all(), (r, o)
            if finite.any():
                assert rel_err(r[finite], o[finite.numpy()]) <= TOL[r.dtype], (r, o)
            assert (o[~finite.numpy()] == r[~finite].numpy()).all() or np.isnan(o[~finite.numpy()]).all()
        else:
            assert o.dtype == r.numpy().dtype and (r.numpy() == o).all(), (r, o)


def square(*batch, n=4, seed=0, dtype=torch.float32):
    """Well-conditioned square matrices: random plus n on the diagonal."""
    return g(*batch, n, n, seed=seed, dtype=torch.float64).add(torch.eye(n, dtype=torch.float64) * n).to(dtype)


def spd(*batch, n=4, seed=0, dtype=torch.float32):
    """Symmetric positive definite matrices."""
    x = g(*batch, n, n, seed=seed, dtype=torch.float64)
    return (x @ x.mT + torch.eye(n, dtype=torch.float64) * n).to(dtype)


def tri(upper, *batch, n=4, seed=0, dtype=torch.float32):
    a = square(*batch, n=n, seed=seed, dtype=dtype)
    return a.triu() if upper else a.tril()


def _cases(dt):
    a, b, s = square(2, seed=1, dtype=dt), g(2, 4, 3, seed=2, dtype=dt), spd(3, seed=3, dtype=dt)
    r = g(2, 5, 3, seed=4, dtype=dt)
    return {
        "solve": (lambda a, b: torch.linalg.solve(a, b), (a, b)),
        "solve_vector": (lambda a, b: torch.linalg.solve(a, b), (a[0], b[0, :, 0].contiguous())),
        "solve_right": (lambda a, b: torch.linalg.solve(a, b.mT, left=False), (a, b)),
        "solve_ex": (lambda a, b: torch.linalg.solve_ex(a, b), (a, b)),
        "inv": (lambda a: torch.linalg.inv(a), (a,)),
        "inv_ex": (lambda a: torch.linalg.inv_ex(a), (a,)),
        "det": (lambda a: torch.linalg.det(a) + torch.det(a[0]), (a,)),
        "slogdet": (lambda a: torch.linalg.slogdet(a - 5 * torch.eye(4, dtype=a.dtype)), (a,)),
        "logdet": (lambda s: torch.logdet(s), (s,)),
        "cholesky": (lambda s: torch.linalg.cholesky(s), (s,)),
        "cholesky_upper": (lambda s: torch.linalg.cholesky(s, upper=True), (s,)),
        "cholesky_ex": (lambda s: torch.linalg.cholesky_ex(s), (s,)),
        "cholesky_solve": (lambda s, b: torch.cholesky_solve(b[0], torch.linalg.cholesky(s)), (s, b)),
        "cholesky_inverse": (lambda s: torch.cholesky_inverse(torch.linalg.cholesky(s[0])), (s,)),
        "qr": (lambda r: torch.linalg.qr(r), (r,)),
        "qr_complete": (lambda r: torch.linalg.qr(r, mode="complete"), (r,)),
        "qr_wide_r": (lambda r: torch.linalg.qr(r.mT, mode="r")[1], (r,)),
        "geqrf": (lambda r: torch.geqrf(r[0]), (r,)),
        "householder_product": (lambda r: torch.linalg.householder_product(*torch.geqrf(r)), (r,)),
        "ormqr": (lambda r, c: torch.ormqr(*torch.geqrf(r), c), (r, g(2, 5, 2, seed=5, dtype=dt))),
        "ormqr_right_transpose": (
            lambda r, c: torch.ormqr(*torch.geqrf(r), c, left=False, transpose=True),
            (r, g(2, 4, 5, seed=5, dtype=dt)),
        ),
        "lu_factor": (lambda a: torch.linalg.lu_factor(a), (a,)),
        "lu_factor_ex": (lambda a: torch.linalg.lu_factor_ex(a), (a,)),
        "lu": (lambda r: torch.linalg.lu(r), (r,)),
        "lu_wide": (lambda r: torch.linalg.lu(r.mT), (r,)),
        "lu_unpack": (lambda a: torch.lu_unpack(*torch.linalg.lu_factor(a)), (a,)),
        "lu_solve": (lambda a, b: torch.linalg.lu_solve(*torch.linalg.lu_factor(a), b), (a, b)),
        "lu_solve_adjoint": (lambda a, b: torch.linalg.lu_solve(*torch.linalg.lu_factor(a), b, adjoint=True), (a, b)),
        "lu_solve_right": (lambda a, b: torch.linalg.lu_solve(*torch.linalg.lu_factor(a), b.mT, left=False), (a, b)),
        "solve_triangular": (lambda a, b: torch.linalg.solve_triangular(a.triu(), b, upper=True), (a, b)),
        "solve_triangular_right_unit": (
            lambda a, b: torch.linalg.solve_triangular(a, b.mT, upper=False, left=False, unitriangular=True),
            (a, b),
        ),
        "triangular_solve": (lambda a, b: torch.triangular_solve(b, a, upper=False, transpose=True), (a, b)),
        "svdvals": (lambda r: torch.linalg.svdvals(r), (r,)),
        "eigvalsh": (lambda s: torch.linalg.eigvalsh(s), (s,)),
        "eigvalsh_upper": (lambda a: torch.linalg.eigvalsh(a, UPLO="U"), (a,)),
        "cond": (lambda a: torch.linalg.cond(a), (a,)),
        "matrix_rank": (lambda p: torch.linalg.matrix_rank(p), ((r.double() @ r.double().mT).to(dt),)),
        "pinv": (lambda r: torch.linalg.pinv(r), (r,)),
        "pinv_hermitian": (lambda s: torch.linalg.pinv(s, hermitian=True), (s,)),
        "matrix_exp": (lambda a: torch.linalg.matrix_exp(a * 0.5), (a,)),
        "tensorinv": (lambda a: torch.linalg.tensorinv(a.reshape(4, 2, 2), ind=1), (a[0],)),
        "tensorsolve": (lambda a, b: torch.linalg.tensorsolve(a.reshape(2, 2, 4), b[0, :, 0].reshape(2, 2)), (a[0], b)),
    }


CASES = {f"{k}_{str(dt)[6:]}": v for dt in (torch.float32, torch.float64) for k, v in _cases(dt).items()}
# The nuclear norm sums the singular values with aten::sum, which the interpreter computes in
# float32 even for float64 tensors; so it is checked in float32 only.
CASES["norm_nuc_float32"] = (lambda r: torch.linalg.matrix_norm(r, "nuc"), (g(2, 5, 3, seed=4),))


@pytest.mark.parametrize("name", list(CASES))
def test_linalg_export(name, wtb):
    fn, inputs = CASES[name]
    _check(fn, inputs, wtb)


class Solve(torch.nn.Module):
    def forward(self, a, b):
        return torch.linalg.solve(a, b)


class Inv(torch.nn.Module):
    def forward(self, a):
        return torch.linalg.inv(a)


class Det(torch.nn.Module):
    def forward(self, a):
        return torch.linalg.det(a), torch.linalg.slogdet(a)[1]


class Cholesky(torch.nn.Module):
    def forward(self, s):
        return torch.linalg.cholesky(s)


class Qr(torch.nn.Module):
    def forward(self, r):
        return torch.linalg.qr(r)


class LuFactor(torch.nn.Module):
    def forward(self, a):
        return torch.linalg.lu_factor(a)


class Spectral(torch.nn.Module):
    def forward(self, r, s):
        return torch.linalg.svdvals(r), torch.linalg.eigvalsh(s), torch.linalg.pinv(r)


class MatrixExp(torch.nn.Module):
    def forward(self, a):
        return torch.linalg.matrix_exp(a * 0.5)


def _ts_cases():
    a, b = square(2, seed=1), g(2, 4, 3, seed=2)
    s, r = spd(3, seed=3), g(2, 5, 3, seed=4)
    return {
        "solve": (Solve, (a, b)),
        "inv": (Inv, (a,)),
        "det": (Det, (a,)),
        "cholesky": (Cholesky, (s,)),
        "qr": (Qr, (r,)),
        "lu_factor": (LuFactor, (a,)),
        "spectral": (Spectral, (r, s)),
        "matrix_exp": (MatrixExp, (a,)),
    }


@pytest.mark.parametrize("frontend", ["trace", "script"])
@pytest.mark.parametrize("name", list(_ts_cases()))
def test_linalg_torchscript(name, frontend, wtb):
    cls, inputs = _ts_cases()[name]
    model = cls().eval()
    wasm_torch.export(model, inputs, wtb, frontend=frontend, verify=False)
    ref = torch_outputs(model, inputs)
    got = wasm_torch.load(wtb).run_flat(*inputs)
    assert len(got) == len(ref)
    for r, o in zip(ref, got):
        assert o.shape == tuple(r.shape)
        if r.dtype.is_floating_point:
            assert rel_err(r, o) <= TOL[r.dtype], (r, o)
        else:
            assert (r.numpy() == o).all()


@pytest.mark.parametrize("dt", [torch.float32, torch.float64])
def test_svd_invariants(dt, wtb):
    tol = TOL[dt] * 10
    for r in (g(2, 5, 3, seed=6, dtype=dt), g(2, 3, 5, seed=7, dtype=dt)):
        for full in (False, True):
            u, s, vh = _run(lambda x, full=full: torch.linalg.svd(x, full_matrices=full), (r,), wtb)
            ru, rs, rvh = torch.linalg.svd(r, full_matrices=full)
            assert u.shape == tuple(ru.shape) and vh.shape == tuple(rvh.shape)
            assert rel_err(rs, s) <= TOL[dt]
            k = s.shape[-1]
            recon = (u[..., :, :k] * s[..., None, :]) @ vh[..., :k, :]
            assert rel_err(r, recon) <= tol
            for q in (u, vh):
                eye = np.eye(q.shape[-1]) if q is u else np.eye(q.shape[-2])
                gram = q.swapaxes(-1, -2) @ q if q is u else q @ q.swapaxes(-1, -2)
                assert np.abs(gram - eye).max() <= tol


@pytest.mark.parametrize("dt", [torch.float32, torch.float64])
def test_eigh_invariants(dt, wtb):
    s = spd(3, n=5, seed=8, dtype=dt)
    w, v = _run(lambda x: torch.linalg.eigh(x), (s,), wtb)
    rw, _ = torch.linalg.eigh(s)
    assert rel_err(rw, w) <= TOL[dt]
    sn = s.numpy().astype(np.float64)
    assert np.abs(sn @ v - v * w[..., None, :]).max() <= TOL[dt] * 10 * np.abs(sn).max()
    assert np.abs(v.swapaxes(-1, -2) @ v - np.eye(5)).max() <= TOL[dt] * 10


def test_singular_matrices_follow_pytorch(wtb):
    sing = torch.tensor([[[1.0, 2.0], [2.0, 4.0]], [[2.0, 0.0], [0.0, 3.0]]])
    # The _ex variants report the failure in `info` and return what LAPACK computed.
    _check(lambda a: torch.linalg.inv_ex(a)[1], (sing,), wtb)
    _check(lambda a: torch.linalg.lu_factor_ex(a), (sing,), wtb)
    _check(lambda a: torch.linalg.cholesky_ex(a)[1], (sing,), wtb)
    _check(lambda a: (torch.linalg.det(a), torch.linalg.slogdet(a)), (sing,), wtb)
    # The checked variants raise, as PyTorch does.
    for fn in (torch.linalg.inv, torch.linalg.cholesky):
        with pytest.raises(RuntimeError):
            fn(sing)
        wasm_torch.export(Fn(fn), (torch.eye(2).expand(2, 2, 2).contiguous(),), wtb, verify=False)
        with pytest.raises(Exception, match="singular|positive-definite"):
            wasm_torch.load(wtb).run(sing)


@pytest.mark.parametrize("frontend", ["export", "trace"])
def test_addbmm(frontend, wtb):
    x, b1, b2 = g(3, 5, seed=20), g(4, 3, 2, seed=21), g(4, 2, 5, seed=22)
    _check(lambda x, b1, b2: torch.addbmm(x, b1, b2, beta=0.5, alpha=2.0), (x, b1, b2), wtb, frontend)
    _check(lambda x, b1, b2: torch.addbmm(x[0], b1, b2), (x, b1, b2), wtb, frontend)
