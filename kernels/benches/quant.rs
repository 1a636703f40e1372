//! Quantized-kernel benchmark: `cargo bench -p wasm-torch-kernels --bench quant` (add
//! `--target wasm32-wasip1` with the runner of the README for the wasm builds; extra
//! arguments keep only the shapes whose label contains one of them, e.g. `-- 256x384x384`).
//! Prints, per shape, the f32 GEMM with packed weights (active f32 table) in GFLOP/s and,
//! per quantized table, the int8 GEMM (dynamic activation quantization included) in GOPS
//! (2·m·n·k per second) with its ratio to the f32 rate; for m = 1 also the int4 and
//! group-wise int8 (group 32) and f16 weight-only GEMV; then 3×3 and 1×1 convolutions: the
//! f32 convolution with packed weights against the int8 convolution (im2row + dynamic
//! per-pixel quantization included) per table. One thread. The portable (scalar reference)
//! table is only timed with `--portable`.
//!
//! Paired timing: the f32 and int8 kernels of one shape are timed in alternating rounds
//! (`ROUNDS` rounds, each taking the best of a short burst of every kernel), so a load
//! change on a shared machine hits both sides of a ratio alike. Printed: each side's best
//! over all rounds, the ratio of those bests, and the median over rounds of the per-round
//! ratio (the figure to trust on a loaded machine). The load average is printed at the
//! start and the end (from `/proc/loadavg`, also readable under the WASI runner).
//!
//! Shapes: BERT-base-like 128×768×768 / ×3072, the GEMMs of the zoo's MiniLM-L6 (2 × 128
//! tokens) and GPT-2 6L/512 (32 tokens), three decode GEMVs (the last SmolLM2's tied LM
//! head, 576 → 49152), three ResNet-18 convolutions.

use std::hint::black_box;
use std::time::{Duration, Instant};
use wasm_torch_kernels::activation::Activation;
use wasm_torch_kernels::arch;
use wasm_torch_kernels::conv::{conv2d_packed_with, Conv2dParams, PackedConvWeight};
use wasm_torch_kernels::gemm::{sgemm_packed_with, PackedB};
use wasm_torch_kernels::quant::{
    available, f16_gemm_with, q4_gemm_with, q8g_gemm_with, qconv2d_i8_with,
    qgemm_i8_quantized_with, qgemm_i8_with, quantize_rows_as, F16Weights, PackedI8, Q4Weights,
    Q8GroupWeights, QKernels, QuantRows,
};

/// Alternating rounds per shape.
const ROUNDS: usize = 7;
/// Time per kernel per round.
const BURST: Duration = Duration::from_millis(40);

/// Fastest seconds per call of `f` over a burst of about `budget` (at least 3 calls).
fn best_of(budget: Duration, f: &mut dyn FnMut()) -> f64 {
    let mut best = f64::INFINITY;
    let (start, mut runs) = (Instant::now(), 0);
    while runs < 3 || (start.elapsed() < budget && runs < 1000) {
        let t = Instant::now();
        f();
        best = best.min(t.elapsed().as_secs_f64());
        runs += 1;
    }
    best
}

/// Fastest seconds per call of `f` over ~0.3 s of runs (the unpaired figures).
fn time(mut f: impl FnMut()) -> f64 {
    f();
    best_of(Duration::from_millis(300), &mut f)
}

/// Times `kernels[0]` (the f32 reference) and every other kernel in `ROUNDS` alternating
/// rounds; returns, per kernel, the best seconds per call over all rounds and the median
/// over rounds of `t_f32 / t_kernel` (1 for the reference itself).
fn paired(kernels: &mut [&mut dyn FnMut()]) -> Vec<(f64, f64)> {
    for f in kernels.iter_mut() {
        f();
    }
    let mut times = vec![Vec::with_capacity(ROUNDS); kernels.len()];
    for round in 0..ROUNDS {
        // Alternate the order too, so neither side always runs right after the other.
        let order: Vec<usize> = if round % 2 == 0 {
            (0..kernels.len()).collect()
        } else {
            (0..kernels.len()).rev().collect()
        };
        for i in order {
            times[i].push(best_of(BURST, kernels[i]));
        }
    }
    let reference = times[0].clone();
    times
        .iter()
        .map(|t| {
            let mut ratios: Vec<f64> = reference.iter().zip(t).map(|(r, x)| r / x).collect();
            ratios.sort_by(f64::total_cmp);
            let best = t.iter().copied().fold(f64::INFINITY, f64::min);
            (best, ratios[ratios.len() / 2])
        })
        .collect()
}

fn data(len: usize, seed: usize) -> Vec<f32> {
    (0..len)
        .map(|i| (((i + seed) * 7919) % 1000) as f32 / 1000.0 - 0.5)
        .collect()
}

/// The load average line, if the system shows one.
fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// The quantized tables to time: every one available, the portable reference only with
/// `--portable` (it runs at a few GOPS and would dominate the run time).
fn tables() -> Vec<&'static QKernels> {
    let portable = std::env::args().any(|a| a == "--portable");
    available()
        .into_iter()
        .filter(|t| portable || t.name != "portable")
        .collect()
}

/// Whether the shape `label` was asked for (no filter: every shape).
fn wanted(filters: &[String], label: &str) -> bool {
    filters.is_empty() || filters.iter().any(|f| label.contains(f.as_str()))
}

fn main() {
    // `cargo bench` passes `--bench`; anything else not starting with `-` filters shapes.
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let tables = tables();
    let phases = std::env::args().any(|a| a == "--phases");
    println!("load average at start: {}", load());
    let mut summary = Vec::new();
    let f32k = arch::active();
    for &(m, k, n) in &[
        (128, 768, 768),
        (1, 768, 768),
        (1, 576, 1536),
        (1, 576, 49152),
        (128, 768, 3072),
        // MiniLM-L6 at 2 × 128 tokens: attention projections, FFN up, FFN down.
        (256, 384, 384),
        (256, 384, 1536),
        (256, 1536, 384),
        // The zoo's GPT-2 6L/512 at 32 tokens: FFN up and the 8192-word LM head.
        (32, 512, 2048),
        (32, 512, 8192),
    ] {
        let label = format!("{m}x{k}x{n}");
        if !wanted(&filters, &label) {
            continue;
        }
        let a = data(m * k, 1);
        let w = data(n * k, 2);
        let ops = 2.0 * (m * n * k) as f64;
        let pb = PackedB::pack(k, n, &w, k, true);
        let wi8 = PackedI8::from_f32(n, k, &w).unwrap();
        let mut outs = vec![vec![0f32; m * n]; tables.len() + 1];
        let (c0, cq) = outs.split_first_mut().expect("one output per kernel");
        let mut f32_call = || {
            sgemm_packed_with(
                f32k,
                m,
                black_box(&a),
                k,
                &pb,
                None,
                Activation::None,
                c0,
                n,
            )
        };
        let mut int8_calls: Vec<_> = tables
            .iter()
            .zip(cq.iter_mut())
            .map(|(&qk, c)| {
                let (a, wi8) = (&a, &wi8);
                move || qgemm_i8_with(qk, m, black_box(a), k, wi8, None, Activation::None, c, n)
            })
            .collect();
        let mut kernels: Vec<&mut dyn FnMut()> = vec![&mut f32_call];
        kernels.extend(int8_calls.iter_mut().map(|f| f as &mut dyn FnMut()));
        let res = paired(&mut kernels);
        println!(
            "{label}: f32 sgemm packed ({}) {:.1} GFLOP/s",
            f32k.name,
            ops / res[0].0 / 1e9
        );
        let wq4 = Q4Weights::from_f32(n, k, 32, &w, false).unwrap();
        let wq8 = Q8GroupWeights::from_f32(n, k, 32, &w).unwrap();
        let wf16 = F16Weights::from_f32(n, k, &w).unwrap();
        let mut c = vec![0f32; m * n];
        for (&qk, &(t, median)) in tables.iter().zip(&res[1..]) {
            let best_ratio = res[0].0 / t;
            let mut line = format!(
                "  {:<18} int8 {:.1} GOPS, {best_ratio:.2}x f32 (median paired {median:.2}x)",
                qk.name,
                ops / t / 1e9
            );
            summary.push(format!("{label:<28} {:<18} {median:.2}x", qk.name));
            if m == 1 {
                let t4 = time(|| {
                    q4_gemm_with(
                        qk,
                        m,
                        black_box(&a),
                        k,
                        &wq4,
                        None,
                        Activation::None,
                        &mut c,
                        n,
                    )
                });
                let t8 = time(|| {
                    q8g_gemm_with(
                        qk,
                        m,
                        black_box(&a),
                        k,
                        &wq8,
                        None,
                        Activation::None,
                        &mut c,
                        n,
                    )
                });
                let th = time(|| {
                    f16_gemm_with(
                        qk,
                        m,
                        black_box(&a),
                        k,
                        &wf16,
                        None,
                        Activation::None,
                        &mut c,
                        n,
                    )
                });
                line += &format!(
                    " | int4 gemv {:.1} | int8 group gemv {:.1} | f16 gemv {:.1} GFLOP/s",
                    ops / t4 / 1e9,
                    ops / t8 / 1e9,
                    ops / th / 1e9
                );
            }
            println!("{line}");
            if phases {
                print_phases(qk, m, k, n, &a, &wi8, ops);
            }
        }
    }
    convs(&filters, &mut summary);
    println!("int8 / f32, median of {ROUNDS} paired rounds:");
    for s in summary {
        println!("  {s}");
    }
    println!("load average at end: {}", load());
}

/// `--phases`: the int8 GEMM's two halves timed apart, activation quantization
/// (`quantize_rows_as`) and the product with the fused epilogue
/// (`qgemm_i8_quantized_with`), as µs per call and share of their sum.
fn print_phases(qk: &QKernels, m: usize, k: usize, n: usize, a: &[f32], w: &PackedI8, ops: f64) {
    let mut q = QuantRows::default();
    let tq = time(|| quantize_rows_as(qk.act, m, k, black_box(a), k, &mut q));
    let mut c = vec![0f32; m * n];
    let tg = time(|| qgemm_i8_quantized_with(qk, &q, w, None, Activation::None, &mut c, n));
    println!(
        "    phases: quantize {:.1} µs ({:.0}%), product+epilogue {:.1} µs ({:.1} GOPS)",
        tq * 1e6,
        100.0 * tq / (tq + tg),
        tg * 1e6,
        ops / tg / 1e9
    );
}

/// ResNet-18-like convolutions (one image): f32 packed against int8 per table.
fn convs(filters: &[String], summary: &mut Vec<String>) {
    let f32k = arch::active();
    let tables = tables();
    for &(c, hw, o, kk, stride) in &[
        (64, 56, 64, 3, 1),
        (128, 28, 256, 3, 2),
        (256, 14, 256, 1, 1),
    ] {
        let label = format!("conv {c}->{o} {kk}x{kk}/{stride} at {hw}x{hw}");
        if !wanted(filters, &label) {
            continue;
        }
        let p = Conv2dParams {
            batch: 1,
            in_channels: c,
            in_h: hw,
            in_w: hw,
            out_channels: o,
            kernel_h: kk,
            kernel_w: kk,
            stride: (stride, stride),
            padding: (kk / 2, kk / 2),
            dilation: (1, 1),
            groups: 1,
        };
        let k = c * kk * kk;
        let x = data(c * hw * hw, 3);
        let w = data(o * k, 4);
        let ops = 2.0 * (o * k * p.out_h() * p.out_w()) as f64;
        let pw = PackedConvWeight::pack_with(f32k, &p, &w).expect("packable");
        let wi8 = PackedI8::from_f32(o, k, &w).unwrap();
        let mut outs = vec![vec![0f32; o * p.out_h() * p.out_w()]; tables.len() + 1];
        let (o0, oq) = outs.split_first_mut().expect("one output per kernel");
        let mut f32_call =
            || conv2d_packed_with(f32k, &p, black_box(&x), &pw, None, Activation::None, o0);
        let mut int8_calls: Vec<_> = tables
            .iter()
            .zip(oq.iter_mut())
            .map(|(&qk, out)| {
                let (p, x, wi8) = (&p, &x, &wi8);
                move || qconv2d_i8_with(qk, p, black_box(x), wi8, None, Activation::None, out)
            })
            .collect();
        let mut kernels: Vec<&mut dyn FnMut()> = vec![&mut f32_call];
        kernels.extend(int8_calls.iter_mut().map(|f| f as &mut dyn FnMut()));
        let res = paired(&mut kernels);
        println!(
            "{label}: f32 conv packed ({}) {:.1} GFLOP/s",
            f32k.name,
            ops / res[0].0 / 1e9
        );
        for (&qk, &(t, median)) in tables.iter().zip(&res[1..]) {
            println!(
                "  {:<18} int8 conv {:.1} GOPS, {:.2}x f32 (median paired {median:.2}x)",
                qk.name,
                ops / t / 1e9,
                res[0].0 / t
            );
            summary.push(format!("{label:<28} {:<18} {median:.2}x", qk.name));
        }
    }
}
