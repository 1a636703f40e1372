//! [`Value`]: what a register holds — a tensor, a scalar, a string, a list or a tuple.

use crate::error::{Error, Result};
use crate::tensor::Tensor;
use wasm_torch_format::model::{ConstValue, DType};

/// A register's content.
#[derive(Clone, Debug, Default)]
pub enum Value {
    /// Python `None` / an empty register.
    #[default]
    None,
    /// A boolean scalar.
    Bool(bool),
    /// An integer scalar (also SymInt sizes and dtype codes).
    Int(i64),
    /// A float scalar.
    Float(f64),
    /// A string.
    Str(String),
    /// A tensor.
    Tensor(Tensor),
    /// A list (`int[]`, `Tensor[]`, ...).
    List(Vec<Value>),
    /// A tuple.
    Tuple(Vec<Value>),
}

impl Value {
    /// Short type name for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::None => "None",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::Str(_) => "str",
            Value::Tensor(_) => "Tensor",
            Value::List(_) => "list",
            Value::Tuple(_) => "tuple",
        }
    }

    /// Build a value from a constant-pool entry.
    pub fn from_const(c: &ConstValue) -> Result<Value> {
        Ok(match c {
            ConstValue::None => Value::None,
            ConstValue::Bool(b) => Value::Bool(*b),
            ConstValue::Int(i) => Value::Int(*i),
            ConstValue::Float(f) => Value::Float(*f),
            ConstValue::Str(s) => Value::Str(s.clone()),
            ConstValue::Ints(v) => Value::List(v.iter().map(|&i| Value::Int(i)).collect()),
            ConstValue::Floats(v) => Value::List(v.iter().map(|&f| Value::Float(f)).collect()),
            ConstValue::List(items) => {
                Value::List(items.iter().map(Value::from_const).collect::<Result<_>>()?)
            }
            ConstValue::Tensor(t) => {
                let shape = t
                    .shape
                    .iter()
                    .map(|&d| usize::try_from(d).map_err(|_| Error::bad_file("constant too large")))
                    .collect::<Result<Vec<_>>>()?;
                Value::Tensor(Tensor::from_le_bytes(t.dtype, shape, &t.data).map_err(|e| {
                    Error::bad_file(format!("inline tensor constant: {}", e.message()))
                })?)
            }
        })
    }

    /// The tensor, or an error naming what was found.
    pub fn as_tensor(&self) -> Result<&Tensor> {
        match self {
            Value::Tensor(t) => Ok(t),
            v => Err(Error::runtime(format!(
                "expected a Tensor, got {}",
                v.type_name()
            ))),
        }
    }

    /// Take the tensor out (leaving `None`), for ops that may reuse its buffer.
    pub fn take_tensor(&mut self) -> Result<Tensor> {
        match std::mem::take(self) {
            Value::Tensor(t) => Ok(t),
            v => Err(Error::runtime(format!(
                "expected a Tensor, got {}",
                v.type_name()
            ))),
        }
    }

    /// `None` → `None`, a tensor → `Some`.
    pub fn as_opt_tensor(&self) -> Result<Option<&Tensor>> {
        match self {
            Value::None => Ok(None),
            v => v.as_tensor().map(Some),
        }
    }

    /// An integer (bools count; one-element integer tensors count, like SymInt).
    pub fn as_int(&self) -> Result<i64> {
        match self {
            Value::Int(i) => Ok(*i),
            Value::Bool(b) => Ok(i64::from(*b)),
            Value::Tensor(t) if t.numel() == 1 && !t.dtype().is_float() => t.item_i64(),
            v => Err(Error::runtime(format!(
                "expected an int, got {}",
                v.type_name()
            ))),
        }
    }

    /// An optional integer.
    pub fn as_opt_int(&self) -> Result<Option<i64>> {
        match self {
            Value::None => Ok(None),
            v => v.as_int().map(Some),
        }
    }

    /// A number as f64 (ints, floats, bools, one-element tensors).
    pub fn as_f64(&self) -> Result<f64> {
        match self {
            Value::Int(i) => Ok(*i as f64),
            Value::Float(f) => Ok(*f),
            Value::Bool(b) => Ok(f64::from(u8::from(*b))),
            Value::Tensor(t) if t.numel() == 1 => t.item_f64(),
            v => Err(Error::runtime(format!(
                "expected a number, got {}",
                v.type_name()
            ))),
        }
    }

    /// An optional number.
    pub fn as_opt_f64(&self) -> Result<Option<f64>> {
        match self {
            Value::None => Ok(None),
            v => v.as_f64().map(Some),
        }
    }

    /// A truth value (bools, numbers, one-element tensors).
    pub fn as_bool(&self) -> Result<bool> {
        match self {
            Value::Bool(b) => Ok(*b),
            Value::Int(i) => Ok(*i != 0),
            Value::Float(f) => Ok(*f != 0.0),
            Value::Tensor(t) if t.numel() == 1 => Ok(t.item_f64()? != 0.0),
            Value::Tensor(t) => Err(Error::runtime(format!(
                "the truth value of a tensor of shape {:?} is ambiguous",
                t.shape()
            ))),
            v => Err(Error::runtime(format!(
                "expected a bool, got {}",
                v.type_name()
            ))),
        }
    }

    /// A string.
    pub fn as_str(&self) -> Result<&str> {
        match self {
            Value::Str(s) => Ok(s),
            v => Err(Error::runtime(format!(
                "expected a str, got {}",
                v.type_name()
            ))),
        }
    }

    /// A list or tuple's items.
    pub fn as_list(&self) -> Result<&[Value]> {
        match self {
            Value::List(v) | Value::Tuple(v) => Ok(v),
            v => Err(Error::runtime(format!(
                "expected a list, got {}",
                v.type_name()
            ))),
        }
    }

    /// An int list (a single int counts as a one-element list, like `int[1]` args).
    pub fn as_ints(&self) -> Result<Vec<i64>> {
        match self {
            Value::List(v) | Value::Tuple(v) => v.iter().map(Value::as_int).collect(),
            Value::Int(i) => Ok(vec![*i]),
            Value::Tensor(t) if t.ndim() <= 1 && !t.dtype().is_float() => Ok(t.to_i64_vec()),
            v => Err(Error::runtime(format!(
                "expected an int list, got {}",
                v.type_name()
            ))),
        }
    }

    /// An optional int list.
    pub fn as_opt_ints(&self) -> Result<Option<Vec<i64>>> {
        match self {
            Value::None => Ok(None),
            v => v.as_ints().map(Some),
        }
    }

    /// A list of tensors.
    pub fn as_tensors(&self) -> Result<Vec<Tensor>> {
        self.as_list()?
            .iter()
            .map(|v| v.as_tensor().cloned())
            .collect()
    }

    /// A dtype argument (PyTorch ScalarType code) → [`DType`]; `None` stays `None`.
    pub fn as_opt_dtype(&self) -> Result<Option<DType>> {
        match self {
            Value::None => Ok(None),
            v => scalar_type_to_dtype(v.as_int()?).map(Some),
        }
    }
}

/// PyTorch ScalarType code → [`DType`].
pub fn scalar_type_to_dtype(code: i64) -> Result<DType> {
    Ok(match code {
        0 => DType::U8,
        1 => DType::I8,
        2 => DType::I16,
        3 => DType::I32,
        4 => DType::I64,
        5 => DType::F16,
        6 => DType::F32,
        7 => DType::F64,
        9 => DType::C64,
        11 => DType::Bool,
        15 => DType::BF16,
        c => return Err(Error::runtime(format!("unsupported ScalarType code {c}"))),
    })
}

/// [`DType`] → PyTorch ScalarType code.
pub fn dtype_to_scalar_type(d: DType) -> i64 {
    match d {
        DType::U8 => 0,
        DType::I8 => 1,
        DType::I16 => 2,
        DType::I32 => 3,
        DType::I64 => 4,
        DType::F16 => 5,
        DType::F32 => 6,
        DType::F64 => 7,
        DType::C64 => 9,
        DType::Bool => 11,
        DType::BF16 => 15,
    }
}

impl From<Tensor> for Value {
    fn from(t: Tensor) -> Value {
        Value::Tensor(t)
    }
}
