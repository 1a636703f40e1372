//! The v1.0 golden files must parse, forever, to these values (whole-file and streaming).
//! They were written by `packer/tests/golden.rs`; never regenerate them for a v1.x reader
//! change — a reader that stops accepting them broke compatibility.

use wasm_torch_format::*;

fn read(name: &str) -> Vec<u8> {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    std::fs::read(p).unwrap()
}

/// Whole-file parse + decode, checked equal (floats bit for bit) to a 1-byte-piece stream
/// parse.
fn load(bytes: &[u8]) -> (Graph, Arena) {
    let l = Limits::default();
    let g = parse_file(bytes, &l).unwrap();
    let arena = decode_all(bytes, &g, &l).unwrap();
    let mut sp = StreamParser::new(l);
    let mut events = vec![];
    for b in bytes {
        events.extend(sp.feed(std::slice::from_ref(b)).unwrap());
    }
    assert_eq!(events.len(), 3 + g.chunks.len());
    let (g2, a2) = sp.finish().unwrap();
    assert_bit_eq!(g2, g);
    assert_eq!(a2, arena);
    // One segment per chunk places chunks differently but holds the same bytes.
    assert_eq!(
        decode_all_with(bytes, &g, &Limits::default(), 0).unwrap(),
        arena
    );
    (g, arena)
}

fn tensor<'a>(g: &Graph, arena: &'a Arena, name: &str) -> (&'a [u8], TensorInfo) {
    let t = g.tensors.iter().find(|t| t.name == name).unwrap().clone();
    let r = tensor_arena_range(g, &t).unwrap();
    assert_eq!(r.start % 64, 0);
    let b = arena.tensor(g, &t).unwrap();
    assert_eq!(b.len(), r.len());
    assert_eq!(
        b.as_ptr() as usize % 64,
        0,
        "tensors are 64-byte aligned in memory"
    );
    (b, t)
}

fn f32s(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

#[test]
fn tiny_v1_0() {
    let bytes = read("tiny_v1_0.wtb");
    assert_eq!(bytes.len(), 776);
    let (g, arena) = load(&bytes);
    assert_eq!(g.version, (1, 0));
    assert_eq!(g.metadata.producer, "wasm-torch-packer");
    assert_eq!(g.metadata.model_name, "tiny");
    assert_eq!(g.signature.inputs[0].name, "x");
    assert_eq!(
        g.signature.inputs[0].shape,
        vec![Dim::Symbolic("batch".into()), Dim::Fixed(3)]
    );
    assert_eq!(g.signature.outputs[0].shape[1], Dim::Fixed(2));
    assert_eq!(g.ops, vec!["aten::linear.default", "aten::relu.default"]);
    assert_eq!(g.functions.len(), 1);
    let f = &g.functions[0];
    assert_eq!(
        (f.name.as_str(), f.num_registers, f.params.as_slice()),
        ("forward", 3, &[0][..])
    );
    assert_eq!(
        f.code,
        vec![
            Instr::CallOp {
                op: 0,
                args: vec![Operand::Reg(0), Operand::Weight(0), Operand::Weight(1)],
                outputs: vec![1]
            },
            Instr::CallOp {
                op: 1,
                args: vec![Operand::Reg(1)],
                outputs: vec![2]
            },
            Instr::Return {
                values: vec![Operand::Reg(2)]
            },
        ]
    );
    assert!(g.constants.is_empty());
    assert_eq!(g.chunks.len(), 1);
    assert_eq!(g.chunks[0].codec, Codec::Stored);
    assert_eq!(g.chunks[0].file_offset, 704);
    assert_eq!(g.arena_size, 128);
    let (w, t) = tensor(&g, &arena, "fc.weight");
    assert_eq!(
        (t.shape.as_slice(), t.offset, t.nbytes),
        (&[2u64, 3][..], 0, 24)
    );
    assert_eq!(f32s(w), vec![0.5, 1.0, 1.5, -0.5, -1.0, -1.5]);
    let (b, t) = tensor(&g, &arena, "fc.bias");
    assert_eq!(t.offset, 64);
    assert_eq!(f32s(b), vec![0.25, -0.25]);
    // Stored chunk: viewable in place in the file bytes.
    assert_eq!(tensor_in_place(&bytes, &g, &g.tensors[1]).unwrap(), b);
}

#[test]
fn kitchen_sink_v1_0() {
    let bytes = read("kitchen_sink_v1_0.wtb");
    let (g, arena) = load(&bytes);
    assert_eq!(
        g.metadata.extra,
        vec![("license".to_string(), "MIT".to_string())]
    );
    assert_eq!(g.constants.len(), 9);
    assert_eq!(g.constants[3], ConstValue::Float(2.5));
    assert_eq!(g.constants[4], ConstValue::Str("tanh".into()));
    assert_eq!(
        g.constants[7],
        ConstValue::List(vec![
            ConstValue::Int(1),
            ConstValue::List(vec![ConstValue::None])
        ])
    );
    let ConstValue::Tensor(t) = &g.constants[8] else {
        panic!("tensor constant")
    };
    assert_eq!((t.dtype, t.shape.as_slice()), (DType::I64, &[2u64][..]));
    assert_eq!(i64::from_le_bytes(t.data[8..16].try_into().unwrap()), -4);
    assert_eq!(g.functions.len(), 2);
    assert_eq!(g.functions[0].code.len(), 11);
    assert_eq!(g.functions[0].register_names[7], "r7");
    assert_eq!(
        g.functions[0].code[7],
        Instr::Unpack {
            src: Operand::Reg(5),
            dsts: vec![6, 7]
        }
    );
    assert!(g.chunks.iter().any(|c| c.codec == Codec::Zstd));
    assert!(g.chunks.len() >= 3);

    let (h, t) = tensor(&g, &arena, "half");
    assert_eq!((t.dtype, t.stored_dtype), (DType::F32, DType::F16));
    assert_eq!(h, &[0x00, 0x3c, 0x00, 0xc0, 0x00, 0x38, 0xff, 0x7b]);

    let ramp: Vec<f32> = (0..64).map(|i| (i as f32 - 32.0) / 8.0).collect();
    let (q, t) = tensor(&g, &arena, "q.tensor");
    let Quantization::PerTensor { scale, zero_point } = t.quantization else {
        panic!()
    };
    assert_eq!(
        (scale, zero_point, t.stored_dtype),
        (4.0 / 127.0, 0, DType::I8)
    );
    for (&x, &s) in ramp.iter().zip(q) {
        assert!(((s as i8) as f32 * scale - x).abs() <= scale / 2.0 + 1e-6);
    }
    let (q, t) = tensor(&g, &arena, "q.channel");
    let Quantization::PerChannel {
        axis,
        scales,
        zero_points,
    } = &t.quantization
    else {
        panic!()
    };
    assert_eq!(
        (*axis, scales.len(), zero_points.as_slice()),
        (0, 8, &[0; 8][..])
    );
    assert_eq!(scales[0], 4.0 / 127.0);
    assert_eq!(scales[7], (31.0 / 8.0) / 127.0);
    for (i, (&x, &s)) in ramp.iter().zip(q).enumerate() {
        let sc = scales[i / 8];
        assert!(((s as i8) as f32 * sc - x).abs() <= sc / 2.0 + 1e-6);
    }
    let (ids, _) = tensor(&g, &arena, "ids");
    assert_eq!(i64::from_le_bytes(ids[8 * 7..8 * 8].try_into().unwrap()), 3);
    assert_eq!(tensor(&g, &arena, "mask").0, &[1, 0, 1]);
    assert_eq!(tensor(&g, &arena, "bf").0, &[0x80, 0x3f, 0x00, 0xc0]);
}
