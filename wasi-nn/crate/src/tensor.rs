//! The WIT `tensor` interface ([`Tensor`], [`TensorType`]) and its conversion to and from
//! interpreter tensors, with every check a guest-supplied tensor needs before it is trusted.

use wasm_torch_format::model::{Dim, ValueSpec};
use wasm_torch_interp::{DType, MAX_TENSOR_BYTES};

use crate::error::{Error, ErrorCode, Result};

/// The WIT `tensor-type` enum, in WIT declaration order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TensorType {
    /// IEEE binary16.
    Fp16,
    /// IEEE binary32.
    Fp32,
    /// IEEE binary64.
    Fp64,
    /// bfloat16.
    Bf16,
    /// Unsigned byte (also carries wasm-torch `bool` tensors, one byte 0/1 each).
    U8,
    /// Signed 32-bit integer.
    I32,
    /// Signed 64-bit integer.
    I64,
}

impl TensorType {
    /// Bytes per element.
    pub fn byte_size(self) -> usize {
        self.dtype().size()
    }

    /// The interpreter dtype with the same bytes.
    pub fn dtype(self) -> DType {
        match self {
            TensorType::Fp16 => DType::F16,
            TensorType::Fp32 => DType::F32,
            TensorType::Fp64 => DType::F64,
            TensorType::Bf16 => DType::BF16,
            TensorType::U8 => DType::U8,
            TensorType::I32 => DType::I32,
            TensorType::I64 => DType::I64,
        }
    }

    /// The WIT type for an interpreter dtype. `bool` travels as `U8`; `i8`/`i16` have no WIT
    /// type and are widened to `I32` when an interpreter tensor is converted, so this returns `None` for them.
    pub fn from_dtype(dtype: DType) -> Option<TensorType> {
        Some(match dtype {
            DType::F16 => TensorType::Fp16,
            DType::F32 => TensorType::Fp32,
            DType::F64 => TensorType::Fp64,
            DType::BF16 => TensorType::Bf16,
            DType::U8 | DType::Bool => TensorType::U8,
            DType::I32 => TensorType::I32,
            DType::I64 => TensorType::I64,
            // WASI-NN has no complex type: c64 travels as Fp32 with a trailing dim of 2
            // (see `to_interp` / `from_interp`).
            DType::I8 | DType::I16 | DType::C64 => return None,
        })
    }
}

/// The WIT `tensor` resource: dimensions, element type and little-endian bytes.
///
/// Construction never fails (as in WIT); the tensor is checked against the model when it is
/// passed to [`crate::GraphExecutionContext::set_input`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tensor {
    dimensions: Vec<u32>,
    ty: TensorType,
    data: Vec<u8>,
}

impl Tensor {
    /// A tensor (WIT constructor).
    pub fn new(dimensions: Vec<u32>, ty: TensorType, data: Vec<u8>) -> Tensor {
        Tensor {
            dimensions,
            ty,
            data,
        }
    }

    /// An `Fp32` tensor from values.
    pub fn from_f32(dimensions: Vec<u32>, values: &[f32]) -> Tensor {
        let data = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        Tensor::new(dimensions, TensorType::Fp32, data)
    }

    /// The dimensions.
    pub fn dimensions(&self) -> &[u32] {
        &self.dimensions
    }

    /// The element type.
    pub fn ty(&self) -> TensorType {
        self.ty
    }

    /// The little-endian element bytes.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// The elements as f32 when the type is `Fp32` (`None` otherwise).
    pub fn to_f32_vec(&self) -> Option<Vec<f32>> {
        (self.ty == TensorType::Fp32).then(|| {
            self.data
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect()
        })
    }

    /// Check this tensor against the model's input `spec` and convert it.
    ///
    /// Errors: a type other than the model's → `InvalidArgument` (a `U8` tensor is accepted
    /// for a `bool` input); a rank or fixed dimension that differs → `InvalidArgument`; a byte
    /// length other than `numel × element size` → `InvalidArgument`; a size beyond
    /// [`MAX_TENSOR_BYTES`] or one that overflows → `TooLarge`.
    pub(crate) fn to_interp(&self, spec: &ValueSpec) -> Result<wasm_torch_interp::Tensor> {
        let name = &spec.name;
        if spec.dtype == DType::C64 {
            return self.complex_to_interp(spec);
        }
        let dtype = match (self.ty.dtype(), spec.dtype) {
            (DType::U8, DType::Bool) => DType::Bool,
            (have, want) if have == want => have,
            (_, want) => {
                let wit = TensorType::from_dtype(want)
                    .map(|t| format!("{t:?}"))
                    .unwrap_or_else(|| format!("none (the model wants {})", want.name()));
                return Err(Error::invalid_argument(format!(
                    "input '{name}': tensor type {:?} given, the model expects {wit}",
                    self.ty
                )));
            }
        };
        if self.dimensions.len() != spec.shape.len() {
            return Err(Error::invalid_argument(format!(
                "input '{name}': {} dimensions {:?} given, the model expects {} ({})",
                self.dimensions.len(),
                self.dimensions,
                spec.shape.len(),
                describe_shape(&spec.shape)
            )));
        }
        for (i, (d, &n)) in spec.shape.iter().zip(&self.dimensions).enumerate() {
            if let Dim::Fixed(f) = d {
                if *f != u64::from(n) {
                    return Err(Error::invalid_argument(format!(
                        "input '{name}': dimension {i} is {n}, the model expects {f} ({})",
                        describe_shape(&spec.shape)
                    )));
                }
            }
        }
        let shape: Vec<usize> = self.dimensions.iter().map(|&d| d as usize).collect();
        let bytes = shape
            .iter()
            .try_fold(dtype.size(), |acc, &d| acc.checked_mul(d))
            .filter(|&b| b <= MAX_TENSOR_BYTES)
            .ok_or_else(|| {
                Error::new(
                    ErrorCode::TooLarge,
                    format!(
                        "input '{name}': dimensions {:?} exceed the {MAX_TENSOR_BYTES}-byte tensor limit",
                        self.dimensions
                    ),
                )
            })?;
        if bytes != self.data.len() {
            return Err(Error::invalid_argument(format!(
                "input '{name}': {} data bytes given, dimensions {:?} of {:?} need {bytes}",
                self.data.len(),
                self.dimensions,
                self.ty
            )));
        }
        Ok(wasm_torch_interp::Tensor::from_le_bytes(
            dtype, shape, &self.data,
        )?)
    }

    /// A complex (`c64`) input: WASI-NN has no complex type, so the caller passes `Fp32`
    /// with one more dimension of size 2 holding (real, imaginary) pairs, the bytes of
    /// PyTorch's `view_as_real`. Anything else is `InvalidArgument`.
    fn complex_to_interp(&self, spec: &ValueSpec) -> Result<wasm_torch_interp::Tensor> {
        if self.ty != TensorType::Fp32 || self.dimensions.last() != Some(&2) {
            return Err(Error::invalid_argument(format!(
                "input '{}': the model expects complex (c64) [{}], which WASI-NN carries as \
                 Fp32 with a trailing dimension of 2 (real, imaginary); got {:?} {:?}",
                spec.name,
                describe_shape(&spec.shape),
                self.ty,
                self.dimensions
            )));
        }
        // Check rank, dims and byte length as for a real input of two f32 per element.
        let mut as_pairs = ValueSpec {
            dtype: DType::F32,
            ..spec.clone()
        };
        as_pairs.shape.push(Dim::Fixed(2));
        self.to_interp(&as_pairs)?;
        let shape: Vec<usize> = self.dimensions[..self.dimensions.len() - 1]
            .iter()
            .map(|&d| d as usize)
            .collect();
        Ok(wasm_torch_interp::Tensor::from_le_bytes(
            DType::C64,
            shape,
            &self.data,
        )?)
    }

    /// Convert an interpreter output. `bool` becomes `U8` (same bytes), `i8`/`i16` are widened
    /// to `I32`, `c64` becomes `Fp32` with a trailing dimension of 2 (same bytes); a dimension
    /// above `u32::MAX` is `TooLarge`.
    pub(crate) fn from_interp(t: &wasm_torch_interp::Tensor) -> Result<Tensor> {
        if t.dtype() == DType::C64 {
            let mut out = Tensor::from_interp(&t.cast(DType::F32)?)?;
            out.dimensions.push(2);
            out.ty = TensorType::Fp32;
            out.data = t.to_le_bytes()?;
            return Ok(out);
        }
        let (ty, t) = match TensorType::from_dtype(t.dtype()) {
            Some(ty) => (ty, t.clone()),
            None => (TensorType::I32, t.cast(DType::I32)?),
        };
        let dimensions = t
            .shape()
            .iter()
            .map(|&d| u32::try_from(d))
            .collect::<Result<Vec<u32>, _>>()
            .map_err(|_| {
                Error::new(
                    ErrorCode::TooLarge,
                    format!(
                        "output shape {:?} has a dimension above u32::MAX",
                        t.shape()
                    ),
                )
            })?;
        Ok(Tensor::new(dimensions, ty, t.to_le_bytes()?))
    }
}

/// `[batch, 4]`-style text for messages.
pub(crate) fn describe_shape(shape: &[Dim]) -> String {
    let dims: Vec<String> = shape
        .iter()
        .map(|d| match d {
            Dim::Fixed(n) => n.to_string(),
            Dim::Symbolic(s) => s.clone(),
        })
        .collect();
    format!("[{}]", dims.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(dtype: DType, shape: Vec<Dim>) -> ValueSpec {
        ValueSpec {
            name: "x".into(),
            dtype,
            shape,
        }
    }

    #[test]
    fn complex_travels_as_fp32_pairs_both_ways() {
        let s = spec(DType::C64, vec![Dim::Fixed(2)]);
        let t = Tensor::from_f32(vec![2, 2], &[1., 2., 3., 4.]);
        let it = t.to_interp(&s).unwrap();
        assert_eq!((it.dtype(), it.shape()), (DType::C64, &[2usize][..]));
        let back = Tensor::from_interp(&it).unwrap();
        assert_eq!(back.dimensions, vec![2, 2]);
        assert_eq!(back.ty, TensorType::Fp32);
        assert_eq!(back.to_f32_vec().unwrap(), vec![1., 2., 3., 4.]);
        // Without the trailing pair dimension, or as another type: a typed error.
        for bad in [
            Tensor::from_f32(vec![4], &[1., 2., 3., 4.]),
            Tensor::from_f32(vec![1, 2], &[1., 2.]),
            Tensor::new(vec![2, 2], TensorType::I32, vec![0; 16]),
        ] {
            assert_eq!(
                bad.to_interp(&s).unwrap_err().code(),
                ErrorCode::InvalidArgument
            );
        }
    }

    #[test]
    fn accepts_matching_tensor_with_symbolic_dim() {
        let s = spec(DType::F32, vec![Dim::Symbolic("b".into()), Dim::Fixed(2)]);
        let t = Tensor::from_f32(vec![3, 2], &[1., 2., 3., 4., 5., 6.]);
        let it = t.to_interp(&s).unwrap();
        assert_eq!(it.shape(), &[3, 2]);
        assert_eq!(it.to_f32_vec(), vec![1., 2., 3., 4., 5., 6.]);
    }

    #[test]
    fn rejects_wrong_type_rank_dims_and_length() {
        let s = spec(DType::F32, vec![Dim::Fixed(2)]);
        let cases = [
            Tensor::new(vec![2], TensorType::I32, vec![0; 8]),
            Tensor::new(vec![1, 2], TensorType::Fp32, vec![0; 8]),
            Tensor::new(vec![3], TensorType::Fp32, vec![0; 12]),
            Tensor::new(vec![2], TensorType::Fp32, vec![0; 7]),
        ];
        for t in cases {
            let e = t.to_interp(&s).unwrap_err();
            assert_eq!(e.code(), ErrorCode::InvalidArgument, "{t:?}: {e}");
        }
    }

    #[test]
    fn huge_dimensions_are_too_large_not_an_allocation() {
        let s = spec(
            DType::F32,
            vec![Dim::Symbolic("a".into()), Dim::Symbolic("b".into())],
        );
        let t = Tensor::new(vec![u32::MAX, u32::MAX], TensorType::Fp32, vec![]);
        assert_eq!(t.to_interp(&s).unwrap_err().code(), ErrorCode::TooLarge);
    }

    #[test]
    fn u8_feeds_a_bool_input_and_bool_outputs_come_back_as_u8() {
        let s = spec(DType::Bool, vec![Dim::Fixed(3)]);
        let it = Tensor::new(vec![3], TensorType::U8, vec![0, 1, 7])
            .to_interp(&s)
            .unwrap();
        assert_eq!(it.dtype(), DType::Bool);
        let back = Tensor::from_interp(&it).unwrap();
        assert_eq!(back.ty(), TensorType::U8);
        assert_eq!(back.data(), &[0, 1, 1]);
    }

    #[test]
    fn every_wit_type_round_trips_through_its_dtype() {
        for ty in [
            TensorType::Fp16,
            TensorType::Fp32,
            TensorType::Fp64,
            TensorType::Bf16,
            TensorType::U8,
            TensorType::I32,
            TensorType::I64,
        ] {
            assert_eq!(TensorType::from_dtype(ty.dtype()), Some(ty));
        }
    }
}
