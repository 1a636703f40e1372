//! State section (id 9, format 1.1): the session-state tensors a graph updates in place
//! (a KV cache), each with a fixed dtype and shape and where its initial value comes from.

use crate::error::ErrorKind;
use crate::limits::Limits;
use crate::model::{StateInfo, StateInit};
use crate::primitives::{dtype, fail, put, shape, string, u32_, u8_, vec_of, PResult};

const INIT_ZEROS: u8 = 0;
const INIT_TENSOR: u8 = 1;

fn init(i: &[u8]) -> PResult<'_, StateInit> {
    let (r, tag) = u8_(i)?;
    match tag {
        INIT_ZEROS => Ok((r, StateInit::Zeros)),
        INIT_TENSOR => {
            let (r, t) = u32_(r)?;
            Ok((r, StateInit::Tensor(t)))
        }
        t => fail(
            i,
            ErrorKind::InvalidCode,
            format!("unknown state init tag {t}"),
        ),
    }
}

fn state<'a>(i: &'a [u8], l: &Limits) -> PResult<'a, StateInfo> {
    let (i, name) = string(i, l.max_string_len)?;
    let (i, dt) = dtype(i)?;
    let (i, shp) = shape(i, l.max_rank)?;
    let (i, init) = init(i)?;
    Ok((
        i,
        StateInfo {
            name,
            dtype: dt,
            shape: shp,
            init,
        },
    ))
}

/// Parse the state payload: `vec<StateInfo>`.
pub(crate) fn parse<'a>(i: &'a [u8], l: &Limits) -> PResult<'a, Vec<StateInfo>> {
    // Minimal entry: empty name (4) + dtype (1) + rank (4) + init tag (1).
    vec_of(i, 10, l.max_tensors, "states", |i| state(i, l))
}

/// Encode the state payload.
pub(crate) fn encode(states: &[StateInfo], o: &mut Vec<u8>) {
    put::count(o, states.len());
    for s in states {
        put::string(o, &s.name);
        put::u8_(o, s.dtype.code());
        put::shape(o, &s.shape);
        match s.init {
            StateInit::Zeros => put::u8_(o, INIT_ZEROS),
            StateInit::Tensor(t) => {
                put::u8_(o, INIT_TENSOR);
                put::u32_(o, t);
            }
        }
    }
}
