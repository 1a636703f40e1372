//! Property tests: arbitrary valid models survive pack → parse unchanged, and the streaming
//! parser with arbitrary piece sizes produces exactly what the whole-file parser does.

use proptest::prelude::*;
use wasm_torch_format::*;
use wasm_torch_packer::*;

fn opts_from(sel: u8) -> PackOptions {
    PackOptions {
        chunk_target: [1usize, 64, 200, 4 << 20][(sel & 3) as usize],
        compression: [Compression::Auto, Compression::Never, Compression::Always]
            [(sel >> 2) as usize % 3],
        zstd_level: 1 + (sel >> 4) as i32 % 5,
    }
}

/// Decoded logical values of a tensor as f32 (for f16) from the arena.
fn check_weight(t: &TensorInfo, w: &WeightIr, bytes: &[u8]) {
    assert_eq!(t.name, w.name);
    assert_eq!(t.dtype, w.dtype);
    assert_eq!(t.shape, w.shape);
    match w.encoding {
        WeightEncoding::AsIs => assert_eq!(bytes, &w.data[..]),
        WeightEncoding::F16 => {
            assert_eq!(t.stored_dtype, DType::F16);
            for (h, f) in bytes.chunks_exact(2).zip(w.data.chunks_exact(4)) {
                let x = f32::from_le_bytes([f[0], f[1], f[2], f[3]]);
                let y = half::f16::from_le_bytes([h[0], h[1]]).to_f32();
                assert_eq!(y, half::f16::from_f32(x).to_f32());
            }
        }
        WeightEncoding::Int8PerTensor | WeightEncoding::Int8PerChannel { .. } => {
            assert_eq!(t.stored_dtype, DType::I8);
            assert_eq!(bytes.len() * 4, w.data.len());
        }
        WeightEncoding::Int4 { group, offsets } => {
            assert_eq!(t.stored_dtype, DType::U8);
            assert_eq!(t.quantization, Quantization::GroupInt4 { group, offsets });
            let numel = w.data.len() / 4;
            let per_group = if offsets { 4 } else { 2 };
            assert_eq!(bytes.len(), numel / 2 + numel / group as usize * per_group);
        }
        WeightEncoding::Int8Stored { .. } => {
            assert_eq!(t.stored_dtype, DType::I8);
            assert_eq!(bytes, &w.data[..bytes.len()]);
        }
        WeightEncoding::Int8Group { group } => {
            assert_eq!(t.stored_dtype, DType::U8);
            assert_eq!(t.quantization, Quantization::GroupInt8 { group });
            let numel = w.data.len() / 4;
            assert_eq!(bytes.len(), numel + numel / group as usize * 2);
        }
        WeightEncoding::Int4Stored { .. } | WeightEncoding::Int8GroupStored { .. } => {
            assert_eq!(bytes, &w.data[..])
        }
    }
}

/// True when a signature entry, tensor or inline constant tensor of `g` is complex.
fn has_complex(g: &wasm_torch_format::Graph) -> bool {
    fn in_const(c: &wasm_torch_format::ConstValue) -> bool {
        match c {
            wasm_torch_format::ConstValue::Tensor(t) => t.dtype.is_complex(),
            wasm_torch_format::ConstValue::List(items) => items.iter().any(in_const),
            _ => false,
        }
    }
    let sig = g.signature.inputs.iter().chain(&g.signature.outputs);
    sig.map(|v| v.dtype).any(|d| d.is_complex())
        || g.tensors
            .iter()
            .any(|t| t.dtype.is_complex() || t.stored_dtype.is_complex())
        || g.states.iter().any(|s| s.dtype.is_complex())
        || g.constants.iter().any(in_const)
}

fn pieces(len: usize, cuts: &[u16]) -> Vec<std::ops::Range<usize>> {
    let mut out = vec![];
    let mut pos = 0;
    let mut k = 0;
    while pos < len {
        // Mix tiny and large pieces, including empty ones.
        let c = cuts.get(k % cuts.len().max(1)).copied().unwrap_or(1) as usize;
        let mut n = if c % 5 == 0 { c % 3 } else { c % 300 };
        if k % 2 == 1 {
            n = n.max(1); // at most every other piece is empty, so the loop ends
        }
        out.push(pos..(pos + n).min(len));
        pos = (pos + n).min(len);
        k += 1;
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn pack_parse_roundtrip(seed in proptest::collection::vec(any::<u8>(), 0..600), sel in any::<u8>(),
                            cuts in proptest::collection::vec(any::<u16>(), 1..20)) {
        let ir = testgen::model(&seed);
        let bytes = pack(&ir, &opts_from(sel)).expect("generated models are valid");
        let l = Limits::default();
        let g = parse_file(&bytes, &l).unwrap();
        prop_assert_eq!(&g.metadata, &ir.metadata);
        prop_assert_eq!(&g.signature, &ir.signature);
        prop_assert_eq!(&g.ops, &ir.ops);
        prop_assert_eq!(&g.functions, &ir.functions);
        prop_assert_eq!(&g.assets, &ir.assets);
        prop_assert!(g.constants.bit_eq(&ir.constants), "{:?}\n{:?}", g.constants, ir.constants);
        prop_assert!(g.scalar_inputs.bit_eq(&ir.scalar_inputs), "{:?}\n{:?}", g.scalar_inputs, ir.scalar_inputs);
        prop_assert_eq!(g.tensors.len(), ir.weights.len());
        let arena = decode_all(&bytes, &g, &l).unwrap();
        for (t, w) in g.tensors.iter().zip(&ir.weights) {
            check_weight(t, w, arena.tensor(&g, t).unwrap());
        }
        // Scalar inputs, assets and the complex dtype (format 1.1) raise the minor; anything
        // else here is 1.0.
        let minor = u16::from(!ir.scalar_inputs.is_empty() || !ir.assets.is_empty() || has_complex(&g));
        // Streaming with arbitrary piece boundaries and arena segmentation == whole file,
        // incl. every chunk's bytes; every tensor stays 64-byte aligned in memory.
        let seg = [0u64, 64, 256, 4096, SEGMENT_TARGET][cuts[0] as usize % 5];
        let mut sp = StreamParser::new(l.clone()).with_segment_target(seg);
        let mut events = vec![];
        for r in pieces(bytes.len(), &cuts) {
            events.extend(sp.feed(&bytes[r]).unwrap());
        }
        let ready: Vec<u32> = events.iter().filter_map(|e| match e { StreamEvent::ChunkReady(i) => Some(*i), _ => None }).collect();
        prop_assert_eq!(ready, (0..g.chunks.len() as u32).collect::<Vec<_>>());

        prop_assert_eq!(events.first(), Some(&StreamEvent::HeaderReady { version: (1, minor), total_len: bytes.len() as u64 }));
        prop_assert_eq!(events.last(), Some(&StreamEvent::Done));
        prop_assert_eq!(sp.bytes_consumed(), bytes.len() as u64);
        let (g2, a2) = sp.finish().unwrap();
        prop_assert!(g2.bit_eq(&g), "stream {:?}\nwhole {:?}", g2, g);
        prop_assert_eq!(&a2, &arena);
        for t in &g.tensors {
            prop_assert_eq!(a2.tensor(&g, t).unwrap().as_ptr() as usize % 64, 0);
        }
        prop_assert!(a2.segment_count() <= g.chunks.len());
    }

    /// Corrupting any value (with checksums refreshed so the corruption reaches the grammar)
    /// never panics, and both drivers agree on accept/reject.
    #[test]
    fn corrupted_values_never_panic_and_drivers_agree(seed in proptest::collection::vec(any::<u8>(), 0..300),
                                                      sel in any::<u8>(), at in any::<u32>(), val in any::<u8>(),
                                                      piece in 1usize..50) {
        let ir = testgen::model(&seed);
        let mut bytes = pack(&ir, &opts_from(sel)).unwrap();
        let i = at as usize % bytes.len();
        bytes[i] = val;
        let _ = refresh_checksums(&mut bytes);
        let l = Limits { max_arena: 1 << 24, max_chunk_decoded: 1 << 24, ..Limits::default() };
        let whole = parse_file(&bytes, &l).and_then(|g| decode_all(&bytes, &g, &l).map(|a| (g, a)));
        let mut sp = StreamParser::new(l);
        let mut res = Ok(());
        for p in bytes.chunks(piece) {
            if let Err(e) = sp.feed(p) { res = Err(e); break; }
        }
        let streamed = res.and_then(|_| sp.finish());
        match (whole, streamed) {
            (Ok((g, a)), Ok((g2, a2))) => { prop_assert!(g.bit_eq(&g2), "whole {:?}\nstream {:?}", g, g2); prop_assert_eq!(a, a2); }
            (Err(_), Err(_)) => {}
            (w, s) => prop_assert!(false, "drivers disagree: whole {:?} stream {:?}", w.map(|_| ()), s.map(|_| ())),
        }
    }
}

/// The generator must actually exercise the format (otherwise the properties above prove
/// little): over many seeds it produces every instruction kind, weights, several chunks,
/// both codecs and quantized weights.
#[test]
fn generator_covers_the_format() {
    let mut state = 0x9e3779b97f4a7c15u64;
    let mut seen = std::collections::HashSet::new();
    let (mut zstd, mut stored, mut multi_chunk, mut quant) = (0, 0, 0, 0);
    for _ in 0..300 {
        let seed: Vec<u8> = (0..400)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        let ir = testgen::model(&seed);
        for f in &ir.functions {
            for i in &f.code {
                seen.insert(std::mem::discriminant(i));
            }
        }
        let bytes = pack(
            &ir,
            &PackOptions {
                chunk_target: 64,
                ..PackOptions::default()
            },
        )
        .unwrap();
        let g = parse_file(&bytes, &Limits::default()).unwrap();
        zstd += g.chunks.iter().filter(|c| c.codec == Codec::Zstd).count();
        stored += g.chunks.iter().filter(|c| c.codec == Codec::Stored).count();
        multi_chunk += (g.chunks.len() > 1) as usize;
        quant += g
            .tensors
            .iter()
            .filter(|t| t.quantization != Quantization::None)
            .count();
    }
    assert_eq!(seen.len(), 11, "all 11 instruction kinds generated");
    assert!(
        zstd > 20 && stored > 20 && multi_chunk > 20 && quant > 10,
        "{zstd} {stored} {multi_chunk} {quant}"
    );
}
