//! The in-memory model of a `.wtb` file.
//!
//! These types are the one contract shared by every layer: the packer writes them, the
//! parsers produce them, the interpreter executes them and the Python exporter fills them.
//! They describe the *graph* part of a file (everything before the first weight byte) plus
//! where each weight lives; weight bytes themselves are never held here (see
//! [`crate::model::ChunkInfo`] and the readers), so a parsed [`Graph`] stays small even for a
//! 2 GB model.
//!
//! Field order and meaning follow `format-spec/SPEC.md`; when you change one, change both.
//!
//! The derived `PartialEq` of the float-carrying types ([`ConstValue`], [`Quantization`],
//! [`TensorInfo`], [`Graph`]) compares floats as IEEE values (NaN != NaN, -0.0 == +0.0). To
//! check that two graphs hold the same file contents use [`crate::BitEq`], which compares
//! floats bit for bit; a new field or variant must be added to its impls too (they fail to
//! compile until it is).

/// Element types a tensor (logical or stored) can have. Codes are the on-disk byte values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum DType {
    /// IEEE 754 binary32.
    F32 = 1,
    /// IEEE 754 binary16.
    F16 = 2,
    /// bfloat16 (the upper half of an f32).
    BF16 = 3,
    /// IEEE 754 binary64.
    F64 = 4,
    /// Signed 64-bit integer.
    I64 = 5,
    /// Signed 32-bit integer.
    I32 = 6,
    /// Signed 16-bit integer.
    I16 = 7,
    /// Signed 8-bit integer.
    I8 = 8,
    /// Unsigned 8-bit integer.
    U8 = 9,
    /// Boolean stored as one byte, 0 or 1.
    Bool = 10,
    /// Complex number of two IEEE 754 binary32 values, real part first (numpy `<c8`,
    /// `torch.complex64`). Format 1.1.
    C64 = 11,
}

impl DType {
    /// Every dtype, in code order.
    pub const ALL: [DType; 11] = [
        DType::F32,
        DType::F16,
        DType::BF16,
        DType::F64,
        DType::I64,
        DType::I32,
        DType::I16,
        DType::I8,
        DType::U8,
        DType::Bool,
        DType::C64,
    ];

    /// Size of one element in bytes.
    pub fn size(self) -> usize {
        match self {
            DType::F64 | DType::I64 | DType::C64 => 8,
            DType::F32 | DType::I32 => 4,
            DType::F16 | DType::BF16 | DType::I16 => 2,
            DType::I8 | DType::U8 | DType::Bool => 1,
        }
    }

    /// The on-disk code.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// Decode an on-disk code; `None` for codes this version does not know.
    pub fn from_code(code: u8) -> Option<DType> {
        DType::ALL.iter().copied().find(|d| d.code() == code)
    }

    /// Lower-case name as used by numpy/PyTorch-style APIs ("f32", "i64", "bool", ...).
    pub fn name(self) -> &'static str {
        match self {
            DType::F32 => "f32",
            DType::F16 => "f16",
            DType::BF16 => "bf16",
            DType::F64 => "f64",
            DType::I64 => "i64",
            DType::I32 => "i32",
            DType::I16 => "i16",
            DType::I8 => "i8",
            DType::U8 => "u8",
            DType::Bool => "bool",
            DType::C64 => "c64",
        }
    }

    /// Parse a name produced by [`DType::name`].
    pub fn from_name(name: &str) -> Option<DType> {
        DType::ALL.iter().copied().find(|d| d.name() == name)
    }

    /// True for the complex types (only [`DType::C64`]).
    pub fn is_complex(self) -> bool {
        matches!(self, DType::C64)
    }

    /// True for the floating point types.
    pub fn is_float(self) -> bool {
        matches!(self, DType::F32 | DType::F16 | DType::BF16 | DType::F64)
    }
}

/// One dimension of a signature shape: a fixed size or a named symbolic size ("batch").
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Dim {
    /// A size known at export time.
    Fixed(u64),
    /// A size chosen by the caller at run time; equal names must have equal sizes.
    Symbolic(String),
}

/// A named input or output of the model's entry function.
#[derive(Clone, Debug, PartialEq)]
pub struct ValueSpec {
    /// Name the caller uses (`session.run({name: tensor})`).
    pub name: String,
    /// Element type.
    pub dtype: DType,
    /// Shape, possibly with symbolic dims.
    pub shape: Vec<Dim>,
}

/// `name: dtype[d0, d1, ...]`, symbolic dims by name: how error messages and tools show a
/// model's inputs and outputs.
impl std::fmt::Display for ValueSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}[", self.name, self.dtype.name())?;
        for (i, d) in self.shape.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            match d {
                Dim::Fixed(n) => write!(f, "{n}")?,
                Dim::Symbolic(name) => f.write_str(name)?,
            }
        }
        f.write_str("]")
    }
}

/// The model's calling convention.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Signature {
    /// Inputs, in positional order; they arrive in the entry function's first registers.
    pub inputs: Vec<ValueSpec>,
    /// Outputs, in the order the entry function returns them.
    pub outputs: Vec<ValueSpec>,
}

/// Free-form provenance information. Readers never need it to run a model.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Metadata {
    /// Tool that wrote the file, e.g. "wasm-torch-packer 0.1.0".
    pub producer: String,
    /// Version of the front end that produced the graph (the Python exporter).
    pub exporter_version: String,
    /// `torch.__version__` at export time, empty when unknown.
    pub torch_version: String,
    /// Human-readable model name.
    pub model_name: String,
    /// Anything else, in file order (keys need not be unique; readers keep the order).
    pub extra: Vec<(String, String)>,
}

/// A value baked into the file's constant pool: scalars, lists and small tensors.
#[derive(Clone, Debug, PartialEq)]
pub enum ConstValue {
    /// Python `None` / an absent optional argument.
    None,
    /// A boolean.
    Bool(bool),
    /// An integer (also used for dtype/layout/memory-format enums, with PyTorch's codes).
    Int(i64),
    /// A float.
    Float(f64),
    /// A string (e.g. `approximate="tanh"`, a device name).
    Str(String),
    /// A list of integers (shapes, strides, dims) — the common case, stored compactly.
    Ints(Vec<i64>),
    /// A list of floats.
    Floats(Vec<f64>),
    /// A heterogeneous list/tuple of constants (nested at most [`MAX_CONST_DEPTH`] deep).
    List(Vec<ConstValue>),
    /// A small tensor stored inline, contiguous row-major, little-endian.
    Tensor(InlineTensor),
}

/// Deepest nesting of [`ConstValue::List`] a reader accepts.
pub const MAX_CONST_DEPTH: usize = 16;

/// A small tensor embedded in the constant pool.
#[derive(Clone, Debug, PartialEq)]
pub struct InlineTensor {
    /// Element type.
    pub dtype: DType,
    /// Shape (row-major, contiguous).
    pub shape: Vec<u64>,
    /// `numel * dtype.size()` bytes, little-endian.
    pub data: Vec<u8>,
}

/// A register index inside one function's register file.
pub type Reg = u32;

/// Where an instruction argument comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Operand {
    /// A register of the current function.
    Reg(Reg),
    /// An entry of the constant pool.
    Const(u32),
    /// A tensor of the tensor table (a weight or buffer).
    Weight(u32),
    /// A session-state tensor (format 1.1, [`Graph::states`]): reading it yields the state's
    /// current value; an in-place op (`aten::index_copy_.default`, ...) whose first argument
    /// is a state operand writes into the session's state buffer.
    State(u32),
}

/// One bytecode instruction. Jump targets are instruction indices inside the same function.
#[derive(Clone, Debug, PartialEq)]
pub enum Instr {
    /// Call op-table entry `op` with positional `args` (the ATen schema's full argument list,
    /// defaults filled in) and write its results to `outputs` (one register per returned
    /// value; an op returning `Tensor[]` writes one list value).
    CallOp {
        /// Index into the op table.
        op: u32,
        /// Arguments in schema order.
        args: Vec<Operand>,
        /// Destination registers.
        outputs: Vec<Reg>,
    },
    /// `dst = constant_pool[index]`.
    LoadConst {
        /// Destination register.
        dst: Reg,
        /// Constant pool index.
        index: u32,
    },
    /// `dst = src` (values are immutable; this shares the value).
    Move {
        /// Destination register.
        dst: Reg,
        /// Source operand.
        src: Operand,
    },
    /// `dst = [items...]` (a list value).
    BuildList {
        /// Destination register.
        dst: Reg,
        /// Elements.
        items: Vec<Operand>,
    },
    /// `dst = (items...)` (a tuple value).
    BuildTuple {
        /// Destination register.
        dst: Reg,
        /// Elements.
        items: Vec<Operand>,
    },
    /// `dsts... = src` for a list or tuple with exactly `dsts.len()` elements.
    Unpack {
        /// The list or tuple.
        src: Operand,
        /// One register per element.
        dsts: Vec<Reg>,
    },
    /// Continue at instruction `target`.
    Jump {
        /// Instruction index.
        target: u32,
    },
    /// Continue at `target` when `cond` (a bool, int or one-element tensor) is true.
    JumpIf {
        /// The condition.
        cond: Operand,
        /// Instruction index.
        target: u32,
    },
    /// Continue at `target` when `cond` is false.
    JumpIfNot {
        /// The condition.
        cond: Operand,
        /// Instruction index.
        target: u32,
    },
    /// Call another function of the program; its results go to `outputs`.
    CallFunction {
        /// Function index.
        function: u32,
        /// Arguments, bound to the callee's parameter registers.
        args: Vec<Operand>,
        /// Destination registers.
        outputs: Vec<Reg>,
    },
    /// Return `values` from the current function.
    Return {
        /// Returned values.
        values: Vec<Operand>,
    },
}

/// A function: a register file and straight-line/branching code. Function 0 is the entry.
#[derive(Clone, Debug, PartialEq)]
pub struct Function {
    /// Name, for diagnostics ("forward").
    pub name: String,
    /// Number of registers; every register index used must be below it.
    pub num_registers: u32,
    /// Registers that receive the arguments, in order.
    pub params: Vec<Reg>,
    /// Optional debug names per register (empty or `num_registers` long; "" = unnamed).
    /// The exporter keeps PyTorch's node names here so `--trace` output can be diffed.
    pub register_names: Vec<String>,
    /// The code. Execution starts at index 0 and must end in [`Instr::Return`].
    pub code: Vec<Instr>,
}

/// How a stored tensor's values map to its logical values.
#[derive(Clone, Debug, PartialEq)]
pub enum Quantization {
    /// Stored values are the logical values (possibly in another float dtype, e.g. f16).
    None,
    /// `logical = (stored - zero_point) * scale` for every element.
    PerTensor {
        /// Scale.
        scale: f32,
        /// Zero point.
        zero_point: i32,
    },
    /// `logical[.., c, ..] = (stored[.., c, ..] - zero_points[c]) * scales[c]` along `axis`.
    PerChannel {
        /// The channel axis.
        axis: u32,
        /// One scale per channel.
        scales: Vec<f32>,
        /// One zero point per channel.
        zero_points: Vec<i32>,
    },
    /// Group-wise 4-bit codes along the last axis (GGUF Q4_0/Q4_1 style, SPEC.md §4.6.1):
    /// the stored bytes hold the packed codes, then one f16 scale per group, then (with
    /// `offsets`) one f16 offset per group. `logical = code · d + m` with `m = -8 · d` when
    /// there are no offsets.
    GroupInt4 {
        /// Consecutive elements of a row sharing one scale (a multiple of 32 in 32..=256
        /// that divides the last dimension).
        group: u32,
        /// Whether each group stores an f16 offset `m` (Q4_1) or uses `-8 · d` (Q4_0).
        offsets: bool,
    },
    /// Group-wise symmetric 8-bit codes along the last axis (GGUF Q8_0 style, SPEC.md
    /// §4.6.2): the stored bytes hold one signed byte per element, then one f16 scale per
    /// group. `logical = code · d`.
    GroupInt8 {
        /// Consecutive elements of a row sharing one scale (a multiple of 32 in 32..=256
        /// that divides the last dimension, as for [`Quantization::GroupInt4`]).
        group: u32,
    },
}

/// Smallest group-wise int4 group size ([`Quantization::GroupInt4`]).
pub const INT4_GROUP_MIN: u32 = 32;
/// Largest group-wise int4 group size.
pub const INT4_GROUP_MAX: u32 = 256;

impl Quantization {
    /// Stored bytes of a tensor of `shape` elements of `stored_dtype` under this
    /// quantization (`None` on overflow or when the group does not divide the last axis).
    pub fn stored_nbytes(&self, shape: &[u64], stored_dtype: DType) -> Option<u64> {
        let numel = shape.iter().try_fold(1u64, |a, &d| a.checked_mul(d))?;
        match self {
            Quantization::GroupInt4 { group, offsets } => {
                let (g, last) = (u64::from(*group), *shape.last()?);
                if g == 0 || last % g != 0 || g % 2 != 0 {
                    return None;
                }
                let groups = numel / g;
                let per_group = if *offsets { 4 } else { 2 };
                (numel / 2).checked_add(groups.checked_mul(per_group)?)
            }
            Quantization::GroupInt8 { group } => {
                let (g, last) = (u64::from(*group), *shape.last()?);
                if g == 0 || last % g != 0 {
                    return None;
                }
                numel.checked_add((numel / g).checked_mul(2)?)
            }
            _ => numel.checked_mul(stored_dtype.size() as u64),
        }
    }
}

/// Memory layout of a stored tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Layout {
    /// Row-major, contiguous (PyTorch's default).
    Contiguous = 0,
}

/// An entry of the tensor table: a named weight or buffer.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorInfo {
    /// Fully qualified name ("layer1.0.conv1.weight").
    pub name: String,
    /// Logical element type the graph sees.
    pub dtype: DType,
    /// Logical shape.
    pub shape: Vec<u64>,
    /// Memory layout of the stored bytes.
    pub layout: Layout,
    /// Element type of the stored bytes (f32, f16, i8, ...).
    pub stored_dtype: DType,
    /// How stored values turn into logical values.
    pub quantization: Quantization,
    /// Chunk holding the bytes.
    pub chunk: u32,
    /// Offset of the first byte inside the chunk's decompressed bytes (64-byte aligned).
    pub offset: u64,
    /// Byte length: `numel(shape) * stored_dtype.size()` (group-wise int4: see
    /// [`Quantization::stored_nbytes`]).
    pub nbytes: u64,
}

/// How a weight chunk is encoded in the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Codec {
    /// The bytes as they are.
    Stored = 0,
    /// One zstd frame.
    Zstd = 1,
}

/// An entry of the chunk index: one independently decodable piece of weight data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChunkInfo {
    /// Encoding.
    pub codec: Codec,
    /// Absolute offset of the encoded bytes in the file (64-byte aligned for stored chunks).
    pub file_offset: u64,
    /// Length of the encoded bytes in the file.
    pub stored_len: u64,
    /// Offset of the decoded bytes in the weight arena (64-byte aligned).
    pub arena_offset: u64,
    /// Length of the decoded bytes.
    pub decoded_len: u64,
    /// CRC-32 (IEEE) of the encoded bytes.
    pub crc32: u32,
}

/// Where a session-state tensor's initial value comes from (format 1.1, SPEC.md §4.8).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StateInit {
    /// All zero bytes (a KV cache): costs nothing in the file.
    Zeros,
    /// A copy of tensor-table entry `i` (same dtype and shape), for buffers whose initial
    /// value is not zero.
    Tensor(u32),
}

/// A session-state tensor: a buffer the graph updates in place, owned by each session,
/// initialised from the file and kept across runs (format 1.1, SPEC.md §4.8).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateInfo {
    /// Fully qualified buffer name ("model.layers.0.self_attn.k_cache").
    pub name: String,
    /// Element type.
    pub dtype: DType,
    /// Fixed shape (state never changes shape).
    pub shape: Vec<u64>,
    /// Initial value.
    pub init: StateInit,
}

/// What a scalar graph input holds (format 1.1, SPEC.md §4.9). Codes are the on-disk bytes.
///
/// TorchScript `int`/`float`/`bool` arguments and torch.export `SymInt`s reach the graph as
/// plain values (a loop's trip count, an op's scalar argument), not as tensors; the kind
/// tells a runtime which value to build from what the caller passed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ScalarKind {
    /// A signed 64-bit integer (Python `int`, `SymInt`).
    Int = 1,
    /// An IEEE binary64 float (Python `float`).
    Float = 2,
    /// A boolean.
    Bool = 3,
}

impl ScalarKind {
    /// Every kind, in code order.
    pub const ALL: [ScalarKind; 3] = [ScalarKind::Int, ScalarKind::Float, ScalarKind::Bool];

    /// The on-disk code.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// Decode an on-disk code; `None` for codes this version does not know.
    pub fn from_code(code: u8) -> Option<ScalarKind> {
        ScalarKind::ALL.iter().copied().find(|k| k.code() == code)
    }

    /// The dtype of the input's signature entry (which is rank 0): `i64`, `f64` or `bool`.
    pub fn dtype(self) -> DType {
        match self {
            ScalarKind::Int => DType::I64,
            ScalarKind::Float => DType::F64,
            ScalarKind::Bool => DType::Bool,
        }
    }

    /// Python's name for the kind: "int", "float", "bool".
    pub fn name(self) -> &'static str {
        match self {
            ScalarKind::Int => "int",
            ScalarKind::Float => "float",
            ScalarKind::Bool => "bool",
        }
    }
}

/// A scalar value: the default of a scalar input.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scalar {
    /// An integer.
    Int(i64),
    /// A float (kept bit for bit).
    Float(f64),
    /// A boolean.
    Bool(bool),
}

impl Scalar {
    /// The kind of this value.
    pub fn kind(self) -> ScalarKind {
        match self {
            Scalar::Int(_) => ScalarKind::Int,
            Scalar::Float(_) => ScalarKind::Float,
            Scalar::Bool(_) => ScalarKind::Bool,
        }
    }
}

/// A graph input that is a scalar rather than a tensor, with its default (format 1.1,
/// SPEC.md §4.9). Inputs not listed in [`Graph::scalar_inputs`] are tensors.
#[derive(Clone, Debug, PartialEq)]
pub struct ScalarInput {
    /// Index into [`Signature::inputs`]; that entry is rank 0 with dtype [`ScalarKind::dtype`].
    pub input: u32,
    /// What the input holds.
    pub kind: ScalarKind,
    /// The value used when the caller omits the input (Python's argument default).
    pub default: Option<Scalar>,
    /// The graph was specialized to `default` (a traced or torch.export-baked argument): a
    /// runtime refuses any other value. Only meaningful with a default.
    pub fixed: bool,
}

/// Everything in a `.wtb` file before the first weight byte, parsed and validated.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Graph {
    /// Format version the file declared (major, minor).
    pub version: (u16, u16),
    /// Provenance.
    pub metadata: Metadata,
    /// Inputs and outputs.
    pub signature: Signature,
    /// Fully qualified op names with overload ("aten::conv2d.default").
    pub ops: Vec<String>,
    /// Bytecode functions; index 0 is the entry point.
    pub functions: Vec<Function>,
    /// The constant pool.
    pub constants: Vec<ConstValue>,
    /// Weights and buffers.
    pub tensors: Vec<TensorInfo>,
    /// Weight chunks, in file order.
    pub chunks: Vec<ChunkInfo>,
    /// Total size of the weight arena (sum of chunk slots incl. alignment padding).
    pub arena_size: u64,
    /// Session-state tensors (format 1.1; empty in 1.0 files).
    pub states: Vec<StateInfo>,
    /// Inputs that are scalars, by increasing input index (format 1.1; empty in 1.0 files
    /// and in files whose inputs are all tensors).
    pub scalar_inputs: Vec<ScalarInput>,

    /// Named byte blobs shipped with the model (format 1.1, section 10; empty when absent).
    /// Unlike weights they are held here: they are small (bounded by
    /// [`crate::Limits::max_asset_bytes`]) and read as a whole (a tokenizer, a config).
    pub assets: Vec<Asset>,
}

/// A named byte blob a model ships with (SPEC.md §4.10): a tokenizer, a generation config.
/// The format does not interpret the bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct Asset {
    /// Unique, non-empty name ("tokenizer.json").
    pub name: String,
    /// The bytes, as written.
    pub data: Vec<u8>,
}

impl std::fmt::Debug for Asset {
    /// Name and size only: an asset can be megabytes, and graphs are printed in test failures.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Asset({:?}, {} bytes)", self.name, self.data.len())
    }
}
