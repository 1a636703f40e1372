//! Format 1.1 session state (SPEC.md §4.8): round trip, version rules, validation errors.

use wasm_torch_format::model::*;
use wasm_torch_format::{
    parse_file, write_file, write_file_with, ErrorKind, ExtraSection, Limits, SectionKind,
    WriteOptions,
};

/// `y = cache` after `cache.index_copy_(0, idx, x)`: one state, one weight (its initial
/// value in the tensor-initialised variant).
fn graph(init: StateInit, state_shape: Vec<u64>) -> (Graph, Vec<u8>) {
    let weight = TensorInfo {
        name: "cache_init".into(),
        dtype: DType::F32,
        shape: vec![4, 2],
        layout: Layout::Contiguous,
        stored_dtype: DType::F32,
        quantization: Quantization::None,
        chunk: 0,
        offset: 0,
        nbytes: 32,
    };
    let g = Graph {
        signature: Signature {
            inputs: vec![
                ValueSpec {
                    name: "idx".into(),
                    dtype: DType::I64,
                    shape: vec![Dim::Fixed(1)],
                },
                ValueSpec {
                    name: "x".into(),
                    dtype: DType::F32,
                    shape: vec![Dim::Fixed(1), Dim::Fixed(2)],
                },
            ],
            outputs: vec![ValueSpec {
                name: "y".into(),
                dtype: DType::F32,
                shape: vec![Dim::Fixed(4), Dim::Fixed(2)],
            }],
        },
        ops: vec!["aten::index_copy_.default".into()],
        functions: vec![Function {
            name: "forward".into(),
            num_registers: 3,
            params: vec![0, 1],
            register_names: vec![],
            code: vec![
                Instr::CallOp {
                    op: 0,
                    args: vec![
                        Operand::State(0),
                        Operand::Const(0),
                        Operand::Reg(0),
                        Operand::Reg(1),
                    ],
                    outputs: vec![2],
                },
                Instr::Return {
                    values: vec![Operand::Reg(2)],
                },
            ],
        }],
        constants: vec![ConstValue::Int(0)],
        tensors: vec![weight],
        chunks: vec![ChunkInfo {
            codec: Codec::Stored,
            file_offset: 0,
            stored_len: 0,
            arena_offset: 0,
            decoded_len: 32,
            crc32: 0,
        }],
        arena_size: 64,
        states: vec![StateInfo {
            name: "cache".into(),
            dtype: DType::F32,
            shape: state_shape,
            init,
        }],
        ..Graph::default()
    };
    (g, vec![0u8; 32])
}

#[test]
fn state_round_trips_as_version_1_1() {
    for init in [StateInit::Zeros, StateInit::Tensor(0)] {
        let (g, payload) = graph(init.clone(), vec![4, 2]);
        let (bytes, _) = write_file(&g, &[&payload]).unwrap();
        let back = parse_file(&bytes, &Limits::default()).unwrap();
        assert_eq!(back.version, (1, 1));
        assert_eq!(back.states, g.states);
        assert_eq!(back.functions, g.functions);
    }
}

#[test]
fn stateless_graphs_are_still_written_as_1_0() {
    let (mut g, payload) = graph(StateInit::Zeros, vec![4, 2]);
    g.states.clear();
    g.functions[0].code[0] = Instr::Return {
        values: vec![Operand::Reg(1)],
    };
    g.functions[0].code.truncate(1);
    g.signature.outputs[0].shape = vec![Dim::Fixed(1), Dim::Fixed(2)];
    let (bytes, _) = write_file(&g, &[&payload]).unwrap();
    assert_eq!(&bytes[8..12], &[1, 0, 0, 0], "major 1, minor 0");
    let back = parse_file(&bytes, &Limits::default()).unwrap();
    assert_eq!(back.version, (1, 0));
    assert!(back.states.is_empty());
}

#[test]
fn state_section_in_a_1_0_file_is_an_unknown_section() {
    // id 9 means nothing in 1.0: marked required, a 1.0 file carrying it is refused.
    let (mut g, payload) = graph(StateInit::Zeros, vec![4, 2]);
    g.states.clear();
    g.functions[0].code = vec![Instr::Return {
        values: vec![Operand::Reg(1)],
    }];
    g.signature.outputs[0].shape = vec![Dim::Fixed(1), Dim::Fixed(2)];
    let opts = WriteOptions {
        version: (1, 0),
        extra_sections: vec![ExtraSection {
            id: 9,
            required: true,
            payload: vec![0, 0, 0, 0],
        }],
        appended: vec![],
    };
    let (bytes, _) = write_file_with(&g, &[&payload], &opts).unwrap();
    let err = parse_file(&bytes, &Limits::default()).unwrap_err();
    assert_eq!(err.kind, ErrorKind::BadSectionTable, "{err}");
    assert!(err.to_string().contains("unknown section id 9"), "{err}");
}

fn refused(g: &Graph, payload: &[u8]) -> wasm_torch_format::FormatError {
    let (bytes, _) = write_file(g, &[payload]).unwrap();
    parse_file(&bytes, &Limits::default()).unwrap_err()
}

#[test]
fn state_of_wrong_shape_or_dtype_is_refused() {
    let (g, payload) = graph(StateInit::Tensor(0), vec![4, 3]);
    let err = refused(&g, &payload);
    assert_eq!(err.kind, ErrorKind::Inconsistent, "{err}");
    assert_eq!(err.section, Some(SectionKind::State));
    assert!(
        err.to_string().contains("initial value 'cache_init'"),
        "{err}"
    );

    let (mut g, payload) = graph(StateInit::Tensor(0), vec![4, 2]);
    g.states[0].dtype = DType::F16;
    let err = refused(&g, &payload);
    assert_eq!(err.kind, ErrorKind::Inconsistent, "{err}");
}

#[test]
fn dangling_state_references_are_refused() {
    let (g, payload) = graph(StateInit::Tensor(7), vec![4, 2]);
    let err = refused(&g, &payload);
    assert_eq!(err.kind, ErrorKind::IndexOutOfRange, "{err}");
    assert_eq!(err.section, Some(SectionKind::State));

    let (mut g, payload) = graph(StateInit::Zeros, vec![4, 2]);
    if let Instr::CallOp { args, .. } = &mut g.functions[0].code[0] {
        args[0] = Operand::State(1);
    }
    let err = refused(&g, &payload);
    assert_eq!(err.kind, ErrorKind::IndexOutOfRange, "{err}");
    assert!(err.to_string().contains("state 1 >= 1 states"), "{err}");
}

#[test]
fn huge_or_duplicate_states_are_refused() {
    let (g, payload) = graph(StateInit::Zeros, vec![1 << 40, 1 << 30]);
    let err = refused(&g, &payload);
    assert_eq!(err.kind, ErrorKind::LimitExceeded, "{err}");

    let (mut g, payload) = graph(StateInit::Zeros, vec![4, 2]);
    g.states.push(g.states[0].clone());
    let err = refused(&g, &payload);
    assert_eq!(err.kind, ErrorKind::Inconsistent, "{err}");
}
