//! Tensor storage: owned typed vectors, or bytes viewed in place inside a weight source
//! (the memory map of a file, or the weight arena a streaming load decoded into).
//!
//! Every variant hands out its bytes as a slice whose start is aligned for the element type
//! it holds, so typed access is a checked `bytemuck` cast, never a copy.

use std::sync::Arc;

use bytemuck::Pod;

use crate::error::{Error, Result};

/// A read-only byte region that outlives every tensor viewing it (an mmap, an arena).
pub trait ByteSource: Send + Sync {
    /// The bytes.
    fn bytes(&self) -> &[u8];
    /// Length of [`ByteSource::bytes`], without producing them (a lazily built source
    /// can answer without building).
    fn byte_len(&self) -> usize {
        self.bytes().len()
    }
    /// Address identifying the bytes (caches key on it), without producing them.
    fn addr(&self) -> usize {
        self.bytes().as_ptr() as usize
    }
    /// The source as `Any`, for the interpreter's own sources (resident quantized weights).
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        None
    }
}

impl ByteSource for Vec<u8> {
    fn bytes(&self) -> &[u8] {
        self
    }
}

/// The bytes behind a tensor.
pub(crate) enum Buf {
    F32(Vec<f32>),
    F64(Vec<f64>),
    I64(Vec<i64>),
    I32(Vec<i32>),
    I16(Vec<i16>),
    I8(Vec<i8>),
    /// `u8` and `bool` (0/1 bytes).
    U8(Vec<u8>),
    /// `f16` and `bf16` bit patterns.
    U16(Vec<u16>),
    /// `c64`: (real, imaginary) pairs of f32.
    C64(Vec<[f32; 2]>),
    /// A view into a shared weight source: `len` bytes from `start`.
    Ext {
        src: Arc<dyn ByteSource>,
        start: usize,
        len: usize,
    },
}

impl Buf {
    /// The raw bytes.
    pub(crate) fn bytes(&self) -> &[u8] {
        match self {
            Buf::F32(v) => bytemuck::cast_slice(v),
            Buf::F64(v) => bytemuck::cast_slice(v),
            Buf::I64(v) => bytemuck::cast_slice(v),
            Buf::I32(v) => bytemuck::cast_slice(v),
            Buf::I16(v) => bytemuck::cast_slice(v),
            Buf::I8(v) => bytemuck::cast_slice(v),
            Buf::U8(v) => v,
            Buf::U16(v) => bytemuck::cast_slice(v),
            Buf::C64(v) => bytemuck::cast_slice(v),
            Buf::Ext { src, start, len } => &src.bytes()[*start..*start + *len],
        }
    }

    /// The raw bytes, writable; `None` for views of a weight source (read-only).
    pub(crate) fn bytes_mut(&mut self) -> Option<&mut [u8]> {
        Some(match self {
            Buf::F32(v) => bytemuck::cast_slice_mut(v),
            Buf::F64(v) => bytemuck::cast_slice_mut(v),
            Buf::I64(v) => bytemuck::cast_slice_mut(v),
            Buf::I32(v) => bytemuck::cast_slice_mut(v),
            Buf::I16(v) => bytemuck::cast_slice_mut(v),
            Buf::I8(v) => bytemuck::cast_slice_mut(v),
            Buf::U8(v) => v,
            Buf::U16(v) => bytemuck::cast_slice_mut(v),
            Buf::C64(v) => bytemuck::cast_slice_mut(v),
            Buf::Ext { .. } => return None,
        })
    }

    /// The bytes as `T`s (checked alignment and length).
    /// Address of the first byte, without forcing a lazily built source.
    pub(crate) fn addr(&self) -> usize {
        match self {
            Buf::Ext { src, start, .. } => src.addr() + start,
            b => b.bytes().as_ptr() as usize,
        }
    }

    pub(crate) fn typed<T: Pod>(&self) -> Result<&[T]> {
        bytemuck::try_cast_slice(self.bytes())
            .map_err(|e| Error::runtime(format!("misaligned tensor storage: {e:?}")))
    }

    /// Bytes owned by this buffer (views of weight sources count zero).
    pub(crate) fn owned_bytes(&self) -> usize {
        match self {
            Buf::Ext { .. } => 0,
            b => b.bytes().len(),
        }
    }
}

/// An element type with its own `Buf` variant.
pub(crate) trait Elem: Pod + Default + Send + Sync {
    fn wrap(v: Vec<Self>) -> Buf;
    fn unwrap(b: Buf) -> std::result::Result<Vec<Self>, Buf>;
}

macro_rules! elem {
    ($t:ty, $v:ident) => {
        impl Elem for $t {
            fn wrap(v: Vec<Self>) -> Buf {
                Buf::$v(v)
            }
            fn unwrap(b: Buf) -> std::result::Result<Vec<Self>, Buf> {
                match b {
                    Buf::$v(v) => Ok(v),
                    other => Err(other),
                }
            }
        }
    };
}
elem!(f32, F32);
elem!(f64, F64);
elem!(i64, I64);
elem!(i32, I32);
elem!(i16, I16);
elem!(i8, I8);
elem!(u8, U8);
elem!(u16, U16);
elem!([f32; 2], C64);

/// Largest single tensor allocation the interpreter attempts (bytes). wasm32 has 4 GiB in
/// total; a model asking for more in one tensor is malformed or will not fit anyway.
pub const MAX_TENSOR_BYTES: usize = if usize::BITS == 32 {
    (u32::MAX / 2) as usize
} else {
    1 << 34
};

/// An empty vector with room for `n` elements, or an `OutOfMemory` error (never an abort)
/// when `n` elements exceed [`MAX_TENSOR_BYTES`] or the allocator refuses: for outputs
/// built by pushing, whose size a hostile argument can choose.
pub(crate) fn try_with_capacity<T>(n: usize) -> Result<Vec<T>> {
    let bytes = n
        .checked_mul(std::mem::size_of::<T>())
        .filter(|b| *b <= MAX_TENSOR_BYTES)
        .ok_or_else(|| Error::oom(format!("tensor of {n} elements is too large")))?;
    let mut v = Vec::new();
    v.try_reserve_exact(n)
        .map_err(|_| Error::oom(format!("could not allocate {bytes} bytes")))?;
    Ok(v)
}

/// Allocate `n` default elements, or fail with `OutOfMemory` instead of aborting.
pub(crate) fn try_alloc<T: Elem>(n: usize) -> Result<Vec<T>> {
    let bytes = n
        .checked_mul(std::mem::size_of::<T>())
        .filter(|b| *b <= MAX_TENSOR_BYTES)
        .ok_or_else(|| Error::oom(format!("tensor of {n} elements is too large")))?;
    wasm_torch_kernels::alloc::try_zeroed(n)
        .map_err(|_| Error::oom(format!("could not allocate {bytes} bytes")))
}
