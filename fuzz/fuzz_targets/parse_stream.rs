//! Streaming parse with fuzzer-chosen piece boundaries must agree with the whole-file parse
//! (+ decoding every chunk): both accept with equal graphs and arena bytes, or both reject.
//! Graphs are compared with `BitEq` (floats bit for bit): a mutated file may hold NaN
//! constants, which the derived `PartialEq` would call unequal to themselves.
//!
//! Input layout: 8 control bytes, then the file. Control byte 0 bit 0 asks for the file's
//! checksums to be refreshed (so mutated values get past the CRCs), bits 1-2 pick the
//! streaming side's arena segment size (default, one per chunk, 64 B, 4 KiB: chunk bytes must
//! agree however the arena is segmented); bytes 1..8 are the piece
//! lengths, used cyclically (0 = an empty piece). `run.sh` seeds the corpus with the golden
//! files behind 8 control bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wasm_torch_format::{
    assert_bit_eq, decode_all, parse_file, refresh_checksums, Limits, StreamParser, SEGMENT_TARGET,
};

fn limits() -> Limits {
    Limits {
        max_arena: 64 << 20,
        max_chunk_decoded: 64 << 20,
        ..Limits::default()
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 8 {
        return;
    }
    let (ctl, file) = data.split_at(8);
    let mut file = file.to_vec();
    if ctl[0] & 1 == 1 {
        let _ = refresh_checksums(&mut file);
    }
    // Piece lengths: small values stay small (byte-by-byte feeding), large ones are scaled.
    let cuts: Vec<usize> = ctl[1..]
        .iter()
        .map(|&c| {
            if c < 128 {
                c as usize
            } else {
                (c as usize - 127) * 97
            }
        })
        .collect();
    let l = limits();
    let whole = parse_file(&file, &l).and_then(|g| decode_all(&file, &g, &l).map(|a| (g, a)));

    let seg = [SEGMENT_TARGET, 0, 64, 4096][(ctl[0] >> 1) as usize & 3];
    let mut sp = StreamParser::new(l).with_segment_target(seg);
    let mut pos = 0usize;
    let mut k = 0usize;
    let mut res = Ok(());
    let mut last_empty = false;
    while pos < file.len() {
        let mut n = cuts[k % cuts.len()];
        k += 1;
        if n == 0 && last_empty {
            n = 1; // allow empty pieces but guarantee progress
        }
        last_empty = n == 0;
        let end = (pos + n).min(file.len());
        if let Err(e) = sp.feed(&file[pos..end]) {
            res = Err(e);
            break;
        }
        pos = end;
    }
    let streamed = res.and_then(|_| sp.finish());
    match (whole, streamed) {
        (Ok((g, a)), Ok((g2, a2))) => {
            assert_bit_eq!(g, g2, "whole vs streamed graph");
            assert_eq!(a, a2);
        }
        (Err(_), Err(_)) => {}
        (w, s) => panic!(
            "drivers disagree: whole {:?} stream {:?}",
            w.map(|_| ()),
            s.map(|_| ())
        ),
    }
});
