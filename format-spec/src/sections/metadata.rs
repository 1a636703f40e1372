//! Metadata section (id 1): provenance strings and free-form key/value pairs.

use crate::limits::Limits;
use crate::model::Metadata;
use crate::primitives::{put, string, vec_of, PResult};

/// Parse the metadata payload.
pub(crate) fn parse<'a>(i: &'a [u8], l: &Limits) -> PResult<'a, Metadata> {
    let s = l.max_string_len;
    let (i, producer) = string(i, s)?;
    let (i, exporter_version) = string(i, s)?;
    let (i, torch_version) = string(i, s)?;
    let (i, model_name) = string(i, s)?;
    let (i, extra) = vec_of(i, 8, l.max_items, "metadata entries", |i| {
        let (i, k) = string(i, s)?;
        let (i, v) = string(i, s)?;
        Ok((i, (k, v)))
    })?;
    Ok((
        i,
        Metadata {
            producer,
            exporter_version,
            torch_version,
            model_name,
            extra,
        },
    ))
}

/// Encode the metadata payload.
pub(crate) fn encode(m: &Metadata, o: &mut Vec<u8>) {
    put::string(o, &m.producer);
    put::string(o, &m.exporter_version);
    put::string(o, &m.torch_version);
    put::string(o, &m.model_name);
    put::count(o, m.extra.len());
    for (k, v) in &m.extra {
        put::string(o, k);
        put::string(o, v);
    }
}
