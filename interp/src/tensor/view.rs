//! View helpers on [`Tensor`] that many op families share: reshape, permute, transpose,
//! (un)squeeze, slice, select, broadcast expansion (all views, no copy, except a reshape of
//! non-contiguous data) and `cat` (a copy). The ops that expose them live in `ops/shape`.

use crate::error::{Error, Result};
use crate::ops::{norm_dim, promote};
use crate::storage::Elem;
use crate::tensor::{checked_numel, contiguous_strides, DType, Tensor};

impl Tensor {
    /// `t` with a new shape (a view when contiguous, else a copy).
    pub(crate) fn reshape(&self, shape: Vec<usize>) -> Result<Tensor> {
        if checked_numel(&shape)? != self.numel() {
            return Err(Error::runtime(format!(
                "cannot reshape {:?} to {shape:?}",
                self.shape()
            )));
        }
        let c = self.contiguous()?;
        let strides = contiguous_strides(&shape);
        Ok(c.view_with(shape, strides, c.offset()))
    }

    pub(crate) fn permute(&self, dims: &[i64]) -> Result<Tensor> {
        if dims.len() != self.ndim() {
            return Err(Error::runtime(format!(
                "permute {dims:?} of a {}-d tensor",
                self.ndim()
            )));
        }
        let mut seen = vec![false; self.ndim()];
        let mut shape = Vec::with_capacity(dims.len());
        let mut strides = Vec::with_capacity(dims.len());
        for &d in dims {
            let d = norm_dim(d, self.ndim())?;
            if std::mem::replace(&mut seen[d], true) {
                return Err(Error::runtime(format!("permute: repeated dim in {dims:?}")));
            }
            shape.push(self.shape()[d]);
            strides.push(self.strides()[d]);
        }
        Ok(self.view_with(shape, strides, self.offset()))
    }

    pub(crate) fn transpose(&self, a: i64, b: i64) -> Result<Tensor> {
        if self.ndim() == 0 {
            return Ok(self.clone());
        }
        let a = norm_dim(a, self.ndim())?;
        let b = norm_dim(b, self.ndim())?;
        let mut shape = self.shape().to_vec();
        let mut strides = self.strides().to_vec();
        shape.swap(a, b);
        strides.swap(a, b);
        Ok(self.view_with(shape, strides, self.offset()))
    }

    pub(crate) fn unsqueeze(&self, d: i64) -> Result<Tensor> {
        let d = norm_dim(d, self.ndim() + 1)?;
        let mut shape = self.shape().to_vec();
        let mut strides = self.strides().to_vec();
        let st = if d < self.ndim() {
            strides[d] * shape[d]
        } else {
            1
        };
        shape.insert(d, 1);
        strides.insert(d, st);
        Ok(self.view_with(shape, strides, self.offset()))
    }

    /// Python-style slice of one dim (negative and out-of-range bounds clamp).
    pub(crate) fn slice(
        &self,
        dim: usize,
        start: Option<i64>,
        end: Option<i64>,
        step: i64,
    ) -> Result<Tensor> {
        if step <= 0 {
            return Err(Error::runtime(format!(
                "slice step must be positive, got {step}"
            )));
        }
        let n = self.shape()[dim] as i64;
        let clamp = |v: i64| {
            let v = if v < 0 { v + n } else { v };
            v.clamp(0, n)
        };
        let s = clamp(start.unwrap_or(0));
        let e = clamp(end.unwrap_or(n)).max(s);
        let len = ((e - s) + step - 1) / step;
        let mut shape = self.shape().to_vec();
        let mut strides = self.strides().to_vec();
        let offset = self.offset() + s as usize * strides[dim];
        shape[dim] = len as usize;
        strides[dim] *= step as usize;
        Ok(self.view_with(
            shape,
            strides,
            if len == 0 { self.offset() } else { offset },
        ))
    }

    pub(crate) fn select(&self, dim: i64, index: i64) -> Result<Tensor> {
        if self.ndim() == 0 {
            return Err(Error::runtime("select on a 0-d tensor"));
        }
        let d = norm_dim(dim, self.ndim())?;
        let n = self.shape()[d] as i64;
        let i = if index < 0 { index + n } else { index };
        if i < 0 || i >= n {
            return Err(Error::runtime(format!(
                "index {index} out of range for dim {d} of size {n}"
            )));
        }
        let mut shape = self.shape().to_vec();
        let mut strides = self.strides().to_vec();
        let offset = self.offset() + i as usize * strides[d];
        shape.remove(d);
        strides.remove(d);
        Ok(self.view_with(shape, strides, offset))
    }

    pub(crate) fn cat(ts: &[Tensor], dim: i64) -> Result<Tensor> {
        // legacy rule: 1-d empty tensors are skipped
        let ts: Vec<&Tensor> = ts
            .iter()
            .filter(|t| !(t.ndim() == 1 && t.numel() == 0))
            .collect();
        let Some(first) = ts.first() else {
            return Ok(Tensor::from_f32(vec![0], vec![]));
        };
        if first.ndim() == 0 {
            return Err(Error::runtime(
                "cat: zero-dimensional tensors cannot be concatenated",
            ));
        }
        let d = norm_dim(dim, first.ndim())?;
        let dtype = ts.iter().map(|t| t.dtype()).fold(first.dtype(), promote);
        let mut shape = first.shape().to_vec();
        shape[d] = 0;
        for t in &ts {
            if t.ndim() != first.ndim()
                || t.shape()
                    .iter()
                    .zip(first.shape())
                    .enumerate()
                    .any(|(i, (a, b))| i != d && a != b)
            {
                return Err(Error::runtime(format!(
                    "cat: shapes {:?} and {:?} differ outside dim {d}",
                    first.shape(),
                    t.shape()
                )));
            }
            shape[d] += t.shape()[d];
        }
        let cast: Vec<Tensor> = ts.iter().map(|t| t.cast(dtype)).collect::<Result<_>>()?;
        crate::with_elem!(dtype, T => cat_typed::<T>(&cast, d, dtype, shape))
    }

    /// A view of `t` broadcast to `shape` (stride 0 along expanded dims).
    pub(crate) fn expand_to(&self, shape: &[usize]) -> Result<Tensor> {
        if self.shape() == shape {
            return Ok(self.clone());
        }
        let n = shape.len();
        let bytes = crate::tensor::checked_numel(shape)?.saturating_mul(self.dtype().size());
        if bytes > crate::storage::MAX_TENSOR_BYTES {
            return Err(Error::oom(format!(
                "expanding to {shape:?} needs {bytes} bytes"
            )));
        }
        if self.ndim() > n {
            return Err(Error::runtime(format!(
                "cannot expand {:?} to {shape:?}",
                self.shape()
            )));
        }
        let off = n - self.ndim();
        let mut strides = vec![0; n];
        for i in 0..n {
            if i >= off {
                let d = self.shape()[i - off];
                if d == shape[i] {
                    strides[i] = self.strides()[i - off];
                } else if d == 1 {
                    strides[i] = 0;
                } else {
                    return Err(Error::runtime(format!(
                        "cannot expand {:?} to {shape:?}",
                        self.shape()
                    )));
                }
            }
        }
        Ok(self.view_with(shape.to_vec(), strides, self.offset()))
    }
}

fn cat_typed<T: Elem>(ts: &[Tensor], d: usize, dtype: DType, shape: Vec<usize>) -> Result<Tensor> {
    let outer: usize = shape[..d].iter().product();
    let mut out: Vec<T> = Vec::new();
    out.try_reserve_exact(checked_numel(&shape)?)
        .map_err(|_| Error::oom("cat: out of memory"))?;
    let datas = ts
        .iter()
        .map(|t| t.data::<T>())
        .collect::<Result<Vec<_>>>()?;
    let blocks: Vec<usize> = ts.iter().map(|t| t.shape()[d..].iter().product()).collect();
    for o in 0..outer {
        for (data, &b) in datas.iter().zip(&blocks) {
            out.extend_from_slice(&data[o * b..(o + 1) * b]);
        }
    }
    Ok(Tensor::from_vec(dtype, shape, out))
}
