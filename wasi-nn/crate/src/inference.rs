//! The WIT `inference` interface: a [`GraphExecutionContext`] holds one interpreter session,
//! the inputs set so far and the outputs of the last `compute`.

use std::sync::Arc;

use wasm_torch_interp::{Program, Session, ValueSpec};

use crate::error::{Error, Result};
use crate::tensor::{describe_shape, Tensor};

/// The default of input `i` as the 0-d tensor a caller would set, when `i` is a scalar input
/// with a default.
fn scalar_default(program: &Program, i: usize) -> Option<wasm_torch_interp::Tensor> {
    use wasm_torch_interp::Scalar;
    let si = program
        .scalar_inputs()
        .iter()
        .find(|si| si.input as usize == i)?;
    Some(match si.default? {
        Scalar::Int(v) => wasm_torch_interp::Tensor::from_i64(vec![], vec![v]),
        Scalar::Float(v) => wasm_torch_interp::Tensor::from_le_bytes(
            wasm_torch_interp::DType::F64,
            vec![],
            &v.to_le_bytes(),
        )
        .ok()?,
        Scalar::Bool(v) => wasm_torch_interp::Tensor::from_bool(vec![], vec![v]),
    })
}

/// Which input or output: by name (WIT) or by position (the older witx ABI).
///
/// A name that matches no signature entry but is a decimal number in range is taken as an
/// index, so hosts that only know positions ("0", "1") work too.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TensorRef<'a> {
    /// The signature name.
    Name(&'a str),
    /// The position in the signature.
    Index(u32),
}

impl<'a> From<&'a str> for TensorRef<'a> {
    fn from(name: &'a str) -> Self {
        TensorRef::Name(name)
    }
}

impl From<u32> for TensorRef<'_> {
    fn from(index: u32) -> Self {
        TensorRef::Index(index)
    }
}

/// Resolve `r` against `specs`; `NotFound` lists what exists.
fn resolve(specs: &[ValueSpec], r: TensorRef<'_>, what: &str) -> Result<usize> {
    let found = match r {
        TensorRef::Name(n) => specs
            .iter()
            .position(|s| s.name == n)
            .or_else(|| n.parse::<usize>().ok().filter(|&i| i < specs.len())),
        TensorRef::Index(i) => Some(i as usize).filter(|&i| i < specs.len()),
    };
    found.ok_or_else(|| {
        let list: Vec<String> = specs
            .iter()
            .enumerate()
            .map(|(i, s)| {
                format!(
                    "{i}: '{}' {}{}",
                    s.name,
                    s.dtype.name(),
                    describe_shape(&s.shape)
                )
            })
            .collect();
        Error::not_found(format!(
            "no {what} {r:?}; the model has [{}]",
            list.join(", ")
        ))
    })
}

/// An execution context (WIT `graph-execution-context`).
#[derive(Debug)]
pub struct GraphExecutionContext {
    session: Session,
    inputs: Vec<Option<wasm_torch_interp::Tensor>>,
    outputs: Option<Vec<wasm_torch_interp::Tensor>>,
}

impl GraphExecutionContext {
    pub(crate) fn new(program: Arc<Program>) -> Result<GraphExecutionContext> {
        let n = program.inputs().len();
        Ok(GraphExecutionContext {
            session: Session::new(program)?,
            inputs: vec![None; n],
            outputs: None,
        })
    }

    fn program(&self) -> &Program {
        self.session.program()
    }

    /// Set an input (WIT `set-input`). The tensor is checked against the model's signature
    /// here, so a wrong type or shape fails at this call, not at `compute`. Unknown name or
    /// index → `NotFound`; mismatch → `InvalidArgument`; oversize → `TooLarge`.
    pub fn set_input<'a>(
        &mut self,
        which: impl Into<TensorRef<'a>>,
        tensor: &Tensor,
    ) -> Result<()> {
        let i = resolve(self.program().inputs(), which.into(), "input")?;
        let t = tensor.to_interp(&self.program().inputs()[i])?;
        self.inputs[i] = Some(t);
        Ok(())
    }

    /// Run the graph on the inputs set so far (WIT `compute`). Every input must be set
    /// (`InvalidArgument` names the missing ones); interpreter errors map as documented in
    /// the crate docs. Inputs stay set, so a caller may change one and compute again.
    pub fn compute(&mut self) -> Result<()> {
        let program = self.session.program().clone();
        let mut inputs = Vec::with_capacity(self.inputs.len());
        let mut missing = Vec::new();
        for (i, (spec, t)) in program.inputs().iter().zip(&self.inputs).enumerate() {
            match t {
                Some(t) => inputs.push(t.clone()),
                // A scalar input with a default (format 1.1) may be left unset.
                None => match scalar_default(&program, i) {
                    Some(d) => inputs.push(d),
                    None => missing.push(spec.name.as_str()),
                },
            }
        }
        if !missing.is_empty() {
            return Err(Error::invalid_argument(format!(
                "inputs not set before compute: {missing:?}"
            )));
        }
        self.outputs = None;
        self.outputs = Some(self.session.run_positional(inputs)?);
        Ok(())
    }

    /// An output of the last `compute` (WIT `get-output`). Unknown name or index →
    /// `NotFound`; no successful `compute` yet → `InvalidArgument`.
    pub fn get_output<'a>(&self, which: impl Into<TensorRef<'a>>) -> Result<Tensor> {
        let i = resolve(self.program().outputs(), which.into(), "output")?;
        let outputs = self
            .outputs
            .as_ref()
            .ok_or_else(|| Error::invalid_argument("get_output before a successful compute"))?;
        Tensor::from_interp(&outputs[i])
    }

    /// The newer WIT `compute(list<named-tensor>) -> list<named-tensor>`: set every given
    /// input, compute, and return all outputs by name.
    pub fn compute_named(&mut self, inputs: &[(&str, Tensor)]) -> Result<Vec<(String, Tensor)>> {
        for (name, t) in inputs {
            self.set_input(*name, t)?;
        }
        self.compute()?;
        let names: Vec<String> = self
            .program()
            .outputs()
            .iter()
            .map(|s| s.name.clone())
            .collect();
        names
            .into_iter()
            .enumerate()
            .map(|(i, n)| Ok((n, self.get_output(i as u32)?)))
            .collect()
    }
}
