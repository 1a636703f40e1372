//! The test model shared by the crate's tests and `examples/make_fixture.rs` (which writes it
//! for the JavaScript host tests): `y = relu(x * w + b)`, `z = x * w` with `x: f32[batch, 4]`
//! and fixed weights, so the expected outputs are computed here by a plain loop, independently
//! of the interpreter.

use wasm_torch_format::{
    ConstValue, DType, Dim, Function, Instr, Metadata, Operand, Signature, ValueSpec,
};
use wasm_torch_packer::{pack, ModelIr, PackOptions, WeightEncoding, WeightIr};

/// The per-feature scale `w`.
pub const W: [f32; 4] = [0.5, -1.0, 2.0, 0.25];
/// The per-feature bias `b`.
pub const B: [f32; 4] = [0.1, 0.2, -3.0, 0.4];

fn weight(name: &str, values: &[f32]) -> WeightIr {
    WeightIr {
        name: name.into(),
        dtype: DType::F32,
        shape: vec![values.len() as u64],
        data: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        encoding: WeightEncoding::AsIs,
    }
}

fn spec(name: &str) -> ValueSpec {
    ValueSpec {
        name: name.into(),
        dtype: DType::F32,
        shape: vec![Dim::Symbolic("batch".into()), Dim::Fixed(4)],
    }
}

/// The `.wtb` bytes of the model.
pub fn model_bytes() -> Vec<u8> {
    model_bytes_with_relu("aten::relu.default")
}

/// The model with its relu op-table entry named `relu` (an unknown name gives a model the
/// interpreter must refuse as unsupported).
pub fn model_bytes_with_relu(relu: &str) -> Vec<u8> {
    model_bytes_with(relu, &W)
}

/// The model with a scale `w` of the wrong length: it loads (the file is valid) but the
/// multiplication cannot broadcast `[batch, 4]` with `[3]`, so running it is a runtime error.
pub fn runtime_error_model_bytes() -> Vec<u8> {
    model_bytes_with("aten::relu.default", &W[..3])
}

fn model_bytes_with(relu: &str, w: &[f32]) -> Vec<u8> {
    let ir = ModelIr {
        metadata: Metadata {
            producer: "wasm-torch-wasi-nn fixture".into(),
            model_name: "scale_bias_relu".into(),
            ..Metadata::default()
        },
        signature: Signature {
            inputs: vec![spec("x")],
            outputs: vec![spec("y"), spec("z")],
        },
        ops: vec![
            "aten::mul.Tensor".into(),
            "aten::add.Tensor".into(),
            relu.into(),
        ],
        functions: vec![Function {
            name: "forward".into(),
            num_registers: 4,
            params: vec![0],
            register_names: vec![],
            code: vec![
                Instr::CallOp {
                    op: 0,
                    args: vec![Operand::Reg(0), Operand::Weight(0)],
                    outputs: vec![1],
                },
                Instr::CallOp {
                    op: 1,
                    args: vec![Operand::Reg(1), Operand::Weight(1), Operand::Const(0)],
                    outputs: vec![2],
                },
                Instr::CallOp {
                    op: 2,
                    args: vec![Operand::Reg(2)],
                    outputs: vec![3],
                },
                Instr::Return {
                    values: vec![Operand::Reg(3), Operand::Reg(1)],
                },
            ],
        }],
        constants: vec![ConstValue::Int(1)],
        weights: vec![weight("w", w), weight("b", &B)],
        states: vec![],
    };
    pack(&ir, &PackOptions::default()).expect("the fixture model packs")
}

/// A deterministic input of `batch` rows with positive and negative values.
pub fn input(batch: usize) -> Vec<f32> {
    (0..batch * 4).map(|i| (i as f32 - 3.5) * 0.75).collect()
}

/// `(y, z)` for `x`, computed directly.
pub fn expected(x: &[f32]) -> (Vec<f32>, Vec<f32>) {
    let z: Vec<f32> = x.iter().enumerate().map(|(i, v)| v * W[i % 4]).collect();
    let y = z
        .iter()
        .enumerate()
        .map(|(i, v)| (v + B[i % 4]).max(0.0))
        .collect();
    (y, z)
}
