//! 1-d and 2-d pooling on the kernels' f32 paths: max (with indices), average and
//! adaptive average; 1-d inputs run as `(N, C, 1, L)`.

use wasm_torch_kernels::pool::{adaptive_avg_pool2d, avg_pool2d, max_pool2d, Pool2dParams};

use crate::error::{Error, Result};
use crate::ops::registry::OpList;
use crate::ops::OpCtx;
use crate::ops::{barg_or, float_out, one, opt, pair, targ};
use crate::storage::try_alloc;
use crate::tensor::Tensor;
use crate::value::Value;

/// Batched NCHW view of a 3-d or 4-d pooling input: (n, c, h, w, batched).
fn nchw(x: &Tensor) -> Result<(usize, usize, usize, usize, bool)> {
    match x.shape() {
        &[n, c, h, w] => Ok((n, c, h, w, true)),
        &[c, h, w] => Ok((1, c, h, w, false)),
        s => Err(Error::runtime(format!(
            "expected a 3-d or 4-d input, got {s:?}"
        ))),
    }
}

fn out_shape(n: usize, c: usize, h: usize, w: usize, batched: bool) -> Vec<usize> {
    if batched {
        vec![n, c, h, w]
    } else {
        vec![c, h, w]
    }
}

fn pool_params(args: &[Value], x: &Tensor, avg: bool) -> Result<(Pool2dParams, bool)> {
    let (n, c, h, w, batched) = nchw(x)?;
    let kernel = pair(args, 1, 2, 1)?;
    let stride = pair(args, 2, 2, 0)?;
    let stride = if stride.iter().all(|&s| s == 0) {
        kernel.clone()
    } else {
        stride
    };
    let padding = pair(args, 3, 2, 0)?;
    let (dilation, ceil_mode, count_include_pad) = if avg {
        (
            vec![1, 1],
            barg_or(args, 4, false)?,
            barg_or(args, 5, true)?,
        )
    } else {
        (pair(args, 4, 2, 1)?, barg_or(args, 5, false)?, false)
    };
    let p = Pool2dParams {
        batch: n,
        channels: c,
        in_h: h,
        in_w: w,
        kernel: (kernel[0], kernel[1]),
        stride: (stride[0], stride[1]),
        padding: (padding[0], padding[1]),
        dilation: (dilation[0], dilation[1]),
        ceil_mode,
        count_include_pad,
    };
    p.validate().map_err(Error::runtime)?;
    Ok((p, batched))
}

fn max_pool(args: &[Value], with_indices: bool) -> Result<Vec<Value>> {
    let x = targ(args, 0)?;
    let (p, batched) = pool_params(args, x, false)?;
    let (oh, ow) = (p.out_h(), p.out_w());
    let len = p.batch * p.channels * oh * ow;
    let mut out = try_alloc::<f32>(len)?;
    let mut idx = if with_indices {
        Some(try_alloc::<i64>(len)?)
    } else {
        None
    };
    max_pool2d(&p, &x.f32s()?, &mut out, idx.as_deref_mut());
    let shape = out_shape(p.batch, p.channels, oh, ow, batched);
    let mut res = vec![Value::Tensor(Tensor::from_f32_as(
        float_out(x),
        shape.clone(),
        out,
    ))];
    if let Some(i) = idx {
        res.push(Value::Tensor(Tensor::from_i64(shape, i)));
    }
    Ok(res)
}

fn avg_pool(args: &[Value]) -> Result<Vec<Value>> {
    let x = targ(args, 0)?;
    let (p, batched) = pool_params(args, x, true)?;
    let divisor = match opt(args, 6).as_opt_int()? {
        Some(d) if d <= 0 => {
            return Err(Error::runtime(
                "avg_pool2d: divisor_override must be positive",
            ))
        }
        d => d.map(|d| d as usize),
    };
    let (oh, ow) = (p.out_h(), p.out_w());
    let mut out = try_alloc::<f32>(p.batch * p.channels * oh * ow)?;
    avg_pool2d(&p, &x.f32s()?, &mut out, divisor);
    one(Tensor::from_f32_as(
        float_out(x),
        out_shape(p.batch, p.channels, oh, ow, batched),
        out,
    ))
}

fn adaptive_avg(args: &[Value]) -> Result<Vec<Value>> {
    let x = targ(args, 0)?;
    let (n, c, h, w, batched) = nchw(x)?;
    let os = pair(args, 1, 2, 1)?;
    if os[0] == 0 || os[1] == 0 {
        return Err(Error::runtime(
            "adaptive_avg_pool2d: output size must be positive",
        ));
    }
    let mut out = try_alloc::<f32>(crate::tensor::checked_numel(&[n, c, os[0], os[1]])?)?;
    adaptive_avg_pool2d(n, c, h, w, os[0], os[1], &x.f32s()?, &mut out);
    one(Tensor::from_f32_as(
        float_out(x),
        out_shape(n, c, os[0], os[1], batched),
        out,
    ))
}

/// Run a 2-d pool on a 1-d (N, C, L) or (C, L) input as (N, C, 1, L): rewrites the
/// 1-value kernel/stride/padding/dilation arguments into 2-value ones.
fn pool1d(args: &[Value], avg: bool, with_indices: bool) -> Result<Vec<Value>> {
    let x = targ(args, 0)?;
    if x.ndim() != 2 && x.ndim() != 3 {
        return Err(Error::runtime(format!(
            "1-d pooling expects 2-d or 3-d input, got {:?}",
            x.shape()
        )));
    }
    let mut shape4 = x.shape().to_vec();
    shape4.insert(shape4.len() - 1, 1);
    let x4 = x.reshape(shape4)?;
    let one_of = |i: usize, default: i64| -> Result<Value> {
        let v = match opt(args, i) {
            Value::None => vec![],
            v => v.as_ints()?,
        };
        let k = match v.as_slice() {
            [] => default,
            [k] => *k,
            _ => return Err(Error::runtime("1-d pooling takes one value per parameter")),
        };
        let lead = if i == 3 { 0 } else { 1 };
        Ok(Value::List(vec![Value::Int(lead), Value::Int(k)]))
    };
    let kernel = one_of(1, 1)?;
    let stride = match opt(args, 2) {
        Value::List(l) if l.is_empty() => kernel.clone(),
        Value::None => kernel.clone(),
        _ => one_of(2, 1)?,
    };
    let mut a2 = vec![Value::Tensor(x4), kernel, stride, one_of(3, 0)?];
    if avg {
        a2.extend([opt(args, 4).clone(), opt(args, 5).clone(), Value::None]);
    } else {
        a2.extend([one_of(4, 1)?, opt(args, 5).clone()]);
    }
    let res = if avg {
        avg_pool(&a2)?
    } else {
        max_pool(&a2, with_indices)?
    };
    res.into_iter()
        .map(|v| {
            let t = v.as_tensor()?;
            let mut s = t.shape().to_vec();
            s.remove(s.len() - 2);
            Ok(Value::Tensor(t.reshape(s)?))
        })
        .collect()
}

pub(crate) fn register(r: &mut OpList) {
    reg!(r,
        "aten::max_pool2d_with_indices.default" => |_: &mut OpCtx, a: Vec<Value>| max_pool(&a, true),
        "aten::max_pool2d.default" => |_: &mut OpCtx, a: Vec<Value>| max_pool(&a, false),
        "aten::max_pool1d.default" => |_: &mut OpCtx, a: Vec<Value>| pool1d(&a, false, false),
        "aten::max_pool1d_with_indices.default" => |_: &mut OpCtx, a: Vec<Value>| pool1d(&a, false, true),
        "aten::avg_pool1d.default" => |_: &mut OpCtx, a: Vec<Value>| pool1d(&a, true, false),
        "aten::adaptive_avg_pool1d.default" => |_: &mut OpCtx, a: Vec<Value>| {
            let x = targ(&a, 0)?;
            if x.ndim() != 2 && x.ndim() != 3 { return Err(Error::runtime("adaptive_avg_pool1d expects 2-d or 3-d input")); }
            let mut s4 = x.shape().to_vec();
            s4.insert(s4.len() - 1, 1);
            let os = a.get(1).map(|v| v.as_ints()).transpose()?.unwrap_or_default();
            let [o] = os.as_slice() else { return Err(Error::runtime("adaptive_avg_pool1d: output_size must have one value")) };
            let r = adaptive_avg(&[Value::Tensor(x.reshape(s4)?), Value::List(vec![Value::Int(1), Value::Int(*o)])])?;
            let t = r[0].as_tensor()?;
            let mut s = t.shape().to_vec();
            s.remove(s.len() - 2);
            one(t.reshape(s)?)
        },
        "aten::avg_pool2d.default" => |_: &mut OpCtx, a: Vec<Value>| avg_pool(&a),
        "aten::adaptive_avg_pool2d.default" => |_: &mut OpCtx, a: Vec<Value>| adaptive_avg(&a),
        "aten::_adaptive_avg_pool2d.default" => |_: &mut OpCtx, a: Vec<Value>| adaptive_avg(&a),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::test_util::{call, il};

    #[test]
    fn pools_1d() {
        let x = Tensor::from_f32(vec![1, 1, 6], vec![1., 5., 2., 4., 3., 0.]);
        let r = call(
            "aten::max_pool1d_with_indices.default",
            vec![
                x.clone().into(),
                il(&[2]),
                il(&[]),
                il(&[0]),
                il(&[1]),
                Value::Bool(false),
            ],
        );
        assert_eq!(r[0].as_tensor().unwrap().shape(), &[1, 1, 3]);
        assert_eq!(r[0].as_tensor().unwrap().to_f32_vec(), vec![5., 4., 3.]);
        assert_eq!(r[1].as_tensor().unwrap().to_i64_vec(), vec![1, 3, 4]);
        let r = call(
            "aten::avg_pool1d.default",
            vec![
                x.clone().into(),
                il(&[3]),
                il(&[3]),
                il(&[0]),
                Value::Bool(false),
                Value::Bool(true),
            ],
        );
        assert_eq!(
            r[0].as_tensor().unwrap().to_f32_vec(),
            vec![8. / 3., 7. / 3.]
        );
        let r = call(
            "aten::adaptive_avg_pool1d.default",
            vec![x.clone().into(), il(&[2])],
        );
        assert_eq!(
            r[0].as_tensor().unwrap().to_f32_vec(),
            vec![8. / 3., 7. / 3.]
        );
        let r = call(
            "aten::pad.default",
            vec![
                x.into(),
                il(&[1, 0]),
                Value::Str("constant".into()),
                Value::Float(9.0),
            ],
        );
        assert_eq!(r[0].as_tensor().unwrap().to_f32_vec()[..2], [9., 1.]);
    }

    #[test]
    fn pools() {
        let x = Tensor::from_f32(vec![1, 1, 4, 4], (0..16).map(|v| v as f32).collect());
        let r = call(
            "aten::max_pool2d_with_indices.default",
            vec![
                x.clone().into(),
                il(&[2, 2]),
                il(&[]),
                il(&[0]),
                il(&[1]),
                Value::Bool(false),
            ],
        );
        assert_eq!(
            r[0].as_tensor().unwrap().to_f32_vec(),
            vec![5., 7., 13., 15.]
        );
        assert_eq!(r[1].as_tensor().unwrap().to_i64_vec(), vec![5, 7, 13, 15]);
        let r = call(
            "aten::avg_pool2d.default",
            vec![
                x.clone().into(),
                il(&[2, 2]),
                il(&[2, 2]),
                il(&[0, 0]),
                Value::Bool(false),
                Value::Bool(true),
                Value::None,
            ],
        );
        assert_eq!(
            r[0].as_tensor().unwrap().to_f32_vec(),
            vec![2.5, 4.5, 10.5, 12.5]
        );
        let r = call(
            "aten::adaptive_avg_pool2d.default",
            vec![x.into(), il(&[1, 1])],
        );
        assert_eq!(r[0].as_tensor().unwrap().to_f32_vec(), vec![7.5]);
    }
}
