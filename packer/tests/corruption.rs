//! Malformed input: every truncation and every bit flip of the header and graph is a clean,
//! quick error from both drivers; corrupted weights are caught by chunk CRCs; version rules.

use std::time::{Duration, Instant};
use wasm_torch_format::*;
use wasm_torch_packer::*;

/// A small model with a stored and a zstd chunk.
fn sample() -> Vec<u8> {
    let mut seed = vec![7u8; 64];
    seed.extend((0..200u32).map(|i| (i * 37 % 251) as u8));
    let mut ir = testgen::model(&seed);
    ir.weights.push(WeightIr {
        name: "noise".into(),
        dtype: DType::U8,
        shape: vec![100],
        data: (0..100u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect(),
        encoding: WeightEncoding::AsIs,
    });
    ir.weights.push(WeightIr {
        name: "zeros".into(),
        dtype: DType::I64,
        shape: vec![64],
        data: vec![0; 512],
        encoding: WeightEncoding::AsIs,
    });
    let opts = PackOptions {
        chunk_target: 128,
        ..PackOptions::default()
    };
    let bytes = pack(&ir, &opts).unwrap();
    let g = parse_file(&bytes, &Limits::default()).unwrap();
    assert!(g.chunks.iter().any(|c| c.codec == Codec::Zstd));
    assert!(g.chunks.iter().any(|c| c.codec == Codec::Stored));
    bytes
}

fn stream_all(bytes: &[u8], piece: usize) -> Result<(Graph, Arena), FormatError> {
    let mut sp = StreamParser::new(Limits::default());
    for p in bytes.chunks(piece.max(1)) {
        sp.feed(p)?;
    }
    sp.finish()
}

fn weights_offset(bytes: &[u8]) -> usize {
    parse_header(bytes, &Limits::default())
        .unwrap()
        .weights_offset() as usize
}

#[test]
fn every_truncation_is_an_error() {
    let bytes = sample();
    let mut slowest = Duration::ZERO;
    for cut in 0..bytes.len() {
        let t = Instant::now();
        let e = parse_file(&bytes[..cut], &Limits::default()).unwrap_err();
        assert!(
            matches!(e.kind, ErrorKind::Truncated | ErrorKind::BadMagic),
            "cut {cut}: {e}"
        );
        let e = stream_all(&bytes[..cut], 13).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Truncated, "cut {cut}: {e}");
        slowest = slowest.max(t.elapsed());
    }
    assert!(
        slowest < Duration::from_millis(200),
        "slowest case took {slowest:?}"
    );
    // Appending a byte is an error too.
    let mut longer = bytes.clone();
    longer.push(0);
    assert_eq!(
        parse_file(&longer, &Limits::default()).unwrap_err().kind,
        ErrorKind::TrailingBytes
    );
    assert_eq!(
        stream_all(&longer, 5).unwrap_err().kind,
        ErrorKind::TrailingBytes
    );
}

#[test]
fn every_bit_flip_in_header_and_graph_is_an_error() {
    let bytes = sample();
    let w = weights_offset(&bytes);
    let mut slowest = Duration::ZERO;
    let mut cases = 0;
    for i in 0..w {
        for bit in 0..8 {
            let mut b = bytes.clone();
            b[i] ^= 1 << bit;
            let t = Instant::now();
            let whole = parse_file(&b, &Limits::default());
            let streamed = stream_all(&b, 17);
            slowest = slowest.max(t.elapsed());
            // Padding between the last graph section and the weights is not covered by any
            // checksum (it carries no information), so a flip there is harmless.
            let h = parse_header(&bytes, &Limits::default()).unwrap();
            let in_padding = h
                .sections
                .iter()
                .all(|s| (i as u64) < s.offset || (i as u64) >= s.end())
                && i >= h.table_end() as usize;
            if in_padding {
                assert_bit_eq!(whole.unwrap(), streamed.unwrap().0);
            } else {
                assert!(whole.is_err(), "flip byte {i} bit {bit} accepted");
                assert!(
                    streamed.is_err(),
                    "stream: flip byte {i} bit {bit} accepted"
                );
            }
            cases += 1;
        }
    }
    assert!(cases > 1000);
    assert!(
        slowest < Duration::from_millis(200),
        "slowest case took {slowest:?}"
    );
}

#[test]
fn every_byte_flip_in_weights_is_caught_by_chunk_crcs() {
    let bytes = sample();
    let g = parse_file(&bytes, &Limits::default()).unwrap();
    for c in &g.chunks {
        for i in c.file_offset..c.file_offset + c.stored_len {
            let mut b = bytes.clone();
            b[i as usize] ^= 0xff;
            // The graph still parses; decoding the chunk fails.
            let g2 = parse_file(&b, &Limits::default()).unwrap();
            let e = decode_all(&b, &g2, &Limits::default()).unwrap_err();
            assert!(
                matches!(e.kind, ErrorKind::ChecksumMismatch | ErrorKind::Decompress),
                "{e}"
            );
            let e = stream_all(&b, 64).unwrap_err();
            assert!(matches!(
                e.kind,
                ErrorKind::ChecksumMismatch | ErrorKind::Decompress
            ));
        }
    }
}

#[test]
fn every_byte_value_with_fixed_checksums_never_panics() {
    // With CRCs recomputed, corrupted values reach the grammar and validation.
    let bytes = sample();
    let w = weights_offset(&bytes);
    let mut accepted = 0;
    for i in 0..w {
        for v in [0u8, 1, 0x7f, 0x80, 0xff] {
            let mut b = bytes.clone();
            b[i] = v;
            let _ = refresh_checksums(&mut b);
            let l = Limits::default();
            let whole = parse_file(&b, &l).and_then(|g| decode_all(&b, &g, &l).map(|_| g));
            if let Ok(g) = whole {
                accepted += 1;
                let s = stream_all(&b, 11).map(|(g, _)| g);
                let s = s.unwrap_or_else(|e| panic!("drivers disagree at byte {i}: stream {e}"));
                assert_bit_eq!(s, g, "drivers disagree at byte {i}");
            } else {
                assert!(stream_all(&b, 11).is_err(), "drivers disagree at byte {i}");
            }
        }
    }
    // Some changes are legitimately valid (a string byte, a float bit).
    assert!(accepted > 0);
}

fn patch_section(bytes: &mut [u8], kind: SectionKind, at: usize, new: &[u8]) {
    let h = parse_header(bytes, &Limits::default()).unwrap();
    let s = h.section(kind).unwrap().offset as usize + at;
    bytes[s..s + new.len()].copy_from_slice(new);
    refresh_checksums(bytes).unwrap();
}

#[test]
fn huge_declared_sizes_are_refused() {
    let bytes = sample();
    let l = Limits::default();
    let check = |b: &[u8], kind: ErrorKind| {
        let e = parse_file(b, &l).unwrap_err();
        assert_eq!(e.kind, kind, "{e}");
        assert!(!e.message.is_empty());
        let e = stream_all(b, 1000).unwrap_err();
        assert_eq!(e.kind, kind, "{e}");
    };
    // Op table count 2^32-1: over the limit.
    let mut b = bytes.clone();
    patch_section(&mut b, SectionKind::OpTable, 0, &u32::MAX.to_le_bytes());
    check(&b, ErrorKind::LimitExceeded);
    // Constant count 1M (within the limit) but the section is tiny: truncated, nothing reserved.
    let mut b = bytes.clone();
    patch_section(
        &mut b,
        SectionKind::Constants,
        0,
        &(1u32 << 20).to_le_bytes(),
    );
    check(&b, ErrorKind::Truncated);
    // Arena size 2^40.
    let mut b = bytes.clone();
    patch_section(&mut b, SectionKind::Chunks, 0, &(1u64 << 40).to_le_bytes());
    check(&b, ErrorKind::LimitExceeded);
    // A chunk that claims to decode to 2^40 bytes.
    let mut b = bytes.clone();
    patch_section(
        &mut b,
        SectionKind::Chunks,
        12 + 25,
        &(1u64 << 40).to_le_bytes(),
    );
    check(&b, ErrorKind::LimitExceeded);
    // Section count 2^32-1.
    let mut b = bytes.clone();
    b[24..28].copy_from_slice(&u32::MAX.to_le_bytes());
    check(&b, ErrorKind::LimitExceeded);
    // Total length 2^63.
    let mut b = bytes.clone();
    b[16..24].copy_from_slice(&(1u64 << 63).to_le_bytes());
    refresh_checksums(&mut b).unwrap();
    let e = parse_file(&b, &l).unwrap_err();
    assert!(
        matches!(e.kind, ErrorKind::Truncated | ErrorKind::TrailingBytes),
        "{e}"
    );
}

#[test]
fn limits_are_configurable() {
    let bytes = sample();
    let g = parse_file(&bytes, &Limits::default()).unwrap();
    let tight = Limits {
        max_arena: g.arena_size - 1,
        ..Limits::default()
    };
    assert_eq!(
        parse_file(&bytes, &tight).unwrap_err().kind,
        ErrorKind::LimitExceeded
    );
    let tight = Limits {
        max_graph_bytes: 100,
        ..Limits::default()
    };
    assert_eq!(
        parse_file(&bytes, &tight).unwrap_err().kind,
        ErrorKind::LimitExceeded
    );
}

fn rewrite_version(bytes: &mut [u8], major: u16, minor: u16) {
    bytes[8..10].copy_from_slice(&major.to_le_bytes());
    bytes[10..12].copy_from_slice(&minor.to_le_bytes());
    refresh_checksums(bytes).unwrap();
}

#[test]
fn version_rules() {
    let bytes = sample();
    // Unknown major: refused, naming both versions.
    let mut b = bytes.clone();
    rewrite_version(&mut b, 2, 3);
    let e = parse_file(&b, &Limits::default()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::UnsupportedVersion);
    assert!(
        e.message.contains("2.3") && e.message.contains(&format!("1.{FORMAT_MINOR}")),
        "{e}"
    );
    assert_eq!(
        stream_all(&b, 3).unwrap_err().kind,
        ErrorKind::UnsupportedVersion
    );

    let g = parse_file(&bytes, &Limits::default()).unwrap();
    let arena = decode_all(&bytes, &g, &Limits::default()).unwrap();
    let payloads: Vec<Vec<u8>> = g
        .chunks
        .iter()
        .map(|c| chunk_encoded(&bytes, c).unwrap().to_vec())
        .collect();
    let refs: Vec<&[u8]> = payloads.iter().map(|p| p.as_slice()).collect();
    // Newer minor with an unknown optional section: accepted, section skipped.
    let opts = WriteOptions {
        version: (1, 7),
        extra_sections: vec![ExtraSection {
            id: 300,
            required: false,
            payload: b"future stuff".to_vec(),
        }],
        ..WriteOptions::default()
    };
    let (b, _) = write_file_with(&g, &refs, &opts).unwrap();
    let g2 = parse_file(&b, &Limits::default()).unwrap();
    assert_eq!(g2.version, (1, 7));
    assert_eq!(g2.functions, g.functions);
    let (g3, a3) = stream_all(&b, 9).unwrap();
    assert_bit_eq!(g3, g2);
    assert_eq!(a3, arena);
    // Unknown required section: refused.
    let mut opts = opts;
    opts.extra_sections[0].required = true;
    let (b, _) = write_file_with(&g, &refs, &opts).unwrap();
    let e = parse_file(&b, &Limits::default()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::BadSectionTable);
    assert!(e.message.contains("300"), "{e}");
    assert_eq!(
        stream_all(&b, 9).unwrap_err().kind,
        ErrorKind::BadSectionTable
    );
}

#[test]
fn newer_minor_may_append_fields_to_known_sections() {
    let bytes = sample();
    let g = parse_file(&bytes, &Limits::default()).unwrap();
    let payloads: Vec<Vec<u8>> = g
        .chunks
        .iter()
        .map(|c| chunk_encoded(&bytes, c).unwrap().to_vec())
        .collect();
    let refs: Vec<&[u8]> = payloads.iter().map(|p| p.as_slice()).collect();
    let with = |minor: u16| {
        let opts = WriteOptions {
            version: (1, minor),
            appended: vec![
                (SectionKind::Metadata.id(), vec![1, 2, 3]),
                (SectionKind::Tensors.id(), vec![9]),
            ],
            ..WriteOptions::default()
        };
        write_file_with(&g, &refs, &opts).unwrap().0
    };
    // Same minor: the extra bytes are an error at their exact offset.
    let b = with(FORMAT_MINOR);
    let e = parse_file(&b, &Limits::default()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::TrailingBytes);
    assert_eq!(e.section, Some(SectionKind::Metadata));
    let h = parse_header(&b, &Limits::default()).unwrap();
    assert_eq!(
        e.offset,
        h.section(SectionKind::Metadata).unwrap().end() - 3
    );
    // Newer minor: ignored, the graph is the same.
    let b = with(FORMAT_MINOR + 1);
    let g2 = parse_file(&b, &Limits::default()).unwrap();
    assert_eq!(g2.functions, g.functions);
    assert_bit_eq!(g2.tensors, g.tensors);
    assert_eq!(g2.metadata, g.metadata);
    assert_bit_eq!(stream_all(&b, 5).unwrap().0, g2);
}
