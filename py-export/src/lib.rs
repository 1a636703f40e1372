//! pyo3 bindings.
