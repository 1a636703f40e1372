//! The .wtb writer.
#![deny(missing_docs)]
