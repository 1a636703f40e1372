//! Group-wise int8 weights (format 1.1, quantization tag 4; GGUF Q8_0 style): a tied
//! embedding / LM head stored that way stays 8-bit in memory, the embedding gathers its rows
//! and the LM head runs on the group-wise GEMV (one token) or the dequantising GEMM (a
//! batch), computing what the dequantised values compute; bad parameters are typed errors
//! at packing or loading.

use std::sync::Arc;

use wasm_torch_format::{
    parse_file, Dim, Function, Instr, Limits, Operand, Quantization, Signature, ValueSpec,
};
use wasm_torch_interp::{DType, Program, Session, Tensor};
use wasm_torch_kernels::quant::Q8GroupWeights;
use wasm_torch_packer::{pack, Compression, ModelIr, PackOptions, WeightEncoding, WeightIr};
use wasm_torch_test_support::{f32_bytes, uniform_f32};

/// Vocabulary and width of the tied table.
const V: usize = 70;
const D: usize = 64;

/// `ids[t] → embedding(W) → linear(·, W)`: logits `[t, V]` from one weight `W` (`V × D`).
fn tied(w: WeightIr, t: usize) -> ModelIr {
    ModelIr {
        signature: Signature {
            inputs: vec![ValueSpec {
                name: "ids".into(),
                dtype: DType::I64,
                shape: vec![Dim::Fixed(t as u64)],
            }],
            outputs: vec![ValueSpec {
                name: "logits".into(),
                dtype: DType::F32,
                shape: vec![Dim::Fixed(t as u64), Dim::Fixed(V as u64)],
            }],
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
        weights: vec![w],
        ..ModelIr::default()
    }
}

fn weight(data: Vec<u8>, encoding: WeightEncoding) -> WeightIr {
    WeightIr {
        name: "embed.weight".into(),
        dtype: DType::F32,
        shape: vec![V as u64, D as u64],
        data,
        encoding,
    }
}

fn pack_never(ir: &ModelIr) -> Vec<u8> {
    pack(
        ir,
        &PackOptions {
            compression: Compression::Never,
            ..PackOptions::default()
        },
    )
    .unwrap()
}

/// The stored bytes of `q` (SPEC.md §4.6.2): codes, then f16 scales.
fn stored(w: &[f32], group: usize) -> (Vec<u8>, Vec<f32>) {
    let q = Q8GroupWeights::from_f32(V, D, group, w).unwrap();
    let mut deq = vec![0f32; V * D];
    for (j, r) in deq.chunks_exact_mut(D).enumerate() {
        q.dequantize_row(j, r);
    }
    // The stored bytes by ggml's Q8_0 rule, written out here: d = max|x| / 127 in f32,
    // codes round(x · (1/d)), d stored as f16.
    let mut bytes = Vec::with_capacity(V * D + 2 * V * D / group);
    let mut scales = Vec::new();
    for g in w.chunks_exact(group) {
        let amax = g.iter().fold(0f32, |m, x| m.max(x.abs()));
        let d = amax / 127.0;
        let id = if d == 0.0 { 0.0 } else { 1.0 / d };
        for &x in g {
            bytes.push(((x * id).round() as i8) as u8);
        }
        scales.extend_from_slice(&wasm_torch_kernels::quant::f32_to_f16_bits(d).to_le_bytes());
    }
    bytes.extend_from_slice(&scales);
    (bytes, deq)
}

/// logits[i][j] = Σ_p W[ids[i]][p] · W[j][p] in f64 over the dequantised table.
fn reference(ids: &[i64], deq: &[f32]) -> Vec<f64> {
    let mut y = Vec::new();
    for &i in ids {
        let e = &deq[i as usize * D..(i as usize + 1) * D];
        for j in 0..V {
            y.push((0..D).map(|p| e[p] as f64 * deq[j * D + p] as f64).sum());
        }
    }
    y
}

#[test]
fn tied_group_int8_table_stays_resident_and_matches_its_dequantised_values() {
    let w = uniform_f32(V * D, 11);
    for group in [32usize, 64] {
        let (bytes, deq) = stored(&w, group);
        for enc in [
            WeightEncoding::Int8Group {
                group: group as u32,
            },
            WeightEncoding::Int8GroupStored {
                group: group as u32,
            },
        ] {
            let data = match enc {
                WeightEncoding::Int8GroupStored { .. } => bytes.clone(),
                _ => f32_bytes(&w),
            };
            for t in [1usize, 2, 6] {
                let file = pack_never(&tied(weight(data.clone(), enc), t));
                let graph = parse_file(&file, &Limits::default()).unwrap();
                assert_eq!(graph.version, (1, 1), "group-wise int8 is a 1.1 encoding");
                assert_eq!(
                    graph.tensors[0].quantization,
                    Quantization::GroupInt8 {
                        group: group as u32
                    }
                );
                // The packer's quantizer and the stored bytes agree byte for byte.
                let c = wasm_torch_format::chunk_encoded(&file, &graph.chunks[0]).unwrap();
                let off = graph.tensors[0].offset as usize;
                assert_eq!(&c[off..off + bytes.len()], &bytes[..], "{enc:?}");
                let program = Arc::new(Program::from_bytes(&file).unwrap());
                let before = program.resident_weight_bytes();
                assert_eq!(before, (V * D + 2 * V * D / group) as u64, "resident bytes");
                let mut s = Session::new(program.clone()).unwrap();
                let ids: Vec<i64> = (0..t as i64).map(|i| (i * 29 + 3) % V as i64).collect();
                let y = s
                    .run_positional(vec![Tensor::from_i64(vec![t], ids.clone())])
                    .unwrap()[0]
                    .to_f32_vec();
                let want = reference(&ids, &deq);
                let mag = want.iter().fold(0f64, |m, x| m.max(x.abs()));
                let err = y
                    .iter()
                    .zip(&want)
                    .map(|(a, b)| (*a as f64 - b).abs())
                    .fold(0f64, f64::max);
                assert!(err <= 1e-5 * mag, "{enc:?} t={t}: {err} (max {mag})");
                assert_eq!(program.resident_weight_bytes(), before, "no f32 copy made");
            }
        }
    }
}

#[test]
fn bad_group_int8_parameters_are_typed_errors() {
    let w = uniform_f32(V * D, 11);
    // Packer: bad groups, a short byte string, a NaN scale in stored bytes.
    for group in [16u32, 48, 128, 512] {
        let ir = tied(
            weight(f32_bytes(&w), WeightEncoding::Int8Group { group }),
            1,
        );
        let e = pack(&ir, &PackOptions::default()).unwrap_err().to_string();
        assert!(e.contains("group size"), "{group}: {e}");
    }
    let (bytes, _) = stored(&w, 32);
    let enc = WeightEncoding::Int8GroupStored { group: 32 };
    let mut short = bytes.clone();
    short.pop();
    let e = pack(&tied(weight(short, enc), 1), &PackOptions::default()).unwrap_err();
    assert!(e.to_string().contains("needs"), "{e}");
    let mut nan = bytes.clone();
    nan[V * D + 2..V * D + 4].copy_from_slice(&0x7e00u16.to_le_bytes());
    let e = pack(&tied(weight(nan, enc), 1), &PackOptions::default()).unwrap_err();
    assert!(e.to_string().contains("not finite"), "{e}");

    // Loader: a table stating a group that does not divide the row is a parse error; a NaN
    // or infinite scale written into the chunk is a load error naming the weight.
    let file = pack_never(&tied(weight(bytes, enc), 1));
    let limits = Limits::default();
    let graph = parse_file(&file, &limits).unwrap();
    let payloads: Vec<&[u8]> = graph
        .chunks
        .iter()
        .map(|c| wasm_torch_format::chunk_encoded(&file, c).unwrap())
        .collect();
    let mut bad = graph.clone();
    bad.tensors[0].quantization = Quantization::GroupInt8 { group: 48 };
    match wasm_torch_format::write_file(&bad, &payloads) {
        Ok((f, _)) => {
            let e = parse_file(&f, &limits).unwrap_err().to_string();
            assert!(e.contains("group size 48"), "{e}");
            assert!(Program::from_bytes(&f).is_err());
        }
        Err(e) => assert!(e.to_string().contains("group size 48"), "{e}"),
    }
    for special in [0x7e00u16, 0x7c00, 0xfc00] {
        let t = &graph.tensors[0];
        let mut chunks: Vec<Vec<u8>> = payloads.iter().map(|p| p.to_vec()).collect();
        let at = t.offset as usize + V * D + 6;
        chunks[t.chunk as usize][at..at + 2].copy_from_slice(&special.to_le_bytes());
        let refs: Vec<&[u8]> = chunks.iter().map(|c| c.as_slice()).collect();
        let (f, _) = wasm_torch_format::write_file(&graph, &refs).unwrap();
        let Err(e) = Program::from_bytes(&f) else {
            panic!("scale {special:#x} accepted");
        };
        let e = e.to_string();
        assert!(e.contains("scale 3") && e.contains("embed.weight"), "{e}");
    }
}
