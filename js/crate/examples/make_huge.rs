//! Writes a model with more weight bytes than one wasm32 allocation may hold (> 2 GiB), for
//! the "large model loads" test (`js/test/huge.test.mjs`). Streams to disk with the format's
//! [`write_file_to`]: one chunk in memory at a time, so building it needs ~one weight of RAM.
//!
//! ```text
//! cargo run --release -p wasm-torch-js --example make_huge -- PATH [COUNT] [ROWS]
//! ```
//!
//! The model (defaults COUNT = 10, ROWS = 61440, so 10 × 240 MiB = 2.34 GiB of f32):
//! - weights `w{k}`: f32 `[ROWS, 1024]`, `w{k}[r, c] = ((7r + 3c + 5k) mod 17) − 5` (small
//!   integers: every row sum below is exact in f32 whatever the summation order), each
//!   followed by `tag{k}`: f32 `[16]`, `tag{k}[i] = 1000k + i` (small tensors between big ones,
//!   so arena segments group several chunks);
//! - input `x`: f32 `[2]`; outputs, for each k: `rowsum{k} = w{k}.sum(dim=1)` (`[ROWS]`, reads
//!   every weight byte), `row{k} = w{k}[ROWS − 1 − 13k]` (`[1024]`, exact positions),
//!   `tag{k}`; then `y = x + 1`.
//!
//! Chunks are stored (uncompressed): the file is as large as the weights, the hardest case for
//! memory. The layout (chunks, alignment) is the packer's ([`wasm_torch_packer::layout`]).

use std::io::BufWriter;
use wasm_torch_format::{
    model::{ChunkInfo, Codec, Layout, Quantization, TensorInfo},
    write_file_to, ConstValue, DType, Dim, FormatError, Function, Graph, Instr, Metadata, Operand,
    Signature, ValueSpec, WriteOptions,
};
use wasm_torch_packer::layout::plan;

const COLS: u64 = 1024;
const TAG: u64 = 16;

fn spec(name: &str, shape: Vec<Dim>) -> ValueSpec {
    ValueSpec {
        name: name.into(),
        dtype: DType::F32,
        shape,
    }
}

/// The bytes of `w{k}` or `tag{k}` (tensor index `t` in table order).
fn tensor_bytes(t: usize, rows: u64) -> Vec<u8> {
    let k = (t / 2) as u64;
    if t % 2 == 1 {
        return (0..TAG)
            .flat_map(|i| ((1000 * k + i) as f32).to_le_bytes())
            .collect();
    }
    // Row r depends only on (7r + 5k) mod 17: build the 17 possible rows once.
    let patterns: Vec<Vec<u8>> = (0..17u64)
        .map(|a| {
            (0..COLS)
                .flat_map(|c| ((((a + 3 * c) % 17) as f32) - 5.0).to_le_bytes())
                .collect()
        })
        .collect();
    let mut out = Vec::with_capacity((rows * COLS * 4) as usize);
    for r in 0..rows {
        out.extend_from_slice(&patterns[((7 * r + 5 * k) % 17) as usize]);
    }
    out
}

fn graph(count: usize, rows: u64) -> (Graph, Vec<Vec<usize>>) {
    let shapes: Vec<Vec<u64>> = (0..2 * count)
        .map(|t| {
            if t % 2 == 0 {
                vec![rows, COLS]
            } else {
                vec![TAG]
            }
        })
        .collect();
    let sizes: Vec<u64> = shapes
        .iter()
        .map(|s| s.iter().product::<u64>() * 4)
        .collect();
    let p = plan(&sizes, 4 << 20);
    let tensors: Vec<TensorInfo> = shapes
        .iter()
        .zip(&p.placements)
        .enumerate()
        .map(|(t, (shape, pl))| TensorInfo {
            name: if t % 2 == 0 {
                format!("w{}", t / 2)
            } else {
                format!("tag{}", t / 2)
            },
            dtype: DType::F32,
            shape: shape.clone(),
            layout: Layout::Contiguous,
            stored_dtype: DType::F32,
            quantization: Quantization::None,
            chunk: pl.chunk,
            offset: pl.offset,
            nbytes: sizes[t],
        })
        .collect();
    let mut members = vec![Vec::new(); p.chunks.len()];
    for (t, pl) in p.placements.iter().enumerate() {
        members[pl.chunk as usize].push(t);
    }
    let chunks = p
        .chunks
        .iter()
        .map(|c| ChunkInfo {
            codec: Codec::Stored,
            file_offset: 0,
            stored_len: c.decoded_len,
            arena_offset: c.arena_offset,
            decoded_len: c.decoded_len,
            crc32: 0,
        })
        .collect();
    // Constants: 0 = [1] (dims), 1 = false, 2 = None, 3 = 0 (dim), 4 = 1 (scalar).
    let mut constants = vec![
        ConstValue::Ints(vec![1]),
        ConstValue::Bool(false),
        ConstValue::None,
        ConstValue::Int(0),
        ConstValue::Int(1),
    ];
    let mut code = Vec::new();
    let mut outputs = Vec::new();
    let mut values = Vec::new();
    let mut reg = 1u32; // r0 = x
    for k in 0..count {
        let w = Operand::Weight(2 * k as u32);
        code.push(Instr::CallOp {
            op: 0,
            args: vec![w, Operand::Const(0), Operand::Const(1), Operand::Const(2)],
            outputs: vec![reg],
        });
        constants.push(ConstValue::Int(rows as i64 - 1 - 13 * k as i64));
        code.push(Instr::CallOp {
            op: 1,
            args: vec![
                w,
                Operand::Const(3),
                Operand::Const(constants.len() as u32 - 1),
            ],
            outputs: vec![reg + 1],
        });
        values.extend([
            Operand::Reg(reg),
            Operand::Reg(reg + 1),
            Operand::Weight(2 * k as u32 + 1),
        ]);
        outputs.push(spec(&format!("rowsum{k}"), vec![Dim::Fixed(rows)]));
        outputs.push(spec(&format!("row{k}"), vec![Dim::Fixed(COLS)]));
        outputs.push(spec(&format!("tag{k}"), vec![Dim::Fixed(TAG)]));
        reg += 2;
    }
    code.push(Instr::CallOp {
        op: 2,
        args: vec![Operand::Reg(0), Operand::Const(4), Operand::Const(4)],
        outputs: vec![reg],
    });
    values.push(Operand::Reg(reg));
    outputs.push(spec("y", vec![Dim::Fixed(2)]));
    code.push(Instr::Return { values });
    let g = Graph {
        version: (1, 0),
        states: vec![],
        assets: vec![],
        metadata: Metadata {
            producer: "wasm-torch-js make_huge".into(),
            model_name: "huge".into(),
            ..Metadata::default()
        },
        signature: Signature {
            inputs: vec![spec("x", vec![Dim::Fixed(2)])],
            outputs,
        },
        ops: vec![
            "aten::sum.dim_IntList".into(),
            "aten::select.int".into(),
            "aten::add.Scalar".into(),
        ],
        functions: vec![Function {
            name: "forward".into(),
            num_registers: reg + 1,
            params: vec![0],
            register_names: vec![],
            code,
        }],
        constants,
        tensors,
        chunks,
        arena_size: p.arena_size,
    };
    (g, members)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(path), count, rows) = (
        args.first(),
        args.get(1).map_or(10, |a| a.parse().expect("COUNT")),
        args.get(2).map_or(61440, |a| a.parse().expect("ROWS")),
    ) else {
        eprintln!("usage: make_huge PATH [COUNT] [ROWS]");
        std::process::exit(2);
    };
    let (g, members) = graph(count, rows);
    let file = std::fs::File::create(path).expect("create output");
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let start = std::time::Instant::now();
    let written = write_file_to(
        &g,
        |ci| {
            let c = &g.chunks[ci];
            let mut buf = vec![0u8; c.decoded_len as usize];
            for &t in &members[ci] {
                let info = &g.tensors[t];
                let b = tensor_bytes(t, rows);
                let off = info.offset as usize;
                buf[off..off + b.len()].copy_from_slice(&b);
            }
            Ok::<_, FormatError>(buf)
        },
        &mut out,
        &WriteOptions::default(),
    )
    .expect("write the model");
    drop(out);
    let weights: u64 = written.tensors.iter().map(|t| t.nbytes).sum();
    println!(
        "{{\"path\":{:?},\"count\":{count},\"rows\":{rows},\"cols\":{COLS},\"weightBytes\":{weights},\"chunks\":{},\"arenaSize\":{},\"seconds\":{:.2}}}",
        path,
        written.chunks.len(),
        written.arena_size,
        start.elapsed().as_secs_f64()
    );
}
