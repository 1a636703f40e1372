//! Weight dtype conversion: f32 → f16, f32 → symmetric int8 (per tensor / per channel) and
//! f32 → group-wise int4 (SPEC.md §4.6.1) and int8 (§4.6.2), plus the checks on
//! pre-quantized group-wise bytes.

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

/// f32 rounded to f16 and back.
fn f16_round(x: f32) -> f32 {
    half::f16::from_f32(x).to_f32()
}

/// Group-wise int4 along the last axis of `shape` (SPEC.md §4.6.1): the stored bytes
/// (codes, f16 scales, then f16 offsets when `offsets`). With offsets (GGUF Q4_1 style) a
/// group's offset is its minimum and its scale `(max − min) / 15`; without (Q4_0 style) the
/// scale is `max|x| / 7` and the offset `−8 · scale`. Both are rounded to f16 before the
/// codes are chosen, so the codes fit the stored parameters.
pub fn int4_group(
    name: &str,
    data: &[u8],
    shape: &[u64],
    group: u32,
    offsets: bool,
) -> Result<(Vec<u8>, Quantization), PackError> {
    let bad = |reason: String| PackError::Weight {
        name: name.into(),
        reason,
    };
    let q = Quantization::GroupInt4 { group, offsets };
    let g = group as usize;
    let last = shape.last().copied().unwrap_or(0);
    if g % 32 != 0 || !(32..=256).contains(&g) || last == 0 || last % u64::from(group) != 0 {
        return Err(bad(format!(
            "int4 group size {group} must be a multiple of 32 in 32..=256 dividing the last dimension of {shape:?}"
        )));
    }
    let v = f32s(data);
    check_finite(name, &v)?;
    let half = g / 2;
    let groups = v.len() / g;
    let mut codes = vec![0u8; v.len() / 2];
    let mut scales = Vec::with_capacity(2 * groups);
    let mut mins = Vec::with_capacity(if offsets { 2 * groups } else { 0 });
    for (gi, (x, out)) in v
        .chunks_exact(g)
        .zip(codes.chunks_exact_mut(half))
        .enumerate()
    {
        let (lo, hi) = x
            .iter()
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &y| {
                (a.min(y), b.max(y))
            });
        let (d, m) = if offsets {
            let m = f16_round(lo);
            (f16_round((hi - m) / 15.0), m)
        } else {
            let d = f16_round(lo.abs().max(hi.abs()) / 7.0);
            (d, -8.0 * d)
        };
        if !(d.is_finite() && m.is_finite()) {
            return Err(bad(format!(
                "int4 group {gi}: scale or offset overflows f16 (values up to {hi})"
            )));
        }
        scales.extend_from_slice(&half::f16::from_f32(d).to_le_bytes());
        if offsets {
            mins.extend_from_slice(&half::f16::from_f32(m).to_le_bytes());
        }
        let code = |y: f32| -> u8 {
            if d > 0.0 {
                ((y - m) / d).round().clamp(0.0, 15.0) as u8
            } else if offsets {
                0 // a constant group: every value is the offset
            } else {
                8 // an all-zero group
            }
        };
        for (b, o) in out.iter_mut().enumerate() {
            *o = code(x[b]) | (code(x[b + half]) << 4);
        }
    }
    codes.extend_from_slice(&scales);
    codes.extend_from_slice(&mins);
    Ok((codes, q))
}

/// Checks already-quantized int4 bytes (e.g. GGUF Q4_1 blocks rearranged by the exporter)
/// against `shape`: group size, byte length and finite scales and offsets.
pub fn int4_stored(
    name: &str,
    data: &[u8],
    shape: &[u64],
    group: u32,
    offsets: bool,
) -> Result<Quantization, PackError> {
    let bad = |reason: String| PackError::Weight {
        name: name.into(),
        reason,
    };
    let q = Quantization::GroupInt4 { group, offsets };
    let last = shape.last().copied().unwrap_or(0);
    if group % 32 != 0 || !(32..=256).contains(&group) || last == 0 || last % u64::from(group) != 0
    {
        return Err(bad(format!(
            "int4 group size {group} must be a multiple of 32 in 32..=256 dividing the last dimension of {shape:?}"
        )));
    }
    let want = q
        .stored_nbytes(shape, wasm_torch_format::DType::U8)
        .ok_or_else(|| bad(format!("shape {shape:?} overflows")))?;
    if data.len() as u64 != want {
        return Err(bad(format!(
            "{} int4 bytes for {shape:?} with group {group} (needs {want})",
            data.len()
        )));
    }
    let numel: u64 = shape.iter().product();
    let params = &data[(numel / 2) as usize..];
    if let Some(i) = params
        .chunks_exact(2)
        .position(|b| !half::f16::from_le_bytes([b[0], b[1]]).is_finite())
    {
        return Err(bad(format!("int4 scale/offset {i} is not finite")));
    }
    Ok(q)
}

/// The group rule shared by the group-wise encodings: a multiple of 32 in 32..=256 that
/// divides a non-zero last dimension.
fn check_group(name: &str, what: &str, shape: &[u64], group: u32) -> Result<(), PackError> {
    let last = shape.last().copied().unwrap_or(0);
    if group % 32 != 0 || !(32..=256).contains(&group) || last == 0 || last % u64::from(group) != 0
    {
        return Err(PackError::Weight {
            name: name.into(),
            reason: format!(
                "{what} group size {group} must be a multiple of 32 in 32..=256 dividing the last dimension of {shape:?}"
            ),
        });
    }
    Ok(())
}

/// Group-wise symmetric int8 along the last axis of `shape` (SPEC.md §4.6.2), bit for bit
/// what ggml's reference Q8_0 quantizer writes: per group `d = max|x| / 127` in f32, codes
/// `round(x · (1/d))` (half away from zero; all 0 when `d = 0`), then `d` stored as f16.
/// Returns the stored bytes: codes, then f16 scales.
pub fn int8_group(
    name: &str,
    data: &[u8],
    shape: &[u64],
    group: u32,
) -> Result<(Vec<u8>, Quantization), PackError> {
    check_group(name, "int8", shape, group)?;
    let v = f32s(data);
    check_finite(name, &v)?;
    let g = group as usize;
    let mut out = Vec::with_capacity(v.len() + 2 * (v.len() / g));
    let mut scales = Vec::with_capacity(2 * (v.len() / g));
    for (gi, x) in v.chunks_exact(g).enumerate() {
        let amax = x.iter().fold(0f32, |m, y| m.max(y.abs()));
        let d = amax / 127.0;
        let stored = half::f16::from_f32(d);
        if !stored.is_finite() {
            return Err(PackError::Weight {
                name: name.into(),
                reason: format!("int8 group {gi}: scale overflows f16 (values up to {amax})"),
            });
        }
        scales.extend_from_slice(&stored.to_le_bytes());
        let id = if d == 0.0 { 0.0 } else { 1.0 / d };
        out.extend(
            x.iter()
                .map(|&y| ((y * id).round().clamp(-127.0, 127.0) as i8) as u8),
        );
    }
    out.extend_from_slice(&scales);
    Ok((out, Quantization::GroupInt8 { group }))
}

/// Checks already-quantized group-wise int8 bytes (e.g. GGUF Q8_0 blocks rearranged by the
/// exporter) against `shape`: group size, byte length and finite scales.
pub fn int8_group_stored(
    name: &str,
    data: &[u8],
    shape: &[u64],
    group: u32,
) -> Result<Quantization, PackError> {
    let bad = |reason: String| PackError::Weight {
        name: name.into(),
        reason,
    };
    check_group(name, "int8", shape, group)?;
    let q = Quantization::GroupInt8 { group };
    let want = q
        .stored_nbytes(shape, wasm_torch_format::DType::U8)
        .ok_or_else(|| bad(format!("shape {shape:?} overflows")))?;
    if data.len() as u64 != want {
        return Err(bad(format!(
            "{} group-wise int8 bytes for {shape:?} with group {group} (needs {want})",
            data.len()
        )));
    }
    let numel: u64 = shape.iter().product();
    if let Some(i) = data[numel as usize..]
        .chunks_exact(2)
        .position(|b| !half::f16::from_le_bytes([b[0], b[1]]).is_finite())
    {
        return Err(bad(format!("int8 group scale {i} is not finite")));
    }
    Ok(q)
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
