//! Tensors across the JS boundary as plain `{name, dtype, shape, bytes}` objects.
//!
//! Everything read from JavaScript is checked (types, integer-valued non-negative dims, byte
//! length = numel × element size, overflow) before a [`Tensor`] is built, so malformed input
//! yields an `INVALID_INPUT` error, never a panic.

use crate::error::{from_interp, invalid_input};
use js_sys::{Array, Object, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_torch_format::model::{DType, Dim, ValueSpec};
use wasm_torch_interp::Tensor;

/// Largest dimension value accepted from JS: integers above 2^53 are not exact in a double.
const MAX_SAFE_DIM: f64 = 9_007_199_254_740_991.0;

fn get(obj: &JsValue, key: &str) -> Result<JsValue, JsValue> {
    Reflect::get(obj, &JsValue::from_str(key))
        .map_err(|_| invalid_input(format!("cannot read property '{key}' of an input")))
}

fn set(obj: &Object, key: &str, value: &JsValue) {
    // Defining a property on a fresh plain object cannot fail.
    let _ = Reflect::set(obj, &JsValue::from_str(key), value);
}

/// Parse a JS shape array (numbers) into dims, checking each is a non-negative integer.
pub fn parse_shape(value: &JsValue, what: &str) -> Result<Vec<usize>, JsValue> {
    let arr = value
        .dyn_ref::<Array>()
        .ok_or_else(|| invalid_input(format!("{what}: shape must be an array of integers")))?;
    let mut dims = Vec::with_capacity(arr.length() as usize);
    for v in arr.iter() {
        let d = v
            .as_f64()
            .ok_or_else(|| invalid_input(format!("{what}: shape entries must be numbers")))?;
        if !((0.0..=MAX_SAFE_DIM).contains(&d) && d.fract() == 0.0) {
            return Err(invalid_input(format!(
                "{what}: shape entry {d} is not a non-negative integer"
            )));
        }
        let d = usize::try_from(d as u64)
            .map_err(|_| invalid_input(format!("{what}: dimension {d} is too large")))?;
        dims.push(d);
    }
    Ok(dims)
}

/// One named input tensor read from a `{name, dtype, shape, bytes}` object.
pub fn read_input(obj: &JsValue) -> Result<(String, Tensor), JsValue> {
    let name = get(obj, "name")?
        .as_string()
        .ok_or_else(|| invalid_input("input 'name' must be a string"))?;
    let dtype_name = get(obj, "dtype")?
        .as_string()
        .ok_or_else(|| invalid_input(format!("input '{name}': 'dtype' must be a string")))?;
    let dtype = DType::from_name(&dtype_name)
        .ok_or_else(|| invalid_input(format!("input '{name}': unknown dtype '{dtype_name}'")))?;
    let shape = parse_shape(&get(obj, "shape")?, &format!("input '{name}'"))?;
    let bytes = get(obj, "bytes")?
        .dyn_into::<Uint8Array>()
        .map_err(|_| invalid_input(format!("input '{name}': 'bytes' must be a Uint8Array")))?;
    let numel = shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| invalid_input(format!("input '{name}': shape {shape:?} overflows")))?;
    let expected = numel
        .checked_mul(dtype.size())
        .ok_or_else(|| invalid_input(format!("input '{name}': shape {shape:?} overflows")))?;
    if bytes.length() as usize != expected {
        return Err(invalid_input(format!(
            "input '{name}': {} bytes given, shape {shape:?} of {dtype_name} needs {expected}",
            bytes.length()
        )));
    }
    // Copied once, straight into the tensor's storage, allocated fallibly: an input that
    // does not fit is OUT_OF_MEMORY, not a trap.
    let tensor =
        Tensor::from_le_fill(dtype, shape, |dst| bytes.copy_to(dst)).map_err(from_interp)?;
    Ok((name, tensor))
}

/// A result tensor as a `{name, dtype, shape, bytes}` object (bytes copied out of wasm memory).
pub fn write_output(name: &str, tensor: &Tensor) -> Result<JsValue, JsValue> {
    let obj = Object::new();
    set(&obj, "name", &JsValue::from_str(name));
    set(&obj, "dtype", &JsValue::from_str(tensor.dtype().name()));
    let shape: Array = tensor
        .shape()
        .iter()
        .map(|&d| JsValue::from_f64(d as f64))
        .collect();
    set(&obj, "shape", &shape);
    let bytes = tensor.to_le_bytes().map_err(from_interp)?;
    set(&obj, "bytes", &Uint8Array::from(&bytes[..]));
    Ok(obj.into())
}

/// A signature entry as `{name, dtype, shape}`; symbolic dims are strings.
pub fn write_spec(spec: &ValueSpec) -> JsValue {
    let obj = Object::new();
    set(&obj, "name", &JsValue::from_str(&spec.name));
    set(&obj, "dtype", &JsValue::from_str(spec.dtype.name()));
    let shape: Array = spec
        .shape
        .iter()
        .map(|d| match d {
            Dim::Fixed(n) => JsValue::from_f64(*n as f64),
            Dim::Symbolic(s) => JsValue::from_str(s),
        })
        .collect();
    set(&obj, "shape", &shape);
    obj.into()
}

/// Add `scalar`, `default` and `fixed` to the spec object of a scalar input.
pub fn write_scalar_fields(spec: &JsValue, si: &wasm_torch_interp::ScalarInput) {
    use wasm_torch_interp::Scalar;
    let obj: &Object = spec.unchecked_ref();
    set(obj, "scalar", &JsValue::from_str(si.kind.name()));
    if let Some(d) = si.default {
        let v = match d {
            // Integers a double holds exactly are numbers; larger ones bigints.
            Scalar::Int(v) if v.unsigned_abs() <= (1u64 << 53) => JsValue::from_f64(v as f64),
            Scalar::Int(v) => JsValue::from(js_sys::BigInt::from(v)),
            Scalar::Float(v) => JsValue::from_f64(v),
            Scalar::Bool(v) => JsValue::from_bool(v),
        };
        set(obj, "default", &v);
    }
    set(obj, "fixed", &JsValue::from_bool(si.fixed));
}
