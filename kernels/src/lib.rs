//! Compute kernels.
#![deny(missing_docs)]
