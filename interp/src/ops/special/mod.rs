//! Special functions (`torch.special` and the ATen ops behind it): the error-function
//! family (`erf`), gamma, digamma, polygamma, zeta and incomplete gamma (`gamma`), Bessel and
//! Airy functions (`bessel`) and the orthogonal polynomials (`polynomials`).
//!
//! Every function is computed in f64 whatever the tensor's dtype and rounded once to it, so
//! f32 results are as close as f32 allows. Integer and bool inputs give float32, like
//! PyTorch. The element-wise plumbing (broadcasting two operands, scalar overloads) is here;
//! the math modules are plain `f64 -> f64` functions.

pub(crate) mod bessel;
pub(crate) mod erf;
pub(crate) mod gamma;
pub(crate) mod polynomials;

use polynomials::Poly;

use crate::error::{Error, Result};
use crate::ops::registry::OpList;
use crate::ops::{arg, broadcast_shapes, float_out, iarg, one, result_type, targ, OpCtx, PromoArg};
use crate::ops::{scalar_tensor, Cat};
use crate::tensor::{DType, Tensor};
use crate::value::Value;

/// `f` on every element of tensor argument 0 (float dtypes kept, others give f32).
fn unary(args: &[Value], f: impl Fn(f64) -> f64) -> Result<Vec<Value>> {
    let t = targ(args, 0)?;
    let v: Vec<f64> = t.f64s()?.into_iter().map(f).collect();
    one(Tensor::from_f64_as(float_out(t), t.shape().to_vec(), v))
}

/// `f(a, b)` element-wise over two broadcast operands (tensors or numbers); the result
/// dtype is PyTorch's promotion of the two, float32 when that is not a float type.
pub(crate) fn binary_values(a: &Value, b: &Value, f: impl Fn(f64, f64) -> f64) -> Result<Tensor> {
    let dt = result_type(&[PromoArg::of(a)?, PromoArg::of(b)?]);
    let dt = if crate::ops::category(dt) == Cat::Float {
        dt
    } else {
        DType::F32
    };
    let (ta, tb) = (scalar_tensor(a)?, scalar_tensor(b)?);
    let shape = broadcast_shapes(ta.shape(), tb.shape())?;
    let va = ta.expand_to(&shape)?.f64s()?;
    let vb = tb.expand_to(&shape)?.f64s()?;
    let out: Vec<f64> = va.iter().zip(&vb).map(|(&x, &y)| f(x, y)).collect();
    Ok(Tensor::from_f64_as(dt, shape, out))
}

/// A two-operand special function (arguments 0 and 1).
fn binary(args: &[Value], f: impl Fn(f64, f64) -> f64) -> Result<Vec<Value>> {
    one(binary_values(arg(args, 0)?, arg(args, 1)?, f)?)
}

/// polygamma(n, self): n is an int >= 0.
fn polygamma(args: &[Value]) -> Result<Vec<Value>> {
    let n = iarg(args, 0)?;
    let n = u32::try_from(n).ok().filter(|&n| n <= 170).ok_or_else(|| {
        Error::runtime(format!(
            "polygamma: the order n must be in 0..=170 (n! is not finite beyond), got {n}"
        ))
    })?;
    let t = targ(args, 1)?;
    let v: Vec<f64> = t
        .f64s()?
        .into_iter()
        .map(|x| gamma::polygamma(n, x))
        .collect();
    one(Tensor::from_f64_as(float_out(t), t.shape().to_vec(), v))
}

/// mvlgamma(self, p): the multivariate log-gamma, sum_j lgamma(x - j/2) + p(p-1)/4 ln pi;
/// every element must exceed (p - 1) / 2, as PyTorch requires.
fn mvlgamma(args: &[Value]) -> Result<Vec<Value>> {
    let t = targ(args, 0)?;
    let p = iarg(args, 1)?;
    if !(1..=1 << 20).contains(&p) {
        return Err(Error::runtime(format!("mvlgamma: p must be >= 1, got {p}")));
    }
    let x = t.f64s()?;
    let lim = (p as f64 - 1.0) / 2.0;
    if x.iter().any(|&v| v.is_nan() || v <= lim) {
        return Err(Error::runtime(format!(
            "mvlgamma: all elements must be greater than (p-1)/2 = {lim}"
        )));
    }
    let c = (p * (p - 1)) as f64 / 4.0 * std::f64::consts::PI.ln();
    let v: Vec<f64> = x
        .iter()
        .map(|&v| {
            c + (0..p)
                .map(|j| gamma::lgamma(v - j as f64 / 2.0))
                .sum::<f64>()
        })
        .collect();
    one(Tensor::from_f64_as(float_out(t), t.shape().to_vec(), v))
}

/// An orthogonal polynomial P_n(x) with x and n broadcast (either may be a number).
fn poly(args: &[Value], kind: Poly, shifted: bool) -> Result<Vec<Value>> {
    let (x, n) = (arg(args, 0)?, arg(args, 1)?);
    if matches!(kind, Poly::LaguerreL | Poly::LegendreP) {
        // Their recurrences cost n steps per element: refuse degrees that would hang.
        let nt = scalar_tensor(n)?;
        let too_big = nt
            .f64s()?
            .iter()
            .map(|&v| polynomials::degree(v))
            .find(|&d| d > polynomials::MAX_BOUNDED_DEGREE);
        if let Some(d) = too_big {
            return Err(Error::runtime(format!(
                "{kind:?}: degree {d} is above the supported {}",
                polynomials::MAX_BOUNDED_DEGREE
            )));
        }
    }
    one(binary_values(x, n, |x, n| {
        let x = if shifted { x + x - 1.0 } else { x };
        polynomials::eval(kind, x, polynomials::degree(n))
    })?)
}

/// Register the `poly` op under its three overloads (tensor/tensor, scalar x, scalar n).
macro_rules! reg_poly {
    ($r:ident, $name:literal, $kind:expr, $shifted:expr) => {
        $r.push((
            concat!("aten::", $name, ".default"),
            (|_: &mut OpCtx, a: Vec<Value>| poly(&a, $kind, $shifted)) as crate::ops::OpFn,
        ));
        $r.push((
            concat!("aten::", $name, ".x_scalar"),
            (|_: &mut OpCtx, a: Vec<Value>| poly(&a, $kind, $shifted)) as crate::ops::OpFn,
        ));
        $r.push((
            concat!("aten::", $name, ".n_scalar"),
            (|_: &mut OpCtx, a: Vec<Value>| poly(&a, $kind, $shifted)) as crate::ops::OpFn,
        ));
    };
}

/// Register the family's ops.
pub(crate) fn register(r: &mut OpList) {
    reg!(r,
        "aten::erfc.default" => |_: &mut OpCtx, a: Vec<Value>| unary(&a, erf::erfc),
        "aten::erfinv.default" => |_: &mut OpCtx, a: Vec<Value>| unary(&a, erf::erfinv),
        "aten::special_erfcx.default" => |_: &mut OpCtx, a: Vec<Value>| unary(&a, erf::erfcx),
        "aten::special_ndtri.default" => |_: &mut OpCtx, a: Vec<Value>| unary(&a, erf::ndtri),
        "aten::special_log_ndtr.default" => |_: &mut OpCtx, a: Vec<Value>| unary(&a, erf::log_ndtr),
        "aten::lgamma.default" => |_: &mut OpCtx, a: Vec<Value>| unary(&a, gamma::lgamma),
        "aten::digamma.default" => |_: &mut OpCtx, a: Vec<Value>| unary(&a, gamma::digamma),
        "aten::polygamma.default" => |_: &mut OpCtx, a: Vec<Value>| polygamma(&a),
        "aten::mvlgamma.default" => |_: &mut OpCtx, a: Vec<Value>| mvlgamma(&a),
        "aten::special_zeta.default" => |_: &mut OpCtx, a: Vec<Value>| binary(&a, gamma::zeta),
        "aten::special_zeta.self_scalar" => |_: &mut OpCtx, a: Vec<Value>| binary(&a, gamma::zeta),
        "aten::special_zeta.other_scalar" => |_: &mut OpCtx, a: Vec<Value>| binary(&a, gamma::zeta),
        "aten::igamma.default" => |_: &mut OpCtx, a: Vec<Value>| binary(&a, gamma::igamma),
        "aten::igammac.default" => |_: &mut OpCtx, a: Vec<Value>| binary(&a, gamma::igammac),
        "aten::i0.default" => |_: &mut OpCtx, a: Vec<Value>| unary(&a, bessel::i0),
        "aten::special_i0e.default" => |_: &mut OpCtx, a: Vec<Value>| unary(&a, bessel::i0e),
        "aten::special_i1.default" => |_: &mut OpCtx, a: Vec<Value>| unary(&a, bessel::i1),
        "aten::special_i1e.default" => |_: &mut OpCtx, a: Vec<Value>| unary(&a, bessel::i1e),
        "aten::special_modified_bessel_i0.default" => |_: &mut OpCtx, a: Vec<Value>| unary(&a, bessel::i0),
        "aten::special_modified_bessel_i1.default" => |_: &mut OpCtx, a: Vec<Value>| unary(&a, bessel::i1),
        "aten::special_modified_bessel_k0.default" => |_: &mut OpCtx, a: Vec<Value>| unary(&a, |x| bessel::k(0, x, false)),
        "aten::special_modified_bessel_k1.default" => |_: &mut OpCtx, a: Vec<Value>| unary(&a, |x| bessel::k(1, x, false)),
        "aten::special_scaled_modified_bessel_k0.default" => |_: &mut OpCtx, a: Vec<Value>| unary(&a, |x| bessel::k(0, x, true)),
        "aten::special_scaled_modified_bessel_k1.default" => |_: &mut OpCtx, a: Vec<Value>| unary(&a, |x| bessel::k(1, x, true)),
        "aten::special_bessel_j0.default" => |_: &mut OpCtx, a: Vec<Value>| unary(&a, bessel::j0),
        "aten::special_bessel_j1.default" => |_: &mut OpCtx, a: Vec<Value>| unary(&a, bessel::j1),
        "aten::special_bessel_y0.default" => |_: &mut OpCtx, a: Vec<Value>| unary(&a, bessel::y0),
        "aten::special_bessel_y1.default" => |_: &mut OpCtx, a: Vec<Value>| unary(&a, bessel::y1),
        "aten::special_spherical_bessel_j0.default" => |_: &mut OpCtx, a: Vec<Value>| unary(&a, bessel::spherical_j0),
        "aten::special_airy_ai.default" => |_: &mut OpCtx, a: Vec<Value>| unary(&a, bessel::airy_ai),
    );
    reg_poly!(r, "special_chebyshev_polynomial_t", Poly::ChebyshevT, false);
    reg_poly!(r, "special_chebyshev_polynomial_u", Poly::ChebyshevU, false);
    reg_poly!(r, "special_chebyshev_polynomial_v", Poly::ChebyshevV, false);
    reg_poly!(r, "special_chebyshev_polynomial_w", Poly::ChebyshevW, false);
    reg_poly!(
        r,
        "special_shifted_chebyshev_polynomial_t",
        Poly::ChebyshevT,
        true
    );
    reg_poly!(
        r,
        "special_shifted_chebyshev_polynomial_u",
        Poly::ChebyshevU,
        true
    );
    reg_poly!(
        r,
        "special_shifted_chebyshev_polynomial_v",
        Poly::ChebyshevV,
        true
    );
    reg_poly!(
        r,
        "special_shifted_chebyshev_polynomial_w",
        Poly::ChebyshevW,
        true
    );
    reg_poly!(r, "special_hermite_polynomial_h", Poly::HermiteH, false);
    reg_poly!(r, "special_hermite_polynomial_he", Poly::HermiteHe, false);
    reg_poly!(r, "special_laguerre_polynomial_l", Poly::LaguerreL, false);
    reg_poly!(r, "special_legendre_polynomial_p", Poly::LegendreP, false);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::test_util::try_call_t;

    #[test]
    fn dtypes_and_broadcasting() {
        let i = Tensor::from_i64(vec![2], vec![1, 2]);
        let r = try_call_t("aten::lgamma.default", vec![i.into()]).unwrap();
        assert_eq!(r.dtype(), DType::F32);
        let x = Tensor::from_f64_as(DType::F64, vec![3, 1], vec![0.5, 0.0, -0.5]);
        let n = Tensor::from_f64_as(DType::F64, vec![2], vec![2.0, 3.0]);
        let r = try_call_t(
            "aten::special_chebyshev_polynomial_t.default",
            vec![x.clone().into(), n.into()],
        )
        .unwrap();
        assert_eq!((r.dtype(), r.shape()), (DType::F64, &[3usize, 2][..]));
        let v = r.f64s().unwrap();
        assert!((v[0] - (-0.5)).abs() < 1e-15 && (v[1] - (-1.0)).abs() < 1e-15);
        let r = try_call_t(
            "aten::special_hermite_polynomial_h.n_scalar",
            vec![x.into(), Value::Int(2)],
        )
        .unwrap();
        assert_eq!(r.f64s().unwrap(), vec![-1.0, -2.0, -1.0]);
    }

    #[test]
    fn bad_arguments_are_errors() {
        let x = Tensor::from_f32(vec![1], vec![0.5]);
        assert!(try_call_t(
            "aten::polygamma.default",
            vec![Value::Int(-1), x.clone().into()]
        )
        .is_err());
        assert!(try_call_t(
            "aten::mvlgamma.default",
            vec![x.clone().into(), Value::Int(3)]
        )
        .is_err());
        let huge = Tensor::from_f32(vec![1], vec![1e12]);
        assert!(try_call_t(
            "aten::special_legendre_polynomial_p.default",
            vec![x.into(), huge.into()]
        )
        .is_err());
    }
}
