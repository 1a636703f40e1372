//! Shared CLI plumbing: errors with exit codes, argument checks, and opening a model file
//! as a read-only memory mapping.

use std::fmt;
use wasm_torch_format::FormatError;

/// Why a command failed; the variant decides the exit code.
#[derive(Debug)]
pub enum CliError {
    /// Bad command line (exit 2).
    Usage(String),
    /// The file could not be read (exit 2).
    Io(String),
    /// The file is not a valid `.wtb` (exit 1).
    Invalid(FormatError),
}

impl CliError {
    /// Process exit code.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Invalid(_) => 1,
            CliError::Usage(_) | CliError::Io(_) => 2,
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Usage(m) => write!(f, "{m}"),
            CliError::Io(m) => write!(f, "{m}"),
            CliError::Invalid(e) => write!(f, "invalid file: {e} [{:?}]", e.kind),
        }
    }
}

impl From<FormatError> for CliError {
    fn from(e: FormatError) -> Self {
        CliError::Invalid(e)
    }
}

/// Exactly one positional FILE argument.
pub fn one_file(args: &[String]) -> Result<&str, CliError> {
    match args {
        [f] if !f.starts_with('-') => Ok(f),
        _ => Err(CliError::Usage("expected exactly one FILE argument".into())),
    }
}

/// The file's bytes: a memory mapping (no copy, any size), or an empty slice for an empty
/// file (which cannot be mapped).
pub enum FileBytes {
    /// A read-only mapping.
    Mapped(memmap2::Mmap),
    /// An empty file.
    Empty,
}

impl FileBytes {
    /// The bytes.
    pub fn bytes(&self) -> &[u8] {
        match self {
            FileBytes::Mapped(m) => m,
            FileBytes::Empty => &[],
        }
    }
}

/// Map `path` read-only.
pub fn open(path: &str) -> Result<FileBytes, CliError> {
    let f = std::fs::File::open(path).map_err(|e| CliError::Io(format!("{path}: {e}")))?;
    let len = f
        .metadata()
        .map_err(|e| CliError::Io(format!("{path}: {e}")))?
        .len();
    if len == 0 {
        return Ok(FileBytes::Empty);
    }
    // SAFETY: the mapping is read-only; a concurrent writer could change bytes under us, which
    // the parser tolerates (every read is bounds-checked and validated), so no UB follows
    // beyond what any file read race would cause.
    let m = unsafe { memmap2::Mmap::map(&f) }.map_err(|e| CliError::Io(format!("{path}: {e}")))?;
    Ok(FileBytes::Mapped(m))
}

/// Human-readable byte count.
pub fn human(n: u64) -> String {
    const U: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1024.0 && i < U.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", U[i])
    }
}
