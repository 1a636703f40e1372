//! Structured round trip: an arbitrary valid model (built from fuzzer bytes by the packer's
//! test generator) → pack with arbitrary options → parse (whole and streamed) → equal, with
//! constants and graphs compared bit for bit (`BitEq`).
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use wasm_torch_format::{assert_bit_eq, decode_all, parse_file, Limits, StreamParser};
use wasm_torch_packer::{pack, testgen, Compression, PackOptions, WeightEncoding};

#[derive(Arbitrary, Debug)]
struct Input {
    chunk_target: u16,
    compression: u8,
    level: u8,
    piece: u8,
    model: Vec<u8>,
}

fuzz_target!(|input: Input| {
    let ir = testgen::model(&input.model);
    let opts = PackOptions {
        chunk_target: input.chunk_target as usize + 1,
        compression: [Compression::Auto, Compression::Never, Compression::Always]
            [input.compression as usize % 3],
        zstd_level: 1 + (input.level % 6) as i32,
    };
    let bytes = pack(&ir, &opts).expect("generated models are valid");
    let l = Limits::default();
    let g = parse_file(&bytes, &l).expect("packed files parse");
    assert_eq!(g.metadata, ir.metadata);
    assert_eq!(g.signature, ir.signature);
    assert_eq!(g.ops, ir.ops);
    assert_eq!(g.functions, ir.functions);
    assert_eq!(g.assets, ir.assets);
    assert_bit_eq!(g.constants, ir.constants);
    assert_eq!(g.tensors.len(), ir.weights.len());
    let arena = decode_all(&bytes, &g, &l).expect("packed chunks decode");
    for (t, w) in g.tensors.iter().zip(&ir.weights) {
        assert_eq!((&t.name, t.dtype, &t.shape), (&w.name, w.dtype, &w.shape));
        if w.encoding == WeightEncoding::AsIs {
            assert_eq!(arena.tensor(&g, t).expect("tensor in arena"), &w.data[..]);
        }
    }
    let mut sp = StreamParser::new(l);
    for p in bytes.chunks(input.piece as usize + 1) {
        sp.feed(p).expect("stream accepts a valid file");
    }
    let (g2, a2) = sp.finish().expect("stream completes");
    assert_bit_eq!(g2, g);
    assert_eq!(a2, arena);
});
