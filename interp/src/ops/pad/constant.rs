//! Constant padding (`constant_pad_nd`) and `aten::pad`, which dispatches its modes to the
//! constant, reflection and replication ops.

use crate::error::{Error, Result};
use crate::ops::registry::OpList;
use crate::ops::OpCtx;
use crate::ops::{arg, ints, one, opt, targ};
use crate::tensor::Tensor;
use crate::value::Value;

/// pad(self, pad, mode, value): constant mode here; reflect and replicate run the dedicated
/// reflection/replication ops.
fn pad(args: Vec<Value>) -> Result<Vec<Value>> {
    match opt(&args, 2) {
        Value::None => {}
        Value::Str(m) if m == "constant" => {}
        // TorchScript records `F.pad(mode="reflect"|"replicate")` as aten::pad; torch.export
        // names the dedicated ops, which run the same code here.
        Value::Str(m) if m == "reflect" || m == "replicate" => {
            let padding = ints(&args, 1)?;
            if padding.is_empty() || padding.len() % 2 != 0 || padding.len() > 6 {
                return Err(Error::runtime(format!(
                    "pad mode '{m}' takes 2, 4 or 6 padding values, got {}",
                    padding.len()
                )));
            }
            let spatial = padding.len() / 2;
            let family = if m == "reflect" {
                "reflection"
            } else {
                "replication"
            };
            let name = format!("aten::{family}_pad{spatial}d.default");
            let f = crate::ops::registry::lookup(&name)
                .ok_or_else(|| Error::runtime(format!("internal: {name} missing")))?;
            return f(
                &mut OpCtx::default(),
                vec![arg(&args, 0)?.clone(), arg(&args, 1)?.clone()],
            );
        }
        Value::Str(m) => return Err(Error::runtime(format!("pad mode '{m}' is not supported"))),
        v => {
            return Err(Error::runtime(format!(
                "pad mode must be a string, got {}",
                v.type_name()
            )))
        }
    }
    let f = crate::ops::registry::lookup("aten::constant_pad_nd.default")
        .ok_or_else(|| Error::runtime("internal: constant_pad_nd missing"))?;
    let value = match opt(&args, 3) {
        Value::None => Value::Float(0.0),
        v => v.clone(),
    };
    f(
        &mut OpCtx::default(),
        vec![arg(&args, 0)?.clone(), arg(&args, 1)?.clone(), value],
    )
}

fn pad_copy<T: Copy>(src: &[T], ishape: &[usize], dst: &mut [T], oshape: &[usize], off: &[usize]) {
    // recursive over dims; off = destination offset of the source block per dim
    fn rec<T: Copy>(src: &[T], is: &[usize], dst: &mut [T], os: &[usize], off: &[usize]) {
        if is.len() == 1 {
            dst[off[0]..off[0] + is[0]].copy_from_slice(&src[..is[0]]);
            return;
        }
        let ib: usize = is[1..].iter().product();
        let ob: usize = os[1..].iter().product();
        for i in 0..is[0] {
            rec(
                &src[i * ib..(i + 1) * ib],
                &is[1..],
                &mut dst[(i + off[0]) * ob..(i + off[0] + 1) * ob],
                &os[1..],
                &off[1..],
            );
        }
    }
    if ishape.is_empty() {
        dst[0] = src[0];
    } else if !ishape.contains(&0) {
        rec(src, ishape, dst, oshape, off);
    }
}

fn constant_pad(args: Vec<Value>) -> Result<Vec<Value>> {
    let mut t = targ(&args, 0)?.clone();
    let pad = ints(&args, 1)?;
    let value = match opt(&args, 2) {
        Value::None => 0.0,
        v => v.as_f64()?,
    };
    if pad.len() % 2 != 0 || pad.len() / 2 > t.ndim() {
        return Err(Error::runtime(format!(
            "pad {pad:?} invalid for a {}-d tensor",
            t.ndim()
        )));
    }
    let nd = t.ndim();
    // negative pads crop first
    for (k, pair) in pad.chunks(2).enumerate() {
        let d = nd - 1 - k;
        let (lo, hi) = (pair[0], pair[1]);
        if lo < 0 || hi < 0 {
            let n = t.shape()[d] as i64;
            // Saturating: a pad of i64::MIN crops "everything" and is refused below.
            let s = lo.saturating_neg().max(0);
            let e = n.saturating_sub(hi.saturating_neg().max(0));
            if e < s {
                return Err(Error::runtime(
                    "pad: negative padding removes the whole dim",
                ));
            }
            t = t.slice(d, Some(s), Some(e), 1)?;
        }
    }
    let mut oshape = t.shape().to_vec();
    let mut off = vec![0usize; nd];
    for (k, pair) in pad.chunks(2).enumerate() {
        let d = nd - 1 - k;
        let (lo, hi) = (pair[0].max(0) as usize, pair[1].max(0) as usize);
        oshape[d] += lo + hi;
        off[d] = lo;
    }
    let out = Tensor::full(t.dtype(), oshape.clone(), value)?;
    let dtype = t.dtype();
    let r = crate::with_elem!(dtype, T => {
        let src = t.data::<T>()?;
        let mut dst = out.data::<T>()?.into_owned();
        pad_copy(&src, t.shape(), &mut dst, &oshape, &off);
        Tensor::from_vec(dtype, oshape.clone(), dst)
    });
    one(r)
}

pub(crate) fn register(r: &mut OpList) {
    reg!(r,
        "aten::pad.default" => |_: &mut OpCtx, a: Vec<Value>| pad(a),
        "aten::constant_pad_nd.default" => |_: &mut OpCtx, a| constant_pad(a),
    );
}
