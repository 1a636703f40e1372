//! Batches of dense matrices for the factorizations: a tensor `[*batch, rows, cols]` read
//! into one contiguous row-major f64 buffer (f32 inputs are factored in f64 too, which keeps
//! their results within f32 rounding of LAPACK's), and the helpers that turn f64 results
//! back into tensors of the input's float dtype.

use crate::error::{Error, Result};
use crate::ops::broadcast_shapes;
use crate::storage::try_alloc;
use crate::tensor::{checked_numel, DType, Tensor};
use crate::value::Value;

/// A batch of `count()` matrices of `rows × cols`, row-major, one after the other.
#[derive(Clone, Debug)]
pub(crate) struct Mats {
    /// The leading (batch) dims.
    pub batch: Vec<usize>,
    /// Rows of each matrix.
    pub rows: usize,
    /// Columns of each matrix.
    pub cols: usize,
    /// All elements, batch-major.
    pub data: Vec<f64>,
    /// The float dtype results take (the input's, or f32 for integer inputs).
    pub dtype: DType,
}

impl Mats {
    /// Read `t` (at least 2-d) as a batch of matrices; `op` names the op in errors.
    pub(crate) fn of(t: &Tensor, op: &str) -> Result<Mats> {
        if t.ndim() < 2 {
            return Err(Error::runtime(format!(
                "{op}: expected a tensor of at least 2 dims, got {:?}",
                t.shape()
            )));
        }
        let nd = t.ndim();
        Ok(Mats {
            batch: t.shape()[..nd - 2].to_vec(),
            rows: t.shape()[nd - 2],
            cols: t.shape()[nd - 1],
            data: t.f64s()?,
            dtype: if t.dtype() == DType::F64 {
                DType::F64
            } else {
                DType::F32
            },
        })
    }

    /// Read `t` as a batch of square matrices.
    pub(crate) fn square(t: &Tensor, op: &str) -> Result<Mats> {
        let m = Mats::of(t, op)?;
        if m.rows != m.cols {
            return Err(Error::runtime(format!(
                "{op}: A must be batches of square matrices, but they are {} by {} matrices",
                m.rows, m.cols
            )));
        }
        Ok(m)
    }

    /// The number of matrices.
    pub(crate) fn count(&self) -> usize {
        self.batch.iter().product()
    }

    /// Elements per matrix.
    pub(crate) fn size(&self) -> usize {
        self.rows * self.cols
    }

    /// Matrix `i`.
    pub(crate) fn mat(&self, i: usize) -> &[f64] {
        &self.data[i * self.size()..(i + 1) * self.size()]
    }

    /// Matrix `i`, mutable.
    pub(crate) fn mat_mut(&mut self, i: usize) -> &mut [f64] {
        let s = self.size();
        &mut self.data[i * s..(i + 1) * s]
    }

    /// Every matrix transposed (a new batch of `cols × rows`).
    pub(crate) fn transposed(&self) -> Mats {
        let (r, c) = (self.rows, self.cols);
        let mut data = vec![0.0; self.data.len()];
        for b in 0..self.count() {
            let (src, dst) = (self.mat(b), &mut data[b * r * c..(b + 1) * r * c]);
            for i in 0..r {
                for j in 0..c {
                    dst[j * r + i] = src[i * c + j];
                }
            }
        }
        Mats {
            batch: self.batch.clone(),
            rows: c,
            cols: r,
            data,
            dtype: self.dtype,
        }
    }

    /// This batch as a tensor of its dtype.
    pub(crate) fn into_tensor(self) -> Tensor {
        let shape = shape_of(&self.batch, &[self.rows, self.cols]);
        Tensor::from_f64_as(self.dtype, shape, self.data)
    }
}

/// `batch ++ tail`.
pub(crate) fn shape_of(batch: &[usize], tail: &[usize]) -> Vec<usize> {
    let mut s = batch.to_vec();
    s.extend_from_slice(tail);
    s
}

/// A zeroed f64 buffer for `batch ++ tail` (checked size).
pub(crate) fn zeros(batch: &[usize], tail: &[usize]) -> Result<Vec<f64>> {
    try_alloc::<f64>(checked_numel(&shape_of(batch, tail))?)
}

/// f64 values as a tensor of `dtype` with shape `batch ++ tail`.
pub(crate) fn tensor(dtype: DType, batch: &[usize], tail: &[usize], v: Vec<f64>) -> Value {
    Tensor::from_f64_as(dtype, shape_of(batch, tail), v).into()
}

/// i32 values (pivots, info) as an int32 tensor of shape `batch ++ tail`.
pub(crate) fn int32(batch: &[usize], tail: &[usize], v: Vec<i32>) -> Value {
    Tensor::from_i32(shape_of(batch, tail), v).into()
}

/// An empty (shape `[0]`) tensor: the placeholder PyTorch returns for outputs it was told
/// not to compute.
pub(crate) fn empty(dtype: DType) -> Value {
    Tensor::from_f64_as(dtype, vec![0], vec![]).into()
}

/// Broadcast the batch dims of `a` and `b` (both at least 2-d) and read both as batches of
/// matrices with that common batch.
pub(crate) fn broadcast_pair(a: &Tensor, b: &Tensor, op: &str) -> Result<(Mats, Mats)> {
    if a.ndim() < 2 || b.ndim() < 2 {
        return Err(Error::runtime(format!(
            "{op}: expected matrices, got {:?} and {:?}",
            a.shape(),
            b.shape()
        )));
    }
    let (na, nb) = (a.ndim(), b.ndim());
    let batch = broadcast_shapes(&a.shape()[..na - 2], &b.shape()[..nb - 2])?;
    let ea = a.expand_to(&shape_of(&batch, &a.shape()[na - 2..]))?;
    let eb = b.expand_to(&shape_of(&batch, &b.shape()[nb - 2..]))?;
    let (mut ma, mut mb) = (Mats::of(&ea, op)?, Mats::of(&eb, op)?);
    let dt = if ma.dtype == DType::F64 || mb.dtype == DType::F64 {
        DType::F64
    } else {
        DType::F32
    };
    ma.dtype = dt;
    mb.dtype = dt;
    Ok((ma, mb))
}

/// `a[m×k] · b[k×n]` for row-major slices.
pub(crate) fn matmul(a: &[f64], b: &[f64], m: usize, k: usize, n: usize) -> Vec<f64> {
    let mut c = vec![0.0; m * n];
    for i in 0..m {
        for p in 0..k {
            let x = a[i * k + p];
            if x == 0.0 {
                continue;
            }
            for j in 0..n {
                c[i * n + j] += x * b[p * n + j];
            }
        }
    }
    c
}

/// The `n × n` identity.
pub(crate) fn identity(n: usize) -> Vec<f64> {
    let mut v = vec![0.0; n * n];
    for i in 0..n {
        v[i * n + i] = 1.0;
    }
    v
}

/// Transpose of a row-major `r × c` slice.
pub(crate) fn transpose(a: &[f64], r: usize, c: usize) -> Vec<f64> {
    let mut t = vec![0.0; r * c];
    for i in 0..r {
        for j in 0..c {
            t[j * r + i] = a[i * c + j];
        }
    }
    t
}
