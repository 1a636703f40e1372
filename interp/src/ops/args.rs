//! Reading an op's argument list: positional tensors, ints, floats, bools, optional values
//! and per-dimension int lists, each with an error naming the argument instead of a panic.

use crate::error::{Error, Result};
use crate::tensor::Tensor;
use crate::value::Value;

/// Argument `i`, or an error saying how many were expected.
pub(crate) fn arg(args: &[Value], i: usize) -> Result<&Value> {
    args.get(i).ok_or_else(|| {
        Error::runtime(format!(
            "missing argument {i} (got {} arguments)",
            args.len()
        ))
    })
}

/// Tensor argument `i`.
pub(crate) fn targ(args: &[Value], i: usize) -> Result<&Tensor> {
    arg(args, i)?
        .as_tensor()
        .map_err(|e| e.context(format!("argument {i}")))
}

/// Take tensor argument `i` out of the argument list (to reuse its buffer).
pub(crate) fn take_t(args: &mut [Value], i: usize) -> Result<Tensor> {
    if i >= args.len() {
        return Err(Error::runtime(format!("missing argument {i}")));
    }
    args[i]
        .take_tensor()
        .map_err(|e| e.context(format!("argument {i}")))
}

/// Int argument `i`.
pub(crate) fn iarg(args: &[Value], i: usize) -> Result<i64> {
    arg(args, i)?
        .as_int()
        .map_err(|e| e.context(format!("argument {i}")))
}

/// Float argument `i`.
pub(crate) fn farg(args: &[Value], i: usize) -> Result<f64> {
    arg(args, i)?
        .as_f64()
        .map_err(|e| e.context(format!("argument {i}")))
}

/// Bool argument `i`; a missing trailing argument reads as `default`.
pub(crate) fn barg_or(args: &[Value], i: usize, default: bool) -> Result<bool> {
    match args.get(i) {
        None | Some(Value::None) => Ok(default),
        Some(v) => v.as_bool().map_err(|e| e.context(format!("argument {i}"))),
    }
}

/// Int-list argument `i`.
pub(crate) fn ints(args: &[Value], i: usize) -> Result<Vec<i64>> {
    arg(args, i)?
        .as_ints()
        .map_err(|e| e.context(format!("argument {i}")))
}

/// Optional argument `i` (missing counts as `None`).
pub(crate) fn opt(args: &[Value], i: usize) -> &Value {
    args.get(i).unwrap_or(&Value::None)
}

/// Optional float argument `i` as f32: `default` when absent or `None` (e.g. leaky_relu's
/// negative slope, elu's alpha).
pub(crate) fn opt_f32(args: &[Value], i: usize, default: f32) -> Result<f32> {
    Ok(match opt(args, i) {
        Value::None => default,
        v => v.as_f64()? as f32,
    })
}

/// Wrap one result.
pub(crate) fn one(t: Tensor) -> Result<Vec<Value>> {
    Ok(vec![Value::Tensor(t)])
}

/// Normalise a possibly negative dim against `ndim` (0-d tensors accept -1 and 0).
pub(crate) fn norm_dim(d: i64, ndim: usize) -> Result<usize> {
    let n = ndim.max(1) as i64;
    let dd = if d < 0 { d + n } else { d };
    if dd < 0 || dd >= n {
        return Err(Error::runtime(format!(
            "dimension {d} out of range for a {ndim}-d tensor"
        )));
    }
    Ok(dd as usize)
}

/// A dim of a tensor that must have at least one dimension.
pub(crate) fn dim_of(t: &Tensor, d: i64) -> Result<usize> {
    if t.ndim() == 0 {
        return Err(Error::runtime(format!(
            "dimension {d} given for a 0-d tensor"
        )));
    }
    norm_dim(d, t.ndim())
}

/// Non-negative int → usize, with a clear error.
pub(crate) fn to_usize(v: i64, what: &str) -> Result<usize> {
    usize::try_from(v).map_err(|_| Error::runtime(format!("{what} must be non-negative, got {v}")))
}

/// An int-list argument of `n` values, as PyTorch reads `int[n]` parameters: `None` or an
/// empty list gives `default` for every dim, one value is repeated, else exactly `n` values.
/// `what` names the argument in errors.
pub(crate) fn n_ints(
    args: &[Value],
    i: usize,
    n: usize,
    default: i64,
    what: &str,
) -> Result<Vec<i64>> {
    let v = match opt(args, i) {
        Value::None => vec![],
        v => v.as_ints()?,
    };
    Ok(match v.len() {
        0 => vec![default; n],
        1 => vec![v[0]; n],
        l if l == n => v,
        _ => {
            return Err(Error::runtime(format!(
                "{what}: expected {n} values, got {v:?}"
            )))
        }
    })
}

/// [`n_ints`] left-padded with `fill` to three entries, so one 3-d loop serves 1/2/3-d ops.
pub(crate) fn per_dim(
    args: &[Value],
    i: usize,
    n: usize,
    default: i64,
    fill: i64,
    what: &str,
) -> Result<[i64; 3]> {
    let v = n_ints(args, i, n, default, what)?;
    let mut out = [fill; 3];
    out[3 - n..].copy_from_slice(&v);
    Ok(out)
}

/// [`n_ints`] as sizes (non-negative), for the kernel-backed 1-d/2-d conv and pool ops.
pub(crate) fn pair(args: &[Value], i: usize, n: usize, default: usize) -> Result<Vec<usize>> {
    n_ints(args, i, n, default as i64, "size")?
        .into_iter()
        .map(|x| to_usize(x, "size"))
        .collect()
}

/// A non-negative int argument as usize (`what` names it in the error).
pub(crate) fn usize_of(v: i64, what: &str) -> Result<usize> {
    to_usize(v, what)
}

/// Read a `bool[3]` output mask (a missing or `None` mask means all three outputs).
pub(crate) fn output_mask(args: &[Value], i: usize) -> Result<[bool; 3]> {
    match opt(args, i) {
        Value::None => Ok([true; 3]),
        v => {
            let l = v.as_list()?;
            if l.len() != 3 {
                return Err(Error::runtime(format!(
                    "output_mask must have 3 values, got {}",
                    l.len()
                )));
            }
            Ok([l[0].as_bool()?, l[1].as_bool()?, l[2].as_bool()?])
        }
    }
}
