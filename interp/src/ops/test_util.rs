//! Helpers shared by the ops' unit tests: call a registered op by name with a fresh
//! [`OpCtx`], and build argument values.

use crate::error::Result;
use crate::ops::registry::lookup;
use crate::ops::OpCtx;
use crate::tensor::Tensor;
use crate::value::Value;

/// Call the registered op `name` (panics if no op has that name: a test typo, not a result).
pub(crate) fn try_call(name: &str, args: Vec<Value>) -> Result<Vec<Value>> {
    let f = lookup(name).unwrap_or_else(|| panic!("{name} is not registered"));
    f(&mut OpCtx::default(), args)
}

/// [`try_call`], expecting success.
pub(crate) fn call(name: &str, args: Vec<Value>) -> Vec<Value> {
    try_call(name, args).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The first result of `name`, expecting success.
pub(crate) fn call_v(name: &str, args: Vec<Value>) -> Value {
    call(name, args).remove(0)
}

/// The first result of `name` as a tensor, or the op's error.
pub(crate) fn try_call_t(name: &str, args: Vec<Value>) -> Result<Tensor> {
    Ok(try_call(name, args)?[0].as_tensor()?.clone())
}

/// The first result of `name` as a tensor, expecting success.
pub(crate) fn call_t(name: &str, args: Vec<Value>) -> Tensor {
    try_call_t(name, args).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Every result of `name` as a tensor, or the op's error.
pub(crate) fn try_call_ts(name: &str, args: Vec<Value>) -> Result<Vec<Tensor>> {
    try_call(name, args)?
        .iter()
        .map(|v| Ok(v.as_tensor()?.clone()))
        .collect()
}

/// An int-list argument.
pub(crate) fn il(v: &[i64]) -> Value {
    Value::List(v.iter().map(|&i| Value::Int(i)).collect())
}
