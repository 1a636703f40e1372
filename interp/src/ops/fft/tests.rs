//! The transform and complex ops against values worked out by hand or by the naive DFT,
//! and their refusals of hostile arguments.

use crate::ops::registry::lookup;
use crate::ops::test_util::il;
use crate::ops::OpCtx;
use crate::tensor::{DType, Tensor};
use crate::value::Value;

fn call(name: &str, args: Vec<Value>) -> crate::error::Result<Tensor> {
    let f = lookup(name).unwrap_or_else(|| panic!("{name} not registered"));
    f(&mut OpCtx::default(), args)?
        .remove(0)
        .as_tensor()
        .cloned()
}

fn pairs(t: &Tensor) -> Vec<[f32; 2]> {
    assert_eq!(t.dtype(), DType::C64);
    t.data::<[f32; 2]>().unwrap().into_owned()
}

fn close(a: f32, b: f32) {
    assert!((a - b).abs() <= 1e-5 + 1e-5 * b.abs(), "{a} vs {b}");
}

#[test]
fn r2c_then_c2r_round_trips_and_matches_hand_values() {
    // rfft([1, 2, 3, 4]) = [10, -2+2i, -2].
    let x = Tensor::from_f32(vec![1, 4], vec![1.0, 2.0, 3.0, 4.0]);
    let y = call(
        "aten::_fft_r2c.default",
        vec![x.clone().into(), il(&[1]), Value::Int(0), Value::Bool(true)],
    )
    .unwrap();
    assert_eq!(y.shape(), &[1, 3]);
    let want = [[10.0, 0.0], [-2.0, 2.0], [-2.0, 0.0]];
    for (g, w) in pairs(&y).iter().zip(want) {
        close(g[0], w[0]);
        close(g[1], w[1]);
    }
    let back = call(
        "aten::_fft_c2r.default",
        vec![y.into(), il(&[1]), Value::Int(2), Value::Int(4)],
    )
    .unwrap();
    assert_eq!(back.dtype(), DType::F32);
    for (g, w) in back.to_f32_vec().iter().zip([1.0, 2.0, 3.0, 4.0]) {
        close(*g, w);
    }
}

#[test]
fn c2c_forward_inverse_is_identity_over_two_axes() {
    let v: Vec<u8> = (0..6)
        .flat_map(|i| [i as f32, 1.0 - i as f32])
        .flat_map(f32::to_le_bytes)
        .collect();
    let x = Tensor::from_le_bytes(DType::C64, vec![2, 3], &v).unwrap();
    let f = call(
        "aten::_fft_c2c.default",
        vec![
            x.clone().into(),
            il(&[0, 1]),
            Value::Int(1),
            Value::Bool(true),
        ],
    )
    .unwrap();
    let b = call(
        "aten::_fft_c2c.default",
        vec![f.into(), il(&[0, 1]), Value::Int(1), Value::Bool(false)],
    )
    .unwrap();
    for (g, w) in pairs(&b).iter().zip(pairs(&x)) {
        close(g[0], w[0]);
        close(g[1], w[1]);
    }
}

#[test]
fn torch_fft_functions_agree_with_the_primitives() {
    let x = Tensor::from_f32(vec![5], vec![0.5, -1.0, 2.0, 0.25, 3.0]);
    let r = call(
        "aten::fft_rfft.default",
        vec![
            x.clone().into(),
            Value::None,
            Value::Int(-1),
            Value::Str("ortho".into()),
        ],
    )
    .unwrap();
    let p = call(
        "aten::_fft_r2c.default",
        vec![x.clone().into(), il(&[0]), Value::Int(1), Value::Bool(true)],
    )
    .unwrap();
    assert_eq!(pairs(&r), pairs(&p));
    let back = call(
        "aten::fft_irfft.default",
        vec![
            r.into(),
            Value::Int(5),
            Value::Int(0),
            Value::Str("ortho".into()),
        ],
    )
    .unwrap();
    for (g, w) in back.to_f32_vec().iter().zip(x.to_f32_vec()) {
        close(*g, w);
    }
}

#[test]
fn complex_views_and_modulus() {
    let x = Tensor::from_f32(vec![2, 2], vec![3.0, 4.0, 0.0, -1.0]);
    let c = call("aten::view_as_complex.default", vec![x.clone().into()]).unwrap();
    assert_eq!(c.shape(), &[2]);
    let a = crate::ops::fft::complex_variant("aten::abs.default").unwrap();
    let m = a(&mut OpCtx::default(), vec![c.clone().into()]).unwrap();
    assert_eq!(m[0].as_tensor().unwrap().to_f32_vec(), vec![5.0, 1.0]);
    let r = call("aten::view_as_real.default", vec![c.clone().into()]).unwrap();
    assert_eq!(r.to_f32_vec(), x.to_f32_vec());
    let im = call("aten::imag.default", vec![c.clone().into()]).unwrap();
    assert_eq!(im.to_f32_vec(), vec![4.0, -1.0]);
    let mul = crate::ops::fft::complex_variant("aten::mul.Tensor").unwrap();
    let sq = mul(&mut OpCtx::default(), vec![c.clone().into(), c.into()]).unwrap();
    // (3+4i)^2 = -7+24i, (-i)^2 = -1.
    assert_eq!(
        pairs(sq[0].as_tensor().unwrap()),
        vec![[-7.0, 24.0], [-1.0, 0.0]]
    );
}

#[test]
fn hostile_fft_arguments_are_errors() {
    let x = Tensor::from_f32(vec![2, 3], vec![1.0; 6]);
    let c = Tensor::from_le_bytes(DType::C64, vec![2, 3], &[0; 48]).unwrap();
    let bad: Vec<(&str, Vec<Value>)> = vec![
        (
            "aten::_fft_r2c.default",
            vec![x.clone().into(), il(&[]), Value::Int(0), Value::Bool(true)],
        ),
        (
            "aten::_fft_r2c.default",
            vec![
                x.clone().into(),
                il(&[1, 1]),
                Value::Int(0),
                Value::Bool(true),
            ],
        ),
        (
            "aten::_fft_r2c.default",
            vec![x.clone().into(), il(&[5]), Value::Int(0), Value::Bool(true)],
        ),
        (
            "aten::_fft_r2c.default",
            vec![x.clone().into(), il(&[1]), Value::Int(7), Value::Bool(true)],
        ),
        (
            "aten::_fft_r2c.default",
            vec![c.clone().into(), il(&[1]), Value::Int(0), Value::Bool(true)],
        ),
        (
            "aten::_fft_c2r.default",
            vec![
                c.clone().into(),
                il(&[1]),
                Value::Int(0),
                Value::Int(1 << 40),
            ],
        ),
        (
            "aten::_fft_c2r.default",
            vec![c.clone().into(), il(&[1]), Value::Int(0), Value::Int(0)],
        ),
        (
            "aten::_fft_c2r.default",
            vec![x.clone().into(), il(&[1]), Value::Int(0), Value::Int(4)],
        ),
        (
            "aten::_fft_c2c.default",
            vec![x.clone().into(), il(&[1]), Value::Int(0), Value::Bool(true)],
        ),
        (
            "aten::fft_fft.default",
            vec![
                x.clone().into(),
                Value::Int(1 << 40),
                Value::Int(-1),
                Value::None,
            ],
        ),
        (
            "aten::fft_rfft.default",
            vec![
                x.clone().into(),
                Value::Int(-3),
                Value::Int(-1),
                Value::None,
            ],
        ),
        (
            "aten::fft_irfft.default",
            vec![
                c.clone().into(),
                Value::None,
                Value::Int(0),
                Value::Str("sideways".into()),
            ],
        ),
        ("aten::view_as_complex.default", vec![x.into()]),
    ];
    for (name, args) in bad {
        let desc = format!("{name} {args:?}");
        assert!(call(name, args).is_err(), "{desc} should be an error");
    }
}
