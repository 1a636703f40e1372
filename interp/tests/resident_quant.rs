//! Resident quantized weights: int8 (per channel) and f16 Linear weights stay small in
//! memory, run on the quantized kernels, and agree with the f32 model; an embedding tied
//! to a Linear weight reads it without an f32 copy.

use std::sync::Arc;

use wasm_torch_format::{ConstValue, Dim, Function, Instr, Operand, Signature, ValueSpec};
use wasm_torch_interp::{DType, Program, Session, Tensor};
use wasm_torch_packer::{pack, Compression, ModelIr, PackOptions, WeightEncoding, WeightIr};
use wasm_torch_test_support::uniform_f32;

const K: usize = 64;
const H: usize = 48;
const N: usize = 40;

fn weight(name: &str, shape: Vec<u64>, data: &[f32], encoding: WeightEncoding) -> WeightIr {
    WeightIr {
        name: name.into(),
        dtype: DType::F32,
        shape,
        data: data.iter().flat_map(|x| x.to_le_bytes()).collect(),
        encoding,
    }
}

fn spec(name: &str, shape: Vec<Dim>) -> ValueSpec {
    ValueSpec {
        name: name.into(),
        dtype: DType::F32,
        shape,
    }
}

/// x[b, K] → linear(K→H) → relu → linear(H→N).
fn mlp(enc: WeightEncoding) -> ModelIr {
    let call = |op, args, out| Instr::CallOp {
        op,
        args,
        outputs: vec![out],
    };
    ModelIr {
        signature: Signature {
            inputs: vec![spec(
                "x",
                vec![Dim::Symbolic("b".into()), Dim::Fixed(K as u64)],
            )],
            outputs: vec![spec(
                "y",
                vec![Dim::Symbolic("b".into()), Dim::Fixed(N as u64)],
            )],
        },
        ops: vec!["aten::linear.default".into(), "aten::relu.default".into()],
        functions: vec![Function {
            name: "forward".into(),
            num_registers: 4,
            params: vec![0],
            register_names: vec!["x".into(), "h".into(), "r".into(), "y".into()],
            code: vec![
                call(
                    0,
                    vec![Operand::Reg(0), Operand::Weight(0), Operand::Weight(1)],
                    1,
                ),
                call(1, vec![Operand::Reg(1)], 2),
                call(
                    0,
                    vec![Operand::Reg(2), Operand::Weight(2), Operand::Weight(3)],
                    3,
                ),
                Instr::Return {
                    values: vec![Operand::Reg(3)],
                },
            ],
        }],
        weights: vec![
            weight(
                "fc1.weight",
                vec![H as u64, K as u64],
                &uniform_f32(H * K, 1),
                enc,
            ),
            weight(
                "fc1.bias",
                vec![H as u64],
                &uniform_f32(H, 2),
                WeightEncoding::AsIs,
            ),
            weight(
                "fc2.weight",
                vec![N as u64, H as u64],
                &uniform_f32(N * H, 3),
                enc,
            ),
            weight(
                "fc2.bias",
                vec![N as u64],
                &uniform_f32(N, 4),
                WeightEncoding::AsIs,
            ),
        ],
        ..ModelIr::default()
    }
}

/// Bytes of a packed int8 weight: codes with `n` padded to 16 and `k` to 4, a scale per
/// channel and a column sum per padded channel.
fn packed_i8(n: usize, k: usize) -> u64 {
    let np = n.div_ceil(16) * 16;
    (np * k.div_ceil(4) * 4 + 4 * n + 4 * np) as u64
}

fn reference(x: &[f32], b: usize) -> Vec<f64> {
    let (w1, b1, w2, b2) = (
        uniform_f32(H * K, 1),
        uniform_f32(H, 2),
        uniform_f32(N * H, 3),
        uniform_f32(N, 4),
    );
    let mut y = Vec::new();
    for r in 0..b {
        let h: Vec<f64> = (0..H)
            .map(|j| {
                let s: f64 = (0..K)
                    .map(|p| x[r * K + p] as f64 * w1[j * K + p] as f64)
                    .sum();
                (s + b1[j] as f64).max(0.0)
            })
            .collect();
        for j in 0..N {
            y.push(b2[j] as f64 + (0..H).map(|p| h[p] * w2[j * H + p] as f64).sum::<f64>());
        }
    }
    y
}

fn load(ir: &ModelIr) -> Program {
    let bytes = pack(
        ir,
        &PackOptions {
            compression: Compression::Auto,
            ..PackOptions::default()
        },
    )
    .unwrap();
    Program::from_bytes(&bytes).unwrap()
}

fn cosine(a: &[f32], b: &[f64]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| *x as f64 * y).sum();
    let na: f64 = a.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|y| y.powi(2)).sum::<f64>().sqrt();
    dot / (na * nb)
}

#[test]
fn int8_and_f16_weights_stay_resident_and_match_f32() {
    let f32_bytes = ((H * K + H + N * H + N) * 4) as u64;
    let bias_bytes = ((H + N) * 4) as u64;
    // Tolerances: max error relative to max |y|, and cosine similarity, against f64 math
    // with the f32 weights.
    for (enc, max_resident, tol, min_cos) in [
        (
            WeightEncoding::Int8PerChannel { axis: 0 },
            packed_i8(H, K) + packed_i8(N, H) + bias_bytes,
            0.02,
            0.9995,
        ),
        (
            WeightEncoding::F16,
            ((H * K + N * H) * 2) as u64 + bias_bytes,
            1e-3,
            0.999_999,
        ),
    ] {
        let program = Arc::new(load(&mlp(enc)));
        assert_eq!(program.weight_bytes(), f32_bytes);
        let before = program.resident_weight_bytes();
        assert!(
            before <= max_resident && before < f32_bytes * 6 / 10,
            "{enc:?}: resident {before} (f32 {f32_bytes}, bound {max_resident})"
        );
        let mut s = Session::new(program.clone()).unwrap();
        for b in [1usize, 5] {
            let x = uniform_f32(b * K, 9 + b as u32);
            let y = s
                .run_positional(vec![Tensor::from_f32(vec![b, K], x.clone())])
                .unwrap()[0]
                .to_f32_vec();
            let want = reference(&x, b);
            let scale = want.iter().fold(0f64, |m, w| m.max(w.abs()));
            let max_err = y
                .iter()
                .zip(&want)
                .map(|(g, w)| (*g as f64 - w).abs())
                .fold(0.0, f64::max)
                / scale;
            let cos = cosine(&y, &want);
            eprintln!(
                "{enc:?} b={b}: max error {max_err:.2e} of max |y| = {scale:.2}, cosine {cos:.7}"
            );
            assert!(
                max_err <= tol && cos >= min_cos,
                "{enc:?} b={b}: max err {max_err}, cosine {cos}"
            );
        }
        // Running used the quantized kernels: no f32 copy of the weights appeared.
        assert_eq!(program.resident_weight_bytes(), before, "{enc:?}");
    }
}

/// `embedding(W, ids)` then `linear(e, W)` with one int8 weight `W` (tied input and output
/// embeddings): both read the resident weight, no f32 copy is made.
#[test]
fn tied_embedding_reads_the_quantized_weight() {
    let (v, d) = (50usize, 32usize);
    let w = uniform_f32(v * d, 5);
    let ir = ModelIr {
        signature: Signature {
            inputs: vec![ValueSpec {
                name: "ids".into(),
                dtype: DType::I64,
                shape: vec![Dim::Fixed(3)],
            }],
            outputs: vec![spec("logits", vec![Dim::Fixed(3), Dim::Fixed(v as u64)])],
        },
        ops: vec![
            "aten::embedding.default".into(),
            "aten::linear.default".into(),
        ],
        functions: vec![Function {
            name: "forward".into(),
            num_registers: 3,
            params: vec![0],
            register_names: vec!["ids".into(), "e".into(), "logits".into()],
            code: vec![
                Instr::CallOp {
                    op: 0,
                    args: vec![Operand::Weight(0), Operand::Reg(0)],
                    outputs: vec![1],
                },
                Instr::CallOp {
                    op: 1,
                    args: vec![Operand::Reg(1), Operand::Weight(0)],
                    outputs: vec![2],
                },
                Instr::Return {
                    values: vec![Operand::Reg(2)],
                },
            ],
        }],
        weights: vec![weight(
            "emb.weight",
            vec![v as u64, d as u64],
            &w,
            WeightEncoding::Int8PerChannel { axis: 0 },
        )],
        constants: Vec::<ConstValue>::new(),
        ..ModelIr::default()
    };
    let program = Arc::new(load(&ir));
    let before = program.resident_weight_bytes();
    assert_eq!(before, packed_i8(v, d), "resident");
    let mut s = Session::new(program.clone()).unwrap();
    let ids = [3i64, 0, 49];
    let y = s
        .run_positional(vec![Tensor::from_i64(vec![3], ids.to_vec())])
        .unwrap()[0]
        .to_f32_vec();
    let mut want = Vec::new();
    for &i in &ids {
        let e = &w[i as usize * d..(i as usize + 1) * d];
        for j in 0..v {
            want.push(
                (0..d)
                    .map(|p| e[p] as f64 * w[j * d + p] as f64)
                    .sum::<f64>(),
            );
        }
    }
    assert!(cosine(&y, &want) > 0.999, "cosine {}", cosine(&y, &want));
    assert_eq!(program.resident_weight_bytes(), before);
    // An index past the table is an error, not a read out of bounds.
    assert!(s
        .run_positional(vec![Tensor::from_i64(vec![3], vec![0, 1, 50])])
        .is_err());
}

/// `addmm(bias, x, W)` with `W` stored `k × n` (transformers' Conv1D): int8 quantized per
/// output column runs int8 without any copy; f16 runs through one f16 transpose.
#[test]
fn conv1d_layout_weights_run_quantized() {
    let (k, n) = (40usize, 24usize);
    let w = uniform_f32(k * n, 21);
    let bias = uniform_f32(n, 22);
    for enc in [
        WeightEncoding::Int8PerChannel { axis: 1 },
        WeightEncoding::F16,
    ] {
        let ir = ModelIr {
            signature: Signature {
                inputs: vec![spec("x", vec![Dim::Fixed(3), Dim::Fixed(k as u64)])],
                outputs: vec![spec("y", vec![Dim::Fixed(3), Dim::Fixed(n as u64)])],
            },
            ops: vec!["aten::addmm.default".into()],
            functions: vec![Function {
                name: "forward".into(),
                num_registers: 2,
                params: vec![0],
                register_names: vec!["x".into(), "y".into()],
                code: vec![
                    Instr::CallOp {
                        op: 0,
                        args: vec![Operand::Weight(1), Operand::Reg(0), Operand::Weight(0)],
                        outputs: vec![1],
                    },
                    Instr::Return {
                        values: vec![Operand::Reg(1)],
                    },
                ],
            }],
            weights: vec![
                weight("c.weight", vec![k as u64, n as u64], &w, enc),
                weight("c.bias", vec![n as u64], &bias, WeightEncoding::AsIs),
            ],
            ..ModelIr::default()
        };
        let program = Arc::new(load(&ir));
        let before = program.resident_weight_bytes();
        let mut s = Session::new(program.clone()).unwrap();
        let x = uniform_f32(3 * k, 23);
        let y = s
            .run_positional(vec![Tensor::from_f32(vec![3, k], x.clone())])
            .unwrap()[0]
            .to_f32_vec();
        let mut want = Vec::new();
        for r in 0..3 {
            for j in 0..n {
                let dot: f64 = (0..k)
                    .map(|p| x[r * k + p] as f64 * w[p * n + j] as f64)
                    .sum();
                want.push(bias[j] as f64 + dot);
            }
        }
        let cos = cosine(&y, &want);
        assert!(cos > 0.9995, "{enc:?}: cosine {cos}");
        let after = program.resident_weight_bytes();
        match enc {
            WeightEncoding::F16 => assert_eq!(after, before + (2 * k * n) as u64),
            _ => {
                assert_eq!(before, packed_i8(n, k) + (4 * n) as u64);
                assert_eq!(after, before);
            }
        }
    }
}
