"""Kernel parity against PyTorch (CPU, float32).

Runs the `torch_parity` example of wasm-torch-kernels with one case per line on stdin and
compares each output line with the same op computed by PyTorch on the same inputs
(x[i] = sin(0.37 i + seed)). Usage (from the repo root, torch installed):

    cargo build --release -p wasm-torch-kernels --example torch_parity
    .venv/bin/python kernels/parity/torch_parity.py target/release/examples/torch_parity

or, for a wasm build (any extra arguments form the command line):

    RUSTFLAGS="-C target-feature=+simd128" cargo build --release -p wasm-torch-kernels \\
        --example torch_parity --target wasm32-wasip1
    .venv/bin/python kernels/parity/torch_parity.py node kernels/wasm-runner/run-wasi.mjs \\
        target/wasm32-wasip1/release/examples/torch_parity.wasm

Exits non-zero on any mismatch; tolerances are per case (absolute + relative).
"""
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.nn.functional as F


def gen(n, seed):
    return torch.from_numpy(np.sin(np.arange(n, dtype=np.float64) * 0.37 + seed).astype(np.float32))


ACTS = {
    "none": lambda x, p: x,
    "relu": lambda x, p: F.relu(x),
    "relu6": lambda x, p: F.relu6(x),
    "leaky_relu": lambda x, p: F.leaky_relu(x, p),
    "gelu": lambda x, p: F.gelu(x),
    "gelu_tanh": lambda x, p: F.gelu(x, approximate="tanh"),
    "silu": lambda x, p: F.silu(x),
    "sigmoid": lambda x, p: torch.sigmoid(x),
    "tanh": lambda x, p: torch.tanh(x),
    "hardswish": lambda x, p: F.hardswish(x),
    "hardsigmoid": lambda x, p: F.hardsigmoid(x),
    "elu": lambda x, p: F.elu(x, p),
    "softplus": lambda x, p: F.softplus(x),
    "clamp": lambda x, p: torch.clamp(x, -p, p),
}


def conv2d(n, ci, ih, iw, co, kh, kw, sh, sw, ph, pw, dh, dw, g, act):
    x = gen(n * ci * ih * iw, 0.0).reshape(n, ci, ih, iw)
    w = gen(co * ci // g * kh * kw, 1.0).reshape(co, ci // g, kh, kw)
    b = gen(co, 2.0)
    return ACTS[act](F.conv2d(x, w, b, (sh, sw), (ph, pw), (dh, dw), g), 0.0)


def conv_t(n, ci, ih, iw, co, kh, kw, sh, sw, ph, pw, oph, opw, dh, dw, g):
    x = gen(n * ci * ih * iw, 0.0).reshape(n, ci, ih, iw)
    w = gen(ci * co // g * kh * kw, 1.0).reshape(ci, co // g, kh, kw)
    b = gen(co, 2.0)
    return F.conv_transpose2d(x, w, b, (sh, sw), (ph, pw), (oph, opw), g, (dh, dw))


def pool(op, n, c, ih, iw, kh, kw, sh, sw, ph, pw, dh, dw, ceil, cip, div=0):
    x = gen(n * c * ih * iw, 0.0).reshape(n, c, ih, iw)
    if op == "max_pool2d":
        o, i = F.max_pool2d(x, (kh, kw), (sh, sw), (ph, pw), (dh, dw), bool(ceil), return_indices=True)
        return torch.cat([o.flatten(), i.flatten().float()])
    return F.avg_pool2d(x, (kh, kw), (sh, sw), (ph, pw), bool(ceil), bool(cip), div or None)


CASES = []


def case(line, ref, tol=1e-5):
    CASES.append((line, ref, tol))


for args in [
    (1, 3, 17, 19, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, "relu"),
    (2, 8, 12, 11, 6, 3, 5, 2, 1, 2, 1, 1, 2, 2, "none"),
    (1, 16, 20, 20, 16, 3, 3, 2, 2, 1, 1, 1, 1, 16, "relu6"),  # depthwise
    (1, 8, 9, 9, 16, 3, 3, 1, 1, 1, 1, 2, 2, 8, "none"),  # depthwise, multiplier 2
    (1, 32, 14, 14, 24, 1, 1, 1, 1, 0, 0, 1, 1, 1, "silu"),  # pointwise
    (1, 3, 40, 37, 4, 7, 7, 2, 2, 3, 3, 1, 1, 1, "none"),  # stem-like
]:
    case("conv2d " + " ".join(map(str, args)), conv2d(*args), 1e-4)
for args in [
    (1, 4, 5, 6, 3, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1),
    (2, 4, 4, 3, 6, 4, 2, 2, 3, 1, 0, 0, 2, 1, 1, 2),
    (1, 2, 3, 3, 2, 3, 3, 1, 1, 0, 0, 0, 0, 2, 2, 1),
]:
    case("conv_transpose2d " + " ".join(map(str, args)), conv_t(*args), 1e-4)
for op in ["max_pool2d", "avg_pool2d"]:
    for args in [
        (1, 2, 9, 10, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1),
        (1, 2, 8, 7, 2, 3, 2, 2, 0, 1, 1, 1, 1, 0),
        (2, 1, 6, 6, 3, 3, 3, 3, 1, 1, 1, 1, 0, 1),
        (1, 1, 11, 5, 3, 2, 2, 1, 1, 0, 1, 1, 1, 0),
    ]:
        if op == "avg_pool2d":
            for div in [0, 5]:
                case(f"{op} " + " ".join(map(str, args)) + f" {div}", pool(op, *args, div=div))
        else:
            case(f"{op} " + " ".join(map(str, args)), pool(op, *args))
    if op == "max_pool2d":
        args = (1, 2, 9, 9, 3, 2, 2, 3, 1, 1, 2, 2, 1, 0)
        case(f"{op} " + " ".join(map(str, args)), pool(op, *args))
for args in [(1, 3, 7, 9, 3, 4), (2, 2, 5, 5, 1, 1), (1, 1, 10, 3, 4, 2)]:
    n, c, ih, iw, oh, ow = args
    x = gen(n * c * ih * iw, 0.0).reshape(n, c, ih, iw)
    case("adaptive_avg_pool2d " + " ".join(map(str, args)), F.adaptive_avg_pool2d(x, (oh, ow)))
# Same f32 arithmetic as the Rust side: -20 + i * 0.1.
xs = torch.from_numpy(np.float32(-20.0) + np.arange(401, dtype=np.float32) * np.float32(0.1))
for name, p in [("none", 0), ("relu", 0), ("relu6", 0), ("leaky_relu", 0.1), ("gelu", 0), ("gelu_tanh", 0),
                ("silu", 0), ("sigmoid", 0), ("tanh", 0), ("hardswish", 0), ("hardsigmoid", 0),
                ("elu", 1.0), ("softplus", 0), ("clamp", 2.5)]:
    case(f"act {name} {p}", ACTS[name](xs, float(p)), 2e-6)
for rows, ln in [(3, 7), (2, 100), (1, 1)]:
    x = gen(rows * ln, 0.0).reshape(rows, ln) * 10
    case(f"softmax {rows} {ln}", torch.softmax(x, -1), 1e-6)
    case(f"log_softmax {rows} {ln}", torch.log_softmax(x, -1), 1e-5)
    y = gen(rows * ln, 0.0).reshape(rows, ln)
    case(f"layer_norm {rows} {ln}", F.layer_norm(y, (ln,), gen(ln, 1.0), gen(ln, 2.0), 1e-5), 1e-4)
n, c, s, g = 2, 6, 10, 3
case(f"group_norm {n} {c} {s} {g}",
     F.group_norm(gen(n * c * s, 0.0).reshape(n, c, s), g, gen(c, 1.0), gen(c, 2.0), 1e-5), 1e-4)
for m, k, nn, act in [(5, 33, 17, "gelu"), (1, 768, 40, "none"), (70, 64, 130, "relu")]:
    x = gen(m * k, 0.0).reshape(m, k)
    w = gen(nn * k, 1.0).reshape(nn, k)
    b = gen(nn, 2.0)
    ref = torch.cat([ACTS[act](F.linear(x, w, b), 0.0).flatten(), F.linear(x, w).flatten()])
    case(f"linear {m} {k} {nn} {act}", ref, 1e-4)

stdin = "".join(line + "\n" for line, _, _ in CASES)
# Output goes to a file, not a pipe: Node's WASI fails with EAGAIN on a non-blocking pipe.
with tempfile.TemporaryFile("w+") as out:
    res = subprocess.run(sys.argv[1:], input=stdin, stdout=out, stderr=subprocess.PIPE, text=True)
    out.seek(0)
    lines = out.read().splitlines()
if res.returncode != 0 or len(lines) != len(CASES):
    print(res.stderr)
    print(f"FAIL: driver exited with {res.returncode} after {len(lines)} of {len(CASES)} cases")
    sys.exit(1)
bad = 0
for (line, ref, tol), got_line in zip(CASES, lines):
    got = np.array([float(v) for v in got_line.split()], dtype=np.float64)
    want = ref.detach().flatten().double().numpy()
    if got.shape != want.shape:
        print(f"FAIL {line}: {got.shape} values vs {want.shape}")
        bad += 1
        continue
    err = np.abs(got - want) / (1.0 + np.abs(want))
    nan_ok = np.array_equal(np.isnan(got), np.isnan(want))
    worst = float(np.nanmax(err)) if err.size else 0.0
    status = "ok  " if worst <= tol and nan_ok else "FAIL"
    bad += status == "FAIL"
    print(f"{status} {line}: max err {worst:.2e} (tol {tol:.0e})")
print(f"{len(CASES) - bad}/{len(CASES)} cases match PyTorch {torch.__version__}")
sys.exit(1 if bad else 0)
