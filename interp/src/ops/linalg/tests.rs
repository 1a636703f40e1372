//! Unit tests of the factorizations through the registered ops: every result is checked by
//! the identity it must satisfy (`P L U = A`, `Q R = A`, `U S Vh = A`, `A V = V Λ`, ...),
//! so the tests need no reference library.

use crate::ops::test_util::{call, try_call};
use crate::tensor::Tensor;
use crate::value::Value;

fn m(rows: usize, cols: usize, seed: u64) -> Vec<f64> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..rows * cols)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 33) as f64 / (1u64 << 31) as f64) * 2.0 - 1.0
        })
        .collect()
}

fn t64(shape: &[usize], v: Vec<f64>) -> Value {
    Tensor::from_f64_as(crate::tensor::DType::F64, shape.to_vec(), v).into()
}

fn vals(v: &Value) -> Vec<f64> {
    v.as_tensor().unwrap().f64s().unwrap()
}

fn mul(a: &[f64], b: &[f64], r: usize, k: usize, c: usize) -> Vec<f64> {
    super::dense::matmul(a, b, r, k, c)
}

fn close(a: &[f64], b: &[f64], tol: f64) {
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(b) {
        assert!((x - y).abs() <= tol, "{x} vs {y}\n{a:?}\n{b:?}");
    }
}

#[test]
fn lu_reconstructs_and_solves() {
    let a = m(4, 4, 1);
    let r = call(
        "aten::linalg_lu.default",
        vec![t64(&[4, 4], a.clone()), Value::Bool(true)],
    );
    let (p, l, u) = (vals(&r[0]), vals(&r[1]), vals(&r[2]));
    close(&mul(&mul(&p, &l, 4, 4, 4), &u, 4, 4, 4), &a, 1e-12);
    let b = m(4, 2, 2);
    let x = call(
        "aten::linalg_solve.default",
        vec![t64(&[4, 4], a.clone()), t64(&[4, 2], b.clone())],
    );
    close(&mul(&a, &vals(&x[0]), 4, 4, 2), &b, 1e-12);
    let inv = call("aten::linalg_inv.default", vec![t64(&[4, 4], a.clone())]);
    close(
        &mul(&a, &vals(&inv[0]), 4, 4, 4),
        &super::dense::identity(4),
        1e-12,
    );
}

#[test]
fn singular_matrix_reports_info_and_check_errors_raises() {
    let s = vec![1.0, 2.0, 2.0, 4.0];
    let r = call(
        "aten::linalg_inv_ex.default",
        vec![t64(&[2, 2], s.clone()), Value::Bool(false)],
    );
    let info = r[1].as_tensor().unwrap().i64s().unwrap().into_owned();
    assert_eq!(info, vec![2]);
    assert!(try_call("aten::linalg_inv.default", vec![t64(&[2, 2], s.clone())]).is_err());
    let det = call("aten::linalg_det.default", vec![t64(&[2, 2], s)]);
    assert_eq!(vals(&det[0]), vec![0.0]);
    assert!(try_call(
        "aten::_linalg_check_errors.default",
        vec![
            r[1].clone(),
            Value::Str("linalg.inv".into()),
            Value::Bool(true)
        ]
    )
    .is_err());
}

#[test]
fn qr_is_orthogonal_times_upper() {
    let a = m(5, 3, 3);
    let r = call(
        "aten::linalg_qr.default",
        vec![t64(&[5, 3], a.clone()), Value::Str("reduced".into())],
    );
    let (q, rr) = (vals(&r[0]), vals(&r[1]));
    close(&mul(&q, &rr, 5, 3, 3), &a, 1e-12);
    let qt = super::dense::transpose(&q, 5, 3);
    close(&mul(&qt, &q, 3, 5, 3), &super::dense::identity(3), 1e-12);
    assert!(rr[3] == 0.0 && rr[6] == 0.0 && rr[7] == 0.0);
}

#[test]
fn svd_and_eigh_satisfy_their_identities() {
    for (rows, cols) in [(4, 3), (3, 4), (3, 3)] {
        let a = m(rows, cols, 4);
        let r = call(
            "aten::_linalg_svd.default",
            vec![
                t64(&[rows, cols], a.clone()),
                Value::Bool(false),
                Value::Bool(true),
            ],
        );
        let (u, s, vh) = (vals(&r[0]), vals(&r[1]), vals(&r[2]));
        let k = rows.min(cols);
        let us: Vec<f64> = (0..rows * k).map(|i| u[i] * s[i % k]).collect();
        close(&mul(&us, &vh, rows, k, cols), &a, 1e-12);
        assert!(s.windows(2).all(|w| w[0] >= w[1]));
    }
    let x = m(4, 4, 5);
    let sym: Vec<f64> = (0..16).map(|i| x[i] + x[(i % 4) * 4 + i / 4]).collect();
    let r = call(
        "aten::_linalg_eigh.default",
        vec![
            t64(&[4, 4], sym.clone()),
            Value::Str("L".into()),
            Value::Bool(true),
        ],
    );
    let (w, v) = (vals(&r[0]), vals(&r[1]));
    let vw: Vec<f64> = (0..16).map(|i| v[i] * w[i % 4]).collect();
    close(&mul(&sym, &v, 4, 4, 4), &vw, 1e-12);
    assert!(w.windows(2).all(|p| p[0] <= p[1]));
}

#[test]
fn cholesky_and_matrix_exp() {
    let x = m(3, 3, 6);
    let mut spd = mul(&x, &super::dense::transpose(&x, 3, 3), 3, 3, 3);
    for i in 0..3 {
        spd[i * 4] += 3.0;
    }
    let l = vals(
        &call(
            "aten::linalg_cholesky.default",
            vec![t64(&[3, 3], spd.clone()), Value::Bool(false)],
        )[0],
    );
    close(
        &mul(&l, &super::dense::transpose(&l, 3, 3), 3, 3, 3),
        &spd,
        1e-12,
    );
    // exp of a nilpotent matrix is the finite series I + N + N²/2.
    let n = vec![0.0, 1.0, 2.0, 0.0, 0.0, 3.0, 0.0, 0.0, 0.0];
    let e = vals(&call("aten::linalg_matrix_exp.default", vec![t64(&[3, 3], n)])[0]);
    close(&e, &[1.0, 1.0, 3.5, 0.0, 1.0, 3.0, 0.0, 0.0, 1.0], 1e-12);
    let big = vals(
        &call(
            "aten::linalg_matrix_exp.default",
            vec![t64(&[1, 1], vec![10.0])],
        )[0],
    );
    assert!((big[0] - 10f64.exp()).abs() <= 1e-9 * 10f64.exp());
}

#[test]
fn hostile_pivots_are_errors() {
    let lu = t64(&[2, 2], vec![1.0, 0.0, 0.0, 1.0]);
    for p in [vec![0, 1], vec![3, 2], vec![-1, 1]] {
        let piv: Value = Tensor::from_i32(vec![2], p).into();
        assert!(try_call(
            "aten::lu_unpack.default",
            vec![
                lu.clone(),
                piv.clone(),
                Value::Bool(true),
                Value::Bool(true)
            ]
        )
        .is_err());
        assert!(try_call(
            "aten::linalg_lu_solve.default",
            vec![
                lu.clone(),
                piv,
                lu.clone(),
                Value::Bool(true),
                Value::Bool(false)
            ]
        )
        .is_err());
    }
}

#[test]
fn ldl_factor_then_solve_inverts_an_indefinite_matrix() {
    // Symmetric, indefinite, with a zero leading diagonal (forces a 2×2 pivot).
    let a = vec![
        0.0, 2.0, 1.0, 3.0, 2.0, 1.0, 0.5, -1.0, 1.0, 0.5, -2.0, 4.0, 3.0, -1.0, 4.0, 0.0,
    ];
    let f = call(
        "aten::linalg_ldl_factor_ex.default",
        vec![
            t64(&[4, 4], a.clone()),
            Value::Bool(false),
            Value::Bool(false),
        ],
    );
    let piv = f[1].as_tensor().unwrap().i64s().unwrap().into_owned();
    assert!(piv.iter().any(|&p| p < 0), "{piv:?}");
    let b = m(4, 3, 9);
    let x = call(
        "aten::linalg_ldl_solve.default",
        vec![
            f[0].clone(),
            f[1].clone(),
            t64(&[4, 3], b.clone()),
            Value::Bool(false),
        ],
    );
    close(&mul(&a, &vals(&x[0]), 4, 4, 3), &b, 1e-12);
    let bad: Value = Tensor::from_i32(vec![4], vec![-1, 2, 3, 4]).into();
    assert!(try_call(
        "aten::linalg_ldl_solve.default",
        vec![f[0].clone(), bad, t64(&[4, 3], b), Value::Bool(false)]
    )
    .is_err());
}

#[test]
fn full_svd_of_a_rank_deficient_matrix_is_orthogonal() {
    // Third column = first + second: rank 2, so u_3 and u_4 come from the completion.
    let mut a = m(4, 3, 11);
    for i in 0..4 {
        a[i * 3 + 2] = a[i * 3] + a[i * 3 + 1];
    }
    let r = call(
        "aten::_linalg_svd.default",
        vec![
            t64(&[4, 3], a.clone()),
            Value::Bool(true),
            Value::Bool(true),
        ],
    );
    let (u, s, vh) = (vals(&r[0]), vals(&r[1]), vals(&r[2]));
    assert!(s[2].abs() < 1e-12, "{s:?}");
    let ut = super::dense::transpose(&u, 4, 4);
    close(&mul(&ut, &u, 4, 4, 4), &super::dense::identity(4), 1e-12);
    let us: Vec<f64> = (0..12).map(|i| u[(i / 3) * 4 + i % 3] * s[i % 3]).collect();
    close(&mul(&us, &vh, 4, 3, 3), &a, 1e-12);
}
