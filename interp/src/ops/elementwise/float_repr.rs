//! Element-wise ops about the floating-point representation: `round.decimals`,
//! `nextafter`, `frexp.Tensor` and `angle` of real tensors.
//!
//! They work in the tensor's own precision (f32 bits for f32, f64 bits for f64), since their
//! results are defined by that representation: `nextafter` steps one f32 ulp for an f32
//! tensor, and `round` with decimals scales in the tensor's dtype as PyTorch does.

use crate::error::{Error, Result};
use crate::ops::registry::OpList;
use crate::ops::{broadcast_shapes, float_out, one, opt, targ, OpCtx};
use crate::tensor::{DType, Tensor};
use crate::value::Value;

/// round(x * 10^d) / 10^d (half to even), or round(x / 10^-d) * 10^-d for d < 0, computed in
/// the tensor's precision.
fn round_decimals(args: &[Value]) -> Result<Vec<Value>> {
    let t = targ(args, 0)?;
    let d = opt(args, 1).as_opt_int()?.unwrap_or(0);
    if !t.dtype().is_float() {
        return Err(Error::runtime(format!(
            "round with decimals needs a float tensor, got {}",
            t.dtype().name()
        )));
    }
    let shape = t.shape().to_vec();
    let neg = d < 0;
    let p = 10f64.powf((d.unsigned_abs().min(400)) as f64);
    if t.dtype() == DType::F64 {
        let v: Vec<f64> = t
            .f64s()?
            .into_iter()
            .map(|x| {
                if neg {
                    (x / p).round_ties_even() * p
                } else {
                    (x * p).round_ties_even() / p
                }
            })
            .collect();
        return one(Tensor::from_f64_as(DType::F64, shape, v));
    }
    let p = p as f32;
    let v: Vec<f32> = t
        .f32s()?
        .iter()
        .map(|&x| {
            if neg {
                (x / p).round_ties_even() * p
            } else {
                (x * p).round_ties_even() / p
            }
        })
        .collect();
    one(Tensor::from_f32_as(t.dtype(), shape, v))
}

macro_rules! next_after {
    ($name:ident, $t:ty) => {
        /// The next representable value after x in the direction of y (C `nextafter`).
        fn $name(x: $t, y: $t) -> $t {
            if x.is_nan() || y.is_nan() {
                return <$t>::NAN;
            }
            if x == y {
                return y;
            }
            if x == 0.0 {
                return <$t>::from_bits(1).copysign(y);
            }
            let bits = x.to_bits();
            <$t>::from_bits(if (y > x) == (x > 0.0) {
                bits + 1
            } else {
                bits - 1
            })
        }
    };
}
next_after!(next_after_f32, f32);
next_after!(next_after_f64, f64);

/// nextafter(self, other): both tensors of one float dtype, broadcast.
fn nextafter(args: &[Value]) -> Result<Vec<Value>> {
    let (a, b) = (targ(args, 0)?, targ(args, 1)?);
    if a.dtype() != b.dtype() || !a.dtype().is_float() {
        return Err(Error::runtime(format!(
            "nextafter needs two float tensors of one dtype, got {} and {}",
            a.dtype().name(),
            b.dtype().name()
        )));
    }
    let shape = broadcast_shapes(a.shape(), b.shape())?;
    let (ea, eb) = (a.expand_to(&shape)?, b.expand_to(&shape)?);
    if a.dtype() == DType::F64 {
        let (va, vb) = (ea.f64s()?, eb.f64s()?);
        let v = va
            .iter()
            .zip(&vb)
            .map(|(&x, &y)| next_after_f64(x, y))
            .collect();
        return one(Tensor::from_f64_as(DType::F64, shape, v));
    }
    if a.dtype() != DType::F32 {
        return Err(Error::runtime(format!(
            "nextafter is not supported for {}",
            a.dtype().name()
        )));
    }
    let (va, vb) = (ea.f32s()?, eb.f32s()?);
    let v = va
        .iter()
        .zip(vb.iter())
        .map(|(&x, &y)| next_after_f32(x, y))
        .collect();
    one(Tensor::from_f32_as(DType::F32, shape, v))
}

/// frexp of one f64: (mantissa in [0.5, 1) with x's sign, exponent); 0, inf and NaN give
/// (x, 0).
fn frexp64(x: f64) -> (f64, i32) {
    if x == 0.0 || !x.is_finite() {
        return (x, 0);
    }
    let (x, extra) = if x.abs() < f64::MIN_POSITIVE {
        (x * 2f64.powi(64), -64)
    } else {
        (x, 0)
    };
    let bits = x.to_bits();
    let e = ((bits >> 52) & 0x7ff) as i32;
    let m = f64::from_bits((bits & !(0x7ff << 52)) | (1022 << 52));
    (m, e - 1022 + extra)
}

/// frexp.Tensor(self) -> (mantissa, exponent): mantissa in the input's dtype, int32
/// exponent, x = mantissa * 2^exponent.
fn frexp(args: &[Value]) -> Result<Vec<Value>> {
    let t = targ(args, 0)?;
    if !t.dtype().is_float() {
        return Err(Error::runtime(format!(
            "frexp needs a float tensor, got {}",
            t.dtype().name()
        )));
    }
    let shape = t.shape().to_vec();
    // f32/f16/bf16 values are exact in f64 and their frexp is the same.
    let (m, e): (Vec<f64>, Vec<i32>) = t.f64s()?.into_iter().map(frexp64).unzip();
    Ok(vec![
        Tensor::from_f64_as(t.dtype(), shape.clone(), m).into(),
        Tensor::from_vec(DType::I32, shape, e).into(),
    ])
}

/// angle of a real tensor: pi for negative values, 0 otherwise, NaN for NaN.
fn angle(args: &[Value]) -> Result<Vec<Value>> {
    let t = targ(args, 0)?;
    let v: Vec<f64> = t
        .f64s()?
        .into_iter()
        .map(|x| {
            if x.is_nan() {
                x
            } else if x < 0.0 {
                std::f64::consts::PI
            } else {
                0.0
            }
        })
        .collect();
    one(Tensor::from_f64_as(float_out(t), t.shape().to_vec(), v))
}

pub(crate) fn register(r: &mut OpList) {
    reg!(r,
        "aten::round.decimals" => |_: &mut OpCtx, a: Vec<Value>| round_decimals(&a),
        "aten::nextafter.default" => |_: &mut OpCtx, a: Vec<Value>| nextafter(&a),
        "aten::frexp.Tensor" => |_: &mut OpCtx, a: Vec<Value>| frexp(&a),
        "aten::angle.default" => |_: &mut OpCtx, a: Vec<Value>| angle(&a),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::test_util::{try_call_t, try_call_ts};

    #[test]
    fn representation_ops() {
        let x = Tensor::from_f32(vec![4], vec![1.2345, -2.5, 1250.0, 0.0]);
        let r = try_call_t(
            "aten::round.decimals",
            vec![x.clone().into(), Value::Int(2)],
        )
        .unwrap();
        assert_eq!(r.to_f32_vec(), vec![1.23, -2.5, 1250.0, 0.0]);
        let r = try_call_t(
            "aten::round.decimals",
            vec![x.clone().into(), Value::Int(-2)],
        )
        .unwrap();
        assert_eq!(r.to_f32_vec(), vec![0.0, -0.0, 1200.0, 0.0]);
        let y = Tensor::from_f32(vec![1], vec![f32::INFINITY]);
        let r = try_call_t("aten::nextafter.default", vec![x.clone().into(), y.into()]).unwrap();
        assert_eq!(r.to_f32_vec()[0], f32::from_bits(1.2345f32.to_bits() + 1));
        assert_eq!(r.to_f32_vec()[3], f32::from_bits(1));
        let r = try_call_ts("aten::frexp.Tensor", vec![x.clone().into()]).unwrap();
        assert_eq!(r[0].to_f32_vec(), vec![0.617_25, -0.625, 0.610_351_56, 0.0]);
        assert_eq!(
            (r[1].dtype(), r[1].to_i64_vec()),
            (DType::I32, vec![1, 2, 11, 0])
        );
        assert_eq!(frexp64(f64::from_bits(1)), (0.5, -1073));
        let r = try_call_t("aten::angle.default", vec![x.into()]).unwrap();
        assert_eq!(r.to_f32_vec(), vec![0.0, std::f32::consts::PI, 0.0, 0.0]);
    }
}
