//! The interpreter's error type: a coarse [`ErrorKind`] callers can branch on (JS and Python
//! map it to exception classes) plus a human-readable message that says what was expected.

use std::fmt;

/// What went wrong, coarsely. Stable: bindings map these to their own error classes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The file is malformed, truncated, of an unknown version, or fails validation.
    BadFile,
    /// The model uses ops this interpreter does not implement (all are listed).
    UnsupportedOps,
    /// The caller's inputs do not match the model's signature (name, dtype or shape).
    InvalidInput,
    /// A tensor or arena would exceed the memory available (or a sane limit).
    OutOfMemory,
    /// An op failed while running (shape mismatch inside the graph, bad argument, ...).
    Runtime,
}

impl ErrorKind {
    /// Short lower-case name ("bad_file", ...), used in messages and bindings.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::BadFile => "bad_file",
            ErrorKind::UnsupportedOps => "unsupported_ops",
            ErrorKind::InvalidInput => "invalid_input",
            ErrorKind::OutOfMemory => "out_of_memory",
            ErrorKind::Runtime => "runtime",
        }
    }
}

/// An interpreter error: a kind and a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    message: String,
}

impl Error {
    /// A new error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            kind,
            message: message.into(),
        }
    }

    /// The coarse kind.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message without the kind prefix.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Shorthand for a [`ErrorKind::Runtime`] error.
    pub fn runtime(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Runtime, message)
    }

    /// Shorthand for a [`ErrorKind::BadFile`] error.
    pub fn bad_file(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::BadFile, message)
    }

    /// Shorthand for an [`ErrorKind::InvalidInput`] error.
    pub fn invalid_input(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::InvalidInput, message)
    }

    /// Shorthand for an [`ErrorKind::OutOfMemory`] error.
    pub fn oom(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::OutOfMemory, message)
    }

    /// Prefix the message with context (e.g. the op and instruction that failed).
    pub fn context(mut self, ctx: impl fmt::Display) -> Error {
        self.message = format!("{ctx}: {}", self.message);
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.name(), self.message)
    }
}

impl std::error::Error for Error {}

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Return a [`ErrorKind::Runtime`] error built with `format!`.
#[macro_export]
#[doc(hidden)]
macro_rules! bail {
    ($($arg:tt)*) => {
        return Err($crate::error::Error::runtime(format!($($arg)*)))
    };
}
