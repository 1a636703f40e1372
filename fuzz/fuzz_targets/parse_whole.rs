//! Whole-file parse of arbitrary bytes, as they are and with checksums refreshed (so
//! mutated values reach the grammar and validation instead of stopping at a CRC).
//! Must never panic, hang or allocate without bound; anything accepted must decode or
//! fail cleanly.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wasm_torch_format::{decode_all, parse_file, refresh_checksums, Limits};

fn limits() -> Limits {
    Limits {
        max_arena: 64 << 20,
        max_chunk_decoded: 64 << 20,
        ..Limits::default()
    }
}

fn check(bytes: &[u8]) {
    let l = limits();
    if let Ok(g) = parse_file(bytes, &l) {
        let _ = decode_all(bytes, &g, &l);
    }
}

fuzz_target!(|data: &[u8]| {
    check(data);
    let mut fixed = data.to_vec();
    if refresh_checksums(&mut fixed).is_ok() {
        check(&fixed);
    }
});
