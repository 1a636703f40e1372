//! In-place writes: `index_copy_`, `index_put_` and `copy_` (plus the functional
//! `index_copy`). They are how a graph updates session state (a KV cache) without copying
//! it: the executor moves the state tensor into the op as argument 0, the op writes the new
//! rows into that buffer and returns it, and the executor puts it back into the session.
//!
//! When argument 0 is shared (another register still reads the old values), strided or a
//! read-only weight view, the op first copies it into a buffer of its own (copy-on-write),
//! so no holder of the old value ever sees it change. [`WriteStats`] counts both the bytes
//! such copies moved and the bytes the ops wrote, so tests can show that a decode step
//! writes one token's keys and values and copies nothing.
//!
//! Every argument is validated before the first byte is written, so a failing op leaves
//! the values unchanged.

use super::index::{advanced_offsets, index_list};
use super::{arg, barg_or, dim_of, iarg, one, take_t, targ};
use crate::error::{Error, Result};
use crate::ops::registry::OpList;
use crate::ops::OpCtx;
use crate::tensor::Tensor;
use crate::value::Value;

/// Bytes moved by in-place ops since the counters were last reset.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriteStats {
    /// Bytes written into destination tensors (the rows an `index_copy_` stores).
    pub bytes_written: u64,
    /// Bytes copied because a destination could not be written in place (copy-on-write of a
    /// shared, strided or read-only tensor). Zero for a KV cache that is updated in place.
    pub bytes_copied: u64,
}

pub(crate) fn register(r: &mut OpList) {
    reg!(r,
        "aten::index_copy_.default" => index_copy_,
        "aten::index_copy.default" => index_copy_,
        "aten::index_put_.default" => index_put_,
        "aten::copy_.default" => copy_,
    );
}

/// Source bytes for a write into `dst_dtype`: contiguous little-endian, cast when needed.
fn source_bytes(src: &Tensor, dst: &Tensor, shape: &[usize]) -> Result<Vec<u8>> {
    let s = if src.dtype() == dst.dtype() {
        src.clone()
    } else {
        src.cast(dst.dtype())?
    };
    s.expand_to(shape)?.to_le_bytes()
}

/// Normalised, bounds-checked indices along a dim of size `n` (negative indices wrap).
fn checked_indices(ix: &Tensor, n: usize, what: &str) -> Result<Vec<usize>> {
    if ix.dtype().is_float() || ix.ndim() > 1 {
        return Err(Error::runtime(format!(
            "{what}: index must be a 0-d or 1-d integer tensor, got {} {:?}",
            ix.dtype().name(),
            ix.shape()
        )));
    }
    ix.i64s()?
        .iter()
        .map(|&i| {
            let j = if i < 0 { i + n as i64 } else { i };
            if j < 0 || j >= n as i64 {
                Err(Error::runtime(format!(
                    "{what}: index {i} is out of range for a dimension of size {n}"
                )))
            } else {
                Ok(j as usize)
            }
        })
        .collect()
}

/// `index_copy_(self, dim, index, source)`: `self[.., index[j], ..] = source[.., j, ..]`
/// along `dim` (one block copy per (outer index, j)). Also serves the functional
/// `index_copy`, whose argument 0 is then never the session's only reference, so the
/// copy-on-write makes it allocate its result like any functional op.
fn index_copy_(ctx: &mut OpCtx, mut args: Vec<Value>) -> Result<Vec<Value>> {
    let mut t = take_t(&mut args, 0)?;
    let src = targ(&args, 3)?;
    let ix = targ(&args, 2)?;
    if t.ndim() == 0 {
        return Err(Error::runtime(
            "index_copy_: self must have at least one dimension",
        ));
    }
    let d = dim_of(&t, iarg(&args, 1)?)?;
    let shape = t.shape().to_vec();
    let idx = checked_indices(ix, shape[d], "index_copy_")?;
    let mut want = shape.clone();
    want[d] = idx.len();
    let src_shape: Vec<usize> = if src.ndim() == 0 {
        vec![1]
    } else {
        src.shape().to_vec()
    };
    if src_shape != want {
        return Err(Error::runtime(format!(
            "index_copy_: source has shape {:?}, expected {want:?} (self {shape:?}, {} indices along dim {d})",
            src.shape(),
            idx.len()
        )));
    }
    let esize = t.dtype().size();
    let data = source_bytes(src, &t, &want)?;
    let inner: usize = shape[d + 1..].iter().product::<usize>() * esize;
    let outer: usize = shape[..d].iter().product();
    let (bytes, copied) = t.make_mut_bytes()?;
    for o in 0..outer {
        for (j, &i) in idx.iter().enumerate() {
            let dst = (o * shape[d] + i) * inner;
            let s = (o * idx.len() + j) * inner;
            bytes[dst..dst + inner].copy_from_slice(&data[s..s + inner]);
        }
    }
    ctx.writes.bytes_copied += copied as u64;
    ctx.writes.bytes_written += data.len() as u64;
    one(t)
}

/// `index_put_(self, indices, values, accumulate=False)` with numpy advanced indexing
/// (`cache[:, :, positions] = k`).
fn index_put_(ctx: &mut OpCtx, mut args: Vec<Value>) -> Result<Vec<Value>> {
    let mut t = take_t(&mut args, 0)?;
    if barg_or(&args, 3, false)? {
        return Err(Error::runtime(
            "index_put_ with accumulate=True is not supported in place",
        ));
    }
    let indices = index_list(arg(&args, 1)?)?;
    let vals = targ(&args, 2)?.clone();
    // Offsets are computed against a contiguous layout: make the buffer our own first
    // (values unchanged, so an error below still leaves them as they were).
    let (_, copied) = t.make_mut_bytes()?;
    let (offs, shape) = advanced_offsets(&t, &indices)?;
    let data = source_bytes(&vals, &t, &shape)?;
    let esize = t.dtype().size();
    let (bytes, _) = t.make_mut_bytes()?;
    for (k, &o) in offs.iter().enumerate() {
        bytes[o * esize..(o + 1) * esize].copy_from_slice(&data[k * esize..(k + 1) * esize]);
    }
    ctx.writes.bytes_copied += copied as u64;
    ctx.writes.bytes_written += data.len() as u64;
    one(t)
}

/// `copy_(self, src, non_blocking)`: every element of `self` from `src` (broadcast, cast).
fn copy_(ctx: &mut OpCtx, mut args: Vec<Value>) -> Result<Vec<Value>> {
    let mut t = take_t(&mut args, 0)?;
    let src = targ(&args, 1)?;
    let shape = t.shape().to_vec();
    let data = source_bytes(src, &t, &shape)?;
    let (bytes, copied) = t.make_mut_bytes()?;
    bytes.copy_from_slice(&data);
    ctx.writes.bytes_copied += copied as u64;
    ctx.writes.bytes_written += data.len() as u64;
    one(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(f: crate::ops::OpFn, args: Vec<Value>) -> (Result<Vec<Value>>, WriteStats) {
        let mut ctx = OpCtx::default();
        let r = f(&mut ctx, args);
        (r, ctx.writes)
    }

    #[test]
    fn index_copy_writes_rows_in_place_when_unshared() {
        let t = Tensor::from_f32(vec![1, 4, 2], vec![0.0; 8]);
        let ptr = t.data_ptr();
        let src = Tensor::from_f32(vec![1, 2, 2], vec![1.0, 2.0, 3.0, 4.0]);
        let (r, stats) = call(
            index_copy_,
            vec![
                Value::Tensor(t),
                Value::Int(1),
                Value::Tensor(Tensor::from_i64(vec![2], vec![3, 1])),
                Value::Tensor(src),
            ],
        );
        let out = r.unwrap().remove(0);
        let out = out.as_tensor().unwrap();
        assert_eq!(out.data_ptr(), ptr, "written in place");
        assert_eq!(out.to_f32_vec(), vec![0., 0., 3., 4., 0., 0., 1., 2.]);
        assert_eq!(
            stats,
            WriteStats {
                bytes_written: 16,
                bytes_copied: 0
            }
        );
    }

    #[test]
    fn shared_destination_is_copied_first_and_the_other_holder_unchanged() {
        let t = Tensor::from_f32(vec![3], vec![1.0, 2.0, 3.0]);
        let keep = t.clone();
        let (r, stats) = call(
            copy_,
            vec![
                Value::Tensor(t),
                Value::Tensor(Tensor::from_f32(vec![], vec![7.0])),
            ],
        );
        assert_eq!(
            r.unwrap()[0].as_tensor().unwrap().to_f32_vec(),
            vec![7.0; 3]
        );
        assert_eq!(keep.to_f32_vec(), vec![1.0, 2.0, 3.0]);
        assert_eq!(
            stats,
            WriteStats {
                bytes_written: 12,
                bytes_copied: 12
            }
        );
    }

    #[test]
    fn index_put_matches_slice_assignment() {
        // t[:, [2, 0]] = v
        let t = Tensor::from_f32(vec![2, 3], vec![0.0; 6]);
        let v = Tensor::from_f32(vec![2, 2], vec![1.0, 2.0, 3.0, 4.0]);
        let (r, _) = call(
            index_put_,
            vec![
                Value::Tensor(t),
                Value::List(vec![
                    Value::None,
                    Value::Tensor(Tensor::from_i64(vec![2], vec![2, 0])),
                ]),
                Value::Tensor(v),
                Value::Bool(false),
            ],
        );
        assert_eq!(
            r.unwrap()[0].as_tensor().unwrap().to_f32_vec(),
            vec![2., 0., 1., 4., 0., 3.]
        );
    }

    #[test]
    fn bad_index_or_source_is_an_error() {
        let t = || Value::Tensor(Tensor::from_f32(vec![4, 2], vec![0.0; 8]));
        let src = || Value::Tensor(Tensor::from_f32(vec![1, 2], vec![1.0, 2.0]));
        let (r, _) = call(
            index_copy_,
            vec![
                t(),
                Value::Int(0),
                Value::Tensor(Tensor::from_i64(vec![1], vec![4])),
                src(),
            ],
        );
        assert!(r.unwrap_err().to_string().contains("out of range"));
        let (r, _) = call(
            index_copy_,
            vec![
                t(),
                Value::Int(1),
                Value::Tensor(Tensor::from_i64(vec![1], vec![0])),
                src(),
            ],
        );
        assert!(r.unwrap_err().to_string().contains("source has shape"));
    }
}
