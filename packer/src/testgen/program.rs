//! Random *runnable* programs for fuzzing the interpreter's ops: real op names, well-formed
//! but hostile arguments (sizes of zero, negative or enormous dims, NaN and infinite floats,
//! empty and mismatched tensors, strings from the schema vocabulary), and input tensors to run
//! them on.
//!
//! The model-level generator ([`super::model`]) exercises the parser and packer with arbitrary
//! op names that no interpreter implements; this one draws op names from a list the caller
//! passes (the interpreter's registry), so a packed program loads and its ops actually run.
//! Everything is derived from the input bytes, so a fuzzer's mutations steer the op choice
//! and the argument values, and a failing case replays from its bytes.

use super::Bytes;
use crate::ir::ModelIr;
use wasm_torch_format::{
    ConstValue, DType, Dim, Function, InlineTensor, Instr, Metadata, Operand, Signature, ValueSpec,
};

/// Integers an op argument may take: the ordinary small values and the values that break size
/// arithmetic (negative, `i32`/`i64` extremes, powers of two past any real size).
const INTS: [i64; 14] = [
    0,
    1,
    2,
    3,
    -1,
    -2,
    4,
    7,
    64,
    i32::MAX as i64,
    1 << 40,
    i64::MAX,
    i64::MIN,
    -(1 << 33),
];

/// Floats an op argument or a tensor element may take.
const FLOATS: [f64; 12] = [
    0.0,
    1.0,
    -1.0,
    0.5,
    2.0,
    -0.0,
    1e-30,
    1e30,
    f64::NAN,
    f64::INFINITY,
    f64::NEG_INFINITY,
    3.0,
];

/// Strings the ATen schemas take (reductions, padding and interpolation modes, approximations,
/// rounding modes, einsum equations), plus junk.
const STRINGS: [&str; 12] = [
    "mean",
    "sum",
    "none",
    "tanh",
    "reflect",
    "bilinear",
    "floor",
    "trunc",
    "ij,jk->ik",
    "",
    "é",
    "left",
];

/// Element types of generated tensors: mostly f32 (what models use), all kinds sometimes.
fn tensor_dtype(b: &mut Bytes<'_>) -> DType {
    match b.below(8) {
        0..=3 => DType::F32,
        4 => DType::I64,
        5 => DType::Bool,
        _ => DType::ALL[b.below(DType::ALL.len())],
    }
}

/// A small shape (rank 0-4, dims 0-5) so the ops' outputs stay small unless an argument asks
/// for a huge one.
fn small_shape(b: &mut Bytes<'_>) -> Vec<u64> {
    (0..b.below(5)).map(|_| b.below(6) as u64).collect()
}

/// Little-endian element bytes for `n` elements of `dtype`, drawn from the value pools.
fn elements(b: &mut Bytes<'_>, dtype: DType, n: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(n * dtype.size());
    for _ in 0..n {
        let f = FLOATS[b.below(FLOATS.len())];
        let i = if b.byte() & 3 == 0 {
            INTS[b.below(INTS.len())]
        } else {
            b.below(5) as i64 - 1
        };
        match dtype {
            DType::F32 => out.extend_from_slice(&(f as f32).to_le_bytes()),
            DType::F64 => out.extend_from_slice(&f.to_le_bytes()),
            DType::F16 => out.extend_from_slice(&half::f16::from_f64(f).to_le_bytes()),
            DType::BF16 => out.extend_from_slice(&half::bf16::from_f64(f).to_le_bytes()),
            DType::I64 => out.extend_from_slice(&i.to_le_bytes()),
            DType::I32 => out.extend_from_slice(&(i as i32).to_le_bytes()),
            DType::I16 => out.extend_from_slice(&(i as i16).to_le_bytes()),
            DType::I8 => out.push(i as i8 as u8),
            DType::U8 => out.push(i as u8),
            DType::Bool => out.push((i & 1) as u8),
            DType::C64 => {
                out.extend_from_slice(&(f as f32).to_le_bytes());
                out.extend_from_slice(&(i as f32).to_le_bytes());
            }
        }
    }
    out
}

/// One input tensor of a generated case.
#[derive(Clone, Debug, PartialEq)]
pub struct InputTensor {
    /// Element type.
    pub dtype: DType,
    /// Shape.
    pub shape: Vec<u64>,
    /// `numel * dtype.size()` little-endian bytes.
    pub data: Vec<u8>,
}

/// A generated program and the inputs to run it on.
#[derive(Clone, Debug, PartialEq)]
pub struct OpProgram {
    /// The model: one function calling one to three ops.
    pub ir: ModelIr,
    /// One tensor per signature input, in order.
    pub inputs: Vec<InputTensor>,
}

fn constant(b: &mut Bytes<'_>) -> ConstValue {
    match b.below(10) {
        0 => ConstValue::None,
        1 => ConstValue::Bool(b.byte() & 1 == 1),
        2 | 3 => ConstValue::Int(INTS[b.below(INTS.len())]),
        4 => ConstValue::Float(FLOATS[b.below(FLOATS.len())]),
        5 => ConstValue::Str(STRINGS[b.below(STRINGS.len())].to_string()),
        6 | 7 => ConstValue::Ints(
            (0..b.below(5))
                .map(|_| {
                    if b.byte() & 1 == 0 {
                        b.below(4) as i64
                    } else {
                        INTS[b.below(INTS.len())]
                    }
                })
                .collect(),
        ),
        8 => ConstValue::Floats(
            (0..b.below(4))
                .map(|_| FLOATS[b.below(FLOATS.len())])
                .collect(),
        ),
        _ => {
            let dtype = tensor_dtype(b);
            let shape = small_shape(b);
            let n = shape.iter().product::<u64>() as usize;
            let data = elements(b, dtype, n);
            ConstValue::Tensor(InlineTensor { dtype, shape, data })
        }
    }
}

/// Build a runnable program from `data`, calling ops drawn from `op_names` (which must not be
/// empty). Each op gets 0-9 arguments: registers holding the inputs or earlier results,
/// lists of those, or constants from the hostile pools.
pub fn op_program(data: &[u8], op_names: &[&str]) -> OpProgram {
    assert!(
        !op_names.is_empty(),
        "op_program needs at least one op name"
    );
    let b = &mut Bytes::new(data);
    let inputs: Vec<InputTensor> = (0..1 + b.below(3))
        .map(|_| {
            let dtype = tensor_dtype(b);
            let shape = small_shape(b);
            let n = shape.iter().product::<u64>() as usize;
            let data = elements(b, dtype, n);
            InputTensor { dtype, shape, data }
        })
        .collect();
    let ncalls = 1 + b.below(3);
    let ops: Vec<String> = (0..ncalls)
        .map(|_| op_names[b.below(op_names.len())].to_string())
        .collect();

    // Registers: the inputs first, then each call's (up to two) results, then list scratch.
    let nin = inputs.len() as u32;
    let mut next_reg = nin;
    let mut live: Vec<u32> = (0..nin).collect();
    let mut constants: Vec<ConstValue> = Vec::new();
    let mut code = Vec::new();
    for op in 0..ncalls as u32 {
        let nargs = b.below(10);
        let mut args = Vec::with_capacity(nargs);
        for _ in 0..nargs {
            match b.below(6) {
                0 | 1 => args.push(Operand::Reg(live[b.below(live.len())])),
                2 => {
                    let dst = next_reg;
                    next_reg += 1;
                    let items = (0..b.below(4))
                        .map(|_| Operand::Reg(live[b.below(live.len())]))
                        .collect();
                    code.push(Instr::BuildList { dst, items });
                    args.push(Operand::Reg(dst));
                }
                _ => {
                    constants.push(constant(b));
                    args.push(Operand::Const(constants.len() as u32 - 1));
                }
            }
        }
        let outputs: Vec<u32> = (0..1 + b.below(2))
            .map(|_| {
                next_reg += 1;
                next_reg - 1
            })
            .collect();
        live.extend(&outputs);
        code.push(Instr::CallOp { op, args, outputs });
    }
    let result = *live.last().expect("at least one register");
    code.push(Instr::Return {
        values: vec![Operand::Reg(result)],
    });

    let spec = |name: String, t: &InputTensor| ValueSpec {
        name,
        dtype: t.dtype,
        shape: t.shape.iter().map(|&d| Dim::Fixed(d)).collect(),
    };
    let signature = Signature {
        inputs: inputs
            .iter()
            .enumerate()
            .map(|(i, t)| spec(format!("x{i}"), t))
            .collect(),
        // The result's type is whatever the last op makes; a symbolic-rank-free spec would
        // need the op's semantics, so the output is declared as an f32 with no fixed shape
        // and a mismatch is one more error path the run may take.
        outputs: vec![ValueSpec {
            name: "y".into(),
            dtype: DType::F32,
            shape: vec![Dim::Symbolic("n".into())],
        }],
    };
    let ir = ModelIr {
        metadata: Metadata {
            producer: "testgen::op_program".into(),
            ..Metadata::default()
        },
        signature,
        ops,
        functions: vec![Function {
            name: "forward".into(),
            num_registers: next_reg,
            params: (0..nin).collect(),
            register_names: Vec::new(),
            code,
        }],
        constants,
        ..ModelIr::default()
    };
    OpProgram { ir, inputs }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{pack, PackOptions};

    /// Every generated program packs, and its op table holds only the names it was given.
    #[test]
    fn generated_programs_pack() {
        let names = [
            "aten::add.Tensor",
            "aten::cat.default",
            "aten::zeros.default",
        ];
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..500 {
            let data: Vec<u8> = (0..256)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    seed as u8
                })
                .collect();
            let case = op_program(&data, &names);
            assert!(case.ir.ops.iter().all(|o| names.contains(&o.as_str())));
            assert_eq!(case.inputs.len(), case.ir.signature.inputs.len());
            pack(&case.ir, &PackOptions::default()).expect("generated programs are valid");
        }
    }
}
