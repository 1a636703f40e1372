//! GEMM of every kernel table against a naive f64 reference.

use super::*;
use crate::arch::available;
use proptest::prelude::*;

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

#[allow(clippy::too_many_arguments)]
fn naive(
    m: usize,
    n: usize,
    k: usize,
    a: &[f32],
    lda: usize,
    ta: bool,
    b: &[f32],
    ldb: usize,
    tb: bool,
) -> Vec<f64> {
    let mut c = vec![0f64; m * n];
    for i in 0..m {
        for j in 0..n {
            let mut s = 0f64;
            for p in 0..k {
                let av = if ta { a[p * lda + i] } else { a[i * lda + p] };
                let bv = if tb { b[j * ldb + p] } else { b[p * ldb + j] };
                s += av as f64 * bv as f64;
            }
            c[i * n + j] = s;
        }
    }
    c
}

/// Tolerance for a k-term dot product of values in [-1, 1] computed in f32.
fn tol(k: usize) -> f64 {
    1e-5 + 2e-7 * k as f64
}

#[allow(clippy::too_many_arguments)]
fn check_sgemm(
    m: usize,
    n: usize,
    k: usize,
    ta: bool,
    tb: bool,
    pad: usize,
    accumulate: bool,
    seed: u32,
) {
    let (ar, ac) = if ta { (k, m) } else { (m, k) };
    let (br, bc) = if tb { (n, k) } else { (k, n) };
    let (lda, ldb, ldc) = (ac + pad, bc + pad, n + pad);
    let a = data(ar * lda, seed);
    let b = data(br * ldb, seed + 1);
    let c0 = data(m * ldc, seed + 2);
    let want = naive(m, n, k, &a, lda, ta, &b, ldb, tb);
    for kern in available() {
        let mut c = c0.clone();
        sgemm_with(
            kern, m, n, k, &a, lda, ta, &b, ldb, tb, &mut c, ldc, accumulate,
        );
        for i in 0..m {
            for j in 0..n {
                let w = want[i * n + j]
                    + if accumulate {
                        c0[i * ldc + j] as f64
                    } else {
                        0.0
                    };
                let g = c[i * ldc + j] as f64;
                assert!(
                    (g - w).abs() <= tol(k),
                    "{} m{m} n{n} k{k} ta{ta} tb{tb} ({i},{j}): {g} vs {w}",
                    kern.name
                );
            }
            // Padding columns of c are untouched.
            for j in n..ldc {
                assert_eq!(c[i * ldc + j], c0[i * ldc + j]);
            }
        }
        // Split over 3 threads (column panels): bit-identical to the serial result.
        let mut ct = c0.clone();
        crate::parallel::with_threads(3, || {
            sgemm_with(
                kern, m, n, k, &a, lda, ta, &b, ldb, tb, &mut ct, ldc, accumulate,
            )
        });
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert!(
            bits(&ct) == bits(&c),
            "{} m{m} n{n} k{k}: threads differ",
            kern.name
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn sgemm_matches_naive(m in 1usize..70, n in 1usize..70, k in 1usize..70, ta: bool, tb: bool, pad in 0usize..3, acc: bool, seed: u32) {
        check_sgemm(m, n, k, ta, tb, pad, acc, seed);
    }

    #[test]
    fn sgemm_packed_bias_act(m in 1usize..40, n in 1usize..70, k in 1usize..70, tb: bool, with_bias: bool, seed: u32) {
        let a = data(m * k, seed);
        let ldb = if tb { k } else { n };
        let b = data(k * n, seed + 1);
        let bias = data(n, seed + 2);
        let pb = PackedB::pack(k, n, &b, ldb, tb);
        prop_assert_eq!((pb.k(), pb.n()), (k, n));
        let want = naive(m, n, k, &a, k, false, &b, ldb, tb);
        for kern in available() {
            let mut c = vec![f32::NAN; m * n];
            let bias_opt = if with_bias { Some(&bias[..]) } else { None };
            sgemm_packed_with(kern, m, &a, k, &pb, bias_opt, Activation::Relu, &mut c, n);
            let mut ct = vec![f32::NAN; m * n];
            crate::parallel::with_threads(3, || {
                sgemm_packed_with(kern, m, &a, k, &pb, bias_opt, Activation::Relu, &mut ct, n)
            });
            prop_assert!(ct.iter().zip(&c).all(|(x, y)| x.to_bits() == y.to_bits()), "{}: threads differ", kern.name);
            for i in 0..m {
                for j in 0..n {
                    let w = (want[i * n + j] + if with_bias { bias[j] as f64 } else { 0.0 }).max(0.0);
                    prop_assert!((c[i * n + j] as f64 - w).abs() <= tol(k), "{}", kern.name);
                }
            }
        }
    }
}

/// Sizes crossing every cache-block boundary (KC = 256, MC = 96, NC = 512 columns).
#[test]
fn sgemm_large_blocks() {
    check_sgemm(130, 530, 300, false, false, 1, false, 7);
    check_sgemm(97, 33, 513, true, true, 0, true, 8);
}

/// m = 1 takes the unpacked vector-matrix path: every layout and accumulate combination.
#[test]
fn sgemm_single_row() {
    for (ta, tb, acc) in (0..8).map(|i| (i & 1 != 0, i & 2 != 0, i & 4 != 0)) {
        for (n, k) in [(1, 1), (17, 33), (300, 70)] {
            check_sgemm(1, n, k, ta, tb, 2, acc, 11);
        }
    }
}

#[test]
fn gemv_of_every_table_matches_the_reference() {
    // Panel counts around the SIMD versions' group sizes (2 and 4 panels), so both full
    // groups and the one-panel tail run; k from 1 to past a K block.
    for panels in 1..=9 {
        for k in [1, 2, 7, 64, 300] {
            let a = data(k, panels as u32);
            let b = data(panels * k * NR, 100 + k as u32);
            let mut want = vec![f32::NAN; panels * NR];
            portable_gemv(k, &a, &b, panels, &mut want);
            for (j, &w) in want.iter().enumerate() {
                let (panel, col) = (j / NR, j % NR);
                let exact: f64 = (0..k)
                    .map(|p| a[p] as f64 * b[panel * k * NR + p * NR + col] as f64)
                    .sum();
                assert!((w as f64 - exact).abs() <= tol(k), "reference, k {k}");
            }
            for kern in available() {
                let mut got = vec![f32::NAN; panels * NR];
                (kern.gemv)(k, &a, &b, panels, &mut got);
                for (j, (g, w)) in got.iter().zip(&want).enumerate() {
                    assert!(
                        (g - w).abs() as f64 <= tol(k),
                        "{}: panels {panels}, k {k}, column {j}: {g} vs {w}",
                        kern.name
                    );
                }
            }
        }
    }
}

#[test]
fn gemv_rows_of_every_table_matches_the_reference() {
    // Row counts around the SIMD group of 4 rows, k around the 2-vector step (8 or 16
    // floats) and its scalar tail, and a padded leading dimension.
    for n in 1..=9 {
        for k in [1, 2, 7, 8, 15, 16, 17, 64, 300] {
            let ldb = k + 3;
            let a = data(k, n as u32);
            let b = data(n * ldb, 200 + k as u32);
            let mut want = vec![f32::NAN; n];
            portable_gemv_rows(k, &a, &b, ldb, &mut want);
            for (j, &w) in want.iter().enumerate() {
                let exact: f64 = (0..k).map(|p| a[p] as f64 * b[j * ldb + p] as f64).sum();
                assert!((w as f64 - exact).abs() <= tol(k), "reference, k {k}");
            }
            for kern in available() {
                let mut got = vec![f32::NAN; n];
                (kern.gemv_rows)(k, &a, &b, ldb, &mut got);
                for (j, (g, w)) in got.iter().zip(&want).enumerate() {
                    assert!(
                        (g - w).abs() as f64 <= tol(k),
                        "{}: n {n}, k {k}, row {j}: {g} vs {w}",
                        kern.name
                    );
                }
            }
        }
    }
}

/// `sgemm_rows` (B stored by rows, no packing) against the naive product, with bias, for
/// few rows of A, on every table, serially and split over threads (bit-identical).
#[test]
fn sgemm_rows_matches_naive() {
    for (m, n, k) in [
        (1, 1, 1),
        (1, 37, 19),
        (3, 70, 300),
        (4, 9, 5000),
        (2, 5, 0),
    ] {
        let (lda, ldb, ldc) = (k + 1, k + 2, n + 3);
        let a = data(m * lda, 7);
        let b = data(n * ldb, 8);
        let bias = data(n, 9);
        let want = naive(m, n, k, &a, lda, false, &b, ldb, true);
        for kern in available() {
            let mut c = vec![f32::NAN; m * ldc];
            sgemm_rows_with(kern, m, n, k, &a, lda, &b, ldb, Some(&bias), &mut c, ldc);
            for i in 0..m {
                for j in 0..n {
                    let w = want[i * n + j] + bias[j] as f64;
                    let g = c[i * ldc + j] as f64;
                    assert!(
                        (g - w).abs() <= tol(k),
                        "{} ({i},{j}) k{k}: {g} vs {w}",
                        kern.name
                    );
                }
                assert!(c[i * ldc + n..(i + 1) * ldc].iter().all(|v| v.is_nan()));
            }
            let mut ct = vec![f32::NAN; m * ldc];
            crate::parallel::with_threads(3, || {
                sgemm_rows_with(kern, m, n, k, &a, lda, &b, ldb, Some(&bias), &mut ct, ldc)
            });
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert!(bits(&ct) == bits(&c), "{}: threads differ", kern.name);
        }
    }
}

/// The unpacked path packs B one column block at a time: its scratch is bounded by the
/// block, not by B, and the product is the same over several blocks.
#[test]
fn sgemm_scratch_is_one_block() {
    let (m, n, k) = (5, 200, 64);
    assert!(sgemm_scratch_len(m, n, k) <= B_BLOCK_FLOATS.max(k * NR));
    assert!(sgemm_scratch_len(m, n, k) < n * k);
    assert_eq!(sgemm_scratch_len(1, n, k), 0);
    for tb in [false, true] {
        check_sgemm(m, n, k, false, tb, 1, false, 3);
    }
    // One panel deeper than the block size: the scratch is one panel.
    assert_eq!(sgemm_scratch_len(2, 40, 1000), NR * 1000);
    check_sgemm(2, 40, 1000, true, true, 0, true, 4);
}

#[test]
fn sgemm_k_zero_zeroes_or_keeps_c() {
    for kern in available() {
        let mut c = vec![3.0f32; 6];
        sgemm_with(kern, 2, 3, 0, &[], 1, false, &[], 3, false, &mut c, 3, true);
        assert_eq!(c, vec![3.0; 6]);
        sgemm_with(
            kern,
            2,
            3,
            0,
            &[],
            1,
            false,
            &[],
            3,
            false,
            &mut c,
            3,
            false,
        );
        assert_eq!(c, vec![0.0; 6]);
        let pb = PackedB::pack(0, 3, &[], 3, false);
        sgemm_packed_with(
            kern,
            2,
            &[],
            0,
            &pb,
            Some(&[1.0, -2.0, 3.0]),
            Activation::Relu,
            &mut c,
            3,
        );
        assert_eq!(c, vec![1.0, 0.0, 3.0, 1.0, 0.0, 3.0]);
    }
}

#[test]
#[should_panic(expected = "slice of")]
fn sgemm_rejects_short_slices() {
    let mut c = vec![0f32; 4];
    sgemm(
        2, 2, 2, &[1.0; 3], 2, false, &[1.0; 4], 2, false, &mut c, 2, false,
    );
}

/// Pre-packed A (as convolutions use it) gives the same bits as packing per block, for
/// sizes crossing the K and M blocks.
#[test]
fn packed_a_matches_raw() {
    for (m, n, k) in [(1, 5, 3), (7, 40, 300), (130, 33, 513), (97, 17, 96)] {
        let a = data(m * k, 3);
        let b = data(k * n, 4);
        let pb = PackedB::pack(k, n, &b, n, false);
        for kern in available() {
            let pa = PackedA::pack_with(kern, m, k, &a, k, false);
            assert_eq!((pa.m(), pa.k()), (m, k));
            let epi = Epilogue {
                accumulate: false,
                bias: Bias::None,
                act: Activation::None,
            };
            let mut want = vec![0f32; m * n];
            let raw = AOperand::Raw {
                a: &a,
                lda: k,
                trans: false,
            };
            gemm_block(
                kern,
                m,
                k,
                n,
                raw,
                &pb.data,
                MatMut::new(&mut want, m, n, n),
                &epi,
            );
            let mut got = vec![f32::NAN; m * n];
            let packed = AOperand::Packed(&pa);
            gemm_block(
                kern,
                m,
                k,
                n,
                packed,
                &pb.data,
                MatMut::new(&mut got, m, n, n),
                &epi,
            );
            assert!(
                got.iter()
                    .zip(&want)
                    .all(|(x, y)| x.to_bits() == y.to_bits()),
                "{} m{m} n{n} k{k}",
                kern.name
            );
        }
    }
}
