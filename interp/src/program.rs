//! [`Program`]: a parsed, validated model with its ops resolved and its weights in place.
//!
//! Like ExecuTorch's `Program`, it is immutable and shareable (`Send + Sync`, hold it in an
//! `Arc`); executable state (memory plan, scratch, profiling) lives in a
//! [`crate::Session`]. Loading validates everything once — op support first, before any
//! weight byte is touched — so running never re-checks indices.

use std::collections::BTreeMap;

use wasm_torch_format::model::{Graph, Instr, Operand, ValueSpec};
use wasm_torch_format::Limits;

use crate::error::{Error, ErrorKind, Result};
use crate::registry::{lookup, OpCtx, OpFn};
use crate::tensor::Tensor;
use crate::value::Value;
use crate::weights::{build_weights, ArenaSources};

/// A loaded model: graph, resolved op table, constants and weights.
pub struct Program {
    pub(crate) graph: Graph,
    pub(crate) ops: Vec<OpFn>,
    pub(crate) constants: Vec<Value>,
    pub(crate) weights: Vec<Tensor>,
    weight_bytes: u64,
}

impl std::fmt::Debug for Program {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Program")
            .field("model", &self.graph.metadata.model_name)
            .field("ops", &self.graph.ops.len())
            .field("weights", &self.weights.len())
            .finish()
    }
}

fn unused_op(_: &mut OpCtx, _: Vec<Value>) -> Result<Vec<Value>> {
    Err(Error::runtime(
        "internal: an unsupported op-table entry was called",
    ))
}

/// Resolve the op table; refuse the model listing every unsupported op that the bytecode
/// calls, with its call count. Entries never called resolve to an erroring placeholder.
pub(crate) fn resolve_ops(graph: &Graph) -> Result<Vec<OpFn>> {
    let mut counts = vec![0usize; graph.ops.len()];
    for f in &graph.functions {
        for i in &f.code {
            if let Instr::CallOp { op, .. } = i {
                if let Some(c) = counts.get_mut(*op as usize) {
                    *c += 1;
                }
            }
        }
    }
    let mut missing: BTreeMap<&str, usize> = BTreeMap::new();
    let mut ops = Vec::with_capacity(graph.ops.len());
    for (i, name) in graph.ops.iter().enumerate() {
        match lookup(name) {
            Some(f) => ops.push(f),
            None => {
                if counts[i] > 0 {
                    *missing.entry(name).or_default() += counts[i];
                }
                ops.push(unused_op as OpFn);
            }
        }
    }
    if !missing.is_empty() {
        let list: Vec<String> = missing.iter().map(|(n, c)| format!("{n} (x{c})")).collect();
        return Err(Error::new(
            ErrorKind::UnsupportedOps,
            format!("{} unsupported op(s): {}", missing.len(), list.join(", ")),
        ));
    }
    Ok(ops)
}

/// Checks the interpreter relies on beyond the format's own validation.
pub(crate) fn validate(graph: &Graph) -> Result<()> {
    let entry = graph
        .functions
        .first()
        .ok_or_else(|| Error::bad_file("the program has no functions"))?;
    if entry.params.len() != graph.signature.inputs.len() {
        return Err(Error::bad_file(format!(
            "entry function takes {} parameters but the signature lists {} inputs",
            entry.params.len(),
            graph.signature.inputs.len()
        )));
    }
    for (fi, f) in graph.functions.iter().enumerate() {
        let bad = |what: String| {
            Err(Error::bad_file(format!(
                "function {fi} ('{}'): {what}",
                f.name
            )))
        };
        let nregs = f.num_registers;
        let reg_ok = |r: u32| r < nregs;
        let operand_ok = |o: &Operand| match o {
            Operand::Reg(r) => reg_ok(*r),
            Operand::Const(c) => (*c as usize) < graph.constants.len(),
            Operand::Weight(w) => (*w as usize) < graph.tensors.len(),
            Operand::State(k) => (*k as usize) < graph.states.len(),
        };
        if f.code.is_empty() {
            return bad("empty code".into());
        }
        if !f.params.iter().all(|&p| reg_ok(p)) {
            return bad("parameter register out of range".into());
        }
        if !matches!(
            f.code.last(),
            Some(Instr::Return { .. } | Instr::Jump { .. })
        ) {
            return bad("code does not end in Return".into());
        }
        for (pc, ins) in f.code.iter().enumerate() {
            let uses_ok = match ins {
                Instr::CallOp { args, .. } | Instr::CallFunction { args, .. } => {
                    args.iter().all(operand_ok)
                }
                Instr::BuildList { items, .. } | Instr::BuildTuple { items, .. } => {
                    items.iter().all(operand_ok)
                }
                Instr::Return { values } => values.iter().all(operand_ok),
                Instr::Move { src, .. } | Instr::Unpack { src, .. } => operand_ok(src),
                Instr::JumpIf { cond, .. } | Instr::JumpIfNot { cond, .. } => operand_ok(cond),
                Instr::LoadConst { index, .. } => (*index as usize) < graph.constants.len(),
                Instr::Jump { .. } => true,
            };
            let defs_ok = crate::planner::defs(ins).iter().all(|&r| reg_ok(r));
            let target_ok = match ins {
                Instr::Jump { target }
                | Instr::JumpIf { target, .. }
                | Instr::JumpIfNot { target, .. } => (*target as usize) < f.code.len(),
                _ => true,
            };
            let call_ok = match ins {
                Instr::CallOp { op, .. } => (*op as usize) < graph.ops.len(),
                Instr::CallFunction { function, args, .. } => graph
                    .functions
                    .get(*function as usize)
                    .is_some_and(|callee| callee.params.len() == args.len()),
                _ => true,
            };
            if !(uses_ok && defs_ok && target_ok && call_ok) {
                return bad(format!(
                    "instruction {pc} has an out-of-range index: {ins:?}"
                ));
            }
        }
    }
    Ok(())
}

impl Program {
    /// Assemble a program from a validated graph and a way to find each chunk's bytes.
    pub(crate) fn assemble(
        graph: Graph,
        ops: Vec<OpFn>,
        locate: &crate::weights::Locate<'_>,
    ) -> Result<Program> {
        validate(&graph)?;
        let constants = graph
            .constants
            .iter()
            .map(Value::from_const)
            .collect::<Result<Vec<_>>>()?;
        let weights = build_weights(&graph, locate)?;
        let weight_bytes = weights
            .iter()
            .map(|w| (w.numel() * w.dtype().size()) as u64)
            .sum();
        Ok(Program {
            graph,
            ops,
            constants,
            weights,
            weight_bytes,
        })
    }

    /// Load a model from its bytes: parse, check op support, then decode every weight chunk
    /// into the segmented, 64-byte-aligned arena (the bytes are not kept).
    pub fn from_bytes(bytes: &[u8]) -> Result<Program> {
        Program::from_bytes_with_limits(bytes, &Limits::default())
    }

    /// [`Program::from_bytes`] with explicit parser limits.
    pub fn from_bytes_with_limits(bytes: &[u8], limits: &Limits) -> Result<Program> {
        let graph = wasm_torch_format::parse_file(bytes, limits)?;
        let ops = resolve_ops(&graph)?;
        validate(&graph)?;
        let arena = ArenaSources::new(wasm_torch_format::decode_all(bytes, &graph, limits)?)?;
        Program::assemble(graph, ops, &|c| arena.locate(c))
    }

    /// Load a model from a file by memory-mapping it: stored (uncompressed) chunks are viewed
    /// in place from the mapping — no copy, pages load on first touch — and only zstd chunks
    /// are decoded into an arena.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn from_path(path: &std::path::Path) -> Result<Program> {
        crate::mmap::load_path(path)
    }

    /// The parsed graph.
    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    /// The model's inputs, in positional order.
    pub fn inputs(&self) -> &[ValueSpec] {
        &self.graph.signature.inputs
    }

    /// The model's outputs, in order.
    pub fn outputs(&self) -> &[ValueSpec] {
        &self.graph.signature.outputs
    }

    /// Total bytes of the (logical, dequantised) weights.
    pub fn weight_bytes(&self) -> u64 {
        self.weight_bytes
    }

    /// The weight tensors, in tensor-table order.
    pub fn weights(&self) -> &[Tensor] {
        &self.weights
    }
}

impl From<wasm_torch_format::FormatError> for Error {
    fn from(e: wasm_torch_format::FormatError) -> Error {
        let kind = match e.kind {
            wasm_torch_format::ErrorKind::Alloc => ErrorKind::OutOfMemory,
            _ => ErrorKind::BadFile,
        };
        Error::new(kind, e.to_string())
    }
}
