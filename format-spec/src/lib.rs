//! The `.wtb` model format of wasm-torch.
//!
//! `SPEC.md` beside this crate is normative; this crate owns the file's types ([`model`]),
//! its nom grammar ([`sections`], one module per section) and the two drivers over it —
//! whole-file ([`parse_file`], over a byte slice or a memory mapping) and incremental
//! ([`StreamParser`]) — plus chunk decoding into the segmented weight [`Arena`] and the writer
//! primitives the packer uses ([`writer`]).
//!
//! Parsed graphs compare with [`BitEq`] (floats bit for bit) when the question is "did both
//! readers get the same file contents"; the derived `PartialEq` compares floats as IEEE values.
//!
//! Every offset, length, count and declared size is checked against the file and against
//! [`Limits`] before anything is allocated; malformed input yields a [`FormatError`], never a
//! panic.

mod aligned;
mod arena;
mod bit_eq;
mod decode;
mod error;
mod limits;
pub mod model;
mod primitives;
pub mod sections;
mod stream;
pub mod validate;
mod whole;
pub mod writer;

#[cfg(feature = "failpoints")]
pub use aligned::failpoint;
pub use aligned::{AlignedBuf, ARENA_ALIGN};
pub use arena::{Arena, SlotLocation, SEGMENT_TARGET};
pub use bit_eq::BitEq;
pub use error::{ErrorKind, FormatError, SectionKind};
pub use limits::{Limits, DEFAULT_MAX_ARENA};
pub use model::*;
pub use sections::header::{parse_header, FileHeader, SectionEntry, MAGIC};
pub use stream::{StreamEvent, StreamParser};
pub use whole::{
    chunk_encoded, decode_all, decode_all_with, decode_chunk, decode_chunk_with, parse_file,
    parse_file_detailed, tensor_arena_range, tensor_in_place,
};
pub use writer::{
    refresh_checksums, write_file, write_file_to, write_file_with, ExtraSection, WriteOptions,
};

/// Major format version this crate reads and writes. Readers refuse any other major.
pub const FORMAT_MAJOR: u16 = 1;
/// Newest minor format version this crate reads and writes (SPEC.md §1.2). Readers accept
/// newer minors; the writer writes the oldest minor that can express the file (1.0 unless
/// the graph has session state, which needs 1.1).
pub const FORMAT_MINOR: u16 = 1;
