//! Reading one tensor of a `.wtb` file in its *stored* form (stored dtype, quantization
//! parameters, bytes), so tests and tools can check that imported already-quantized weights
//! were written bit for bit rather than re-quantized.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use wasm_torch_format::model::Quantization;
use wasm_torch_format::Limits;

/// A tensor's quantization as plain Python data: `(kind, axis, scales, zero points,
/// description)` with kind "none", "per_tensor" (one scale and zero point), "per_channel"
/// (with its axis) or "other" (the group-wise encodings, described by `Debug`).
type QuantParams = (String, Option<u32>, Vec<f32>, Vec<i32>, String);

fn quant_params(q: &Quantization) -> QuantParams {
    match q {
        Quantization::None => ("none".into(), None, vec![], vec![], String::new()),
        Quantization::PerTensor { scale, zero_point } => (
            "per_tensor".into(),
            None,
            vec![*scale],
            vec![*zero_point],
            String::new(),
        ),
        Quantization::PerChannel {
            axis,
            scales,
            zero_points,
        } => (
            "per_channel".into(),
            Some(*axis),
            scales.clone(),
            zero_points.clone(),
            String::new(),
        ),
        other => ("other".into(), None, vec![], vec![], format!("{other:?}")),
    }
}

/// The stored form of tensor `name` in the `.wtb` file at `path`:
/// `(stored dtype name, (kind, axis, scales, zero points, description), stored bytes)`,
/// or `None` when the file has no tensor of that name.
#[pyfunction]
pub fn stored_tensor<'py>(
    py: Python<'py>,
    path: std::path::PathBuf,
    name: &str,
) -> PyResult<Option<(String, QuantParams, Bound<'py, PyBytes>)>> {
    let bad = |e: String| PyValueError::new_err(format!("{}: {e}", path.display()));
    let bytes = std::fs::read(&path).map_err(|e| bad(e.to_string()))?;
    let limits = Limits::default();
    let graph = wasm_torch_format::parse_file(&bytes, &limits).map_err(|e| bad(e.to_string()))?;
    let Some(t) = graph.tensors.iter().find(|t| t.name == name) else {
        return Ok(None);
    };
    let arena =
        wasm_torch_format::decode_all(&bytes, &graph, &limits).map_err(|e| bad(e.to_string()))?;
    let data = arena
        .tensor(&graph, t)
        .ok_or_else(|| bad(format!("tensor {name:?} lies outside its chunk")))?;
    Ok(Some((
        t.stored_dtype.name().to_string(),
        quant_params(&t.quantization),
        PyBytes::new(py, data),
    )))
}
