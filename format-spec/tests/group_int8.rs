//! Group-wise int8 weights (quantization tag 4, format 1.1; SPEC.md §4.6.2): the tag
//! round-trips, raises the written version to 1.1, and validation refuses a bad group, a
//! wrong stored dtype or a wrong byte count with typed errors (unknown tags: the unit tests
//! of the tensor-table section).

use wasm_torch_format::model::*;
use wasm_torch_format::{parse_file, write_file, Limits};

/// A graph returning its input, holding one `[rows, k]` f32 tensor quantized `q` in one
/// stored chunk of `nbytes` bytes.
fn graph(rows: u64, k: u64, q: Quantization, stored: DType, nbytes: u64) -> (Graph, Vec<u8>) {
    let spec = ValueSpec {
        name: "x".into(),
        dtype: DType::F32,
        shape: vec![Dim::Fixed(2)],
    };
    let chunk = vec![7u8; nbytes as usize];
    let g = Graph {
        signature: Signature {
            inputs: vec![spec.clone()],
            outputs: vec![spec],
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
        tensors: vec![TensorInfo {
            name: "w".into(),
            dtype: DType::F32,
            shape: vec![rows, k],
            layout: Layout::Contiguous,
            stored_dtype: stored,
            quantization: q,
            chunk: 0,
            offset: 0,
            nbytes,
        }],
        chunks: vec![ChunkInfo {
            codec: Codec::Stored,
            file_offset: 0,
            stored_len: nbytes,
            arena_offset: 0,
            decoded_len: nbytes,
            crc32: 0,
        }],
        arena_size: nbytes.div_ceil(64) * 64,
        ..Graph::default()
    };
    (g, chunk)
}

#[test]
fn group_int8_round_trips_as_tag_4_in_a_1_1_file() {
    let q = Quantization::GroupInt8 { group: 32 };
    // 3 rows × 64: 192 codes + 6 groups × 2 scale bytes.
    assert_eq!(q.stored_nbytes(&[3, 64], DType::U8), Some(192 + 12));
    assert_eq!(q.stored_nbytes(&[3, 48], DType::U8), None);
    let (g, chunk) = graph(3, 64, q.clone(), DType::U8, 204);
    let (bytes, _) = write_file(&g, &[&chunk]).unwrap();
    assert_eq!(&bytes[8..12], &[1, 0, 1, 0], "a 1.1 file");
    let back = parse_file(&bytes, &Limits::default()).unwrap();
    assert_eq!(back.tensors[0].quantization, q);
}

#[test]
fn bad_group_int8_tensors_are_refused() {
    let cases: Vec<(Quantization, u64, DType, u64, &str)> = vec![
        // group not a multiple of 32 / too large / not dividing the row
        (
            Quantization::GroupInt8 { group: 48 },
            96,
            DType::U8,
            96 + 4,
            "group size 48",
        ),
        (
            Quantization::GroupInt8 { group: 512 },
            512,
            DType::U8,
            514,
            "group size 512",
        ),
        (
            Quantization::GroupInt8 { group: 0 },
            64,
            DType::U8,
            64,
            "group size 0",
        ),
        (
            Quantization::GroupInt8 { group: 64 },
            96,
            DType::U8,
            100,
            "group size 64",
        ),
        // wrong stored dtype
        (
            Quantization::GroupInt8 { group: 32 },
            64,
            DType::I8,
            68,
            "stored as u8",
        ),
        // wrong byte count (the scales missing)
        (
            Quantization::GroupInt8 { group: 32 },
            64,
            DType::U8,
            64,
            "nbytes",
        ),
    ];
    for (q, k, stored, nbytes, want) in cases {
        let (g, chunk) = graph(1, k, q, stored, nbytes);
        let msg = match write_file(&g, &[&chunk]) {
            Ok((bytes, _)) => parse_file(&bytes, &Limits::default())
                .unwrap_err()
                .to_string(),
            Err(e) => e.to_string(),
        };
        assert!(msg.contains(want), "{want}: {msg}");
    }
}
