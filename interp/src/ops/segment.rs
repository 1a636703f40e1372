//! `segment_reduce(data, reduce, *, lengths, indices, offsets, axis, unsafe, initial)`:
//! max/min/sum/mean/prod over consecutive segments of `data` along `axis`, the segments
//! given by their lengths or by offsets (`lengths = diff(offsets)`).
//!
//! As in PyTorch, `initial` (when given) joins every segment's reduction and is an empty
//! segment's value; without it an empty segment gives -inf (max), inf (min), 0 (sum), NaN
//! (mean) or 1 (prod). The mean divides by the segment's length only. NaN propagates.

use crate::error::{Error, Result};
use crate::ops::registry::OpList;
use crate::ops::{arg, norm_dim, opt, targ, OpCtx};
use crate::storage::try_alloc;
use crate::tensor::Tensor;
use crate::value::Value;

fn segment_reduce(args: &[Value]) -> Result<Vec<Value>> {
    let data = targ(args, 0)?;
    let how = arg(args, 1)?.as_str()?.to_string();
    if !matches!(how.as_str(), "max" | "min" | "sum" | "mean" | "prod") {
        return Err(Error::runtime(format!(
            "segment_reduce: unknown reduce '{how}'"
        )));
    }
    if data.ndim() == 0 {
        return Err(Error::runtime(
            "segment_reduce: data must have at least one dim",
        ));
    }
    let axis = norm_dim(opt(args, 5).as_opt_int()?.unwrap_or(0), data.ndim())?;
    let initial = opt(args, 7).as_opt_f64()?;
    let (seg, lens_shape): (Vec<i64>, Vec<usize>) = match (opt(args, 2), opt(args, 4)) {
        (Value::Tensor(l), _) => (l.i64s()?.into_owned(), l.shape().to_vec()),
        (_, Value::Tensor(o)) => {
            let ov = o.i64s()?;
            let last = *o.shape().last().unwrap_or(&0);
            if o.ndim() == 0 || last == 0 {
                return Err(Error::runtime("segment_reduce: offsets must not be empty"));
            }
            let mut shape = o.shape().to_vec();
            *shape.last_mut().unwrap_or(&mut 0) = last - 1;
            let l = ov
                .chunks(last)
                // Wrapping: hostile offsets give lengths that fail the sum check below.
                .flat_map(|r| {
                    r.windows(2)
                        .map(|w| w[1].wrapping_sub(w[0]))
                        .collect::<Vec<_>>()
                })
                .collect();
            (l, shape)
        }
        _ => return Err(Error::runtime("segment_reduce: needs lengths or offsets")),
    };
    if lens_shape.len() != axis + 1 || lens_shape[..axis] != data.shape()[..axis] {
        return Err(Error::runtime(format!(
            "segment_reduce: lengths {lens_shape:?} must have data's dims before axis {axis} plus one"
        )));
    }
    let nseg = lens_shape[axis];
    let len = data.shape()[axis];
    let outer: usize = data.shape()[..axis].iter().product();
    let inner: usize = data.shape()[axis + 1..].iter().product();
    for row in seg.chunks(nseg.max(1)) {
        if row.iter().any(|&l| l < 0)
            || row.iter().try_fold(0i64, |a, &l| a.checked_add(l)) != Some(len as i64)
        {
            return Err(Error::runtime(format!(
                "segment_reduce: the lengths {row:?} must be non-negative and sum to {len}"
            )));
        }
    }
    let mut shape = data.shape().to_vec();
    shape[axis] = nseg;
    let mut out = try_alloc::<f64>(outer * nseg * inner)?;
    let v = data.f64s()?;
    for o in 0..outer {
        let mut start = 0usize;
        for s in 0..nseg {
            let l = seg[o * nseg + s] as usize;
            for k in 0..inner {
                let mut acc = initial.unwrap_or(match how.as_str() {
                    "max" => f64::NEG_INFINITY,
                    "min" => f64::INFINITY,
                    "prod" => 1.0,
                    _ => 0.0,
                });
                for j in start..start + l {
                    let e = v[(o * len + j) * inner + k];
                    acc = match how.as_str() {
                        "max" => {
                            if e.is_nan() || e > acc {
                                e
                            } else {
                                acc
                            }
                        }
                        "min" => {
                            if e.is_nan() || e < acc {
                                e
                            } else {
                                acc
                            }
                        }
                        "prod" => acc * e,
                        _ => acc + e,
                    };
                }
                if how == "mean" {
                    acc = if l > 0 {
                        acc / l as f64
                    } else {
                        initial.unwrap_or(f64::NAN)
                    };
                }
                out[(o * nseg + s) * inner + k] = acc;
            }
            start += l;
        }
    }
    Ok(vec![Tensor::from_f64_as(data.dtype(), shape, out).into()])
}

/// Register the op.
pub(crate) fn register(r: &mut OpList) {
    reg!(r,
        "aten::segment_reduce.default" => |_: &mut OpCtx, a: Vec<Value>| segment_reduce(&a),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::test_util::try_call_t;

    #[test]
    fn segments() {
        let d = Tensor::from_f32(vec![6], vec![1.0, 5.0, 2.0, 7.0, 3.0, 4.0]);
        let l = Tensor::from_i64(vec![4], vec![2, 0, 3, 1]);
        let call = |how: &str, init: Value| {
            try_call_t(
                "aten::segment_reduce.default",
                vec![
                    d.clone().into(),
                    Value::Str(how.into()),
                    l.clone().into(),
                    Value::None,
                    Value::None,
                    Value::Int(0),
                    Value::Bool(false),
                    init,
                ],
            )
            .unwrap()
            .to_f32_vec()
        };
        assert_eq!(
            call("max", Value::None),
            vec![5.0, f32::NEG_INFINITY, 7.0, 4.0]
        );
        assert_eq!(
            call("mean", Value::Float(2.0)),
            vec![4.0, 2.0, 14.0 / 3.0, 6.0]
        );
        assert_eq!(call("prod", Value::None), vec![5.0, 1.0, 42.0, 4.0]);
        let off = Tensor::from_i64(vec![5], vec![0, 2, 2, 5, 6]);
        let r = try_call_t(
            "aten::segment_reduce.default",
            vec![
                d.clone().into(),
                Value::Str("sum".into()),
                Value::None,
                Value::None,
                off.into(),
            ],
        )
        .unwrap();
        assert_eq!(r.to_f32_vec(), vec![6.0, 0.0, 12.0, 4.0]);
        let bad = Tensor::from_i64(vec![2], vec![2, 9]);
        assert!(try_call_t(
            "aten::segment_reduce.default",
            vec![d.into(), Value::Str("sum".into()), bad.into()]
        )
        .is_err());
    }
}
