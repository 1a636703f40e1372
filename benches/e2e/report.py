#!/usr/bin/env python3
"""Merge the native and web measurements into the ratio table (markdown + JSON).

    python benches/e2e/report.py --native native.json --web web.jsonl --out-md t.md --out-json t.json
        [--node-version v24.x] [--peak-gflops 30]

Ratios are what count (the machine is noisy): wasm-torch / PyTorch at the same thread count,
onnxruntime-web / PyTorch, wasm-torch / onnxruntime-web, and wasm-torch / the model's "wasm
ceiling" (its FLOPs at --peak-gflops per core, the measured f32x4 relaxed-madd peak).
"""

from __future__ import annotations

import argparse
import json
import math
import platform


def geomean(xs):
    xs = [x for x in xs if x and x > 0 and math.isfinite(x)]
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else float("nan")


def fmt(x, digits=2):
    return "-" if x is None or not math.isfinite(x) else f"{x:.{digits}f}"


def memory_rows(native: dict, web: list) -> list:
    """Per model: peak RSS during inference and its part above the runtime's baseline, per engine."""
    def marks(rss):
        if not rss or "peak_infer_mb" not in rss:
            return {"peak": None, "model": None}
        return {"peak": rss["peak_infer_mb"], "model": rss["peak_infer_mb"] - rss["base_mb"]}

    out = []
    for m in native["models"]:
        if "rss" not in m:
            continue
        ortw = next((w.get("rss") for w in web if w["name"] == m["name"] and w["engine"] == "ort" and "rss" in w), None)
        ours = next((w.get("rss") for w in web if w["name"] == m["name"] and w["engine"] == "wasm-torch"
                     and "rss" in w), None)
        r = {"model": m["name"], "torch": marks(m["rss"]), "ort_web": marks(ortw), "wasm_torch": marks(ours)}
        ratio = lambda a, b: a / b if a and b else None  # noqa: E731
        r["ours_torch_peak"] = ratio(r["wasm_torch"]["peak"], r["torch"]["peak"])
        r["ours_torch_model"] = ratio(r["wasm_torch"]["model"], r["torch"]["model"])
        r["ours_ort_peak"] = ratio(r["wasm_torch"]["peak"], r["ort_web"]["peak"])
        out.append(r)
    return out


def browser_section(browser: list, summary: dict) -> list:
    """The headless-Chromium table: per model and thread count, onnxruntime-web on the page,
    wasm-torch's threads build in a WorkerSession and (1 thread) wasm-torch on the page's main
    thread, all timed in alternation in one page; ratios < 1 mean wasm-torch is faster."""
    # Rows of one model and thread count from separate pages (`--only`) are merged.
    merged: dict = {}
    for b in browser:
        if "error" not in b:
            merged.setdefault((b["name"], b["threads"]), {}).update(b)
    ok = [b for b in merged.values() if "ort_ms" in b]
    version = ok[0]["browser"] if ok else "chromium"
    md = ["", f"Headless {version} (`benches/e2e/bench_browser.mjs`): onnxruntime-web's wasm EP on the page, "
          "wasm-torch's threads build in a WorkerSession with a pool of N, and at one thread wasm-torch on the page's "
          "main thread (the build detection picks there). One thread: the engines share one page and alternate run by "
          "run. Two threads: one page per engine (`--only`), since on a 2-core machine onnxruntime-web's spinning pool "
          "threads take a core from whatever runs next. Median ms.", "",
          "| model | threads | ORT-web | wasm-torch worker | wasm-torch main thread | worker/ORT-web | main/ORT-web |",
          "|---|---|---|---|---|---|---|"]
    ratio = lambda a, b: a / b if a and b else None  # noqa: E731
    per_t: dict = {}
    for b in ok:
        w, m = ratio(b.get("worker_ms"), b["ort_ms"]), ratio(b.get("main_ms"), b["ort_ms"])
        per_t.setdefault(str(b["threads"]), {"worker": [], "main": []})
        per_t[str(b["threads"])]["worker"].append(w)
        per_t[str(b["threads"])]["main"].append(m)
        md.append(f"| {b['name']} | {b['threads']} | {fmt(b['ort_ms'])} | {fmt(b.get('worker_ms'))} | "
                  f"{fmt(b.get('main_ms'))} | {fmt(w)} | {fmt(m)} |")
    md += ["", "Geometric means (Chromium): " + ", ".join(
        f"{t} thread(s): worker/ORT-web {fmt(geomean(v['worker']))}"
        + (f", main/ORT-web {fmt(geomean(v['main']))}" if any(v["main"]) else "") for t, v in sorted(per_t.items())) + "."]
    summary["chromium"] = {t: {k: geomean(v[k]) for k in v} for t, v in per_t.items()}
    return md


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--native", required=True)
    ap.add_argument("--web", required=True)
    ap.add_argument("--out-md", required=True)
    ap.add_argument("--out-json", required=True)
    ap.add_argument("--node-version", default="?")
    ap.add_argument("--peak-gflops", type=float, default=30.0)
    ap.add_argument("--command", default="benches/e2e/run.sh")
    ap.add_argument("--load", help="bench_load.mjs's JSON (100 MB model load time)")
    ap.add_argument("--browser", help="bench_browser.mjs's JSON lines (headless Chromium, paired in one page)")
    args = ap.parse_args()

    native = json.load(open(args.native))
    web = [json.loads(line) for line in open(args.web) if line.strip().startswith("{")]
    threads = sorted({str(w["threads"]) for w in web} | {t for m in native["models"] for t in m["torch"]})

    rows, ratios = [], {t: {"wt_torch": [], "ort_torch": [], "wt_ort": [], "wt_ceiling": []} for t in threads}
    for m in native["models"]:
        name = m["name"]
        for t in threads:
            torch_ms = m["torch"].get(t, {}).get("median_ms")
            ortn_ms = m["ort"].get(t, {}).get("median_ms")
            ortw = next((w for w in web if w["name"] == name and str(w["threads"]) == t
                         and w["engine"] == "ort" and "median_ms" in w), None)
            ours = [w for w in web if w["name"] == name and str(w["threads"]) == t
                    and w["engine"] == "wasm-torch" and "median_ms" in w]
            errors = [f"{w['engine']}/{w.get('variant')}: {w['error']}" for w in web
                      if w["name"] == name and str(w["threads"]) == t and "error" in w]
            by_variant = {w.get("variant") or "auto": w["median_ms"] for w in ours}
            best = min(by_variant.values()) if by_variant else None
            ceiling = m["flops"] / (args.peak_gflops * 1e9 * int(t)) * 1e3 if m["flops"] else None
            row = {"model": name, "threads": int(t), "torch_ms": torch_ms, "ort_native_ms": ortn_ms,
                   "ort_web_ms": ortw["median_ms"] if ortw else None, "wasm_torch_ms": by_variant,
                   "wasm_torch_best_ms": best, "wasm_ceiling_ms": ceiling, "errors": errors,
                   "onnx_exporter": m.get("onnx_exporter")}
            for key, num, den in (("wt_torch", best, torch_ms), ("ort_torch", row["ort_web_ms"], torch_ms),
                                  ("wt_ort", best, row["ort_web_ms"]), ("wt_ceiling", best, ceiling)):
                r = num / den if num and den else None
                row[key] = r
                ratios[t][key].append(r)
            rows.append(row)

    variants = sorted({v for r in rows for v in r["wasm_torch_ms"]})
    md = ["# End-to-end latency: wasm-torch vs PyTorch vs onnxruntime-web", "",
          f"Command: `{args.command}`. Machine: {platform.machine()}, {native['versions']['cpu_count']} cores "
          f"({platform.processor() or 'cpu'}); torch {native['versions']['torch']}, onnxruntime "
          f"{native['versions']['onnxruntime']}, Node {args.node_version}. Median ms per inference, "
          "batch 1, fp32. Ratios < 1 mean wasm-torch is faster.", "",
          "| model | threads | PyTorch | ORT native | ORT-web | " + " | ".join(f"wasm-torch {v}" for v in variants)
          + " | ours/PyTorch | ORT-web/PyTorch | ours/ORT-web | ours/ceiling |",
          "|---|---|---|---|---|" + "---|" * len(variants) + "---|---|---|---|"]
    for r in rows:
        md.append(f"| {r['model']} | {r['threads']} | {fmt(r['torch_ms'])} | {fmt(r['ort_native_ms'])} | "
                  f"{fmt(r['ort_web_ms'])} | " + " | ".join(fmt(r["wasm_torch_ms"].get(v)) for v in variants)
                  + f" | {fmt(r['wt_torch'])} | {fmt(r['ort_torch'])} | {fmt(r['wt_ort'])} | {fmt(r['wt_ceiling'])} |")
    md += ["", "Geometric means:", "", "| threads | ours/PyTorch | ORT-web/PyTorch | ours/ORT-web | ours/ceiling |",
           "|---|---|---|---|---|"]
    summary = {}
    for t in threads:
        g = {k: geomean(v) for k, v in ratios[t].items()}
        summary[t] = g
        md.append(f"| {t} | {fmt(g['wt_torch'])} | {fmt(g['ort_torch'])} | {fmt(g['wt_ort'])} | {fmt(g['wt_ceiling'])} |")
    mem_rows = memory_rows(native, web)
    if mem_rows:
        md += ["", "Peak resident memory during inference (MiB, 1 thread, one fresh process per model and engine; "
               "\"model\" = peak minus the process's RSS after importing the engine):", "",
               "| model | PyTorch peak | PyTorch model | ORT-web peak | ORT-web model | wasm-torch peak | "
               "wasm-torch model | ours/PyTorch peak | ours/PyTorch model | ours/ORT-web peak |",
               "|---|---|---|---|---|---|---|---|---|---|"]
        for r in mem_rows:
            md.append(f"| {r['model']} | " + " | ".join(
                f"{fmt(r[e]['peak'], 0)} | {fmt(r[e]['model'], 0)}" for e in ("torch", "ort_web", "wasm_torch"))
                + f" | {fmt(r['ours_torch_peak'])} | {fmt(r['ours_torch_model'])} | {fmt(r['ours_ort_peak'])} |")
        mem_geo = {k: geomean([r[k] for r in mem_rows]) for k in ("ours_torch_peak", "ours_torch_model", "ours_ort_peak")}
        md += ["", "Geometric means: ours/PyTorch peak " + fmt(mem_geo["ours_torch_peak"]) + ", ours/PyTorch model "
               + fmt(mem_geo["ours_torch_model"]) + ", ours/ORT-web peak " + fmt(mem_geo["ours_ort_peak"]) + "."]
        summary["memory"] = mem_geo
    load = json.load(open(args.load)) if args.load else None
    if load:
        md += ["", f"Load time, {load['bytes'] / 1e6:.1f} MB model from a local file (Node, {load['variant']} build, "
               f"median of {load['repeats']} fresh loads): Session.load {load['load_ms']:.0f} ms "
               f"({load['load_mb_per_s']:.0f} MB/s), first run {load['first_run_ms']:.0f} ms, steady run "
               f"{load['steady_run_ms']:.0f} ms; ready to run (load + first run - steady run, i.e. weight "
               f"packing counted) **{load['ready_ms']:.0f} ms**. Output vs PyTorch: {load['max_rel_err']:.1e} relative."]
    browser = [json.loads(line) for line in open(args.browser) if line.strip().startswith("{")] if args.browser else []
    if browser:
        md += browser_section(browser, summary)
    errs = [e for r in rows for e in r["errors"]] + [f"chromium {b['name']} {b['threads']}t: {b['error']}"
                                                    for b in browser if "error" in b]
    if errs:
        md += ["", "Errors:", ""] + [f"- {e}" for e in errs]
    open(args.out_md, "w").write("\n".join(md) + "\n")
    json.dump({"versions": {**native["versions"], "node": args.node_version}, "rows": rows, "memory": mem_rows, "load": load,
               "browser": browser,
               "geomean": summary},
              open(args.out_json, "w"), indent=2)
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
