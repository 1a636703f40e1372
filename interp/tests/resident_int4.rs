//! Group-wise int4 weights (format 1.1, quantization tag 3): they stay 4-bit in memory, run
//! on the int4 GEMV at decode sizes and on the dequantising GEMM path for larger batches,
//! and compute exactly what their dequantised values compute; bad int4 parameters are typed
//! errors at packing or loading, never a wrong answer.

use std::sync::Arc;

use wasm_torch_format::{
    parse_file, Dim, Function, Instr, Limits, Operand, Quantization, Signature, ValueSpec,
};
use wasm_torch_interp::{DType, Program, Session, Tensor};
use wasm_torch_kernels::quant::Q4Weights;
use wasm_torch_packer::{pack, Compression, ModelIr, PackOptions, WeightEncoding, WeightIr};
use wasm_torch_test_support::{f32_bytes, uniform_f32};

const K: usize = 64;
const H: usize = 128;
const N: usize = 40;

fn weight(name: &str, shape: Vec<u64>, data: Vec<u8>, encoding: WeightEncoding) -> WeightIr {
    WeightIr {
        name: name.into(),
        dtype: DType::F32,
        shape,
        data,
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

/// x[b, K] → linear(K→H) → relu → linear(H→N), with the two weights given as IR entries.
fn mlp(w1: WeightIr, w2: WeightIr) -> ModelIr {
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
            w1,
            weight(
                "fc1.bias",
                vec![H as u64],
                f32_bytes(&uniform_f32(H, 2)),
                WeightEncoding::AsIs,
            ),
            w2,
            weight(
                "fc2.bias",
                vec![N as u64],
                f32_bytes(&uniform_f32(N, 4)),
                WeightEncoding::AsIs,
            ),
        ],
        ..ModelIr::default()
    }
}

fn mlp_int4(group: u32, offsets: bool) -> ModelIr {
    let enc = WeightEncoding::Int4 { group, offsets };
    mlp(
        weight(
            "fc1.weight",
            vec![H as u64, K as u64],
            f32_bytes(&uniform_f32(H * K, 1)),
            enc,
        ),
        weight(
            "fc2.weight",
            vec![N as u64, H as u64],
            f32_bytes(&uniform_f32(N * H, 3)),
            enc,
        ),
    )
}

/// `linear(relu(linear(x, w1, b1)), w2, b2)` in f64.
fn reference(x: &[f32], b: usize, w1: &[f32], w2: &[f32]) -> Vec<f64> {
    let (b1, b2) = (uniform_f32(H, 2), uniform_f32(N, 4));
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

/// The f32 values `w` (`n × k`) takes after int4 quantization (the kernel crate's
/// quantizer, which the packer must agree with).
fn dequantized(w: &[f32], n: usize, k: usize, group: usize, offsets: bool) -> Vec<f32> {
    let q = Q4Weights::from_f32(n, k, group, w, offsets).unwrap();
    let mut out = vec![0f32; n * k];
    for (j, r) in out.chunks_exact_mut(k).enumerate() {
        q.dequantize_row(j, r);
    }
    out
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

fn cosine(a: &[f32], b: &[f64]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| *x as f64 * y).sum();
    let na: f64 = a.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|y| y.powi(2)).sum::<f64>().sqrt();
    dot / (na * nb)
}

/// Max error relative to max |want|.
fn rel_err(got: &[f32], want: &[f64]) -> f64 {
    let scale = want.iter().fold(0f64, |m, w| m.max(w.abs()));
    got.iter()
        .zip(want)
        .map(|(g, w)| (*g as f64 - w).abs())
        .fold(0.0, f64::max)
        / scale
}

#[test]
fn int4_weights_stay_resident_and_match_their_dequantised_values() {
    let bias_bytes = ((H + N) * 4) as u64;
    for (group, offsets) in [(32usize, true), (32, false), (64, true)] {
        let ir = mlp_int4(group as u32, offsets);
        let bytes = pack_never(&ir);
        let graph = parse_file(&bytes, &Limits::default()).unwrap();
        assert_eq!(graph.version, (1, 1), "int4 is a format 1.1 encoding");
        assert_eq!(
            graph.tensors[0].quantization,
            Quantization::GroupInt4 {
                group: group as u32,
                offsets
            }
        );
        let program = Arc::new(Program::from_bytes(&bytes).unwrap());
        let per_group = if offsets { 4 } else { 2 };
        let q4 = |n: usize, k: usize| (n * k / 2 + n * k / group * per_group) as u64;
        let before = program.resident_weight_bytes();
        assert_eq!(before, q4(H, K) + q4(N, H) + bias_bytes, "resident bytes");
        let (w1, w2) = (uniform_f32(H * K, 1), uniform_f32(N * H, 3));
        let (d1, d2) = (
            dequantized(&w1, H, K, group, offsets),
            dequantized(&w2, N, H, group, offsets),
        );
        let mut s = Session::new(program.clone()).unwrap();
        // b = 1, 2: the int4 GEMV; b = 5: blocks dequantised into the f32 GEMM.
        for b in [1usize, 2, 5] {
            let x = uniform_f32(b * K, 9 + b as u32);
            let y = s
                .run_positional(vec![Tensor::from_f32(vec![b, K], x.clone())])
                .unwrap()[0]
                .to_f32_vec();
            let exact = rel_err(&y, &reference(&x, b, &d1, &d2));
            let want = reference(&x, b, &w1, &w2);
            let (err, cos) = (rel_err(&y, &want), cosine(&y, &want));
            eprintln!(
                "g{group} offsets={offsets} b={b}: vs dequantised {exact:.1e}; vs f32 max error {err:.3}, cosine {cos:.5}"
            );
            assert!(exact <= 1e-5, "vs dequantised weights: {exact}");
            assert!(err <= 0.15 && cos >= 0.99, "vs f32: {err}, {cos}");
        }
        assert_eq!(program.resident_weight_bytes(), before, "no f32 copy made");
    }
}

#[test]
fn prequantized_int4_bytes_load_as_given() {
    // Stored bytes written by hand: codes 0..15 cycling, scale 0.5, offset -1 per group.
    let (n, k, g) = (H, K, 32usize);
    let groups = n * k / g;
    let mut stored: Vec<u8> = (0..n * k / 2)
        .map(|i| (i % 16) as u8 | (((i + 3) % 16) as u8) << 4)
        .collect();
    let half = |x: f32| half_bits(x);
    for _ in 0..groups {
        stored.extend_from_slice(&half(0.5).to_le_bytes());
    }
    for _ in 0..groups {
        stored.extend_from_slice(&half(-1.0).to_le_bytes());
    }
    let q = Q4Weights::new(
        n,
        k,
        g,
        stored[..n * k / 2].to_vec(),
        vec![half(0.5); groups],
        Some(vec![half(-1.0); groups]),
    )
    .unwrap();
    let mut w1 = vec![0f32; n * k];
    for (j, r) in w1.chunks_exact_mut(k).enumerate() {
        q.dequantize_row(j, r);
    }
    let enc = WeightEncoding::Int4Stored {
        group: 32,
        offsets: true,
    };
    let w2 = uniform_f32(N * H, 3);
    let ir = mlp(
        weight("fc1.weight", vec![n as u64, k as u64], stored.clone(), enc),
        weight(
            "fc2.weight",
            vec![N as u64, H as u64],
            f32_bytes(&w2),
            WeightEncoding::AsIs,
        ),
    );
    let program = Arc::new(Program::from_bytes(&pack_never(&ir)).unwrap());
    let mut s = Session::new(program).unwrap();
    let x = uniform_f32(K, 77);
    let y = s
        .run_positional(vec![Tensor::from_f32(vec![1, K], x.clone())])
        .unwrap()[0]
        .to_f32_vec();
    assert!(rel_err(&y, &reference(&x, 1, &w1, &w2)) <= 1e-5);

    // Wrong length, a NaN scale: refused by the packer.
    let mut short = ir.clone();
    short.weights[0].data.pop();
    assert!(pack(&short, &PackOptions::default()).is_err());
    let mut nan = ir.clone();
    let at = n * k / 2;
    nan.weights[0].data[at..at + 2].copy_from_slice(&0x7e00u16.to_le_bytes());
    let e = pack(&nan, &PackOptions::default()).unwrap_err().to_string();
    assert!(e.contains("not finite"), "{e}");
}

/// f32 → f16 bits (round to nearest even), for the hand-written test data (exact values).
fn half_bits(x: f32) -> u16 {
    wasm_torch_kernels::quant::f32_to_f16_bits(x)
}

#[test]
fn bad_int4_parameters_are_typed_errors() {
    // Group sizes that are not a multiple of 32, or do not divide the row: packer errors.
    for group in [16u32, 48, 128, 512] {
        let e = pack(&mlp_int4(group, true), &PackOptions::default());
        assert!(e.is_err(), "group {group} accepted");
    }
    // A file whose tensor table states a group not dividing the row: parse error.
    let bytes = pack_never(&mlp_int4(32, true));
    let limits = Limits::default();
    let graph = parse_file(&bytes, &limits).unwrap();
    let mut bad = graph.clone();
    bad.tensors[0].quantization = Quantization::GroupInt4 {
        group: 48,
        offsets: true,
    };
    let payloads: Vec<&[u8]> = graph
        .chunks
        .iter()
        .map(|c| wasm_torch_format::chunk_encoded(&bytes, c).unwrap())
        .collect();
    match wasm_torch_format::write_file(&bad, &payloads) {
        Ok((file, _)) => {
            let e = parse_file(&file, &limits).unwrap_err().to_string();
            assert!(e.contains("group size 48"), "{e}");
            assert!(Program::from_bytes(&file).is_err());
        }
        Err(e) => assert!(e.to_string().contains("group size 48"), "{e}"),
    }
    // A NaN scale inside the weight bytes (rewritten with fresh checksums): a load error.
    let t = &graph.tensors[0];
    let mut chunks: Vec<Vec<u8>> = payloads.iter().map(|p| p.to_vec()).collect();
    let at = t.offset as usize + H * K / 2;
    chunks[t.chunk as usize][at..at + 2].copy_from_slice(&0x7e00u16.to_le_bytes());
    let refs: Vec<&[u8]> = chunks.iter().map(|c| c.as_slice()).collect();
    let (file, _) = wasm_torch_format::write_file(&graph, &refs).unwrap();
    let Err(e) = Program::from_bytes(&file) else {
        panic!("NaN scale accepted");
    };
    let e = e.to_string();
    assert!(e.contains("scale") && e.contains("fc1.weight"), "{e}");
}
