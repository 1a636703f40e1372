//! A Rust API shaped like the wasi-nn WIT interface (`wasi:nn` — `graph`, `tensor`,
//! `inference`, `errors`), backed by the wasm-torch interpreter.
//!
//! Why: code written against wasi-nn (load a graph, make an execution context, set inputs,
//! compute, read outputs) runs wasm-torch models unchanged, natively or inside wasm
//! (`wasm32-wasip1`, `wasm32-unknown-unknown`), and a host implementing the wasi-nn imports
//! for guests has the exact semantics to follow. The JavaScript host of the older witx ABI
//! (`wasi_ephemeral_nn`) in `js/wasi-nn/host.js` (npm `wasm-torch/wasi-nn`) implements the
//! same mapping.
//!
//! ```no_run
//! use wasm_torch_wasi_nn::{load, ExecutionTarget, GraphEncoding, Tensor};
//! # fn main() -> Result<(), wasm_torch_wasi_nn::Error> {
//! let bytes = std::fs::read("model.wtb").unwrap();
//! let graph = load(&[&bytes], GraphEncoding::Pytorch, ExecutionTarget::Cpu)?;
//! let mut ctx = graph.init_execution_context()?;
//! ctx.set_input("x", &Tensor::from_f32(vec![1, 4], &[1.0, 2.0, 3.0, 4.0]))?;
//! ctx.compute()?;
//! let y = ctx.get_output(0)?; // by name or by index
//! # let _ = y; Ok(()) }
//! ```
//!
//! # WIT concept → wasm-torch concept
//! | WIT | wasm-torch |
//! |---|---|
//! | `graph-builder` list | exactly one element: the bytes of a `.wtb` file |
//! | `graph-encoding` `pytorch` / `autodetect` | a `.wtb` (autodetect checks the magic); others refused |
//! | `execution-target` `cpu` | the interpreter; `gpu`/`tpu` refused |
//! | `graph` | an `Arc<Program>` (parsed, validated, weights decoded) |
//! | `load-by-name` | [`GraphRegistry`], filled by the host |
//! | `graph-execution-context` | one `Session` (memory plan, scratch) + the inputs set so far |
//! | `set-input(name)` | signature input by name (or decimal index); checked immediately |
//! | `compute` | `Session::run_positional` on all inputs |
//! | `get-output(name)` | signature output by name (or index) of the last `compute` |
//! | `tensor-type` `FP16 FP32 FP64 BF16 U8 I32 I64` | `f16 f32 f64 bf16 u8 i32 i64`; `bool` ↔ `U8`; `i8`/`i16` outputs widen to `I32` |
//! | `tensor-dimensions` (`list<u32>`) | shape; symbolic dims take the given size |
//!
//! # Errors
//! | cause | `error-code` |
//! |---|---|
//! | encoding not `pytorch`/`autodetect`; bytes without the `.wtb` magic | `invalid-encoding` |
//! | target `gpu`/`tpu` | `unsupported-operation` |
//! | builder count ≠ 1; corrupt/truncated file (interp `BadFile`) | `invalid-argument` |
//! | ops missing from the interpreter (interp `UnsupportedOps`) | `unsupported-operation` |
//! | tensor type, rank, fixed dim or byte length ≠ model (interp `InvalidInput`) | `invalid-argument` |
//! | an input missing at `compute`; `get-output` before `compute` | `invalid-argument` |
//! | size overflow or beyond limits (interp `OutOfMemory`) | `too-large` |
//! | unknown input/output name or index; unknown graph name | `not-found` |
//! | an op failing while running, incl. the instruction limit (interp `Runtime`) | `runtime-error` |
//! | — (never produced) | `timeout`, `security`, `unknown` |

pub mod error;
pub mod graph;
pub mod inference;
pub mod tensor;

pub use error::{code_for_kind, Error, ErrorCode, Result};
pub use graph::{load, ExecutionTarget, Graph, GraphEncoding, GraphRegistry};
pub use inference::{GraphExecutionContext, TensorRef};
pub use tensor::{Tensor, TensorType};
