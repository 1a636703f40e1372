//! `adaptive_max_pool2d(self, output_size) -> (out, indices)` (also what
//! `adaptive_max_pool1d` lowers to): the maximum of each adaptive window of a `(N, C, H, W)`
//! or `(C, H, W)` input and its flat `h * W + w` position in the plane. NaN wins a window,
//! and ties keep the first position, as in PyTorch.

use super::pool3d::adaptive_window;
use crate::error::{Error, Result};
use crate::ops::registry::OpList;
use crate::ops::{float_out, ints, targ, zeros_for, Layout, OpCtx};
use crate::tensor::Tensor;
use crate::value::Value;

fn adaptive_max_pool2d(args: &[Value]) -> Result<Vec<Value>> {
    let op = "adaptive_max_pool2d";
    let x = targ(args, 0)?;
    let l = Layout::of(x.shape(), 2, op)?;
    let size = ints(args, 1)?;
    let [oh, ow] = match size[..] {
        [h, w] if h >= 0 && w >= 0 => [h as usize, w as usize],
        _ => {
            return Err(Error::runtime(format!(
                "{op}: output_size must be two non-negative ints, got {size:?}"
            )))
        }
    };
    let [_, ih, iw] = l.dims;
    if ih * iw == 0 && oh > 0 && ow > 0 {
        return Err(Error::runtime(format!(
            "{op}: the input {:?} is empty",
            x.shape()
        )));
    }
    let mut shape = x.shape()[..x.ndim() - 2].to_vec();
    shape.extend([oh, ow]);
    let mut out = zeros_for(&shape)?;
    let mut idx = crate::storage::try_alloc::<i64>(out.len())?;
    let v = x.contiguous()?.f64s()?;
    let mut k = 0;
    for p in 0..l.planes()? {
        let plane = &v[p * ih * iw..(p + 1) * ih * iw];
        for o_h in 0..oh {
            let (h0, h1) = adaptive_window(ih, oh, o_h);
            for o_w in 0..ow {
                let (w0, w1) = adaptive_window(iw, ow, o_w);
                let (mut best, mut at) = (f64::NEG_INFINITY, h0 * iw + w0);
                'win: for h in h0..h1 {
                    for w in w0..w1 {
                        let e = plane[h * iw + w];
                        if e > best || e.is_nan() {
                            (best, at) = (e, h * iw + w);
                            if e.is_nan() {
                                break 'win;
                            }
                        }
                    }
                }
                (out[k], idx[k]) = (best, at as i64);
                k += 1;
            }
        }
    }
    Ok(vec![
        Tensor::from_f64_as(float_out(x), shape.clone(), out).into(),
        Tensor::from_i64(shape, idx).into(),
    ])
}

/// Register the op.
pub(crate) fn register(r: &mut OpList) {
    reg!(r,
        "aten::adaptive_max_pool2d.default" => |_: &mut OpCtx, a: Vec<Value>| adaptive_max_pool2d(&a),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::test_util::try_call_ts;

    #[test]
    fn windows_and_indices() {
        // 1 x 3 x 4 plane, output 2 x 2: windows rows [0,2)/[1,3), cols [0,2)/[2,4).
        let x = Tensor::from_f32(
            vec![1, 3, 4],
            vec![
                1.0,
                5.0,
                2.0,
                0.0,
                3.0,
                4.0,
                9.0,
                9.0,
                0.0,
                6.0,
                f32::NAN,
                1.0,
            ],
        );
        let size = Value::List(vec![Value::Int(2), Value::Int(2)]);
        let r = try_call_ts("aten::adaptive_max_pool2d.default", vec![x.into(), size]).unwrap();
        let v = r[0].to_f32_vec();
        assert_eq!(&v[..3], &[5.0, 9.0, 6.0]);
        assert!(v[3].is_nan());
        assert_eq!(r[1].to_i64_vec(), vec![1, 6, 9, 10]);
    }
}
