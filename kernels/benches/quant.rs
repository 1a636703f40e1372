//! Quantized-kernel benchmark: `cargo bench -p wasm-torch-kernels --bench quant` (add
//! `--target wasm32-wasip1` with the runner of the README for the wasm builds). Prints,
//! per shape, the f32 GEMM with packed weights (active f32 table) in GFLOP/s and, per
//! quantized table, the int8 GEMM (dynamic activation quantization included) in GOPS
//! (2·m·n·k per second), and for m = 1 the int4 and group-wise int8 (group 32) and f16
//! weight-only GEMV; then
//! 3×3 and 1×1 convolutions: the f32 convolution with packed weights against the int8
//! convolution (im2row + dynamic per-pixel quantization included) per table. One thread.
//! Shapes: BERT-base-like 128×768×768 / ×3072, the GEMMs of the zoo's MiniLM-L6 (2 × 128
//! tokens) and GPT-2 6L/512 (32 tokens), three decode GEMVs (the last SmolLM2's tied LM head,
//! 576 → 49152), three ResNet-18 convolutions.

use std::hint::black_box;
use std::time::{Duration, Instant};
use wasm_torch_kernels::activation::Activation;
use wasm_torch_kernels::arch;
use wasm_torch_kernels::conv::{conv2d_packed_with, Conv2dParams, PackedConvWeight};
use wasm_torch_kernels::gemm::{sgemm_packed_with, PackedB};
use wasm_torch_kernels::quant::{
    available, f16_gemm_with, q4_gemm_with, q8g_gemm_with, qconv2d_i8_with, qgemm_i8_with,
    F16Weights, PackedI8, Q4Weights, Q8GroupWeights,
};

/// Fastest seconds per call of `f` over ~0.3 s of runs.
fn time(mut f: impl FnMut()) -> f64 {
    f();
    let mut best = f64::INFINITY;
    let (start, mut runs) = (Instant::now(), 0);
    while runs < 5 || (start.elapsed() < Duration::from_millis(300) && runs < 1000) {
        let t = Instant::now();
        f();
        best = best.min(t.elapsed().as_secs_f64());
        runs += 1;
    }
    best
}

fn data(len: usize, seed: usize) -> Vec<f32> {
    (0..len)
        .map(|i| (((i + seed) * 7919) % 1000) as f32 / 1000.0 - 0.5)
        .collect()
}

fn main() {
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
        let a = data(m * k, 1);
        let w = data(n * k, 2);
        let mut c = vec![0f32; m * n];
        let ops = 2.0 * (m * n * k) as f64;
        let pb = PackedB::pack(k, n, &w, k, true);
        let t = time(|| {
            sgemm_packed_with(
                f32k,
                m,
                black_box(&a),
                k,
                &pb,
                None,
                Activation::None,
                &mut c,
                n,
            )
        });
        println!(
            "{m}x{k}x{n}: f32 sgemm packed ({}) {:.1} GFLOP/s",
            f32k.name,
            ops / t / 1e9
        );
        let wi8 = PackedI8::from_f32(n, k, &w).unwrap();
        let wq4 = Q4Weights::from_f32(n, k, 32, &w, false).unwrap();
        let wq8 = Q8GroupWeights::from_f32(n, k, 32, &w).unwrap();
        let wf16 = F16Weights::from_f32(n, k, &w).unwrap();
        for qk in available() {
            let t = time(|| {
                qgemm_i8_with(
                    qk,
                    m,
                    black_box(&a),
                    k,
                    &wi8,
                    None,
                    Activation::None,
                    &mut c,
                    n,
                )
            });
            let mut line = format!("  {:<18} int8 {:.1} GOPS", qk.name, ops / t / 1e9);
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
        }
    }
    convs();
}

/// ResNet-18-like convolutions (one image): f32 packed against int8 per table.
fn convs() {
    let f32k = arch::active();
    for &(c, hw, o, kk, stride) in &[
        (64, 56, 64, 3, 1),
        (128, 28, 256, 3, 2),
        (256, 14, 256, 1, 1),
    ] {
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
        let mut out = vec![0f32; o * p.out_h() * p.out_w()];
        let ops = 2.0 * (o * k * p.out_h() * p.out_w()) as f64;
        let pw = PackedConvWeight::pack_with(f32k, &p, &w).expect("packable");
        let t = time(|| {
            conv2d_packed_with(
                f32k,
                &p,
                black_box(&x),
                &pw,
                None,
                Activation::None,
                &mut out,
            )
        });
        println!(
            "conv {c}->{o} {kk}x{kk}/{stride} at {hw}x{hw}: f32 conv packed ({}) {:.1} GFLOP/s",
            f32k.name,
            ops / t / 1e9
        );
        let wi8 = PackedI8::from_f32(o, k, &w).unwrap();
        for qk in available() {
            let t = time(|| {
                qconv2d_i8_with(
                    qk,
                    &p,
                    black_box(&x),
                    &wi8,
                    None,
                    Activation::None,
                    &mut out,
                )
            });
            println!("  {:<18} int8 conv {:.1} GOPS", qk.name, ops / t / 1e9);
        }
    }
}
