//! Signature section (id 2): named inputs and outputs with dtypes and (symbolic) shapes.

use crate::error::ErrorKind;
use crate::limits::Limits;
use crate::model::{Dim, Signature, ValueSpec};
use crate::primitives::{dtype, fail, put, string, u64_, u8_, vec_of, PResult};

const DIM_FIXED: u8 = 0;
const DIM_SYMBOLIC: u8 = 1;

fn dim<'a>(i: &'a [u8], l: &Limits) -> PResult<'a, Dim> {
    let (rest, tag) = u8_(i)?;
    match tag {
        DIM_FIXED => {
            let (rest, n) = u64_(rest)?;
            Ok((rest, Dim::Fixed(n)))
        }
        DIM_SYMBOLIC => {
            let (rest, s) = string(rest, l.max_string_len)?;
            Ok((rest, Dim::Symbolic(s)))
        }
        t => fail(i, ErrorKind::InvalidCode, format!("unknown dim tag {t}")),
    }
}

fn value_spec<'a>(i: &'a [u8], l: &Limits) -> PResult<'a, ValueSpec> {
    let (i, name) = string(i, l.max_string_len)?;
    let (i, dtype) = dtype(i)?;
    let (i, shape) = vec_of(i, 5, l.max_rank, "signature rank", |i| dim(i, l))?;
    Ok((i, ValueSpec { name, dtype, shape }))
}

/// Parse the signature payload.
pub(crate) fn parse<'a>(i: &'a [u8], l: &Limits) -> PResult<'a, Signature> {
    let (i, inputs) = vec_of(i, 9, l.max_items, "inputs", |i| value_spec(i, l))?;
    let (i, outputs) = vec_of(i, 9, l.max_items, "outputs", |i| value_spec(i, l))?;
    Ok((i, Signature { inputs, outputs }))
}

fn encode_spec(v: &ValueSpec, o: &mut Vec<u8>) {
    put::string(o, &v.name);
    put::u8_(o, v.dtype.code());
    put::count(o, v.shape.len());
    for d in &v.shape {
        match d {
            Dim::Fixed(n) => {
                put::u8_(o, DIM_FIXED);
                put::u64_(o, *n);
            }
            Dim::Symbolic(s) => {
                put::u8_(o, DIM_SYMBOLIC);
                put::string(o, s);
            }
        }
    }
}

/// Encode the signature payload.
pub(crate) fn encode(s: &Signature, o: &mut Vec<u8>) {
    for list in [&s.inputs, &s.outputs] {
        put::count(o, list.len());
        for v in list {
            encode_spec(v, o);
        }
    }
}
