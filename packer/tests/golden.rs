//! Produces the golden files checked in under `format-spec/tests/golden/` and checks the
//! packer still writes them byte for byte. Regenerate (only for a deliberate format change,
//! which also needs a new minor/major) with `WTB_REGEN_GOLDEN=1 cargo test -p
//! wasm-torch-packer --test golden`.

use std::path::PathBuf;
use wasm_torch_format::*;
use wasm_torch_packer::*;
use wasm_torch_test_support::{f32_bytes, fixed, sym, ModelBuilder};

/// `y = relu(linear(x, W, b))` with x: f32[batch, 3], W: f32[2, 3], b: f32[2]. The worked
/// example of SPEC.md.
fn tiny() -> ModelIr {
    let mut m = ModelBuilder::new("tiny").producer("wasm-torch-packer");
    let x = m.input("x", DType::F32, vec![sym("batch"), fixed(3)]);
    let w = m.weight_f32("fc.weight", &[2, 3], &[0.5, 1.0, 1.5, -0.5, -1.0, -1.5]);
    let b = m.weight_f32("fc.bias", &[2], &[0.25, -0.25]);
    let lin = m.call("aten::linear.default", &[x, w, b]);
    let y = m.call("aten::relu.default", &[lin]);
    m.output("y", DType::F32, vec![sym("batch"), fixed(2)], y);
    m.build()
}

/// Every instruction, constant kind, dtype encoding and both codecs.
fn kitchen_sink() -> ModelIr {
    let mut ir = tiny();
    ir.metadata.model_name = "kitchen-sink".into();
    ir.metadata.extra = vec![("license".into(), "MIT".into())];
    ir.ops.push("aten::add.Tensor".into());
    ir.constants = vec![
        ConstValue::None,
        ConstValue::Bool(true),
        ConstValue::Int(-7),
        ConstValue::Float(2.5),
        ConstValue::Str("tanh".into()),
        ConstValue::Ints(vec![1, -1]),
        ConstValue::Floats(vec![0.5, -0.25]),
        ConstValue::List(vec![
            ConstValue::Int(1),
            ConstValue::List(vec![ConstValue::None]),
        ]),
        ConstValue::Tensor(InlineTensor {
            dtype: DType::I64,
            shape: vec![2],
            data: [3i64, -4].iter().flat_map(|x| x.to_le_bytes()).collect(),
        }),
    ];
    ir.functions[0].num_registers = 8;
    ir.functions[0].register_names = (0..8).map(|i| format!("r{i}")).collect();
    ir.functions[0].code = vec![
        Instr::LoadConst { dst: 3, index: 1 },
        Instr::JumpIfNot {
            cond: Operand::Reg(3),
            target: 4,
        },
        Instr::CallFunction {
            function: 1,
            args: vec![Operand::Reg(0)],
            outputs: vec![1],
        },
        Instr::Jump { target: 5 },
        Instr::Move {
            dst: 1,
            src: Operand::Reg(0),
        },
        Instr::BuildList {
            dst: 4,
            items: vec![Operand::Reg(1), Operand::Const(2)],
        },
        Instr::BuildTuple {
            dst: 5,
            items: vec![Operand::Reg(1), Operand::Weight(2)],
        },
        Instr::Unpack {
            src: Operand::Reg(5),
            dsts: vec![6, 7],
        },
        Instr::JumpIf {
            cond: Operand::Const(0),
            target: 4,
        },
        Instr::CallOp {
            op: 2,
            args: vec![Operand::Reg(6), Operand::Weight(3), Operand::Const(2)],
            outputs: vec![2],
        },
        Instr::Return {
            values: vec![Operand::Reg(2)],
        },
    ];
    ir.functions.push(Function {
        name: "helper".into(),
        num_registers: 2,
        params: vec![0],
        register_names: vec![],
        code: vec![
            Instr::CallOp {
                op: 0,
                args: vec![Operand::Reg(0), Operand::Weight(0), Operand::Weight(1)],
                outputs: vec![1],
            },
            Instr::Return {
                values: vec![Operand::Reg(1)],
            },
        ],
    });
    let ramp: Vec<f32> = (0..64).map(|i| (i as f32 - 32.0) / 8.0).collect();
    ir.weights.extend([
        WeightIr {
            name: "half".into(),
            dtype: DType::F32,
            shape: vec![4],
            data: f32_bytes(&[1.0, -2.0, 0.5, 65504.0]),
            encoding: WeightEncoding::F16,
        },
        WeightIr {
            name: "q.tensor".into(),
            dtype: DType::F32,
            shape: vec![8, 8],
            data: f32_bytes(&ramp),
            encoding: WeightEncoding::Int8PerTensor,
        },
        WeightIr {
            name: "q.channel".into(),
            dtype: DType::F32,
            shape: vec![8, 8],
            data: f32_bytes(&ramp),
            encoding: WeightEncoding::Int8PerChannel { axis: 0 },
        },
        WeightIr {
            name: "ids".into(),
            dtype: DType::I64,
            shape: vec![256],
            data: (0..256i64).flat_map(|x| (x % 4).to_le_bytes()).collect(),
            encoding: WeightEncoding::AsIs,
        },
        WeightIr {
            name: "mask".into(),
            dtype: DType::Bool,
            shape: vec![3],
            data: vec![1, 0, 1],
            encoding: WeightEncoding::AsIs,
        },
        WeightIr {
            name: "bf".into(),
            dtype: DType::BF16,
            shape: vec![2],
            data: vec![0x80, 0x3f, 0x00, 0xc0],
            encoding: WeightEncoding::AsIs,
        },
    ]);
    ir
}

/// Format 1.1 scalar inputs (SPEC.md §4.9): `y = x * alpha` with `x: f32[batch, 3]`, an int
/// `n` without default, `alpha: float = 0.5` and `flag: bool = true`.
fn scalars() -> ModelIr {
    let mut m = ModelBuilder::new("scalars").producer("wasm-torch-packer");
    let x = m.input("x", DType::F32, vec![sym("batch"), fixed(3)]);
    m.scalar_input("n", ScalarKind::Int, None);
    let alpha = m.scalar_input("alpha", ScalarKind::Float, Some(Scalar::Float(0.5)));
    m.scalar_input("flag", ScalarKind::Bool, Some(Scalar::Bool(true)));
    let y = m.call("aten::mul.Scalar", &[x, alpha]);
    m.output("y", DType::F32, vec![sym("batch"), fixed(3)], y);
    m.build()
}

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../format-spec/tests/golden")
}

#[test]
fn golden_files_are_what_the_packer_writes() {
    let cases = [
        (
            "tiny_v1_0.wtb",
            tiny(),
            PackOptions {
                compression: Compression::Never,
                ..PackOptions::default()
            },
        ),
        (
            "kitchen_sink_v1_0.wtb",
            kitchen_sink(),
            PackOptions {
                chunk_target: 256,
                compression: Compression::Auto,
                zstd_level: 3,
            },
        ),
        (
            "scalars_v1_1.wtb",
            scalars(),
            PackOptions {
                compression: Compression::Never,
                ..PackOptions::default()
            },
        ),
    ];
    for (name, ir, opts) in cases {
        let bytes = pack(&ir, &opts).unwrap();
        let path = golden_dir().join(name);
        if std::env::var_os("WTB_REGEN_GOLDEN").is_some() {
            std::fs::write(&path, &bytes).unwrap();
        }
        let on_disk = std::fs::read(&path).unwrap();
        assert_eq!(
            on_disk, bytes,
            "{name} differs from what the packer writes now"
        );
    }
}
