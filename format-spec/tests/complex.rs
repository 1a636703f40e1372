//! The complex dtype `c64` (code 11, format 1.1; SPEC.md §1.3): it round-trips through the
//! writer and parser and raises the written version to 1.1 wherever it appears; codes past
//! it stay unknown.

use wasm_torch_format::model::*;
use wasm_torch_format::{parse_file, write_file, Limits};

fn spec(name: &str, dtype: DType) -> ValueSpec {
    ValueSpec {
        name: name.into(),
        dtype,
        shape: vec![Dim::Fixed(2)],
    }
}

/// `return x` with `x: dtype_in[2]` and output `y: dtype_out[2]`, plus `constants`.
fn graph(dtype_in: DType, dtype_out: DType, constants: Vec<ConstValue>) -> Graph {
    Graph {
        signature: Signature {
            inputs: vec![spec("x", dtype_in)],
            outputs: vec![spec("y", dtype_out)],
        },
        functions: vec![Function {
            name: "forward".into(),
            num_registers: 1,
            params: vec![0],
            register_names: vec![],
            code: vec![Instr::Return {
                values: vec![Operand::Reg(0)],
            }],
        }],
        constants,
        ..Graph::default()
    }
}

#[test]
fn c64_is_code_11_of_eight_bytes() {
    assert_eq!(DType::C64.code(), 11);
    assert_eq!(DType::C64.size(), 8);
    assert_eq!(DType::from_code(11), Some(DType::C64));
    assert_eq!(DType::from_name("c64"), Some(DType::C64));
    assert!(DType::C64.is_complex() && !DType::C64.is_float());
    assert_eq!(DType::from_code(12), None);
}

#[test]
fn complex_anywhere_makes_the_file_1_1_and_round_trips() {
    let pair = InlineTensor {
        dtype: DType::C64,
        shape: vec![1],
        data: [1.5f32, -2.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect(),
    };
    let cases = [
        graph(DType::F32, DType::F32, vec![]),
        graph(DType::C64, DType::F32, vec![]),
        graph(DType::F32, DType::C64, vec![]),
        graph(
            DType::F32,
            DType::F32,
            vec![ConstValue::Tensor(pair.clone())],
        ),
        graph(
            DType::F32,
            DType::F32,
            vec![ConstValue::List(vec![ConstValue::Tensor(pair)])],
        ),
    ];
    for (i, g) in cases.iter().enumerate() {
        let (bytes, _) = write_file(g, &[]).unwrap();
        let want = if i == 0 { 0 } else { 1 };
        assert_eq!(&bytes[8..12], &[1, 0, want, 0], "case {i}");
        let back = parse_file(&bytes, &Limits::default()).unwrap();
        assert_eq!(back.signature, g.signature, "case {i}");
        assert_eq!(back.constants, g.constants, "case {i}");
    }
}
