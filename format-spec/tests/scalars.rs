//! Format 1.1 scalar inputs (SPEC.md §4.9): the golden file, round trip, version rules,
//! validation errors and hostile section bytes.

use wasm_torch_format::model::*;
use wasm_torch_format::{
    parse_file, parse_header, write_file, write_file_with, ErrorKind, ExtraSection, Limits,
    SectionKind, StreamParser, WriteOptions,
};

fn read(name: &str) -> Vec<u8> {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    std::fs::read(p).unwrap()
}

fn spec(name: &str, dtype: DType, shape: Vec<Dim>) -> ValueSpec {
    ValueSpec {
        name: name.into(),
        dtype,
        shape,
    }
}

/// `return x` with inputs `x: f32[2]`, `n: i64[]`, `alpha: f64[]`, `flag: bool[]`; no
/// weights. The scalar-input section is left to each test.
fn graph() -> Graph {
    Graph {
        signature: Signature {
            inputs: vec![
                spec("x", DType::F32, vec![Dim::Fixed(2)]),
                spec("n", DType::I64, vec![]),
                spec("alpha", DType::F64, vec![]),
                spec("flag", DType::Bool, vec![]),
            ],
            outputs: vec![spec("y", DType::F32, vec![Dim::Fixed(2)])],
        },
        functions: vec![Function {
            name: "forward".into(),
            num_registers: 4,
            params: vec![0, 1, 2, 3],
            register_names: vec![],
            code: vec![Instr::Return {
                values: vec![Operand::Reg(0)],
            }],
        }],
        ..Graph::default()
    }
}

fn scalars() -> Vec<ScalarInput> {
    vec![
        ScalarInput {
            input: 1,
            kind: ScalarKind::Int,
            default: None,
            fixed: false,
        },
        ScalarInput {
            input: 2,
            kind: ScalarKind::Float,
            default: Some(Scalar::Float(-0.0)),
            fixed: false,
        },
        ScalarInput {
            input: 3,
            kind: ScalarKind::Bool,
            default: Some(Scalar::Bool(true)),
            fixed: false,
        },
    ]
}

/// A file whose scalar-input section payload is exactly `payload` (version 1.1, required).
fn with_payload(payload: Vec<u8>) -> Vec<u8> {
    let opts = WriteOptions {
        version: (1, 1),
        extra_sections: vec![ExtraSection {
            id: 11,
            required: true,
            payload,
        }],
        appended: vec![],
    };
    write_file_with(&graph(), &[], &opts).unwrap().0
}

fn parse(bytes: &[u8]) -> Result<Graph, wasm_torch_format::FormatError> {
    parse_file(bytes, &Limits::default())
}

#[test]
fn golden_file_parses_to_its_scalar_inputs() {
    let bytes = read("scalars_v1_1.wtb");
    assert_eq!(&bytes[8..12], &[1, 0, 1, 0], "major 1, minor 1");
    let g = parse(&bytes).unwrap();
    assert_eq!(g.version, (1, 1));
    assert_eq!(
        g.scalar_inputs,
        vec![
            ScalarInput {
                input: 1,
                kind: ScalarKind::Int,
                default: None,
                fixed: false,
            },
            ScalarInput {
                input: 2,
                kind: ScalarKind::Float,
                default: Some(Scalar::Float(0.5)),
                fixed: false,
            },
            ScalarInput {
                input: 3,
                kind: ScalarKind::Bool,
                default: Some(Scalar::Bool(true)),
                fixed: false,
            },
        ]
    );
    let names: Vec<String> = g.signature.inputs.iter().map(|s| s.to_string()).collect();
    assert_eq!(
        names,
        [
            "x: f32[batch, 3]",
            "n: i64[]",
            "alpha: f64[]",
            "flag: bool[]"
        ]
    );
    // The section is required, and a streaming reader sees the same graph.
    let h = parse_header(&bytes, &Limits::default()).unwrap();
    let e = h.section(SectionKind::ScalarInputs).unwrap();
    assert!(e.required);
    let mut sp = StreamParser::new(Limits::default());
    for piece in bytes.chunks(7) {
        sp.feed(piece).unwrap();
    }
    let (g2, _) = sp.finish().unwrap();
    assert_eq!(g2.scalar_inputs, g.scalar_inputs);
}

#[test]
fn scalar_inputs_round_trip_as_1_1_bit_for_bit() {
    let mut g = graph();
    g.scalar_inputs = scalars();
    g.scalar_inputs[0].default = Some(Scalar::Int(i64::MIN));
    let (bytes, _) = write_file(&g, &[]).unwrap();
    let back = parse(&bytes).unwrap();
    assert_eq!(back.version, (1, 1));
    assert_eq!(back.scalar_inputs, g.scalar_inputs);
    // -0.0 survives as -0.0 (IEEE equality would accept +0.0).
    match back.scalar_inputs[1].default {
        Some(Scalar::Float(f)) => assert_eq!(f.to_bits(), (-0.0f64).to_bits()),
        other => panic!("{other:?}"),
    }
    let mut nan = g.clone();
    nan.scalar_inputs[1].default = Some(Scalar::Float(f64::from_bits(0x7ff8_0000_dead_beef)));
    let back = parse(&write_file(&nan, &[]).unwrap().0).unwrap();
    wasm_torch_format::assert_bit_eq!(back.scalar_inputs[1], nan.scalar_inputs[1]);
}

#[test]
fn fixed_inputs_round_trip_and_need_a_value() {
    let mut g = graph();
    g.scalar_inputs = scalars();
    g.scalar_inputs[2].fixed = true;
    let back = parse(&write_file(&g, &[]).unwrap().0).unwrap();
    assert_eq!(back.scalar_inputs, g.scalar_inputs);
    // A fixed input without a value cannot be written as bytes (tag 0 has no value), so
    // only an in-memory graph can hold one; the writer then writes "no default".
    g.scalar_inputs[0].fixed = true;
    let back = parse(&write_file(&g, &[]).unwrap().0).unwrap();
    assert!(!back.scalar_inputs[0].fixed);
}

#[test]
fn graphs_without_scalar_inputs_stay_1_0() {
    let (bytes, _) = write_file(&graph(), &[]).unwrap();
    assert_eq!(&bytes[8..12], &[1, 0, 0, 0]);
    let h = parse_header(&bytes, &Limits::default()).unwrap();
    assert!(h.section(SectionKind::ScalarInputs).is_none());
    assert!(parse(&bytes).unwrap().scalar_inputs.is_empty());
}

#[test]
fn section_11_in_a_1_0_file_is_an_unknown_section() {
    for required in [true, false] {
        let opts = WriteOptions {
            version: (1, 0),
            extra_sections: vec![ExtraSection {
                id: 11,
                required,
                payload: vec![0xff; 3],
            }],
            appended: vec![],
        };
        let bytes = write_file_with(&graph(), &[], &opts).unwrap().0;
        match parse(&bytes) {
            Err(e) if required => {
                assert_eq!(e.kind, ErrorKind::BadSectionTable, "{e}");
                assert!(e.to_string().contains("unknown section id 11"), "{e}");
            }
            Ok(g) if !required => assert!(g.scalar_inputs.is_empty()),
            other => panic!("required={required}: {other:?}"),
        }
    }
}

#[test]
fn newer_minor_may_append_fields_to_the_section() {
    let mut g = graph();
    g.scalar_inputs = scalars();
    let opts = WriteOptions {
        version: (1, 7),
        extra_sections: vec![],
        appended: vec![(11, vec![9, 9, 9])],
    };
    let bytes = write_file_with(&g, &[], &opts).unwrap().0;
    assert_eq!(parse(&bytes).unwrap().scalar_inputs, g.scalar_inputs);
    // The same bytes in a file that claims 1.1 are an error.
    let opts = WriteOptions {
        version: (1, 1),
        ..opts
    };
    let bytes = write_file_with(&g, &[], &opts).unwrap().0;
    let e = parse(&bytes).unwrap_err();
    assert_eq!(e.kind, ErrorKind::TrailingBytes, "{e}");
    assert_eq!(e.section, Some(SectionKind::ScalarInputs));
}

fn refused(g: &Graph) -> wasm_torch_format::FormatError {
    let (bytes, _) = write_file(g, &[]).unwrap();
    let e = parse(&bytes).unwrap_err();
    assert_eq!(e.section, Some(SectionKind::ScalarInputs), "{e}");
    e
}

#[test]
fn inconsistent_scalar_inputs_are_refused() {
    let mut g = graph();
    g.scalar_inputs = scalars();
    g.scalar_inputs[2].input = 4;
    let e = refused(&g);
    assert_eq!(e.kind, ErrorKind::IndexOutOfRange, "{e}");
    assert!(
        e.to_string().contains("input 4 >= 4 signature inputs"),
        "{e}"
    );

    // Listed twice / out of order.
    let mut g = graph();
    g.scalar_inputs = scalars();
    g.scalar_inputs.swap(0, 1);
    let e = refused(&g);
    assert_eq!(e.kind, ErrorKind::Inconsistent, "{e}");
    assert!(e.to_string().contains("strictly increasing"), "{e}");
    let mut g = graph();
    g.scalar_inputs = vec![scalars()[0].clone(), scalars()[0].clone()];
    assert_eq!(refused(&g).kind, ErrorKind::Inconsistent);

    // The signature entry disagrees: a tensor input, a wrong dtype, a rank > 0.
    for (input, kind) in [
        (0, ScalarKind::Float),
        (1, ScalarKind::Float),
        (2, ScalarKind::Bool),
    ] {
        let mut g = graph();
        g.scalar_inputs = vec![ScalarInput {
            input,
            kind,
            default: None,
            fixed: false,
        }];
        let e = refused(&g);
        assert_eq!(e.kind, ErrorKind::Inconsistent, "{e}");
        assert!(e.to_string().contains("signature entry is not"), "{e}");
    }
    let mut g = graph();
    g.signature.inputs[1].shape = vec![Dim::Fixed(1)];
    g.scalar_inputs = vec![scalars()[0].clone()];
    assert_eq!(refused(&g).kind, ErrorKind::Inconsistent);

    // A default of another kind: the bytes cannot say so (the value is read by the input's
    // kind), so a writer that tries produces a section that does not parse.
    let mut g = graph();
    g.scalar_inputs = scalars();
    g.scalar_inputs[2].default = Some(Scalar::Int(1));
    let e = refused(&g);
    assert_eq!(e.kind, ErrorKind::TrailingBytes, "{e}");
}

#[test]
fn hostile_section_bytes_give_typed_errors() {
    // count 1, input 1, kind 1 (int), has_default 1, i64 7.
    let good = [
        vec![1, 0, 0, 0, 1, 0, 0, 0, 1, 1],
        7i64.to_le_bytes().to_vec(),
    ]
    .concat();
    let g = parse(&with_payload(good.clone())).unwrap();
    assert_eq!(g.scalar_inputs[0].default, Some(Scalar::Int(7)));

    // Every proper prefix is truncated.
    for n in 0..good.len() {
        let e = parse(&with_payload(good[..n].to_vec())).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Truncated, "prefix {n}: {e}");
        assert_eq!(e.section, Some(SectionKind::ScalarInputs));
    }
    let case = |at: usize, byte: u8| {
        let mut p = good.clone();
        p[at] = byte;
        parse(&with_payload(p))
    };
    // Unknown kinds.
    for k in [0u8, 4, 0xff] {
        let e = case(8, k).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidCode, "{e}");
        assert!(e.to_string().contains("unknown scalar kind"), "{e}");
    }
    // Default tags: 2 (fixed) is valid, 3 and up are not.
    let g = case(9, 2).unwrap();
    assert!(g.scalar_inputs[0].fixed);
    for t in [3u8, 0xff] {
        let e = case(9, t).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidCode, "{e}");
        assert!(e.to_string().contains("unknown default tag"), "{e}");
    }
    // A bool default byte that is not 0/1.
    let mut p = good[..10].to_vec();
    p[8] = 3;
    p.push(2);
    assert_eq!(
        parse(&with_payload(p)).unwrap_err().kind,
        ErrorKind::InvalidCode
    );
    // An absurd count is refused before anything is allocated for it.
    let e = case(3, 0x7f).unwrap_err();
    assert!(
        matches!(e.kind, ErrorKind::LimitExceeded | ErrorKind::Truncated),
        "{e}"
    );
    // Trailing bytes in a 1.1 file.
    let e = parse(&with_payload([good.clone(), vec![0]].concat())).unwrap_err();
    assert_eq!(e.kind, ErrorKind::TrailingBytes, "{e}");

    // Every single-byte value at every position: never a panic; what parses is valid.
    for at in 0..good.len() {
        for byte in [0u8, 1, 2, 3, 4, 0x7f, 0x80, 0xff] {
            if let Ok(g) = case(at, byte) {
                for s in &g.scalar_inputs {
                    let spec = &g.signature.inputs[s.input as usize];
                    assert_eq!(spec.dtype, s.kind.dtype());
                    assert!(spec.shape.is_empty());
                }
            }
        }
    }
}
