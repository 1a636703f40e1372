//! Unary element-wise ops and activations: relu and friends, neg/abs/sign, rounding,
//! exp/log/sqrt/trig on the f32 path, gelu, clamp/hardtanh, leaky_relu/elu/softplus,
//! logical/bitwise not, isnan and nan_to_num. Integer inputs keep their dtype where PyTorch
//! does (`keep_int_unary`); the rest compute in f32.

use wasm_torch_kernels::activation::{self as act, Activation};

use super::arith::{binary, Bin};
use crate::error::{Error, Result};
use crate::ops::registry::OpList;
use crate::ops::OpCtx;
use crate::ops::{one, opt, opt_f32, take_t};
use crate::tensor::{DType, Tensor};
use crate::value::Value;

/// Apply `f` to the elements as f32; the result keeps a float input's dtype, ints become f32.
pub(crate) fn float_unary(mut args: Vec<Value>, f: impl Fn(&mut [f32])) -> Result<Vec<Value>> {
    let t = take_t(&mut args, 0)?;
    let dt = if t.dtype().is_float() {
        t.dtype()
    } else {
        DType::F32
    };
    let shape = t.shape().to_vec();
    let mut v = t.into_f32_vec()?;
    f(&mut v);
    one(Tensor::from_f32_as(dt, shape, v))
}

/// Like [`float_unary`] but integer tensors stay integer (via `fi`).
fn keep_int_unary(
    mut args: Vec<Value>,
    f: impl Fn(&mut [f32]),
    fi: impl Fn(i64) -> i64,
) -> Result<Vec<Value>> {
    let t = take_t(&mut args, 0)?;
    if t.dtype().is_float() {
        let dt = t.dtype();
        let shape = t.shape().to_vec();
        let mut v = t.into_f32_vec()?;
        f(&mut v);
        return one(Tensor::from_f32_as(dt, shape, v));
    }
    let v: Vec<i64> = t.i64s()?.iter().map(|&x| fi(x)).collect();
    one(Tensor::from_i64_as(t.dtype(), t.shape().to_vec(), v))
}

fn map(f: impl Fn(f32) -> f32) -> impl Fn(&mut [f32]) {
    move |v: &mut [f32]| v.iter_mut().for_each(|x| *x = f(*x))
}

fn activation(args: Vec<Value>, a: Activation) -> Result<Vec<Value>> {
    float_unary(args, |v| act::apply(a, v))
}

fn gelu(args: Vec<Value>) -> Result<Vec<Value>> {
    let a = match opt(&args, 1) {
        Value::Str(s) if s == "tanh" => Activation::GeluTanh,
        Value::Str(s) if s == "none" => Activation::Gelu,
        Value::None => Activation::Gelu,
        v => return Err(Error::runtime(format!("gelu: unknown approximate={v:?}"))),
    };
    activation(args, a)
}

fn clamp_bounds(args: &[Value]) -> Result<(Option<f64>, Option<f64>)> {
    Ok((opt(args, 1).as_opt_f64()?, opt(args, 2).as_opt_f64()?))
}

fn clamp(args: Vec<Value>) -> Result<Vec<Value>> {
    let (lo, hi) = clamp_bounds(&args)?;
    let int_bounds = [opt(&args, 1), opt(&args, 2)]
        .iter()
        .all(|v| matches!(v, Value::None | Value::Int(_)));
    let t = crate::ops::targ(&args, 0)?;
    if !t.dtype().is_float() && !int_bounds {
        // clamp(int tensor, float bound) promotes to float
        let f = t.cast(DType::F32)?;
        return clamp(vec![f.into(), opt(&args, 1).clone(), opt(&args, 2).clone()]);
    }
    let (lof, hif) = (
        lo.map_or(f32::NEG_INFINITY, |x| x as f32),
        hi.map_or(f32::INFINITY, |x| x as f32),
    );
    let (loi, hii) = (
        lo.map_or(i64::MIN, |x| x as i64),
        hi.map_or(i64::MAX, |x| x as i64),
    );
    keep_int_unary(
        args,
        // Compare-and-select keeps NaN (every comparison with it is false) and, unlike a
        // conditional store, vectorizes: hardswish exported as clamp spent 21% of
        // mobilenet_v3_small's time here.
        |v| {
            v.iter_mut().for_each(|x| {
                let y = if *x < lof { lof } else { *x };
                *x = if y > hif { hif } else { y };
            })
        },
        |x| x.max(loi).min(hii),
    )
}

fn clamp_tensor(args: Vec<Value>) -> Result<Vec<Value>> {
    let mut cur = Value::Tensor(crate::ops::targ(&args, 0)?.clone());
    if !matches!(opt(&args, 1), Value::None) {
        cur = Value::Tensor(binary(cur, opt(&args, 1), Bin::Max, None)?);
    }
    if !matches!(opt(&args, 2), Value::None) {
        cur = Value::Tensor(binary(cur, opt(&args, 2), Bin::Min, None)?);
    }
    Ok(vec![cur])
}

fn hardtanh(args: Vec<Value>) -> Result<Vec<Value>> {
    let lo = opt_f32(&args, 1, -1.0)?;
    let hi = opt_f32(&args, 2, 1.0)?;
    activation(args, Activation::Clamp(lo, hi))
}

fn leaky_relu(args: Vec<Value>) -> Result<Vec<Value>> {
    let s = opt_f32(&args, 1, 0.01)?;
    activation(args, Activation::LeakyRelu(s))
}

fn elu(args: Vec<Value>) -> Result<Vec<Value>> {
    let alpha = opt_f32(&args, 1, 1.0)?;
    let scale = opt_f32(&args, 2, 1.0)?;
    let in_scale = opt_f32(&args, 3, 1.0)?;
    float_unary(args, move |v| {
        v.iter_mut().for_each(|x| {
            *x = if *x > 0.0 {
                scale * *x
            } else {
                scale * alpha * ((*x * in_scale).exp() - 1.0)
            }
        })
    })
}

fn softplus(args: Vec<Value>) -> Result<Vec<Value>> {
    let beta = opt_f32(&args, 1, 1.0)?;
    let thr = opt_f32(&args, 2, 20.0)?;
    float_unary(args, move |v| {
        v.iter_mut().for_each(|x| {
            *x = if *x * beta > thr {
                *x
            } else {
                (1.0 + (*x * beta).exp()).ln() / beta
            }
        })
    })
}

fn logical_not(args: Vec<Value>) -> Result<Vec<Value>> {
    let t = crate::ops::targ(&args, 0)?;
    let v: Vec<u8> = t.bools()?.iter().map(|&b| u8::from(b == 0)).collect();
    one(Tensor::from_bool_bytes(t.shape().to_vec(), v))
}

fn bitwise_not(args: Vec<Value>) -> Result<Vec<Value>> {
    let t = crate::ops::targ(&args, 0)?;
    if t.dtype() == DType::Bool {
        return logical_not(args);
    }
    if t.dtype().is_float() {
        return Err(Error::runtime(
            "bitwise_not needs an integer or bool tensor",
        ));
    }
    let v: Vec<i64> = t.i64s()?.iter().map(|&x| !x).collect();
    one(Tensor::from_i64_as(t.dtype(), t.shape().to_vec(), v))
}

/// nan_to_num(self, nan, posinf, neginf): defaults 0 and the dtype's finite extremes.
fn nan_to_num(args: Vec<Value>) -> Result<Vec<Value>> {
    let nan = opt(&args, 1).as_opt_f64()?.unwrap_or(0.0) as f32;
    let pinf = opt(&args, 2).as_opt_f64()?.map_or(f32::MAX, |v| v as f32);
    let ninf = opt(&args, 3).as_opt_f64()?.map_or(f32::MIN, |v| v as f32);
    keep_int_unary(
        args,
        move |v| {
            v.iter_mut().for_each(|x| {
                if x.is_nan() {
                    *x = nan
                } else if *x == f32::INFINITY {
                    *x = pinf
                } else if *x == f32::NEG_INFINITY {
                    *x = ninf
                }
            })
        },
        |x| x,
    )
}

fn isnan(args: Vec<Value>) -> Result<Vec<Value>> {
    let t = crate::ops::targ(&args, 0)?;
    let v: Vec<u8> = t.f32s()?.iter().map(|x| u8::from(x.is_nan())).collect();
    one(Tensor::from_bool_bytes(t.shape().to_vec(), v))
}

/// signbit: whether the sign bit is set (true for -0.0 and negative NaN; integers: `x < 0`).
fn signbit(args: Vec<Value>) -> Result<Vec<Value>> {
    let t = crate::ops::targ(&args, 0)?;
    let v: Vec<u8> = if t.dtype().is_float() {
        t.f64s()?
            .iter()
            .map(|x| u8::from(x.is_sign_negative()))
            .collect()
    } else {
        t.i64s()?.iter().map(|&x| u8::from(x < 0)).collect()
    };
    one(Tensor::from_bool_bytes(t.shape().to_vec(), v))
}

pub(crate) fn register(r: &mut OpList) {
    reg!(r,
        "aten::square.default" => |_: &mut OpCtx, a| keep_int_unary(a, map(|x| x * x), |x| x.wrapping_mul(x)),
        "aten::relu.default" => |_: &mut OpCtx, a| keep_int_unary(a, |v| act::apply(Activation::Relu, v), |x| x.max(0)),
        "aten::relu_.default" => |_: &mut OpCtx, a| keep_int_unary(a, |v| act::apply(Activation::Relu, v), |x| x.max(0)),
        "aten::relu6.default" => |_: &mut OpCtx, a| activation(a, Activation::Relu6),
        "aten::neg.default" => |_: &mut OpCtx, a| keep_int_unary(a, map(|x| -x), |x| x.wrapping_neg()),
        "aten::abs.default" => |_: &mut OpCtx, a| keep_int_unary(a, map(f32::abs), |x| x.wrapping_abs()),
        "aten::sign.default" => |_: &mut OpCtx, a| keep_int_unary(a, map(|x| if x > 0.0 { 1.0 } else if x < 0.0 { -1.0 } else { x }), i64::signum),
        "aten::floor.default" => |_: &mut OpCtx, a| keep_int_unary(a, map(f32::floor), |x| x),
        "aten::ceil.default" => |_: &mut OpCtx, a| keep_int_unary(a, map(f32::ceil), |x| x),
        "aten::trunc.default" => |_: &mut OpCtx, a| keep_int_unary(a, map(f32::trunc), |x| x),
        "aten::round.default" => |_: &mut OpCtx, a| keep_int_unary(a, map(f32::round_ties_even), |x| x),
        "aten::exp.default" => |_: &mut OpCtx, a| float_unary(a, act::exp),
        "aten::log.default" => |_: &mut OpCtx, a| float_unary(a, map(f32::ln)),
        "aten::log2.default" => |_: &mut OpCtx, a| float_unary(a, map(f32::log2)),
        "aten::log1p.default" => |_: &mut OpCtx, a| float_unary(a, map(f32::ln_1p)),
        "aten::expm1.default" => |_: &mut OpCtx, a| float_unary(a, map(f32::exp_m1)),
        "aten::sqrt.default" => |_: &mut OpCtx, a| float_unary(a, map(f32::sqrt)),
        "aten::rsqrt.default" => |_: &mut OpCtx, a| float_unary(a, map(|x| 1.0 / x.sqrt())),
        "aten::reciprocal.default" => |_: &mut OpCtx, a| float_unary(a, map(|x| 1.0 / x)),
        "aten::sin.default" => |_: &mut OpCtx, a| float_unary(a, map(f32::sin)),
        "aten::cos.default" => |_: &mut OpCtx, a| float_unary(a, map(f32::cos)),
        "aten::erf.default" => |_: &mut OpCtx, a| float_unary(a, act::erf),
        "aten::tanh.default" => |_: &mut OpCtx, a| float_unary(a, act::tanh),
        "aten::sigmoid.default" => |_: &mut OpCtx, a| float_unary(a, act::sigmoid),
        "aten::silu.default" => |_: &mut OpCtx, a| activation(a, Activation::Silu),
        "aten::silu_.default" => |_: &mut OpCtx, a| activation(a, Activation::Silu),
        "aten::hardswish.default" => |_: &mut OpCtx, a| activation(a, Activation::HardSwish),
        "aten::hardswish_.default" => |_: &mut OpCtx, a| activation(a, Activation::HardSwish),
        "aten::hardsigmoid.default" => |_: &mut OpCtx, a| activation(a, Activation::HardSigmoid),
        "aten::hardsigmoid_.default" => |_: &mut OpCtx, a| activation(a, Activation::HardSigmoid),
        "aten::gelu.default" => |_: &mut OpCtx, a| gelu(a),
        "aten::hardtanh.default" => |_: &mut OpCtx, a| hardtanh(a),
        "aten::hardtanh_.default" => |_: &mut OpCtx, a| hardtanh(a),
        "aten::leaky_relu.default" => |_: &mut OpCtx, a| leaky_relu(a),
        "aten::elu.default" => |_: &mut OpCtx, a| elu(a),
        "aten::softplus.default" => |_: &mut OpCtx, a| softplus(a),
        "aten::clamp.default" => |_: &mut OpCtx, a| clamp(a),
        "aten::clamp.Tensor" => |_: &mut OpCtx, a| clamp_tensor(a),
        "aten::clamp_min.default" => |_: &mut OpCtx, a: Vec<Value>| { let mut a = a; a.resize(2, Value::None); a.push(Value::None); clamp(a) },
        "aten::clamp_max.default" => |_: &mut OpCtx, a: Vec<Value>| { let mut a = a; a.resize(2, Value::None); a.insert(1, Value::None); clamp(a) },
        "aten::logical_not.default" => |_: &mut OpCtx, a| logical_not(a),
        "aten::bitwise_not.default" => |_: &mut OpCtx, a| bitwise_not(a),
        "aten::isnan.default" => |_: &mut OpCtx, a| isnan(a),
        "aten::signbit.default" => |_: &mut OpCtx, a| signbit(a),
        "aten::exp2.default" => |_: &mut OpCtx, a| float_unary(a, map(f32::exp2)),
        "aten::nan_to_num.default" => |_: &mut OpCtx, a| nan_to_num(a),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::test_util::call_t;

    fn tf(shape: Vec<usize>, v: Vec<f32>) -> Value {
        Tensor::from_f32(shape, v).into()
    }

    #[test]
    fn unary_and_activations() {
        let x = vec![-2.0f32, -0.5, 0.0, 0.5, 3.0];
        let r = call_t("aten::relu.default", vec![tf(vec![5], x.clone())]);
        assert_eq!(r.to_f32_vec(), vec![0., 0., 0., 0.5, 3.]);
        let r = call_t(
            "aten::hardtanh.default",
            vec![tf(vec![5], x.clone()), Value::Float(0.0), Value::Float(6.0)],
        );
        assert_eq!(r.to_f32_vec(), vec![0., 0., 0., 0.5, 3.]);
        let r = call_t(
            "aten::clamp.default",
            vec![tf(vec![5], x.clone()), Value::Float(-1.0), Value::None],
        );
        assert_eq!(r.to_f32_vec(), vec![-1., -0.5, 0., 0.5, 3.]);
        let r = call_t("aten::sigmoid.default", vec![tf(vec![5], x.clone())]);
        for (a, b) in r.to_f32_vec().iter().zip(&x) {
            assert!((a - 1.0 / (1.0 + (-b).exp())).abs() < 1e-6);
        }
        let r = call_t(
            "aten::gelu.default",
            vec![tf(vec![5], x.clone()), Value::Str("none".into())],
        );
        // gelu(3) = 3 * Phi(3) = 2.99595
        assert!((r.to_f32_vec()[4] - 2.995_950_3).abs() < 1e-5);
        let r = call_t("aten::hardswish.default", vec![tf(vec![5], x.clone())]);
        assert!((r.to_f32_vec()[3] - 0.5 * 3.5 / 6.0).abs() < 1e-6);
        let r = call_t("aten::rsqrt.default", vec![tf(vec![1], vec![4.0])]);
        assert_eq!(r.to_f32_vec(), vec![0.5]);
        let r = call_t(
            "aten::neg.default",
            vec![Tensor::from_i64(vec![1], vec![3]).into()],
        );
        assert_eq!((r.dtype(), r.to_i64_vec()), (DType::I64, vec![-3]));
        let r = call_t(
            "aten::pow.Tensor_Scalar",
            vec![tf(vec![2], vec![3.0, -2.0]), Value::Int(2)],
        );
        assert_eq!(r.to_f32_vec(), vec![9.0, 4.0]);
        let r = call_t(
            "aten::pow.Tensor_Scalar",
            vec![tf(vec![1], vec![8.0]), Value::Float(1.0 / 3.0)],
        );
        assert!((r.to_f32_vec()[0] - 2.0).abs() < 1e-5);
    }
}
