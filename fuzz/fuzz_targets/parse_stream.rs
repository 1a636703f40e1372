//! Streaming parse with fuzzer-chosen piece boundaries must agree with the whole-file parse
//! (+ decoding every chunk): both accept with equal graphs and arena bytes, or both reject.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use wasm_torch_format::{decode_all, parse_file, refresh_checksums, Limits, StreamParser};

#[derive(Arbitrary, Debug)]
struct Input {
    /// Piece lengths, used cyclically (0 = an empty piece).
    cuts: Vec<u16>,
    fix_checksums: bool,
    file: Vec<u8>,
}

fn limits() -> Limits {
    Limits {
        max_arena: 64 << 20,
        max_chunk_decoded: 64 << 20,
        ..Limits::default()
    }
}

fuzz_target!(|input: Input| {
    let mut file = input.file;
    if input.fix_checksums {
        let _ = refresh_checksums(&mut file);
    }
    let l = limits();
    let whole = parse_file(&file, &l).and_then(|g| decode_all(&file, &g, &l).map(|a| (g, a)));

    let mut sp = StreamParser::new(l);
    let mut pos = 0usize;
    let mut k = 0usize;
    let mut res = Ok(());
    let mut empty_run = 0;
    while pos < file.len() {
        let c = input.cuts.get(k % input.cuts.len().max(1)).copied().unwrap_or(4096) as usize;
        k += 1;
        // Allow empty pieces but guarantee progress.
        let n = if c == 0 && empty_run < 2 { 0 } else { c.max(1) };
        empty_run = if n == 0 { empty_run + 1 } else { 0 };
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
            assert_eq!(g, g2);
            assert_eq!(a.as_slice(), a2.as_slice());
        }
        (Err(_), Err(_)) => {}
        (w, s) => panic!(
            "drivers disagree: whole {:?} stream {:?}",
            w.map(|_| ()),
            s.map(|_| ())
        ),
    }
});
