//! Already-quantized int8 weights taken as they are: the exporter hands over the codes a
//! model quantized in PyTorch holds (`torch.ao` dynamic Linear, torchao int8 tensors) and
//! one scale per channel; the packer checks them against the tensor and stores them bit for
//! bit instead of re-quantizing their dequantized values (which could pick other codes).

use crate::ir::PackError;
use wasm_torch_format::Quantization;

/// Splits `data` (`numel` int8 codes, then one little-endian f32 scale per index along
/// `axis` of `shape`) into the stored code bytes and per-channel parameters (zero points 0).
///
/// Errors (never a wrong answer): an axis past the rank, a shape that overflows, a byte
/// length other than `numel + 4 · channels`, or a scale that is not finite and positive
/// (zero, negative, NaN or infinite scales would make the stored values meaningless).
pub fn int8_stored(
    name: &str,
    data: &[u8],
    shape: &[u64],
    axis: u32,
) -> Result<(Vec<u8>, Quantization), PackError> {
    let bad = |reason: String| PackError::Weight {
        name: name.into(),
        reason,
    };
    let Some(&channels) = shape.get(axis as usize) else {
        return Err(bad(format!(
            "int8 channel axis {axis} >= rank {}",
            shape.len()
        )));
    };
    let numel = shape
        .iter()
        .try_fold(1u64, |a, &d| a.checked_mul(d))
        .ok_or_else(|| bad(format!("shape {shape:?} overflows")))?;
    let want = channels
        .checked_mul(4)
        .and_then(|s| s.checked_add(numel))
        .ok_or_else(|| bad(format!("shape {shape:?} overflows")))?;
    if data.len() as u64 != want {
        return Err(bad(format!(
            "{} stored int8 bytes for {shape:?} along axis {axis} (needs {numel} codes + {channels} f32 scales = {want})",
            data.len()
        )));
    }
    let (codes, params) = data.split_at(numel as usize);
    let scales = crate::quantize::f32s(params);
    if let Some(i) = scales.iter().position(|s| !(s.is_finite() && *s > 0.0)) {
        return Err(bad(format!(
            "int8 scale {i} is {}; scales must be finite and positive",
            scales[i]
        )));
    }
    Ok((
        codes.to_vec(),
        Quantization::PerChannel {
            axis,
            zero_points: vec![0; scales.len()],
            scales,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(codes: &[i8], scales: &[f32]) -> Vec<u8> {
        let mut d: Vec<u8> = codes.iter().map(|&c| c as u8).collect();
        d.extend(scales.iter().flat_map(|s| s.to_le_bytes()));
        d
    }

    #[test]
    fn codes_and_scales_are_kept_exactly() {
        let codes = [-128i8, 0, 127, 5, -3, 1];
        let (b, q) = int8_stored("w", &data(&codes, &[0.5, 0.25]), &[2, 3], 0).unwrap();
        assert_eq!(b, codes.iter().map(|&c| c as u8).collect::<Vec<_>>());
        assert_eq!(
            q,
            Quantization::PerChannel {
                axis: 0,
                scales: vec![0.5, 0.25],
                zero_points: vec![0, 0]
            }
        );
        // Axis 1: one scale per column.
        let (_, q) = int8_stored("w", &data(&codes, &[1.0, 2.0, 3.0]), &[2, 3], 1).unwrap();
        let Quantization::PerChannel { axis, scales, .. } = q else {
            panic!("not per channel")
        };
        assert_eq!((axis, scales), (1, vec![1.0, 2.0, 3.0]));
    }

    #[test]
    fn bad_parameters_are_typed_errors() {
        let codes = [1i8; 6];
        let err = |d: Vec<u8>, shape: &[u64], axis: u32| {
            int8_stored("w", &d, shape, axis).unwrap_err().to_string()
        };
        // Wrong scale count, missing codes, axis past the rank.
        assert!(err(data(&codes, &[1.0]), &[2, 3], 0).contains("needs 6 codes + 2"));
        assert!(err(data(&codes[..5], &[1.0, 1.0]), &[2, 3], 0).contains("needs"));
        assert!(err(data(&codes, &[1.0, 1.0]), &[2, 3], 2).contains("axis 2"));
        // Zero, negative, NaN and infinite scales.
        for s in [0.0, -1.0, f32::NAN, f32::INFINITY] {
            assert!(err(data(&codes, &[1.0, s]), &[2, 3], 0).contains("scale 1"));
        }
        // A shape whose element count overflows u64 is an error, not a huge allocation.
        assert!(err(vec![0; 8], &[u64::MAX, 2], 0).contains("overflows"));
    }
}
