//! int8 convolution weights stay int8 in memory and run the int8 convolution; quantization
//! parameters that do not fit their tensor (wrong scale count, zero / negative / NaN
//! scales, int4 data of the wrong length or a group not dividing the row) are typed errors
//! at packing, parsing or loading, never a wrong answer.

use std::sync::Arc;

use wasm_torch_format::{
    chunk_encoded, parse_file, write_file, Dim, Function, Graph, Instr, Limits, Operand,
    Quantization, Signature, ValueSpec,
};
use wasm_torch_interp::{DType, Program, Session, Tensor};
use wasm_torch_packer::{pack, Compression, ModelIr, PackOptions, WeightEncoding, WeightIr};
use wasm_torch_test_support::{f32_bytes, uniform_f32};

const C: usize = 8;
const O: usize = 24;
const HW: usize = 10;

/// `conv2d(x[1, C, HW, HW], w[O, C, 3, 3], b, stride 1, padding 1)`, the weight encoded as
/// `enc`.
fn conv_model(enc: WeightEncoding) -> ModelIr {
    let spec = |name: &str, shape: Vec<u64>| ValueSpec {
        name: name.into(),
        dtype: DType::F32,
        shape: shape.into_iter().map(Dim::Fixed).collect(),
    };
    ModelIr {
        signature: Signature {
            inputs: vec![spec("x", vec![1, C as u64, HW as u64, HW as u64])],
            outputs: vec![spec("y", vec![1, O as u64, HW as u64, HW as u64])],
        },
        ops: vec!["aten::conv2d.default".into()],
        constants: vec![
            wasm_torch_format::ConstValue::Ints(vec![1, 1]),
            wasm_torch_format::ConstValue::Int(1),
        ],
        functions: vec![Function {
            name: "forward".into(),
            num_registers: 2,
            params: vec![0],
            register_names: vec!["x".into(), "y".into()],
            code: vec![
                Instr::CallOp {
                    op: 0,
                    args: vec![
                        Operand::Reg(0),
                        Operand::Weight(0),
                        Operand::Weight(1),
                        Operand::Const(0),
                        Operand::Const(0),
                        Operand::Const(0),
                        Operand::Const(1),
                    ],
                    outputs: vec![1],
                },
                Instr::Return {
                    values: vec![Operand::Reg(1)],
                },
            ],
        }],
        weights: vec![
            WeightIr {
                name: "conv.weight".into(),
                dtype: DType::F32,
                shape: vec![O as u64, C as u64, 3, 3],
                data: f32_bytes(&uniform_f32(O * C * 9, 1)),
                encoding: enc,
            },
            WeightIr {
                name: "conv.bias".into(),
                dtype: DType::F32,
                shape: vec![O as u64],
                data: f32_bytes(&uniform_f32(O, 2)),
                encoding: WeightEncoding::AsIs,
            },
        ],
        ..ModelIr::default()
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

fn run(bytes: &[u8], x: &[f32]) -> (Vec<f32>, Arc<Program>) {
    let program = Arc::new(Program::from_bytes(bytes).unwrap());
    let mut s = Session::new(program.clone()).unwrap();
    let y = s
        .run_positional(vec![Tensor::from_f32(vec![1, C, HW, HW], x.to_vec())])
        .unwrap()[0]
        .to_f32_vec();
    (y, program)
}

#[test]
fn int8_conv_weights_stay_int8_and_match_the_f32_convolution() {
    let x = uniform_f32(C * HW * HW, 5);
    let int8 = pack_never(&conv_model(WeightEncoding::Int8PerChannel { axis: 0 }));
    let (y8, p8) = run(&int8, &x);
    let f32_bytes_len = (O * C * 9 * 4 + O * 4) as u64;
    assert_eq!(p8.weight_bytes(), f32_bytes_len);
    let resident = p8.resident_weight_bytes();
    // int8 codes (channels padded to a multiple of 16, inputs to a multiple of 4), f32
    // scales and i32 column sums, plus the f32 bias: no f32 copy of the weight.
    let (o16, k4) = (O.div_ceil(16) * 16, (C * 9).div_ceil(4) * 4);
    let want = (o16 * k4 + 4 * O + 4 * o16 + 4 * O) as u64;
    assert_eq!(resident, want, "resident of {f32_bytes_len} f32 bytes");
    // The f32 model: the int8 model stays close to it.
    let (yf, _) = run(&pack_never(&conv_model(WeightEncoding::AsIs)), &x);
    let dot: f64 = y8.iter().zip(&yf).map(|(a, b)| *a as f64 * *b as f64).sum();
    let n8: f64 = y8.iter().map(|a| (*a as f64).powi(2)).sum::<f64>().sqrt();
    let nf: f64 = yf.iter().map(|a| (*a as f64).powi(2)).sum::<f64>().sqrt();
    let cos = dot / (n8 * nf);
    let max_err = y8
        .iter()
        .zip(&yf)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    let max_y = yf.iter().map(|v| v.abs()).fold(0f32, f32::max);
    assert!(
        cos >= 0.9995 && max_err <= 0.03 * max_y,
        "cos {cos}, max err {max_err} of {max_y}"
    );
    // Running did not materialise an f32 copy.
    assert_eq!(p8.resident_weight_bytes(), resident);
}

/// The file `bytes` with its graph replaced by `edit(graph)` (same chunk payloads), or the
/// writer's error.
fn rewrite(bytes: &[u8], edit: impl FnOnce(&mut Graph)) -> Result<Vec<u8>, String> {
    let graph = parse_file(bytes, &Limits::default()).unwrap();
    let mut bad = graph.clone();
    edit(&mut bad);
    let payloads: Vec<&[u8]> = graph
        .chunks
        .iter()
        .map(|c| chunk_encoded(bytes, c).unwrap())
        .collect();
    write_file(&bad, &payloads)
        .map(|(f, _)| f)
        .map_err(|e| e.to_string())
}

/// `bytes` must not load, with an error naming `what` (from the writer, the parser or the
/// loader).
fn refused(bytes: Result<Vec<u8>, String>, what: &str) {
    let e = match bytes {
        Err(e) => e,
        Ok(file) => match Program::from_bytes(&file) {
            Ok(_) => panic!("{what}: loaded"),
            Err(e) => e.to_string(),
        },
    };
    assert!(e.contains(what), "expected '{what}' in: {e}");
}

fn set_scales(g: &mut Graph, f: impl FnOnce(&mut Vec<f32>)) {
    match &mut g.tensors[0].quantization {
        Quantization::PerChannel { scales, .. } => f(scales),
        q => panic!("not per channel: {q:?}"),
    }
}

#[test]
fn bad_int8_scales_are_refused() {
    let good = pack_never(&conv_model(WeightEncoding::Int8PerChannel { axis: 0 }));
    assert!(Program::from_bytes(&good).is_ok());
    // Wrong scale count (one too few, one too many).
    refused(
        rewrite(&good, |g| {
            set_scales(g, |s| {
                s.pop();
            })
        }),
        "scales",
    );
    refused(
        rewrite(&good, |g| {
            set_scales(g, |s| s.push(1.0));
            if let Quantization::PerChannel { zero_points, .. } = &mut g.tensors[0].quantization {
                zero_points.push(0);
            }
        }),
        "scales",
    );
    // A zero, a negative zero, a negative and a NaN scale.
    for bad in [0.0f32, -0.0, -0.5, f32::NAN, f32::INFINITY] {
        refused(rewrite(&good, |g| set_scales(g, |s| s[3] = bad)), "scale");
    }
    // Per-tensor int8 with a zero scale.
    let per_tensor = pack_never(&conv_model(WeightEncoding::Int8PerTensor));
    assert!(Program::from_bytes(&per_tensor).is_ok());
    refused(
        rewrite(&per_tensor, |g| {
            if let Quantization::PerTensor { scale, .. } = &mut g.tensors[0].quantization {
                *scale = 0.0;
            }
        }),
        "scale",
    );
}

#[test]
fn bad_int4_layouts_are_refused() {
    // A 2-d [O, C·9 = 72] weight cannot take groups of 32 (72 is not a multiple): packer.
    let mut ir = conv_model(WeightEncoding::AsIs);
    ir.weights[0].shape = vec![O as u64, (C * 9) as u64];
    ir.weights[0].encoding = WeightEncoding::Int4 {
        group: 32,
        offsets: true,
    };
    assert!(pack(&ir, &PackOptions::default()).is_err());
    // Stored int4 bytes of an odd length / one byte short: packer.
    let (n, k) = (O, 64);
    let good_len = n * k / 2 + (n * k / 32) * 4;
    for len in [good_len - 1, good_len + 1] {
        let mut ir = conv_model(WeightEncoding::AsIs);
        ir.weights[0].shape = vec![n as u64, k as u64];
        ir.weights[0].data = vec![0u8; len];
        ir.weights[0].encoding = WeightEncoding::Int4Stored {
            group: 32,
            offsets: true,
        };
        assert!(pack(&ir, &PackOptions::default()).is_err(), "length {len}");
    }
    // A file whose tensor table gives an int4 tensor an odd byte length: parser.
    let mut ir = conv_model(WeightEncoding::AsIs);
    ir.weights[0].shape = vec![n as u64, k as u64];
    ir.weights[0].data = f32_bytes(&uniform_f32(n * k, 9));
    ir.weights[0].encoding = WeightEncoding::Int4 {
        group: 32,
        offsets: true,
    };
    let good = pack_never(&ir);
    assert!(Program::from_bytes(&good).is_ok());
    refused(rewrite(&good, |g| g.tensors[0].nbytes -= 1), "nbytes");
    // A group size not dividing the row (64 / 48) or not a multiple of 32: parser.
    for group in [48u32, 16, 0] {
        refused(
            rewrite(&good, |g| {
                g.tensors[0].quantization = Quantization::GroupInt4 {
                    group,
                    offsets: true,
                }
            }),
            "group size",
        );
    }
}
