//! Format 1.1 assets (SPEC.md §4.9): round trip through both readers, version and flag
//! rules, and hostile payloads (limits, truncation, bad names) refused with typed errors.

use wasm_torch_format::model::*;
use wasm_torch_format::{
    assert_bit_eq, parse_file, refresh_checksums, write_file, write_file_with, ErrorKind,
    ExtraSection, Limits, SectionKind, StreamParser, WriteOptions,
};

/// `y = x`: the smallest valid graph (no weights, no state).
fn identity() -> Graph {
    let spec = ValueSpec {
        name: "x".into(),
        dtype: DType::F32,
        shape: vec![Dim::Fixed(2)],
    };
    Graph {
        signature: Signature {
            inputs: vec![spec.clone()],
            outputs: vec![ValueSpec {
                name: "y".into(),
                ..spec
            }],
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
        ..Graph::default()
    }
}

fn asset(name: &str, data: &[u8]) -> Asset {
    Asset {
        name: name.into(),
        data: data.to_vec(),
    }
}

fn with_assets(assets: Vec<Asset>) -> Graph {
    Graph {
        assets,
        ..identity()
    }
}

/// The section-table entry of `kind` in `bytes`: (index, flags, offset, length).
fn entry(bytes: &[u8], kind: SectionKind) -> (usize, u16, usize, usize) {
    let n = u32::from_le_bytes(bytes[24..28].try_into().unwrap()) as usize;
    (0..n)
        .map(|k| {
            let at = 32 + 24 * k;
            let rd = |o: usize| u64::from_le_bytes(bytes[at + o..at + o + 8].try_into().unwrap());
            let id = u16::from_le_bytes([bytes[at], bytes[at + 1]]);
            let flags = u16::from_le_bytes([bytes[at + 2], bytes[at + 3]]);
            (k, id, flags, rd(8) as usize, rd(16) as usize)
        })
        .find(|e| e.1 == kind.id())
        .map(|(k, _, f, o, l)| (k, f, o, l))
        .expect("section present")
}

#[test]
fn assets_round_trip_through_both_readers_as_an_optional_1_1_section() {
    let g = with_assets(vec![
        asset("tokenizer.json", br#"{"model":{"type":"BPE"}}"#),
        asset("generation.json", "{\"chat\": \"caf\u{e9}\"}".as_bytes()),
        asset("empty", b""),
        asset("binary", &[0, 255, 13, 10, 26, 0]),
    ]);
    let (bytes, written) = write_file(&g, &[]).unwrap();
    assert_eq!(&bytes[8..12], &[1, 0, 1, 0], "major 1, minor 1");
    let (_, flags, off, len) = entry(&bytes, SectionKind::Assets);
    assert_eq!(flags & 1, 0, "the assets section is optional");
    // Byte layout of §4.9: count, then per asset str name, u32 length, bytes.
    let payload = &bytes[off..off + len];
    assert_eq!(&payload[..4], &4u32.to_le_bytes());
    assert_eq!(&payload[4..8], &14u32.to_le_bytes());
    assert_eq!(&payload[8..22], b"tokenizer.json");
    assert_eq!(&payload[22..26], &24u32.to_le_bytes());

    let back = parse_file(&bytes, &Limits::default()).unwrap();
    assert_bit_eq!(back, written);
    assert_eq!(back.assets, g.assets);

    // The streaming reader, fed in odd pieces, sees the same graph.
    let mut sp = StreamParser::new(Limits::default());
    for piece in bytes.chunks(7) {
        sp.feed(piece).unwrap();
    }
    let (streamed, _) = sp.finish().unwrap();
    assert_bit_eq!(streamed, back);
}

#[test]
fn assets_sit_beside_state_and_files_without_assets_are_unchanged() {
    let plain = identity();
    let (bytes, _) = write_file(&plain, &[]).unwrap();
    assert_eq!(
        &bytes[8..12],
        &[1, 0, 0, 0],
        "no assets, no state: still 1.0"
    );
    assert!(parse_file(&bytes, &Limits::default())
        .unwrap()
        .assets
        .is_empty());
    // An empty asset list writes no section at all: byte-identical to a graph without it.
    let (again, _) = write_file(&with_assets(vec![]), &[]).unwrap();
    assert_eq!(again, bytes);
}

#[test]
fn a_1_0_reader_skips_the_section_and_id_10_means_nothing_in_1_0() {
    // In a file declaring 1.0, id 10 is an unknown id: skipped when optional...
    let opts = |required| WriteOptions {
        version: (1, 0),
        extra_sections: vec![ExtraSection {
            id: 10,
            required,
            payload: vec![9, 9, 9],
        }],
        appended: vec![],
    };
    let (bytes, _) = write_file_with(&identity(), &[], &opts(false)).unwrap();
    let back = parse_file(&bytes, &Limits::default()).unwrap();
    assert!(back.assets.is_empty());
    // ... and refused when required.
    let (bytes, _) = write_file_with(&identity(), &[], &opts(true)).unwrap();
    let err = parse_file(&bytes, &Limits::default()).unwrap_err();
    assert_eq!(err.kind, ErrorKind::BadSectionTable, "{err}");
}

#[test]
fn a_newer_minor_may_append_fields_after_the_assets() {
    let g = with_assets(vec![asset("a", b"xyz")]);
    let opts = WriteOptions {
        version: (1, 9),
        extra_sections: vec![],
        appended: vec![(10, vec![1, 2, 3])],
    };
    let (bytes, _) = write_file_with(&g, &[], &opts).unwrap();
    assert_eq!(
        parse_file(&bytes, &Limits::default()).unwrap().assets,
        g.assets
    );
    // In this reader's own minor the same bytes are an error.
    let opts = WriteOptions {
        version: (1, 1),
        ..opts
    };
    let (bytes, _) = write_file_with(&g, &[], &opts).unwrap();
    let err = parse_file(&bytes, &Limits::default()).unwrap_err();
    assert_eq!(err.kind, ErrorKind::TrailingBytes, "{err}");
    assert_eq!(err.section, Some(SectionKind::Assets));
}

/// Write `g`, let `edit` rewrite the assets payload in place, fix the checksums, parse.
fn parse_edited(
    g: &Graph,
    limits: &Limits,
    edit: impl FnOnce(&mut [u8]),
) -> wasm_torch_format::FormatError {
    let (mut bytes, _) = write_file(g, &[]).unwrap();
    let (_, _, off, len) = entry(&bytes, SectionKind::Assets);
    edit(&mut bytes[off..off + len]);
    refresh_checksums(&mut bytes).unwrap();
    let err = parse_file(&bytes, limits).unwrap_err();
    assert_eq!(err.section, Some(SectionKind::Assets), "{err}");
    err
}

#[test]
fn hostile_counts_and_lengths_are_refused_before_allocating() {
    let g = with_assets(vec![asset("a", b"0123456789")]);
    // A count of 2^32-1 assets.
    let err = parse_edited(&g, &Limits::default(), |p| p[..4].fill(0xff));
    assert_eq!(err.kind, ErrorKind::LimitExceeded, "{err}");
    // A count within the limit but more than the payload can hold.
    let err = parse_edited(&g, &Limits::default(), |p| {
        p[..4].copy_from_slice(&2u32.to_le_bytes())
    });
    assert_eq!(err.kind, ErrorKind::Truncated, "{err}");
    // An asset length of 4 GiB - 1 (name "a" is bytes 4..9, the length 9..13).
    let err = parse_edited(&g, &Limits::default(), |p| p[9..13].fill(0xff));
    assert_eq!(err.kind, ErrorKind::Truncated, "{err}");
    // A length past the end of the section by one byte.
    let err = parse_edited(&g, &Limits::default(), |p| {
        p[9..13].copy_from_slice(&11u32.to_le_bytes())
    });
    assert_eq!(err.kind, ErrorKind::Truncated, "{err}");
    // A name that is not UTF-8.
    let err = parse_edited(&g, &Limits::default(), |p| p[8] = 0xff);
    assert_eq!(err.kind, ErrorKind::InvalidUtf8, "{err}");
}

#[test]
fn asset_limits_are_enforced() {
    let g = with_assets(vec![asset("a", &[1; 600]), asset("b", &[2; 600])]);
    let (bytes, _) = write_file(&g, &[]).unwrap();
    let small = Limits {
        max_asset_bytes: 1000,
        ..Limits::default()
    };
    let err = parse_file(&bytes, &small).unwrap_err();
    assert_eq!(err.kind, ErrorKind::LimitExceeded, "{err}");
    assert_eq!(err.section, Some(SectionKind::Assets));
    assert!(err.message.contains("'b'"), "{err}");
    let few = Limits {
        max_assets: 1,
        ..Limits::default()
    };
    let err = parse_file(&bytes, &few).unwrap_err();
    assert_eq!(err.kind, ErrorKind::LimitExceeded, "{err}");
    // At the limit exactly is fine.
    let exact = Limits {
        max_asset_bytes: 1200,
        max_assets: 2,
        ..Limits::default()
    };
    assert_eq!(parse_file(&bytes, &exact).unwrap().assets, g.assets);
}

#[test]
fn duplicate_or_empty_names_are_refused_by_reader_and_writer() {
    for bad in [
        vec![asset("a", b"1"), asset("a", b"2")],
        vec![asset("", b"1")],
    ] {
        let err = write_file(&with_assets(bad), &[]).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Usage, "{err}");
    }
    // Same-length names, then one renamed on disk into a duplicate.
    let g = with_assets(vec![asset("a", b"1"), asset("b", b"2")]);
    let err = parse_edited(&g, &Limits::default(), |p| {
        // payload: count(4) | len(4) "a" | len(4) "1" | len(4) "b" | ...
        assert_eq!(p[18], b'b');
        p[18] = b'a';
    });
    assert_eq!(err.kind, ErrorKind::Inconsistent, "{err}");
    assert!(err.message.contains("duplicate asset name 'a'"), "{err}");
    // ("a", "xyzw") re-encoded in the same 17 bytes as ("", 5 bytes).
    let g = with_assets(vec![asset("a", b"xyzw")]);
    let err = parse_edited(&g, &Limits::default(), |p| {
        p[4..8].copy_from_slice(&0u32.to_le_bytes());
        p[8..12].copy_from_slice(&5u32.to_le_bytes());
    });
    assert_eq!(err.kind, ErrorKind::Inconsistent, "{err}");
    assert!(err.message.contains("name is empty"), "{err}");
}

/// `tests/golden/assets_v1_1.wtb` is exactly what the writer makes of this graph (it also
/// seeds the fuzzers with a file that has an assets section). `WTB_BLESS=1` rewrites it.
#[test]
fn golden_assets_file() {
    let g = with_assets(vec![
        asset(
            "tokenizer.json",
            br#"{"version":"1.0","model":{"type":"BPE"}}"#,
        ),
        asset(
            "generation.json",
            br#"{"format":"wasm-torch-generation/1"}"#,
        ),
    ]);
    let (bytes, _) = write_file(&g, &[]).unwrap();
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/assets_v1_1.wtb");
    if std::env::var_os("WTB_BLESS").is_some() {
        std::fs::write(&path, &bytes).unwrap();
    }
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
    let back = parse_file(&bytes, &Limits::default()).unwrap();
    assert_eq!(back.version, (1, 1));
    assert_eq!(back.assets, g.assets);
}
