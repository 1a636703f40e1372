//! The shared suite of the quantized kernels, run for every table in [`available`]: int8
//! results must be *equal* to an exact integer reference (and so to the portable table);
//! the f32-accumulating weight-only kernels agree with an f64 reference within a bound.

use super::*;
use crate::activation::Activation;

/// Deterministic values in [-1, 1).
fn data(len: usize, seed: u32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            (s >> 8) as f32 / (1u32 << 23) as f32 - 1.0
        })
        .collect()
}

/// Shapes covering odd m/n, k not a multiple of 4 (or of any vector width), one-row GEMV,
/// several row tiles and panel pairs with a partial last one.
const SHAPES: &[(usize, usize, usize)] = &[
    (1, 1, 1),
    (1, 17, 5),
    (1, 64, 768),
    (2, 33, 7),
    (3, 16, 4),
    (5, 31, 64),
    (4, 32, 256),
    (7, 50, 131),
    (9, 100, 300),
];

/// The exact reference: quantize rows (in `format`), sum `(q - z)·w` in i64, same f32
/// epilogue.
fn int8_reference(
    format: ActFormat,
    m: usize,
    k: usize,
    a: &[f32],
    w: &PackedI8,
    bias: Option<&[f32]>,
    act: Activation,
) -> Vec<f32> {
    let mut q = QuantRows::default();
    quantize_rows_as(format, m, k, a, k, &mut q);
    let n = w.n();
    let mut c = vec![0f32; m * n];
    for i in 0..m {
        for j in 0..n {
            let s: i64 = (0..k)
                .map(|p| {
                    (q.data[i * q.stride + p] as i64 - q.zero_points[i] as i64)
                        * w.code(j, p) as i64
                })
                .sum();
            assert!(s.abs() < i32::MAX as i64);
            c[i * n + j] = s as i32 as f32 * (q.scales[i] * w.scales()[j]);
        }
        finish_row(&mut c[i * n..(i + 1) * n], bias, act);
    }
    c
}

#[test]
fn int8_gemm_equals_the_integer_reference_on_every_table() {
    for &(m, n, k) in SHAPES {
        let a = data(m * k, (m * 31 + k) as u32);
        let wf = data(n * k, (n * 7 + k) as u32);
        let w = PackedI8::from_f32(n, k, &wf).unwrap();
        let bias = data(n, 99);
        for act in [Activation::None, Activation::Relu] {
            for qk in available() {
                let want = int8_reference(qk.act, m, k, &a, &w, Some(&bias), act);
                let mut c = vec![f32::NAN; m * n];
                qgemm_i8_with(qk, m, &a, k, &w, Some(&bias), act, &mut c, n);
                assert_eq!(c, want, "{} {m}x{n}x{k} {act:?}", qk.name);
            }
            // Tables that need signed rows take unsigned 7-bit ones too, exactly.
            let want = int8_reference(ActFormat::Unsigned7, m, k, &a, &w, Some(&bias), act);
            let mut q = QuantRows::default();
            quantize_rows_as(ActFormat::Unsigned7, m, k, &a, k, &mut q);
            for qk in available() {
                let mut c = vec![f32::NAN; m * n];
                qgemm_i8_quantized_with(qk, &q, &w, Some(&bias), act, &mut c, n);
                assert_eq!(c, want, "{} unsigned7 {m}x{n}x{k} {act:?}", qk.name);
            }
        }
        // And close to the f32 product: per-row and per-channel steps of 1/254 of the
        // range (1/127 for unsigned 7-bit rows) give a small relative error for these
        // well-spread values.
        for qk in available() {
            let mut c = vec![0f32; m * n];
            qgemm_i8_with(qk, m, &a, k, &w, None, Activation::None, &mut c, n);
            let step = if qk.act == ActFormat::Unsigned7 {
                2.0
            } else {
                1.0
            };
            for i in 0..m {
                for j in 0..n {
                    let exact: f64 = (0..k)
                        .map(|p| a[i * k + p] as f64 * wf[j * k + p] as f64)
                        .sum();
                    let bound: f64 = (0..k)
                        .map(|p| step * (a[i * k + p] as f64).abs() + (wf[j * k + p] as f64).abs())
                        .sum::<f64>()
                        / 127.0
                        + 1e-6;
                    let got = c[i * n + j] as f64;
                    assert!(
                        (got - exact).abs() <= bound,
                        "{} {m}x{n}x{k} ({i},{j}): {got} vs {exact}",
                        qk.name
                    );
                }
            }
        }
    }
}

#[test]
fn int8_extreme_codes_and_deep_k_are_exact() {
    // Every product at ±127·127 with the same sign: the largest sums the kernels can meet,
    // checked at a depth where a saturating i16 step or an i32 overflow would show.
    let (m, n, k) = (3, 18, 8191);
    let codes: Vec<i8> = (0..n * k)
        .map(|i| if (i / k) % 2 == 0 { 127 } else { -127 })
        .collect();
    let w = PackedI8::pack(n, k, &codes, &vec![1.0; n]).unwrap();
    let a: Vec<f32> = (0..m * k)
        .map(|i| match i / k {
            0 => 1.0,
            1 => -1.0,
            _ => {
                if i % 2 == 0 {
                    1.0
                } else {
                    -1.0
                }
            }
        })
        .collect();
    let want = int8_reference(ActFormat::Signed8, m, k, &a, &w, None, Activation::None);
    assert_eq!(want[0], (127 * 127 * k) as f32 / 127.0);
    for qk in available() {
        let want = int8_reference(qk.act, m, k, &a, &w, None, Activation::None);
        let mut c = vec![0f32; m * n];
        qgemm_i8_with(qk, m, &a, k, &w, None, Activation::None, &mut c, n);
        assert_eq!(c, want, "{}", qk.name);
    }
}

#[test]
fn int8_zero_rows_give_the_bias_and_strided_output_is_respected() {
    let (m, n, k) = (3, 20, 9);
    let mut a = data(m * k, 5);
    a[k..2 * k].fill(0.0);
    let w = PackedI8::from_f32(n, k, &data(n * k, 6)).unwrap();
    let bias = data(n, 7);
    let ldc = n + 3;
    for qk in available() {
        let mut c = vec![-7.0f32; m * ldc];
        qgemm_i8_with(qk, m, &a, k, &w, Some(&bias), Activation::None, &mut c, ldc);
        assert_eq!(&c[ldc..ldc + n], &bias[..], "{}", qk.name);
        assert!(c.iter().all(|v| v.is_finite()));
        for i in 0..m {
            assert_eq!(
                &c[i * ldc + n..(i + 1) * ldc],
                &[-7.0; 3],
                "padding untouched"
            );
        }
    }
    // k = 0: the bias alone.
    let w0 = PackedI8::pack(n, 0, &[], &vec![1.0; n]).unwrap();
    let mut c = vec![0f32; 2 * n];
    qgemm_i8(2, &[], 0, &w0, Some(&bias), Activation::None, &mut c, n);
    assert_eq!(&c[n..], &bias[..]);
}

#[test]
fn int8_bad_weights_are_typed_errors() {
    assert_eq!(
        PackedI8::pack(1, 2, &[1, -128], &[1.0]),
        Err(QuantError::Int8OutOfRange)
    );
    assert!(matches!(
        PackedI8::pack(2, 2, &[1, 2, 3], &[1.0, 1.0]),
        Err(QuantError::Length { .. })
    ));
    assert!(matches!(
        PackedI8::pack(1, 2, &[1, 2], &[]),
        Err(QuantError::Length { .. })
    ));
    assert_eq!(
        PackedI8::pack(2, 1, &[1, 2], &[1.0, f32::NAN]),
        Err(QuantError::BadScale { index: 1 })
    );
    assert_eq!(
        PackedI8::pack(1, 1, &[1], &[-1.0]),
        Err(QuantError::BadScale { index: 0 })
    );
    assert!(matches!(
        PackedI8::pack(0, MAX_K_I8 + 1, &[], &[]),
        Err(QuantError::TooDeep { .. })
    ));
    assert!(PackedI8::from_f32(1, 2, &[1.0, f32::INFINITY]).is_err());
}

#[test]
fn int8_results_do_not_depend_on_threads() {
    let (m, n, k) = (6, 100, 70);
    let a = data(m * k, 1);
    let w = PackedI8::from_f32(n, k, &data(n * k, 2)).unwrap();
    let mut c1 = vec![0f32; m * n];
    qgemm_i8(m, &a, k, &w, None, Activation::Gelu, &mut c1, n);
    let c2 = crate::parallel::with_threads(2, || {
        let mut c = vec![0f32; m * n];
        qgemm_i8(m, &a, k, &w, None, Activation::Gelu, &mut c, n);
        c
    });
    assert_eq!(c1, c2);
}

/// `|got - want| ≤ tol · Σ|x·w|` for an f32 dot product of length k.
fn close(got: f32, want: f64, mag: f64, k: usize) -> bool {
    (got as f64 - want).abs() <= (1e-6 + 4e-7 * k as f64) * (mag + 1.0)
}

#[test]
fn int4_matches_its_dequantized_weights_on_every_table() {
    for &(m, n, k, group) in &[
        (1, 3, 32, 32),
        (1, 17, 256, 64),
        (2, 9, 384, 128),
        (1, 5, 512, 256),
        (5, 70, 96, 32),
    ] {
        let a = data(m * k, 3);
        let wf = data(n * k, 4);
        for offsets in [false, true] {
            let w = Q4Weights::from_f32(n, k, group, &wf, offsets).unwrap();
            assert_eq!(
                w.bytes(),
                n * k / 2 + (n * k / group) * if offsets { 4 } else { 2 }
            );
            let mut deq = vec![0f32; n * k];
            for j in 0..n {
                w.dequantize_row(j, &mut deq[j * k..(j + 1) * k]);
                // Quantization error ≤ half a step (+ f16 rounding of the scale).
                for (p, (&d, &x)) in deq[j * k..(j + 1) * k].iter().zip(&wf[j * k..]).enumerate() {
                    let step = if offsets { 2.0 / 15.0 } else { 1.0 / 7.0 };
                    assert!((d - x).abs() <= 0.51 * step + 1e-3, "({j},{p}) {d} vs {x}");
                }
            }
            let bias = data(n, 8);
            for qk in available() {
                let mut c = vec![0f32; m * n];
                q4_gemm_with(qk, m, &a, k, &w, Some(&bias), Activation::None, &mut c, n);
                for i in 0..m {
                    for j in 0..n {
                        let (mut s, mut mag) = (bias[j] as f64, 0f64);
                        for p in 0..k {
                            let t = a[i * k + p] as f64 * deq[j * k + p] as f64;
                            s += t;
                            mag += t.abs() + (a[i * k + p] as f64).abs();
                        }
                        assert!(
                            close(c[i * n + j], s, mag, k),
                            "{} {m}x{n}x{k}/{group} ({i},{j}): {} vs {s}",
                            qk.name,
                            c[i * n + j]
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn int4_bad_parameters_are_typed_errors() {
    let bad = |g, k| Q4Weights::new(1, k, g, vec![0; k / 2], vec![0x3c00; k / g.max(1)], None);
    assert_eq!(bad(48, 96), Err(QuantError::BadGroup { group: 48, k: 96 }));
    assert_eq!(bad(64, 96), Err(QuantError::BadGroup { group: 64, k: 96 }));
    assert_eq!(
        bad(512, 512),
        Err(QuantError::BadGroup { group: 512, k: 512 })
    );
    assert!(bad(32, 64).is_ok());
    assert!(matches!(
        Q4Weights::new(1, 64, 32, vec![0; 31], vec![0x3c00; 2], None),
        Err(QuantError::Length { .. })
    ));
    assert!(matches!(
        Q4Weights::new(1, 64, 32, vec![0; 32], vec![0x3c00; 3], None),
        Err(QuantError::Length { .. })
    ));
    assert_eq!(
        Q4Weights::new(1, 64, 32, vec![0; 32], vec![0x3c00, 0x7e00], None),
        Err(QuantError::BadScale { index: 1 })
    );
    assert_eq!(
        Q4Weights::new(
            1,
            64,
            32,
            vec![0; 32],
            vec![0x3c00; 2],
            Some(vec![0x7c00, 0])
        ),
        Err(QuantError::BadScale { index: 0 })
    );
}

#[test]
fn int8_group_matches_its_dequantized_weights_on_every_table() {
    // m < 4: the per-output row function of each table; m ≥ 4: blocks dequantized into the
    // f32 GEMM. The reference is the f64 product with the dequantized weights; the bound is
    // f32 accumulation error ([`close`]).
    for &(m, n, k, group) in &[
        (1, 3, 32, 32),
        (1, 17, 256, 64),
        (2, 9, 384, 128),
        (1, 5, 512, 256),
        (3, 70, 96, 32),
        (5, 70, 96, 32),
    ] {
        let a = data(m * k, 13);
        let wf = data(n * k, 14);
        let w = Q8GroupWeights::from_f32(n, k, group, &wf).unwrap();
        assert_eq!(w.bytes(), n * k + 2 * (n * k / group));
        let mut deq = vec![0f32; n * k];
        for j in 0..n {
            w.dequantize_row(j, &mut deq[j * k..(j + 1) * k]);
            // Quantization error ≤ half a step d = max|w|/127 ≤ 1/127, plus the f16 rounding
            // of d (2^-11 relative) times a code of at most 127.
            for (p, (&d, &x)) in deq[j * k..(j + 1) * k].iter().zip(&wf[j * k..]).enumerate() {
                let bound = (0.5 + 127.0 / 2048.0) / 127.0 + 1e-7;
                assert!((d - x).abs() <= bound, "({j},{p}) {d} vs {x}");
            }
        }
        let bias = data(n, 18);
        for qk in available() {
            let mut c = vec![0f32; m * n];
            q8g_gemm_with(qk, m, &a, k, &w, Some(&bias), Activation::None, &mut c, n);
            for i in 0..m {
                for j in 0..n {
                    let (mut s, mut mag) = (bias[j] as f64, 0f64);
                    for p in 0..k {
                        let t = a[i * k + p] as f64 * deq[j * k + p] as f64;
                        s += t;
                        mag += t.abs();
                    }
                    assert!(
                        close(c[i * n + j], s, mag, k),
                        "{} {m}x{n}x{k}/{group} ({i},{j}): {} vs {s}",
                        qk.name,
                        c[i * n + j]
                    );
                }
            }
        }
    }
}

#[test]
fn int8_group_extreme_codes_zero_and_negative_scales() {
    // Codes ±127 and -128 (a stored byte may hold it), a zero scale (an all-zero GGUF block)
    // and a negative one: every table agrees with the f64 reference.
    let (n, k, group) = (3usize, 64usize, 32usize);
    let codes: Vec<i8> = (0..n * k)
        .map(|i| match i % 5 {
            0 => 127,
            1 => -127,
            2 => -128,
            _ => (i % 19) as i8 - 9,
        })
        .collect();
    let scales = vec![
        f32_to_f16_bits(0.25),
        0,
        f32_to_f16_bits(-0.5),
        f32_to_f16_bits(1e-3),
        f32_to_f16_bits(65504.0),
        f32_to_f16_bits(6e-8),
    ];
    let w = Q8GroupWeights::new(n, k, group, codes.clone(), scales.clone()).unwrap();
    let x = data(k, 21);
    for qk in available() {
        let mut c = vec![0f32; n];
        q8g_gemm_with(qk, 1, &x, k, &w, None, Activation::None, &mut c, n);
        for j in 0..n {
            let (mut s, mut mag) = (0f64, 0f64);
            for p in 0..k {
                let d = f16_bits_to_f32(scales[(j * k + p) / group]) as f64;
                let t = x[p] as f64 * codes[j * k + p] as f64 * d;
                s += t;
                mag += t.abs();
            }
            assert!(close(c[j], s, mag, k), "{} ({j}): {} vs {s}", qk.name, c[j]);
        }
    }
}

#[test]
fn int8_group_bad_parameters_are_typed_errors() {
    let bad =
        |g: usize, k: usize| Q8GroupWeights::new(1, k, g, vec![0; k], vec![0x3c00; k / g.max(1)]);
    assert_eq!(bad(48, 96), Err(QuantError::BadGroup { group: 48, k: 96 }));
    assert_eq!(bad(64, 96), Err(QuantError::BadGroup { group: 64, k: 96 }));
    assert_eq!(bad(0, 64), Err(QuantError::BadGroup { group: 0, k: 64 }));
    assert_eq!(
        bad(512, 512),
        Err(QuantError::BadGroup { group: 512, k: 512 })
    );
    assert!(bad(32, 64).is_ok());
    assert!(matches!(
        Q8GroupWeights::new(1, 64, 32, vec![0; 63], vec![0x3c00; 2]),
        Err(QuantError::Length { .. })
    ));
    assert!(matches!(
        Q8GroupWeights::new(1, 64, 32, vec![0; 64], vec![0x3c00; 3]),
        Err(QuantError::Length { .. })
    ));
    assert_eq!(
        Q8GroupWeights::new(1, 64, 32, vec![0; 64], vec![0x3c00, 0x7e00]),
        Err(QuantError::BadScale { index: 1 })
    );
    assert_eq!(
        Q8GroupWeights::new(1, 64, 32, vec![0; 64], vec![0xfc00, 0]),
        Err(QuantError::BadScale { index: 0 })
    );
    let mut w = data(64, 1);
    w[40] = f32::NAN;
    assert_eq!(
        Q8GroupWeights::from_f32(1, 64, 32, &w),
        Err(QuantError::BadScale { index: 1 })
    );
}

#[test]
fn f16_gemm_matches_the_converted_weights_on_every_table() {
    for &(m, n, k) in &[
        (1, 1, 1),
        (1, 9, 7),
        (1, 20, 33),
        (2, 5, 100),
        (6, 40, 77),
        (1, 64, 768),
    ] {
        let a = data(m * k, 11);
        let w = F16Weights::from_f32(n, k, &data(n * k, 12)).unwrap();
        assert_eq!(w.bytes(), 2 * n * k);
        let mut deq = vec![0f32; n * k];
        for j in 0..n {
            w.dequantize_row(j, &mut deq[j * k..(j + 1) * k]);
        }
        for qk in available() {
            let mut c = vec![0f32; m * n];
            f16_gemm_with(qk, m, &a, k, &w, None, Activation::Relu, &mut c, n);
            for i in 0..m {
                for j in 0..n {
                    let (mut s, mut mag) = (0f64, 0f64);
                    for p in 0..k {
                        let t = a[i * k + p] as f64 * deq[j * k + p] as f64;
                        s += t;
                        mag += t.abs();
                    }
                    assert!(
                        close(c[i * n + j], s.max(0.0), mag, k),
                        "{} {m}x{n}x{k} ({i},{j})",
                        qk.name
                    );
                }
            }
        }
    }
    assert!(F16Weights::new(2, 2, vec![0; 3]).is_err());
}

/// Infinite and NaN f16 weights propagate like f32 weights would.
#[test]
fn f16_specials_propagate() {
    let w = F16Weights::new(2, 9, [vec![0x7c00; 9], vec![0x7e00; 9]].concat()).unwrap();
    for qk in available() {
        let mut c = [0f32; 2];
        f16_gemm_with(qk, 1, &[1.0; 9], 9, &w, None, Activation::None, &mut c, 2);
        assert_eq!(c[0], f32::INFINITY, "{}", qk.name);
        assert!(c[1].is_nan(), "{}", qk.name);
    }
}

#[test]
fn expected_quant_tables_are_available() {
    let names: Vec<_> = available().iter().map(|k| k.name).collect();
    assert_eq!(names[0], "portable");
    if cfg!(all(target_family = "wasm", target_feature = "relaxed-simd")) {
        assert_eq!(names, ["portable", "wasm-relaxed-simd"]);
    } else if cfg!(all(target_family = "wasm", target_feature = "simd128")) {
        assert_eq!(names, ["portable", "wasm-simd128"]);
    }
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx512vnni") && is_x86_feature_detected!("avx2") {
        assert_eq!(names, ["portable", "avx2", "avx512-vnni"]);
    }
    assert_eq!(active().name, *names.last().unwrap());
}

/// Every finite half (incl. subnormals and ±0) converts exactly in the SIMD rows: a
/// one-hot activation picks out each weight.
#[test]
fn f16_rows_convert_every_finite_half_exactly() {
    let halves: Vec<u16> = (0..=u16::MAX).filter(|h| h & 0x7c00 != 0x7c00).collect();
    let k = 16;
    for qk in available() {
        for chunk in halves.chunks(k) {
            for (p, &h) in chunk.iter().enumerate() {
                let mut x = vec![0f32; chunk.len()];
                x[p] = 1.0;
                let got = (qk.f16_row)(&x, chunk);
                let want = f16_bits_to_f32(h);
                assert!(
                    got == want || (got == 0.0 && want == 0.0),
                    "{} {h:#x}",
                    qk.name
                );
            }
        }
    }
}

/// Convolution shapes: 3×3 padded, strided and dilated, 1×1, a 1-d convolution
/// (`in_h = kernel_h = 1`), batch 2, output channels past one panel pair.
fn conv_cases() -> Vec<crate::conv::Conv2dParams> {
    let c = |batch, cin, h, w, o, kh, kw, stride, padding, dilation| crate::conv::Conv2dParams {
        batch,
        in_channels: cin,
        in_h: h,
        in_w: w,
        out_channels: o,
        kernel_h: kh,
        kernel_w: kw,
        stride,
        padding,
        dilation,
        groups: 1,
    };
    vec![
        c(1, 3, 9, 11, 8, 3, 3, (2, 2), (1, 1), (1, 1)),
        c(2, 5, 7, 6, 37, 3, 2, (1, 2), (1, 0), (2, 1)),
        c(1, 20, 5, 5, 33, 1, 1, (1, 1), (0, 0), (1, 1)),
        c(1, 6, 1, 30, 17, 1, 5, (1, 3), (0, 2), (1, 1)),
    ]
}

/// The receptive field of every output pixel as a row (independent of the kernel's gather).
fn im2row(p: &crate::conv::Conv2dParams, x: &[f32]) -> Vec<f32> {
    let (oh, ow) = (p.out_h(), p.out_w());
    let mut rows = Vec::new();
    for oy in 0..oh {
        for ox in 0..ow {
            for c in 0..p.in_channels {
                for ky in 0..p.kernel_h {
                    for kx in 0..p.kernel_w {
                        let iy =
                            (oy * p.stride.0 + ky * p.dilation.0) as isize - p.padding.0 as isize;
                        let ix =
                            (ox * p.stride.1 + kx * p.dilation.1) as isize - p.padding.1 as isize;
                        let inside = (0..p.in_h as isize).contains(&iy)
                            && (0..p.in_w as isize).contains(&ix);
                        rows.push(if inside {
                            x[(c * p.in_h + iy as usize) * p.in_w + ix as usize]
                        } else {
                            0.0
                        });
                    }
                }
            }
        }
    }
    rows
}

#[test]
fn int8_conv_equals_the_integer_reference_on_every_table() {
    for (t, p) in conv_cases().iter().enumerate() {
        let k = p.in_channels * p.kernel_h * p.kernel_w;
        let (o, pix) = (p.out_channels, p.out_h() * p.out_w());
        let x = data(p.batch * p.in_channels * p.in_h * p.in_w, 10 + t as u32);
        let wf = data(o * k, 20 + t as u32);
        let w = PackedI8::from_f32(o, k, &wf).unwrap();
        let bias = data(o, 30 + t as u32);
        let image = p.in_channels * p.in_h * p.in_w;
        // The reference: per-pixel rows through the exact integer GEMM, transposed to NCHW.
        let reference = |fmt| {
            let mut want = vec![0f32; p.batch * o * pix];
            for b in 0..p.batch {
                let rows = im2row(p, &x[b * image..(b + 1) * image]);
                let c = int8_reference(fmt, pix, k, &rows, &w, Some(&bias), Activation::Relu);
                for px in 0..pix {
                    for j in 0..o {
                        want[(b * o + j) * pix + px] = c[px * o + j];
                    }
                }
            }
            want
        };
        let signed = reference(ActFormat::Signed8);
        for qk in available() {
            let want = reference(qk.act);
            let mut got = vec![f32::NAN; want.len()];
            qconv2d_i8_with(qk, p, &x, &w, Some(&bias), Activation::Relu, &mut got);
            assert_eq!(got, want, "{} case {t}", qk.name);
        }
        // And close to the f32 convolution with the dequantized weights (the per-pixel
        // activation quantization error only).
        let mut deq = vec![0f32; o * k];
        for j in 0..o {
            w.dequantize_row(j, &mut deq[j * k..(j + 1) * k]);
        }
        let mut f = vec![0f32; signed.len()];
        crate::conv::conv2d(p, &x, &deq, Some(&bias), Activation::Relu, &mut f);
        for fmt in [ActFormat::Signed8, ActFormat::Unsigned7] {
            let step = if fmt == ActFormat::Unsigned7 {
                2.0
            } else {
                1.0
            };
            for (g, r) in reference(fmt).iter().zip(&f) {
                assert!(
                    (g - r).abs() <= 0.02 * step * (k as f32).sqrt(),
                    "case {t} {fmt:?}: {g} vs {r}"
                );
            }
        }
    }
}

#[test]
fn int8_conv_does_not_depend_on_threads() {
    let p = &conv_cases()[1];
    let k = p.in_channels * p.kernel_h * p.kernel_w;
    let x = data(p.batch * p.in_channels * p.in_h * p.in_w, 3);
    let w = PackedI8::from_f32(p.out_channels, k, &data(p.out_channels * k, 4)).unwrap();
    let len = p.batch * p.out_channels * p.out_h() * p.out_w();
    let mut one = vec![0f32; len];
    qconv2d_i8(p, &x, &w, None, Activation::None, &mut one);
    let two = crate::parallel::with_threads(2, || {
        let mut c = vec![0f32; len];
        qconv2d_i8(p, &x, &w, None, Activation::None, &mut c);
        c
    });
    assert_eq!(one, two);
}
