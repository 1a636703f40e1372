//! Channel-first input layouts (batched `(N, C, *)` or unbatched `(C, *)`) and the f64
//! output helpers of the reference spatial ops (padding, 3-d pooling, pooling and
//! convolution backward, fold, sampling, distances). These ops are not hot paths: they
//! compute in f64 on contiguous copies and convert back to the input's float dtype at the
//! end.

use crate::error::{Error, Result};
use crate::storage::try_alloc;
use crate::tensor::{checked_numel, DType, Tensor};
use crate::value::Value;

/// The dtype a float-valued op returns for `t`: its own when floating, else f32.
pub(crate) fn float_out(t: &Tensor) -> DType {
    if t.dtype().is_float() {
        t.dtype()
    } else {
        DType::F32
    }
}

/// A zeroed f64 buffer for an output of `shape` (checked size: hostile shapes give
/// `OutOfMemory`, not an abort).
pub(crate) fn zeros_for(shape: &[usize]) -> Result<Vec<f64>> {
    try_alloc::<f64>(checked_numel(shape)?)
}

/// A channel-first input with `spatial` trailing dims, batched `(N, C, *)` or unbatched
/// `(C, *)`.
#[derive(Clone, Debug)]
pub(crate) struct Layout {
    /// Batch size (1 when unbatched).
    pub n: usize,
    /// Channels.
    pub c: usize,
    /// The spatial dims, left-padded with 1s to three (so one 3-d loop serves 1/2/3-d).
    pub dims: [usize; 3],
    /// Whether the input had a batch dim.
    pub batched: bool,
}

impl Layout {
    /// Split `shape` into batch, channels and `spatial` dims; `op` names the caller in errors.
    pub(crate) fn of(shape: &[usize], spatial: usize, op: &str) -> Result<Layout> {
        let batched = shape.len() == spatial + 2;
        if !batched && shape.len() != spatial + 1 {
            return Err(Error::runtime(format!(
                "{op}: expected a {}-d or {}-d input, got {shape:?}",
                spatial + 1,
                spatial + 2
            )));
        }
        let (n, rest) = if batched {
            (shape[0], &shape[1..])
        } else {
            (1, shape)
        };
        let mut dims = [1; 3];
        dims[3 - spatial..].copy_from_slice(&rest[1..]);
        Ok(Layout {
            n,
            c: rest[0],
            dims,
            batched,
        })
    }

    /// The shape of an output with the same batch/channel layout and spatial dims `out`
    /// (the last `spatial` of the three).
    pub(crate) fn shape_with(&self, out: [usize; 3], spatial: usize) -> Vec<usize> {
        let mut s = Vec::with_capacity(spatial + 2);
        if self.batched {
            s.push(self.n);
        }
        s.push(self.c);
        s.extend_from_slice(&out[3 - spatial..]);
        s
    }

    /// Number of (batch, channel) planes (checked: an empty tensor may have huge batch
    /// and channel dims whose product overflows).
    pub(crate) fn planes(&self) -> Result<usize> {
        checked_numel(&[self.n, self.c])
    }
}

/// A float tensor of `dtype` from f64 values.
pub(crate) fn tensor_f64(dtype: DType, shape: Vec<usize>, v: Vec<f64>) -> Value {
    Value::Tensor(Tensor::from_f64_as(dtype, shape, v))
}

/// One return of a backward op with an `output_mask`: the gradient as a `dtype` tensor
/// when its mask bit is set, `None` (what PyTorch returns) when it is not.
pub(crate) fn masked_grad(on: bool, dtype: DType, shape: &[usize], v: Vec<f64>) -> Value {
    if on {
        tensor_f64(dtype, shape.to_vec(), v)
    } else {
        Value::None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts() {
        let l = Layout::of(&[2, 3, 4, 5], 2, "t").unwrap();
        assert_eq!((l.n, l.c, l.dims, l.batched), (2, 3, [1, 4, 5], true));
        assert_eq!(l.shape_with([1, 7, 8], 2), vec![2, 3, 7, 8]);
        let l = Layout::of(&[3, 4, 5], 2, "t").unwrap();
        assert!(!l.batched);
        assert_eq!(l.shape_with([1, 7, 8], 2), vec![3, 7, 8]);
        assert!(Layout::of(&[5], 2, "t").is_err());
    }
}
