//! Tensor table section (id 6): named weights/buffers, their stored form and location.

use crate::error::ErrorKind;
use crate::limits::Limits;
use crate::model::{Layout, Quantization, TensorInfo};
use crate::primitives::{
    dtype, f32_, fail, i32_, put, shape, string, u32_, u64_, u8_, vec_of, PResult,
};

const Q_NONE: u8 = 0;
const Q_PER_TENSOR: u8 = 1;
const Q_PER_CHANNEL: u8 = 2;
const Q_GROUP_INT4: u8 = 3;
const Q_GROUP_INT8: u8 = 4;

fn quantization<'a>(i: &'a [u8], l: &Limits) -> PResult<'a, Quantization> {
    let (r, t) = u8_(i)?;
    Ok(match t {
        Q_NONE => (r, Quantization::None),
        Q_PER_TENSOR => {
            let (r, scale) = f32_(r)?;
            let (r, zero_point) = i32_(r)?;
            (r, Quantization::PerTensor { scale, zero_point })
        }
        Q_PER_CHANNEL => {
            let (r, axis) = u32_(r)?;
            let (r, scales) = vec_of(r, 4, l.max_items, "scales", f32_)?;
            let (r, zero_points) = vec_of(r, 4, l.max_items, "zero points", i32_)?;
            (
                r,
                Quantization::PerChannel {
                    axis,
                    scales,
                    zero_points,
                },
            )
        }
        Q_GROUP_INT4 => {
            let (r, group) = u32_(r)?;
            let (r, flag) = u8_(r)?;
            let offsets = match flag {
                0 => false,
                1 => true,
                f => {
                    return fail(
                        i,
                        ErrorKind::InvalidCode,
                        format!("int4 offsets flag {f} (must be 0 or 1)"),
                    )
                }
            };
            (r, Quantization::GroupInt4 { group, offsets })
        }
        Q_GROUP_INT8 => {
            let (r, group) = u32_(r)?;
            (r, Quantization::GroupInt8 { group })
        }
        t => {
            return fail(
                i,
                ErrorKind::InvalidCode,
                format!("unknown quantization tag {t}"),
            )
        }
    })
}

fn layout(i: &[u8]) -> PResult<'_, Layout> {
    let (r, c) = u8_(i)?;
    match c {
        0 => Ok((r, Layout::Contiguous)),
        c => fail(
            i,
            ErrorKind::InvalidCode,
            format!("unknown layout code {c}"),
        ),
    }
}

fn tensor<'a>(i: &'a [u8], l: &Limits) -> PResult<'a, TensorInfo> {
    let (i, name) = string(i, l.max_string_len)?;
    let (i, dt) = dtype(i)?;
    let (i, shp) = shape(i, l.max_rank)?;
    let (i, lay) = layout(i)?;
    let (i, stored_dtype) = dtype(i)?;
    let (i, quant) = quantization(i, l)?;
    let (i, chunk) = u32_(i)?;
    let (i, offset) = u64_(i)?;
    let (i, nbytes) = u64_(i)?;
    Ok((
        i,
        TensorInfo {
            name,
            dtype: dt,
            shape: shp,
            layout: lay,
            stored_dtype,
            quantization: quant,
            chunk,
            offset,
            nbytes,
        },
    ))
}

/// Parse the tensor table payload.
pub(crate) fn parse<'a>(i: &'a [u8], l: &Limits) -> PResult<'a, Vec<TensorInfo>> {
    vec_of(i, 32, l.max_tensors, "tensors", |i| tensor(i, l))
}

/// Encode the tensor table payload.
pub(crate) fn encode(ts: &[TensorInfo], o: &mut Vec<u8>) {
    put::count(o, ts.len());
    for t in ts {
        put::string(o, &t.name);
        put::u8_(o, t.dtype.code());
        put::shape(o, &t.shape);
        put::u8_(o, t.layout as u8);
        put::u8_(o, t.stored_dtype.code());
        match &t.quantization {
            Quantization::None => put::u8_(o, Q_NONE),
            Quantization::PerTensor { scale, zero_point } => {
                put::u8_(o, Q_PER_TENSOR);
                put::f32_(o, *scale);
                put::i32_(o, *zero_point);
            }
            Quantization::PerChannel {
                axis,
                scales,
                zero_points,
            } => {
                put::u8_(o, Q_PER_CHANNEL);
                put::u32_(o, *axis);
                put::count(o, scales.len());
                for &s in scales {
                    put::f32_(o, s);
                }
                put::count(o, zero_points.len());
                for &z in zero_points {
                    put::i32_(o, z);
                }
            }
            Quantization::GroupInt4 { group, offsets } => {
                put::u8_(o, Q_GROUP_INT4);
                put::u32_(o, *group);
                put::u8_(o, u8::from(*offsets));
            }
            Quantization::GroupInt8 { group } => {
                put::u8_(o, Q_GROUP_INT8);
                put::u32_(o, *group);
            }
        }
        put::u32_(o, t.chunk);
        put::u64_(o, t.offset);
        put::u64_(o, t.nbytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Group-wise int8 is tag 4 + a u32 group; the next tag is unknown: `InvalidCode`.
    #[test]
    fn group_int8_tag_and_unknown_tags() {
        let l = Limits::default();
        let (rest, q) = quantization(&[4, 64, 0, 0, 0, 9], &l).unwrap();
        assert_eq!(q, Quantization::GroupInt8 { group: 64 });
        assert_eq!(rest, &[9]);
        assert!(quantization(&[4, 64, 0], &l).is_err(), "truncated group");
        match quantization(&[5, 64, 0, 0, 0], &l) {
            Err(nom::Err::Error(e) | nom::Err::Failure(e)) => {
                assert_eq!(e.kind, ErrorKind::InvalidCode)
            }
            other => panic!("tag 5 accepted or wrong error: {other:?}"),
        }
    }
}
