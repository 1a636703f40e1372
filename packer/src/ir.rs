//! The packer's input: a model in memory, as the Python exporter (via pyo3) or a test builds it.

use wasm_torch_format::{
    Asset, ConstValue, DType, FormatError, Function, Metadata, ScalarInput, Signature, StateInfo,
};

/// A whole model before packing.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct ModelIr {
    /// Provenance.
    pub metadata: Metadata,
    /// Inputs and outputs.
    pub signature: Signature,
    /// Op table (fully qualified names with overload).
    pub ops: Vec<String>,
    /// Functions; 0 is the entry. `Operand::Weight(i)` refers to `weights[i]`.
    pub functions: Vec<Function>,
    /// Constant pool.
    pub constants: Vec<ConstValue>,
    /// Weights and buffers, in tensor-table order.
    pub weights: Vec<WeightIr>,
    /// Session-state tensors (format 1.1): `Operand::State(i)` refers to `states[i]`;
    /// `StateInit::Tensor(j)` takes its initial value from `weights[j]`. Empty for stateless
    /// models, which are then written as format 1.0.
    pub states: Vec<StateInfo>,
    /// Inputs that are int/float/bool scalars, with their defaults (format 1.1), by
    /// increasing input index. Empty when every input is a tensor (the file may then be 1.0).
    pub scalar_inputs: Vec<ScalarInput>,

    /// Named byte blobs shipped with the model (a tokenizer, a generation config; format 1.1
    /// section 10). Names are unique and non-empty. Empty: no section, the file is as before.
    pub assets: Vec<Asset>,
}

/// One weight or buffer with its logical values.
#[derive(Clone, Debug, PartialEq)]
pub struct WeightIr {
    /// Fully qualified name.
    pub name: String,
    /// Logical dtype.
    pub dtype: DType,
    /// Logical shape.
    pub shape: Vec<u64>,
    /// Logical values, contiguous row-major little-endian (`numel * dtype.size()` bytes).
    pub data: Vec<u8>,
    /// How to store it.
    pub encoding: WeightEncoding,
}

/// How a weight is stored in the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WeightEncoding {
    /// As its logical dtype, bit for bit.
    AsIs,
    /// f32 stored as IEEE f16 (round to nearest even).
    F16,
    /// f32 stored as symmetric int8 with one scale: `q = round(x / s)`, `s = max|x| / 127`,
    /// zero point 0.
    Int8PerTensor,
    /// f32 stored as symmetric int8 with one scale per index along `axis`.
    Int8PerChannel {
        /// The channel axis (e.g. 0 for conv/linear output channels).
        axis: u32,
    },
    /// f32 quantized by the packer to group-wise int4 along the last axis (SPEC.md §4.6.1).
    Int4 {
        /// Elements per group (a multiple of 32 in 32..=256 dividing the last dimension).
        group: u32,
        /// Store an f16 offset per group (Q4_1 style) rather than `−8 · scale` (Q4_0).
        offsets: bool,
    },
    /// Already-quantized group-wise int4: `data` holds the *stored* bytes (codes, f16
    /// scales, f16 offsets), e.g. GGUF Q4_1 blocks taken as they are; the logical dtype is
    /// f32.
    Int4Stored {
        /// Elements per group.
        group: u32,
        /// Whether the bytes carry f16 offsets.
        offsets: bool,
    },
    /// Already-quantized symmetric int8 with one scale per index along `axis` (a model
    /// quantized in PyTorch: `torch.ao` dynamic Linear, torchao int8 weights): `data` holds
    /// the int8 codes (`numel` bytes, row-major) then one little-endian f32 scale per
    /// channel, stored as they are; the logical dtype is f32 (`code · scale`).
    Int8Stored {
        /// The channel axis the scales run along.
        axis: u32,
    },
    /// f32 quantized by the packer to group-wise symmetric int8 along the last axis
    /// (SPEC.md §4.6.2; GGUF Q8_0's scheme at group 32).
    Int8Group {
        /// Elements per group (a multiple of 32 in 32..=256 dividing the last dimension).
        group: u32,
    },
    /// Already-quantized group-wise int8: `data` holds the *stored* bytes (int8 codes, then
    /// f16 scales), e.g. GGUF Q8_0 blocks taken as they are; the logical dtype is f32.
    Int8GroupStored {
        /// Elements per group.
        group: u32,
    },
}

/// Whether chunks are zstd-compressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    /// Compress a chunk only when zstd saves at least 10% of its bytes.
    Auto,
    /// Store every chunk as is (loads fastest; natively viewed in place from a mapping).
    Never,
    /// Compress every chunk.
    Always,
}

/// Packing options.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PackOptions {
    /// Target decoded size of a chunk; a larger tensor gets a chunk of its own.
    pub chunk_target: usize,
    /// Compression policy.
    pub compression: Compression,
    /// zstd level (1..=22; 3 is zstd's default).
    pub zstd_level: i32,
}

impl Default for PackOptions {
    fn default() -> Self {
        PackOptions {
            chunk_target: 4 << 20,
            compression: Compression::Auto,
            zstd_level: 3,
        }
    }
}

/// Why packing failed.
#[derive(Debug, thiserror::Error)]
pub enum PackError {
    /// A weight's data does not match its dtype/shape or its encoding.
    #[error("weight {name:?}: {reason}")]
    Weight {
        /// Weight name.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// zstd failed.
    #[error("zstd: {0}")]
    Compress(String),
    /// The assembled file does not validate (e.g. an instruction indexes a missing register).
    #[error("the model is not valid: {0}")]
    Invalid(#[from] FormatError),
}
