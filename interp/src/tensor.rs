//! [`Tensor`]: a dtype, a shape and strides over shared storage.
//!
//! Tensors are immutable and cheap to clone (the storage is behind an `Arc`). Shape ops
//! (permute, transpose, expand, slice, select, unsqueeze, view of contiguous data) return
//! strided *views* of the same storage; ops that need contiguous data read through
//! [`Tensor::contiguous`] or the typed readers, which gather strided data on demand.
//! An op that receives the only reference to a contiguous buffer may take it over and write
//! its result in place (the crate-internal `Tensor::into_f32_vec`).

mod view;

use std::borrow::Cow;
use std::sync::Arc;

use half::{bf16, f16};

use crate::error::{Error, Result};
use crate::storage::{try_alloc, try_with_capacity, Buf, ByteSource, Elem};
pub use wasm_torch_format::model::DType;

/// An n-dimensional array of one [`DType`].
#[derive(Clone)]
pub struct Tensor {
    dtype: DType,
    shape: Vec<usize>,
    /// Element strides; 0 for broadcast (expanded) dims.
    strides: Vec<usize>,
    /// Element offset of index (0, .., 0) inside the storage.
    offset: usize,
    buf: Arc<Buf>,
}

impl std::fmt::Debug for Tensor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tensor({}, {:?})", self.dtype.name(), self.shape)
    }
}

/// Row-major strides of `shape`.
pub fn contiguous_strides(shape: &[usize]) -> Vec<usize> {
    let mut strides = vec![0; shape.len()];
    let mut acc = 1usize;
    for i in (0..shape.len()).rev() {
        strides[i] = acc;
        acc = acc.saturating_mul(shape[i]);
    }
    strides
}

/// Number of elements of `shape`, or an `OutOfMemory` error when it overflows.
pub fn checked_numel(shape: &[usize]) -> Result<usize> {
    shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| Error::oom(format!("shape {shape:?} has too many elements")))
}

/// Read a `Vec<T>` of a given dtype out of little-endian bytes.
fn vec_from_le<T: Elem>(bytes: &[u8]) -> Result<Vec<T>> {
    let n = bytes.len() / std::mem::size_of::<T>();
    let mut v: Vec<T> = try_alloc(n)?;
    bytemuck::cast_slice_mut::<T, u8>(&mut v)
        .copy_from_slice(&bytes[..n * std::mem::size_of::<T>()]);
    Ok(v)
}

/// `n` elements of `T` (zeroed, allocated fallibly) whose bytes `fill` then writes.
fn vec_filled<T: Elem>(n: usize, fill: impl FnOnce(&mut [u8])) -> Result<Vec<T>> {
    let mut v: Vec<T> = try_alloc(n)?;
    fill(bytemuck::cast_slice_mut::<T, u8>(&mut v));
    Ok(v)
}

/// Gather a strided view into a contiguous vector.
fn gather<T: Copy>(all: &[T], shape: &[usize], strides: &[usize], offset: usize) -> Result<Vec<T>> {
    let numel = checked_numel(shape)?;
    // A view (an `expand` above all) can name far more elements than its storage holds, so
    // materializing it is the allocation a hostile shape reaches: make it fallible.
    let mut out = try_with_capacity::<T>(numel)?;
    if numel == 0 {
        return Ok(out);
    }
    if shape.is_empty() {
        out.push(all[offset]);
        return Ok(out);
    }
    let nd = shape.len();
    let inner = shape[nd - 1];
    let inner_stride = strides[nd - 1];
    let mut idx = vec![0usize; nd - 1];
    let mut base = offset;
    loop {
        if inner_stride == 1 {
            out.extend_from_slice(&all[base..base + inner]);
        } else {
            let mut p = base;
            for _ in 0..inner {
                out.push(all[p]);
                p += inner_stride;
            }
        }
        // advance the outer index
        let mut d = nd - 1;
        loop {
            if d == 0 {
                return Ok(out);
            }
            d -= 1;
            idx[d] += 1;
            base += strides[d];
            if idx[d] < shape[d] {
                break;
            }
            base -= strides[d] * shape[d];
            idx[d] = 0;
        }
    }
}

/// Collect `n` converted elements into a fallibly allocated vector.
fn collect_fallible<T>(n: usize, items: impl Iterator<Item = T>) -> Result<Vec<T>> {
    let mut v = try_with_capacity(n)?;
    v.extend(items);
    Ok(v)
}

macro_rules! convert_all {
    ($self:ident, $t:ty, $conv_f:expr, $conv_i:expr, $conv_h:expr, $conv_b:expr) => {{
        let t = $self;
        let n = t.numel();
        let v: Vec<$t> = match t.dtype {
            DType::F32 => collect_fallible(n, t.data::<f32>()?.iter().map(|&x| $conv_f(x as f64)))?,
            DType::F64 => collect_fallible(n, t.data::<f64>()?.iter().map(|&x| $conv_f(x)))?,
            DType::I64 => collect_fallible(n, t.data::<i64>()?.iter().map(|&x| $conv_i(x)))?,
            DType::I32 => collect_fallible(n, t.data::<i32>()?.iter().map(|&x| $conv_i(x as i64)))?,
            DType::I16 => collect_fallible(n, t.data::<i16>()?.iter().map(|&x| $conv_i(x as i64)))?,
            DType::I8 => collect_fallible(n, t.data::<i8>()?.iter().map(|&x| $conv_i(x as i64)))?,
            DType::U8 => collect_fallible(n, t.data::<u8>()?.iter().map(|&x| $conv_i(x as i64)))?,
            DType::Bool => collect_fallible(n, t.data::<u8>()?.iter().map(|&x| $conv_b(x != 0)))?,
            DType::F16 => collect_fallible(
                n,
                t.data::<u16>()?
                    .iter()
                    .map(|&x| $conv_h(f16::from_bits(x).to_f32())),
            )?,
            DType::BF16 => collect_fallible(
                n,
                t.data::<u16>()?
                    .iter()
                    .map(|&x| $conv_h(bf16::from_bits(x).to_f32())),
            )?,
            // Complex to real keeps the real part, as PyTorch's casts do.
            DType::C64 => {
                collect_fallible(n, t.data::<[f32; 2]>()?.iter().map(|&x| $conv_h(x[0])))?
            }
        };
        v
    }};
}

impl Tensor {
    pub(crate) fn from_vec<T: Elem>(dtype: DType, shape: Vec<usize>, data: Vec<T>) -> Tensor {
        debug_assert_eq!(shape.iter().product::<usize>(), data.len());
        debug_assert_eq!(dtype.size(), std::mem::size_of::<T>());
        Tensor {
            dtype,
            strides: contiguous_strides(&shape),
            shape,
            offset: 0,
            buf: Arc::new(T::wrap(data)),
        }
    }

    /// A view of `numel(shape) * dtype.size()` bytes of `src` starting at byte `start`;
    /// `start` must be aligned for the dtype (checked on access).
    pub(crate) fn from_source(
        dtype: DType,
        shape: Vec<usize>,
        src: Arc<dyn ByteSource>,
        start: usize,
    ) -> Result<Tensor> {
        let len = checked_numel(&shape)?
            .checked_mul(dtype.size())
            .ok_or_else(|| Error::oom("weight too large"))?;
        if start
            .checked_add(len)
            .is_none_or(|end| end > src.byte_len())
        {
            return Err(Error::bad_file(format!(
                "weight view {start}+{len} outside its source of {} bytes",
                src.byte_len()
            )));
        }
        let t = Tensor {
            dtype,
            strides: contiguous_strides(&shape),
            shape,
            offset: 0,
            buf: Arc::new(Buf::Ext { src, start, len }),
        };
        Ok(t)
    }

    /// A float32 tensor. Panics if `data.len()` differs from the shape's element count.
    pub fn from_f32(shape: Vec<usize>, data: Vec<f32>) -> Tensor {
        assert_eq!(
            shape.iter().product::<usize>(),
            data.len(),
            "shape/data mismatch"
        );
        Tensor::from_vec(DType::F32, shape, data)
    }

    /// An int64 tensor. Panics if `data.len()` differs from the shape's element count.
    pub fn from_i64(shape: Vec<usize>, data: Vec<i64>) -> Tensor {
        assert_eq!(
            shape.iter().product::<usize>(),
            data.len(),
            "shape/data mismatch"
        );
        Tensor::from_vec(DType::I64, shape, data)
    }

    /// An int32 tensor. Panics if `data.len()` differs from the shape's element count.
    pub fn from_i32(shape: Vec<usize>, data: Vec<i32>) -> Tensor {
        assert_eq!(
            shape.iter().product::<usize>(),
            data.len(),
            "shape/data mismatch"
        );
        Tensor::from_vec(DType::I32, shape, data)
    }

    /// A bool tensor. Panics if `data.len()` differs from the shape's element count.
    pub fn from_bool(shape: Vec<usize>, data: Vec<bool>) -> Tensor {
        assert_eq!(
            shape.iter().product::<usize>(),
            data.len(),
            "shape/data mismatch"
        );
        Tensor::from_vec(DType::Bool, shape, data.into_iter().map(u8::from).collect())
    }

    /// A tensor of `dtype` from little-endian bytes (`numel * dtype.size()` of them).
    pub fn from_le_bytes(dtype: DType, shape: Vec<usize>, bytes: &[u8]) -> Result<Tensor> {
        let numel = checked_numel(&shape)?;
        let want = numel
            .checked_mul(dtype.size())
            .ok_or_else(|| Error::oom("tensor too large"))?;
        if bytes.len() != want {
            return Err(Error::invalid_input(format!(
                "{} tensor of shape {shape:?} needs {want} bytes, got {}",
                dtype.name(),
                bytes.len()
            )));
        }
        Ok(match dtype {
            DType::F32 => Tensor::from_vec(dtype, shape, vec_from_le::<f32>(bytes)?),
            DType::F64 => Tensor::from_vec(dtype, shape, vec_from_le::<f64>(bytes)?),
            DType::I64 => Tensor::from_vec(dtype, shape, vec_from_le::<i64>(bytes)?),
            DType::I32 => Tensor::from_vec(dtype, shape, vec_from_le::<i32>(bytes)?),
            DType::I16 => Tensor::from_vec(dtype, shape, vec_from_le::<i16>(bytes)?),
            DType::I8 => Tensor::from_vec(dtype, shape, vec_from_le::<i8>(bytes)?),
            DType::U8 => Tensor::from_vec(dtype, shape, bytes.to_vec()),
            DType::Bool => Tensor::from_vec(
                dtype,
                shape,
                bytes.iter().map(|&b| u8::from(b != 0)).collect(),
            ),
            DType::F16 | DType::BF16 => Tensor::from_vec(dtype, shape, vec_from_le::<u16>(bytes)?),
            DType::C64 => Tensor::from_vec(dtype, shape, vec_from_le::<[f32; 2]>(bytes)?),
        })
    }

    /// A tensor whose `numel × dtype.size()` little-endian bytes `fill` writes straight into
    /// its storage: one copy of the data (e.g. from a JavaScript array), allocated fallibly
    /// (`OutOfMemory` instead of an abort).
    pub fn from_le_fill(
        dtype: DType,
        shape: Vec<usize>,
        fill: impl FnOnce(&mut [u8]),
    ) -> Result<Tensor> {
        let n = checked_numel(&shape)?;
        Ok(match dtype {
            DType::F32 => Tensor::from_vec(dtype, shape, vec_filled::<f32>(n, fill)?),
            DType::F64 => Tensor::from_vec(dtype, shape, vec_filled::<f64>(n, fill)?),
            DType::I64 => Tensor::from_vec(dtype, shape, vec_filled::<i64>(n, fill)?),
            DType::I32 => Tensor::from_vec(dtype, shape, vec_filled::<i32>(n, fill)?),
            DType::I16 => Tensor::from_vec(dtype, shape, vec_filled::<i16>(n, fill)?),
            DType::I8 => Tensor::from_vec(dtype, shape, vec_filled::<i8>(n, fill)?),
            DType::U8 => Tensor::from_vec(dtype, shape, vec_filled::<u8>(n, fill)?),
            DType::Bool => {
                let mut v = vec_filled::<u8>(n, fill)?;
                v.iter_mut().for_each(|b| *b = u8::from(*b != 0));
                Tensor::from_vec(dtype, shape, v)
            }
            DType::F16 | DType::BF16 => Tensor::from_vec(dtype, shape, vec_filled::<u16>(n, fill)?),
            DType::C64 => Tensor::from_vec(dtype, shape, vec_filled::<[f32; 2]>(n, fill)?),
        })
    }

    /// The elements as contiguous little-endian bytes (an `OutOfMemory` error when a view
    /// names more elements than can be allocated).
    pub fn to_le_bytes(&self) -> Result<Vec<u8>> {
        let c = self.contiguous()?;
        let n = c.numel() * c.dtype.size();
        let start = c.offset * c.dtype.size();
        let mut out = try_with_capacity::<u8>(n)?;
        out.extend_from_slice(&c.buf.bytes()[start..start + n]);
        Ok(out)
    }

    /// Element type.
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// Shape.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// Element strides (0 for broadcast dims).
    pub fn strides(&self) -> &[usize] {
        &self.strides
    }

    /// Number of dimensions.
    pub fn ndim(&self) -> usize {
        self.shape.len()
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }

    /// True when the elements are laid out row-major without gaps.
    pub fn is_contiguous(&self) -> bool {
        let mut acc = 1;
        for i in (0..self.shape.len()).rev() {
            if self.shape[i] != 1 && self.strides[i] != acc {
                return false;
            }
            acc *= self.shape[i];
        }
        true
    }

    /// Elements converted to f32, in row-major order (empty when a view is too large to
    /// materialize; for display and tests, where the interpreter itself uses fallible reads).
    pub fn to_f32_vec(&self) -> Vec<f32> {
        self.f32s().map(|c| c.into_owned()).unwrap_or_default()
    }

    /// Elements converted to i64 (floats truncated toward zero), in row-major order.
    pub fn to_i64_vec(&self) -> Vec<i64> {
        self.i64s().map(|c| c.into_owned()).unwrap_or_default()
    }

    /// A contiguous tensor with the same values (shares storage when already contiguous).
    pub fn contiguous(&self) -> Result<Tensor> {
        if self.is_contiguous() {
            return Ok(self.clone());
        }
        let t = self;
        match t.dtype {
            DType::F32 => t.gathered::<f32>(),
            DType::F64 => t.gathered::<f64>(),
            DType::I64 => t.gathered::<i64>(),
            DType::I32 => t.gathered::<i32>(),
            DType::I16 => t.gathered::<i16>(),
            DType::I8 => t.gathered::<i8>(),
            DType::U8 | DType::Bool => t.gathered::<u8>(),
            DType::F16 | DType::BF16 => t.gathered::<u16>(),
            DType::C64 => t.gathered::<[f32; 2]>(),
        }
    }

    fn gathered<T: Elem>(&self) -> Result<Tensor> {
        let d = self.data::<T>()?;
        Ok(Tensor::from_vec(
            self.dtype,
            self.shape.clone(),
            d.into_owned(),
        ))
    }

    /// Bytes of storage this tensor keeps alive that the interpreter allocated (weights
    /// viewed in place count zero).
    pub(crate) fn owned_bytes(&self) -> usize {
        self.buf.owned_bytes()
    }

    /// The typed storage from element 0 to the end of the buffer (for kernels that take a
    /// leading dimension, e.g. GEMM over a transposed view).
    pub(crate) fn raw<T: Elem>(&self) -> Result<&[T]> {
        if std::mem::size_of::<T>() != self.dtype.size() {
            return Err(Error::runtime(
                "internal: raw access with the wrong element size",
            ));
        }
        Ok(&self.buf.typed::<T>()?[self.offset..])
    }

    /// The tensor's bytes, writable, for in-place ops (`index_copy_`, `copy_`, session-state
    /// writes). When the storage is shared, strided, a weight view or larger than the
    /// tensor, the values are first copied into a buffer of its own (copy-on-write), so
    /// every other holder keeps seeing the old values. Returns the bytes and how many bytes
    /// that copy moved (0 when the write can happen in place).
    pub(crate) fn make_mut_bytes(&mut self) -> Result<(&mut [u8], usize)> {
        let nbytes = self.numel() * self.dtype.size();
        let in_place = self.offset == 0
            && self.is_contiguous()
            && self.buf.bytes().len() == nbytes
            && !matches!(*self.buf, Buf::Ext { .. })
            && Arc::get_mut(&mut self.buf).is_some();
        let copied = if in_place {
            0
        } else {
            let own = Tensor::from_le_bytes(self.dtype, self.shape.clone(), &self.to_le_bytes()?)?;
            *self = own;
            nbytes
        };
        let bytes = Arc::get_mut(&mut self.buf)
            .and_then(Buf::bytes_mut)
            .ok_or_else(|| Error::runtime("internal: a fresh buffer is not writable"))?;
        Ok((bytes, copied))
    }

    /// Address of element 0 (tests check in-place reuse with it).
    pub(crate) fn data_ptr(&self) -> usize {
        self.buf.addr() + self.offset * self.dtype.size()
    }

    /// The resident quantized weight this tensor views from its start, if any.
    pub(crate) fn quant_weight(&self) -> Option<&crate::quant_weights::QuantWeight> {
        match &*self.buf {
            Buf::Ext { src, start: 0, .. } if self.offset == 0 => src.as_any()?.downcast_ref(),
            _ => None,
        }
    }

    /// Identity of the storage, to count shared buffers once.
    pub(crate) fn storage_id(&self) -> usize {
        Arc::as_ptr(&self.buf) as *const u8 as usize
    }

    /// The elements as `T` (the dtype's storage type), row-major; borrowed when contiguous.
    pub(crate) fn data<T: Elem>(&self) -> Result<Cow<'_, [T]>> {
        if std::mem::size_of::<T>() != self.dtype.size() {
            return Err(Error::runtime(format!(
                "internal: {} tensor read with a {}-byte element type",
                self.dtype.name(),
                std::mem::size_of::<T>()
            )));
        }
        let all = self.buf.typed::<T>()?;
        if self.is_contiguous() {
            let n = self.numel();
            Ok(Cow::Borrowed(&all[self.offset..self.offset + n]))
        } else {
            Ok(Cow::Owned(gather(
                all,
                &self.shape,
                &self.strides,
                self.offset,
            )?))
        }
    }

    /// Elements as f32 (converted from any dtype).
    pub(crate) fn f32s(&self) -> Result<Cow<'_, [f32]>> {
        if self.dtype == DType::F32 {
            return self.data::<f32>();
        }
        Ok(Cow::Owned(convert_all!(
            self,
            f32,
            |x: f64| x as f32,
            |x: i64| x as f32,
            |x: f32| x,
            |b: bool| if b { 1.0 } else { 0.0 }
        )))
    }

    /// Elements as f64 (converted from any dtype).
    pub(crate) fn f64s(&self) -> Result<Vec<f64>> {
        Ok(convert_all!(
            self,
            f64,
            |x: f64| x,
            |x: i64| x as f64,
            |x: f32| x as f64,
            |b: bool| if b { 1.0 } else { 0.0 }
        ))
    }

    /// Elements as i64 (floats truncated toward zero, saturating).
    pub(crate) fn i64s(&self) -> Result<Cow<'_, [i64]>> {
        if self.dtype == DType::I64 {
            return self.data::<i64>();
        }
        Ok(Cow::Owned(convert_all!(
            self,
            i64,
            |x: f64| x as i64,
            |x: i64| x,
            |x: f32| x as i64,
            |b: bool| i64::from(b)
        )))
    }

    /// Elements as bools (non-zero is true).
    pub(crate) fn bools(&self) -> Result<Cow<'_, [u8]>> {
        if self.dtype == DType::Bool {
            return self.data::<u8>();
        }
        Ok(Cow::Owned(convert_all!(
            self,
            u8,
            |x: f64| u8::from(x != 0.0),
            |x: i64| u8::from(x != 0),
            |x: f32| u8::from(x != 0.0),
            u8::from
        )))
    }

    /// Take the elements as an owned f32 vector, reusing the storage when this is its only
    /// reference (the in-place path for element-wise ops on dying registers).
    pub(crate) fn into_f32_vec(self) -> Result<Vec<f32>> {
        if self.dtype == DType::F32 && self.offset == 0 && self.is_contiguous() {
            let numel = self.numel();
            match Arc::try_unwrap(self.buf) {
                Ok(buf) => match f32::unwrap(buf) {
                    Ok(v) if v.len() == numel => return Ok(v),
                    Ok(v) => return Ok(v[..numel].to_vec()),
                    Err(buf) => {
                        let t = Tensor {
                            dtype: self.dtype,
                            shape: self.shape,
                            strides: self.strides,
                            offset: 0,
                            buf: Arc::new(buf),
                        };
                        return Ok(t.f32s()?.into_owned());
                    }
                },
                Err(buf) => {
                    let t = Tensor {
                        dtype: self.dtype,
                        shape: self.shape,
                        strides: self.strides,
                        offset: 0,
                        buf,
                    };
                    return Ok(t.f32s()?.into_owned());
                }
            }
        }
        Ok(self.f32s()?.into_owned())
    }

    /// Build a tensor of `dtype` from f32 values (converting).
    pub(crate) fn from_f32_as(dtype: DType, shape: Vec<usize>, v: Vec<f32>) -> Tensor {
        match dtype {
            DType::F32 => Tensor::from_vec(dtype, shape, v),
            DType::F64 => Tensor::from_vec(dtype, shape, v.iter().map(|&x| x as f64).collect()),
            DType::F16 => Tensor::from_vec(
                dtype,
                shape,
                v.iter().map(|&x| f16::from_f32(x).to_bits()).collect(),
            ),
            DType::BF16 => Tensor::from_vec(
                dtype,
                shape,
                v.iter().map(|&x| bf16::from_f32(x).to_bits()).collect(),
            ),
            DType::Bool => Tensor::from_vec(
                dtype,
                shape,
                v.iter().map(|&x| u8::from(x != 0.0)).collect(),
            ),
            // A real value is a complex one with a zero imaginary part.
            DType::C64 => Tensor::from_vec(dtype, shape, v.iter().map(|&x| [x, 0.0]).collect()),
            _ => Tensor::from_i64_as(dtype, shape, v.iter().map(|&x| x as i64).collect()),
        }
    }

    /// Build a tensor of `dtype` from f64 values (converting).
    pub(crate) fn from_f64_as(dtype: DType, shape: Vec<usize>, v: Vec<f64>) -> Tensor {
        match dtype {
            DType::F64 => Tensor::from_vec(dtype, shape, v),
            DType::F32 | DType::F16 | DType::BF16 | DType::C64 => {
                Tensor::from_f32_as(dtype, shape, v.iter().map(|&x| x as f32).collect())
            }
            DType::Bool => Tensor::from_vec(
                dtype,
                shape,
                v.iter().map(|&x| u8::from(x != 0.0)).collect(),
            ),
            _ => Tensor::from_i64_as(dtype, shape, v.iter().map(|&x| x as i64).collect()),
        }
    }

    /// Build a tensor of `dtype` from i64 values (wrapping like a C cast).
    pub(crate) fn from_i64_as(dtype: DType, shape: Vec<usize>, v: Vec<i64>) -> Tensor {
        match dtype {
            DType::I64 => Tensor::from_vec(dtype, shape, v),
            DType::I32 => Tensor::from_vec(dtype, shape, v.iter().map(|&x| x as i32).collect()),
            DType::I16 => Tensor::from_vec(dtype, shape, v.iter().map(|&x| x as i16).collect()),
            DType::I8 => Tensor::from_vec(dtype, shape, v.iter().map(|&x| x as i8).collect()),
            DType::U8 => Tensor::from_vec(dtype, shape, v.iter().map(|&x| x as u8).collect()),
            DType::Bool => {
                Tensor::from_vec(dtype, shape, v.iter().map(|&x| u8::from(x != 0)).collect())
            }
            DType::F64 => Tensor::from_vec(dtype, shape, v.iter().map(|&x| x as f64).collect()),
            DType::F32 | DType::F16 | DType::BF16 | DType::C64 => {
                Tensor::from_f32_as(dtype, shape, v.iter().map(|&x| x as f32).collect())
            }
        }
    }

    /// Build a bool tensor from 0/1 bytes.
    pub(crate) fn from_bool_bytes(shape: Vec<usize>, v: Vec<u8>) -> Tensor {
        Tensor::from_vec(DType::Bool, shape, v)
    }

    /// The same values as `dtype`.
    pub fn cast(&self, dtype: DType) -> Result<Tensor> {
        if dtype == self.dtype {
            return self.contiguous();
        }
        let shape = self.shape.clone();
        Ok(match dtype {
            DType::F32 | DType::F16 | DType::BF16 | DType::C64 => {
                Tensor::from_f32_as(dtype, shape, self.f32s()?.into_owned())
            }
            DType::F64 => Tensor::from_vec(dtype, shape, self.f64s()?),
            DType::Bool => Tensor::from_bool_bytes(shape, self.bools()?.into_owned()),
            _ => Tensor::from_i64_as(dtype, shape, self.i64s()?.into_owned()),
        })
    }

    /// A view with another shape/strides/offset over the same storage. The caller
    /// guarantees every addressed element lies inside the storage.
    pub(crate) fn view_with(
        &self,
        shape: Vec<usize>,
        strides: Vec<usize>,
        offset: usize,
    ) -> Tensor {
        Tensor {
            dtype: self.dtype,
            shape,
            strides,
            offset,
            buf: self.buf.clone(),
        }
    }

    /// Element offset of index 0 inside the storage.
    pub(crate) fn offset(&self) -> usize {
        self.offset
    }

    /// The single element as f64 (error unless numel == 1).
    pub fn item_f64(&self) -> Result<f64> {
        if self.numel() != 1 {
            return Err(Error::runtime(format!(
                "expected a one-element tensor, got shape {:?}",
                self.shape
            )));
        }
        Ok(self.f64s()?[0])
    }

    /// The single element as i64 (error unless numel == 1).
    pub fn item_i64(&self) -> Result<i64> {
        if self.numel() != 1 {
            return Err(Error::runtime(format!(
                "expected a one-element tensor, got shape {:?}",
                self.shape
            )));
        }
        Ok(self.i64s()?[0])
    }

    /// A tensor filled with `value` (converted to `dtype`).
    pub(crate) fn full(dtype: DType, shape: Vec<usize>, value: f64) -> Result<Tensor> {
        let n = checked_numel(&shape)?;
        let bytes = n.saturating_mul(dtype.size());
        if bytes > crate::storage::MAX_TENSOR_BYTES {
            return Err(Error::oom(format!(
                "tensor of shape {shape:?} is too large"
            )));
        }
        // Convert the one value once, then fill a fallibly allocated buffer of the storage
        // type (never an f64 vector of `n`: that would be 8 bytes per element, infallibly).
        let one = Tensor::from_f64_as(dtype, vec![], vec![value]);
        Ok(crate::with_elem!(dtype, T => {
            let x = one.raw::<T>()?[0];
            let mut v = try_alloc::<T>(n)?;
            v.fill(x);
            Tensor::from_vec(dtype, shape, v)
        }))
    }
}

/// Run `$body` with `$T` bound to the storage element type of `$dt`.
#[macro_export]
#[doc(hidden)]
macro_rules! with_elem {
    ($dt:expr, $T:ident => $body:expr) => {{
        use $crate::tensor::DType as __D;
        match $dt {
            __D::F32 => {
                type $T = f32;
                $body
            }
            __D::F64 => {
                type $T = f64;
                $body
            }
            __D::I64 => {
                type $T = i64;
                $body
            }
            __D::I32 => {
                type $T = i32;
                $body
            }
            __D::I16 => {
                type $T = i16;
                $body
            }
            __D::I8 => {
                type $T = i8;
                $body
            }
            __D::U8 | __D::Bool => {
                type $T = u8;
                $body
            }
            __D::F16 | __D::BF16 => {
                type $T = u16;
                $body
            }
            __D::C64 => {
                type $T = [f32; 2];
                $body
            }
        }
    }};
}
