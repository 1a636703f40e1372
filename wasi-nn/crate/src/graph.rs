//! The WIT `graph` interface: [`load`] a `.wtb` into a [`Graph`], [`GraphRegistry`] for
//! `load-by-name`, and the encoding/target enums.

use std::collections::HashMap;
use std::sync::Arc;

use wasm_torch_format::MAGIC;
use wasm_torch_interp::Program;

use crate::error::{Error, ErrorCode, Result};
use crate::inference::GraphExecutionContext;

/// The WIT `graph-encoding` enum, in WIT declaration order. wasm-torch reads
/// [`GraphEncoding::Pytorch`] (a `.wtb` exported from PyTorch) and [`GraphEncoding::Autodetect`]
/// (recognised by the `.wtb` magic); every other encoding is `InvalidEncoding`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GraphEncoding {
    /// OpenVINO IR (not supported).
    Openvino,
    /// ONNX (not supported).
    Onnx,
    /// TensorFlow (not supported).
    Tensorflow,
    /// PyTorch, as a wasm-torch `.wtb` file.
    Pytorch,
    /// TensorFlow Lite (not supported).
    Tensorflowlite,
    /// GGML (not supported).
    Ggml,
    /// Let the backend decide: accepted when the bytes are a `.wtb` file.
    Autodetect,
}

/// The WIT `execution-target` enum. Only [`ExecutionTarget::Cpu`] exists in wasm-torch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ExecutionTarget {
    /// The CPU (the interpreter).
    Cpu,
    /// A GPU (not supported: `UnsupportedOperation`).
    Gpu,
    /// A TPU (not supported: `UnsupportedOperation`).
    Tpu,
}

/// A loaded graph (WIT `graph` resource): the validated program, shared by its contexts.
#[derive(Clone, Debug)]
pub struct Graph {
    program: Arc<Program>,
}

impl Graph {
    /// A new execution context (WIT `graph.init-execution-context`).
    pub fn init_execution_context(&self) -> Result<GraphExecutionContext> {
        GraphExecutionContext::new(Arc::clone(&self.program))
    }

    /// The interpreter program behind this graph (its signature names the inputs/outputs).
    pub fn program(&self) -> &Arc<Program> {
        &self.program
    }

    /// Wrap an already loaded program.
    pub fn from_program(program: Arc<Program>) -> Graph {
        Graph { program }
    }
}

/// Load a graph (WIT `load`).
///
/// `builders` must hold exactly one element, the whole `.wtb` file (the WIT type is a list
/// because other encodings split a model over several files). Errors: an encoding other than
/// `Pytorch`/`Autodetect`, or bytes without the `.wtb` magic → `InvalidEncoding`; a target other
/// than the CPU → `UnsupportedOperation`; zero or several builders, or a corrupt file →
/// `InvalidArgument`; ops the interpreter lacks → `UnsupportedOperation`; weights beyond the
/// memory limits → `TooLarge`.
pub fn load(builders: &[&[u8]], encoding: GraphEncoding, target: ExecutionTarget) -> Result<Graph> {
    if !matches!(encoding, GraphEncoding::Pytorch | GraphEncoding::Autodetect) {
        return Err(Error::new(
            ErrorCode::InvalidEncoding,
            format!("graph encoding {encoding:?} is not supported; wasm-torch reads .wtb files as Pytorch or Autodetect"),
        ));
    }
    if target != ExecutionTarget::Cpu {
        return Err(Error::new(
            ErrorCode::UnsupportedOperation,
            format!(
                "execution target {target:?} is not available; wasm-torch runs on the CPU only"
            ),
        ));
    }
    let bytes = match builders {
        [one] => *one,
        _ => {
            return Err(Error::invalid_argument(format!(
                "expected exactly one graph builder (the .wtb file), got {}",
                builders.len()
            )))
        }
    };
    if !bytes.starts_with(&MAGIC) {
        return Err(Error::new(
            ErrorCode::InvalidEncoding,
            "the graph bytes are not a .wtb file (magic missing)",
        ));
    }
    let program = Program::from_bytes(bytes)?;
    Ok(Graph {
        program: Arc::new(program),
    })
}

/// Graphs a host preloads under names, for WIT `load-by-name`.
#[derive(Clone, Debug, Default)]
pub struct GraphRegistry {
    graphs: HashMap<String, Graph>,
}

impl GraphRegistry {
    /// An empty registry.
    pub fn new() -> GraphRegistry {
        GraphRegistry::default()
    }

    /// Register (or replace) `graph` under `name`.
    pub fn insert(&mut self, name: impl Into<String>, graph: Graph) {
        self.graphs.insert(name.into(), graph);
    }

    /// The graph registered under `name` (WIT `load-by-name`); `NotFound` otherwise.
    pub fn load_by_name(&self, name: &str) -> Result<Graph> {
        self.graphs.get(name).cloned().ok_or_else(|| {
            let mut known: Vec<&str> = self.graphs.keys().map(String::as_str).collect();
            known.sort_unstable();
            Error::not_found(format!("no graph named '{name}' (registered: {known:?})"))
        })
    }
}
