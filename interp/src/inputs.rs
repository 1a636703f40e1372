//! Binding a caller's inputs to the entry function's parameters: tensor inputs are checked
//! against the signature (dtype, rank, fixed and symbolic dims); scalar inputs (format 1.1,
//! SPEC.md §4.9) arrive as 0-d tensors and become plain int/float/bool values, as the graph's
//! loops and scalar op arguments expect; inputs the caller leaves off the end take the
//! file's defaults.

use std::collections::HashMap;

use wasm_torch_format::model::{Dim, Scalar, ScalarInput, ScalarKind, ValueSpec};

use crate::error::{Error, Result};
use crate::tensor::{DType, Tensor};
use crate::value::Value;

/// `[x: f32[batch, 3], n: int = 3]`: the signature as the caller sees it, scalars as
/// Python-style annotated arguments.
pub(crate) fn describe_inputs(specs: &[ValueSpec], scalars: &[ScalarInput]) -> String {
    let items: Vec<String> = specs
        .iter()
        .enumerate()
        .map(|(i, s)| match scalar_of(scalars, i) {
            Some(si) => describe_scalar(&s.name, si),
            None => s.to_string(),
        })
        .collect();
    format!("[{}]", items.join(", "))
}

fn describe_scalar(name: &str, si: &ScalarInput) -> String {
    match si.default {
        None => format!("{name}: {}", si.kind.name()),
        Some(d) if si.fixed => format!("{name}: {} == {} (fixed)", si.kind.name(), show(d)),
        Some(d) => format!("{name}: {} = {}", si.kind.name(), show(d)),
    }
}

/// The scalar-input entry of input `i`, if that input is a scalar.
pub(crate) fn scalar_of(scalars: &[ScalarInput], i: usize) -> Option<&ScalarInput> {
    scalars.iter().find(|s| s.input as usize == i)
}

/// The entry function's arguments for `inputs` (in signature order, possibly without a
/// trailing run of inputs that have defaults).
pub(crate) fn bind(
    specs: &[ValueSpec],
    scalars: &[ScalarInput],
    inputs: Vec<Tensor>,
) -> Result<Vec<Value>> {
    if inputs.len() > specs.len() {
        return Err(Error::invalid_input(format!(
            "expected at most {} inputs {}, got {}",
            specs.len(),
            describe_inputs(specs, scalars),
            inputs.len()
        )));
    }
    let mut bound: HashMap<&str, (usize, &str)> = HashMap::new();
    let mut values = Vec::with_capacity(specs.len());
    let mut given = inputs.into_iter();
    for (i, s) in specs.iter().enumerate() {
        let si = scalar_of(scalars, i);
        let Some(t) = given.next() else {
            match si.and_then(|si| si.default) {
                Some(d) => {
                    values.push(scalar_value(d));
                    continue;
                }
                None => {
                    return Err(Error::invalid_input(format!(
                        "missing input '{}' (it has no default); the model takes {}",
                        s.name,
                        describe_inputs(specs, scalars)
                    )))
                }
            }
        };
        values.push(match si {
            Some(si) => {
                let v = Value::from_scalar_input(&s.name, si.kind, &t)?;
                check_fixed(&s.name, si, &v)?;
                v
            }
            None => {
                check_tensor(s, &t, &mut bound)?;
                Value::Tensor(t)
            }
        });
    }
    Ok(values)
}

/// A fixed input (the graph was specialized to its value when traced or exported) accepts
/// only that value: any other would silently run the specialized graph.
fn check_fixed(name: &str, si: &ScalarInput, v: &Value) -> Result<()> {
    let (true, Some(d)) = (si.fixed, si.default) else {
        return Ok(());
    };
    let same = match (d, v) {
        (Scalar::Int(a), Value::Int(b)) => a == *b,
        (Scalar::Float(a), Value::Float(b)) => a == *b || (a.is_nan() && b.is_nan()),
        (Scalar::Bool(a), Value::Bool(b)) => a == *b,
        _ => false,
    };
    if same {
        return Ok(());
    }
    Err(Error::invalid_input(format!(
        "input '{name}' is fixed to {} (the model was traced/exported with that value and \
         specialized to it), got {}; pass {} or leave it out, or re-export the model with \
         frontend='script' (or a dynamic int) to vary it",
        show(d),
        show_value(v),
        show(d)
    )))
}

fn show(d: Scalar) -> String {
    match d {
        Scalar::Int(v) => v.to_string(),
        Scalar::Float(v) => format!("{v:?}"),
        Scalar::Bool(v) => (if v { "True" } else { "False" }).into(),
    }
}

fn show_value(v: &Value) -> String {
    match v {
        Value::Int(i) => show(Scalar::Int(*i)),
        Value::Float(f) => show(Scalar::Float(*f)),
        Value::Bool(b) => show(Scalar::Bool(*b)),
        other => other.type_name().into(),
    }
}

fn scalar_value(d: Scalar) -> Value {
    match d {
        Scalar::Int(v) => Value::Int(v),
        Scalar::Float(v) => Value::Float(v),
        Scalar::Bool(v) => Value::Bool(v),
    }
}

impl Value {
    /// The value of scalar input `name` of `kind`, given as the 0-d tensor `t`: an int input
    /// takes an integer tensor, a float input a floating tensor, a bool input a bool tensor.
    fn from_scalar_input(name: &str, kind: ScalarKind, t: &Tensor) -> Result<Value> {
        if t.ndim() != 0 {
            return Err(Error::invalid_input(format!(
                "input '{name}' is a scalar ({}), not a tensor; got a tensor of shape {:?} \
                 (pass a number or a 0-d tensor)",
                kind.name(),
                t.shape()
            )));
        }
        let d = t.dtype();
        let ok = match kind {
            ScalarKind::Int => matches!(
                d,
                DType::I64 | DType::I32 | DType::I16 | DType::I8 | DType::U8
            ),
            ScalarKind::Float => d.is_float(),
            ScalarKind::Bool => d == DType::Bool,
        };
        if !ok {
            return Err(Error::invalid_input(format!(
                "input '{name}' is {} {}, got a {} value",
                if kind == ScalarKind::Int { "an" } else { "a" },
                kind.name(),
                d.name()
            )));
        }
        Ok(match kind {
            ScalarKind::Int => Value::Int(t.item_i64()?),
            ScalarKind::Float => Value::Float(t.item_f64()?),
            ScalarKind::Bool => Value::Bool(t.item_i64()? != 0),
        })
    }
}

/// Check a tensor input's dtype, rank and fixed dims, and bind its symbolic dims
/// (consistently across inputs).
fn check_tensor<'a>(
    s: &'a ValueSpec,
    t: &Tensor,
    bound: &mut HashMap<&'a str, (usize, &'a str)>,
) -> Result<()> {
    let want = || s.to_string();
    if t.dtype() != s.dtype {
        return Err(Error::invalid_input(format!(
            "input '{}' has dtype {}, expected {}",
            s.name,
            t.dtype().name(),
            want()
        )));
    }
    if t.ndim() != s.shape.len() {
        return Err(Error::invalid_input(format!(
            "input '{}' has shape {:?}, expected {}",
            s.name,
            t.shape(),
            want()
        )));
    }
    for (i, (d, &n)) in s.shape.iter().zip(t.shape()).enumerate() {
        match d {
            Dim::Fixed(f) if *f != n as u64 => {
                return Err(Error::invalid_input(format!(
                    "input '{}' has size {n} in dim {i}, expected {}",
                    s.name,
                    want()
                )))
            }
            Dim::Symbolic(name) => match bound.get(name.as_str()) {
                Some(&(m, other)) if m != n => {
                    return Err(Error::invalid_input(format!(
                        "symbolic dim '{name}' is {m} in input '{other}' but {n} in input '{}' (dim {i})",
                        s.name
                    )))
                }
                Some(_) => {}
                None => {
                    bound.insert(name, (n, &s.name));
                }
            },
            _ => {}
        }
    }
    Ok(())
}
