//! Element-wise math completing the Core ATen set: inverse and hyperbolic trigonometry,
//! `tan`, `log10`, `isinf`, `atan2.out` and `bitwise_xor.Scalar`.
//!
//! Dtypes follow PyTorch: integer and bool inputs give float32 results; f16/bf16/f32 keep
//! their dtype (computed in f32); f64 tensors are computed in f64, so double-precision
//! models keep their precision (the unary ops in `unary` compute f64 in f32).

use crate::error::{Error, Result};
use crate::ops::elementwise::{binary, Bin};
use crate::ops::registry::OpList;
use crate::ops::OpCtx;
use crate::ops::{arg, one, take_t, targ};
use crate::tensor::{DType, Tensor};
use crate::value::Value;

/// One float function at both precisions (f32 for everything but f64 tensors).
#[derive(Clone, Copy)]
struct FloatFn {
    f32: fn(f32) -> f32,
    f64: fn(f64) -> f64,
}

macro_rules! float_fn {
    ($m:ident) => {
        FloatFn {
            f32: f32::$m,
            f64: f64::$m,
        }
    };
}

/// `f` applied to every element of argument 0; reuses the buffer of a dying f32 input.
fn float_unary(mut args: Vec<Value>, f: FloatFn) -> Result<Vec<Value>> {
    let t = take_t(&mut args, 0)?;
    let shape = t.shape().to_vec();
    match t.dtype() {
        DType::F64 => {
            let v: Vec<f64> = t.f64s()?.into_iter().map(f.f64).collect();
            one(Tensor::from_f64_as(DType::F64, shape, v))
        }
        dt => {
            let out = if dt.is_float() { dt } else { DType::F32 };
            let mut v = t.into_f32_vec()?;
            v.iter_mut().for_each(|x| *x = (f.f32)(*x));
            one(Tensor::from_f32_as(out, shape, v))
        }
    }
}

/// isinf(self) -> bool tensor; integer and bool tensors are never infinite.
fn isinf(args: &[Value]) -> Result<Vec<Value>> {
    let t = targ(args, 0)?;
    let shape = t.shape().to_vec();
    let v: Vec<u8> = match t.dtype() {
        DType::F64 => t
            .f64s()?
            .iter()
            .map(|x| u8::from(x.is_infinite()))
            .collect(),
        d if d.is_float() => t
            .f32s()?
            .iter()
            .map(|x| u8::from(x.is_infinite()))
            .collect(),
        _ => vec![0; t.numel()],
    };
    one(Tensor::from_bool_bytes(shape, v))
}

/// atan2.out(self, other, *, out): the result is computed like `atan2.default` and then
/// takes `out`'s dtype (PyTorch resizes `out` to the broadcast shape). The interpreter's
/// tensors are immutable, so `out` itself is not written; the result register is.
fn atan2_out(mut args: Vec<Value>) -> Result<Vec<Value>> {
    let out_dtype = targ(&args, 2)?.dtype();
    if !out_dtype.is_float() {
        return Err(Error::runtime(format!(
            "atan2.out: the float result can't be cast to the {} out tensor",
            out_dtype.name()
        )));
    }
    let a = take_t(&mut args, 0)?;
    let r = binary(Value::Tensor(a), arg(&args, 1)?, Bin::Atan2, None)?;
    one(if r.dtype() == out_dtype {
        r
    } else {
        r.cast(out_dtype)?
    })
}

/// bitwise_xor.Scalar(self, other): integer/bool tensors only.
fn bitwise_xor_scalar(mut args: Vec<Value>) -> Result<Vec<Value>> {
    let a = take_t(&mut args, 0)?;
    if a.dtype().is_float() {
        return Err(Error::runtime(format!(
            "bitwise_xor needs an integer or bool tensor, got {}",
            a.dtype().name()
        )));
    }
    let b = arg(&args, 1)?;
    if matches!(b, Value::Float(_)) {
        return Err(Error::runtime(
            "bitwise_xor needs an integer or bool scalar, got a float",
        ));
    }
    one(binary(Value::Tensor(a), b, Bin::BXor, None)?)
}

pub(crate) fn register(r: &mut OpList) {
    reg!(r,
        "aten::acos.default" => |_: &mut OpCtx, a| float_unary(a, float_fn!(acos)),
        "aten::acosh.default" => |_: &mut OpCtx, a| float_unary(a, float_fn!(acosh)),
        "aten::asin.default" => |_: &mut OpCtx, a| float_unary(a, float_fn!(asin)),
        "aten::asinh.default" => |_: &mut OpCtx, a| float_unary(a, float_fn!(asinh)),
        "aten::atan.default" => |_: &mut OpCtx, a| float_unary(a, float_fn!(atan)),
        "aten::atanh.default" => |_: &mut OpCtx, a| float_unary(a, float_fn!(atanh)),
        "aten::cosh.default" => |_: &mut OpCtx, a| float_unary(a, float_fn!(cosh)),
        "aten::sinh.default" => |_: &mut OpCtx, a| float_unary(a, float_fn!(sinh)),
        "aten::tan.default" => |_: &mut OpCtx, a| float_unary(a, float_fn!(tan)),
        "aten::log10.default" => |_: &mut OpCtx, a| float_unary(a, float_fn!(log10)),
        "aten::isinf.default" => |_: &mut OpCtx, a: Vec<Value>| isinf(&a),
        "aten::atan2.out" => |_: &mut OpCtx, a| atan2_out(a),
        "aten::bitwise_xor.Scalar" => |_: &mut OpCtx, a| bitwise_xor_scalar(a),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::test_util::try_call_t;

    #[test]
    fn dtypes_follow_pytorch() {
        let i = Tensor::from_i64(vec![3], vec![0, 1, -1]);
        let r = try_call_t("aten::asin.default", vec![i.into()]).unwrap();
        assert_eq!(r.dtype(), DType::F32);
        let want = [
            0.0f32,
            std::f32::consts::FRAC_PI_2,
            -std::f32::consts::FRAC_PI_2,
        ];
        assert_eq!(r.to_f32_vec(), want);
        // f64 computes in f64: tan(1) to double precision
        let d = Tensor::from_f64_as(DType::F64, vec![1], vec![1.0]);
        let r = try_call_t("aten::tan.default", vec![d.into()]).unwrap();
        assert_eq!(r.dtype(), DType::F64);
        assert_eq!(r.f64s().unwrap()[0], 1.0f64.tan());
        let b = Tensor::from_bool(vec![2], vec![true, false]);
        let r = try_call_t("aten::cosh.default", vec![b.into()]).unwrap();
        assert_eq!(r.dtype(), DType::F32);
        let v = r.to_f32_vec();
        assert!((v[0] - 1.543_080_6).abs() < 1e-6 && v[1] == 1.0, "{v:?}");
    }

    #[test]
    fn isinf_and_xor() {
        let t = Tensor::from_f32(vec![4], vec![f32::INFINITY, -f32::INFINITY, f32::NAN, 1.0]);
        let r = try_call_t("aten::isinf.default", vec![t.into()]).unwrap();
        assert_eq!((r.dtype(), r.to_i64_vec()), (DType::Bool, vec![1, 1, 0, 0]));
        let r = try_call_t(
            "aten::isinf.default",
            vec![Tensor::from_i64(vec![2], vec![i64::MAX, 0]).into()],
        )
        .unwrap();
        assert_eq!(r.to_i64_vec(), vec![0, 0]);
        let r = try_call_t(
            "aten::bitwise_xor.Scalar",
            vec![Tensor::from_i32(vec![2], vec![5, 3]).into(), Value::Int(6)],
        )
        .unwrap();
        assert_eq!((r.dtype(), r.to_i64_vec()), (DType::I32, vec![3, 5]));
        let e = try_call_t(
            "aten::bitwise_xor.Scalar",
            vec![Tensor::from_f32(vec![1], vec![1.0]).into(), Value::Int(1)],
        )
        .unwrap_err();
        assert!(e.message().contains("integer or bool"), "{}", e.message());
    }

    #[test]
    fn atan2_out_takes_the_out_dtype() {
        let a = Tensor::from_f32(vec![2], vec![1.0, -1.0]);
        let b = Tensor::from_f32(vec![1], vec![2.0]);
        let out = Tensor::from_f64_as(DType::F64, vec![0], vec![]);
        let r = try_call_t(
            "aten::atan2.out",
            vec![a.clone().into(), b.clone().into(), out.into()],
        )
        .unwrap();
        assert_eq!(r.dtype(), DType::F64);
        assert_eq!(r.shape(), &[2]);
        assert!((r.f64s().unwrap()[1] - (-1.0f64).atan2(2.0)).abs() < 1e-7);
        let bad = Tensor::from_i64(vec![2], vec![0, 0]);
        assert!(try_call_t("aten::atan2.out", vec![a.into(), b.into(), bad.into()]).is_err());
    }
}
