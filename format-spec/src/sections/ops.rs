//! Op table section (id 3): fully qualified op names with overload.

use crate::limits::Limits;
use crate::primitives::{put, string, vec_of, PResult};

/// Parse the op table payload.
pub(crate) fn parse<'a>(i: &'a [u8], l: &Limits) -> PResult<'a, Vec<String>> {
    vec_of(i, 4, l.max_ops, "op table", |i| string(i, l.max_string_len))
}

/// Encode the op table payload.
pub(crate) fn encode(ops: &[String], o: &mut Vec<u8>) {
    put::count(o, ops.len());
    for s in ops {
        put::string(o, s);
    }
}
