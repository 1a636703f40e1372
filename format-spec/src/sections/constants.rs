//! Constant pool section (id 5): scalars, lists and small inline tensors.

use crate::error::ErrorKind;
use crate::limits::Limits;
use crate::model::{ConstValue, InlineTensor};
use crate::primitives::{
    bool_, bytes, count, dtype, f64_, fail, i64_, put, shape, string, u8_, vec_of, PResult,
};

/// Constant tags (SPEC.md §4.5).
pub(crate) mod tag {
    pub const NONE: u8 = 0;
    pub const BOOL: u8 = 1;
    pub const INT: u8 = 2;
    pub const FLOAT: u8 = 3;
    pub const STR: u8 = 4;
    pub const INTS: u8 = 5;
    pub const FLOATS: u8 = 6;
    pub const LIST: u8 = 7;
    pub const TENSOR: u8 = 8;
}

/// `numel(shape) * elem_size`, `None` on overflow.
pub(crate) fn byte_len(shape: &[u64], elem_size: usize) -> Option<u64> {
    shape
        .iter()
        .try_fold(elem_size as u64, |acc, &d| acc.checked_mul(d))
}

fn inline_tensor<'a>(i: &'a [u8], l: &Limits) -> PResult<'a, InlineTensor> {
    let (r, dt) = dtype(i)?;
    let (r, shp) = shape(r, l.max_rank)?;
    let at = r;
    let (r, n) = count(r, 1, l.max_items, "inline tensor bytes")?;
    match byte_len(&shp, dt.size()) {
        Some(want) if want == n as u64 => {}
        want => {
            return fail(
                at,
                ErrorKind::Inconsistent,
                format!(
                    "inline {} tensor of shape {shp:?} needs {} bytes, has {n}",
                    dt.name(),
                    want.map_or("overflowing".to_string(), |w| w.to_string())
                ),
            )
        }
    }
    let (r, data) = bytes(r, n)?;
    Ok((
        r,
        InlineTensor {
            dtype: dt,
            shape: shp,
            data: data.to_vec(),
        },
    ))
}

/// One constant; `depth` is the number of enclosing lists.
fn value<'a>(i: &'a [u8], l: &Limits, depth: u32) -> PResult<'a, ConstValue> {
    let (r, t) = u8_(i)?;
    Ok(match t {
        tag::NONE => (r, ConstValue::None),
        tag::BOOL => {
            let (r, b) = bool_(r)?;
            (r, ConstValue::Bool(b))
        }
        tag::INT => {
            let (r, v) = i64_(r)?;
            (r, ConstValue::Int(v))
        }
        tag::FLOAT => {
            let (r, v) = f64_(r)?;
            (r, ConstValue::Float(v))
        }
        tag::STR => {
            let (r, s) = string(r, l.max_string_len)?;
            (r, ConstValue::Str(s))
        }
        tag::INTS => {
            let (r, v) = vec_of(r, 8, l.max_items, "int list", i64_)?;
            (r, ConstValue::Ints(v))
        }
        tag::FLOATS => {
            let (r, v) = vec_of(r, 8, l.max_items, "float list", f64_)?;
            (r, ConstValue::Floats(v))
        }
        tag::LIST => {
            if depth + 1 > l.max_const_depth {
                return fail(
                    i,
                    ErrorKind::LimitExceeded,
                    format!("list constants nest deeper than {}", l.max_const_depth),
                );
            }
            let (r, v) = vec_of(r, 1, l.max_items, "list", |i| value(i, l, depth + 1))?;
            (r, ConstValue::List(v))
        }
        tag::TENSOR => {
            let (r, t) = inline_tensor(r, l)?;
            (r, ConstValue::Tensor(t))
        }
        t => {
            return fail(
                i,
                ErrorKind::InvalidCode,
                format!("unknown constant tag {t}"),
            )
        }
    })
}

/// Parse the constant pool payload.
pub(crate) fn parse<'a>(i: &'a [u8], l: &Limits) -> PResult<'a, Vec<ConstValue>> {
    vec_of(i, 1, l.max_constants, "constants", |i| value(i, l, 0))
}

fn encode_value(v: &ConstValue, o: &mut Vec<u8>) {
    match v {
        ConstValue::None => put::u8_(o, tag::NONE),
        ConstValue::Bool(b) => {
            put::u8_(o, tag::BOOL);
            put::u8_(o, *b as u8);
        }
        ConstValue::Int(x) => {
            put::u8_(o, tag::INT);
            put::i64_(o, *x);
        }
        ConstValue::Float(x) => {
            put::u8_(o, tag::FLOAT);
            put::f64_(o, *x);
        }
        ConstValue::Str(s) => {
            put::u8_(o, tag::STR);
            put::string(o, s);
        }
        ConstValue::Ints(xs) => {
            put::u8_(o, tag::INTS);
            put::count(o, xs.len());
            for &x in xs {
                put::i64_(o, x);
            }
        }
        ConstValue::Floats(xs) => {
            put::u8_(o, tag::FLOATS);
            put::count(o, xs.len());
            for &x in xs {
                put::f64_(o, x);
            }
        }
        ConstValue::List(xs) => {
            put::u8_(o, tag::LIST);
            put::count(o, xs.len());
            for x in xs {
                encode_value(x, o);
            }
        }
        ConstValue::Tensor(t) => {
            put::u8_(o, tag::TENSOR);
            put::u8_(o, t.dtype.code());
            put::shape(o, &t.shape);
            put::count(o, t.data.len());
            o.extend_from_slice(&t.data);
        }
    }
}

/// Encode the constant pool payload.
pub(crate) fn encode(cs: &[ConstValue], o: &mut Vec<u8>) {
    put::count(o, cs.len());
    for c in cs {
        encode_value(c, o);
    }
}
