//! Pack → parse round trips of hand-made models (whole-file and streaming).

use wasm_torch_format::*;
use wasm_torch_packer::*;
use wasm_torch_test_support::{f32_weight_encoded, fixed, sym, ModelBuilder};

fn linear_model(encoding: WeightEncoding) -> ModelIr {
    let w: Vec<f32> = (0..12).map(|i| i as f32 * 0.25 - 1.0).collect();
    let mut m = ModelBuilder::new("linear")
        .producer("test")
        .name_registers();
    m.metadata().extra = vec![("k".into(), "v".into())];
    let x = m.input("x", DType::F32, vec![sym("batch"), fixed(4)]);
    let w = m.weight(f32_weight_encoded("fc.weight", &[3, 4], &w, encoding));
    let b = m.weight_f32("fc.bias", &[3], &[0.5, -0.5, 1.0]);
    // Constants no instruction uses still round-trip.
    m.constant(ConstValue::Ints(vec![1, -2]));
    m.constant(ConstValue::Float(0.5));
    let y = m.call_named("y", "aten::linear.default", &[x, w, b]);
    m.output("y", DType::F32, vec![sym("batch"), fixed(3)], y);
    m.build()
}

fn check_roundtrip(ir: &ModelIr, opts: &PackOptions) {
    let bytes = pack(ir, opts).unwrap();
    let g = parse_file(&bytes, &Limits::default()).unwrap();
    // A file without session state is written as 1.0 (byte-compatible with 1.0 readers);
    // one with state as the current minor version.
    let minor = if ir.states.is_empty() && ir.assets.is_empty() && ir.scalar_inputs.is_empty() {
        0
    } else {
        FORMAT_MINOR
    };
    assert_eq!(g.version, (FORMAT_MAJOR, minor));
    assert_eq!(g.metadata, ir.metadata);
    assert_eq!(g.signature, ir.signature);
    assert_eq!(g.ops, ir.ops);
    assert_eq!(g.functions, ir.functions);
    assert_eq!(g.assets, ir.assets);
    assert_bit_eq!(g.constants, ir.constants);
    assert_eq!(g.tensors.len(), ir.weights.len());
    let arena = decode_all(&bytes, &g, &Limits::default()).unwrap();
    for (t, w) in g.tensors.iter().zip(&ir.weights) {
        assert_eq!(t.name, w.name);
        assert_eq!(t.shape, w.shape);
        let got = arena.tensor(&g, t).unwrap();
        if w.encoding == WeightEncoding::AsIs {
            assert_eq!(got, &w.data[..]);
        }
    }
    // Streaming in 7-byte pieces gives the same graph and arena.
    let mut sp = StreamParser::new(Limits::default());
    let mut events = vec![];
    for piece in bytes.chunks(7) {
        events.extend(sp.feed(piece).unwrap());
    }
    assert_eq!(events.last(), Some(&StreamEvent::Done));
    let (g2, a2) = sp.finish().unwrap();
    assert_bit_eq!(g2, g);
    assert_eq!(a2, arena);
}

#[test]
fn linear_all_encodings_and_codecs() {
    for enc in [
        WeightEncoding::AsIs,
        WeightEncoding::F16,
        WeightEncoding::Int8PerTensor,
        WeightEncoding::Int8PerChannel { axis: 0 },
    ] {
        for compression in [Compression::Auto, Compression::Never, Compression::Always] {
            for chunk_target in [1, 64, 4 << 20] {
                let opts = PackOptions {
                    chunk_target,
                    compression,
                    zstd_level: 3,
                };
                check_roundtrip(&linear_model(enc), &opts);
            }
        }
    }
}

/// NaN (with and without payload), -0.0 and infinite constants come back bit for bit from
/// both drivers (the checks in `check_roundtrip` compare with `BitEq`; IEEE `==` could not).
#[test]
fn non_finite_constants_round_trip_bit_for_bit() {
    let mut ir = linear_model(WeightEncoding::AsIs);
    let specials = [
        f64::NAN,
        f64::from_bits(0x7ff0_0000_dead_beef),
        -f64::NAN,
        -0.0,
        f64::INFINITY,
        f64::NEG_INFINITY,
    ];
    ir.constants.extend(specials.map(ConstValue::Float));
    ir.constants.push(ConstValue::Floats(specials.to_vec()));
    ir.constants
        .push(ConstValue::List(vec![ConstValue::Floats(vec![
            f64::NAN,
            -0.2500000521540641,
        ])]));
    assert_ne!(ir.constants, ir.constants.clone(), "the data holds NaN");
    for compression in [Compression::Never, Compression::Always] {
        let opts = PackOptions {
            compression,
            ..PackOptions::default()
        };
        check_roundtrip(&ir, &opts);
    }
}

#[test]
fn stored_chunks_are_viewable_in_place() {
    let ir = linear_model(WeightEncoding::AsIs);
    let opts = PackOptions {
        compression: Compression::Never,
        ..PackOptions::default()
    };
    let bytes = pack(&ir, &opts).unwrap();
    let g = parse_file(&bytes, &Limits::default()).unwrap();
    for (t, w) in g.tensors.iter().zip(&ir.weights) {
        let view = tensor_in_place(&bytes, &g, t).unwrap();
        assert_eq!(view, &w.data[..]);
        let c = &g.chunks[t.chunk as usize];
        assert_eq!((c.file_offset + t.offset) % 64, 0);
    }
}

#[test]
fn compressible_weights_get_zstd_in_auto_mode() {
    let mut ir = linear_model(WeightEncoding::AsIs);
    ir.weights.push(WeightIr {
        name: "zeros".into(),
        dtype: DType::F32,
        shape: vec![4096],
        data: vec![0; 16384],
        encoding: WeightEncoding::AsIs,
    });
    let opts = PackOptions {
        chunk_target: 1024,
        ..PackOptions::default()
    };
    let bytes = pack(&ir, &opts).unwrap();
    let g = parse_file(&bytes, &Limits::default()).unwrap();
    let big = &g.chunks[g.tensors[2].chunk as usize];
    assert_eq!(big.codec, Codec::Zstd);
    assert!(big.stored_len < 200);
    // The tiny first chunk (random-ish floats) does not compress by 10%.
    assert_eq!(g.chunks[0].codec, Codec::Stored);
    check_roundtrip(&ir, &opts);
}

#[test]
fn invalid_ir_is_a_pack_error() {
    let mut ir = linear_model(WeightEncoding::AsIs);
    ir.functions[0].code[0] = Instr::CallOp {
        op: 5,
        args: vec![],
        outputs: vec![1],
    };
    match pack(&ir, &PackOptions::default()) {
        Err(PackError::Invalid(e)) => assert_eq!(e.kind, ErrorKind::IndexOutOfRange),
        other => panic!("expected an invalid-model error, got {other:?}"),
    }
    let mut ir = linear_model(WeightEncoding::AsIs);
    ir.weights[0].data.pop();
    assert!(matches!(
        pack(&ir, &PackOptions::default()),
        Err(PackError::Weight { .. })
    ));
    let mut ir = linear_model(WeightEncoding::F16);
    ir.weights[0].dtype = DType::I32;
    assert!(matches!(
        pack(&ir, &PackOptions::default()),
        Err(PackError::Weight { .. })
    ));
}

#[test]
fn assets_round_trip_and_bad_assets_are_pack_errors() {
    let mut ir = linear_model(WeightEncoding::AsIs);
    ir.assets = vec![
        Asset {
            name: "tokenizer.json".into(),
            data: br#"{"version":"1.0"}"#.to_vec(),
        },
        Asset {
            name: "generation.json".into(),
            data: vec![0, 1, 2, 255],
        },
    ];
    check_roundtrip(&ir, &PackOptions::default());
    ir.assets[1].name = "tokenizer.json".into();
    match pack(&ir, &PackOptions::default()) {
        Err(PackError::Invalid(e)) => {
            assert_eq!(e.kind, ErrorKind::Usage, "{e}");
            assert!(e.message.contains("duplicate asset name"), "{e}");
        }
        other => panic!("expected an invalid-model error, got {other:?}"),
    }
}

/// Already-quantized int8 weights (`Int8Stored`) reach the file code for code with their
/// scales, in both drivers; bad parameters are pack errors naming the weight.
#[test]
fn stored_int8_codes_round_trip_exactly() {
    let mut ir = linear_model(WeightEncoding::AsIs);
    let codes: [i8; 12] = [-128, -1, 0, 1, 127, 5, -7, 9, 100, -100, 3, -3];
    let scales = [0.5f32, 0.125, 2.0];
    let mut data: Vec<u8> = codes.iter().map(|&c| c as u8).collect();
    data.extend(scales.iter().flat_map(|s| s.to_le_bytes()));
    assert_eq!(ir.weights[0].name, "fc.weight");
    ir.weights[0].data = data.clone();
    ir.weights[0].encoding = WeightEncoding::Int8Stored { axis: 0 };
    for compression in [Compression::Never, Compression::Always] {
        let opts = PackOptions {
            compression,
            ..PackOptions::default()
        };
        check_roundtrip(&ir, &opts);
        let bytes = pack(&ir, &opts).unwrap();
        let g = parse_file(&bytes, &Limits::default()).unwrap();
        let t = &g.tensors[0];
        assert_eq!((t.dtype, t.stored_dtype), (DType::F32, DType::I8));
        assert_eq!(
            t.quantization,
            Quantization::PerChannel {
                axis: 0,
                scales: scales.to_vec(),
                zero_points: vec![0; 3]
            }
        );
        let arena = decode_all(&bytes, &g, &Limits::default()).unwrap();
        assert_eq!(arena.tensor(&g, t).unwrap(), &data[..12]);
    }
    ir.weights[0].data.truncate(12 + 8); // one scale short
    let err = pack(&ir, &PackOptions::default()).unwrap_err().to_string();
    assert!(
        err.contains("fc.weight") && err.contains("f32 scales"),
        "{err}"
    );
}
