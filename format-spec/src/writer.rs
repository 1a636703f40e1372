//! Writer primitives: lay out and encode a complete file from a [`Graph`] and the encoded
//! bytes of its chunks. The packer decides *what* goes in (layout, dtypes, compression);
//! this module owns *how* it is written, beside the grammar that reads it back.

use crate::error::{ErrorKind, FormatError, SectionKind};
use crate::model::{ConstValue, DType, Graph, Quantization};
use crate::sections::chunks::CHUNK_ENTRY_LEN;
use crate::sections::encode_section;
use crate::sections::header::{self, SectionEntry, HEADER_LEN, SECTION_ENTRY_LEN};
use crate::validate::align64;
use crate::FORMAT_MAJOR;

/// An extra section written after the chunk index (for tests of version rules and for
/// future optional sections).
#[derive(Clone, Debug)]
pub struct ExtraSection {
    /// Section id (should not be one of 1..=8).
    pub id: u16,
    /// Whether readers that do not know it must refuse the file.
    pub required: bool,
    /// Payload.
    pub payload: Vec<u8>,
}

/// Options for [`write_file_with`].
#[derive(Clone, Debug)]
pub struct WriteOptions {
    /// Version written to the header.
    pub version: (u16, u16),
    /// Extra sections.
    pub extra_sections: Vec<ExtraSection>,
    /// Bytes appended to the payload of known sections `(section id, bytes)`, as a future
    /// minor version that adds fields at the end of a section would write them.
    pub appended: Vec<(u16, Vec<u8>)>,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions {
            // The oldest minor that can express a stateless graph; `Prepared::new` raises it
            // to 1.1 when the graph has session state or scalar inputs.
            version: (FORMAT_MAJOR, 0),
            extra_sections: Vec::new(),
            appended: Vec::new(),
        }
    }
}

/// Write a file. `graph.chunks[i]` supplies codec, arena offset and decoded length of chunk
/// `i`, whose encoded bytes are `payloads[i]`; file offsets, stored lengths and CRCs are
/// computed here (the returned graph has them filled in). `graph.version` is ignored.
pub fn write_file(graph: &Graph, payloads: &[&[u8]]) -> Result<(Vec<u8>, Graph), FormatError> {
    write_file_with(graph, payloads, &WriteOptions::default())
}

/// [`write_file`] with an explicit version and extra sections.
pub fn write_file_with(
    graph: &Graph,
    payloads: &[&[u8]],
    opts: &WriteOptions,
) -> Result<(Vec<u8>, Graph), FormatError> {
    if payloads.len() != graph.chunks.len() {
        return Err(FormatError::new(
            ErrorKind::Usage,
            None,
            0,
            format!(
                "{} payloads for {} chunks",
                payloads.len(),
                graph.chunks.len()
            ),
        ));
    }
    let mut prep = Prepared::new(graph, opts)?;
    let mut pos = prep.weights_offset;
    for (c, p) in prep.g.chunks.iter_mut().zip(payloads) {
        c.file_offset = align64(pos).ok_or_else(overflow)?;
        c.stored_len = p.len() as u64;
        c.crc32 = crc32fast::hash(p);
        pos = c.file_offset + c.stored_len;
    }
    let total_len = pos;
    let head = prep.head(total_len);
    let cap = usize::try_from(total_len).map_err(|_| overflow())?;
    let mut out = Vec::new();
    out.try_reserve_exact(cap).map_err(|_| {
        FormatError::new(
            ErrorKind::Alloc,
            None,
            0,
            format!("cannot allocate {total_len} bytes"),
        )
    })?;
    out.extend_from_slice(&head);
    for (c, p) in prep.g.chunks.iter().zip(payloads) {
        out.resize(c.file_offset as usize, 0);
        out.extend_from_slice(p);
    }
    out.resize(cap, 0);
    Ok((out, prep.g))
}

/// Write a file to `out` one chunk at a time, for files too large to hold in memory:
/// `payload(i)` returns chunk `i`'s encoded bytes when the writer reaches it (so at most one
/// chunk is in memory). The weights are written first, behind a zeroed placeholder of the
/// graph's size; then the writer seeks back and writes the header and graph, whose chunk index
/// and CRCs are only known at the end. Produces the same bytes as [`write_file_with`].
pub fn write_file_to<W, F>(
    graph: &Graph,
    mut payload: F,
    out: &mut W,
    opts: &WriteOptions,
) -> Result<Graph, FormatError>
where
    W: std::io::Write + std::io::Seek,
    F: FnMut(usize) -> Result<Vec<u8>, FormatError>,
{
    let io = |e: std::io::Error| {
        FormatError::new(ErrorKind::Usage, None, 0, format!("write failed: {e}"))
    };
    let mut prep = Prepared::new(graph, opts)?;
    let zeros = [0u8; 64];
    out.seek(std::io::SeekFrom::Start(0)).map_err(io)?;
    let mut pos = 0u64;
    let pad_to = |out: &mut W, pos: &mut u64, to: u64| -> Result<(), FormatError> {
        while *pos < to {
            let n = (to - *pos).min(64) as usize;
            out.write_all(&zeros[..n]).map_err(io)?;
            *pos += n as u64;
        }
        Ok(())
    };
    pad_to(out, &mut pos, prep.weights_offset)?;
    for i in 0..prep.g.chunks.len() {
        let p = payload(i)?;
        let at = align64(pos).ok_or_else(overflow)?;
        pad_to(out, &mut pos, at)?;
        out.write_all(&p).map_err(io)?;
        let c = &mut prep.g.chunks[i];
        c.file_offset = at;
        c.stored_len = p.len() as u64;
        c.crc32 = crc32fast::hash(&p);
        pos = at.checked_add(c.stored_len).ok_or_else(overflow)?;
    }
    let head = prep.head(pos);
    out.seek(std::io::SeekFrom::Start(0)).map_err(io)?;
    out.write_all(&head).map_err(io)?;
    out.seek(std::io::SeekFrom::Start(pos)).map_err(io)?;
    out.flush().map_err(io)?;
    Ok(prep.g)
}

/// Refuse assets the format cannot hold (a name rule of §4.10, or more than `u32::MAX` bytes)
/// before encoding them.
fn check_assets(g: &Graph) -> Result<(), FormatError> {
    let usage = |m: String| FormatError::new(ErrorKind::Usage, Some(SectionKind::Assets), 0, m);
    crate::validate::validate_assets_of(g).map_err(|(i, m)| usage(format!("asset {i}: {m}")))?;
    if let Some(a) = g
        .assets
        .iter()
        .find(|a| u32::try_from(a.data.len()).is_err() || u32::try_from(a.name.len()).is_err())
    {
        return Err(usage(format!(
            "asset '{}' has {} bytes; the format holds at most {} per asset",
            a.name,
            a.data.len(),
            u32::MAX
        )));
    }
    Ok(())
}

fn overflow() -> FormatError {
    FormatError::new(ErrorKind::Usage, None, 0, "file size overflows u64")
}

/// A graph's sections encoded and placed, waiting for the chunks' file offsets, lengths and
/// CRCs (the chunk index's size does not depend on them).
struct Prepared {
    g: Graph,
    version: (u16, u16),
    bodies: Vec<(SectionKind, bool, Vec<u8>)>,
    entries: Vec<SectionEntry>,
    chunk_suffix: Vec<u8>,
    weights_offset: u64,
}

impl Prepared {
    fn new(graph: &Graph, opts: &WriteOptions) -> Result<Prepared, FormatError> {
        let mut g = graph.clone();
        let mut version = opts.version;
        let mut known = SectionKind::REQUIRED_V1[..7].to_vec();
        if !g.states.is_empty() {
            // Session state needs format 1.1 (SPEC.md §4.8); its section is required, so a
            // 1.0 reader refuses the file instead of running it without state.
            version.1 = version.1.max(1);
            known.push(SectionKind::State);
        }
        if !g.scalar_inputs.is_empty() {
            // Scalar inputs need format 1.1 (SPEC.md §4.9); the section is required, so a
            // 1.0 reader refuses the file instead of feeding a tensor where the graph
            // expects an int, a float or a bool.
            version.1 = version.1.max(1);
            known.push(SectionKind::ScalarInputs);
        }
        if !g.assets.is_empty() {
            check_assets(&g)?;
            // Assets need format 1.1 too (SPEC.md §4.10); their section is optional: a reader
            // that does not know it can still run the graph.
            version.1 = version.1.max(1);
            known.push(SectionKind::Assets);
        }
        if g.tensors.iter().any(|t| {
            matches!(
                t.quantization,
                Quantization::GroupInt4 { .. } | Quantization::GroupInt8 { .. }
            )
        }) {
            // Group-wise int4 and int8 weights (quantization tags 3 and 4) are 1.1
            // encodings: a 1.0 reader refuses the unknown tag.
            version.1 = version.1.max(1);
        }
        if uses_complex(&g) {
            // The complex dtype (code 11) is a 1.1 type: a 1.0 reader refuses the unknown code.
            version.1 = version.1.max(1);
        }
        g.version = version;
        let nsec = known.len() + opts.extra_sections.len() + 1;
        let table_end = (HEADER_LEN + SECTION_ENTRY_LEN * nsec) as u64;
        let suffix = |k: SectionKind| -> Vec<u8> {
            opts.appended
                .iter()
                .filter(|(id, _)| *id == k.id())
                .flat_map(|(_, b)| b.iter().copied())
                .collect()
        };
        let mut bodies: Vec<(SectionKind, bool, Vec<u8>)> = Vec::with_capacity(nsec);
        for &k in &known {
            let mut body = if k == SectionKind::Chunks {
                vec![0; 12 + CHUNK_ENTRY_LEN * g.chunks.len()]
            } else {
                encode_section(k, &g)
            };
            body.extend(suffix(k));
            bodies.push((k, k != SectionKind::Assets, body));
        }
        for x in &opts.extra_sections {
            bodies.push((SectionKind::from_id(x.id), x.required, x.payload.clone()));
        }
        let mut cursor = table_end;
        let mut entries = Vec::with_capacity(nsec);
        for (k, req, b) in &bodies {
            entries.push(SectionEntry {
                kind: *k,
                required: *req,
                crc32: 0,
                offset: cursor,
                length: b.len() as u64,
            });
            cursor += b.len() as u64;
        }
        let weights_offset = align64(cursor).ok_or_else(overflow)?;
        Ok(Prepared {
            g,
            version,
            bodies,
            entries,
            chunk_suffix: suffix(SectionKind::Chunks),
            weights_offset,
        })
    }

    /// Header, section table and graph sections (up to the padding before the weights), once
    /// the chunks in `self.g` have their file offsets, lengths and CRCs.
    fn head(&mut self, total_len: u64) -> Vec<u8> {
        if let Some(b) = self
            .bodies
            .iter_mut()
            .find(|(k, _, _)| *k == SectionKind::Chunks)
        {
            b.2 = encode_section(SectionKind::Chunks, &self.g);
            b.2.extend_from_slice(&self.chunk_suffix);
        }
        let mut entries = self.entries.clone();
        for (e, (_, _, b)) in entries.iter_mut().zip(&self.bodies) {
            e.crc32 = crc32fast::hash(b);
        }
        entries.push(SectionEntry {
            kind: SectionKind::Weights,
            required: true,
            crc32: 0,
            offset: self.weights_offset,
            length: total_len - self.weights_offset,
        });
        let mut out = header::encode(self.version, total_len, &entries).to_vec();
        for (_, _, b) in &self.bodies {
            out.extend_from_slice(b);
        }
        out
    }
}

/// Recompute every section CRC and the header CRC of `file` in place, leaving all other
/// bytes as they are. For tests and fuzzing: it lets deliberately corrupted *values* reach
/// the grammar and validation instead of being stopped by the checksums. Fails when the
/// header or section table cannot be read.
pub fn refresh_checksums(file: &mut [u8]) -> Result<(), FormatError> {
    use crate::sections::header::HEADER_LEN as H;
    if file.len() < H || file[..8] != crate::MAGIC {
        return Err(FormatError::new(
            ErrorKind::BadMagic,
            Some(SectionKind::Header),
            0,
            "not a .wtb file",
        ));
    }
    let n = u32::from_le_bytes([file[24], file[25], file[26], file[27]]) as usize;
    let table_end = n
        .checked_mul(SECTION_ENTRY_LEN)
        .and_then(|t| t.checked_add(H))
        .filter(|&t| t <= file.len())
        .ok_or_else(|| {
            FormatError::new(
                ErrorKind::Truncated,
                Some(SectionKind::Header),
                24,
                "section table runs past the file",
            )
        })?;
    for k in 0..n {
        let at = H + SECTION_ENTRY_LEN * k;
        let rd = |o: usize| u64::from_le_bytes(file[o..o + 8].try_into().unwrap_or([0; 8]));
        let id = u16::from_le_bytes([file[at], file[at + 1]]);
        let (off, len) = (rd(at + 8), rd(at + 16));
        let crc = if SectionKind::from_id(id) == SectionKind::Weights {
            0
        } else {
            let range = usize::try_from(off)
                .ok()
                .zip(usize::try_from(len).ok())
                .and_then(|(o, l)| Some(o..o.checked_add(l)?));
            match range.and_then(|r| file.get(r)) {
                Some(p) => crc32fast::hash(p),
                None => continue,
            }
        };
        file[at + 4..at + 8].copy_from_slice(&crc.to_le_bytes());
    }
    let mut h = crc32fast::Hasher::new();
    h.update(&file[..28]);
    h.update(&file[H..table_end]);
    let crc = h.finalize();
    file[28..32].copy_from_slice(&crc.to_le_bytes());
    Ok(())
}

/// True when any signature entry, tensor-table entry or inline constant tensor has a complex
/// dtype (SPEC.md §1.3: complex is a 1.1 type).
fn uses_complex(g: &Graph) -> bool {
    fn in_const(c: &ConstValue) -> bool {
        match c {
            ConstValue::Tensor(t) => t.dtype.is_complex(),
            ConstValue::List(items) => items.iter().any(in_const),
            _ => false,
        }
    }
    let sig = g.signature.inputs.iter().chain(&g.signature.outputs);
    sig.map(|v| v.dtype).any(DType::is_complex)
        || g.tensors
            .iter()
            .any(|t| t.dtype.is_complex() || t.stored_dtype.is_complex())
        || g.states.iter().any(|s| s.dtype.is_complex())
        || g.constants.iter().any(in_const)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The streaming writer produces exactly the bytes of the in-memory one (checked on both
    /// golden files: stored and zstd chunks, several chunks, padding).
    #[test]
    fn streaming_writer_matches_in_memory_writer() {
        for name in ["tiny_v1_0.wtb", "kitchen_sink_v1_0.wtb"] {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/golden")
                .join(name);
            let golden = std::fs::read(path).unwrap();
            let g = crate::parse_file(&golden, &crate::Limits::default()).unwrap();
            let payloads: Vec<Vec<u8>> = g
                .chunks
                .iter()
                .map(|c| crate::chunk_encoded(&golden, c).unwrap().to_vec())
                .collect();
            let refs: Vec<&[u8]> = payloads.iter().map(|p| p.as_slice()).collect();
            let (mem, g1) = write_file(&g, &refs).unwrap();
            assert_eq!(mem, golden, "{name}");
            let mut cur = std::io::Cursor::new(Vec::new());
            let mut asked = vec![];
            let g2 = write_file_to(
                &g,
                |i| {
                    asked.push(i);
                    Ok(payloads[i].clone())
                },
                &mut cur,
                &WriteOptions::default(),
            )
            .unwrap();
            assert_eq!(asked, (0..g.chunks.len()).collect::<Vec<_>>());
            crate::assert_bit_eq!(g2, g1);
            assert_eq!(cur.into_inner(), golden, "{name}");
        }
    }
}
