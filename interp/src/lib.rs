//! The interpreter.
#![deny(missing_docs)]
