//! The wasm-torch interpreter: loads a `.wtb` model ([`Program`]) and runs it
//! ([`Session`]) op by op, natively or inside WebAssembly.
//!
//! Layers: [`Tensor`]/[`Value`] (data), the op registry (ATen op name → implementation,
//! resolved once at load), the memory planner (liveness over the bytecode, so buffers are
//! freed at their last use and reused in place), the executor (bytecode incl. control flow
//! and dynamic shapes), and the loaders (whole file, memory map, stream).
//!
//! Everything builds for `wasm32-unknown-unknown`: no threads, and the only OS calls (the
//! profiling clock, memory-mapping) live in small `cfg`'d modules.

pub mod clock;
mod early;
pub mod error;
mod executor;
#[cfg(feature = "failpoints")]
pub mod failpoint;
mod inputs;
mod loader;
#[cfg(not(target_family = "wasm"))]
mod mmap;
pub mod npy;
mod ops;
mod planner;
pub mod prepack;
pub mod profile;
mod program;
mod quant_minus128;
mod quant_weights;
mod session;
mod storage;
pub mod tensor;
pub mod value;
mod weights;

pub use early::FirstRun;
pub use error::{Error, ErrorKind, Result};
pub use loader::{LoadProgress, StreamingLoader};
pub use ops::inplace::WriteStats;
pub use ops::registry::supported_ops;
pub use profile::{OpProfile, Profile};
pub use program::Program;
pub use session::{Session, DEFAULT_STEP_LIMIT};
pub use storage::{ByteSource, MAX_TENSOR_BYTES};
pub use tensor::{DType, Tensor};
pub use value::Value;
pub use wasm_torch_format::model::{Dim, Graph, Scalar, ScalarInput, ScalarKind, ValueSpec};
pub use wasm_torch_format::Limits;
