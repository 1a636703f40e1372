//! Writes small `.wtb` test fixtures for the JS tests (through the packer, like the exporter).
//!
//! ```text
//! cargo run -p wasm-torch-js --example make_fixture -- OUT_DIR          # the test fixtures
//! cargo run -p wasm-torch-js --example make_fixture -- --big MB PATH    # a large model
//! ```
//!
//! Fixtures (all documented in `js/test/fixtures.md`):
//! - `tiny.wtb`: `y = relu(linear(x, W, b))`, x `f32[batch, 4]`, W `[3, 4]` = 0.1·(i+1)
//!   row-major, b = [0.5, -1, 0]; the tests compute the same in JS as the reference.
//! - `multi_chunk.wtb`: 8 weights of 1 MiB each in 1 MiB zstd chunks; output `s_k` = sum of
//!   weight k, plus `y = x + 1` so it also takes an input. Values are small integers so the
//!   f32 sums are exact; expected sums are printed to `multi_chunk.json`.
//! - `unsupported.wtb`: calls `aten::frobnicate.default`, an op no interpreter implements.
//! - `oom.wtb`: allocates a 6 GiB tensor at run time (OUT_OF_MEMORY), and computes `x + 1`.
//! - `--big MB PATH`: weights of MB MiB in 4 MiB zstd chunks, output = the sums.

use std::path::Path;
use wasm_torch_format::{
    ConstValue, DType, Dim, Function, Instr, Metadata, Operand, Signature, ValueSpec,
};
use wasm_torch_packer::{pack, Compression, ModelIr, PackOptions, WeightEncoding, WeightIr};

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn spec(name: &str, dtype: DType, shape: Vec<Dim>) -> ValueSpec {
    ValueSpec {
        name: name.into(),
        dtype,
        shape,
    }
}

fn meta(name: &str) -> Metadata {
    Metadata {
        producer: "wasm-torch-js make_fixture".into(),
        model_name: name.into(),
        ..Metadata::default()
    }
}

fn weight(name: &str, shape: Vec<u64>, data: &[f32]) -> WeightIr {
    WeightIr {
        name: name.into(),
        dtype: DType::F32,
        shape,
        data: f32_bytes(data),
        encoding: WeightEncoding::AsIs,
    }
}

fn tiny() -> ModelIr {
    let w: Vec<f32> = (0..12).map(|i| 0.1 * (i + 1) as f32).collect();
    let b = [0.5f32, -1.0, 0.0];
    ModelIr {
        metadata: meta("tiny"),
        signature: Signature {
            inputs: vec![spec(
                "x",
                DType::F32,
                vec![Dim::Symbolic("batch".into()), Dim::Fixed(4)],
            )],
            outputs: vec![spec(
                "y",
                DType::F32,
                vec![Dim::Symbolic("batch".into()), Dim::Fixed(3)],
            )],
        },
        ops: vec!["aten::linear.default".into(), "aten::relu.default".into()],
        functions: vec![Function {
            name: "forward".into(),
            num_registers: 3,
            params: vec![0],
            register_names: vec!["x".into(), "linear".into(), "relu".into()],
            code: vec![
                Instr::CallOp {
                    op: 0,
                    args: vec![Operand::Reg(0), Operand::Weight(0), Operand::Weight(1)],
                    outputs: vec![1],
                },
                Instr::CallOp {
                    op: 1,
                    args: vec![Operand::Reg(1)],
                    outputs: vec![2],
                },
                Instr::Return {
                    values: vec![Operand::Reg(2)],
                },
            ],
        }],
        constants: vec![],
        weights: vec![
            weight("fc.weight", vec![3, 4], &w),
            weight("fc.bias", vec![3], &b),
        ],
        states: vec![],
    }
}

/// Weight `k` of `n` elements: small integers in -8..8 (exact f32 sums), pseudo-random.
fn pattern(k: usize, n: usize) -> (Vec<f32>, f64) {
    let mut state = 0x9e37_79b9_u32.wrapping_mul(k as u32 + 1);
    let mut sum = 0.0f64;
    let v = (0..n)
        .map(|_| {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let x = ((state >> 24) % 16) as f32 - 8.0;
            sum += x as f64;
            x
        })
        .collect();
    (v, sum)
}

/// `n_weights` weights of `elems` f32 each; outputs their sums, and `y = x + 1`.
fn sums(name: &str, n_weights: usize, elems: usize) -> (ModelIr, Vec<f64>) {
    let mut weights = Vec::new();
    let mut expected = Vec::new();
    for k in 0..n_weights {
        let (v, s) = pattern(k, elems);
        weights.push(weight(&format!("w{k}"), vec![elems as u64], &v));
        expected.push(s);
    }
    // aten::sum.default(self, dtype=None) -> Tensor; aten::add.Scalar(self, other, alpha=1).
    let mut code = Vec::new();
    for k in 0..n_weights {
        code.push(Instr::CallOp {
            op: 0,
            args: vec![Operand::Weight(k as u32), Operand::Const(0)],
            outputs: vec![1 + k as u32],
        });
    }
    let y = 1 + n_weights as u32;
    code.push(Instr::CallOp {
        op: 1,
        args: vec![Operand::Reg(0), Operand::Const(1), Operand::Const(1)],
        outputs: vec![y],
    });
    let mut values: Vec<Operand> = (0..n_weights).map(|k| Operand::Reg(1 + k as u32)).collect();
    values.push(Operand::Reg(y));
    code.push(Instr::Return { values });
    let mut outputs: Vec<ValueSpec> = (0..n_weights)
        .map(|k| spec(&format!("s{k}"), DType::F32, vec![]))
        .collect();
    outputs.push(spec("y", DType::F32, vec![Dim::Fixed(2)]));
    let ir = ModelIr {
        metadata: meta(name),
        signature: Signature {
            inputs: vec![spec("x", DType::F32, vec![Dim::Fixed(2)])],
            outputs,
        },
        ops: vec!["aten::sum.default".into(), "aten::add.Scalar".into()],
        functions: vec![Function {
            name: "forward".into(),
            num_registers: y + 1,
            params: vec![0],
            register_names: vec![],
            code,
        }],
        constants: vec![ConstValue::None, ConstValue::Int(1)],
        weights,
        states: vec![],
    };
    (ir, expected)
}

fn unsupported() -> ModelIr {
    ModelIr {
        metadata: meta("unsupported"),
        signature: Signature {
            inputs: vec![spec("x", DType::F32, vec![Dim::Fixed(2)])],
            outputs: vec![spec("y", DType::F32, vec![Dim::Fixed(2)])],
        },
        ops: vec!["aten::frobnicate.default".into()],
        functions: vec![Function {
            name: "forward".into(),
            num_registers: 2,
            params: vec![0],
            register_names: vec![],
            code: vec![
                Instr::CallOp {
                    op: 0,
                    args: vec![Operand::Reg(0)],
                    outputs: vec![1],
                },
                Instr::Return {
                    values: vec![Operand::Reg(1)],
                },
            ],
        }],
        constants: vec![],
        weights: vec![],
        states: vec![],
    }
}

/// `big = zeros([2^29, 3])` (6 GiB of f32: more than any wasm32 instance can hold), plus
/// `y = x + 1`: running it must fail with OUT_OF_MEMORY, and the session must keep working.
fn oom() -> ModelIr {
    let none = Operand::Const(1);
    ModelIr {
        metadata: meta("oom"),
        signature: Signature {
            inputs: vec![spec("x", DType::F32, vec![Dim::Fixed(2)])],
            outputs: vec![
                spec("big", DType::F32, vec![Dim::Fixed(1 << 29), Dim::Fixed(3)]),
                spec("y", DType::F32, vec![Dim::Fixed(2)]),
            ],
        },
        ops: vec!["aten::zeros.default".into(), "aten::add.Scalar".into()],
        functions: vec![Function {
            name: "forward".into(),
            num_registers: 3,
            params: vec![0],
            register_names: vec![],
            code: vec![
                Instr::CallOp {
                    op: 1,
                    args: vec![Operand::Reg(0), Operand::Const(2), Operand::Const(2)],
                    outputs: vec![2],
                },
                Instr::CallOp {
                    op: 0,
                    args: vec![Operand::Const(0), none, none, none, none],
                    outputs: vec![1],
                },
                Instr::Return {
                    values: vec![Operand::Reg(1), Operand::Reg(2)],
                },
            ],
        }],
        constants: vec![
            ConstValue::Ints(vec![1 << 29, 3]),
            ConstValue::None,
            ConstValue::Int(1),
        ],
        weights: vec![],
        states: vec![],
    }
}

fn write(path: &Path, ir: &ModelIr, opts: &PackOptions) -> Result<(), Box<dyn std::error::Error>> {
    let bytes = pack(ir, opts)?;
    std::fs::write(path, &bytes)?;
    eprintln!("wrote {} ({} bytes)", path.display(), bytes.len());
    Ok(())
}

fn json_sums(sums: &[f64]) -> String {
    let items: Vec<String> = sums.iter().map(|s| format!("{s}")).collect();
    format!("{{\"sums\": [{}]}}\n", items.join(", "))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [flag, mb, path] if flag == "--big" => {
            let mb: usize = mb.parse()?;
            // 64 MiB weights: few enough IR objects, large enough to matter.
            let per = 64usize;
            let n = mb.div_ceil(per);
            let (ir, expected) = sums("big", n, per * (1 << 20) / 4);
            let opts = PackOptions {
                chunk_target: 4 << 20,
                compression: Compression::Always,
                ..PackOptions::default()
            };
            let path = Path::new(path);
            write(path, &ir, &opts)?;
            std::fs::write(path.with_extension("json"), json_sums(&expected))?;
        }
        [dir] => {
            let dir = Path::new(dir);
            std::fs::create_dir_all(dir)?;
            write(&dir.join("tiny.wtb"), &tiny(), &PackOptions::default())?;
            let (ir, expected) = sums("multi_chunk", 8, (1 << 20) / 4);
            let opts = PackOptions {
                chunk_target: 1 << 20,
                compression: Compression::Always,
                ..PackOptions::default()
            };
            write(&dir.join("multi_chunk.wtb"), &ir, &opts)?;
            std::fs::write(dir.join("multi_chunk.json"), json_sums(&expected))?;
            write(
                &dir.join("unsupported.wtb"),
                &unsupported(),
                &PackOptions::default(),
            )?;
            write(&dir.join("oom.wtb"), &oom(), &PackOptions::default())?;
        }
        _ => {
            eprintln!("usage: make_fixture OUT_DIR | make_fixture --big MB PATH");
            std::process::exit(2);
        }
    }
    Ok(())
}
