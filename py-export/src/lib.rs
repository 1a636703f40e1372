//! pyo3 bindings for the `wasm_torch` Python package: the packer and the interpreter.
//!
//! This crate only converts: Python's plain structures (built by `wasm_torch._emit`) into the
//! packer's `ModelIr`, and numpy-style `(dtype_name, shape, bytes)` triples into interpreter
//! tensors and back. All graph logic lives in Python (front ends, passes) or in the Rust
//! crates it binds (packer, interp), so there is one place to fix each bug.

use pyo3::prelude::*;

mod convert;
mod session;
mod stored;

/// The native module `wasm_torch._native`.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(convert::pack, m)?)?;
    m.add_function(wrap_pyfunction!(session::supported_ops, m)?)?;
    m.add_function(wrap_pyfunction!(session::file_info, m)?)?;
    m.add_function(wrap_pyfunction!(stored::stored_tensor, m)?)?;
    m.add_class::<session::NativeSession>()?;
    m.add("NativeError", m.py().get_type::<session::NativeError>())?;
    Ok(())
}
