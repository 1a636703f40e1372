//! The fixed 32-byte header and the section table (SPEC.md §2–§3).

use crate::error::{ErrorKind, FormatError, SectionKind};
use crate::limits::Limits;
use crate::primitives::put;
use crate::{FORMAT_MAJOR, FORMAT_MINOR};

/// The 8 magic bytes every `.wtb` file starts with (PNG-style: a high byte, the name, CR LF,
/// ^Z, LF — so text-mode mangling is detected).
pub const MAGIC: [u8; 8] = [0x89, b'W', b'T', b'B', 0x0D, 0x0A, 0x1A, 0x0A];
/// Length of the fixed header.
pub const HEADER_LEN: usize = 32;
/// Length of one section-table entry.
pub const SECTION_ENTRY_LEN: usize = 24;
/// Section flag bit: a reader that does not know this section id must refuse the file.
pub const FLAG_REQUIRED: u16 = 1;

/// One entry of the section table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SectionEntry {
    /// Which section.
    pub kind: SectionKind,
    /// Whether a reader that does not know `kind` must refuse the file.
    pub required: bool,
    /// CRC-32 of the section payload (0 for the weight section, whose chunks carry their own).
    pub crc32: u32,
    /// Absolute offset of the payload.
    pub offset: u64,
    /// Payload length.
    pub length: u64,
}

impl SectionEntry {
    /// One past the last byte (no overflow: checked when parsed).
    pub fn end(&self) -> u64 {
        self.offset + self.length
    }
}

/// The parsed header and section table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileHeader {
    /// (major, minor) the file declares.
    pub version: (u16, u16),
    /// Header flags (reserved; written as 0, ignored by readers).
    pub flags: u32,
    /// Total file length in bytes.
    pub total_len: u64,
    /// The section table in file order; the weight section is last.
    pub sections: Vec<SectionEntry>,
}

impl FileHeader {
    /// The entry of a known section kind.
    pub fn section(&self, kind: SectionKind) -> Option<&SectionEntry> {
        self.sections.iter().find(|s| s.kind == kind)
    }

    /// Offset of the first weight-section byte: everything before it is the graph.
    pub fn weights_offset(&self) -> u64 {
        self.sections.last().map(|s| s.offset).unwrap_or(0)
    }

    /// End of the section table.
    pub fn table_end(&self) -> u64 {
        (HEADER_LEN + SECTION_ENTRY_LEN * self.sections.len()) as u64
    }
}

fn herr(kind: ErrorKind, offset: u64, msg: impl Into<String>) -> FormatError {
    FormatError::new(kind, Some(SectionKind::Header), offset, msg)
}

fn rd_u16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}
fn rd_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap_or([0; 4]))
}
fn rd_u64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap_or([0; 8]))
}

/// Length of header + table, known once the first [`HEADER_LEN`] bytes are present.
/// Checks magic, major version and the section-count limit.
pub fn header_and_table_len(first: &[u8], limits: &Limits) -> Result<usize, FormatError> {
    let n = check_fixed(first, limits)?;
    Ok(HEADER_LEN + SECTION_ENTRY_LEN * n)
}

/// Check magic, version and section count of the fixed header; returns the section count.
fn check_fixed(b: &[u8], limits: &Limits) -> Result<usize, FormatError> {
    let have = b.len().min(MAGIC.len());
    if b[..have] != MAGIC[..have] {
        return Err(herr(
            ErrorKind::BadMagic,
            0,
            "not a .wtb file (magic bytes differ)",
        ));
    }
    if b.len() < HEADER_LEN {
        return Err(herr(
            ErrorKind::Truncated,
            b.len() as u64,
            format!("file has {} bytes, the header needs {HEADER_LEN}", b.len()),
        ));
    }
    let (major, minor) = (rd_u16(b, 8), rd_u16(b, 10));
    if major != FORMAT_MAJOR {
        return Err(herr(
            ErrorKind::UnsupportedVersion,
            8,
            format!(
                "file is format version {major}.{minor}; this reader supports {FORMAT_MAJOR}.x \
                 (up to {FORMAT_MAJOR}.{FORMAT_MINOR})"
            ),
        ));
    }
    let n = rd_u32(b, 24);
    if n > limits.max_sections {
        return Err(herr(
            ErrorKind::LimitExceeded,
            24,
            format!("{n} sections exceed the limit {}", limits.max_sections),
        ));
    }
    Ok(n as usize)
}

/// Parse and check the header and the section table. `b` must hold at least the header and
/// the table (see [`header_and_table_len`]); it may hold more.
pub fn parse_header(b: &[u8], limits: &Limits) -> Result<FileHeader, FormatError> {
    let n = check_fixed(b, limits)?;
    let table_end = HEADER_LEN + SECTION_ENTRY_LEN * n;
    if b.len() < table_end {
        return Err(herr(
            ErrorKind::Truncated,
            b.len() as u64,
            format!(
                "the section table needs {table_end} bytes, the file has {}",
                b.len()
            ),
        ));
    }
    let stored_crc = rd_u32(b, 28);
    let mut h = crc32fast::Hasher::new();
    h.update(&b[..28]);
    h.update(&b[HEADER_LEN..table_end]);
    let crc = h.finalize();
    if crc != stored_crc {
        return Err(herr(
            ErrorKind::ChecksumMismatch,
            28,
            format!(
                "header CRC-32 is {stored_crc:#010x}, the header and table hash to {crc:#010x}"
            ),
        ));
    }
    let version = (rd_u16(b, 8), rd_u16(b, 10));
    let flags = rd_u32(b, 12);
    let total_len = rd_u64(b, 16);
    if total_len < table_end as u64 {
        return Err(herr(
            ErrorKind::OutOfBounds,
            16,
            format!("total length {total_len} is shorter than the header and table ({table_end})"),
        ));
    }
    let mut sections: Vec<SectionEntry> = Vec::with_capacity(n);
    let mut prev_end = table_end as u64;
    for k in 0..n {
        let at = HEADER_LEN + SECTION_ENTRY_LEN * k;
        let kind = match SectionKind::from_id(rd_u16(b, at)) {
            // The state section exists from 1.1 on; in a 1.0 file id 9 is an unknown id.
            SectionKind::State if version.1 < 1 => SectionKind::Unknown(9),
            // Likewise the assets section (id 10).
            SectionKind::Assets if version.1 < 1 => SectionKind::Unknown(10),
            k => k,
        };
        let sflags = rd_u16(b, at + 2);
        let e = SectionEntry {
            kind,
            required: sflags & FLAG_REQUIRED != 0,
            crc32: rd_u32(b, at + 4),
            offset: rd_u64(b, at + 8),
            length: rd_u64(b, at + 16),
        };
        let end = e.offset.checked_add(e.length);
        match end {
            Some(end) if end <= total_len => {}
            _ => {
                return Err(herr(
                    ErrorKind::OutOfBounds,
                    at as u64 + 8,
                    format!(
                        "{kind} spans {}+{} past the file length {total_len}",
                        e.offset, e.length
                    ),
                ))
            }
        }
        if e.offset < prev_end {
            return Err(herr(
                ErrorKind::Overlap,
                at as u64 + 8,
                format!(
                    "{kind} starts at {} before the end of the previous section/table ({prev_end})",
                    e.offset
                ),
            ));
        }
        if let SectionKind::Unknown(id) = kind {
            if e.required {
                return Err(herr(
                    ErrorKind::BadSectionTable,
                    at as u64,
                    format!(
                        "unknown section id {id} is marked required (file version {}.{}, \
                         reader {FORMAT_MAJOR}.{FORMAT_MINOR})",
                        version.0, version.1
                    ),
                ));
            }
        } else if sections.iter().any(|s| s.kind == kind) {
            return Err(herr(
                ErrorKind::BadSectionTable,
                at as u64,
                format!("{kind} section appears twice"),
            ));
        }
        prev_end = e.offset + e.length;
        sections.push(e);
    }
    for req in SectionKind::REQUIRED_V1 {
        if !sections.iter().any(|s| s.kind == req) {
            return Err(herr(
                ErrorKind::BadSectionTable,
                HEADER_LEN as u64,
                format!("required {req} section is missing"),
            ));
        }
    }
    let w = sections.last().cloned().unwrap_or(SectionEntry {
        kind: SectionKind::Header,
        required: true,
        crc32: 0,
        offset: 0,
        length: 0,
    });
    let w_at = (table_end - SECTION_ENTRY_LEN) as u64;
    if w.kind != SectionKind::Weights {
        return Err(herr(
            ErrorKind::BadSectionTable,
            w_at,
            "the weights section must be the last entry of the section table",
        ));
    }
    if w.offset % 64 != 0 {
        return Err(herr(
            ErrorKind::Misaligned,
            w_at + 8,
            format!("weights section offset {} is not 64-byte aligned", w.offset),
        ));
    }
    if w.end() != total_len {
        return Err(herr(
            ErrorKind::TrailingBytes,
            w_at + 16,
            format!(
                "weights section ends at {}, the file at {total_len}",
                w.end()
            ),
        ));
    }
    if w.crc32 != 0 {
        return Err(herr(
            ErrorKind::Inconsistent,
            w_at + 4,
            "the weights section's CRC field must be 0 (chunks carry their own CRCs)",
        ));
    }
    if w.offset > limits.max_graph_bytes {
        return Err(herr(
            ErrorKind::LimitExceeded,
            w_at + 8,
            format!(
                "graph part is {} bytes, the limit is {}",
                w.offset, limits.max_graph_bytes
            ),
        ));
    }
    Ok(FileHeader {
        version,
        flags,
        total_len,
        sections,
    })
}

/// Encode header + table. `crc` of the table is computed here.
pub(crate) fn encode(version: (u16, u16), total_len: u64, sections: &[SectionEntry]) -> Vec<u8> {
    let mut o = Vec::with_capacity(HEADER_LEN + SECTION_ENTRY_LEN * sections.len());
    o.extend_from_slice(&MAGIC);
    put::u16_(&mut o, version.0);
    put::u16_(&mut o, version.1);
    put::u32_(&mut o, 0);
    put::u64_(&mut o, total_len);
    put::count(&mut o, sections.len());
    let mut table = Vec::with_capacity(SECTION_ENTRY_LEN * sections.len());
    for s in sections {
        put::u16_(&mut table, s.kind.id());
        put::u16_(&mut table, if s.required { FLAG_REQUIRED } else { 0 });
        put::u32_(&mut table, s.crc32);
        put::u64_(&mut table, s.offset);
        put::u64_(&mut table, s.length);
    }
    let mut h = crc32fast::Hasher::new();
    h.update(&o);
    h.update(&table);
    put::u32_(&mut o, h.finalize());
    o.extend_from_slice(&table);
    o
}
