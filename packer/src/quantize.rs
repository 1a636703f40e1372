//! Weight dtype conversion: f32 → f16 and f32 → symmetric int8 (per tensor / per channel).

use crate::ir::PackError;
use wasm_torch_format::Quantization;

/// Read little-endian f32 values.
pub fn f32s(data: &[u8]) -> Vec<f32> {
    data.chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// f32 → f16 bytes (round to nearest even).
pub fn to_f16(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() / 2);
    for x in f32s(data) {
        out.extend_from_slice(&half::f16::from_f32(x).to_le_bytes());
    }
    out
}

fn scale_of(vals: impl Iterator<Item = f32>) -> f32 {
    let m = vals.fold(0f32, |m, x| m.max(x.abs()));
    if m > 0.0 {
        m / 127.0
    } else {
        1.0
    }
}

fn q(x: f32, s: f32) -> u8 {
    ((x / s).round().clamp(-127.0, 127.0) as i8) as u8
}

fn check_finite(name: &str, v: &[f32]) -> Result<(), PackError> {
    match v.iter().position(|x| !x.is_finite()) {
        Some(i) => Err(PackError::Weight {
            name: name.into(),
            reason: format!("element {i} is {} and cannot be quantized", v[i]),
        }),
        None => Ok(()),
    }
}

/// Symmetric per-tensor int8: bytes and parameters.
pub fn int8_per_tensor(name: &str, data: &[u8]) -> Result<(Vec<u8>, Quantization), PackError> {
    let v = f32s(data);
    check_finite(name, &v)?;
    let s = scale_of(v.iter().copied());
    let bytes = v.iter().map(|&x| q(x, s)).collect();
    Ok((
        bytes,
        Quantization::PerTensor {
            scale: s,
            zero_point: 0,
        },
    ))
}

/// Symmetric per-channel int8 along `axis` of `shape`.
pub fn int8_per_channel(
    name: &str,
    data: &[u8],
    shape: &[u64],
    axis: u32,
) -> Result<(Vec<u8>, Quantization), PackError> {
    let a = axis as usize;
    let Some(&channels) = shape.get(a) else {
        return Err(PackError::Weight {
            name: name.into(),
            reason: format!("channel axis {axis} >= rank {}", shape.len()),
        });
    };
    let v = f32s(data);
    check_finite(name, &v)?;
    let c = channels as usize;
    let inner: usize = shape[a + 1..].iter().product::<u64>() as usize;
    let chan = |i: usize| (i / inner.max(1)) % c.max(1);
    let mut maxes = vec![0f32; c];
    for (i, &x) in v.iter().enumerate() {
        let m = &mut maxes[chan(i)];
        *m = m.max(x.abs());
    }
    let scales: Vec<f32> = maxes
        .iter()
        .map(|&m| if m > 0.0 { m / 127.0 } else { 1.0 })
        .collect();
    let bytes = v
        .iter()
        .enumerate()
        .map(|(i, &x)| q(x, scales[chan(i)]))
        .collect();
    Ok((
        bytes,
        Quantization::PerChannel {
            axis,
            zero_points: vec![0; c],
            scales,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn le(v: &[f32]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    #[test]
    fn per_tensor_roundtrip_error_is_half_a_step() {
        let v = [0.0f32, 1.0, -2.0, 0.3, 1.27];
        let (b, qp) = int8_per_tensor("w", &le(&v)).unwrap();
        let Quantization::PerTensor { scale, zero_point } = qp else {
            panic!()
        };
        assert_eq!(zero_point, 0);
        assert!((scale - 2.0 / 127.0).abs() < 1e-9);
        for (x, &q) in v.iter().zip(&b) {
            let back = (q as i8) as f32 * scale;
            assert!((back - x).abs() <= scale / 2.0 + 1e-6, "{x} vs {back}");
        }
        assert_eq!(b[2] as i8, -127);
    }

    #[test]
    fn per_channel_uses_each_channels_max() {
        // shape [2, 3], axis 0: rows have max 3 and 30.
        let v = [1.0f32, -3.0, 2.0, 10.0, 30.0, -20.0];
        let (b, qp) = int8_per_channel("w", &le(&v), &[2, 3], 0).unwrap();
        let Quantization::PerChannel { scales, .. } = qp else {
            panic!()
        };
        assert_eq!(scales, vec![3.0 / 127.0, 30.0 / 127.0]);
        assert_eq!(b[1] as i8, -127);
        assert_eq!(b[4] as i8, 127);
        // axis 1: columns max 10, 30, 20.
        let (_, qp) = int8_per_channel("w", &le(&v), &[2, 3], 1).unwrap();
        let Quantization::PerChannel { scales, .. } = qp else {
            panic!()
        };
        assert_eq!(scales, vec![10.0 / 127.0, 30.0 / 127.0, 20.0 / 127.0]);
        assert!(int8_per_channel("w", &le(&v), &[2, 3], 2).is_err());
        assert!(int8_per_tensor("w", &le(&[f32::NAN])).is_err());
    }

    #[test]
    fn f16_conversion() {
        let b = to_f16(&le(&[1.0, -2.5, 65504.0]));
        assert_eq!(b, vec![0x00, 0x3c, 0x00, 0xc1, 0xff, 0x7b]);
    }
}
