//! Element-wise ops on `c64` tensors: the views between complex and real
//! (`view_as_real`, `view_as_complex`, `real`, `imag`), conjugation, `abs`/`angle`/`sgn`,
//! and the arithmetic (`add`/`sub`/`mul`/`div`, `neg`) a spectrum is scaled and filtered
//! with. Values are computed in f64 and rounded once to f32, like the transforms.
//!
//! `real`, `imag`, the `view_as_*` ops and the conjugations are registered under their
//! own names (the real-number element-wise family has no entry for them); `abs`, `add`,
//! ... are [`complex_variant`]s the executor calls instead of the real-number op when an
//! operand is complex.

use super::ops::{complex_tensor, complex_values};
use super::transform::C;
use crate::error::{Error, Result};
use crate::ops::registry::OpList;
use crate::ops::{arg, broadcast_shapes, one, targ, OpCtx, OpFn};
use crate::tensor::{DType, Tensor};
use crate::value::Value;

fn f32_tensor(shape: Vec<usize>, v: impl Iterator<Item = f64>) -> Tensor {
    Tensor::from_f32(shape, v.map(|x| x as f32).collect())
}

/// `view_as_real(Tensor self)`: `[..., 2]` of (real, imaginary) f32.
fn view_as_real(_: &mut OpCtx, args: Vec<Value>) -> Result<Vec<Value>> {
    let t = targ(&args, 0)?;
    if t.dtype() != DType::C64 {
        return Err(Error::runtime("view_as_real expects a complex input"));
    }
    let v: Vec<f32> = t.data::<[f32; 2]>()?.iter().flatten().copied().collect();
    let mut shape = t.shape().to_vec();
    shape.push(2);
    one(Tensor::from_f32(shape, v))
}

/// `view_as_complex(Tensor self)`: a float tensor whose last dim is 2 as complex.
fn view_as_complex(_: &mut OpCtx, args: Vec<Value>) -> Result<Vec<Value>> {
    let t = targ(&args, 0)?;
    if !t.dtype().is_float() || t.shape().last() != Some(&2) {
        return Err(Error::runtime(format!(
            "view_as_complex expects a float tensor whose last dim is 2, got {} {:?}",
            t.dtype().name(),
            t.shape()
        )));
    }
    let v = t.f32s()?;
    let data: Vec<[f32; 2]> = v.chunks_exact(2).map(|p| [p[0], p[1]]).collect();
    let shape = t.shape()[..t.ndim() - 1].to_vec();
    one(Tensor::from_vec(DType::C64, shape, data))
}

/// `real(Tensor self)`: the real part (a real tensor is returned as it is).
fn real(_: &mut OpCtx, args: Vec<Value>) -> Result<Vec<Value>> {
    let t = targ(&args, 0)?;
    if t.dtype() != DType::C64 {
        return one(t.clone());
    }
    let v = complex_values(t)?;
    one(f32_tensor(t.shape().to_vec(), v.iter().map(|c| c.re)))
}

/// `imag(Tensor self)`: the imaginary part; PyTorch refuses real tensors.
fn imag(_: &mut OpCtx, args: Vec<Value>) -> Result<Vec<Value>> {
    let t = targ(&args, 0)?;
    if t.dtype() != DType::C64 {
        return Err(Error::runtime("imag is not implemented for real tensors"));
    }
    let v = complex_values(t)?;
    one(f32_tensor(t.shape().to_vec(), v.iter().map(|c| c.im)))
}

/// `conj` and friends: the complex conjugate; a real tensor is its own conjugate.
fn conj(_: &mut OpCtx, args: Vec<Value>) -> Result<Vec<Value>> {
    let t = targ(&args, 0)?;
    if t.dtype() != DType::C64 {
        return one(t.clone());
    }
    let v: Vec<C> = complex_values(t)?.iter().map(|c| c.conj()).collect();
    one(complex_tensor(t.shape().to_vec(), &v))
}

/// `abs` of a complex tensor: the modulus, as f32.
fn abs(_: &mut OpCtx, args: Vec<Value>) -> Result<Vec<Value>> {
    let t = targ(&args, 0)?;
    let v = complex_values(t)?;
    one(f32_tensor(t.shape().to_vec(), v.iter().map(|c| c.norm())))
}

/// `angle` of a complex tensor: `atan2(im, re)`, as f32.
fn angle(_: &mut OpCtx, args: Vec<Value>) -> Result<Vec<Value>> {
    let t = targ(&args, 0)?;
    let v = complex_values(t)?;
    one(f32_tensor(t.shape().to_vec(), v.iter().map(|c| c.arg())))
}

/// `neg` of a complex tensor.
fn neg(_: &mut OpCtx, args: Vec<Value>) -> Result<Vec<Value>> {
    let t = targ(&args, 0)?;
    let v: Vec<C> = complex_values(t)?.iter().map(|c| -c).collect();
    one(complex_tensor(t.shape().to_vec(), &v))
}

/// A tensor or number operand as complex values with its shape (numbers are 0-d).
fn operand(v: &Value) -> Result<(Vec<usize>, Vec<C>)> {
    match v {
        Value::Tensor(t) => Ok((t.shape().to_vec(), complex_values(t)?)),
        Value::Int(i) => Ok((vec![], vec![C::new(*i as f64, 0.0)])),
        Value::Float(f) => Ok((vec![], vec![C::new(*f, 0.0)])),
        Value::Bool(b) => Ok((vec![], vec![C::new(f64::from(u8::from(*b)), 0.0)])),
        other => Err(Error::runtime(format!(
            "expected a tensor or a number, got {other:?}"
        ))),
    }
}

/// Index into a row-major buffer of `shape` for output coordinate `idx` (broadcasting).
fn bcast_index(shape: &[usize], out: &[usize], idx: &[usize]) -> usize {
    let off = out.len() - shape.len();
    shape.iter().enumerate().fold(0, |acc, (i, &n)| {
        acc * n + if n == 1 { 0 } else { idx[off + i] }
    })
}

/// `f(a, b)` over two broadcast operands, giving a `c64` tensor.
fn binary(a: &Value, b: &Value, f: impl Fn(C, C) -> C) -> Result<Tensor> {
    let (sa, va) = operand(a)?;
    let (sb, vb) = operand(b)?;
    let shape = broadcast_shapes(&sa, &sb)?;
    let n = crate::tensor::checked_numel(&shape)?;
    let mut out = super::transform::zeroed(n)?;
    let mut idx = vec![0usize; shape.len()];
    for o in out.iter_mut() {
        *o = f(
            va[bcast_index(&sa, &shape, &idx)],
            vb[bcast_index(&sb, &shape, &idx)],
        );
        for d in (0..shape.len()).rev() {
            idx[d] += 1;
            if idx[d] < shape[d] {
                break;
            }
            idx[d] = 0;
        }
    }
    Ok(complex_tensor(shape, &out))
}

/// The `alpha` of `add`/`sub` (argument 2, absent or a number).
fn alpha(args: &[Value]) -> Result<C> {
    match args.get(2) {
        None | Some(Value::None) => Ok(C::new(1.0, 0.0)),
        Some(Value::Int(i)) => Ok(C::new(*i as f64, 0.0)),
        Some(Value::Float(f)) => Ok(C::new(*f, 0.0)),
        Some(other) => Err(Error::runtime(format!(
            "alpha must be a number, got {other:?}"
        ))),
    }
}

fn add(_: &mut OpCtx, args: Vec<Value>) -> Result<Vec<Value>> {
    let k = alpha(&args)?;
    one(binary(arg(&args, 0)?, arg(&args, 1)?, |x, y| x + k * y)?)
}

fn sub(_: &mut OpCtx, args: Vec<Value>) -> Result<Vec<Value>> {
    let k = alpha(&args)?;
    one(binary(arg(&args, 0)?, arg(&args, 1)?, |x, y| x - k * y)?)
}

fn mul(_: &mut OpCtx, args: Vec<Value>) -> Result<Vec<Value>> {
    one(binary(arg(&args, 0)?, arg(&args, 1)?, |x, y| x * y)?)
}

fn div(_: &mut OpCtx, args: Vec<Value>) -> Result<Vec<Value>> {
    if args.len() > 2 && !matches!(args[2], Value::None) {
        return Err(Error::runtime(
            "div with a rounding mode is not defined for complex",
        ));
    }
    one(binary(arg(&args, 0)?, arg(&args, 1)?, |x, y| x / y)?)
}

/// The complex implementation of op `name`, when a real-number op of that name exists and
/// a complex operand needs different code.
pub(crate) fn complex_variant(name: &str) -> Option<OpFn> {
    let f: OpFn = match name {
        "aten::abs.default" => abs,
        "aten::angle.default" => angle,
        "aten::neg.default" => neg,
        "aten::add.Tensor" | "aten::add.Scalar" => add,
        "aten::sub.Tensor" | "aten::sub.Scalar" => sub,
        "aten::mul.Tensor" | "aten::mul.Scalar" => mul,
        "aten::div.Tensor" | "aten::div.Scalar" | "aten::div.Tensor_mode" => div,
        _ => return None,
    };
    Some(f)
}

/// The ops registered here take complex inputs themselves.
pub(crate) fn handles_complex(name: &str) -> bool {
    matches!(
        name,
        "aten::view_as_real.default"
            | "aten::view_as_complex.default"
            | "aten::real.default"
            | "aten::imag.default"
            | "aten::conj.default"
            | "aten::_conj.default"
            | "aten::conj_physical.default"
            | "aten::_conj_physical.default"
            | "aten::resolve_conj.default"
            | "aten::resolve_neg.default"
    )
}

/// Register the complex-only ops.
pub(crate) fn register(r: &mut OpList) {
    reg!(r,
        "aten::view_as_real.default" => view_as_real,
        "aten::view_as_complex.default" => view_as_complex,
        "aten::real.default" => real,
        "aten::imag.default" => imag,
        "aten::conj.default" => conj,
        "aten::_conj.default" => conj,
        "aten::conj_physical.default" => conj,
        "aten::_conj_physical.default" => conj,
        "aten::resolve_conj.default" => crate::ops::fft::complex::identity,
        "aten::resolve_neg.default" => crate::ops::fft::complex::identity,
    );
}

/// `resolve_conj` / `resolve_neg`: conjugation is always materialized here, so these
/// return their input.
pub(crate) fn identity(_: &mut OpCtx, args: Vec<Value>) -> Result<Vec<Value>> {
    one(targ(&args, 0)?.clone())
}
