//! The grammar of each section: one module per section, each with its nom parser and its
//! encoder side by side so the two cannot drift apart.

pub(crate) mod assets;
pub(crate) mod bytecode;
pub(crate) mod chunks;
pub(crate) mod constants;
pub mod header;
pub(crate) mod metadata;
pub(crate) mod ops;
pub(crate) mod signature;
pub(crate) mod state;
pub(crate) mod tensors;

use crate::error::{ErrorKind, FormatError, SectionKind};
use crate::limits::Limits;
use crate::model::Graph;
use crate::primitives::run_section;
use crate::FORMAT_MINOR;
use header::FileHeader;

/// Parse every graph section (everything before the weight section) out of `prefix`, which
/// holds the file from byte 0 to at least the weight section's offset. Checks section CRCs;
/// does not cross-validate indices (see `crate::validate`).
pub(crate) fn parse_graph(
    prefix: &[u8],
    header: &FileHeader,
    limits: &Limits,
) -> Result<Graph, FormatError> {
    // A newer minor may append fields to known sections; they are skipped.
    let exact = !is_newer_minor(header.version.1);
    let mut g = Graph {
        version: header.version,
        ..Graph::default()
    };
    for s in &header.sections {
        if s.kind == SectionKind::Weights {
            break;
        }
        // Bounds were checked against total_len; the caller guarantees prefix covers them.
        let (start, end) = (s.offset as usize, s.end() as usize);
        let payload = prefix.get(start..end).ok_or_else(|| {
            FormatError::new(
                ErrorKind::Truncated,
                Some(s.kind),
                prefix.len() as u64,
                "section lies beyond the available bytes",
            )
        })?;
        if let SectionKind::Unknown(_) = s.kind {
            continue; // optional (required unknowns were refused with the table)
        }
        let crc = crc32fast::hash(payload);
        if crc != s.crc32 {
            return Err(FormatError::new(
                ErrorKind::ChecksumMismatch,
                Some(s.kind),
                s.offset,
                format!(
                    "section CRC-32 is {:#010x}, its bytes hash to {crc:#010x}",
                    s.crc32
                ),
            ));
        }
        let (k, b, l) = (s.kind, s.offset, limits);
        match k {
            SectionKind::Metadata => {
                g.metadata = run_section(payload, k, b, exact, |i| metadata::parse(i, l))?
            }
            SectionKind::Signature => {
                g.signature = run_section(payload, k, b, exact, |i| signature::parse(i, l))?
            }
            SectionKind::OpTable => {
                g.ops = run_section(payload, k, b, exact, |i| ops::parse(i, l))?
            }
            SectionKind::Bytecode => {
                g.functions = run_section(payload, k, b, exact, |i| bytecode::parse(i, l))?
            }
            SectionKind::Constants => {
                g.constants = run_section(payload, k, b, exact, |i| constants::parse(i, l))?
            }
            SectionKind::Tensors => {
                g.tensors = run_section(payload, k, b, exact, |i| tensors::parse(i, l))?
            }
            SectionKind::Chunks => {
                let (a, c) = run_section(payload, k, b, exact, |i| chunks::parse(i, l))?;
                g.arena_size = a;
                g.chunks = c;
            }
            SectionKind::State => {
                g.states = run_section(payload, k, b, exact, |i| state::parse(i, l))?
            }
            SectionKind::Assets => {
                g.assets = run_section(payload, k, b, exact, |i| assets::parse(i, l))?
            }
            SectionKind::Header | SectionKind::Weights | SectionKind::Unknown(_) => {}
        }
    }
    Ok(g)
}

/// Encode the payload of one known graph section.
pub(crate) fn encode_section(kind: SectionKind, g: &Graph) -> Vec<u8> {
    let mut o = Vec::new();
    match kind {
        SectionKind::Metadata => metadata::encode(&g.metadata, &mut o),
        SectionKind::Signature => signature::encode(&g.signature, &mut o),
        SectionKind::OpTable => ops::encode(&g.ops, &mut o),
        SectionKind::Bytecode => bytecode::encode(&g.functions, &mut o),
        SectionKind::Constants => constants::encode(&g.constants, &mut o),
        SectionKind::Tensors => tensors::encode(&g.tensors, &mut o),
        SectionKind::Chunks => chunks::encode(g.arena_size, &g.chunks, &mut o),
        SectionKind::State => state::encode(&g.states, &mut o),
        SectionKind::Assets => assets::encode(&g.assets, &mut o),
        SectionKind::Header | SectionKind::Weights | SectionKind::Unknown(_) => {}
    }
    o
}

/// True when `minor` is newer than the minor this crate implements.
pub(crate) fn is_newer_minor(minor: u16) -> bool {
    minor > FORMAT_MINOR
}
