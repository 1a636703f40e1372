//! Kernel micro-benchmarks: `cargo bench -p wasm-torch-kernels` (plain timing loop, no
//! extra dependencies; runs every kernel table usable on this machine).

use std::hint::black_box;
use std::time::{Duration, Instant};
use wasm_torch_kernels::activation::Activation;
use wasm_torch_kernels::arch::{available, Kernels};
use wasm_torch_kernels::conv::{conv2d_with, Conv2dParams};
use wasm_torch_kernels::gemm::{sgemm_packed_with, sgemm_rows_with, sgemm_with, PackedB};

/// Fastest seconds per call of `f` over ~0.3 s of runs (the minimum is the most stable
/// statistic on a shared, busy machine).
fn time(mut f: impl FnMut()) -> f64 {
    f();
    let mut samples = Vec::new();
    let start = Instant::now();
    while samples.len() < 5
        || (start.elapsed() < Duration::from_millis(300) && samples.len() < 1000)
    {
        let t = Instant::now();
        f();
        samples.push(t.elapsed().as_secs_f64());
    }
    samples.sort_by(|a, b| a.partial_cmp(b).unwrap());
    samples[0]
}

fn data(len: usize) -> Vec<f32> {
    (0..len)
        .map(|i| ((i * 7919) % 1000) as f32 / 1000.0 - 0.5)
        .collect()
}

fn bench_gemm(k: &Kernels, m: usize, kd: usize, n: usize) {
    let a = data(m * kd);
    let b = data(kd * n);
    let mut c = vec![0f32; m * n];
    let flops = 2.0 * (m * n * kd) as f64;
    let t = time(|| {
        sgemm_with(
            k,
            m,
            n,
            kd,
            black_box(&a),
            kd,
            false,
            &b,
            n,
            false,
            &mut c,
            n,
            false,
        )
    });
    let pb = PackedB::pack(kd, n, &b, n, false);
    let tp = time(|| {
        sgemm_packed_with(
            k,
            m,
            black_box(&a),
            kd,
            &pb,
            None,
            Activation::None,
            &mut c,
            n,
        )
    });
    println!(
        "{:>18} sgemm m={m} k={kd} n={n}: {:7.2} GFLOP/s (packed weights: {:7.2} GFLOP/s)",
        k.name,
        flops / t / 1e9,
        flops / tp / 1e9
    );
}

/// A Linear layer with few rows: the weight stored `[n, k]` read in place (`sgemm_rows`)
/// against the same product over a pre-packed copy of it (`sgemm_packed`).
fn bench_linear_rows(k: &Kernels, m: usize, kd: usize, n: usize) {
    let a = data(m * kd);
    let w = data(n * kd);
    let mut c = vec![0f32; m * n];
    let flops = 2.0 * (m * n * kd) as f64;
    let tr = time(|| sgemm_rows_with(k, m, n, kd, black_box(&a), kd, &w, kd, None, &mut c, n));
    let pb = PackedB::pack(kd, n, &w, kd, true);
    let tp = time(|| {
        sgemm_packed_with(
            k,
            m,
            black_box(&a),
            kd,
            &pb,
            None,
            Activation::None,
            &mut c,
            n,
        )
    });
    println!(
        "{:>18} linear m={m} k={kd} n={n}: stored rows {:7.2} GFLOP/s, packed copy {:7.2} GFLOP/s",
        k.name,
        flops / tr / 1e9,
        flops / tp / 1e9
    );
}

fn bench_conv(k: &Kernels, name: &str, p: &Conv2dParams) {
    let x = data(p.batch * p.in_channels * p.in_h * p.in_w);
    let w = data(p.out_channels * p.in_channels / p.groups * p.kernel_h * p.kernel_w);
    let mut out = vec![0f32; p.batch * p.out_channels * p.out_h() * p.out_w()];
    let flops =
        2.0 * out.len() as f64 * (p.in_channels / p.groups * p.kernel_h * p.kernel_w) as f64;
    let t = time(|| conv2d_with(k, p, black_box(&x), &w, None, Activation::Relu, &mut out));
    println!(
        "{:>18} conv {name}: {:8.3} ms, {:7.2} GFLOP/s",
        k.name,
        t * 1e3,
        flops / t / 1e9
    );
}

fn main() {
    if std::env::args().any(|a| a == "--linear-rows") {
        for k in available() {
            let shapes: &[(usize, usize, usize)] = if std::env::args().any(|a| a == "--big") {
                &[
                    (1, 4096, 4096),
                    (1, 8192, 8192),
                    (1, 4096, 4096),
                    (1, 8192, 8192),
                ]
            } else {
                &[
                    (1, 256, 256),
                    (1, 768, 768),
                    (1, 768, 3072),
                    (1, 4096, 4096),
                    (1, 8192, 8192),
                    (2, 768, 768),
                    (4, 768, 768),
                    (4, 4096, 4096),
                    (8, 768, 768),
                ]
            };
            for &(m, kd, n) in shapes {
                bench_linear_rows(k, m, kd, n);
            }
        }
        return;
    }
    let conv3 = Conv2dParams {
        batch: 1,
        in_channels: 64,
        in_h: 56,
        in_w: 56,
        out_channels: 64,
        kernel_h: 3,
        kernel_w: 3,
        stride: (1, 1),
        padding: (1, 1),
        dilation: (1, 1),
        groups: 1,
    };
    let pw = Conv2dParams {
        kernel_h: 1,
        kernel_w: 1,
        padding: (0, 0),
        in_channels: 128,
        out_channels: 128,
        in_h: 28,
        in_w: 28,
        ..conv3.clone()
    };
    let dw = Conv2dParams {
        in_channels: 128,
        out_channels: 128,
        groups: 128,
        in_h: 56,
        in_w: 56,
        ..conv3.clone()
    };
    // Element-wise maps run on the active table (`WASM_TORCH_KERNELS=portable` to compare).
    let active = wasm_torch_kernels::arch::active().name;
    let src = data(1 << 16);
    for (name, act) in [
        ("exp", None),
        ("gelu", Some(Activation::Gelu)),
        ("tanh", Some(Activation::Tanh)),
    ] {
        let mut v = src.clone();
        let t = time(|| {
            v.copy_from_slice(&src);
            match act {
                None => wasm_torch_kernels::activation::exp(black_box(&mut v[..])),
                Some(a) => wasm_torch_kernels::activation::apply(a, black_box(&mut v[..])),
            }
        });
        println!(
            "{active:>18} {name} 64Ki elements (incl. copy): {:7.3} Gelem/s",
            v.len() as f64 / t / 1e9
        );
    }
    let dw5 = Conv2dParams {
        kernel_h: 5,
        kernel_w: 5,
        padding: (2, 2),
        in_h: 28,
        in_w: 28,
        in_channels: 240,
        out_channels: 240,
        groups: 240,
        ..dw.clone()
    };
    let dw3s2 = Conv2dParams {
        stride: (2, 2),
        in_h: 112,
        in_w: 112,
        in_channels: 96,
        out_channels: 96,
        groups: 96,
        ..dw.clone()
    };
    let dw5s2 = Conv2dParams {
        stride: (2, 2),
        in_h: 56,
        in_w: 56,
        in_channels: 144,
        out_channels: 144,
        groups: 144,
        ..dw5.clone()
    };
    let conv3s2 = Conv2dParams {
        stride: (2, 2),
        in_channels: 128,
        out_channels: 256,
        in_h: 28,
        in_w: 28,
        ..conv3.clone()
    };
    let late = Conv2dParams {
        in_channels: 512,
        out_channels: 512,
        in_h: 7,
        in_w: 7,
        ..conv3.clone()
    };
    if std::env::args().any(|a| a == "--threads") {
        // Thread scaling of the active table (needs `--features threads`; without it both
        // rows run on one thread). Small sizes show where splitting stops paying.
        let k = wasm_torch_kernels::arch::active();
        for t in [1, 2] {
            wasm_torch_kernels::parallel::with_threads(t, || {
                println!(
                    "--- {t} thread(s) ({} in the pool)",
                    wasm_torch_kernels::parallel::threads()
                );
                for (m, kd, n) in [
                    (32, 64, 64),
                    (64, 64, 128),
                    (64, 128, 256),
                    (128, 384, 1536),
                    (256, 256, 256),
                ] {
                    bench_gemm(k, m, kd, n);
                }
                bench_conv(k, "3x3 64->64 56x56", &conv3);
                bench_conv(k, "3x3/2 128->256 28x28", &conv3s2);
                bench_conv(k, "3x3 512->512 7x7", &late);
                bench_conv(k, "1x1 128->128 28x28", &pw);
                bench_conv(k, "dw3x3 128 56x56", &dw);
                bench_conv(k, "dw5x5 240 28x28", &dw5);
            });
        }
        return;
    }
    let dw7 = Conv2dParams {
        in_h: 7,
        in_w: 7,
        in_channels: 576,
        out_channels: 576,
        groups: 576,
        ..dw5.clone()
    };
    let only_dw = std::env::args().any(|a| a == "--dw");
    for k in available() {
        bench_conv(k, "dw3x3 128 56x56", &dw);
        bench_conv(k, "dw3x3/2 96 112x112", &dw3s2);
        bench_conv(k, "dw5x5 240 28x28", &dw5);
        bench_conv(k, "dw5x5/2 144 56x56", &dw5s2);
        bench_conv(k, "dw5x5 576 7x7", &dw7);
        if only_dw {
            continue;
        }
        bench_gemm(k, 128, 384, 1536);
        bench_gemm(k, 256, 256, 256);
        bench_gemm(k, 1, 768, 768);
        bench_gemm(k, 1, 256, 1024);
        bench_conv(k, "3x3 64->64 56x56", &conv3);
        bench_conv(k, "1x1 128->128 28x28", &pw);
    }
}
