//! Reflection and replication padding (`reflection_pad{1,2,3}d`, `replication_pad{2,3}d`).
//!
//! Both only move elements, so they work on raw element bytes and keep any dtype. Each
//! spatial dim gets an output→input index map; the maps are then applied plane by plane.

use crate::error::{Error, Result};
use crate::ops::registry::OpList;
use crate::ops::Layout;
use crate::ops::OpCtx;
use crate::ops::{ints, one, targ};
use crate::storage::try_alloc;
use crate::tensor::{checked_numel, Tensor};
use crate::value::Value;

/// How out-of-range coordinates are brought back inside the input.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    /// Mirror without repeating the edge: `[a b c]` → `c b | a b c | b a`.
    Reflect,
    /// Repeat the edge: `[a b c]` → `a a | a b c | c c`.
    Replicate,
}

/// The input index of every output index along one dim padded by (`left`, `right`), either
/// of which may be negative (cropping), like PyTorch.
fn index_map(input: usize, left: i64, right: i64, mode: Mode, op: &str) -> Result<Vec<usize>> {
    let size = input as i64;
    if mode == Mode::Reflect && (left >= size || right >= size) {
        return Err(Error::runtime(format!(
            "{op}: padding ({left}, {right}) should be less than the input dimension {input}"
        )));
    }
    if mode == Mode::Replicate && input == 0 {
        return Err(Error::runtime(format!(
            "{op}: cannot replicate-pad an empty dimension"
        )));
    }
    let out = size
        .checked_add(left)
        .and_then(|v| v.checked_add(right))
        .filter(|&v| v >= 1)
        .ok_or_else(|| {
            Error::runtime(format!(
                "{op}: input dimension {input} padded by ({left}, {right}) leaves no output"
            ))
        })?;
    let out = usize::try_from(out).map_err(|_| Error::oom(format!("{op}: output too large")))?;
    // An index map is never longer than the output's dim, which must fit in memory too.
    if out > crate::storage::MAX_TENSOR_BYTES / std::mem::size_of::<usize>() {
        return Err(Error::oom(format!(
            "{op}: output dimension {out} is too large"
        )));
    }
    let mut map = Vec::new();
    map.try_reserve_exact(out)
        .map_err(|_| Error::oom(format!("{op}: output dimension {out} is too large")))?;
    map.resize(out, 0usize);
    for (o, m) in map.iter_mut().enumerate() {
        let i = o as i64 - left;
        let j = match mode {
            Mode::Reflect if i < 0 => -i,
            Mode::Reflect if i >= size => 2 * (size - 1) - i,
            Mode::Reflect => i,
            Mode::Replicate => i.clamp(0, size - 1),
        };
        // Guaranteed by the checks above; kept as an error rather than an OOB read.
        if !(0..size).contains(&j) {
            return Err(Error::runtime(format!(
                "{op}: padding ({left}, {right}) too large for dimension {input}"
            )));
        }
        *m = j as usize;
    }
    Ok(map)
}

/// Pad the last `spatial` dims of `x` by `padding` (pairs for the last dim first).
fn pad(x: &Tensor, padding: &[i64], spatial: usize, mode: Mode, op: &str) -> Result<Tensor> {
    if padding.len() != 2 * spatial {
        return Err(Error::runtime(format!(
            "{op}: padding must have {} values, got {padding:?}",
            2 * spatial
        )));
    }
    let l = Layout::of(x.shape(), spatial, op)?;
    let mut maps: [Vec<usize>; 3] = [vec![0], vec![0], vec![0]];
    for d in 0..spatial {
        // padding[2d..2d+2] pads the d-th dim counted from the last one.
        let axis = 2 - d;
        maps[axis] = index_map(l.dims[axis], padding[2 * d], padding[2 * d + 1], mode, op)?;
    }
    let out_dims = [maps[0].len(), maps[1].len(), maps[2].len()];
    let shape = l.shape_with(out_dims, spatial);
    let size = x.dtype().size();
    let numel = checked_numel(&shape)?;
    let bytes_len = numel
        .checked_mul(size)
        .ok_or_else(|| Error::oom(format!("{op}: output too large")))?;
    let mut out = try_alloc::<u8>(bytes_len)?;
    let src = x.to_le_bytes()?;
    let [id, ih, iw] = l.dims;
    let mut w = 0;
    for p in 0..l.planes()? {
        for &zd in &maps[0] {
            for &zh in &maps[1] {
                let row = ((p * id + zd) * ih + zh) * iw;
                for &zw in &maps[2] {
                    let s = (row + zw) * size;
                    out[w..w + size].copy_from_slice(&src[s..s + size]);
                    w += size;
                }
            }
        }
    }
    Tensor::from_le_bytes(x.dtype(), shape, &out)
}

fn pad_op(args: &[Value], spatial: usize, mode: Mode, op: &str) -> Result<Vec<Value>> {
    one(pad(targ(args, 0)?, &ints(args, 1)?, spatial, mode, op)?)
}

/// Register the padding ops.
pub(crate) fn register(r: &mut OpList) {
    reg!(r,
        "aten::reflection_pad1d.default" => |_: &mut OpCtx, a: Vec<Value>| pad_op(&a, 1, Mode::Reflect, "reflection_pad1d"),
        "aten::reflection_pad2d.default" => |_: &mut OpCtx, a: Vec<Value>| pad_op(&a, 2, Mode::Reflect, "reflection_pad2d"),
        "aten::reflection_pad3d.default" => |_: &mut OpCtx, a: Vec<Value>| pad_op(&a, 3, Mode::Reflect, "reflection_pad3d"),
        "aten::replication_pad1d.default" => |_: &mut OpCtx, a: Vec<Value>| pad_op(&a, 1, Mode::Replicate, "replication_pad1d"),
        "aten::replication_pad2d.default" => |_: &mut OpCtx, a: Vec<Value>| pad_op(&a, 2, Mode::Replicate, "replication_pad2d"),
        "aten::replication_pad3d.default" => |_: &mut OpCtx, a: Vec<Value>| pad_op(&a, 3, Mode::Replicate, "replication_pad3d"),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reflect_and_replicate_one_row() {
        let x = Tensor::from_i64(vec![1, 4], vec![1, 2, 3, 4]);
        let r = pad(&x, &[2, 1], 1, Mode::Reflect, "t").unwrap();
        assert_eq!(r.to_i64_vec(), vec![3, 2, 1, 2, 3, 4, 3]);
        let r = pad(&x, &[2, 1], 1, Mode::Replicate, "t").unwrap();
        assert_eq!(r.to_i64_vec(), vec![1, 1, 1, 2, 3, 4, 4]);
        // negative padding crops
        let r = pad(&x, &[-1, 2], 1, Mode::Reflect, "t").unwrap();
        assert_eq!(r.to_i64_vec(), vec![2, 3, 4, 3, 2]);
        // reflect padding must be smaller than the dim
        assert!(pad(&x, &[4, 0], 1, Mode::Reflect, "t").is_err());
        assert!(pad(&x, &[-5, 0], 1, Mode::Replicate, "t").is_err());
        assert!(pad(&x, &[1 << 40, 0], 1, Mode::Replicate, "t").is_err());
    }

    #[test]
    fn two_dims() {
        let x = Tensor::from_f32(vec![1, 2, 2], vec![1., 2., 3., 4.]);
        let r = pad(&x, &[1, 0, 0, 1], 2, Mode::Replicate, "t").unwrap();
        assert_eq!(r.shape(), &[1, 3, 3]);
        assert_eq!(r.to_f32_vec(), vec![1., 1., 2., 3., 3., 4., 3., 3., 4.]);
    }
}
