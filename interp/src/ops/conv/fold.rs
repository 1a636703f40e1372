//! `col2im` (`F.fold`): sums sliding-window columns `(N, C*kh*kw, L)` back into images
//! `(N, C, H, W)`; overlapping windows add up.

use crate::error::{Error, Result};
use crate::ops::registry::OpList;
use crate::ops::targ;
use crate::ops::OpCtx;
use crate::ops::{float_out, per_dim, tensor_f64, zeros_for};
use crate::value::Value;

/// Two positive/non-negative ints of a `col2im` parameter.
fn two(args: &[Value], i: usize, min: i64, what: &str) -> Result<[usize; 2]> {
    let v = per_dim(args, i, 2, -1, 1, what)?;
    let (a, b) = (v[1], v[2]);
    if a < min || b < min || a > i64::from(i32::MAX) || b > i64::from(i32::MAX) {
        return Err(Error::runtime(format!(
            "col2im: {what} must be at least {min} (and fit in 32 bits), got [{a}, {b}]"
        )));
    }
    Ok([a as usize, b as usize])
}

/// col2im(self, output_size, kernel_size, dilation, padding, stride)
fn col2im(args: &[Value]) -> Result<Vec<Value>> {
    let x = targ(args, 0)?;
    let size = two(args, 1, 0, "output_size")?;
    let kernel = two(args, 2, 1, "kernel_size")?;
    let dilation = two(args, 3, 1, "dilation")?;
    let padding = two(args, 4, 0, "padding")?;
    let stride = two(args, 5, 1, "stride")?;
    let batched = x.ndim() == 3;
    if !batched && x.ndim() != 2 {
        return Err(Error::runtime(format!(
            "col2im: expected a 2-d or 3-d input, got {:?}",
            x.shape()
        )));
    }
    let s = x.shape();
    let (n, rows, cols) = if batched {
        (s[0], s[1], s[2])
    } else {
        (1, s[0], s[1])
    };
    let kk = kernel[0] as u128 * kernel[1] as u128;
    if rows as u128 % kk != 0 {
        return Err(Error::runtime(format!(
            "col2im: input dim 1 ({rows}) is not divisible by the kernel size product {kk}"
        )));
    }
    let (kk, c) = (kk as usize, rows / kk as usize);
    // blocks along each dim: (size + 2p - d(k-1) - 1) / s + 1, all in i128 (no overflow)
    let mut blocks = [0usize; 2];
    for i in 0..2 {
        let span = size[i] as i128 + 2 * padding[i] as i128
            - dilation[i] as i128 * (kernel[i] as i128 - 1)
            - 1;
        if span < 0 {
            return Err(Error::runtime(format!(
                "col2im: output size {size:?} is too small for kernel {kernel:?} with \
                 dilation {dilation:?} and padding {padding:?}"
            )));
        }
        blocks[i] = (span / stride[i] as i128 + 1) as usize;
    }
    if blocks[0] as u128 * blocks[1] as u128 != cols as u128 {
        return Err(Error::runtime(format!(
            "col2im: expected {} blocks ({blocks:?}) for output size {size:?}, got {cols}",
            blocks[0] as u128 * blocks[1] as u128
        )));
    }
    let mut shape = vec![n, c, size[0], size[1]];
    let mut out = zeros_for(&shape)?;
    if out.is_empty() || x.numel() == 0 {
        // nothing to add (and an empty input may have huge leading dims: no loops over them)
        if !batched {
            shape.remove(0);
        }
        return Ok(vec![tensor_f64(float_out(x), shape, out)]);
    }
    let xv = x.f64s()?;
    let plane = size[0] * size[1];
    for b in 0..n {
        for ch in 0..c {
            let dst = &mut out[(b * c + ch) * plane..(b * c + ch + 1) * plane];
            for ki in 0..kk {
                let (kh, kw) = (ki / kernel[1], ki % kernel[1]);
                let row = &xv[((b * c + ch) * kk + ki) * cols..][..cols];
                for bh in 0..blocks[0] {
                    let h = bh as i64 * stride[0] as i64 + kh as i64 * dilation[0] as i64
                        - padding[0] as i64;
                    if h < 0 || h >= size[0] as i64 {
                        continue;
                    }
                    for bw in 0..blocks[1] {
                        let w = bw as i64 * stride[1] as i64 + kw as i64 * dilation[1] as i64
                            - padding[1] as i64;
                        if w >= 0 && w < size[1] as i64 {
                            dst[h as usize * size[1] + w as usize] += row[bh * blocks[1] + bw];
                        }
                    }
                }
            }
        }
    }
    if !batched {
        shape.remove(0);
    }
    Ok(vec![tensor_f64(float_out(x), shape, out)])
}

/// Register `col2im`.
pub(crate) fn register(r: &mut OpList) {
    reg!(r,
        "aten::col2im.default" => |_: &mut OpCtx, a: Vec<Value>| col2im(&a),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::test_util::il;
    use crate::tensor::Tensor;

    #[test]
    fn overlapping_windows_add() {
        // 1 channel, kernel (1, 2), stride 1 over a 1x3 output: 2 blocks
        let x = Tensor::from_f32(vec![1, 2, 2], vec![1., 2., 10., 20.]);
        let r = col2im(&[
            x.into(),
            il(&[1, 3]),
            il(&[1, 2]),
            il(&[1, 1]),
            il(&[0, 0]),
            il(&[1, 1]),
        ])
        .unwrap();
        let t = r[0].as_tensor().unwrap();
        assert_eq!(t.shape(), &[1, 1, 1, 3]);
        assert_eq!(t.to_f32_vec(), vec![1., 12., 20.]);
    }

    #[test]
    fn wrong_block_count_is_an_error() {
        let x = Tensor::from_f32(vec![1, 2, 3], vec![0.; 6]);
        let args = [
            x.into(),
            il(&[1, 3]),
            il(&[1, 2]),
            il(&[1, 1]),
            il(&[0, 0]),
            il(&[1, 1]),
        ];
        assert!(col2im(&args).is_err());
    }
}
