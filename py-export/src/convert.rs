//! Python structures (see `wasm_torch/_emit.py`) -> the packer's `ModelIr`, and `pack`.

use pyo3::exceptions::{PyKeyError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyTuple};

use wasm_torch_format::model::{
    Asset, ConstValue, DType, Dim, Function, InlineTensor, Instr, Metadata, Operand, Scalar,
    ScalarInput, ScalarKind, Signature, StateInfo, StateInit, ValueSpec,
};
use wasm_torch_packer::{Compression, ModelIr, PackOptions, WeightEncoding, WeightIr};

fn item<'py>(d: &Bound<'py, PyDict>, key: &str) -> PyResult<Bound<'py, PyAny>> {
    d.get_item(key)?
        .ok_or_else(|| PyKeyError::new_err(format!("missing key '{key}'")))
}

fn dtype(name: &str) -> PyResult<DType> {
    DType::from_name(name).ok_or_else(|| PyValueError::new_err(format!("unknown dtype '{name}'")))
}

fn tagged<'py>(obj: &Bound<'py, PyAny>) -> PyResult<(String, Bound<'py, PyTuple>)> {
    let t: Bound<'py, PyTuple> = obj.extract()?;
    let tag: String = t.get_item(0)?.extract()?;
    Ok((tag, t))
}

fn bytes_of(obj: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    let b: Bound<'_, PyBytes> = obj.extract()?;
    Ok(b.as_bytes().to_vec())
}

fn value_spec(obj: &Bound<'_, PyAny>) -> PyResult<ValueSpec> {
    let (name, dt, dims): (String, String, Vec<Bound<'_, PyAny>>) = obj.extract()?;
    let shape = dims
        .iter()
        .map(|d| match d.extract::<u64>() {
            Ok(n) => Ok(Dim::Fixed(n)),
            Err(_) => d.extract::<String>().map(Dim::Symbolic),
        })
        .collect::<PyResult<Vec<_>>>()?;
    Ok(ValueSpec {
        name,
        dtype: dtype(&dt)?,
        shape,
    })
}

fn constant(obj: &Bound<'_, PyAny>) -> PyResult<ConstValue> {
    let (tag, t) = tagged(obj)?;
    Ok(match tag.as_str() {
        "none" => ConstValue::None,
        "bool" => ConstValue::Bool(t.get_item(1)?.extract()?),
        "int" => ConstValue::Int(t.get_item(1)?.extract()?),
        "float" => ConstValue::Float(t.get_item(1)?.extract()?),
        "str" => ConstValue::Str(t.get_item(1)?.extract()?),
        "ints" => ConstValue::Ints(t.get_item(1)?.extract()?),
        "floats" => ConstValue::Floats(t.get_item(1)?.extract()?),
        "list" => {
            let items: Vec<Bound<'_, PyAny>> = t.get_item(1)?.extract()?;
            ConstValue::List(items.iter().map(constant).collect::<PyResult<_>>()?)
        }
        "tensor" => ConstValue::Tensor(InlineTensor {
            dtype: dtype(&t.get_item(1)?.extract::<String>()?)?,
            shape: t.get_item(2)?.extract()?,
            data: bytes_of(&t.get_item(3)?)?,
        }),
        other => {
            return Err(PyValueError::new_err(format!(
                "unknown constant tag '{other}'"
            )))
        }
    })
}

fn operand(obj: &Bound<'_, PyAny>) -> PyResult<Operand> {
    let (kind, index): (String, u32) = obj.extract()?;
    Ok(match kind.as_str() {
        "r" => Operand::Reg(index),
        "c" => Operand::Const(index),
        "w" => Operand::Weight(index),
        "s" => Operand::State(index),
        other => {
            return Err(PyValueError::new_err(format!(
                "unknown operand kind '{other}'"
            )))
        }
    })
}

fn operands(obj: &Bound<'_, PyAny>) -> PyResult<Vec<Operand>> {
    let items: Vec<Bound<'_, PyAny>> = obj.extract()?;
    items.iter().map(operand).collect()
}

fn instr(obj: &Bound<'_, PyAny>) -> PyResult<Instr> {
    let (tag, t) = tagged(obj)?;
    let at = |i: usize| t.get_item(i);
    Ok(match tag.as_str() {
        "call" => Instr::CallOp {
            op: at(1)?.extract()?,
            args: operands(&at(2)?)?,
            outputs: at(3)?.extract()?,
        },
        "const" => Instr::LoadConst {
            dst: at(1)?.extract()?,
            index: at(2)?.extract()?,
        },
        "move" => Instr::Move {
            dst: at(1)?.extract()?,
            src: operand(&at(2)?)?,
        },
        "list" => Instr::BuildList {
            dst: at(1)?.extract()?,
            items: operands(&at(2)?)?,
        },
        "tuple" => Instr::BuildTuple {
            dst: at(1)?.extract()?,
            items: operands(&at(2)?)?,
        },
        "unpack" => Instr::Unpack {
            src: operand(&at(1)?)?,
            dsts: at(2)?.extract()?,
        },
        "jump" => Instr::Jump {
            target: at(1)?.extract()?,
        },
        "jump_if" => Instr::JumpIf {
            cond: operand(&at(1)?)?,
            target: at(2)?.extract()?,
        },
        "jump_if_not" => Instr::JumpIfNot {
            cond: operand(&at(1)?)?,
            target: at(2)?.extract()?,
        },
        "call_function" => Instr::CallFunction {
            function: at(1)?.extract()?,
            args: operands(&at(2)?)?,
            outputs: at(3)?.extract()?,
        },
        "return" => Instr::Return {
            values: operands(&at(1)?)?,
        },
        other => {
            return Err(PyValueError::new_err(format!(
                "unknown instruction '{other}'"
            )))
        }
    })
}

fn function(obj: &Bound<'_, PyAny>) -> PyResult<Function> {
    let d: Bound<'_, PyDict> = obj.extract()?;
    let code: Vec<Bound<'_, PyAny>> = item(&d, "code")?.extract()?;
    Ok(Function {
        name: item(&d, "name")?.extract()?,
        num_registers: item(&d, "num_registers")?.extract()?,
        params: item(&d, "params")?.extract()?,
        register_names: item(&d, "register_names")?.extract()?,
        code: code.iter().map(instr).collect::<PyResult<_>>()?,
    })
}

fn encoding(obj: &Bound<'_, PyAny>) -> PyResult<WeightEncoding> {
    if let Ok(s) = obj.extract::<String>() {
        return match s.as_str() {
            "as_is" => Ok(WeightEncoding::AsIs),
            "f16" => Ok(WeightEncoding::F16),
            "int8" => Ok(WeightEncoding::Int8PerTensor),
            other => Err(PyValueError::new_err(format!(
                "unknown weight encoding '{other}'"
            ))),
        };
    }
    if let Ok((tag, group, offsets)) = obj.extract::<(String, u32, bool)>() {
        return match tag.as_str() {
            "int4" => Ok(WeightEncoding::Int4 { group, offsets }),
            "int4_stored" => Ok(WeightEncoding::Int4Stored { group, offsets }),
            other => Err(PyValueError::new_err(format!(
                "unknown weight encoding '{other}'"
            ))),
        };
    }
    let (tag, axis): (String, u32) = obj.extract()?;
    match tag.as_str() {
        "int8_channel" => Ok(WeightEncoding::Int8PerChannel { axis }),
        "int8_stored" => Ok(WeightEncoding::Int8Stored { axis }),
        // Group-wise int8 (the second field is the group size, not an axis).
        "int8_group" => Ok(WeightEncoding::Int8Group { group: axis }),
        "int8_group_stored" => Ok(WeightEncoding::Int8GroupStored { group: axis }),
        other => Err(PyValueError::new_err(format!(
            "unknown weight encoding '{other}'"
        ))),
    }
}

fn weight(obj: &Bound<'_, PyAny>) -> PyResult<WeightIr> {
    let t: Bound<'_, PyTuple> = obj.extract()?;
    Ok(WeightIr {
        name: t.get_item(0)?.extract()?,
        dtype: dtype(&t.get_item(1)?.extract::<String>()?)?,
        shape: t.get_item(2)?.extract()?,
        data: bytes_of(&t.get_item(3)?)?,
        encoding: encoding(&t.get_item(4)?)?,
    })
}

fn metadata(obj: &Bound<'_, PyAny>) -> PyResult<Metadata> {
    let d: Bound<'_, PyDict> = obj.extract()?;
    let get = |k: &str| -> PyResult<String> {
        Ok(match d.get_item(k)? {
            Some(v) => v.extract()?,
            None => String::new(),
        })
    };
    let extra = match d.get_item("extra")? {
        Some(v) => v.extract()?,
        None => Vec::new(),
    };
    Ok(Metadata {
        producer: get("producer")?,
        exporter_version: get("exporter_version")?,
        torch_version: get("torch_version")?,
        model_name: get("model_name")?,
        extra,
    })
}

/// Convert the Python structure to the packer's IR.
fn model_ir(ir: &Bound<'_, PyDict>) -> PyResult<ModelIr> {
    let list = |k: &str| -> PyResult<Vec<Bound<'_, PyAny>>> { item(ir, k)?.extract() };
    Ok(ModelIr {
        metadata: metadata(&item(ir, "metadata")?)?,
        signature: Signature {
            inputs: list("inputs")?
                .iter()
                .map(value_spec)
                .collect::<PyResult<_>>()?,
            outputs: list("outputs")?
                .iter()
                .map(value_spec)
                .collect::<PyResult<_>>()?,
        },
        ops: item(ir, "ops")?.extract()?,
        functions: list("functions")?
            .iter()
            .map(function)
            .collect::<PyResult<_>>()?,
        constants: list("constants")?
            .iter()
            .map(constant)
            .collect::<PyResult<_>>()?,
        weights: list("weights")?
            .iter()
            .map(weight)
            .collect::<PyResult<_>>()?,
        states: match ir.get_item("states")? {
            Some(v) => v
                .extract::<Vec<Bound<'_, PyAny>>>()?
                .iter()
                .map(state)
                .collect::<PyResult<_>>()?,
            None => Vec::new(),
        },
        scalar_inputs: match ir.get_item("scalar_inputs")? {
            Some(v) => v
                .extract::<Vec<Bound<'_, PyAny>>>()?
                .iter()
                .map(scalar_input)
                .collect::<PyResult<_>>()?,
            None => Vec::new(),
        },
        assets: match ir.get_item("assets")? {
            Some(v) => v
                .extract::<Vec<(String, Vec<u8>)>>()?
                .into_iter()
                .map(|(name, data)| Asset { name, data })
                .collect(),
            None => Vec::new(),
        },
    })
}

/// `(input index, kind, default, fixed)`: kind "int" | "float" | "bool"; default `None`
/// (none) or a Python value of that kind; `fixed` when the graph was specialized to it.
fn scalar_input(obj: &Bound<'_, PyAny>) -> PyResult<ScalarInput> {
    let (input, kind, default, fixed): (u32, String, Option<Bound<'_, PyAny>>, bool) =
        obj.extract()?;
    let kind = match kind.as_str() {
        "int" => ScalarKind::Int,
        "float" => ScalarKind::Float,
        "bool" => ScalarKind::Bool,
        other => {
            return Err(PyValueError::new_err(format!(
                "scalar input kind must be 'int', 'float' or 'bool', got '{other}'"
            )))
        }
    };
    let default = match default {
        None => None,
        Some(d) => Some(match kind {
            ScalarKind::Int => Scalar::Int(d.extract()?),
            ScalarKind::Float => Scalar::Float(d.extract()?),
            ScalarKind::Bool => Scalar::Bool(d.extract()?),
        }),
    };
    Ok(ScalarInput {
        input,
        kind,
        fixed: fixed && default.is_some(),
        default,
    })
}

/// `(name, dtype, shape, init)`: `init` is `None` (zeros) or a weight index.
fn state(obj: &Bound<'_, PyAny>) -> PyResult<StateInfo> {
    let (name, dt, shape, init): (String, String, Vec<u64>, Option<u32>) = obj.extract()?;
    Ok(StateInfo {
        name,
        dtype: dtype(&dt)?,
        shape,
        init: init.map_or(StateInit::Zeros, StateInit::Tensor),
    })
}

/// Pack a model (the structure built by `wasm_torch._emit.emit`) into `.wtb` bytes.
///
/// `chunk_target` (bytes per weight chunk), `compression` ("auto" | "never" | "always") and
/// `zstd_level` override the packer's defaults when given.
#[pyfunction]
#[pyo3(signature = (ir, chunk_target=None, compression=None, zstd_level=None))]
pub fn pack<'py>(
    py: Python<'py>,
    ir: &Bound<'py, PyDict>,
    chunk_target: Option<usize>,
    compression: Option<&str>,
    zstd_level: Option<i32>,
) -> PyResult<Bound<'py, PyBytes>> {
    let model = model_ir(ir)?;
    let mut opts = PackOptions::default();
    if let Some(c) = chunk_target {
        opts.chunk_target = c;
    }
    if let Some(c) = compression {
        opts.compression = match c {
            "auto" => Compression::Auto,
            "never" => Compression::Never,
            "always" => Compression::Always,
            other => {
                return Err(PyValueError::new_err(format!(
                    "compression must be 'auto', 'never' or 'always', got '{other}'"
                )))
            }
        };
    }
    if let Some(l) = zstd_level {
        opts.zstd_level = l;
    }
    let bytes = py
        .detach(|| wasm_torch_packer::pack(&model, &opts))
        .map_err(|e| PyValueError::new_err(format!("packing failed: {e}")))?;
    Ok(PyBytes::new(py, &bytes))
}
