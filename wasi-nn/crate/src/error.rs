//! The WIT `errors` interface: an [`ErrorCode`] a guest can branch on plus a human-readable
//! message (`error.data()` in WIT), and the one place interpreter errors are mapped to codes.

use std::fmt;

use wasm_torch_interp::ErrorKind;

/// The WIT `error-code` enum, in WIT declaration order.
///
/// wasm-torch produces every code except [`ErrorCode::Timeout`] and [`ErrorCode::Security`]:
/// the interpreter has no wall-clock deadline (a runaway loop hits its instruction limit and
/// reports [`ErrorCode::RuntimeError`]) and no notion of a security policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// The caller passed something malformed: a corrupt graph, a tensor whose type, rank,
    /// dimensions or byte length do not match the model, an unknown execution target.
    InvalidArgument,
    /// The graph encoding is neither `pytorch` nor `autodetect`, or the bytes are not a
    /// `.wtb` file at all (no magic).
    InvalidEncoding,
    /// Not produced by wasm-torch (no deadlines).
    Timeout,
    /// An op failed while running the graph.
    RuntimeError,
    /// The model uses ops the interpreter lacks, the target is not the CPU, or a tensor type
    /// has no wasm-torch equivalent.
    UnsupportedOperation,
    /// A tensor or the model's weights exceed the memory limits.
    TooLarge,
    /// No graph registered under a name, or no input/output with that name or index.
    NotFound,
    /// Not produced by wasm-torch.
    Security,
    /// An internal error that fits no other code.
    Unknown,
}

impl ErrorCode {
    /// The WIT spelling (`invalid-argument`, ...).
    pub fn wit_name(self) -> &'static str {
        match self {
            ErrorCode::InvalidArgument => "invalid-argument",
            ErrorCode::InvalidEncoding => "invalid-encoding",
            ErrorCode::Timeout => "timeout",
            ErrorCode::RuntimeError => "runtime-error",
            ErrorCode::UnsupportedOperation => "unsupported-operation",
            ErrorCode::TooLarge => "too-large",
            ErrorCode::NotFound => "not-found",
            ErrorCode::Security => "security",
            ErrorCode::Unknown => "unknown",
        }
    }
}

/// A wasi-nn error: a code and a message saying what was expected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    code: ErrorCode,
    data: String,
}

impl Error {
    /// A new error.
    pub fn new(code: ErrorCode, data: impl Into<String>) -> Error {
        Error {
            code,
            data: data.into(),
        }
    }

    /// The code (WIT `error.code()`).
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// The message (WIT `error.data()`).
    pub fn data(&self) -> &str {
        &self.data
    }

    pub(crate) fn invalid_argument(data: impl Into<String>) -> Error {
        Error::new(ErrorCode::InvalidArgument, data)
    }

    pub(crate) fn not_found(data: impl Into<String>) -> Error {
        Error::new(ErrorCode::NotFound, data)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.wit_name(), self.data)
    }
}

impl std::error::Error for Error {}

/// The code an interpreter error kind maps to (documented in the crate docs' table).
pub fn code_for_kind(kind: ErrorKind) -> ErrorCode {
    match kind {
        ErrorKind::BadFile => ErrorCode::InvalidArgument,
        ErrorKind::UnsupportedOps => ErrorCode::UnsupportedOperation,
        ErrorKind::InvalidInput => ErrorCode::InvalidArgument,
        ErrorKind::OutOfMemory => ErrorCode::TooLarge,
        ErrorKind::Runtime => ErrorCode::RuntimeError,
    }
}

impl From<wasm_torch_interp::Error> for Error {
    fn from(e: wasm_torch_interp::Error) -> Error {
        Error::new(code_for_kind(e.kind()), e.to_string())
    }
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_maps_to_the_documented_code() {
        let table = [
            (ErrorKind::BadFile, ErrorCode::InvalidArgument),
            (ErrorKind::UnsupportedOps, ErrorCode::UnsupportedOperation),
            (ErrorKind::InvalidInput, ErrorCode::InvalidArgument),
            (ErrorKind::OutOfMemory, ErrorCode::TooLarge),
            (ErrorKind::Runtime, ErrorCode::RuntimeError),
        ];
        for (kind, code) in table {
            let e = Error::from(wasm_torch_interp::Error::new(kind, "msg"));
            assert_eq!(e.code(), code, "{kind:?}");
            assert!(e.data().ends_with("msg"), "{}", e.data());
        }
    }

    #[test]
    fn display_uses_the_wit_name() {
        let e = Error::new(ErrorCode::TooLarge, "4 GiB");
        assert_eq!(e.to_string(), "too-large: 4 GiB");
    }
}
