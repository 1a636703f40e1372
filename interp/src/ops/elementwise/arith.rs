//! Element-wise arithmetic: binary ops with broadcasting and PyTorch type promotion,
//! comparisons, `where`, unary math and activations.

use super::unary::float_unary;
use crate::error::{Error, Result};
use crate::ops::registry::OpList;
use crate::ops::OpCtx;
use crate::ops::{
    arg, broadcast_shapes, category, farg, one, opt, result_type, scalar_tensor, Cat, PromoArg,
};
use crate::tensor::{DType, Tensor};
use crate::value::Value;

/// A binary element-wise operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Bin {
    Add,
    Sub,
    Mul,
    Div,
    FloorDiv,
    TruncDiv,
    Pow,
    Max,
    Min,
    Rem,
    Fmod,
    Atan2,
    /// `fmax`/`fmin`: like maximum/minimum but a NaN loses to a number.
    Fmax,
    Fmin,
    Copysign,
    Hypot,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    LAnd,
    LOr,
    LXor,
    BAnd,
    BOr,
    BXor,
}

impl Bin {
    fn is_cmp(self) -> bool {
        matches!(
            self,
            Bin::Eq | Bin::Ne | Bin::Lt | Bin::Le | Bin::Gt | Bin::Ge
        )
    }
    fn is_logical(self) -> bool {
        matches!(self, Bin::LAnd | Bin::LOr | Bin::LXor)
    }
    /// Ops whose result is floating point even for integer inputs.
    fn always_float(self) -> bool {
        matches!(self, Bin::Div | Bin::Atan2 | Bin::Copysign | Bin::Hypot)
    }
}

/// The float kernel of each binary op, for `f32` and (`f64` tensors) `f64`.
macro_rules! float_op {
    ($name:ident, $t:ty) => {
        fn $name(op: Bin, alpha: $t) -> impl Fn($t, $t) -> $t {
            move |a: $t, b: $t| match op {
                Bin::Add => a + alpha * b,
                Bin::Sub => a - alpha * b,
                Bin::Mul => a * b,
                Bin::Div => a / b,
                Bin::FloorDiv => (a / b).floor(),
                Bin::TruncDiv => (a / b).trunc(),
                Bin::Pow => a.powf(b),
                Bin::Max => {
                    if a.is_nan() || b.is_nan() {
                        <$t>::NAN
                    } else {
                        a.max(b)
                    }
                }
                Bin::Min => {
                    if a.is_nan() || b.is_nan() {
                        <$t>::NAN
                    } else {
                        a.min(b)
                    }
                }
                Bin::Rem => {
                    let r = a % b;
                    if r != 0.0 && ((r < 0.0) != (b < 0.0)) {
                        r + b
                    } else {
                        r
                    }
                }
                Bin::Fmod => a % b,
                Bin::Atan2 => a.atan2(b),
                Bin::Fmax => a.max(b),
                Bin::Fmin => a.min(b),
                Bin::Copysign => a.copysign(b),
                Bin::Hypot => a.hypot(b),
                _ => <$t>::NAN,
            }
        }
    };
}
float_op!(f_op, f32);
float_op!(f_op64, f64);

/// The comparison and logical ops on floats, in the compute precision (`f32`, or `f64` for
/// double tensors: comparing doubles in f32 would call 1 + 1e-12 equal to 1).
fn f_cmp<T: PartialOrd + Copy + From<i8>>(op: Bin) -> impl Fn(T, T) -> bool {
    let zero = T::from(0);
    move |a: T, b: T| match op {
        Bin::Eq => a == b,
        Bin::Ne => a != b,
        Bin::Lt => a < b,
        Bin::Le => a <= b,
        Bin::Gt => a > b,
        Bin::Ge => a >= b,
        Bin::LAnd => a != zero && b != zero,
        Bin::LOr => a != zero || b != zero,
        Bin::LXor => (a != zero) != (b != zero),
        _ => false,
    }
}

fn i_cmp(op: Bin) -> impl Fn(i64, i64) -> bool {
    move |a: i64, b: i64| match op {
        Bin::Eq => a == b,
        Bin::Ne => a != b,
        Bin::Lt => a < b,
        Bin::Le => a <= b,
        Bin::Gt => a > b,
        Bin::Ge => a >= b,
        Bin::LAnd => a != 0 && b != 0,
        Bin::LOr => a != 0 || b != 0,
        Bin::LXor => (a != 0) != (b != 0),
        _ => false,
    }
}

/// Integer op; `None` for division by zero.
fn i_op(op: Bin, alpha: i64) -> impl Fn(i64, i64) -> Option<i64> {
    move |a: i64, b: i64| {
        Some(match op {
            Bin::Add => a.wrapping_add(alpha.wrapping_mul(b)),
            Bin::Sub => a.wrapping_sub(alpha.wrapping_mul(b)),
            Bin::Mul => a.wrapping_mul(b),
            Bin::FloorDiv => {
                if b == 0 {
                    return None;
                }
                let q = a.wrapping_div(b);
                if (a.wrapping_rem(b) != 0) && ((a < 0) != (b < 0)) {
                    q - 1
                } else {
                    q
                }
            }
            Bin::TruncDiv => {
                if b == 0 {
                    return None;
                }
                a.wrapping_div(b)
            }
            Bin::Rem => {
                if b == 0 {
                    return None;
                }
                let r = a.wrapping_rem(b);
                if r != 0 && ((r < 0) != (b < 0)) {
                    r + b
                } else {
                    r
                }
            }
            Bin::Fmod => {
                if b == 0 {
                    return None;
                }
                a.wrapping_rem(b)
            }
            Bin::Pow => {
                if b < 0 {
                    // integer pow with a negative exponent: 1, -1 or 0 (PyTorch errors; be lenient)
                    match a {
                        1 => 1,
                        -1 => {
                            if b % 2 == 0 {
                                1
                            } else {
                                -1
                            }
                        }
                        _ => return None,
                    }
                } else {
                    a.wrapping_pow(b.min(u32::MAX as i64) as u32)
                }
            }
            Bin::Max | Bin::Fmax => a.max(b),
            Bin::Min | Bin::Fmin => a.min(b),
            Bin::BAnd => a & b,
            Bin::BOr => a | b,
            Bin::BXor => a ^ b,
            _ => 0,
        })
    }
}

/// `op(a, b)` with broadcasting and type promotion. `alpha` scales `b` for add/sub.
pub(crate) fn binary(a: Value, b: &Value, op: Bin, alpha: Option<&Value>) -> Result<Tensor> {
    let pa = PromoArg::of(&a)?;
    let pb = PromoArg::of(b)?;
    let common = result_type(&[pa, pb]);
    let compute = if op.always_float() && category(common) != Cat::Float {
        DType::F32
    } else {
        common
    };
    let out_dtype = if op.is_cmp() || op.is_logical() {
        DType::Bool
    } else {
        compute
    };
    let ta = match a {
        Value::Tensor(t) => t,
        v => scalar_tensor(&v)?,
    };
    let tb = scalar_tensor(b)?;
    let shape = broadcast_shapes(ta.shape(), tb.shape())?;
    let numel = crate::tensor::checked_numel(&shape)?;
    if op.is_cmp() && tb.numel() == 1 && ta.shape() == shape.as_slice() {
        if let Some(out) = cmp_scalar(&ta, &tb, op, compute)? {
            return Ok(Tensor::from_bool_bytes(shape, out));
        }
    }
    let float = category(compute) == Cat::Float;
    if matches!(op, Bin::BAnd | Bin::BOr | Bin::BXor) && float {
        return Err(Error::runtime("bitwise ops need integer or bool tensors"));
    }
    if compute == DType::F64 {
        // double precision end to end (f64 tensors are rare but must not lose precision)
        let av = ta.expand_to(&shape)?.f64s()?;
        let bv = tb.expand_to(&shape)?.f64s()?;
        if op.is_cmp() || op.is_logical() {
            let f = f_cmp::<f64>(op);
            let out: Vec<u8> = av
                .iter()
                .zip(&bv)
                .map(|(&x, &y)| u8::from(f(x, y)))
                .collect();
            return Ok(Tensor::from_bool_bytes(shape, out));
        }
        let alpha = match alpha {
            Some(v) if !matches!(v, Value::None) => v.as_f64()?,
            _ => 1.0,
        };
        let f = f_op64(op, alpha);
        let out: Vec<f64> = av.iter().zip(&bv).map(|(&x, &y)| f(x, y)).collect();
        return Ok(Tensor::from_f64_as(DType::F64, shape, out));
    }
    if float {
        let alpha = match alpha {
            Some(v) if !matches!(v, Value::None) => v.as_f64()? as f32,
            _ => 1.0,
        };
        if op.is_cmp() || op.is_logical() {
            let av = ta.expand_to(&shape)?;
            let av = av.f32s()?;
            let bx = tb.expand_to(&shape)?;
            let bv = bx.f32s()?;
            let f = f_cmp::<f32>(op);
            let out: Vec<u8> = av
                .iter()
                .zip(bv.iter())
                .map(|(&x, &y)| u8::from(f(x, y)))
                .collect();
            return Ok(Tensor::from_bool_bytes(shape, out));
        }
        // A small `a` against a full-size `b` (`scale * x` in a squeeze-excitation block):
        // walk b's values with the operands swapped in the closure, instead of first
        // materialising a's broadcast with a strided gather (in efficientnet_b0 the 16 such
        // products took 4.7 of 56 ms in wasm, and did not scale with threads).
        if ta.shape() != shape.as_slice() && tb.shape() == shape.as_slice() {
            let mut bv = tb.into_f32_vec()?;
            debug_assert_eq!(bv.len(), numel);
            apply_op_swapped(&mut bv, &shape, &ta, op, alpha)?;
            return Ok(Tensor::from_f32_as(out_dtype, shape, bv));
        }
        // a: take over its buffer when possible (in place)
        let mut av = if ta.shape() == shape.as_slice() {
            ta.into_f32_vec()?
        } else {
            ta.expand_to(&shape)?.f32s()?.into_owned()
        };
        debug_assert_eq!(av.len(), numel);
        apply_op(&mut av, &shape, &tb, op, alpha)?;
        return Ok(Tensor::from_f32_as(out_dtype, shape, av));
    }
    // integer / bool compute in i64
    let alpha = match alpha {
        Some(v) if !matches!(v, Value::None) => v.as_int()?,
        _ => 1,
    };
    let av = ta.expand_to(&shape)?;
    let av = av.i64s()?;
    let bx = tb.expand_to(&shape)?;
    let bv = bx.i64s()?;
    if op.is_cmp() || op.is_logical() {
        let f = i_cmp(op);
        let out: Vec<u8> = av
            .iter()
            .zip(bv.iter())
            .map(|(&x, &y)| u8::from(f(x, y)))
            .collect();
        return Ok(Tensor::from_bool_bytes(shape, out));
    }
    let f = i_op(op, alpha);
    let mut out = Vec::with_capacity(numel);
    for (&x, &y) in av.iter().zip(bv.iter()) {
        out.push(f(x, y).ok_or_else(|| Error::runtime("integer division by zero"))?);
    }
    if compute == DType::Bool {
        // bool arithmetic: add/max = or, mul/min = and (non-zero is true)
        return Ok(Tensor::from_i64_as(DType::Bool, shape, out));
    }
    Ok(Tensor::from_i64_as(out_dtype, shape, out))
}

/// `av[i] = f(av[i], b[i])` with `b` broadcast to `shape` (`av` is contiguous in `shape`),
/// walking `b` in blocks: constant blocks (broadcast trailing dims, e.g. a per-channel
/// scale) or contiguous blocks, without materialising the broadcast.
fn apply_broadcast(
    av: &mut [f32],
    shape: &[usize],
    tb: &Tensor,
    f: impl Fn(f32, f32) -> f32,
) -> Result<()> {
    if tb.numel() == 1 {
        let s = tb.f32s()?[0];
        av.iter_mut().for_each(|x| *x = f(*x, s));
        return Ok(());
    }
    if tb.shape() == shape {
        let b = tb.f32s()?;
        av.iter_mut()
            .zip(b.iter())
            .for_each(|(x, &y)| *x = f(*x, y));
        return Ok(());
    }
    let bc = if tb.dtype() == DType::F32 && tb.is_contiguous() {
        tb.clone()
    } else {
        Tensor::from_f32(tb.shape().to_vec(), tb.f32s()?.into_owned())
    };
    let e = bc.expand_to(shape)?;
    let raw = e.raw::<f32>()?;
    let st = e.strides();
    let nd = shape.len();
    let mut k = nd;
    while k > 0 && st[k - 1] == 0 {
        k -= 1;
    }
    let (block, constant) = if k < nd {
        (shape[k..].iter().product::<usize>(), true)
    } else {
        let mut acc = 1;
        while k > 0 && st[k - 1] == acc {
            acc *= shape[k - 1];
            k -= 1;
        }
        (acc, false)
    };
    if block == 0 || av.is_empty() {
        return Ok(());
    }
    let mut idx = vec![0usize; k];
    let mut boff = 0usize;
    for dst in av.chunks_exact_mut(block) {
        if constant {
            let s = raw[boff];
            dst.iter_mut().for_each(|x| *x = f(*x, s));
        } else {
            dst.iter_mut()
                .zip(&raw[boff..boff + block])
                .for_each(|(x, &y)| *x = f(*x, y));
        }
        let mut d = k;
        while d > 0 {
            d -= 1;
            idx[d] += 1;
            boff += st[d];
            if idx[d] < shape[d] {
                break;
            }
            boff -= st[d] * shape[d];
            idx[d] = 0;
        }
    }
    Ok(())
}

/// [`apply_broadcast`] with the common ops as separate closures, so each inner loop is
/// monomorphised (and vectorised) without a per-element match.
fn apply_op(av: &mut [f32], shape: &[usize], tb: &Tensor, op: Bin, alpha: f32) -> Result<()> {
    match op {
        Bin::Add if alpha == 1.0 => apply_broadcast(av, shape, tb, |a, b| a + b),
        Bin::Sub if alpha == 1.0 => apply_broadcast(av, shape, tb, |a, b| a - b),
        Bin::Mul => apply_broadcast(av, shape, tb, |a, b| a * b),
        Bin::Div => apply_broadcast(av, shape, tb, |a, b| a / b),
        _ => apply_broadcast(av, shape, tb, f_op(op, alpha)),
    }
}

/// `bv[i] = op(a[i], bv[i])` with `a` broadcast to `shape`: [`apply_op`] with the operands
/// swapped, for a full-size second operand (the closures keep the operand order, so results
/// are those of the materialised broadcast).
fn apply_op_swapped(
    bv: &mut [f32],
    shape: &[usize],
    ta: &Tensor,
    op: Bin,
    alpha: f32,
) -> Result<()> {
    match op {
        Bin::Add if alpha == 1.0 => apply_broadcast(bv, shape, ta, |b, a| a + b),
        Bin::Sub if alpha == 1.0 => apply_broadcast(bv, shape, ta, |b, a| a - b),
        Bin::Mul => apply_broadcast(bv, shape, ta, |b, a| a * b),
        Bin::Div => apply_broadcast(bv, shape, ta, |b, a| a / b),
        _ => {
            let f = f_op(op, alpha);
            apply_broadcast(bv, shape, ta, move |b, a| f(a, b))
        }
    }
}

/// A comparison of a tensor with one value (`ids == 0`, `mask > 0.5`): one monomorphic
/// pass over `a`, without materialising the broadcast scalar or calling a comparison
/// through a closure per element. `None` when the dtypes are not the common f32 / i64
/// cases (the caller then takes the general path).
fn cmp_scalar(a: &Tensor, b: &Tensor, op: Bin, compute: DType) -> Result<Option<Vec<u8>>> {
    Ok(match (compute, a.dtype()) {
        (DType::F32, DType::F32) => cmp_all(op, &a.f32s()?, b.f32s()?[0]),
        (DType::I64, DType::I64) => cmp_all(op, &a.i64s()?, b.i64s()?[0]),
        _ => None,
    })
}

/// `x[i] <op> y` as 0/1 bytes, for the six comparisons (`None` for other ops).
fn cmp_all<T: PartialOrd + Copy>(op: Bin, x: &[T], y: T) -> Option<Vec<u8>> {
    fn map<T: Copy>(x: &[T], f: impl Fn(T) -> bool) -> Vec<u8> {
        x.iter().map(|&v| u8::from(f(v))).collect()
    }
    Some(match op {
        Bin::Eq => map(x, |v| v == y),
        Bin::Ne => map(x, |v| v != y),
        Bin::Lt => map(x, |v| v < y),
        Bin::Le => map(x, |v| v <= y),
        Bin::Gt => map(x, |v| v > y),
        Bin::Ge => map(x, |v| v >= y),
        _ => return None,
    })
}

fn bin_op(op: Bin, mut args: Vec<Value>) -> Result<Vec<Value>> {
    let a = std::mem::take(
        args.first_mut()
            .ok_or_else(|| Error::runtime("missing argument 0"))?,
    );
    let b = arg(&args, 1)?;
    one(binary(a, b, op, None)?)
}

fn bin_alpha(op: Bin, mut args: Vec<Value>) -> Result<Vec<Value>> {
    let a = std::mem::take(
        args.first_mut()
            .ok_or_else(|| Error::runtime("missing argument 0"))?,
    );
    let b = arg(&args, 1)?;
    one(binary(a, b, op, args.get(2))?)
}

/// rsub(self, other, alpha) = other - alpha * self.
fn rsub(args: Vec<Value>) -> Result<Vec<Value>> {
    let a = arg(&args, 0)?.clone();
    let b = arg(&args, 1)?.clone();
    let alpha = opt(&args, 2);
    let scaled = match alpha {
        Value::None => a,
        al if al.as_f64()? == 1.0 => a,
        al => Value::Tensor(binary(a, al, Bin::Mul, None)?),
    };
    // promote like PyTorch: rsub(tensor, scalar) keeps the tensor's dtype category
    let sa = PromoArg::of(&scaled)?;
    let sb = PromoArg::of(&b)?;
    let dt = result_type(&[sa, sb]);
    let bt = scalar_tensor(&b)?.cast(dt)?;
    one(binary(Value::Tensor(bt), &scaled, Bin::Sub, None)?)
}

fn div_mode(mut args: Vec<Value>) -> Result<Vec<Value>> {
    let mode = match opt(&args, 2) {
        Value::None => None,
        v => Some(v.as_str()?.to_string()),
    };
    let op = match mode.as_deref() {
        None => Bin::Div,
        Some("floor") => Bin::FloorDiv,
        Some("trunc") => Bin::TruncDiv,
        Some(m) => return Err(Error::runtime(format!("unknown rounding_mode '{m}'"))),
    };
    args.truncate(2);
    bin_op(op, args)
}

/// pow.Scalar(self: Scalar, exponent: Tensor)
fn pow_scalar_base(args: Vec<Value>) -> Result<Vec<Value>> {
    let base = arg(&args, 0)?.clone();
    let e = arg(&args, 1)?;
    let pa = PromoArg::of(&base)?;
    let pb = PromoArg::of(e)?;
    let dt = result_type(&[pa, pb]);
    let bt = scalar_tensor(&base)?.cast(dt)?;
    one(binary(Value::Tensor(bt), e, Bin::Pow, None)?)
}

/// where(condition, self, other)
fn where_(args: Vec<Value>) -> Result<Vec<Value>> {
    let cond = scalar_tensor(arg(&args, 0)?)?;
    let a = arg(&args, 1)?;
    let b = arg(&args, 2)?;
    let dt = result_type(&[PromoArg::of(a)?, PromoArg::of(b)?]);
    let ta = scalar_tensor(a)?;
    let tb = scalar_tensor(b)?;
    let shape = broadcast_shapes(&broadcast_shapes(cond.shape(), ta.shape())?, tb.shape())?;
    let c = cond.expand_to(&shape)?;
    let c = c.bools()?;
    let ea = ta.expand_to(&shape)?;
    let eb = tb.expand_to(&shape)?;
    fn pick<T: Copy>(c: &[u8], x: &[T], y: &[T]) -> Vec<T> {
        c.iter()
            .zip(x.iter().zip(y.iter()))
            .map(|(&c, (&x, &y))| if c != 0 { x } else { y })
            .collect()
    }
    let out = if dt == DType::F64 {
        // doubles pass through untouched (an f32 round trip would round them)
        Tensor::from_f64_as(dt, shape, pick(&c, &ea.f64s()?, &eb.f64s()?))
    } else if dt.is_float() {
        Tensor::from_f32_as(dt, shape, pick(&c, &ea.f32s()?, &eb.f32s()?))
    } else {
        Tensor::from_i64_as(dt, shape, pick(&c, &ea.i64s()?, &eb.i64s()?))
    };
    one(out)
}

fn pow_tensor_scalar(args: Vec<Value>) -> Result<Vec<Value>> {
    let e = farg(&args, 1)?;
    let t = crate::ops::targ(&args, 0)?;
    // fast paths for common exponents on float tensors
    if t.dtype().is_float() && (e == 2.0 || e == 0.5 || e == 1.0 || e == 3.0) {
        return float_unary(args, move |v| {
            v.iter_mut().for_each(|x| {
                *x = match e {
                    2.0 => *x * *x,
                    3.0 => *x * *x * *x,
                    0.5 => x.sqrt(),
                    _ => *x,
                }
            })
        });
    }
    bin_op(Bin::Pow, args)
}

pub(crate) fn register(r: &mut OpList) {
    reg!(r,
        "aten::add.Tensor" => |_: &mut OpCtx, a| bin_alpha(Bin::Add, a),
        "aten::add.Scalar" => |_: &mut OpCtx, a| bin_alpha(Bin::Add, a),
        "aten::add_.Tensor" => |_: &mut OpCtx, a| bin_alpha(Bin::Add, a),
        "aten::sub.Tensor" => |_: &mut OpCtx, a| bin_alpha(Bin::Sub, a),
        "aten::sub.Scalar" => |_: &mut OpCtx, a| bin_alpha(Bin::Sub, a),
        "aten::rsub.Tensor" => |_: &mut OpCtx, a| rsub(a),
        "aten::rsub.Scalar" => |_: &mut OpCtx, a| rsub(a),
        "aten::mul.Tensor" => |_: &mut OpCtx, a| bin_op(Bin::Mul, a),
        "aten::mul.Scalar" => |_: &mut OpCtx, a| bin_op(Bin::Mul, a),
        "aten::mul_.Tensor" => |_: &mut OpCtx, a| bin_op(Bin::Mul, a),
        "aten::div.Tensor" => |_: &mut OpCtx, a| bin_op(Bin::Div, a),
        "aten::div.Scalar" => |_: &mut OpCtx, a| bin_op(Bin::Div, a),
        "aten::div.Tensor_mode" => |_: &mut OpCtx, a| div_mode(a),
        "aten::div.Scalar_mode" => |_: &mut OpCtx, a| div_mode(a),
        "aten::floor_divide.default" => |_: &mut OpCtx, a| bin_op(Bin::FloorDiv, a),
        "aten::floor_divide.Scalar" => |_: &mut OpCtx, a| bin_op(Bin::FloorDiv, a),
        "aten::remainder.Tensor" => |_: &mut OpCtx, a| bin_op(Bin::Rem, a),
        "aten::remainder.Scalar" => |_: &mut OpCtx, a| bin_op(Bin::Rem, a),
        "aten::fmod.Tensor" => |_: &mut OpCtx, a| bin_op(Bin::Fmod, a),
        "aten::fmod.Scalar" => |_: &mut OpCtx, a| bin_op(Bin::Fmod, a),
        "aten::pow.Tensor_Scalar" => |_: &mut OpCtx, a| pow_tensor_scalar(a),
        "aten::pow.Tensor_Tensor" => |_: &mut OpCtx, a| bin_op(Bin::Pow, a),
        "aten::pow.Scalar" => |_: &mut OpCtx, a| pow_scalar_base(a),
        "aten::maximum.default" => |_: &mut OpCtx, a| bin_op(Bin::Max, a),
        "aten::minimum.default" => |_: &mut OpCtx, a| bin_op(Bin::Min, a),
        "aten::max.other" => |_: &mut OpCtx, a| bin_op(Bin::Max, a),
        "aten::min.other" => |_: &mut OpCtx, a| bin_op(Bin::Min, a),
        "aten::atan2.default" => |_: &mut OpCtx, a| bin_op(Bin::Atan2, a),
        "aten::fmax.default" => |_: &mut OpCtx, a| bin_op(Bin::Fmax, a),
        "aten::fmin.default" => |_: &mut OpCtx, a| bin_op(Bin::Fmin, a),
        "aten::copysign.Tensor" => |_: &mut OpCtx, a| bin_op(Bin::Copysign, a),
        "aten::copysign.Scalar" => |_: &mut OpCtx, a| bin_op(Bin::Copysign, a),
        "aten::hypot.default" => |_: &mut OpCtx, a| bin_op(Bin::Hypot, a),
        "aten::eq.Tensor" => |_: &mut OpCtx, a| bin_op(Bin::Eq, a),
        "aten::eq.Scalar" => |_: &mut OpCtx, a| bin_op(Bin::Eq, a),
        "aten::ne.Tensor" => |_: &mut OpCtx, a| bin_op(Bin::Ne, a),
        "aten::ne.Scalar" => |_: &mut OpCtx, a| bin_op(Bin::Ne, a),
        "aten::lt.Tensor" => |_: &mut OpCtx, a| bin_op(Bin::Lt, a),
        "aten::lt.Scalar" => |_: &mut OpCtx, a| bin_op(Bin::Lt, a),
        "aten::le.Tensor" => |_: &mut OpCtx, a| bin_op(Bin::Le, a),
        "aten::le.Scalar" => |_: &mut OpCtx, a| bin_op(Bin::Le, a),
        "aten::gt.Tensor" => |_: &mut OpCtx, a| bin_op(Bin::Gt, a),
        "aten::gt.Scalar" => |_: &mut OpCtx, a| bin_op(Bin::Gt, a),
        "aten::ge.Tensor" => |_: &mut OpCtx, a| bin_op(Bin::Ge, a),
        "aten::ge.Scalar" => |_: &mut OpCtx, a| bin_op(Bin::Ge, a),
        "aten::logical_and.default" => |_: &mut OpCtx, a| bin_op(Bin::LAnd, a),
        "aten::logical_or.default" => |_: &mut OpCtx, a| bin_op(Bin::LOr, a),
        "aten::logical_xor.default" => |_: &mut OpCtx, a| bin_op(Bin::LXor, a),
        "aten::bitwise_and.Tensor" => |_: &mut OpCtx, a| bin_op(Bin::BAnd, a),
        "aten::bitwise_and.Scalar" => |_: &mut OpCtx, a| bin_op(Bin::BAnd, a),
        "aten::bitwise_or.Scalar" => |_: &mut OpCtx, a| bin_op(Bin::BOr, a),
        "aten::__and__.Tensor" => |_: &mut OpCtx, a| bin_op(Bin::BAnd, a),
        "aten::__or__.Tensor" => |_: &mut OpCtx, a| bin_op(Bin::BOr, a),
        "aten::__xor__.Tensor" => |_: &mut OpCtx, a| bin_op(Bin::BXor, a),
        "aten::__and__.Scalar" => |_: &mut OpCtx, a| bin_op(Bin::BAnd, a),
        "aten::__or__.Scalar" => |_: &mut OpCtx, a| bin_op(Bin::BOr, a),
        "aten::bitwise_or.Tensor" => |_: &mut OpCtx, a| bin_op(Bin::BOr, a),
        "aten::bitwise_xor.Tensor" => |_: &mut OpCtx, a| bin_op(Bin::BXor, a),
        "aten::where.self" => |_: &mut OpCtx, a| where_(a),
        "aten::where.ScalarSelf" => |_: &mut OpCtx, a| where_(a),
        "aten::where.ScalarOther" => |_: &mut OpCtx, a| where_(a),
        "aten::where.Scalar" => |_: &mut OpCtx, a| where_(a),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::registry::lookup;
    use crate::ops::test_util::call_t;

    /// The scalar-comparison fast path gives the general path's answer (NaN compares
    /// false except for ne), for f32 and i64 tensors, contiguous or not.
    #[test]
    fn scalar_comparisons_match_general_path() {
        let f = Tensor::from_f32(vec![2, 3], vec![0.0, 1.5, -2.0, f32::NAN, 1.5, 3.0]);
        let i = Tensor::from_i64(vec![2, 3], vec![0, 2, -2, 7, 2, 3]);
        for op in [Bin::Eq, Bin::Ne, Bin::Lt, Bin::Le, Bin::Gt, Bin::Ge] {
            for (t, y) in [(f.clone(), Value::Float(1.5)), (i.clone(), Value::Int(2))] {
                let fast = binary(t.clone().into(), &y, op, None).unwrap();
                // Broadcasting the scalar as a [1, 1] tensor takes the general path.
                let b = scalar_tensor(&y).unwrap();
                let b = b.reshape(vec![1, 1]).unwrap();
                let slow = binary(t.clone().into(), &Value::Tensor(b), op, None).unwrap();
                assert_eq!(fast.dtype(), DType::Bool);
                assert_eq!(fast.to_i64_vec(), slow.to_i64_vec(), "{op:?}");
                let tt = t.transpose(0, 1).unwrap();
                let fast_t = binary(tt.clone().into(), &y, op, None).unwrap();
                let want_t = slow.transpose(0, 1).unwrap();
                assert_eq!(
                    fast_t.to_i64_vec(),
                    want_t.to_i64_vec(),
                    "{op:?} transposed"
                );
            }
        }
    }

    fn tf(shape: Vec<usize>, v: Vec<f32>) -> Value {
        Tensor::from_f32(shape, v).into()
    }

    #[test]
    fn add_broadcast_alpha() {
        let r = call_t(
            "aten::add.Tensor",
            vec![
                tf(vec![2, 2], vec![1., 2., 3., 4.]),
                tf(vec![2], vec![10., 20.]),
                Value::Int(2),
            ],
        );
        assert_eq!(r.to_f32_vec(), vec![21., 42., 23., 44.]);
        assert_eq!(r.shape(), &[2, 2]);
        // int tensor + float scalar promotes to f32
        let r = call_t(
            "aten::add.Scalar",
            vec![
                Tensor::from_i64(vec![2], vec![1, 2]).into(),
                Value::Float(0.5),
                Value::Int(1),
            ],
        );
        assert_eq!(r.dtype(), DType::F32);
        assert_eq!(r.to_f32_vec(), vec![1.5, 2.5]);
        // int + int stays int
        let r = call_t(
            "aten::mul.Tensor",
            vec![
                Tensor::from_i64(vec![2], vec![3, -2]).into(),
                Tensor::from_i64(vec![], vec![4]).into(),
            ],
        );
        assert_eq!(r.dtype(), DType::I64);
        assert_eq!(r.to_i64_vec(), vec![12, -8]);
    }

    #[test]
    fn division_modes_and_rsub() {
        let a = Tensor::from_i64(vec![3], vec![7, -7, 6]);
        let b = Tensor::from_i64(vec![], vec![2]);
        let r = call_t("aten::div.Tensor", vec![a.clone().into(), b.clone().into()]);
        assert_eq!(r.dtype(), DType::F32);
        assert_eq!(r.to_f32_vec(), vec![3.5, -3.5, 3.0]);
        let r = call_t(
            "aten::div.Tensor_mode",
            vec![
                a.clone().into(),
                b.clone().into(),
                Value::Str("floor".into()),
            ],
        );
        assert_eq!(r.to_i64_vec(), vec![3, -4, 3]);
        let r = call_t(
            "aten::div.Tensor_mode",
            vec![
                a.clone().into(),
                b.clone().into(),
                Value::Str("trunc".into()),
            ],
        );
        assert_eq!(r.to_i64_vec(), vec![3, -3, 3]);
        let r = call_t("aten::remainder.Scalar", vec![a.into(), Value::Int(3)]);
        assert_eq!(r.to_i64_vec(), vec![1, 2, 0]);
        let r = call_t(
            "aten::rsub.Scalar",
            vec![tf(vec![2], vec![1., 3.]), Value::Float(1.0), Value::Int(1)],
        );
        assert_eq!(r.to_f32_vec(), vec![0., -2.]);
        let f = lookup("aten::floor_divide.default").unwrap();
        let e = f(
            &mut OpCtx::default(),
            vec![Tensor::from_i64(vec![1], vec![1]).into(), Value::Int(0)],
        )
        .unwrap_err();
        assert!(e.message().contains("division by zero"));
    }

    #[test]
    fn comparisons_where_and_logic() {
        let a = tf(vec![3], vec![1., 2., 3.]);
        let m = call_t("aten::gt.Scalar", vec![a.clone(), Value::Int(1)]);
        assert_eq!(m.dtype(), DType::Bool);
        assert_eq!(m.to_i64_vec(), vec![0, 1, 1]);
        let w = call_t(
            "aten::where.self",
            vec![m.clone().into(), a.clone(), tf(vec![], vec![-1.])],
        );
        assert_eq!(w.to_f32_vec(), vec![-1., 2., 3.]);
        let n = call_t("aten::logical_not.default", vec![m.into()]);
        assert_eq!(n.to_i64_vec(), vec![1, 0, 0]);
        let e = call_t(
            "aten::eq.Tensor",
            vec![
                Tensor::from_i64(vec![2], vec![5, 6]).into(),
                Tensor::from_i64(vec![2], vec![5, 7]).into(),
            ],
        );
        assert_eq!(e.to_i64_vec(), vec![1, 0]);
    }

    #[test]
    fn broadcast_blocks_match_materialised_broadcast() {
        // per-channel [1,3,1,1], per-row [2,1,1,4], inner [4], transposed view [3,1] (strided)
        let x: Vec<f32> = (0..24).map(|i| i as f32).collect();
        let a = Tensor::from_f32(vec![2, 3, 1, 4], x.clone());
        let cases = vec![
            Tensor::from_f32(vec![1, 3, 1, 1], vec![1., 2., 3.]),
            Tensor::from_f32(vec![2, 1, 1, 4], (0..8).map(|i| i as f32).collect()),
            Tensor::from_f32(vec![4], vec![1., -1., 2., -2.]),
            (Tensor::from_f32(vec![1, 3], vec![5., 6., 7.]))
                .transpose(0, 1)
                .unwrap(),
            Tensor::from_i64(vec![3, 1, 1], vec![1, 2, 3]),
        ];
        for b in cases {
            let r = binary(
                Value::Tensor(a.clone()),
                &Value::Tensor(b.clone()),
                Bin::Mul,
                None,
            )
            .unwrap();
            let shape = broadcast_shapes(a.shape(), b.shape()).unwrap();
            let eb = b.expand_to(&shape).unwrap().to_f32_vec();
            let ea = a.expand_to(&shape).unwrap().to_f32_vec();
            let want: Vec<f32> = ea.iter().zip(&eb).map(|(p, q)| p * q).collect();
            assert_eq!(r.to_f32_vec(), want, "b shape {:?}", b.shape());
        }
    }

    /// The broadcast operand first (`scale * x`, `bias - x`, `1 / x`-like shapes): the swapped
    /// path gives exactly the materialised broadcast's values, for every op and an alpha.
    #[test]
    fn broadcast_first_operand_matches_materialised_broadcast() {
        let x: Vec<f32> = (0..24).map(|i| i as f32 * 0.37 - 3.0).collect();
        let b = Tensor::from_f32(vec![2, 3, 1, 4], x);
        let smalls = vec![
            Tensor::from_f32(vec![1, 3, 1, 1], vec![1.5, -2., 3.25]),
            Tensor::from_f32(vec![4], vec![1., -1., 2., -2.]),
            Tensor::from_f32(vec![1, 3], vec![5., 6., 7.])
                .transpose(0, 1)
                .unwrap(),
            Tensor::from_i64(vec![3, 1, 1], vec![1, 2, 3]),
        ];
        let ops = [
            (Bin::Add, None),
            (Bin::Add, Some(Value::Float(0.5))),
            (Bin::Sub, None),
            (Bin::Sub, Some(Value::Int(2))),
            (Bin::Mul, None),
            (Bin::Div, None),
            (Bin::Max, None),
        ];
        for a in &smalls {
            for (op, alpha) in &ops {
                let r = binary(
                    Value::Tensor(a.clone()),
                    &Value::Tensor(b.clone()),
                    *op,
                    alpha.as_ref(),
                )
                .unwrap();
                let shape = broadcast_shapes(a.shape(), b.shape()).unwrap();
                assert_eq!(r.shape(), shape.as_slice());
                let ea = a.expand_to(&shape).unwrap().to_f32_vec();
                let eb = b.expand_to(&shape).unwrap().to_f32_vec();
                let al = alpha.as_ref().map_or(1.0, |v| v.as_f64().unwrap() as f32);
                let f = f_op(*op, al);
                let want: Vec<f32> = ea.iter().zip(&eb).map(|(&p, &q)| f(p, q)).collect();
                assert_eq!(
                    r.to_f32_vec(),
                    want,
                    "{op:?} alpha {alpha:?} a {:?}",
                    a.shape()
                );
            }
        }
    }

    #[test]
    fn f64_tensors_compute_in_double() {
        let a = Tensor::from_f64_as(DType::F64, vec![1], vec![1.0 + 1e-12]);
        let r = binary(Value::Tensor(a), &Value::Float(-1.0), Bin::Add, None).unwrap();
        assert_eq!(r.dtype(), DType::F64);
        let v = r.f64s().unwrap()[0];
        assert!((v - 1e-12).abs() < 1e-15, "{v}"); // f32 would give 0
    }

    #[test]
    fn f64_comparisons_compare_in_double() {
        let a = || {
            Value::Tensor(Tensor::from_f64_as(
                DType::F64,
                vec![2],
                vec![1.0 + 1e-12, 0.0],
            ))
        };
        let b = Value::Tensor(Tensor::from_f64_as(DType::F64, vec![2], vec![1.0, 1e-300]));
        // In f32 both pairs would be equal (1e-300 flushes to 0 and 1 + 1e-12 rounds to 1).
        let cases = [
            (Bin::Eq, [0, 0]),
            (Bin::Gt, [1, 0]),
            (Bin::Lt, [0, 1]),
            (Bin::LAnd, [1, 0]),
            (Bin::LXor, [0, 1]),
        ];
        for (op, want) in cases {
            let r = binary(a(), &b, op, None).unwrap();
            assert_eq!(r.dtype(), DType::Bool);
            assert_eq!(r.to_i64_vec(), want.to_vec(), "{op:?}");
        }
        // A double scalar against a double tensor takes the same path.
        let r = binary(a(), &Value::Float(1.0), Bin::Eq, None).unwrap();
        assert_eq!(r.to_i64_vec(), vec![0, 0]);
    }

    #[test]
    fn in_place_reuses_a_unique_buffer() {
        let t = Tensor::from_f32(vec![4], vec![1., 2., 3., 4.]);
        let before = t.data_ptr();
        let r = binary(Value::Tensor(t), &Value::Float(1.0), Bin::Add, None).unwrap();
        assert_eq!(r.to_f32_vec(), vec![2., 3., 4., 5.]);
        assert_eq!(
            r.data_ptr(),
            before,
            "result should reuse the dying input's buffer"
        );
        // a shared input must not be overwritten
        let t = Tensor::from_f32(vec![2], vec![1., 2.]);
        let keep = t.clone();
        let r = binary(Value::Tensor(t), &Value::Float(1.0), Bin::Add, None).unwrap();
        assert_ne!(r.data_ptr(), keep.data_ptr());
        assert_eq!(keep.to_f32_vec(), vec![1., 2.]);
    }
}
