//! nom leaf parsers shared by every section: fixed-width little-endian integers, floats,
//! u32-length-prefixed UTF-8 strings and u32-count-prefixed vectors, dtype codes.
//!
//! Errors carry the number of bytes left in the section when they happened; the section driver
//! turns that into an absolute file offset ([`PError::into_format`]).

use crate::error::{ErrorKind, FormatError, SectionKind};
use crate::model::DType;
use nom::number::complete as num;
use nom::IResult;

/// A parse error inside one section, positioned by the bytes remaining after it.
#[derive(Debug)]
pub(crate) struct PError {
    pub kind: ErrorKind,
    /// Length of the input remaining at the offending value.
    pub remaining: usize,
    pub message: String,
}

impl PError {
    /// Convert to a [`FormatError`] for a section of `section_len` bytes starting at `base`.
    pub fn into_format(self, section: SectionKind, base: u64, section_len: usize) -> FormatError {
        let offset = base + section_len.saturating_sub(self.remaining) as u64;
        FormatError::new(self.kind, Some(section), offset, self.message)
    }
}

impl<'a> nom::error::ParseError<&'a [u8]> for PError {
    fn from_error_kind(input: &'a [u8], _kind: nom::error::ErrorKind) -> Self {
        PError {
            kind: ErrorKind::Truncated,
            remaining: input.len(),
            message: "value runs past the end of the section".into(),
        }
    }

    fn append(_input: &'a [u8], _kind: nom::error::ErrorKind, other: Self) -> Self {
        other
    }
}

/// Result of a section parser.
pub(crate) type PResult<'a, T> = IResult<&'a [u8], T, PError>;

/// A hard failure at `input`'s position.
pub(crate) fn fail<T>(input: &[u8], kind: ErrorKind, message: impl Into<String>) -> PResult<'_, T> {
    Err(nom::Err::Failure(PError {
        kind,
        remaining: input.len(),
        message: message.into(),
    }))
}

pub(crate) fn u8_(i: &[u8]) -> PResult<'_, u8> {
    num::le_u8(i)
}
pub(crate) fn u32_(i: &[u8]) -> PResult<'_, u32> {
    num::le_u32(i)
}
pub(crate) fn u64_(i: &[u8]) -> PResult<'_, u64> {
    num::le_u64(i)
}
pub(crate) fn i32_(i: &[u8]) -> PResult<'_, i32> {
    num::le_i32(i)
}
pub(crate) fn i64_(i: &[u8]) -> PResult<'_, i64> {
    num::le_i64(i)
}
/// An f32 from its IEEE bits (bit-exact, NaN payloads kept).
pub(crate) fn f32_(i: &[u8]) -> PResult<'_, f32> {
    let (i, bits) = num::le_u32(i)?;
    Ok((i, f32::from_bits(bits)))
}
/// An f64 from its IEEE bits (bit-exact, NaN payloads kept).
pub(crate) fn f64_(i: &[u8]) -> PResult<'_, f64> {
    let (i, bits) = num::le_u64(i)?;
    Ok((i, f64::from_bits(bits)))
}

/// A boolean byte: 0 or 1, anything else is an error.
pub(crate) fn bool_(i: &[u8]) -> PResult<'_, bool> {
    let (rest, b) = u8_(i)?;
    match b {
        0 => Ok((rest, false)),
        1 => Ok((rest, true)),
        other => fail(
            i,
            ErrorKind::InvalidCode,
            format!("bool byte {other} is not 0 or 1"),
        ),
    }
}

/// `n` raw bytes.
pub(crate) fn bytes(i: &[u8], n: usize) -> PResult<'_, &[u8]> {
    nom::bytes::complete::take(n)(i)
}

/// A u32 count of items of at least `min_size` bytes each, checked against `max` and against
/// the bytes remaining *before* the caller allocates anything for them.
pub(crate) fn count<'a>(i: &'a [u8], min_size: usize, max: u32, what: &str) -> PResult<'a, usize> {
    let (rest, n) = u32_(i)?;
    if n > max {
        return fail(
            i,
            ErrorKind::LimitExceeded,
            format!("{what}: count {n} exceeds the limit {max}"),
        );
    }
    let n = n as usize;
    let need = (n as u64).saturating_mul(min_size as u64);
    if need > rest.len() as u64 {
        return fail(
            i,
            ErrorKind::Truncated,
            format!(
                "{what}: count {n} needs at least {need} bytes but only {} remain",
                rest.len()
            ),
        );
    }
    Ok((rest, n))
}

/// Capacity to reserve for `n` declared items: the count is already bounded by the bytes left,
/// but items may be larger in memory than on disk, so vectors grow as items actually parse.
pub(crate) fn cap(n: usize) -> usize {
    n.min(1024)
}

/// A vector of `count`-checked items.
pub(crate) fn vec_of<'a, T>(
    i: &'a [u8],
    min_size: usize,
    max: u32,
    what: &str,
    mut item: impl FnMut(&'a [u8]) -> PResult<'a, T>,
) -> PResult<'a, Vec<T>> {
    let (mut i, n) = count(i, min_size, max, what)?;
    let mut out = Vec::with_capacity(cap(n));
    for _ in 0..n {
        let (rest, v) = item(i)?;
        out.push(v);
        i = rest;
    }
    Ok((i, out))
}

/// A u32-length-prefixed UTF-8 string of at most `max` bytes.
pub(crate) fn string(i: &[u8], max: u32) -> PResult<'_, String> {
    let (rest, n) = count(i, 1, max, "string length")?;
    let (rest, raw) = bytes(rest, n)?;
    match std::str::from_utf8(raw) {
        Ok(s) => Ok((rest, s.to_owned())),
        Err(e) => fail(
            &i[4 + e.valid_up_to()..],
            ErrorKind::InvalidUtf8,
            format!("string is not valid UTF-8 after {} bytes", e.valid_up_to()),
        ),
    }
}

/// A dtype code byte.
pub(crate) fn dtype(i: &[u8]) -> PResult<'_, DType> {
    let (rest, c) = u8_(i)?;
    match DType::from_code(c) {
        Some(d) => Ok((rest, d)),
        None => fail(i, ErrorKind::InvalidCode, format!("unknown dtype code {c}")),
    }
}

/// A shape: u32 rank (checked against `max_rank`) then that many u64 dims.
pub(crate) fn shape(i: &[u8], max_rank: u32) -> PResult<'_, Vec<u64>> {
    vec_of(i, 8, max_rank, "shape rank", u64_)
}

/// Run a section parser over its whole payload and convert errors to [`FormatError`]s.
/// `exact` demands that the parser consume every byte (files of this reader's minor or
/// older); a newer minor may append fields, which are then ignored.
pub(crate) fn run_section<'a, T>(
    payload: &'a [u8],
    section: SectionKind,
    base: u64,
    exact: bool,
    parser: impl FnOnce(&'a [u8]) -> PResult<'a, T>,
) -> Result<T, FormatError> {
    match parser(payload) {
        Ok((rest, v)) => {
            if exact && !rest.is_empty() {
                return Err(FormatError::new(
                    ErrorKind::TrailingBytes,
                    Some(section),
                    base + (payload.len() - rest.len()) as u64,
                    format!("{} unparsed bytes at the end of the section", rest.len()),
                ));
            }
            Ok(v)
        }
        Err(nom::Err::Error(e)) | Err(nom::Err::Failure(e)) => {
            Err(e.into_format(section, base, payload.len()))
        }
        Err(nom::Err::Incomplete(_)) => Err(FormatError::new(
            ErrorKind::Truncated,
            Some(section),
            base + payload.len() as u64,
            "section ends early",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_and_counts() {
        let mut b = vec![3, 0, 0, 0];
        b.extend_from_slice(b"abc");
        assert_eq!(string(&b, 10).unwrap().1, "abc");
        assert!(string(&b, 2).is_err());
        assert!(string(&b[..5], 10).is_err());
        let bad = [2, 0, 0, 0, 0xff, 0xfe];
        let e = run_section(&bad, SectionKind::Metadata, 100, true, |i| string(i, 10)).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidUtf8);
        assert_eq!(e.offset, 104);
        // A huge count fails before allocating.
        let huge = [0xff, 0xff, 0xff, 0x0f];
        let e = run_section(&huge, SectionKind::Constants, 0, true, |i| {
            vec_of(i, 8, u32::MAX, "ints", i64_)
        })
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Truncated);
    }
}

/// Writer-side counterparts of the leaf parsers (used by `crate::writer` and the sections).
pub(crate) mod put {
    pub fn u8_(o: &mut Vec<u8>, v: u8) {
        o.push(v);
    }
    pub fn u16_(o: &mut Vec<u8>, v: u16) {
        o.extend_from_slice(&v.to_le_bytes());
    }
    pub fn u32_(o: &mut Vec<u8>, v: u32) {
        o.extend_from_slice(&v.to_le_bytes());
    }
    pub fn u64_(o: &mut Vec<u8>, v: u64) {
        o.extend_from_slice(&v.to_le_bytes());
    }
    pub fn i32_(o: &mut Vec<u8>, v: i32) {
        o.extend_from_slice(&v.to_le_bytes());
    }
    pub fn i64_(o: &mut Vec<u8>, v: i64) {
        o.extend_from_slice(&v.to_le_bytes());
    }
    pub fn f32_(o: &mut Vec<u8>, v: f32) {
        u32_(o, v.to_bits());
    }
    pub fn f64_(o: &mut Vec<u8>, v: f64) {
        u64_(o, v.to_bits());
    }
    /// A count prefix. Panics only if a vector has more than u32::MAX items, which the
    /// writer's callers rule out (limits are far lower).
    pub fn count(o: &mut Vec<u8>, n: usize) {
        u32_(o, u32::try_from(n).expect("count exceeds u32"));
    }
    pub fn string(o: &mut Vec<u8>, s: &str) {
        count(o, s.len());
        o.extend_from_slice(s.as_bytes());
    }
    pub fn shape(o: &mut Vec<u8>, dims: &[u64]) {
        count(o, dims.len());
        for &d in dims {
            u64_(o, d);
        }
    }
}
