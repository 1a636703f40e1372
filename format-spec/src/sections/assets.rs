//! Assets section (id 10, format 1.1, optional): named byte blobs a model ships with (a
//! tokenizer, a generation config), so one file carries everything needed to use it.
//!
//! The bytes are opaque to the format: it bounds them ([`Limits::max_asset_bytes`]) and names
//! them, nothing more. They live in the graph part of the file (before the weights), so a
//! streaming reader has them at `GraphReady`.

use crate::error::ErrorKind;
use crate::limits::Limits;
use crate::model::Asset;
use crate::primitives::{bytes, count, fail, put, string, vec_of, PResult};

/// Smallest encoded asset: an empty name (4) and an empty byte vector (4).
const MIN_ASSET_LEN: usize = 8;

/// Parse the assets payload: `vec<Asset>`, each `str` name then `u32` length and the bytes.
/// Each asset's length and the running total are checked against `max_asset_bytes` before
/// the bytes are copied.
pub(crate) fn parse<'a>(i: &'a [u8], l: &Limits) -> PResult<'a, Vec<Asset>> {
    let mut total: u64 = 0;
    vec_of(i, MIN_ASSET_LEN, l.max_assets, "assets", |i| {
        let (r, name) = string(i, l.max_string_len)?;
        let (r2, n) = count(r, 1, u32::MAX, "asset length")?;
        total += n as u64;
        if total > l.max_asset_bytes {
            return fail(
                r,
                ErrorKind::LimitExceeded,
                format!(
                    "asset '{name}' ({n} bytes) brings the assets to {total} bytes, over \
                     max_asset_bytes ({})",
                    l.max_asset_bytes
                ),
            );
        }
        let (r2, data) = bytes(r2, n)?;
        Ok((
            r2,
            Asset {
                name,
                data: data.to_vec(),
            },
        ))
    })
}

/// Encode the assets payload.
pub(crate) fn encode(assets: &[Asset], o: &mut Vec<u8>) {
    put::count(o, assets.len());
    for a in assets {
        put::string(o, &a.name);
        put::count(o, a.data.len());
        o.extend_from_slice(&a.data);
    }
}
