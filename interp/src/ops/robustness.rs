//! Robustness of every op against bad arguments: an error, never a panic or a huge
//! allocation.
//!
//! Two tests: random malformed argument lists for every registered op, and well-typed but
//! hostile arguments (huge or negative sizes, NaN/inf coordinates, out-of-range indices) for
//! the spatial ops (padding, 3-d pooling, sampling, fold, distances, embedding bags, backward
//! ops), whose first checks the random lists rarely get past.

use crate::ops::registry::{lookup, supported_ops};
use crate::ops::test_util::il;
use crate::ops::OpCtx;
use crate::tensor::Tensor;
use crate::value::Value;

const BIG: i64 = 1 << 40;
const I32: i64 = i32::MAX as i64;

fn t(shape: &[usize]) -> Value {
    let n: usize = shape.iter().product();
    Tensor::from_f32(
        shape.to_vec(),
        (0..n).map(|i| i as f32 * 0.5 - 1.0).collect(),
    )
    .into()
}

fn idx(v: &[i64]) -> Value {
    Tensor::from_i64(vec![v.len()], v.to_vec()).into()
}

fn b(v: bool) -> Value {
    Value::Bool(v)
}

/// Call `name` with `args`; a panic fails the test with the arguments in the message.
fn survives(name: &str, args: Vec<Value>) -> Result<(), String> {
    let f = lookup(name).ok_or_else(|| format!("{name} is not registered"))?;
    let desc = format!("{name}: {args:?}");
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = f(&mut OpCtx::default(), args);
    }));
    r.map_err(|_| desc)
}

#[test]
fn hostile_arguments_give_errors_not_panics() {
    let x5 = t(&[1, 2, 3, 3, 3]);
    let x4 = t(&[1, 2, 4, 4]);
    let mut cases: Vec<(&str, Vec<Value>)> = Vec::new();
    for p in [
        il(&[BIG, 0]),
        il(&[-BIG, 0]),
        il(&[2, BIG]),
        il(&[I32, I32]),
        il(&[3, 3]),
        il(&[-3, -3]),
    ] {
        for op in ["reflection_pad1d", "replication_pad1d"] {
            cases.push((op, vec![t(&[2, 3]), p.clone()]));
        }
    }
    for p in [
        il(&[BIG, 0, 0, 0]),
        il(&[0, 0, -4, 0]),
        il(&[I32, I32, I32, I32]),
    ] {
        cases.push(("reflection_pad2d", vec![x4.clone(), p.clone()]));
        cases.push(("replication_pad2d", vec![x4.clone(), p]));
    }
    for p in [
        il(&[BIG; 6]),
        il(&[1, 1, 1, 1, 1, 1]),
        il(&[0, 0, 0, 0, 0, -3]),
    ] {
        cases.push(("reflection_pad3d", vec![x5.clone(), p.clone()]));
        cases.push(("replication_pad3d", vec![x5.clone(), p]));
    }
    let sizes = [
        il(&[BIG]),
        il(&[I32]),
        il(&[I32, 1, I32]),
        il(&[0]),
        il(&[-1]),
        il(&[3]),
    ];
    for k in &sizes {
        for s in &sizes {
            for p in [il(&[0]), il(&[1]), il(&[I32 / 2]), il(&[BIG])] {
                for ceil in [false, true] {
                    cases.push((
                        "avg_pool3d",
                        vec![
                            x5.clone(),
                            k.clone(),
                            s.clone(),
                            p.clone(),
                            b(ceil),
                            b(true),
                            Value::None,
                        ],
                    ));
                    cases.push((
                        "max_pool3d_with_indices",
                        vec![
                            x5.clone(),
                            k.clone(),
                            s.clone(),
                            p.clone(),
                            s.clone(),
                            b(ceil),
                        ],
                    ));
                    cases.push((
                        "avg_pool2d_backward",
                        vec![
                            t(&[1, 2, 1, 1]),
                            x4.clone(),
                            k.clone(),
                            s.clone(),
                            p.clone(),
                            b(ceil),
                            b(true),
                            Value::Int(1),
                        ],
                    ));
                    cases.push((
                        "max_pool2d_with_indices_backward",
                        vec![
                            t(&[1, 2, 1, 1]),
                            x4.clone(),
                            k.clone(),
                            s.clone(),
                            p.clone(),
                            il(&[1]),
                            b(ceil),
                            Tensor::from_i64(vec![1, 2, 1, 1], vec![BIG, -1]).into(),
                        ],
                    ));
                }
            }
        }
    }
    for os in [
        il(&[BIG, 1, 1]),
        il(&[BIG, BIG, BIG]),
        il(&[0, 1, 1]),
        il(&[-1, 2, 2]),
    ] {
        cases.push(("_adaptive_avg_pool3d", vec![x5.clone(), os]));
    }
    cases.push((
        "_adaptive_avg_pool3d",
        vec![t(&[1, 2, 0, 3, 3]), il(&[1, 1, 1])],
    ));
    cases.push((
        "_adaptive_avg_pool2d_backward",
        vec![t(&[1, 2, 0, 1]), x4.clone()],
    ));
    cases.push((
        "_adaptive_avg_pool2d_backward",
        vec![t(&[1, 2, 9, 9]), x4.clone()],
    ));
    let grid = |v: f32| -> Value { Tensor::from_f32(vec![1, 2, 2, 2], vec![v; 8]).into() };
    for v in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 1e30, -1e30, 3.0] {
        for mode in 0..4 {
            for pad in 0..4 {
                for align in [false, true] {
                    cases.push((
                        "grid_sampler_2d",
                        vec![
                            t(&[1, 1, 3, 3]),
                            grid(v),
                            Value::Int(mode),
                            Value::Int(pad),
                            b(align),
                        ],
                    ));
                }
            }
        }
    }
    cases.push((
        "grid_sampler_2d",
        vec![
            t(&[1, 1, 0, 3]),
            grid(0.0),
            Value::Int(0),
            Value::Int(0),
            b(false),
        ],
    ));
    for os in [il(&[BIG, BIG]), il(&[I32, I32]), il(&[-1, 3]), il(&[3, 3])] {
        for k in [il(&[BIG, 1]), il(&[2, 2]), il(&[0, 1])] {
            for s in [il(&[1, 1]), il(&[I32, I32]), il(&[BIG, 1])] {
                cases.push((
                    "col2im",
                    vec![
                        t(&[1, 4, 4]),
                        os.clone(),
                        k.clone(),
                        s.clone(),
                        il(&[I32, 0]),
                        s,
                    ],
                ));
            }
        }
    }
    for p in [f64::NAN, f64::INFINITY, -1.0, 0.0, 1e300] {
        cases.push((
            "_cdist_forward",
            vec![t(&[2, 3]), t(&[4, 3]), Value::Float(p), Value::Int(7)],
        ));
        cases.push((
            "_cdist_forward",
            vec![t(&[2, 3]), t(&[4, 3]), Value::Float(p), Value::None],
        ));
        cases.push((
            "_cdist_forward",
            vec![t(&[2, 2, 3]), t(&[3, 4, 3]), Value::Float(p), Value::None],
        ));
        cases.push(("_pdist_forward", vec![t(&[1, 3]), Value::Float(p)]));
        cases.push(("_pdist_forward", vec![t(&[0, 3]), Value::Float(p)]));
    }
    for (i, o) in [
        (idx(&[0, BIG]), idx(&[0])),
        (idx(&[-1, 2]), idx(&[0])),
        (idx(&[0, 1]), idx(&[0, 5])),
        (idx(&[0, 1]), idx(&[1, 0])),
        (idx(&[0, 1, 2]), idx(&[0, 2, 1])),
        (idx(&[0, 1]), idx(&[])),
        (idx(&[]), idx(&[0, 0])),
    ] {
        for mode in [-1, 0, 1, 2, 3] {
            for include_last in [false, true] {
                for pad in [-1, 0, BIG] {
                    cases.push((
                        "_embedding_bag",
                        vec![
                            t(&[3, 2]),
                            i.clone(),
                            o.clone(),
                            b(false),
                            Value::Int(mode),
                            b(false),
                            Value::None,
                            b(include_last),
                            Value::Int(pad),
                        ],
                    ));
                }
            }
        }
        cases.push((
            "_embedding_bag_forward_only",
            vec![
                t(&[3, 2]),
                i.clone(),
                o.clone(),
                b(false),
                Value::Int(0),
                b(false),
                t(&[5]),
                b(false),
                Value::Int(-1),
            ],
        ));
    }
    for n in [BIG, -1, 0, 3] {
        for i in [idx(&[0, 2]), idx(&[5, -1])] {
            cases.push((
                "embedding_dense_backward",
                vec![t(&[2, 4]), i, Value::Int(n), Value::Int(-1), b(true)],
            ));
        }
    }
    let mask = Value::List(vec![b(true); 3]);
    cases.push((
        "native_layer_norm_backward",
        vec![
            t(&[2, 3]),
            t(&[2, 3]),
            il(&[3]),
            t(&[1]),
            t(&[2]),
            t(&[2]),
            Value::None,
            mask.clone(),
        ],
    ));
    cases.push((
        "native_layer_norm_backward",
        vec![
            t(&[2, 3]),
            t(&[2, 3]),
            il(&[BIG]),
            t(&[2]),
            t(&[2]),
            Value::None,
            Value::None,
            mask.clone(),
        ],
    ));
    for (n, c, hw, g) in [
        (1, 2, 8, 1),
        (BIG, 2, 8, 1),
        (1, 2, 8, 0),
        (1, 2, 8, 3),
        (1, 2, -8, 1),
    ] {
        cases.push((
            "native_group_norm_backward",
            vec![
                t(&[1, 2, 8]),
                t(&[1, 2, 8]),
                t(&[1, 1]),
                t(&[1, 1]),
                t(&[2]),
                Value::Int(n),
                Value::Int(c),
                Value::Int(hw),
                Value::Int(g),
                mask.clone(),
            ],
        ));
    }
    for s in [il(&[1, 1]), il(&[I32, I32]), il(&[BIG, 1]), il(&[0, 1])] {
        for p in [il(&[0, 0]), il(&[I32, I32]), il(&[-1, 0])] {
            for tr in [false, true] {
                for groups in [1, 2, 0, BIG] {
                    cases.push((
                        "convolution_backward",
                        vec![
                            t(&[1, 2, 3, 3]),
                            x4.clone(),
                            t(&[2, 2, 2, 2]),
                            il(&[2]),
                            s.clone(),
                            p.clone(),
                            s.clone(),
                            b(tr),
                            p.clone(),
                            Value::Int(groups),
                            mask.clone(),
                        ],
                    ));
                }
            }
        }
    }
    // empty tensors whose other dims multiply past usize or into a huge loop count
    let huge = 1usize << 31;
    let e = |shape: &[usize]| -> Value { Tensor::from_f32(shape.to_vec(), vec![]).into() };
    cases.push((
        "_cdist_forward",
        vec![
            e(&[huge, huge, 0, 3]),
            t(&[1, 4, 3]),
            Value::Float(2.0),
            Value::None,
        ],
    ));
    cases.push((
        "_cdist_forward",
        vec![
            e(&[huge, huge, 2, 0]),
            e(&[1, 4, 0]),
            Value::Float(1.0),
            Value::None,
        ],
    ));
    cases.push((
        "avg_pool3d",
        vec![
            e(&[huge, huge, 0, 3, 3]),
            il(&[2]),
            il(&[2]),
            il(&[1]),
            b(false),
            b(true),
            Value::None,
        ],
    ));
    cases.push((
        "replication_pad2d",
        vec![e(&[huge, huge, 0, 3]), il(&[1, 1, 1, 1])],
    ));
    cases.push((
        "col2im",
        vec![
            e(&[huge, 1 << 20, 0]),
            il(&[0, 0]),
            il(&[2, 2]),
            il(&[1, 1]),
            il(&[1, 1]),
            il(&[1, 1]),
        ],
    ));
    cases.push((
        "convolution_backward",
        vec![
            e(&[huge, 0, 1, 1]),
            e(&[huge, 2, 0, 0]),
            t(&[0, 2, 1, 1]),
            Value::None,
            il(&[1]),
            il(&[1]),
            il(&[1]),
            b(false),
            il(&[0]),
            Value::Int(1),
            mask.clone(),
        ],
    ));
    cases.push((
        "native_group_norm_backward",
        vec![
            e(&[huge, 2, 0]),
            e(&[huge, 2, 0]),
            e(&[huge, 0]),
            e(&[huge, 0]),
            Value::None,
            Value::Int(huge as i64),
            Value::Int(2),
            Value::Int(0),
            Value::Int(1),
            mask.clone(),
        ],
    ));
    // Special functions and order statistics: degrees, orders and k far out of range must
    // end quickly (an error or a value), never loop for n steps or panic.
    let vals = |v: &[f32]| -> Value { Tensor::from_f32(vec![v.len()], v.to_vec()).into() };
    let huge_n = vals(&[1e30, f32::INFINITY, f32::NAN, -1e30, 9.2e18, 1e9]);
    let xs = vals(&[1.0 + 1e-7, -1.0 - 1e-7, 0.3, 0.0, f32::NAN, 1e30]);
    for op in [
        "special_chebyshev_polynomial_t",
        "special_chebyshev_polynomial_u",
        "special_chebyshev_polynomial_v",
        "special_chebyshev_polynomial_w",
        "special_shifted_chebyshev_polynomial_w",
        "special_hermite_polynomial_h",
        "special_hermite_polynomial_he",
        "special_laguerre_polynomial_l",
        "special_legendre_polynomial_p",
    ] {
        cases.push((op, vec![xs.clone(), huge_n.clone()]));
    }
    cases.push(("polygamma", vec![Value::Int(BIG), xs.clone()]));
    cases.push(("polygamma", vec![Value::Int(-1), xs.clone()]));
    cases.push(("mvlgamma", vec![vals(&[1e30]), Value::Int(BIG)]));
    cases.push((
        "special_zeta",
        vec![vals(&[3.0, 4.0]), vals(&[-1e15 - 0.5, -7.5])],
    ));
    cases.push(("igamma", vec![vals(&[1e30, 1e9]), vals(&[1e30, 1e9])]));
    cases.push((
        "igammac",
        vec![vals(&[1e9, 3.0]), vals(&[1e9 + 1.0, 1e-30])],
    ));
    for k in [0, -1, BIG, i64::MAX, 7] {
        cases.push(("kthvalue", vec![t(&[2, 3]), Value::Int(k), Value::Int(1)]));
    }
    cases.push(("kthvalue", vec![t(&[2, 0]), Value::Int(1), Value::Int(-1)]));
    cases.push(("mode", vec![t(&[0]), Value::Int(0)]));
    cases.push(("mode", vec![t(&[2, 3]), Value::Int(BIG)]));
    let failures: Vec<String> = cases
        .into_iter()
        .filter_map(|(op, args)| survives(&format!("aten::{op}.default"), args).err())
        .collect();
    assert!(
        failures.is_empty(),
        "{} panics:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// torchvision's region and deformable ops with NaN, huge or out-of-range coordinates,
/// hostile sizes and empty feature maps: errors or values, never a panic.
#[test]
fn hostile_torchvision_arguments_give_errors_not_panics() {
    let roi = |v: [f32; 5]| -> Value { Tensor::from_f32(vec![1, 5], v.to_vec()).into() };
    let x = t(&[1, 4, 3, 3]);
    let mut cases: Vec<(&str, Vec<Value>)> = Vec::new();
    for r in [
        roi([0.0, f32::NAN, 0.0, 1.0, f32::NAN]),
        roi([0.0, -1e30, -1e30, 1e30, 1e30]),
        roi([0.0, 5.0, 5.0, -5.0, -5.0]),
        roi([f32::NAN, 0.0, 0.0, 1.0, 1.0]),
        roi([-1.0, 0.0, 0.0, 1.0, 1.0]),
        roi([0.0, f32::INFINITY, 0.0, f32::INFINITY, 1.0]),
    ] {
        for xx in [x.clone(), t(&[1, 4, 0, 3]), t(&[1, 4, 1, 1])] {
            for (ph, sr) in [(2, -1), (2, 0), (2, BIG), (BIG, 1), (-2, 1), (0, 1)] {
                let a = vec![
                    xx.clone(),
                    r.clone(),
                    Value::Float(1.0),
                    Value::Int(ph),
                    Value::Int(ph),
                ];
                cases.push(("torchvision::ps_roi_pool.default", a.clone()));
                let mut b = a.clone();
                b.push(Value::Int(sr));
                cases.push(("torchvision::ps_roi_align.default", b.clone()));
                b.push(Value::Bool(true));
                cases.push(("torchvision::roi_align.default", b));
                cases.push(("torchvision::roi_pool.default", a));
            }
        }
    }
    let w = t(&[2, 4, 2, 2]);
    for (off_shape, ints) in [
        ([1, 8, 2, 2], [1, 1, 0, 0, 1, 1, 1, 1]),
        ([1, 8, 2, 2], [1, 1, BIG, BIG, 1, 1, 1, 1]),
        ([1, 8, 2, 2], [BIG, 1, 0, 0, BIG, 1, 1, 1]),
        ([1, 8, 2, 2], [1, 1, 0, 0, 1, 1, BIG, BIG]),
        ([1, 8, 2, 2], [1, 1, 0, 0, 1, 1, -1, 1]),
        ([1, 16, 2, 2], [1, 1, 0, 0, 1, 1, 1, 2]),
        ([1, 8, 0, 2], [1, 1, 0, 0, 1, 1, 1, 1]),
    ] {
        let n: usize = off_shape.iter().product();
        let nan_off: Value = Tensor::from_f32(off_shape.to_vec(), vec![f32::NAN; n]).into();
        let big_off: Value = Tensor::from_f32(off_shape.to_vec(), vec![1e30; n]).into();
        for off in [nan_off, big_off, t(&off_shape)] {
            for (xx, mask, use_mask) in [
                (x.clone(), t(&[1, 4, 2, 2]), true),
                (x.clone(), t(&[1, 1]), true),
                (t(&[1, 4, 0, 0]), t(&[1, 1]), false),
            ] {
                let mut a = vec![xx, w.clone(), off.clone(), mask, t(&[2])];
                a.extend(ints.iter().map(|&v| Value::Int(v)));
                a.push(b(use_mask));
                cases.push(("torchvision::deform_conv2d.default", a));
            }
        }
    }
    let failures: Vec<String> = cases
        .into_iter()
        .filter_map(|(op, args)| survives(op, args).err())
        .collect();
    assert!(
        failures.is_empty(),
        "{} panics:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn pool() -> Vec<Value> {
    let f = |shape: Vec<usize>| {
        let n = shape.iter().product::<usize>();
        Value::Tensor(Tensor::from_f32(
            shape,
            (0..n).map(|i| i as f32 - 2.0).collect(),
        ))
    };
    let ints = |v: &[i64]| Value::List(v.iter().map(|&i| Value::Int(i)).collect());
    vec![
        Value::None,
        Value::Int(0),
        Value::Int(-1),
        Value::Int(2),
        Value::Int(1 << 40),
        Value::Int(-(1 << 40)),
        Value::Float(0.5),
        Value::Float(f64::NAN),
        Value::Bool(true),
        Value::Str("tanh".into()),
        ints(&[]),
        ints(&[1, 2]),
        ints(&[-1]),
        ints(&[0, 0, 0, 0]),
        ints(&[3, 1 << 40]),
        f(vec![]),
        f(vec![2, 3]),
        f(vec![1, 2, 3, 3]),
        f(vec![0]),
        f(vec![2, 0, 3]),
        Value::Tensor(Tensor::from_i64(vec![3], vec![0, -1, 5])),
        Value::Tensor(Tensor::from_bool(
            vec![2, 3],
            vec![true, false, true, false, true, true],
        )),
        Value::List(vec![f(vec![2, 3]), f(vec![2, 3])]),
        Value::List(vec![f(vec![2]), Value::None]),
        Value::Tensor(
            Tensor::from_le_bytes(crate::tensor::DType::C64, vec![2, 2], &[0x3f; 32]).unwrap(),
        ),
    ]
}

/// Every op, called with many malformed argument lists, returns an error instead of
/// panicking (kernel preconditions are checked by the ops).
#[test]
fn no_op_panics_on_bad_arguments() {
    let values = pool();
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut failures = Vec::new();
    let variants = supported_ops()
        .into_iter()
        .filter_map(|n| crate::ops::fft::complex_variant(n).map(|f| (n, f)));
    let registered = supported_ops().into_iter().map(|n| (n, lookup(n).unwrap()));
    for (name, f) in registered.chain(variants) {
        for trial in 0..1500 {
            let len = (next() % 10) as usize;
            let args: Vec<Value> = (0..len)
                .map(|_| values[(next() % values.len() as u64) as usize].clone())
                .collect();
            let desc = format!("{name} trial {trial}: {args:?}");
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let _ = f(&mut OpCtx::default(), args);
            }));
            if r.is_err() {
                failures.push(desc);
                break;
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} ops panicked:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
