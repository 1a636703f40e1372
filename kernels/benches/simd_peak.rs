//! The machine's f32 SIMD peak, and the GEMM's share of it, measured in one run:
//! `cargo bench -p wasm-torch-kernels --bench simd_peak` (natively, AVX2+FMA when present) or,
//! for the number that matters in the browser, on wasm under Node's WASI:
//!
//! ```sh
//! export CARGO_TARGET_WASM32_WASIP1_RUNNER="node --experimental-wasm-relaxed-simd --no-warnings $PWD/kernels/wasm-runner/run-wasi.mjs"
//! RUSTFLAGS="-C target-feature=+simd128,+relaxed-simd" cargo bench -p wasm-torch-kernels --bench simd_peak --target wasm32-wasip1
//! ```
//!
//! The peak kernels are the best case of a register-blocked GEMM micro-kernel: a tile of
//! accumulators (several shapes on wasm, 4x16 = 8 ymm on AVX2) updated from L1-resident
//! panels, so nothing but loads, broadcasts and multiply-adds runs. The best one's GFLOP/s is
//! the ceiling a wasm GEMM can approach on this engine and CPU; the library's sgemm on
//! large and transformer-shaped problems is then reported as a percentage of it. Both are the
//! best of repeated timings taken back to back, so machine load affects them alike.

use std::hint::black_box;
use std::time::{Duration, Instant};
use wasm_torch_kernels::activation::Activation;
use wasm_torch_kernels::arch::active;
use wasm_torch_kernels::gemm::{sgemm_packed_with, PackedB};

/// Depth of the L1-resident panels: A is at most 6 x K, B at most K x 16 floats (22 KiB).
const K: usize = 256;

/// Fastest seconds per call of `f` over ~0.5 s of runs.
fn best_time(mut f: impl FnMut()) -> f64 {
    f();
    let mut best = f64::INFINITY;
    let start = Instant::now();
    let mut runs = 0;
    while runs < 10 || (start.elapsed() < Duration::from_millis(500) && runs < 10_000) {
        let t = Instant::now();
        f();
        best = best.min(t.elapsed().as_secs_f64());
        runs += 1;
    }
    best
}

fn data(len: usize) -> Vec<f32> {
    (0..len)
        .map(|i| ((i * 7919) % 1000) as f32 / 1000.0 - 0.5)
        .collect()
}

/// One pass of a peak tile: (A panel, B panel, accumulator seed) -> lane sum.
type PassFn = dyn Fn(&[f32], &[f32], f32) -> f32;

/// The peak micro-kernels for each available SIMD flavour: (name, GFLOP/s).
fn peaks() -> Vec<(&'static str, f64)> {
    let a = data(6 * K);
    let b = data(16 * K);
    let reps = 64;
    let mut out = Vec::new();
    #[allow(unused_mut)]
    // Each pass starts its accumulators from the previous pass's result, so the compiler can
    // neither merge the passes nor hoist a pure call out of the loop.
    // `rows x cols` is the tile: 2 * rows * cols * K FLOPs per pass.
    let mut run = |name: &'static str, rows: usize, cols: usize, f: &PassFn| {
        let flops = (2 * rows * cols * K * reps) as f64;
        let t = best_time(|| {
            let mut s = 0.0;
            for _ in 0..reps {
                s = f(black_box(&a), black_box(&b), s * 1e-30);
            }
            black_box(s);
        });
        out.push((name, flops / t / 1e9));
    };
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        // x86-64 engines have 16 vector registers: tiles of 8-12 accumulators fit with their
        // B vectors and the broadcast; 4x16 (16 accumulators) is the commonly quoted reference shape.
        run("simd128 mul+add 4x8", 4, 8, &|a, b, s| {
            wasm_peak::tile::<4, 2>(a, b, s, false)
        });
        run("simd128 mul+add 6x8", 6, 8, &|a, b, s| {
            wasm_peak::tile::<6, 2>(a, b, s, false)
        });
        run("simd128 mul+add 3x16", 3, 16, &|a, b, s| {
            wasm_peak::tile::<3, 4>(a, b, s, false)
        });
        run("simd128 mul+add 4x16", 4, 16, &|a, b, s| {
            wasm_peak::tile::<4, 4>(a, b, s, false)
        });
        #[cfg(target_feature = "relaxed-simd")]
        {
            run("relaxed madd 4x8", 4, 8, &|a, b, s| {
                wasm_peak::tile::<4, 2>(a, b, s, true)
            });
            run("relaxed madd 6x8", 6, 8, &|a, b, s| {
                wasm_peak::tile::<6, 2>(a, b, s, true)
            });
            run("relaxed madd 3x16", 3, 16, &|a, b, s| {
                wasm_peak::tile::<3, 4>(a, b, s, true)
            });
            run("relaxed madd 4x16", 4, 16, &|a, b, s| {
                wasm_peak::tile::<4, 4>(a, b, s, true)
            });
        }
    }
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
        // SAFETY: the features the function is compiled for were detected just above.
        run("x86_64 avx2 fma 4x16", 4, 16, &|a, b, s| unsafe {
            x86_peak::tile(a, b, s)
        });
    }
    out
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod wasm_peak {
    use super::K;
    use core::arch::wasm32::*;

    /// One pass of an R x (4*V) tile (R*V f32x4 accumulators) over the panels, A broadcast
    /// with load32_splat; returns a lane sum so nothing is elided.
    #[inline(never)]
    pub fn tile<const R: usize, const V: usize>(
        a: &[f32],
        b: &[f32],
        seed: f32,
        relaxed: bool,
    ) -> f32 {
        assert!(a.len() >= R * K && b.len() >= 4 * V * K);
        let mut acc = [[f32x4_splat(seed); V]; R];
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        for k in 0..K {
            // SAFETY: k < K and the asserts above bound both panels.
            unsafe {
                let row = pb.add(4 * V * k) as *const v128;
                let mut bv = [f32x4_splat(0.0); V];
                for (j, v) in bv.iter_mut().enumerate() {
                    *v = row.add(j).read_unaligned();
                }
                for (r, acc_r) in acc.iter_mut().enumerate() {
                    let av = v128_load32_splat(pa.add(R * k + r) as *const u32);
                    for j in 0..V {
                        acc_r[j] = madd(av, bv[j], acc_r[j], relaxed);
                    }
                }
            }
        }
        let mut s = f32x4_splat(0.0);
        for row in acc {
            for v in row {
                s = f32x4_add(s, v);
            }
        }
        f32x4_extract_lane::<0>(s) + f32x4_extract_lane::<3>(s)
    }

    #[inline(always)]
    #[cfg_attr(not(target_feature = "relaxed-simd"), allow(unused_variables))]
    fn madd(a: v128, b: v128, c: v128, relaxed: bool) -> v128 {
        #[cfg(target_feature = "relaxed-simd")]
        if relaxed {
            return f32x4_relaxed_madd(a, b, c);
        }
        f32x4_add(f32x4_mul(a, b), c)
    }
}

#[cfg(target_arch = "x86_64")]
mod x86_peak {
    use super::K;
    use core::arch::x86_64::*;

    /// One pass of a 4x16 tile (8 ymm accumulators) over the panels.
    ///
    /// # Safety
    /// The CPU must support AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn tile(a: &[f32], b: &[f32], seed: f32) -> f32 {
        assert!(a.len() >= 4 * K && b.len() >= 16 * K);
        let mut acc = [_mm256_set1_ps(seed); 8];
        for k in 0..K {
            let p = b.as_ptr().add(16 * k);
            let b0 = _mm256_loadu_ps(p);
            let b1 = _mm256_loadu_ps(p.add(8));
            for r in 0..4 {
                let av = _mm256_set1_ps(*a.get_unchecked(4 * k + r));
                acc[2 * r] = _mm256_fmadd_ps(av, b0, acc[2 * r]);
                acc[2 * r + 1] = _mm256_fmadd_ps(av, b1, acc[2 * r + 1]);
            }
        }
        let mut s = _mm256_setzero_ps();
        for v in acc {
            s = _mm256_add_ps(s, v);
        }
        let mut lanes = [0f32; 8];
        _mm256_storeu_ps(lanes.as_mut_ptr(), s);
        lanes.iter().sum()
    }
}

/// GFLOP/s of the library's sgemm with pre-packed B (how the interpreter runs linear layers).
fn gemm_gflops(m: usize, k: usize, n: usize) -> f64 {
    let a = data(m * k);
    let b = data(k * n);
    let mut c = vec![0f32; m * n];
    let pb = PackedB::pack(k, n, &b, n, false);
    let t = best_time(|| {
        sgemm_packed_with(
            active(),
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
    2.0 * (m * n * k) as f64 / t / 1e9
}

fn main() {
    let peaks = peaks();
    if peaks.is_empty() {
        println!("no SIMD flavour to measure on this target (build wasm with +simd128)");
        return;
    }
    for (name, g) in &peaks {
        println!("peak {name:>24}: {g:7.2} GFLOP/s (L1-resident, 1 thread)");
    }
    let peak = peaks.iter().map(|p| p.1).fold(0.0, f64::max);
    for (m, k, n) in [
        (128, 384, 1536),
        (128, 1536, 384),
        (256, 256, 256),
        (512, 512, 512),
    ] {
        let g = gemm_gflops(m, k, n);
        println!(
            "sgemm {m}x{k}x{n} ({}): {g:7.2} GFLOP/s = {:5.1}% of the best peak above",
            active().name,
            100.0 * g / peak
        );
    }
}
