//! Non-finite and signed-zero floats survive write → parse bit for bit, and the whole-file
//! and streaming drivers agree on them under [`BitEq`] — where the derived `PartialEq` calls a
//! graph with a NaN constant unequal to itself (the parse_stream fuzz target once reported that
//! as a crash).
//!
//! The file built here is committed as `tests/regress/nonfinite_constants.wtb`, which
//! `fuzz/run.sh` copies into the parse_whole and parse_stream corpora. Regenerate it with
//! `WTB_REGEN_REGRESS=1 cargo test -p wasm-torch-format --test nonfinite` after a deliberate
//! writer change.

use wasm_torch_format::*;

/// A quiet NaN with a payload, a signalling NaN (quiet bit clear) and a negative quiet NaN.
const F64_PAYLOAD_NAN: u64 = 0x7ff8_0000_0000_0123;
const F64_SIGNALLING_NAN: u64 = 0x7ff0_0000_dead_beef;
const F64_NEGATIVE_NAN: u64 = 0xfff8_0000_0000_0000;
const F32_PAYLOAD_NAN: u32 = 0x7fc0_0042;
const F32_SIGNALLING_NAN: u32 = 0x7fa0_0001;

fn f64s(bits: &[u64]) -> Vec<f64> {
    bits.iter().map(|&b| f64::from_bits(b)).collect()
}

/// Every f64 special value a constant can hold, as bit patterns.
fn f64_specials() -> Vec<u64> {
    vec![
        f64::NAN.to_bits(),
        F64_PAYLOAD_NAN,
        F64_SIGNALLING_NAN,
        F64_NEGATIVE_NAN,
        (-0.0f64).to_bits(),
        f64::INFINITY.to_bits(),
        f64::NEG_INFINITY.to_bits(),
        1u64, // smallest subnormal
    ]
}

/// The constants appended to the base graph: scalars, a float list (incl. the fuzzer's
/// `[NaN, -0.2500000521540641]`), nested lists and inline f32/f64 tensors.
fn special_constants() -> Vec<ConstValue> {
    let mut c: Vec<ConstValue> = f64s(&f64_specials())
        .into_iter()
        .map(ConstValue::Float)
        .collect();
    c.push(ConstValue::Floats(vec![f64::NAN, -0.2500000521540641]));
    c.push(ConstValue::Floats(f64s(&f64_specials())));
    c.push(ConstValue::List(vec![
        ConstValue::Float(f64::from_bits(F64_SIGNALLING_NAN)),
        ConstValue::List(vec![
            ConstValue::Floats(vec![-0.0, f64::NEG_INFINITY]),
            ConstValue::Int(-1),
        ]),
    ]));
    let f32_bits = [
        f32::NAN.to_bits(),
        F32_PAYLOAD_NAN,
        F32_SIGNALLING_NAN,
        (-0.0f32).to_bits(),
        f32::INFINITY.to_bits(),
        f32::NEG_INFINITY.to_bits(),
    ];
    c.push(ConstValue::Tensor(InlineTensor {
        dtype: DType::F32,
        shape: vec![2, 3],
        data: f32_bits.iter().flat_map(|b| b.to_le_bytes()).collect(),
    }));
    c.push(ConstValue::Tensor(InlineTensor {
        dtype: DType::F64,
        shape: vec![8],
        data: f64_specials()
            .iter()
            .flat_map(|b| b.to_le_bytes())
            .collect(),
    }));
    c
}

fn golden(name: &str) -> Vec<u8> {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    std::fs::read(p).unwrap()
}

/// The kitchen-sink golden graph (every instruction, quantized tensors, both codecs) with the
/// special constants appended and negative-zero quantization scales, written with the same
/// chunk payloads. Returns the file and the graph the writer says it wrote.
fn build() -> (Vec<u8>, Graph, usize) {
    let base = golden("kitchen_sink_v1_0.wtb");
    let mut g = parse_file(&base, &Limits::default()).unwrap();
    let first_special = g.constants.len();
    g.constants.extend(special_constants());
    for t in &mut g.tensors {
        match &mut t.quantization {
            Quantization::PerTensor { scale, .. } => *scale = -0.0,
            Quantization::PerChannel { scales, .. } => {
                scales[1] = -0.0;
                scales[2] = f32::from_bits(1); // smallest subnormal: finite, so valid
            }
            // No float parameters in the tensor table (the f16 scales live in the chunks).
            Quantization::None
            | Quantization::GroupInt4 { .. }
            | Quantization::GroupInt8 { .. } => {}
        }
    }
    let payloads: Vec<&[u8]> = g
        .chunks
        .iter()
        .map(|c| chunk_encoded(&base, c).unwrap())
        .collect();
    let (bytes, written) = write_file(&g, &payloads).unwrap();
    (bytes, written, first_special)
}

fn stream(bytes: &[u8], piece: usize, segment_target: u64) -> (Graph, Arena) {
    let mut sp = StreamParser::new(Limits::default()).with_segment_target(segment_target);
    for p in bytes.chunks(piece) {
        sp.feed(p).unwrap();
    }
    sp.finish().unwrap()
}

#[test]
fn special_floats_round_trip_bit_for_bit_whole_and_streamed() {
    let (bytes, written, first) = build();
    let l = Limits::default();
    let whole = parse_file(&bytes, &l).unwrap();
    let arena = decode_all(&bytes, &whole, &l).unwrap();
    assert_bit_eq!(whole, written, "parsed vs written graph");
    assert_bit_eq!(
        whole.constants[first..].to_vec(),
        special_constants(),
        "constants kept bit for bit"
    );
    // The data really holds NaN: under the derived (IEEE) equality the graph differs from
    // itself, which is what made the fuzz target report a crash.
    assert!(matches!(whole.constants[first], ConstValue::Float(x) if x.is_nan()));
    assert_ne!(whole, whole.clone(), "IEEE == fails on a NaN constant");
    // And the scales' zero signs are kept, which IEEE equality could not check.
    let q: Vec<&Quantization> = whole
        .tensors
        .iter()
        .map(|t| &t.quantization)
        .filter(|q| **q != Quantization::None)
        .collect();
    assert_eq!(q.len(), 2);
    for q in q {
        match q {
            Quantization::PerTensor { scale, .. } => {
                assert_eq!(scale.to_bits(), 0x8000_0000)
            }
            Quantization::PerChannel { scales, .. } => {
                assert_eq!((scales[1].to_bits(), scales[2].to_bits()), (0x8000_0000, 1))
            }
            Quantization::None
            | Quantization::GroupInt4 { .. }
            | Quantization::GroupInt8 { .. } => unreachable!(),
        }
    }

    for piece in [1, 2, 3, 7, 64, 1000, bytes.len()] {
        for seg in [SEGMENT_TARGET, 0, 64] {
            let (g2, a2) = stream(&bytes, piece, seg);
            assert_bit_eq!(g2, whole, "streamed in {piece}-byte pieces, segments {seg}");
            assert_ne!(g2, whole, "IEEE == would call these graphs different");
            assert_eq!(a2, arena, "arena, {piece}-byte pieces, segments {seg}");
        }
    }
}

/// A flipped zero sign or a changed NaN payload is a real difference, and `BitEq` reports it
/// (the derived equality reports the first as equal and every NaN graph as different).
#[test]
fn bit_eq_sees_sign_and_payload_changes() {
    let (bytes, _, first) = build();
    let g = parse_file(&bytes, &Limits::default()).unwrap();
    let mut payload = g.clone();
    payload.constants[first + 1] = ConstValue::Float(f64::NAN);
    assert!(!g.bit_eq(&payload));
    let mut sign = g.clone();
    sign.constants[first + 4] = ConstValue::Float(0.0);
    assert!(!g.bit_eq(&sign));
    assert_eq!(g.constants[first + 4], sign.constants[first + 4]);
}

/// The committed fuzz seed is exactly this test's file, so it keeps holding what the tests
/// above check.
#[test]
fn committed_regression_seed_matches() {
    let (bytes, _, _) = build();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/regress/nonfinite_constants.wtb");
    if std::env::var_os("WTB_REGEN_REGRESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &bytes).unwrap();
    }
    let on_disk = std::fs::read(&path).unwrap();
    assert!(
        on_disk == bytes,
        "{} differs from what this test writes",
        path.display()
    );
}
