//! `NativeSession`: the interpreter behind `wasm_torch.load`, with numpy-friendly I/O.

use std::sync::{Arc, Mutex, MutexGuard};

use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use wasm_torch_format::model::{DType, Dim, ValueSpec};
use wasm_torch_interp::{Program, Session, Tensor};

create_exception!(
    _native,
    NativeError,
    PyException,
    "An interpreter error; the message starts with its kind (bad_file, unsupported_ops, ...)."
);

fn native_err(e: wasm_torch_interp::Error) -> PyErr {
    NativeError::new_err(e.to_string())
}

/// A tensor crossing the boundary: `(dtype_name, shape, little-endian bytes)`.
type RawTensor<'py> = (String, Vec<usize>, Bound<'py, PyBytes>);

fn to_raw<'py>(py: Python<'py>, t: &Tensor) -> PyResult<RawTensor<'py>> {
    Ok((
        t.dtype().name().to_string(),
        t.shape().to_vec(),
        PyBytes::new(py, &t.to_le_bytes().map_err(native_err)?),
    ))
}

fn from_raw(dtype: &str, shape: Vec<usize>, data: &[u8]) -> PyResult<Tensor> {
    let dt = DType::from_name(dtype)
        .ok_or_else(|| PyValueError::new_err(format!("unknown dtype '{dtype}'")))?;
    Tensor::from_le_bytes(dt, shape, data).map_err(native_err)
}

/// A trace entry: `(register_name, dtype_name, shape, bytes)`.
type TraceEntry<'py> = (String, String, Vec<usize>, Bound<'py, PyBytes>);

/// Signature entry for Python: `(name, dtype_name, [int | str, ...])`.
fn spec_to_py<'py>(py: Python<'py>, s: &ValueSpec) -> PyResult<Bound<'py, PyAny>> {
    let dims = s
        .shape
        .iter()
        .map(|d| match d {
            Dim::Fixed(n) => Ok::<_, PyErr>(n.into_pyobject(py)?.into_any()),
            Dim::Symbolic(name) => Ok(name.as_str().into_pyobject(py)?.into_any()),
        })
        .collect::<PyResult<Vec<_>>>()?;
    Ok((s.name.as_str(), s.dtype.name(), dims)
        .into_pyobject(py)?
        .into_any())
}

/// An interpreter session over one loaded `.wtb` program.
#[pyclass(module = "wasm_torch._native")]
pub struct NativeSession {
    program: Arc<Program>,
    // A Mutex makes the session shareable with Python threads (pyo3 needs Sync); runs on one
    // session are serialized, as the interpreter's scratch state requires.
    session: Mutex<Session>,
}

#[pymethods]
impl NativeSession {
    /// Load a `.wtb` file from `path`.
    #[new]
    fn new(py: Python<'_>, path: std::path::PathBuf) -> PyResult<Self> {
        let program = py
            .detach(|| Program::from_path(&path))
            .map_err(native_err)?;
        Self::with_program(program)
    }

    /// Load a `.wtb` file from bytes.
    #[staticmethod]
    fn from_bytes(py: Python<'_>, data: &Bound<'_, PyBytes>) -> PyResult<Self> {
        // Borrow the bytes object's buffer (bytes are immutable): no element-wise extraction.
        let bytes = data.as_bytes();
        let program = py
            .detach(|| Program::from_bytes(bytes))
            .map_err(native_err)?;
        Self::with_program(program)
    }

    /// The model's inputs: a list of `(name, dtype, shape)`; symbolic dims are strings.
    #[getter]
    fn inputs<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyAny>>> {
        self.program
            .inputs()
            .iter()
            .map(|s| spec_to_py(py, s))
            .collect()
    }

    /// The scalar inputs (format 1.1): a list of `(input index, kind, default, fixed)` with
    /// kind "int" | "float" | "bool", default a Python value or `None` (no default), and
    /// `fixed` when the default is the only value the graph accepts.
    #[getter]
    fn scalar_inputs<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyAny>>> {
        use wasm_torch_format::model::Scalar;
        self.program
            .scalar_inputs()
            .iter()
            .map(|si| {
                let default = match si.default {
                    None => py.None().into_bound(py),
                    Some(Scalar::Int(v)) => v.into_pyobject(py)?.into_any(),
                    Some(Scalar::Float(v)) => v.into_pyobject(py)?.into_any(),
                    Some(Scalar::Bool(v)) => v.into_pyobject(py)?.to_owned().into_any(),
                };
                Ok((si.input, si.kind.name(), default, si.fixed)
                    .into_pyobject(py)?
                    .into_any())
            })
            .collect()
    }

    /// The model's outputs: a list of `(name, dtype, shape)`.
    #[getter]
    fn outputs<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyAny>>> {
        self.program
            .outputs()
            .iter()
            .map(|s| spec_to_py(py, s))
            .collect()
    }

    /// Bytes of the weights at f32 (their logical size).
    #[getter]
    fn weight_bytes(&self) -> u64 {
        self.program.weight_bytes()
    }

    /// Bytes the weights occupy in memory as held (int8/f16 Linear weights at their
    /// quantized size).
    #[getter]
    fn resident_weight_bytes(&self) -> u64 {
        self.program.resident_weight_bytes()
    }

    /// Run with positional inputs `[(dtype, shape, bytes), ...]`; returns outputs the same way.
    fn run<'py>(
        &mut self,
        py: Python<'py>,
        inputs: Vec<RawTensor<'py>>,
    ) -> PyResult<Vec<RawTensor<'py>>> {
        let tensors = inputs
            .into_iter()
            .map(|(d, s, b)| from_raw(&d, s, b.as_bytes()))
            .collect::<PyResult<Vec<_>>>()?;
        let mut guard = self.lock()?;
        let session: &mut Session = &mut guard;
        let outs = py
            .detach(move || session.run_positional(tensors))
            .map_err(native_err)?;
        outs.iter().map(|t| to_raw(py, t)).collect()
    }

    /// Bytes of packed weight copies this session may keep (0 = none; see
    /// `wasm_torch_interp::Session::set_prepack_budget`).
    fn set_prepack_budget(&mut self, bytes: usize) -> PyResult<()> {
        self.lock()?.set_prepack_budget(bytes);
        Ok(())
    }

    /// Bytes held by packed weight copies so far.
    #[getter]
    fn prepacked_bytes(&self) -> PyResult<usize> {
        Ok(self.lock()?.prepacked_bytes())
    }

    /// Put every session-state tensor (KV cache) back to its initial value.
    fn reset_state(&mut self) -> PyResult<()> {
        self.lock()?.reset_state().map_err(native_err)
    }

    /// `[(name, dtype, shape)]` of the session-state tensors (empty for stateless models).
    fn states(&self) -> Vec<(String, String, Vec<u64>)> {
        self.program
            .graph()
            .states
            .iter()
            .map(|s| (s.name.clone(), s.dtype.name().to_string(), s.shape.clone()))
            .collect()
    }

    /// The bytes of the asset named `name` (a tokenizer, a generation config the file ships
    /// with), or `None` when the file has no such asset.
    fn asset<'py>(&self, py: Python<'py>, name: &str) -> Option<Bound<'py, PyBytes>> {
        self.program.asset(name).map(|b| PyBytes::new(py, b))
    }

    /// The names of the file's assets, in file order.
    fn asset_names(&self) -> Vec<String> {
        self.program
            .asset_names()
            .into_iter()
            .map(String::from)
            .collect()
    }

    /// `(bytes_written, bytes_copied)` by in-place state writes since the last reset of the
    /// counters; `reset` zeroes them afterwards.
    #[pyo3(signature = (reset=false))]
    fn write_stats(&mut self, reset: bool) -> PyResult<(u64, u64)> {
        let mut s = self.lock()?;
        let w = s.write_stats();
        if reset {
            s.reset_write_stats();
        }
        Ok((w.bytes_written, w.bytes_copied))
    }

    /// Record every tensor an instruction writes during the next runs (for `diff`).
    fn set_trace(&mut self, on: bool) -> PyResult<()> {
        self.lock()?.set_trace(on);
        Ok(())
    }

    /// The recorded `(register_name, dtype, shape, bytes)` entries, oldest first; clears them.
    fn take_trace<'py>(&mut self, py: Python<'py>) -> PyResult<Vec<TraceEntry<'py>>> {
        self.lock()?
            .take_trace()
            .into_iter()
            .map(|(name, t)| {
                let (d, s, b) = to_raw(py, &t)?;
                Ok((name, d, s, b))
            })
            .collect()
    }
}

impl NativeSession {
    fn with_program(program: Program) -> PyResult<Self> {
        let program = Arc::new(program);
        let session = Session::new(program.clone()).map_err(native_err)?;
        Ok(NativeSession {
            program,
            session: Mutex::new(session),
        })
    }

    fn lock(&self) -> PyResult<MutexGuard<'_, Session>> {
        self.session.lock().map_err(|_| {
            NativeError::new_err("runtime: a previous run panicked; load the model again")
        })
    }
}

/// Chunk statistics of a `.wtb` file: counts and byte totals per codec.
#[pyfunction]
pub fn file_info(py: Python<'_>, path: std::path::PathBuf) -> PyResult<Vec<(String, u64)>> {
    let program = py
        .detach(|| Program::from_path(&path))
        .map_err(native_err)?;
    let g = program.graph();
    let mut zstd = 0u64;
    let (mut stored, mut decoded) = (0u64, 0u64);
    for c in &g.chunks {
        if c.codec == wasm_torch_format::model::Codec::Zstd {
            zstd += 1;
        }
        stored += c.stored_len;
        decoded += c.decoded_len;
    }
    Ok(vec![
        ("chunks".to_string(), g.chunks.len() as u64),
        ("zstd_chunks".to_string(), zstd),
        ("stored_bytes".to_string(), stored),
        ("decoded_bytes".to_string(), decoded),
        ("arena_size".to_string(), g.arena_size),
        ("tensors".to_string(), g.tensors.len() as u64),
    ])
}

/// Every op name the interpreter implements, sorted.
#[pyfunction]
pub fn supported_ops() -> Vec<&'static str> {
    wasm_torch_interp::supported_ops()
}
