//! Typed errors: what went wrong, in which section, at which byte offset.
//!
//! Every malformed input maps to one [`FormatError`]; readers never panic on bad bytes. The
//! [`ErrorKind`] is a plain enum so callers (the CLI, the JS SDK) can branch on it; the message
//! carries the details a human needs (the values that disagreed).

use std::fmt;

/// The sections of a `.wtb` file. Codes are the on-disk section ids (see SPEC.md §3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SectionKind {
    /// The fixed header and the section table (not itself listed in the table).
    Header,
    /// Provenance strings (id 1).
    Metadata,
    /// Named inputs and outputs (id 2).
    Signature,
    /// Fully qualified op names (id 3).
    OpTable,
    /// Functions of register-based instructions (id 4).
    Bytecode,
    /// The constant pool (id 5).
    Constants,
    /// The tensor table (id 6).
    Tensors,
    /// The chunk index and the arena size (id 7).
    Chunks,
    /// The weight chunks themselves (id 8); always the last section.
    Weights,
    /// Session-state tensors (id 9, format 1.1; optional).
    State,
    /// Named byte blobs the model ships with (id 10, format 1.1; optional).
    Assets,
    /// A section id this reader does not know.
    Unknown(u16),
}

impl SectionKind {
    /// The on-disk id (0 for the header, which has none).
    pub fn id(self) -> u16 {
        match self {
            SectionKind::Header => 0,
            SectionKind::Metadata => 1,
            SectionKind::Signature => 2,
            SectionKind::OpTable => 3,
            SectionKind::Bytecode => 4,
            SectionKind::Constants => 5,
            SectionKind::Tensors => 6,
            SectionKind::Chunks => 7,
            SectionKind::Weights => 8,
            SectionKind::State => 9,
            SectionKind::Assets => 10,
            SectionKind::Unknown(id) => id,
        }
    }

    /// Map an on-disk id to a kind (`Unknown` for ids this version does not define).
    pub fn from_id(id: u16) -> SectionKind {
        match id {
            1 => SectionKind::Metadata,
            2 => SectionKind::Signature,
            3 => SectionKind::OpTable,
            4 => SectionKind::Bytecode,
            5 => SectionKind::Constants,
            6 => SectionKind::Tensors,
            7 => SectionKind::Chunks,
            8 => SectionKind::Weights,
            9 => SectionKind::State,
            10 => SectionKind::Assets,
            other => SectionKind::Unknown(other),
        }
    }

    /// The sections a v1 file must contain, in the order the writer emits them.
    pub const REQUIRED_V1: [SectionKind; 8] = [
        SectionKind::Metadata,
        SectionKind::Signature,
        SectionKind::OpTable,
        SectionKind::Bytecode,
        SectionKind::Constants,
        SectionKind::Tensors,
        SectionKind::Chunks,
        SectionKind::Weights,
    ];
}

impl fmt::Display for SectionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SectionKind::Header => write!(f, "header"),
            SectionKind::Metadata => write!(f, "metadata"),
            SectionKind::Signature => write!(f, "signature"),
            SectionKind::OpTable => write!(f, "op table"),
            SectionKind::Bytecode => write!(f, "bytecode"),
            SectionKind::Constants => write!(f, "constant pool"),
            SectionKind::Tensors => write!(f, "tensor table"),
            SectionKind::Chunks => write!(f, "chunk index"),
            SectionKind::Weights => write!(f, "weights"),
            SectionKind::State => write!(f, "state"),
            SectionKind::Assets => write!(f, "assets"),
            SectionKind::Unknown(id) => write!(f, "unknown section {id}"),
        }
    }
}

/// What kind of problem a [`FormatError`] reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The file does not start with the `.wtb` magic bytes.
    BadMagic,
    /// The file's major version is not one this reader implements.
    UnsupportedVersion,
    /// The input ends before a value it declares (or the stream ended early).
    Truncated,
    /// The file is longer than its header says, or a section has bytes left over.
    TrailingBytes,
    /// A string is not valid UTF-8.
    InvalidUtf8,
    /// A tag/code byte (dtype, opcode, codec, ...) has a value this version does not define.
    InvalidCode,
    /// A count, length or size exceeds a configured [`crate::Limits`] value.
    LimitExceeded,
    /// An index (register, op, constant, tensor, function, chunk, jump target) is out of range.
    IndexOutOfRange,
    /// An offset or length points outside its container (file, section, chunk, arena).
    OutOfBounds,
    /// An offset that must be 64-byte aligned is not.
    Misaligned,
    /// Two ranges that must be disjoint and ordered (sections, chunks, slots) overlap.
    Overlap,
    /// A required section is missing, duplicated, or an unknown section is marked required.
    BadSectionTable,
    /// A CRC-32 does not match the bytes it covers.
    ChecksumMismatch,
    /// A chunk failed to decompress or decompressed to a size other than declared.
    Decompress,
    /// Values are individually well-formed but inconsistent (e.g. nbytes != numel * size).
    Inconsistent,
    /// A buffer could not be allocated.
    Alloc,
    /// The caller used the API wrongly (e.g. fed bytes after the end, wrong output length).
    Usage,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            ErrorKind::BadMagic => "bad magic",
            ErrorKind::UnsupportedVersion => "unsupported version",
            ErrorKind::Truncated => "truncated",
            ErrorKind::TrailingBytes => "trailing bytes",
            ErrorKind::InvalidUtf8 => "invalid UTF-8",
            ErrorKind::InvalidCode => "invalid code",
            ErrorKind::LimitExceeded => "limit exceeded",
            ErrorKind::IndexOutOfRange => "index out of range",
            ErrorKind::OutOfBounds => "out of bounds",
            ErrorKind::Misaligned => "misaligned",
            ErrorKind::Overlap => "overlap",
            ErrorKind::BadSectionTable => "bad section table",
            ErrorKind::ChecksumMismatch => "checksum mismatch",
            ErrorKind::Decompress => "decompression failed",
            ErrorKind::Inconsistent => "inconsistent",
            ErrorKind::Alloc => "allocation failed",
            ErrorKind::Usage => "API misuse",
        };
        f.write_str(s)
    }
}

/// A typed error for malformed or unsupported `.wtb` input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FormatError {
    /// What went wrong.
    pub kind: ErrorKind,
    /// The section the problem is in, when it is in one.
    pub section: Option<SectionKind>,
    /// Absolute byte offset in the file where the offending value starts.
    pub offset: u64,
    /// Human-readable details (the values that disagreed).
    pub message: String,
}

impl FormatError {
    /// Build an error.
    pub fn new(
        kind: ErrorKind,
        section: Option<SectionKind>,
        offset: u64,
        message: impl Into<String>,
    ) -> Self {
        FormatError {
            kind,
            section,
            offset,
            message: message.into(),
        }
    }
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.kind)?;
        if let Some(s) = self.section {
            write!(f, " in {s}")?;
        }
        write!(f, " at byte {}: {}", self.offset, self.message)
    }
}

impl std::error::Error for FormatError {}
