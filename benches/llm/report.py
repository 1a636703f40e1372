#!/usr/bin/env python3
"""The LLM benchmark's table (markdown + JSON) from run.sh's results, plus the decode profile.

    python benches/llm/report.py --results results.jsonl [--profiles profile-*.json]
        --out-md table.md --out-json table.json [--node-version v24] [--command CMD]

Ratios are what count (the 2-core machine is shared and noisy): every row's decode tok/s over
wllama's in Chromium at the same thread count, measured in the same run. The profile part
groups a decode step's op time by op family and sets the step time against the fp32 weight
bytes one token must read (the memory-bandwidth floor).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform

# Op families of a Llama decode step (matched on the op name after its namespace).
FAMILIES = [
    ("matmul (linear / mm / bmm)", ("linear", "mm", "addmm", "bmm", "matmul")),
    ("attention (sdpa)", ("scaled_dot_product_attention",)),
    ("KV-cache write (index_copy_ / index_put_)", ("index_copy", "index_copy_", "index_put", "index_put_")),
    ("RMSNorm pieces (pow / mean / rsqrt)", ("pow", "mean", "rsqrt")),
    (
        "elementwise (mul / add / neg / silu / ...)",
        ("mul", "add", "sub", "neg", "silu", "div", "sigmoid", "exp", "cos", "sin"),
    ),
    (
        "layout and copies (cat / slice / view / transpose / expand / clone / contiguous / to)",
        (
            "cat",
            "slice",
            "view",
            "reshape",
            "transpose",
            "permute",
            "expand",
            "clone",
            "contiguous",
            "_to_copy",
            "to",
            "unsqueeze",
            "squeeze",
            "select",
            "copy",
            "copy_",
            "alias",
            "t",
        ),
    ),
    ("embedding / gather", ("embedding", "index", "gather", "index_select")),
]

ENGINE_LABEL = {
    ("wasm-torch", "node"): "wasm-torch (wasm), Node 24",
    ("wasm-torch", "chromium"): "wasm-torch (wasm), Chromium",
    ("wllama", "chromium"): "wllama 3.8.1 (llama.cpp wasm, Q4_1), Chromium",
    ("torch", "native"): "PyTorch eager generate (fp32), native",
    ("llama-cpp", "native"): "llama-cpp-python (Q4_1), native",
    ("wasm-torch", "native"): "wasm-torch native (Python package, fp32)",
}
ORDER = list(ENGINE_LABEL)


def family(op: str) -> str:
    base = op.split("::")[-1].split(".")[0]
    for name, keys in FAMILIES:
        if base in keys:
            return name
    return "other"


def fmt(x, digits=1):
    return "-" if x is None or (isinstance(x, float) and not math.isfinite(x)) else f"{x:.{digits}f}"


def cpu_model() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def profile_summary(path: str, weight_mb: float | None) -> dict:
    p = json.load(open(path))
    steps = p.get("runs") or 1
    in_ops = sum(o["ms"] for o in p["ops"])
    total = max(p.get("totalMs") or 0.0, in_ops)
    fams: dict[str, float] = {}
    for o in p["ops"]:
        fams[family(o["name"])] = fams.get(family(o["name"]), 0.0) + o["ms"]
    # Time of the profiled runs outside any op: the executor's own work plus the profiler's
    # bookkeeping (it sums live tensor bytes after every instruction), so larger than in an
    # unprofiled run.
    fams["outside ops (executor + profiler bookkeeping)"] = total - in_ops
    step_ms = total / steps
    out = {
        "file": os.path.basename(path),
        "steps": steps,
        "step_ms": step_ms,
        "op_ms": in_ops / steps,
        "families": sorted(([k, v / steps, v / total] for k, v in fams.items()), key=lambda r: -r[1]),
        "top_ops": [
            [o["name"], o["calls"] / steps, o["ms"] / steps, o["ms"] / total]
            for o in sorted(p["ops"], key=lambda o: -o["ms"])[:12]
        ],
    }
    mm = fams.get(FAMILIES[0][0], 0.0) / steps
    if weight_mb and mm > 0:
        # Nearly every weight byte is read by the Linear layers (the embedding reads one row).
        out["linear_gb_s"] = weight_mb / 1e3 / (mm / 1e3)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--results", required=True)
    ap.add_argument("--profiles", nargs="*", default=[])
    ap.add_argument("--out-md", required=True)
    ap.add_argument("--out-json", required=True)
    ap.add_argument("--node-version", default="?")
    ap.add_argument("--command", default="benches/llm/run.sh")
    ap.add_argument(
        "--weight-mb",
        type=float,
        default=None,
        help="fp32 weight MB one decode step reads (default: wasm-torch native's weight_bytes)",
    )
    args = ap.parse_args()
    rows = [json.loads(line) for line in open(args.results) if line.strip().startswith("{")]

    def wllama(t):
        return next((r for r in rows if r["engine"] == "wllama" and r["threads"] == t and "decode_tok_s" in r), None)

    table = []
    for key in ORDER:
        for t in (1, 2):
            for r in rows:
                if (r["engine"], r["env"]) != key or r["threads"] != t:
                    continue
                w = wllama(t)
                entry = {**r, "label": ENGINE_LABEL[key]}
                if "decode_tok_s" in r and w:
                    entry["decode_vs_wllama"] = r["decode_tok_s"] / w["decode_tok_s"]
                    entry["prefill_vs_wllama"] = r["prefill_tok_s"] / w["prefill_tok_s"]
                table.append(entry)

    model_mb = args.weight_mb
    if model_mb is None:
        wr = max((r for r in rows if r.get("weight_bytes")), key=lambda r: "state_bytes" in r, default=None)
        # Stored tensors minus the KV cache's initial value (when the file stores one).
        model_mb = (wr["weight_bytes"] - wr.get("state_bytes", 0)) / 1e6 if wr else None
    bw = [r for r in rows if r["engine"] == "bandwidth"]
    profiles = [profile_summary(p, model_mb) for p in args.profiles if os.path.exists(p)]

    loads = [r["loadavg_1m"] for r in rows if isinstance(r.get("loadavg_1m"), (int, float))]
    load = f"1-minute load average {min(loads):.1f}-{max(loads):.1f} over the rows" if loads else "load not recorded"
    lines = [
        f"Command: `{args.command}`. Machine: {cpu_model()}, {os.cpu_count()} cores ({load}), "
        f"{platform.system()} {platform.machine()}; Node {args.node_version}. SmolLM2-135M-Instruct, prompt "
        f"{table[0].get('prompt_tokens', '?') if table else '?'} tokens, {table[0].get('new_tokens', '?') if table else '?'} "
        'new tokens, greedy, EOS ignored; medians over the runs. "x wllama" = this row\'s tok/s over '
        "wllama's in Chromium at the same thread count (same run).",
        "",
        "| engine | threads | build | prefill tok/s | decode tok/s | decode x wllama | prefill x wllama | peak RSS MB |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for e in table:
        build = e.get("variant") or ("multi-thread" if e.get("multithread") else "")
        if "error" in e:
            lines.append(f"| {e['label']} | {e['threads']} | {build} | error: {e['error'][:120]} | | | | |")
            continue
        lines.append(
            f"| {e['label']} | {e['threads']} | {build} | {fmt(e['prefill_tok_s'])} | {fmt(e['decode_tok_s'])} | "
            f"{fmt(e.get('decode_vs_wllama'), 2)} | {fmt(e.get('prefill_vs_wllama'), 2)} | {fmt(e.get('peak_rss_mb'), 0)} |"
        )
    if bw:
        gguf_mb = bw[0]["gguf_bytes"] / 1e6
        speeds = ", ".join(f"{r['read_gb_s']:.1f}" for r in bw)
        best = max(r["read_gb_s"] for r in bw)
        lines += [
            "",
            f"Memory-bandwidth floor: single-thread read bandwidth measured in this run (numpy max over 512 MiB, "
            f"at start and end): {speeds} GB/s. A decode step reads every weight once: "
            + (
                f"{model_mb:.0f} MB at fp32 (wasm-torch, PyTorch) -> at most {best * 1e3 / model_mb:.1f} tok/s; "
                if model_mb
                else ""
            )
            + f"{gguf_mb:.0f} MB of Q4_1/Q8_0 GGUF (wllama, llama.cpp) -> at most {best * 1e3 / gguf_mb:.1f} tok/s "
            "at that bandwidth.",
        ]
    versions = sorted(
        {e["version"] for e in table if e.get("version")} | {e["browser"] for e in table if e.get("browser")}
    )
    lines += ["", "Versions: " + "; ".join(versions) + "."]
    for p in profiles:
        lines += [
            "",
            f"Decode-step profile ({p['file']}, {p['steps']} steps): {p['step_ms']:.1f} ms per profiled step, "
            f"{p['op_ms']:.1f} ms of it inside ops"
            + (
                f"; the Linear layers read the fp32 weights at {p['linear_gb_s']:.1f} GB/s"
                if "linear_gb_s" in p
                else ""
            )
            + ".",
            "",
            "| op family | ms per step | share |",
            "|---|---|---|",
        ]
        lines += [f"| {k} | {v:.2f} | {s * 100:.1f}% |" for k, v, s in p["families"]]
        lines += ["", "| op | calls per step | ms per step | share |", "|---|---|---|---|"]
        lines += [f"| {n} | {c:.0f} | {ms:.2f} | {s * 100:.1f}% |" for n, c, ms, s in p["top_ops"]]
    md = "\n".join(lines) + "\n"
    open(args.out_md, "w").write(md)
    json.dump(
        {"command": args.command, "rows": table, "profiles": profiles, "weight_mb": model_mb, "bandwidth": bw},
        open(args.out_json, "w"),
        indent=1,
    )
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
