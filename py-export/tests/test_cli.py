"""The command line: export (module:factory and .pt), inspect, diff."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys

import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.c = nn.Conv2d(3, 4, 3, padding=1)
        self.l = nn.Linear(4, 5)

    def forward(self, x):
        return self.l(torch.relu(self.c(x)).mean((2, 3)))


def make_net():
    return Net().eval()


def make_net_with_inputs():
    return Net().eval(), (torch.randn(1, 3, 8, 8),)


class Result:
    def __init__(self, returncode, stdout, stderr):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def run(*args):
    """The CLI in-process (a subprocess per call would re-import torch: ~10 s each)."""
    from wasm_torch.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 1
            err.write(str(e.code))
    return Result(code, out.getvalue(), err.getvalue())


def test_python_dash_m_entry_point(tmp_path):
    """One real `python -m wasm_torch` run, so the module entry point itself is covered."""
    env = dict(os.environ, PYTHONPATH=HERE + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = str(tmp_path / "net.wtb")
    r = subprocess.run(
        [sys.executable, "-m", "wasm_torch", "export", "test_cli:make_net", out, "--input", "1x3x8x8"],
        cwd=HERE,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    assert "(ok)" in r.stdout


def test_export_factory_with_shape_spec(tmp_path):
    out = str(tmp_path / "net.wtb")
    r = run("export", "test_cli:make_net", out, "--input", "1x3x8x8:f32")
    assert r.returncode == 0, r.stderr
    assert "output0 [1, 5]" in r.stdout and "(ok)" in r.stdout
    assert os.path.getsize(out) > 0


def test_export_pt_file_and_npy_input(tmp_path):
    x = torch.randn(1, 3, 8, 8)
    pt = str(tmp_path / "net.pt")
    torch.jit.save(torch.jit.trace(make_net(), (x,)), pt)
    npy = str(tmp_path / "x.npy")
    np.save(npy, x.numpy())
    out = str(tmp_path / "net.wtb")
    r = run("export", pt, out, "--input", npy, "--weights", "f16")
    assert r.returncode == 0, r.stderr
    assert "front end 'script'" in r.stdout and "weights f16" in r.stdout


def test_inspect(tmp_path):
    out = str(tmp_path / "net.wtb")
    assert run("export", "test_cli:make_net_with_inputs", out).returncode == 0
    r = run("inspect", out)
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["inputs"][0]["shape"] == [1, 3, 8, 8]
    assert info["chunks"]["tensors"] == 4


def test_diff_agrees_then_finds_a_corrupted_weight(tmp_path):
    out = str(tmp_path / "net.wtb")
    assert run("export", "test_cli:make_net_with_inputs", out).returncode == 0
    r = run("diff", out, "test_cli:make_net_with_inputs")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "no divergence" in r.stdout
    # Export with int8 weights: diff at a strict tolerance points at the first conv.
    q = str(tmp_path / "q.wtb")
    assert run("export", "test_cli:make_net_with_inputs", q, "--weights", "int8", "--no-verify").returncode == 0
    r = run("diff", q, "test_cli:make_net_with_inputs", "--tolerance", "1e-7")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "first divergence" in r.stdout and "aten::conv2d.default" in r.stdout


def test_export_error_exit_code(tmp_path):
    r = run("export", "test_cli:make_net", str(tmp_path / "x.wtb"))
    assert r.returncode != 0 and "example inputs" in (r.stderr + r.stdout)
    r = run("export", "test_cli:make_net", str(tmp_path / "x.wtb"), "--input", "1x3x8:f32")
    assert r.returncode != 0


def test_export_pt2_exported_program(tmp_path):
    x = torch.randn(1, 3, 8, 8)
    pt2 = str(tmp_path / "net.pt2")
    torch.export.save(torch.export.export(make_net(), (x,)), pt2)
    out = str(tmp_path / "net.wtb")
    r = run("export", pt2, out, "--input", "1x3x8x8")
    assert r.returncode == 0, r.stderr
    assert "front end 'export'" in r.stdout and "(ok)" in r.stdout
