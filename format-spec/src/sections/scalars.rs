//! Scalar-input section (id 11, format 1.1): which signature inputs are int/float/bool
//! scalars rather than tensors, and the default each one takes when the caller omits it.

use crate::error::ErrorKind;
use crate::limits::Limits;
use crate::model::{Scalar, ScalarInput, ScalarKind};
use crate::primitives::{bool_, f64_, fail, i64_, put, u32_, u8_, vec_of, PResult};

/// No default: the caller must pass the input.
const DEFAULT_NONE: u8 = 0;
/// A default the caller may override.
const DEFAULT_VALUE: u8 = 1;
/// The only value the graph accepts (it was specialized to it); also the default.
const DEFAULT_FIXED: u8 = 2;

fn entry(i: &[u8]) -> PResult<'_, ScalarInput> {
    let (r, input) = u32_(i)?;
    let (r2, code) = u8_(r)?;
    let kind = match ScalarKind::from_code(code) {
        Some(k) => k,
        None => {
            return fail(
                r,
                ErrorKind::InvalidCode,
                format!("unknown scalar kind {code} for input {input}"),
            )
        }
    };
    let (r, tag) = u8_(r2)?;
    let fixed = match tag {
        DEFAULT_NONE => {
            return Ok((
                r,
                ScalarInput {
                    input,
                    kind,
                    default: None,
                    fixed: false,
                },
            ))
        }
        DEFAULT_VALUE => false,
        DEFAULT_FIXED => true,
        t => {
            return fail(
                r2,
                ErrorKind::InvalidCode,
                format!("unknown default tag {t} for input {input}"),
            )
        }
    };
    let (r, value) = match kind {
        ScalarKind::Int => i64_(r).map(|(r, v)| (r, Scalar::Int(v)))?,
        ScalarKind::Float => f64_(r).map(|(r, v)| (r, Scalar::Float(v)))?,
        ScalarKind::Bool => bool_(r).map(|(r, v)| (r, Scalar::Bool(v)))?,
    };
    Ok((
        r,
        ScalarInput {
            input,
            kind,
            default: Some(value),
            fixed,
        },
    ))
}

/// Parse the scalar-input payload: `vec<ScalarInput>`.
pub(crate) fn parse<'a>(i: &'a [u8], l: &Limits) -> PResult<'a, Vec<ScalarInput>> {
    // Minimal entry: input (4) + kind (1) + default tag (1).
    vec_of(i, 6, l.max_items, "scalar inputs", entry)
}

/// Encode the scalar-input payload. The default is written by its own variant; validation
/// refuses a default whose kind differs from the input's.
pub(crate) fn encode(items: &[ScalarInput], o: &mut Vec<u8>) {
    put::count(o, items.len());
    for s in items {
        put::u32_(o, s.input);
        put::u8_(o, s.kind.code());
        match s.default {
            None => put::u8_(o, DEFAULT_NONE),
            Some(v) => {
                put::u8_(
                    o,
                    if s.fixed {
                        DEFAULT_FIXED
                    } else {
                        DEFAULT_VALUE
                    },
                );
                match v {
                    Scalar::Int(x) => put::i64_(o, x),
                    Scalar::Float(x) => put::f64_(o, x),
                    Scalar::Bool(x) => put::u8_(o, u8::from(x)),
                }
            }
        }
    }
}
