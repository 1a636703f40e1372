//! [`Program`]: a parsed, validated model with its ops resolved and its weights in place.
//!
//! Like ExecuTorch's `Program`, it is immutable and shareable (`Send + Sync`, hold it in an
//! `Arc`); executable state (memory plan, scratch, profiling) lives in a
//! [`crate::Session`]. Loading validates everything once, before any weight byte is touched:
//! the format's parser checks the file and graph (`wasm_torch_format::validate`), and the
//! interpreter adds what only it knows, that every op the bytecode calls is implemented
//! (`resolve_ops`). Running never re-checks indices.

use std::collections::BTreeMap;

use wasm_torch_format::model::{Graph, Instr, ValueSpec};
use wasm_torch_format::Limits;

use crate::error::{Error, ErrorKind, Result};
use crate::ops::fft::{complex_call, ComplexCall};
use crate::ops::registry::lookup;
use crate::ops::{OpCtx, OpFn};
use crate::tensor::Tensor;
use crate::value::Value;
use crate::weights::{build_weights, ArenaSources};

/// A loaded model: graph, resolved op table, constants and weights.
pub struct Program {
    pub(crate) graph: Graph,
    pub(crate) ops: Vec<OpFn>,
    /// Per op-table entry: what a call with a complex operand runs (see `ops::fft`).
    pub(crate) complex: Vec<ComplexCall>,
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

impl Program {
    /// Assemble a program from a graph the format has validated (`parse_file` and the
    /// streaming parser run `wasm_torch_format::validate`: every index in range, jumps inside
    /// their function, the entry matching the signature) and a way to find each chunk's
    /// bytes.
    pub(crate) fn assemble(
        graph: Graph,
        ops: Vec<OpFn>,
        locate: &crate::weights::Locate<'_>,
        prebuilt: Vec<Option<Tensor>>,
    ) -> Result<Program> {
        let constants = graph
            .constants
            .iter()
            .map(Value::from_const)
            .collect::<Result<Vec<_>>>()?;
        let weights = build_weights(&graph, locate, prebuilt)?;
        let weight_bytes = weights
            .iter()
            .map(|w| (w.numel() * w.dtype().size()) as u64)
            .sum();
        let complex = graph.ops.iter().map(|n| complex_call(n)).collect();
        Ok(Program {
            graph,
            ops,
            complex,
            constants,
            weights,
            weight_bytes,
        })
    }

    /// The program of `graph` before any weight arrived (no weight tensors): what a run
    /// that starts while the weights stream in executes, reading the weights from the
    /// loader's table instead.
    pub(crate) fn without_weights(graph: &Graph, ops: Vec<OpFn>) -> Result<Program> {
        let constants = graph
            .constants
            .iter()
            .map(Value::from_const)
            .collect::<Result<Vec<_>>>()?;
        Ok(Program {
            graph: graph.clone(),
            ops,
            complex: graph.ops.iter().map(|n| complex_call(n)).collect(),
            constants,
            weights: Vec::new(),
            weight_bytes: 0,
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
        let arena = ArenaSources::new(wasm_torch_format::decode_all(bytes, &graph, limits)?)?;
        Program::assemble(graph, ops, &|c| arena.locate(c), Vec::new())
    }

    /// Load a model from a file by memory-mapping it: stored (uncompressed) chunks are viewed
    /// in place from the mapping — no copy, pages load on first touch — and only zstd chunks
    /// are decoded into an arena.
    #[cfg(not(target_family = "wasm"))]
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

    /// The inputs that are int/float/bool scalars (format 1.1), with their defaults; every
    /// other input is a tensor.
    pub fn scalar_inputs(&self) -> &[wasm_torch_format::model::ScalarInput] {
        &self.graph.scalar_inputs
    }

    /// The model's outputs, in order.
    pub fn outputs(&self) -> &[ValueSpec] {
        &self.graph.signature.outputs
    }

    /// Total bytes of the (logical, dequantised) weights.
    pub fn weight_bytes(&self) -> u64 {
        self.weight_bytes
    }

    /// Bytes the weights occupy in memory as the interpreter holds them: a resident
    /// quantized weight counts its quantized (packed) size plus the f32 copy an op may have
    /// forced, every other weight its element count × dtype size (shared storage once).
    /// Session packing caches are not included. Compare with [`Program::weight_bytes`],
    /// the f32 size.
    pub fn resident_weight_bytes(&self) -> u64 {
        crate::quant_weights::resident_bytes(&self.weights)
    }

    /// The weight tensors, in tensor-table order.
    pub fn weights(&self) -> &[Tensor] {
        &self.weights
    }

    /// The bytes of the asset named `name` (format 1.1: a tokenizer, a generation config the
    /// model ships with), or `None` when the file has no such asset.
    pub fn asset(&self, name: &str) -> Option<&[u8]> {
        self.graph
            .assets
            .iter()
            .find(|a| a.name == name)
            .map(|a| a.data.as_slice())
    }

    /// The names of the file's assets, in file order (empty when it has none).
    pub fn asset_names(&self) -> Vec<&str> {
        self.graph.assets.iter().map(|a| a.name.as_str()).collect()
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
