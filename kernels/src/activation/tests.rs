//! Accuracy of every kernel table's transcendental functions against f64 references, and
//! of every activation against its defining formula.

use super::*;
use crate::arch::available;
use proptest::prelude::*;

/// Distance in units in the last place between `got` and the correctly rounded `want`.
fn ulps(got: f32, want: f64) -> f64 {
    let w = want as f32;
    if got == w {
        return 0.0;
    }
    let ulp = if w == 0.0 {
        f32::from_bits(1) as f64
    } else {
        (f32::from_bits(w.abs().to_bits() + 1) - w.abs()) as f64
    };
    (got as f64 - want).abs() / ulp
}

fn sweep(lo: f32, hi: f32, n: usize) -> Vec<f32> {
    (0..=n)
        .map(|i| lo + (hi - lo) * (i as f32 / n as f32))
        .collect()
}

#[test]
fn exp_error_at_most_2_ulp_and_special_values() {
    let xs = sweep(-103.0, 88.7, 400_000);
    for k in available() {
        let mut y = xs.clone();
        (k.exp)(&mut y);
        let mut worst = 0f64;
        for (&x, &g) in xs.iter().zip(&y) {
            let w = (x as f64).exp();
            if w >= f32::MIN_POSITIVE as f64 {
                worst = worst.max(ulps(g, w));
            } else {
                // Subnormal results: absolute error within 2 subnormal steps.
                assert!(
                    (g as f64 - w).abs() <= 2.0 * f32::from_bits(1) as f64,
                    "{} exp({x})",
                    k.name
                );
            }
        }
        assert!(worst <= 2.0, "{}: exp max error {worst} ulp", k.name);
        let mut s = [
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
            89.0,
            -110.0,
            0.0,
        ];
        (k.exp)(&mut s);
        assert_eq!(s[0], f32::INFINITY, "{}", k.name);
        assert_eq!(s[1], 0.0);
        assert!(s[2].is_nan());
        assert_eq!(s[3], f32::INFINITY);
        assert_eq!(s[4], 0.0);
        assert_eq!(s[5], 1.0);
    }
}

fn check_abs(
    name: &str,
    f: fn(&crate::arch::Kernels) -> MapFnT,
    r: fn(f64) -> f64,
    lo: f32,
    hi: f32,
    tol: f64,
) {
    let xs = sweep(lo, hi, 200_000);
    for k in available() {
        let mut y = xs.clone();
        f(k)(&mut y);
        let worst = xs
            .iter()
            .zip(&y)
            .map(|(&x, &g)| (g as f64 - r(x as f64)).abs())
            .fold(0f64, f64::max);
        assert!(
            worst <= tol,
            "{}: {name} max abs error {worst:e} > {tol:e}",
            k.name
        );
    }
}

type MapFnT = fn(&mut [f32]);

#[test]
fn tanh_abs_error_below_3e_7() {
    check_abs("tanh", |k| k.tanh, f64::tanh, -12.0, 12.0, 3e-7);
    for k in available() {
        let mut s = [f32::INFINITY, f32::NEG_INFINITY, f32::NAN, 0.0];
        (k.tanh)(&mut s);
        assert_eq!((s[0], s[1], s[3]), (1.0, -1.0, 0.0), "{}", k.name);
        assert!(s[2].is_nan());
    }
}

#[test]
fn erf_abs_error_below_5e_7() {
    // The rational form is accurate to ~7e-8 in exact arithmetic; f32 evaluation near
    // |x| = 4 (erf within 1e-7 of 1) costs a few more ulp.
    check_abs("erf", |k| k.erf, libm::erf, -6.0, 6.0, 5e-7);
    for k in available() {
        let mut s = [f32::INFINITY, f32::NEG_INFINITY, 0.0];
        (k.erf)(&mut s);
        assert_eq!(s, [1.0, -1.0, 0.0], "{}", k.name);
    }
}

#[test]
fn sigmoid_abs_error_below_2e_7() {
    check_abs(
        "sigmoid",
        |k| k.sigmoid,
        |x| 1.0 / (1.0 + (-x).exp()),
        -100.0,
        100.0,
        2e-7,
    );
    for k in available() {
        let mut s = [f32::INFINITY, f32::NEG_INFINITY];
        (k.sigmoid)(&mut s);
        assert_eq!(s, [1.0, 0.0], "{}", k.name);
    }
}

#[test]
fn log_error_at_most_2_ulp_and_special_values() {
    // Every 997th bit pattern of the positive floats: subnormals, normals, up to f32::MAX.
    let xs: Vec<f32> = (1u32..0x7f80_0000)
        .step_by(997)
        .map(f32::from_bits)
        .collect();
    for k in available() {
        let mut y = xs.clone();
        (k.log)(&mut y);
        let worst = xs
            .iter()
            .zip(&y)
            .map(|(&x, &g)| ulps(g, (x as f64).ln()))
            .fold(0f64, f64::max);
        assert!(worst <= 2.0, "{}: log max error {worst} ulp", k.name);
        let mut s = [0.0, -1.0, f32::INFINITY, f32::NAN, 1.0];
        (k.log)(&mut s);
        assert_eq!(s[0], f32::NEG_INFINITY, "{}", k.name);
        assert!(s[1].is_nan() && s[3].is_nan());
        assert_eq!((s[2], s[4]), (f32::INFINITY, 0.0));
    }
}

fn reference(act: Activation, x: f64) -> f64 {
    let relu6 = |v: f64| v.clamp(0.0, 6.0);
    match act {
        Activation::None => x,
        Activation::Relu => x.max(0.0),
        Activation::Relu6 => relu6(x),
        Activation::LeakyRelu(s) => {
            if x >= 0.0 {
                x
            } else {
                x * s as f64
            }
        }
        Activation::Gelu => 0.5 * x * (1.0 + libm::erf(x / 2f64.sqrt())),
        Activation::GeluTanh => {
            let u = (2.0 / std::f64::consts::PI).sqrt() * (x + 0.044715 * x * x * x);
            0.5 * x * (1.0 + u.tanh())
        }
        Activation::Silu => x / (1.0 + (-x).exp()),
        Activation::Sigmoid => 1.0 / (1.0 + (-x).exp()),
        Activation::Tanh => x.tanh(),
        Activation::HardSwish => x * relu6(x + 3.0) / 6.0,
        Activation::HardSigmoid => relu6(x + 3.0) / 6.0,
        Activation::Elu(a) => {
            if x > 0.0 {
                x
            } else {
                a as f64 * (x.exp() - 1.0)
            }
        }
        Activation::Softplus => {
            if x > 20.0 {
                x
            } else {
                x.exp().ln_1p()
            }
        }
        Activation::Clamp(lo, hi) => x.clamp(lo as f64, hi as f64),
    }
}

const ALL: [Activation; 14] = [
    Activation::None,
    Activation::Relu,
    Activation::Relu6,
    Activation::LeakyRelu(0.01),
    Activation::Gelu,
    Activation::GeluTanh,
    Activation::Silu,
    Activation::Sigmoid,
    Activation::Tanh,
    Activation::HardSwish,
    Activation::HardSigmoid,
    Activation::Elu(1.0),
    Activation::Softplus,
    Activation::Clamp(-1.5, 2.5),
];

proptest! {
    /// Every activation on every table: |got - want| <= 2e-6 * (1 + |x|).
    #[test]
    fn activations_match_f64(xs in prop::collection::vec(-30f32..30.0, 1..300)) {
        for k in available() {
            for act in ALL {
                let mut y = xs.clone();
                apply_with(k, act, &mut y);
                for (&x, &g) in xs.iter().zip(&y) {
                    let w = reference(act, x as f64);
                    prop_assert!((g as f64 - w).abs() <= 2e-6 * (1.0 + (x as f64).abs()),
                        "{} {:?}({}) = {} want {}", k.name, act, x, g, w);
                }
            }
        }
    }
}

/// Near-zero and far-negative inputs where a naive formula loses relative accuracy.
#[test]
fn elu_and_softplus_relative_accuracy() {
    let small: Vec<f32> = (1..=2000).map(|i| -(i as f32) * 1e-6).collect();
    let far: Vec<f32> = (0..=300).map(|i| -15.0 - i as f32 * 0.25).collect();
    for k in available() {
        for (act, xs) in [(Activation::Elu(1.0), &small), (Activation::Softplus, &far)] {
            let mut y = xs.clone();
            apply_with(k, act, &mut y);
            for (&x, &g) in xs.iter().zip(&y) {
                let w = reference(act, x as f64);
                assert!(
                    ((g as f64 - w) / w).abs() <= 1e-5,
                    "{} {act:?}({x}) = {g}, want {w}",
                    k.name
                );
            }
        }
    }
}

#[test]
fn relu_and_clamp_keep_nan() {
    for act in [
        Activation::Relu,
        Activation::Relu6,
        Activation::Clamp(0.0, 1.0),
    ] {
        let mut v = [f32::NAN];
        apply(act, &mut v);
        assert!(v[0].is_nan(), "{act:?}");
    }
}

/// The public maps split large slices over threads: same bits as one serial pass.
#[test]
fn split_maps_match_serial() {
    let x: Vec<f32> = (0..1001).map(|i| (i as f32 - 500.0) / 50.0).collect();
    for act in [
        Activation::Sigmoid,
        Activation::Gelu,
        Activation::Elu(0.5),
        Activation::Relu,
    ] {
        let mut want = x.clone();
        apply_with(crate::arch::active(), act, &mut want);
        let mut got = x.clone();
        crate::parallel::with_threads(3, || apply(act, &mut got));
        let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
        assert!(bits(&got) == bits(&want), "{act:?}");
    }
    let mut want = x.clone();
    (crate::arch::active().exp)(&mut want);
    let mut got = x;
    crate::parallel::with_threads(3, || exp(&mut got));
    assert!(got
        .iter()
        .zip(&want)
        .all(|(a, b)| a.to_bits() == b.to_bits()));
}
