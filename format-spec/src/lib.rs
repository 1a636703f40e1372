//! The `.wtb` model format of wasm-torch.
//!
//! `SPEC.md` beside this crate is normative; this crate owns the file's types ([`model`]),
//! its nom grammar and the two drivers over it (whole-file and incremental), and the writer
//! primitives the packer uses.
#![deny(missing_docs)]

pub mod model;
